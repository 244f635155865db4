"""Floods: memory stays bounded and what a flood costs is reported.

- exits lost to a full ring buffer (vigild stopped while processes die)
  must not leave dead processes in the process cache: a resync from /proc
  drops them, counted in `vigil status` and reported in the stream;
- a flood of correlation keys that evicts a pending sequence is itself
  reported: a sequence-evicted event naming the victim rule;
- UDP destinations past the kernel's de-dup table (shrunk here with
  capture.udp_dedup_entries, the operator's knob) are counted full, and an
  evicted destination is reported again, not lost;
- and the slow work of a response (hashing a snapshot's executables, an
  operator script) never forks the multi-threaded daemon: a thread, or
  posix_spawn (clone with CLONE_VFORK, then exec at once).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

from common import VIGIL, Agent, get, registry, running, suite_main
from common import wait_until as harness_wait_until

TESTS, test = registry()

SLEEPERS = 400  # processes whose fork is seen and whose exit is lost


def status(a):
    out = subprocess.run([VIGIL, "--socket", a.sock, "--json", "status"], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def live_processes():
    return sum(1 for d in os.listdir("/proc") if d.isdigit())


def wait_until(pred, timeout, what):
    """Reading a flooded stream is slow: poll it less often."""
    return harness_wait_until(pred, timeout, what, every=0.3)


def start_sleepers(n):
    """n children of one parent, each blocked on a pipe until killed."""
    r, w = os.pipe()
    pids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            os.close(w)
            os.read(r, 1)
            os._exit(0)
        pids.append(pid)
    os.close(r)
    return pids, w


@test
def lost_exits_are_resynced_from_proc(tmp):
    # the smallest ring buffer: a stopped agent overflows it in a moment
    with running(Agent(tmp, capture="  ring_buffer_size: 64KiB\n")) as a:
        base = status(a)["proc_cache"]["entries"]
        pids, w = start_sleepers(SLEEPERS)
        wait_until(lambda: status(a)["proc_cache"]["entries"] >= base + SLEEPERS * 9 // 10, 30,
                   "the sleepers' forks in the cache")
        before = status(a)
        os.kill(a.proc.pid, signal.SIGSTOP)
        try:
            # fill the ring buffer (execs with long argv), then the sleepers die unseen
            for _ in range(150):
                subprocess.run(["/bin/true", "x" * 2000])
            for p in pids:
                os.kill(p, signal.SIGKILL)
            for p in pids:
                os.waitpid(p, 0)
        finally:
            os.kill(a.proc.pid, signal.SIGCONT)
            os.close(w)
        lost = wait_until(lambda: (lambda s: s if s["drops"]["ringbuf_full_exit"] >
                                   before["drops"]["ringbuf_full_exit"] else None)(status(a)),
                          30, "exits lost to the full ring buffer")
        assert lost["drops"]["ringbuf_full_exit"] - before["drops"]["ringbuf_full_exit"] >= SLEEPERS // 2
        # the dead sleepers are dropped: the cache is back near what /proc has
        st = wait_until(lambda: (lambda s: s if s["proc_cache"]["resync_dropped"] >= SLEEPERS // 2
                                 else None)(status(a)), 30, "the resync")
        assert st["proc_cache"]["resyncs"] >= 1, st["proc_cache"]
        wait_until(lambda: status(a)["proc_cache"]["entries"] <= live_processes() + SLEEPERS // 2, 30,
                   "the cache size back near the live process count")
        ev = a.wait_for(lambda e: get(e, "event.action") == "process-cache-resync", timeout=10)
        assert sum(get(e, "vigil.agent.process_cache.dropped") for e in ev) >= SLEEPERS // 2
        assert st["proc_cache"]["max"] == 65536 and st["proc_cache"]["refused"] == 0


RULES = """- rule: Victim sequence
  id: FLOOD-VICTIM
  desc: victim-a then victim-b in one session
  sequence:
    by: session
    within: 1m
    steps:
      - event.action = exec and process.name = victim-a
      - event.action = exec and process.name = victim-b
  output: victim sequence completed
  severity: high
