#!/usr/bin/env python3
"""vigild's memory (issue 13's budget: RSS <= 32 MiB at idle and after the
workloads): VmRSS of a vigild on the defaults at idle, after the workloads
bench/run.sh times (N_OPEN opens of an unwatched and of a watched file,
N_EXEC fork+execs, N_CONN loopback connects), right after a burst of BURST
watched opens flat out (folding off, so every open is an event), and a few
idle ticks after each (vigild trims its heap on a quiet tick, daemon/heap.h).
Beside each, where the resident pages are, from /proc/PID/smaps: the ring
buffer, the heap and the other anonymous maps (thread arenas, stacks, the
recent-lines ring), the shared libraries, vigild's own file (the embedded
BPF objects), the rest.

  flock /tmp/vigil-suite.lock unshare -m --propagation private \\
      env B=build /usr/bin/python3 bench/rss.py [--burst 100000]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from harness import BUILD, ROOT, VIGIL, VIGILD  # noqa: E402

LOOPS = os.path.join(ROOT, BUILD, "loops") if not os.path.isabs(BUILD) else os.path.join(BUILD, "loops")


def smaps(pid):
    """(VmRSS KiB, VmHWM KiB, {class: resident KiB}) of pid."""
    status = open(f"/proc/{pid}/status").read()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
    parts, name = {}, ""
    for line in open(f"/proc/{pid}/smaps"):
        head = re.match(r"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$", line)
        if head:
            name = head.group(1)
            continue
        m = re.match(r"^Rss:\s+(\d+) kB", line)
        if not m:
            continue
        if name == "anon_inode:bpf-map":  # the ring buffer: the one map vigild mmaps
            cls = "ring buffer"
        elif name == "[heap]":
            cls = "heap"
        elif name == "" or name.startswith("[stack"):
            cls = "anon (arenas, stacks)"
        elif ".so" in name:
            cls = "libraries"
        else:
            cls = "other (" + os.path.basename(name) + ")" if name.startswith("/") else "other " + name
        parts[cls] = parts.get(cls, 0) + int(m.group(1))
    return rss, hwm, parts


def row(label, pid, dump):
    rss, hwm, parts = smaps(pid)
    if dump:  # the whole smaps of this step, to look into
        shutil.copyfile(f"/proc/{pid}/smaps", os.path.join(dump, re.sub(r"\W+", "-", label)))
    top = ", ".join(f"{k} {v / 1024:.1f}" for k, v in sorted(parts.items(), key=lambda kv: -kv[1])
                    if v >= 256)
    print(f"| {label} | {rss / 1024:.1f} | {hwm / 1024:.1f} | {top} |", flush=True)
    return rss


def loops(*args):
    subprocess.run(["taskset", "-c", "0", LOOPS, *map(str, args)], check=True,
                   stdout=subprocess.DEVNULL)


def drops(sock):
    out = subprocess.run([VIGIL, "--socket", sock, "--json", "status"], capture_output=True,
                         text=True, check=True).stdout
    st = json.loads(out)
    return st["events"]["by_action"].get("open", 0), sum(
        v for k, v in st["drops"].items() if "trunc" not in k)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--burst", type=int, default=100000)
    ap.add_argument("--n-open", type=int, default=100000)
    ap.add_argument("--n-exec", type=int, default=1000)
    ap.add_argument("--n-conn", type=int, default=10000)
    ap.add_argument("--dump", help="copy each step's /proc/PID/smaps into this directory")
    a = ap.parse_args()
    if not os.path.exists(LOOPS):
        subprocess.run(["cc", "-O2", "-o", LOOPS, os.path.join(HERE, "loops.c"), "-lpthread"],
                       check=True)
    t = tempfile.mkdtemp(prefix="vigil-rss-")
    pin = f"/sys/fs/bpf/vigil-rss-{os.getpid()}"
    cfg = os.path.join(t, "defaults.yaml")
    with open(cfg, "w") as f:  # the defaults, folding off: a burst is one event per open
        f.write(f"response:\n  pin_dir: {pin}\n  cgroup_parent: vigil-rss-{os.getpid()}\n"
                "capture:\n  fold_window: 0\n")
    os.chmod(cfg, 0o600)
    os.makedirs(os.path.join(t, "models"))
    plain, model = os.path.join(t, "plain.txt"), os.path.join(t, "models", "m.safetensors")
    for p in (plain, model):
        with open(p, "w") as f:
            f.write("data\n")
    sock, events = os.path.join(t, "s.sock"), os.path.join(t, "events.jsonl")
    proc = subprocess.Popen(["/usr/bin/setpriv", "--pdeathsig", "KILL", "taskset", "-c", "1",
                             VIGILD, "--config", cfg, "--events", events, "--socket", sock,
                             "--state-dir", os.path.join(t, "state")],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(t, "err"), "w"))
    try:
        for _ in range(180):
            if os.path.exists(events) and "agent-start" in open(events).read():
                break
            if proc.poll() is not None:
                sys.exit("vigild exited: " + open(os.path.join(t, "err")).read())
            time.sleep(0.5)
        time.sleep(3)  # the start-up settles (heartbeats, inventory scan)
        print("| vigild on the defaults | VmRSS MiB | VmHWM MiB | resident MiB by mapping |")
        print("|---|---|---|---|")
        row("idle", proc.pid, a.dump)
        loops("open", plain, a.n_open)
        loops("open", model, a.n_open)
        loops("exec", a.n_exec)
        loops("connect", a.n_conn)
        time.sleep(2)
        row("after the workloads", proc.pid, a.dump)
        time.sleep(6)  # exit_grace (5 s): their processes leave the cache
        row("8 s after the workloads", proc.pid, a.dump)
        n0, d0 = drops(sock)
        loops("open", model, a.burst)
        row(f"right after {a.burst:,} watched opens flat out", proc.pid, a.dump)
        time.sleep(5)  # a few idle ticks of the loop
        n1, d1 = drops(sock)
        row("5 s after the burst", proc.pid, a.dump)
        print(f"\nburst: {n1 - n0} open events of {a.burst}, {d1 - d0} lost")
    finally:
        proc.kill()
        proc.wait()
        subprocess.run([VIGILD, "--config", cfg, "--state-dir", os.path.join(t, "state"),
                        "--teardown"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(pin, ignore_errors=True)
        shutil.rmtree(t, ignore_errors=True)


if __name__ == "__main__":
    main()
