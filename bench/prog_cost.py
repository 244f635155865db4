#!/usr/bin/env python3
"""What each operation costs inside vigil's kernel programs, in the kernel's
own statistics (kernel.bpf_stats_enabled=1: run_time_ns and run_cnt per
program, from `bpftool -j prog show`).

For each workload of bench/loops (fork+exec of /bin/true, open/read/close of
an unwatched and of a watched file, TCP connect on loopback) it takes the
deltas of every program vigild holds, REPS times, and prints per workload
the median ns per operation summed over all programs (min-max beside it)
and the programs that ran, with runs per operation and ns per run.
Background activity of the host's other processes runs the same
programs: an idle window as long as the workload is measured just before
and its cost subtracted. "net" also subtracts, per program run, what the
statistics count for an empty program (bench/floor.py, measured meanwhile
on sys_exit_openat): the figure the open goals of issue 13 are read in.

Statistics are on only while this runs (they cost tens of ns per run).

  flock /tmp/vigil-suite.lock unshare -m --propagation private \\
      env B=build python3 bench/prog_cost.py [--pid VIGILD_PID] [--reps 5]
      [--only exec,open,watched,connect]

Without --pid it starts a private vigild on the harness's config.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from harness import Agent, BUILD, ROOT  # noqa: E402
from floor import floor_attach, floor_ns, floor_reading  # noqa: E402

LOOPS = os.path.join(ROOT, BUILD, "loops") if not os.path.isabs(BUILD) else os.path.join(BUILD, "loops")


def held_ids(pid):
    """Ids of the programs pid holds: a program or link fd's fdinfo names it."""
    ids = set()
    fds = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(fds):
        try:
            with open(os.path.join(fds, fd)) as f:
                m = re.search(r"^prog_id:\s*(\d+)", f.read(), re.M)
        except OSError:
            continue
        if m:
            ids.add(int(m.group(1)))
    return ids


def vigil_progs(pid):
    """{prog id: (name, run_cnt, run_time_ns)} of the programs pid holds."""
    ids = held_ids(pid)
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                         check=True).stdout
    return {p["id"]: (p.get("name", "?"), p.get("run_cnt", 0), p.get("run_time_ns", 0))
            for p in json.loads(out) if p["id"] in ids}


def delta(before, after):
    """{name: (runs, ns)} between two snapshots (programs of one name summed)."""
    d = {}
    for pid, (name, cnt, ns) in after.items():
        _, c0, n0 = before.get(pid, (name, 0, 0))
        if cnt > c0:
            r, t = d.get(name, (0, 0))
            d[name] = (r + cnt - c0, t + ns - n0)
    return d


def workloads(tmp):
    plain = os.path.join(tmp, "plain.txt")
    model = os.path.join(tmp, "models", "m.safetensors")
    for p in (plain, model):
        with open(p, "w") as f:
            f.write("data\n")
    return {
        "exec": ("fork+exec /bin/true", 2000, [LOOPS, "exec", "2000"]),
        "open": ("open/read/close, unwatched file", 100000, [LOOPS, "open", plain, "100000"]),
        "watched": ("open/read/close, watched model file", 100000,
                    [LOOPS, "open", model, "100000"]),
        "connect": ("TCP connect, loopback", 10000, [LOOPS, "connect", "10000"]),
    }


def one_rep(pid, n, cmd, floor_id):
    """(gross and net ns per op over all programs, {name: (runs, ns, all runs, all ns)})
    for one run of cmd."""
    t0 = time.time()
    s0, f0 = vigil_progs(pid), floor_reading(floor_id)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    s1, f1 = vigil_progs(pid), floor_reading(floor_id)
    took = time.time() - t0
    time.sleep(took)  # the idle window: what the host's own activity costs meanwhile
    s2 = vigil_progs(pid)
    work, idle = delta(s0, s1), delta(s1, s2)
    floor = floor_ns(f0, f1) or 0
    per = {}
    for name, (r, t) in work.items():
        ir, it = idle.get(name, (0, 0))
        per[name] = (max(r - ir, 0), max(t - it, 0), r, t)
    gross = sum(v[1] for v in per.values()) / n
    return gross, gross - floor * sum(v[0] for v in per.values()) / n, floor, per


def measure(pid, label, n, cmd, reps, floor_id):
    totals, nets, floors, per = [], [], [], {}
    for _ in range(reps):
        total, net, floor, progs = one_rep(pid, n, cmd, floor_id)
        totals.append(total)
        nets.append(net)
        floors.append(floor)
        for name, (r, t, rr, tt) in progs.items():
            per.setdefault(name, []).append((r / n, tt / rr if rr else 0))
    med = statistics.median(totals)
    progs = []
    for name, v in sorted(per.items()):
        runs = statistics.median(x[0] for x in v)
        if runs >= 0.05:
            progs.append(f"`{name}` {runs:.2f}×{statistics.median(x[1] for x in v):.0f}")
    print(f"| {label} | **{med:.0f}** | {min(totals):.0f}-{max(totals):.0f} | "
          f"**{statistics.median(nets):.0f}** | {min(nets):.0f}-{max(nets):.0f} | "
          f"{statistics.median(floors):.0f} | {', '.join(progs) or '-'} |", flush=True)
    return med


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, help="an already running vigild (default: start one)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", default="exec,open,watched,connect")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="vigil-progb-")
    os.chmod(tmp, 0o755)
    agent, pfd = None, -1
    try:
        pid = args.pid
        if not pid:
            agent = Agent(tmp)
            agent.start()
            pid = agent.proc.pid
            time.sleep(2)  # let start-up settle
        os.makedirs(os.path.join(tmp, "models"), exist_ok=True)
        wl = workloads(agent.tmp if agent else tmp)
        floor_id, pfd = floor_attach(tmp)
        subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=1"], check=True)
        print(f"ns per operation inside vigil's programs (bpf_stats, median of {args.reps}; "
              f"net: less the empty program's ns per run, the floor; per program: runs per "
              f"operation × gross ns per run)\n")
        print("| workload | gross ns/op | min-max | net ns/op | min-max | floor | programs |\n"
              "|---|---|---|---|---|---|---|")
        for key in args.only.split(","):
            measure(pid, *wl[key], args.reps, floor_id)
    finally:
        if pfd >= 0:
            os.close(pfd)
        subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=0"])
        if agent:
            agent.stop()
            agent.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