- rule: Flood keys
  id: FLOOD-KEYS
  desc: one pending sequence per process that runs flood-key
  sequence:
    by: process
    within: 1m
    steps:
      - event.action = exec and process.args = flood-key
      - event.action = exec and process.name = never-runs
  output: never
  severity: low
"""


def victim(tmp, bins):
    """victim-a, then victim-b once tmp/go exists, in one new session."""
    flag = os.path.join(tmp, "go")
    p = subprocess.Popen(["setsid", "/bin/sh", "-c",
                          f"{bins}/victim-a; while [ ! -e {flag} ]; do sleep 0.1; done; {bins}/victim-b"])
    return p, flag


@test
def flooding_keys_that_evict_a_pending_sequence_is_reported(tmp):
    rules = os.path.join(tmp, "rules.yaml")
    with open(rules, "w") as f:
        f.write(RULES)
    bins = os.path.join(tmp, "bin")
    os.makedirs(bins)
    for name in ("victim-a", "victim-b"):
        shutil.copy("/bin/true", os.path.join(bins, name))
    # the smallest cap on live sequences (a top-level section after response's)
    agent = Agent(tmp, response="rules:\n  max_sequences: 16\n")
    with running(agent, args=("--rules", rules)) as a:
        # without a flood, the sequence completes: the rule works
        p, flag = victim(tmp, bins)
        a.wait_for(lambda e: get(e, "process.name") == "victim-a", what="victim-a")
        open(flag, "w").close()
        p.wait(timeout=30)
        a.wait_for(lambda e: get(e, "rule.id") == "FLOOD-VICTIM", alerts=True, what="the control alert")
        os.unlink(flag)
        # victim-a, then more keys than rules.max_sequences (16) of another rule, then victim-b
        p, flag = victim(tmp, bins)
        a.wait_for(lambda e: get(e, "process.name") == "victim-a"
                   and get(e, "process.parent.pid") == p.pid, what="victim-a again")
        for _ in range(40):
            subprocess.run(["/bin/true", "flood-key"])
        open(flag, "w").close()
        p.wait(timeout=30)
        a.wait_for(lambda e: get(e, "process.name") == "victim-b"
                   and get(e, "process.parent.pid") == p.pid, what="victim-b again")
        ev = a.wait_for(lambda e: get(e, "event.action") == "sequence-evicted"
                        and get(e, "vigil.agent.rules.sequences_evicted_by_rule.FLOOD-VICTIM"),
                        timeout=10, what="the eviction report")[0]
        assert get(ev, "event.kind") == "metric"
        time.sleep(1.5)  # a tick: the lost sequence raised no alert
        assert len([e for e in a.lines(alerts=True) if get(e, "rule.id") == "FLOOD-VICTIM"]) == 1
        st = status(a)["rules"]
        assert st["sequences_evicted_by_rule"]["FLOOD-VICTIM"] >= 1, st
        assert st["sequences_evicted"] >= 24, st


SNAP_RULE = """- rule: Snap me
  id: FLOOD-SNAP
  desc: evidence and a page for snap-me
  condition: event.action = exec and process.name = snap-me
  output: snap-me ran
  severity: high
