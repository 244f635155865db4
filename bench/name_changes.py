#!/usr/bin/env python3
"""What an UNWATCHED unlink/rename costs in the name-change probes.

Starts a private vigild (default watch paths: the path trie holds them),
turns kernel.bpf_stats_enabled on and, per case, does N syscalls on files in
an unwatched temp dir, printing each probe's ns per run from the
run_time_ns/run_cnt deltas of `bpftool -j prog show`.

  flock /tmp/vigil-suite.lock unshare -m --propagation private \\
      env B=build python3 bench/name_changes.py [N]

Run it on two builds (B=...) of two trees to compare before/after.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from harness import Agent  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 50000
# the exit tracepoints' programs, or their fexit twins where fentry loads (fx_*)
CALLS = ("unlink", "unlinkat", "rename", "renameat", "renameat2", "fchmodat", "fchmodat2", "linkat",
         "symlinkat")
PROBES = tuple(f"{kind}_{c}" for kind in ("exit", "fx") for c in CALLS)


def stats():
    out = json.loads(subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True,
                                    text=True, check=True).stdout)
    return {p["id"]: p for p in out if p.get("name", "").startswith(PROBES)}


def case(name, fn):
    before = stats()
    fn()
    after = stats()
    for i, q in after.items():
        b = before.get(i, {})
        runs = q.get("run_cnt", 0) - b.get("run_cnt", 0)
        ns = q.get("run_time_ns", 0) - b.get("run_time_ns", 0)
        if runs >= N // 2:
            print(f"{name:34} {q['name']:16} runs {runs:8} ns/run {ns / runs:7.1f}")


def main():
    tmp = tempfile.mkdtemp(prefix="vigil-bench-")
    os.chmod(tmp, 0o755)
    plain = os.path.join(tmp, "plain")
    os.mkdir(plain)
    names = [os.path.join(plain, f"f{i}") for i in range(N)]
    a = Agent(tmp)
    a.start()
    subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=1"], check=True)
    try:
        def create():
            for p in names:
                os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o644))

        def unlink_abs():
            for p in names:
                os.unlink(p)

        def unlink_rel():
            for p in names:
                os.unlink(os.path.basename(p))

        def unlink_dirfd():
            fd = os.open(plain, os.O_RDONLY)
            for p in names:
                os.unlink(os.path.basename(p), dir_fd=fd)
            os.close(fd)

        def rename_abs():
            for p in names:
                os.rename(p, p + ".x")
            for p in names:
                os.unlink(p + ".x")

        create()
        case("unlink /tmp/.../plain/fN", unlink_abs)
        create()
        os.chdir(plain)
        case("unlink fN (cwd)", unlink_rel)
        create()
        case("unlink fN (dirfd)", unlink_dirfd)
        create()
        case("rename abs, then unlink", rename_abs)
    finally:
        os.chdir("/")
        subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=0"])
        a.stop()
        a.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
