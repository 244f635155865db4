#!/usr/bin/env python3
"""What the model inventory (issue 15) costs: the open and exec paths with
and without it, and what hashing takes.

Open path, on the build given as BEFORE (a tree without the inventory) and
on this one, alternating REPS rounds, medians: ns per open of a watched
model (one process, 100k opens: the kernel path and a busy event loop),
ns per fork+exec (every exec now asks the sniffer whether the process or
its parent has a model being inspected), and the wall time of 200 short
processes that each open a model for the first time (each one a sniff
job: now also a header parse, a pickle scan and an inventory record).

Hashing, this build only: a 1 GiB file with inventory.hash_rate at 64 GiB/s
(unbounded: SHA-256's own speed here, and vigild's CPU time for it), and a
256 MiB file at the default 32 MiB/s (the budget holding).

  flock /tmp/vigil-suite.lock unshare -m --propagation private \\
      env BEFORE=/work/main/build python3 bench/inventory.py
(PARTS=hash: the hashing part only.)
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402

REPS = int(os.environ.get("REPS", "3"))
BEFORE = os.environ.get("BEFORE", "/work/main/build")
AFTER = os.path.abspath(os.path.join(HERE, "..", os.environ.get("B", "build")))


def agent(tmp, build, extra=""):
    harness.VIGILD = os.path.join(build, "vigild")
    a = harness.Agent(tmp, extra=extra)
    a.start()
    return a


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def open_path(loops, tmp, build):
    a = agent(tmp, build)
    try:
        model = os.path.join(tmp, "m.safetensors")
        shutil.copy(os.path.join(HERE, "..", "tests", "fixtures", "models", "tiny.safetensors"),
                    model)
        pt = os.path.join(tmp, "benign.pt")
        shutil.copy(os.path.join(HERE, "..", "tests", "fixtures", "models", "benign_torch.pt"), pt)
        per_open = int(subprocess.check_output([loops, "open", model, "100000"]))
        per_exec = int(subprocess.check_output([loops, "exec", "2000"]))
        t0 = time.monotonic()
        for i in range(200):
            subprocess.check_output([loops, "open", pt if i % 2 else model, "1"])
        first = (time.monotonic() - t0) / 200 * 1e6
        return per_open, per_exec, first
    finally:
        a.stop()
        a.cleanup()


def hashed(a, path, timeout):
    """Seconds from the model's first inventory event to its digest event."""
    subprocess.check_output([sys.executable, "-c", "import sys; open(sys.argv[1],'rb').read(1)",
                             path])
    t0 = time.monotonic()
    c0 = cpu_s(a.proc.pid)
    a.wait_for(lambda e: e["event"]["action"] == "model-inventory"
               and harness.get(e, "vigil.model.change") == "digest"
               and harness.get(e, "file.path") == path, timeout=timeout, what="digest")
    return time.monotonic() - t0, cpu_s(a.proc.pid) - c0


def hashing(tmp):
    big = os.path.join(tmp, "big.gguf")
    with open(big, "wb") as f:
        f.write(b"GGUF")
        for _ in range(1024):
            f.write(os.urandom(1 << 20))
    mid = os.path.join(tmp, "mid.gguf")
    with open(mid, "wb") as f:
        f.write(b"GGUF")
        for _ in range(256):
            f.write(os.urandom(1 << 20))
    subprocess.run(["cat", big, mid], stdout=subprocess.DEVNULL, check=True)  # page cache
    a = agent(tmp, AFTER, extra="inventory:\n  hash_rate: 64GiB\n")
    try:
        t, c = hashed(a, big, 300)
        print(f"hash 1 GiB, unbounded:  {t:6.2f} s  ({1024 / t:6.0f} MiB/s), vigild CPU {c:5.2f} s")
    finally:
        a.stop()
        a.cleanup()
    tmp2 = os.path.join(tmp, "second")
    os.makedirs(tmp2)
    os.chmod(tmp2, 0o755)
    a = agent(tmp2, AFTER)
    try:
        t, c = hashed(a, mid, 300)
        print(f"hash 256 MiB at 32 MiB/s: {t:6.2f} s  ({256 / t:6.1f} MiB/s), vigild CPU {c:5.2f} s")
    finally:
        a.stop()
        a.cleanup()


def main():
    tmp = tempfile.mkdtemp(prefix="vigil-bench-inv-")
    os.chmod(tmp, 0o755)
    loops = os.path.join(tmp, "loops")
    subprocess.run(["cc", "-O2", "-o", loops, os.path.join(HERE, "loops.c"), "-lpthread"],
                   check=True)
    res = {"before": [], "after": []}
    try:
        if os.environ.get("PARTS") == "hash":
            return hashing(tmp)
        for r in range(REPS):
            for name, build in (("before", BEFORE), ("after", AFTER)):
                d = os.path.join(tmp, f"{name}{r}")
                os.makedirs(d)
                os.chmod(d, 0o755)
                res[name].append(open_path(loops, d, build))
                shutil.rmtree(d, ignore_errors=True)
        print(f"{'':8} {'ns/open (watched model)':>24} {'ns/exec':>10} {'us/first-open process':>22}")
        for name in ("before", "after"):
            cols = [statistics.median(x[i] for x in res[name]) for i in range(3)]
            print(f"{name:8} {cols[0]:24.0f} {cols[1]:10.0f} {cols[2]:22.0f}   "
                  f"(runs: {[x[0] for x in res[name]]}, {[x[1] for x in res[name]]}, "
                  f"{[round(x[2]) for x in res[name]]})")
        hashing(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
