#!/usr/bin/python3
"""Fleet hunting and remote response against a real 3-node JetStream cluster
on loopback (nats_cluster.py): `vigil hunt` workers sharing a partition, a
takeover after kill -9, correlation across events that arrived apart; signed
remote commands to a private vigild, and every refusal audited."""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, VIGIL, get, registry, run_suite, wait_until  # noqa: E402
from nats_client import Client  # noqa: E402
from nats_cluster import NatsCluster  # noqa: E402

TESTS, test = registry()
RULES = os.path.join(ROOT, "tests", "fixtures", "hunt", "rules.yaml")
STREAM = "VIGIL"


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


def start(env):
    env.cluster.start()
    env.nc = Client(env.cluster.urls)
    env.nc.add_stream(STREAM, ["vigil.>"], replicas=3)


def finish(env):
    for p in env.procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    if env.nc:
        env.nc.close()
    env.cluster.stop()


def main():
    return run_suite("hunt-integration", TESTS, Env, start=start, finish=finish,
                     prefix="vigil-hunt-")


if __name__ == "__main__":
    sys.exit(main())
