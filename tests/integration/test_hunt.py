#!/usr/bin/python3
"""Fleet hunting and remote response against a real 3-node JetStream cluster
on loopback (nats_cluster.py): `vigil hunt` workers sharing a partition, a
takeover after kill -9, correlation across events that arrived apart; signed
remote commands to a private vigild, and every refusal audited."""
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

from cryptography.hazmat.primitives import serialization

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, VIGIL, Agent, get, registry, run_suite, wait_until  # noqa: E402
from nats_client import Client  # noqa: E402
from nats_cluster import NatsCluster  # noqa: E402

TESTS, test = registry()
RULES = os.path.join(ROOT, "tests", "fixtures", "hunt", "rules.yaml")
STREAM = "VIGIL"
HOST = "fleet-resp"  # the private vigild's host_name
COUNTER = """import sys, time
n = 0
while True:
    n += 1
    open(sys.argv[1], "w").write(str(n))
    time.sleep(0.02)
"""


class Env:
    def __init__(self, tmp):
        self.tmp = tmp
        self.cluster = NatsCluster()
        self.nc = None
        self.procs = []
        self.seq = 0

    @property
    def url(self):
        return ",".join(self.cluster.urls)

    def event(self, host, action, name, entity, ancestors=(), port=None):
        """A vigil ECS event as the agent ships it (only what the rules read)."""
        self.seq += 1
        e = {"@timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000000000Z",
             "ecs": {"version": "9.4.0"},
             "event": {"kind": "event", "category": ["process"], "type": ["start"],
                       "action": action, "id": f"t{os.getpid()}-{host}-{self.seq}",
                       "sequence": self.seq, "module": "vigil"},
             "agent": {"type": "vigil", "version": "0.1.0"}, "host": {"name": host},
             "process": {"pid": 1000 + self.seq, "entity_id": entity, "name": name,
                         "executable": "/usr/bin/" + name},
             "vigil": {"process": {"ancestors": [{"pid": 1, "entity_id": a, "name": "sh"}
                                                 for a in ancestors]}}}
        if port:
            e["event"].update(category=["network"], type=["connection", "start"])
            e["destination"] = {"ip": "10.0.0.9", "port": port}
        return e

    def publish(self, partition, host, ev):
        ack = self.nc.publish(f"vigil.events.{partition}.{host}", json.dumps(ev),
                              ev["event"]["id"])
        self.last_seq = ack["seq"]  # the stream's sequence of the last event published
        return ev["event"]["id"]

    def hunt(self, partition, *args):
        """A `vigil hunt --follow` worker; its stdout and stderr in files."""
        out = open(os.path.join(self.tmp, f"hunt-{partition}-{len(self.procs)}.out"), "w+")
        err = open(os.path.join(self.tmp, f"hunt-{partition}-{len(self.procs)}.err"), "w+")
        p = subprocess.Popen(["/usr/bin/setpriv", "--pdeathsig", "KILL", VIGIL, "hunt",
                              "--nats", self.url, "--rules", RULES, "--partition",
                              str(partition), "--follow", "--lease-ttl", "3s", *args],
                             stdout=out, stderr=err)
        p.out, p.err = out.name, err.name
        self.procs.append(p)
        return p

    def fleet(self, key, *args, timeout=30):
        """vigil --fleet URL --key KEY ARGS... (a CompletedProcess)."""
        return subprocess.run([VIGIL, "--fleet", self.url, "--key", self.key(key), *args],
                              capture_output=True, text=True, timeout=timeout)

    def key(self, name):
        return os.path.join(self.tmp, "keys", name + ".key")

    def signed(self, key, cmd, host=HOST, args=None, ts=None, nonce=None):
        """A request signed here (Python's Ed25519, the documented canonical bytes)."""
        with open(self.key(key), "rb") as f:
            k = serialization.load_pem_private_key(f.read(), None)
        req = {"cmd": cmd, "host": host, "args": args or {}, "ts": int(ts or time.time()),
               "nonce": nonce or uuid.uuid4().hex, "key_id": key}
        canon = json.dumps(req, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        req["sig"] = base64.b64encode(k.sign(canon.encode())).decode()
        return json.dumps(req)

    def audits(self):
        return [e for e in self.agent.lines() if e["event"]["action"] == "fleet-command"]

    def alerts(self, partition):
        """The hunt alerts the stream holds for the partition, in order."""
        return [json.loads(d) for _, d in
                self.nc.messages(STREAM, f"vigil.alerts.hunt.{partition}.>")]

    def ack_floor(self, partition):
        return self.nc.js(f"CONSUMER.INFO.{STREAM}.hunt-{partition}")["ack_floor"]["stream_seq"]


def text(path):
    with open(path, errors="replace") as f:
        return f.read()


def printed(p):
    return [json.loads(line)["event"]["id"] for line in text(p.out).splitlines() if line]


@test
def takeover_after_kill_loses_no_alert_and_doubles_none(env):
    p, host = 5, "gpu-a"
    first = env.hunt(p)
    wait_until(lambda: "active" in text(first.err), 30, "the first worker active")
    second = env.hunt(p)
    wait_until(lambda: "standing by" in text(second.err), 30, "the second worker standing by")
    # a sequence whose first step the first worker sees, and markers
    env.publish(p, host, env.event(host, "exec", "stage-one", "tree-a"))
    triggers = [env.publish(p, host, env.event(host, "exec", "hunt-marker", f"m{i}"))
                for i in range(20)]
    wait_until(lambda: len(env.alerts(p)) == 20, 30, "the first worker's 20 alerts")
    wait_until(lambda: env.ack_floor(p) >= env.last_seq, 30, "the first worker's acks")
    first.send_signal(signal.SIGKILL)
    first.wait()
    # the second step, in a child of tree-a, and more markers: only the second worker is left
    triggers.append(env.publish(p, host, env.event(host, "connect", "curl", "child-a",
                                                   ancestors=["tree-a"], port=4444)))
    triggers += [env.publish(p, host, env.event(host, "exec", "hunt-marker", f"n{i}"))
                 for i in range(20)]
    wait_until(lambda: len(env.alerts(p)) >= 41, 60, "41 alerts after the takeover")
    time.sleep(2)  # a doubled alert would have landed by now
    alerts = env.alerts(p)
    ids = [a["event"]["id"] for a in alerts]
    assert len(ids) == 41 == len(set(ids)), f"{len(ids)} alerts, {len(set(ids))} distinct"
    got = sorted(get(a, "vigil.alert.trigger.id") for a in alerts)
    assert got == sorted(triggers), "alerts are not one per trigger"
    seq = [a for a in alerts if a["rule"]["id"] == "HNT-0002"]
    assert len(seq) == 1 and get(seq[0], "vigil.alert.sequence.steps") == 2, seq
    assert "active" in text(second.err)
    a, b = printed(first), printed(second)
    assert len(a) == 20 and len(b) == 21 and not set(a) & set(b), (len(a), len(b))
    assert seq[0]["event"]["id"] in b, "the sequence spanning the handover fired on the second"


@test
def tree_sequence_fires_across_events_that_arrived_apart(env):
    p, host = 6, "gpu-b"
    w = env.hunt(p)
    wait_until(lambda: "active" in text(w.err), 30, "the worker active")
    env.publish(p, host, env.event(host, "exec", "stage-one", "tree-b"))
    env.publish(p, host, env.event(host, "exec", "stage-one", "tree-c"))
    wait_until(lambda: env.ack_floor(p) >= env.last_seq, 30, "both acked")
    time.sleep(3)  # the second step arrives seconds later, in other batches
    env.publish(p, "gpu-z", env.event("gpu-z", "connect", "curl", "other", ["tree-x"], 4444))
    env.publish(p, host, env.event(host, "connect", "nc", "x", ancestors=["unrelated"],
                                   port=4444))
    trigger = env.publish(p, host, env.event(host, "connect", "curl", "grandchild",
                                             ancestors=["child-b", "tree-b"], port=4444))
    alerts = wait_until(lambda: env.alerts(p), 30, "the sequence alert")
    time.sleep(2)
    alerts = env.alerts(p)
    assert len(alerts) == 1, [a["message"] for a in alerts]
    a = alerts[0]
    assert a["rule"]["id"] == "HNT-0002" and get(a, "vigil.alert.trigger.id") == trigger
    assert get(a, "vigil.alert.sequence.by") == "tree"
    assert a["host"]["name"] == host


def read_int(path):
    try:
        with open(path) as f:
            return int(f.read() or 0)
    except (OSError, ValueError):
        return 0


@test
def remote_contain_with_an_act_key_freezes_and_releases(env):
    count = os.path.join(env.tmp, "count")
    p = subprocess.Popen([sys.executable, "-c", COUNTER, count])
    try:
        wait_until(lambda: read_int(count) > 5, 30, "the counter running")
        r = env.fleet("alice", "contain", "--host", HOST, "--pid", str(p.pid), "--freeze")
        assert r.returncode == 0 and "contain.freeze" in r.stdout, r.stdout + r.stderr
        a = read_int(count)
        time.sleep(0.5)
        assert read_int(count) == a, "a frozen process made progress"
        r = env.fleet("alice", "release", "--host", HOST, "--pid", str(p.pid))
        assert r.returncode == 0, r.stdout + r.stderr
        wait_until(lambda: read_int(count) > a + 5, 30, "progress after the release")
        acts = wait_until(lambda: [e for e in env.agent.lines()
                                   if get(e, "vigil.action.via") == "fleet"], 20, "actions")
        assert all(get(e, "vigil.action.key_id") == "alice" for e in acts), acts
        wait_until(lambda: {"contain", "release"} <= {
            get(e, "vigil.fleet.command") for e in env.audits()
            if get(e, "vigil.fleet.outcome") == "done" and get(e, "vigil.fleet.key_id") == "alice"},
            20, "contain and release audited as done by alice")
        # the audit reaches the fleet stream like any event
        wait_until(lambda: any(b'"fleet-command"' in d for _, d in
                               env.nc.messages(STREAM, f"vigil.events.*.{HOST}")), 60,
                   "the audit event in JetStream")
    finally:
        p.kill()
        p.wait()


@test
def remote_refusals_are_each_refused_and_audited(env):
    victim = subprocess.Popen(["sleep", "120"])
    try:
        # a read key may not act; an unknown key may not do anything
        r = env.fleet("bob", "contain", "--host", HOST, "--pid", str(victim.pid))
        assert r.returncode == 1 and "role-denied" not in r.stdout and "read" in r.stderr, r.stderr
        r = env.fleet("mallory", "status", "--host", HOST)
        assert r.returncode == 1 and "no responder key" in r.stderr, r.stderr
        r = env.fleet("bob", "status", "--host", HOST)  # what a read key may do
        assert r.returncode == 0 and "uptime_s" in r.stdout, r.stdout + r.stderr
        subj = f"vigil.cmd.{HOST}"
        # signed for another host, onto this host's subject
        out = env.nc.ask(subj, env.signed("alice", "status", host="gpu-other"))
        assert not out["ok"] and "for host" in out["error"], out
        out = env.nc.ask(subj, env.signed("alice", "status", ts=time.time() - 300))
        assert not out["ok"] and "timestamp" in out["error"], out
        once = env.signed("alice", "status")
        assert env.nc.ask(subj, once)["ok"]
        out = env.nc.ask(subj, once)
        assert not out["ok"] and "nonce already used" in out["error"], out
        assert os.path.exists(f"/proc/{victim.pid}") and \
            "T" not in open(f"/proc/{victim.pid}/stat").read().split()[2]
        want = {("bob", "role-denied"), ("mallory", "unknown-key"), ("alice", "wrong-host"),
                ("alice", "stale"), ("alice", "replay")}
        got = wait_until(lambda: want <= {(get(e, "vigil.fleet.key_id"), get(e, "vigil.fleet.refused"))
                                          for e in env.audits()} and env.audits(), 20, "audits")
        for e in got:
            if get(e, "vigil.fleet.outcome") == "refused":
                assert get(e, "vigil.fleet.reason") and e["event"]["outcome"] == "failure", e
    finally:
        victim.kill()
        victim.wait()


@test
def fleet_status_lists_the_host_from_its_heartbeats(env):
    def row():
        r = subprocess.run([VIGIL, "--json", "--fleet", env.url, "fleet", "status"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        rows = [h for h in json.loads(r.stdout) if h["host"] == HOST]
        # 0 containments once vigild has forgotten the remote-contain test's victim,
        # killed at that test's end (on its next tick; a heartbeat before it says 1)
        return rows and rows[0]["last"] == "heartbeat" and rows[0]["containments"] == 0 and rows[0]
    h = wait_until(row, 30, "a heartbeat in fleet status with 0 containments")
    assert h["version"] and h["age_s"] < 30 and isinstance(h["drops"], int), h
    assert h["containments"] == 0 and h["lag"] is not None, h
    text_out = subprocess.run([VIGIL, "--fleet", env.url, "fleet", "status"],
                              capture_output=True, text=True, timeout=30).stdout
    assert HOST in text_out and "LAST SEEN" in text_out, text_out


def start_agent(env):
    """Keys (alice: act, bob: read, mallory: not installed) and a private vigild
    on the cluster with alice and bob in its responders directory."""
    keys, resp = os.path.join(env.tmp, "keys"), os.path.join(env.tmp, "responders")
    os.makedirs(keys)
    os.makedirs(resp)
    for name, role in (("alice", "act"), ("bob", "read"), ("mallory", "act")):
        r = subprocess.run([VIGIL, "fleet", "keygen", "--id", name, "--role", role, "-o", keys],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    for name in ("alice", "bob"):
        shutil.copy(os.path.join(keys, name + ".pub"), resp)
    os.makedirs(os.path.join(env.tmp, "agent"))
    a = Agent(os.path.join(env.tmp, "agent"), playbooks=[os.path.join(env.tmp, "agent", "none")])
    os.makedirs(os.path.join(env.tmp, "agent", "none"), exist_ok=True)
    with open(a.config) as f:
        cfg = f.read()
    cfg = f"host_name: {HOST}\n" + cfg.replace("output:\n", f"""output:
  nats:
    servers: [{", ".join(env.cluster.urls)}]
    replicas: 3
    responders: {resp}
""", 1)
    with open(a.config, "w") as f:
        f.write(cfg)
    env.agent = a
    a.start()
    # subscribed once connected: a status answers
    wait_until(lambda: env.fleet("bob", "status", "--host", HOST, timeout=15).returncode == 0,
               60, "vigild answering on its command subject")


def start(env):
    env.cluster.start()
    env.nc = Client(env.cluster.urls)
    # as vigild makes it (<prefix>.>): it captures vigil.cmd.* too, and acks each request
    env.nc.add_stream(STREAM, ["vigil.>"], replicas=3)
    start_agent(env)


def finish(env):
    if getattr(env, "agent", None):
        env.agent.stop()
        env.agent.cleanup()
    for p in env.procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    if env.nc:
        env.nc.close()
    env.cluster.stop()


def main():
    return run_suite("hunt-integration", TESTS, Env, start=start, finish=finish,
                     log=lambda env: env.agent.stderr if getattr(env, "agent", None) else None,
                     prefix="vigil-hunt-")


if __name__ == "__main__":
    sys.exit(main())
