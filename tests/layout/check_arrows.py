#!/usr/bin/env python3
"""The layout's one rule (docs/design.md): a stage includes core/ and the
stages below it, never one above it; include/vigil/ holds only the record ABI.
Prints each violation as file:line and exits 1 if there is any."""
import os
import re
import sys

ORDER = ["core", "sense", "stream", "detect", "confine", "respond", "ship", "daemon", "cli"]
INCLUDE = re.compile(r'^#include "([a-z]+)/([a-z_0-9]+)\.h"')


def main(root):
    bad = []
    for stage in ORDER:
        d = os.path.join(root, "agent", stage)
        for f in sorted(os.listdir(d)):
            path = os.path.join(d, f)
            for n, line in enumerate(open(path), 1):
                m = INCLUDE.match(line)
                if not m or m.group(1) == "vigil":
                    continue
                if m.group(1) not in ORDER:
                    bad.append(f"{path}:{n}: includes {m.group(1)}/, which is not a stage")
                elif ORDER.index(m.group(1)) > ORDER.index(stage):
                    bad.append(f"{path}:{n}: {stage}/ includes {m.group(1)}/{m.group(2)}.h, "
                               "a stage above it")
    shared = sorted(os.listdir(os.path.join(root, "include", "vigil")))
    if shared != ["abi.h"]:
        bad.append(f"include/vigil/ holds {shared}: only abi.h belongs there")
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
