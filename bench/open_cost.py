#!/usr/bin/env python3
"""What an open/read/close costs inside vigil's programs, in the kernel's own
ns per run (issue 13, the open path).

Starts a private vigild (folding off, so that every watched open is an
event; FOLD=1 keeps the default capture.fold_window, where a re-open of the
same file by the same process within 1 s is counted in the kernel, no event), turns kernel.bpf_stats_enabled on, and per round runs bench/loops.c's
open/read/close loop N times on an unwatched file and on a watched model file
(.safetensors; N/4 of them paced at RATE/s, 50000 by default: a rate vigild
drains, as a host's would be; flat out the ring buffer fills and the figure
is the cost of a full ring, not of an event). For each case it prints every program of that vigild that
ran (run_cnt/run_time_ns deltas of `bpftool -j prog show`; the programs
that vigild's start loaded) and the sum per operation: all of vigil's
programs that ran, divided by N (read and close included, whatever runs for
them). An empty program (bench/floor.bpf.c) runs on the same tracepoint
meanwhile: what the statistics count for doing nothing (two clock reads and
the call, ~70 ns on this VM), the "floor". Sums are "gross" (the kernel's
figures as they are) and "net" (each program's runs less the floor). The
last lines are the medians of ROUNDS rounds.

  flock /tmp/vigil-suite.lock unshare -m --propagation private \\
      env B=build [DEPTH=6] [FOLD=1] python3 bench/open_cost.py [N] [ROUNDS]
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from harness import Agent  # noqa: E402
from floor import floor_attach  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
RATE = int(os.environ.get("RATE", "50000"))  # watched opens/s: events vigild keeps up with
B = os.environ.get("B", "build")
LOOPS = os.path.join(B, "loops")


def stats(ids=None):
    """Programs by id: all, or those in ids."""
    out = json.loads(subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True,
                                    text=True, check=True).stdout)
    return {p["id"]: p for p in out if ids is None or p["id"] in ids}


def case(ids, floor_id, path, n, rate):
    """Per program (name -> ns/run), the floor's ns/run, gross and net ns per operation."""
    before = stats(ids | {floor_id})
    subprocess.run([LOOPS, "open", path, str(n), str(rate)], check=True, stdout=subprocess.DEVNULL)
    after = stats(ids | {floor_id})
    delta = {}
    for i, q in after.items():
        b = before.get(i, {})
        runs = q.get("run_cnt", 0) - b.get("run_cnt", 0)
        ns = q.get("run_time_ns", 0) - b.get("run_time_ns", 0)
        if runs >= n // 2:  # what ran for these opens, not a stray exec meanwhile
            delta[i] = (q["name"], runs, ns)
    _, fruns, fns = delta.pop(floor_id)
    floor = fns / fruns
    gross = sum(ns for _, _, ns in delta.values()) / n
    net = sum(ns - floor * runs for _, runs, ns in delta.values()) / n
    return {n: ns / runs for n, runs, ns in delta.values()}, floor, gross, net


def main():
    subprocess.run(["cc", "-O2", "-o", LOOPS, "bench/loops.c", "-lpthread"], check=True)
    tmp = tempfile.mkdtemp(prefix="vigil-openb-")
    os.chmod(tmp, 0o755)
    plain = os.path.join(tmp, "plain.txt")
    # DEPTH=N: the model N directories further down (a Hugging Face cache's
    # ~/.cache/huggingface/hub/models--ORG--NAME/snapshots/SHA/ is 6 more)
    deep = os.path.join(tmp, *[f"d{i}" for i in range(int(os.environ.get("DEPTH", "0")))])
    os.makedirs(deep, exist_ok=True)
    model = os.path.join(deep, "m.safetensors")
    for p in (plain, model):
        with open(p, "w") as f:
            f.write("data\n")
    # FOLD=1: the default fold window, so a watched re-open is counted in the kernel, not sent
    a = Agent(tmp, capture="" if os.environ.get("FOLD") == "1" else "  fold_window: 0\n")
    sums = {k: [] for k in ("unwatched net", "unwatched gross", "watched net", "watched gross",
                            "floor")}
    pfd = -1
    try:
        old = set(stats())
        a.start()
        # this vigild's programs: those loaded by its start (bpftool here shows no pids)
        ids = set(stats()) - old
        floor_id, pfd = floor_attach(tmp)
        st = json.loads(subprocess.run([os.path.join(B, "vigil"), "--socket", a.sock, "--json",
                                        "status"], capture_output=True, text=True).stdout)
        print("features:", {k: st["features"].get(k) for k in ("lsm", "fentry", "typed_loads", "raw_loads")})
        subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=1"], check=True)
        for r in range(ROUNDS):
            for label, path, n, rate in (("unwatched", plain, N, 0),
                                         ("watched", model, N // 4, RATE)):
                progs, floor, gross, net = case(ids, floor_id, path, n, rate)
                sums[label + " net"].append(net)
                sums[label + " gross"].append(gross)
                sums["floor"].append(floor)
                detail = ", ".join(f"{n} {ns:.0f}" for n, ns in sorted(progs.items()))
                print(f"round {r + 1} {label:9} net {net:6.1f} gross {gross:6.1f} ns/op "
                      f"({detail}; floor {floor:.0f})", flush=True)
        for label, v in sums.items():
            what = "ns/run of the empty program" if label == "floor" else "ns/op, open/read/close"
            print(f"median of {ROUNDS}, {label:15} {statistics.median(v):7.1f} {what} "
                  f"(range {min(v):.1f}-{max(v):.1f})")
    finally:
        if pfd >= 0:
            os.close(pfd)
        subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=0"])
        a.stop()
        a.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
