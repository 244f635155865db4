#!/usr/bin/python3
"""sudo make bench (third part): response latency and webhook throughput.

A private vigild (the integration tests' harness) with the default playbooks
plus two bench playbooks:
  - alert-to-kill: N times a fake model loader spawns a shell; the default
    playbook kills it. Measured: the action's own latency_us (alert handed to
    the response stage → kill done) and exec → kill (the exec event's
    @timestamp, taken in the kernel, to the action event's @timestamp).
  - alert-to-isolate: N times a program the bench rule names is started; a
    playbook isolates it (quarantine cell, kernel map, socket sweep).
  - webhook throughput: M alerts are spooled while the HTTPS receiver is
    down; then it comes up and the drain rate is measured (deliveries/s,
    signed, TLS, one connection per message).
Prints a Markdown table; N=100 M=500 by default (env N, M).
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import shutil
from datetime import datetime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import get, wait_until  # noqa: E402
import test_response as tr  # noqa: E402

N = int(os.environ.get("N", "100"))
M = int(os.environ.get("M", "500"))


class Stream:
    """The agent's events file, parsed once: each call reads only what was added."""

    def __init__(self, path):
        self.path, self.off, self.events, self.rest = path, 0, [], b""

    def all(self):
        fd = os.open(self.path, os.O_RDONLY)
        try:
            while True:
                chunk = os.pread(fd, 1 << 24, self.off)
                if not chunk:
                    break
                self.off += len(chunk)
                lines = (self.rest + chunk).split(b"\n")
                self.rest = lines.pop()
                self.events += [json.loads(l) for l in lines if l]
        finally:
            os.close(fd)
        return self.events

    def actions(self, name):
        return [e for e in self.all() if get(e, "event.action") == name]


def ts(e):
    s = e["@timestamp"].rstrip("Z")
    whole, frac = s.split(".") if "." in s else (s, "0")
    return datetime.fromisoformat(whole).timestamp() + float("0." + frac)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def row(name, xs, unit="ms"):
    return (f"| {name} | {len(xs)} | {pct(xs, 50):.2f} | {pct(xs, 99):.2f} | {max(xs):.2f} | {unit} |")


def execs_by_pid(st):
    return {get(e, "process.pid"): e for e in st.all() if get(e, "event.action") == "exec"}


def bench_kill(env, st):
    code = "import subprocess\nsubprocess.run(['/bin/sh', '-c', 'sleep 30'])\n"
    before = len(st.actions("contain.kill"))
    for _ in range(N):
        subprocess.run([tr.PY, env.server, code], timeout=60)
    wait_until(lambda: len(st.actions("contain.kill")) >= before + N, timeout=60, what="kills")
    execs = execs_by_pid(st)
    inner, e2e = [], []
    for a in st.actions("contain.kill")[before:]:
        inner.append(get(a, "vigil.action.latency_us") / 1000)
        ex = execs.get(get(a, "vigil.action.target_pid"))
        if ex:
            e2e.append((ts(a) - ts(ex)) * 1000)
    return inner, e2e


def bench_isolate(env, st):
    before = len(st.actions("contain.isolate"))
    for _ in range(N):
        subprocess.run([os.path.join(env.tmp, "vigil-isolate"), "-c", "import time; time.sleep(0.3)"],
                       timeout=60)
    wait_until(lambda: len(st.actions("contain.isolate")) >= before + N, timeout=60, what="isolations")
    acts = st.actions("contain.isolate")[before:]
    # release what the bench contained (the processes are gone; cells are emptied)
    for a in acts:
        env.cli("release", "--pid", str(get(a, "vigil.action.target_pid")), check=False)
    execs = execs_by_pid(st)
    inner = [get(a, "vigil.action.latency_us") / 1000 for a in acts]
    e2e = [(ts(a) - ts(execs[get(a, "vigil.action.target_pid")])) * 1000
           for a in acts if get(a, "vigil.action.target_pid") in execs]
    return inner, e2e


def bench_webhook(env, st):
    rx = env.receiver
    for _ in range(M):
        tr.notify(env)
    wait_until(lambda: len(st.actions("contain.webhook")) >= M, timeout=120, what="webhook steps")
    rx.start()
    t0 = None
    deadline = time.time() + 300
    while len(rx.got) < M and time.time() < deadline:
        if rx.got and t0 is None:
            t0 = time.time()
        time.sleep(0.01)
    t1 = time.time()
    n = len(rx.got)
    return n, (n - 1) / (t1 - t0) if t0 and n > 1 else 0.0


def main():
    if os.geteuid() != 0:
        print("bench: run as root (sudo make bench)", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))  # clean up (finally) when stopped
    tmp = tempfile.mkdtemp(prefix="vigil-respbench-")
    os.chmod(tmp, 0o755)
    env = tr.Env(tmp)
    # one events file for the whole run: the reader below does not follow rotation
    cfg = open(env.a.config).read().replace("output:\n", "output:\n  max_size: 8GiB\n", 1)
    open(env.a.config, "w").write(cfg)
    shutil.copy(tr.PY, os.path.join(tmp, "vigil-isolate"))
    with open(os.path.join(env.rules, "zz-bench.yaml"), "w") as f:
        f.write("""- rule: Bench isolate
  id: VGL-9101
  desc: bench
  condition: event.action = exec and process.name = vigil-isolate
  output: isolate %process.pid
  severity: high
  tags: [bench]
""")
    with open(os.path.join(env.local, "60-bench.yaml"), "w") as f:
        # the shipped playbook's steps, without its rate limit (the bench kills 100 shells)
        f.write("""- playbook: kill-shell-from-model-loader
  match: {rules: [VGL-0001, VGL-0002, VGL-0101]}
  rate_limit: 100000/s
  steps:
    - kill: tree
    - snapshot: parent
- playbook: bench-isolate
  match: {rules: [VGL-9101]}
  rate_limit: 100000/s
  steps:
    - isolate: process
""")
    try:
        tr.setup(env)
        env.start()
        st = Stream(env.a.events)
        t = time.time()
        kill_inner, kill_e2e = bench_kill(env, st)
        print(f"bench: kill done in {time.time() - t:.0f} s", file=sys.stderr)
        iso_inner, iso_e2e = bench_isolate(env, st)
        print(f"bench: isolate done in {time.time() - t:.0f} s", file=sys.stderr)
        n, rate = bench_webhook(env, st)
        print(f"bench: webhooks done in {time.time() - t:.0f} s", file=sys.stderr)
    finally:
        env.a.stop()
        env.a.cleanup()
        tr.teardown(env)
        shutil.rmtree(tmp, ignore_errors=True)
    print("| measure | samples | p50 | p99 | max | unit |")
    print("|---|---|---|---|---|---|")
    print(row("alert → kill done (action latency_us)", kill_inner))
    print(row("exec in kernel → kill done (event timestamps)", kill_e2e))
    print(row("alert → isolate done (action latency_us)", iso_inner))
    print(row("exec in kernel → isolate done (event timestamps)", iso_e2e))
    print(f"\nwebhook: {n} signed HTTPS deliveries drained from the spool at {rate:.0f}/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
