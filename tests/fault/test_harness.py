#!/usr/bin/python3
"""Fault injection on the test harness itself: a harness killed mid-run (a
`timeout` around a suite, a crash) must not leave its vigild behind. A left
vigild keeps its default playbooks and kills what later suites' fake model
servers spawn (VGL-0001), e.g. the listener of VGL-0024 before it listens.
Prints "fault-harness: N passed, N failed".
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Agent, registry, suite_main  # noqa: E402

TESTS, test = registry()


def alive(pid):
    """Running, not a zombie waiting for init to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@test
def vigild_dies_with_a_harness_killed_by_sigkill(tmp):
    a = Agent(tmp)
    r, w = os.pipe()
    harness = os.fork()
    if harness == 0:  # the harness that a timeout kills: no finally, no stop()
        try:
            os.close(r)
            a.start()
            os.write(w, str(a.proc.pid).encode())
            os.close(w)
            time.sleep(300)
        finally:
            os._exit(1)  # never back into the suite's code
    os.close(w)
    with os.fdopen(r) as f:
        vigild = int(f.read() or 0)
    os.kill(harness, signal.SIGKILL)
    os.waitpid(harness, 0)
    try:
        assert vigild, "the harness did not start vigild"
        deadline = time.time() + 10
        while alive(vigild) and time.time() < deadline:
            time.sleep(0.1)
        assert not alive(vigild), f"vigild {vigild} outlived its harness"
    finally:
        if vigild and alive(vigild):
            os.kill(vigild, signal.SIGKILL)
        a.cleanup()


if __name__ == "__main__":
    sys.exit(suite_main("fault-harness", TESTS))