"""


def tasks(pid):
    return {int(t) for t in os.listdir(f"/proc/{pid}/task")}


def clones(log, tids):
    """The clone calls strace saw vigild's own threads make (not its children's)."""
    out = []
    for line in open(log):
        tid = line.split(" ", 1)[0]
        if tid.isdigit() and int(tid) in tids and any(
                f" {c}(" in line for c in ("clone", "clone3", "fork", "vfork")):
            out.append(line.strip())
    return out


@test
def snapshot_and_operator_script_do_not_fork_the_daemon(tmp):
    if not shutil.which("strace"):
        raise AssertionError("strace is needed to see vigild's clone calls (apt install strace)")
    rules, pbs = os.path.join(tmp, "rules.yaml"), os.path.join(tmp, "playbooks")
    os.makedirs(pbs)
    with open(rules, "w") as f:
        f.write(SNAP_RULE)
    page, paged = os.path.join(tmp, "page.sh"), os.path.join(tmp, "paged.json")
    with open(page, "w") as f:
        f.write(f"#!/bin/sh\ncat > {paged}\n")
    os.chmod(page, 0o755)
    with open(os.path.join(pbs, "snap.yaml"), "w") as f:
        f.write("- playbook: snap-and-page\n  match:\n    rules: [FLOOD-SNAP]\n  steps:\n"
                f"    - snapshot: process\n    - exec: {{command: [{page}], timeout: 10s}}\n")
    target = os.path.join(tmp, "snap-me")
    shutil.copy("/bin/sleep", target)
    log = os.path.join(tmp, "strace.log")
    with running(Agent(tmp, playbooks=[pbs]), args=("--rules", rules)) as a:
        tracer = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=clone,clone3,fork,vfork",
                                   "-o", log, "-p", str(a.proc.pid)])
        daemon = tasks(a.proc.pid)
        try:
            wait_until(lambda: os.path.exists(log), 10, "strace attached")
            time.sleep(1)
            p = subprocess.Popen([target, "5"])
            act = a.wait_for(lambda e: get(e, "event.action") == "contain.snapshot"
                             and get(e, "vigil.action.target_pid") == p.pid, what="the snapshot step")[0]
            assert get(act, "event.outcome") == "success", act
            inc_id = get(act, "vigil.action.incident")
            wait_until(lambda: os.path.exists(paged) and os.path.getsize(paged), 15, "the page")

            def results():
                out = subprocess.run([VIGIL, "--socket", a.sock, "--json", "incidents", inc_id],
                                     capture_output=True, text=True, timeout=10)
                steps = json.loads(out.stdout)["incident"]["steps"]
                names = {s["name"]: s for s in steps}
                return names if {"contain.snapshot-result", "contain.exec-result"} <= set(names) else None
            steps = wait_until(results, 15, "the snapshot and script results")
            p.wait(timeout=30)
            daemon |= tasks(a.proc.pid)
        finally:
            tracer.terminate()
            tracer.wait(timeout=10)
        assert steps["contain.snapshot-result"]["exit_code"] == 0, steps
        assert steps["contain.exec-result"]["exit_code"] == 0, steps
        evidence = get(act, "vigil.action.evidence")
        tree = json.load(open(os.path.join(evidence, "tree.json")))
        assert tree[0]["pid"] == p.pid and len(tree[0]["sha256"]) == 64, tree
        assert json.loads(open(paged).read())["rule"]["id"] == "FLOOD-SNAP"
        seen = clones(log, daemon)
        assert any("CLONE_THREAD" in c for c in seen), seen  # the hashing thread
        assert any("CLONE_VFORK" in c for c in seen), seen   # posix_spawn of the script
        forks = [c for c in seen if "CLONE_THREAD" not in c and "CLONE_VFORK" not in c]
        assert not forks, forks


@test
def udp_destinations_past_the_dedup_table_are_counted_full(tmp):
    with running(Agent(tmp, capture="  udp_dedup_entries: 16\n")) as a:
        rx = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(48)]
        for r in rx:
            r.bind(("127.0.0.1", 0))
        ports = [r.getsockname()[1] for r in rx]
        before = status(a)["udp"]
        code = ("import socket, sys\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                "for p in sys.argv[1:]: s.sendto(b'x', ('127.0.0.1', int(p)))\n")
        # 48 destinations into 16 entries, then the first again: evicted by then
        p = subprocess.run([sys.executable, "-c", code] + [str(x) for x in ports + ports[:1]],
                           timeout=30)
        assert p.returncode == 0
        wait_until(lambda: len(udp_events(a, ports)) >= 49, 20, "49 UDP events")
        after = status(a)["udp"]
        assert after["dedup_full"] - before["dedup_full"] >= 33, (before, after)
        evs = udp_events(a, ports)
        assert sum(1 for e in evs if get(e, "destination.port") == ports[0]) == 2, len(evs)
        for r in rx:
            r.close()


def udp_events(a, ports):
    want = set(ports)
    return [e for e in a.lines() if get(e, "event.action") == "connect"
            and get(e, "network.transport") == "udp" and get(e, "destination.port") in want]


if __name__ == "__main__":
    sys.exit(suite_main("fault-flood", TESTS))
