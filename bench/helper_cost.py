#!/usr/bin/env python3
"""What each part of a watched open's event costs on this host by itself:
the programs of bench/helper_cost.bpf.c (the clock, the syscall's registers
by helper and as common.bpf.h's task_regs() finds them, the caller's name
from user memory, a kernel read by helper, a subprogram call, the cheapest
helper call, a 256-byte ring output and reserve+submit) attached to
sys_exit_openat one at a time beside the empty program (bench/floor.py),
an unwatched open/read/close loop on CPU 1 (the ring's consumer, a thread
here, on CPU 0). Per part: (its ns per run less the empty program's) / the
program's repetitions, median of ROUNDS interleaved rounds. No vigild runs.

  flock /tmp/vigil-suite.lock env B=build python3 bench/helper_cost.py [N] [ROUNDS]

(bench/RESULTS.md, issue 13 session 8: the floor under the watched open's goal.)
"""
import ctypes
import json
import mmap
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from floor import floor_attach, floor_ns, floor_reading, obj_get, tp_attach  # noqa: E402

ROOT = os.path.dirname(HERE)
B = os.path.join(ROOT, os.environ.get("B", "build"))
REPS = 8  # helper_cost.bpf.c's REPS
PARTS = ["hc_clock", "hc_pt_regs", "hc_regs_learnt", "hc_user_name", "hc_user_read64",
         "hc_kernel_read", "hc_subprog", "hc_helper_call", "hc_ring_output", "hc_ring_reserve"]
ARCH = {"x86_64": "x86", "aarch64": "arm64"}


def build(tmp):
    obj = os.path.join(tmp, "helper_cost.bpf.o")
    subprocess.run(["clang", "-O2", "-g", "-target", "bpf",
                    f"-D__TARGET_ARCH_{ARCH[os.uname().machine]}", "-I", B, "-c",
                    os.path.join(HERE, "helper_cost.bpf.c"), "-o", obj], check=True)
    return obj


def drain(ring_fd, stop):
    """The ring's consumer: its position moved up to the producer's every 0.2 ms."""
    page = mmap.PAGESIZE
    cons = mmap.mmap(ring_fd, page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
    prod = mmap.mmap(ring_fd, page, mmap.MAP_SHARED, mmap.PROT_READ, offset=page)
    c64 = ctypes.c_uint64.from_buffer(cons)
    p = (ctypes.c_char * 8).from_buffer_copy
    while not stop.wait(0.0002):
        c64.value = int.from_bytes(p(prod[0:8]), "little")
    del c64
    cons.close()
    prod.close()


def run_loop(plain, n):
    subprocess.run(["taskset", "-c", "1", os.path.join(B, "loops"), "open", plain, str(n)],
                   check=True, stdout=subprocess.DEVNULL)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    subprocess.run(["cc", "-O2", "-o", os.path.join(B, "loops"), os.path.join(HERE, "loops.c"),
                    "-lpthread"], check=True)
    tmp = tempfile.mkdtemp(prefix="vigil-hc-")
    progs_dir, maps_dir = f"/sys/fs/bpf/vigil-hc-{os.getpid()}", f"/sys/fs/bpf/vigil-hcm-{os.getpid()}"
    plain = os.path.join(tmp, "plain.txt")
    with open(plain, "w") as f:
        f.write("data\n")
    stop, fds, pfd = threading.Event(), {}, -1
    consumer = None
    try:
        subprocess.run(["bpftool", "prog", "loadall", build(tmp), progs_dir, "type", "tracepoint",
                        "pinmaps", maps_dir], check=True)
        ids = {}
        for name in PARTS:
            info = json.loads(subprocess.run(["bpftool", "-j", "prog", "show", "pinned",
                                              os.path.join(progs_dir, name)],
                                             capture_output=True, text=True, check=True).stdout)
            ids[name], fds[name] = info["id"], obj_get(os.path.join(progs_dir, name))
        ring_fd = obj_get(os.path.join(maps_dir, "ring"))
        consumer = threading.Thread(target=drain, args=(ring_fd, stop))
        consumer.start()
        os.sched_setaffinity(0, {0})  # this script and the consumer thread on CPU 0
        floor_id, pfd = floor_attach(tmp)
        subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=1"], check=True)
        cost = {name: [] for name in PARTS}
        floors = []
        for r in range(rounds):
            for name in PARTS:
                f0, p0 = floor_reading(floor_id), floor_reading(ids[name])
                hold = tp_attach(fds[name], "sys_exit_openat")
                run_loop(plain, n)
                os.close(hold)
                f1, p1 = floor_reading(floor_id), floor_reading(ids[name])
                floor, per = floor_ns(f0, f1) or 0, floor_ns(p0, p1) or 0
                cost[name].append((per - floor) / REPS)
                floors.append(floor)
            print(f"round {r + 1}: " + ", ".join(f"{k[3:]} {v[-1]:.1f}" for k, v in cost.items()),
                  flush=True)
        print(f"\nns per call on this host, less the empty program ({statistics.median(floors):.0f} "
              f"ns per run), median of {rounds} ({n:,} opens per program per round)\n")
        print("| part | ns per call | range |\n|---|---|---|")
        for name, v in cost.items():
            print(f"| {name[3:]} | {statistics.median(v):.1f} | {min(v):.1f}-{max(v):.1f} |")
    finally:
        stop.set()
        if consumer:
            consumer.join()
        if pfd >= 0:
            os.close(pfd)
        for fd in fds.values():
            os.close(fd)
        subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=0"])
        shutil.rmtree(progs_dir, ignore_errors=True)
        shutil.rmtree(maps_dir, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
