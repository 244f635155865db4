#!/usr/bin/python3
"""Hunt throughput per worker vs replay (issue 14; `bench/hunt.py`, N=200000).

The same N lines (a synthetic inference-host mix: model opens, execs,
loopback and outside connects, a few attack sequences) go (a) through
`vigil replay` from a file and (b) into a real 3-node R3 JetStream stream
on loopback, all on one partition, through `vigil hunt --partition 0` (one
worker: pull batches of 256, an ack per event, alerts published with acks).
Both with the default rules plus tests/fixtures/hunt/rules.yaml (1 % of
the lines raise an alert). Prints lines/s for each and the ratio."""
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from nats_client import Client  # noqa: E402
from nats_cluster import NatsCluster  # noqa: E402

N = int(os.environ.get("N", "200000"))
VIGIL = os.path.join(ROOT, os.environ.get("B", "build"), "vigil")
MARKER = os.path.join(ROOT, "tests", "fixtures", "hunt", "rules.yaml")  # 1 % of lines alert


def lines(n):
    """n ECS lines as vigild writes them: mostly model opens, some execs and connects."""
    for i in range(n):
        tree = f"e{i // 50}"
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1764600000 + i // 100))
        e = {"@timestamp": f"{ts}.{i % 1000:03d}000000Z", "ecs": {"version": "9.4.0"},
             "event": {"kind": "event", "category": ["file"], "type": ["access"],
                       "action": "open", "id": f"bench-{i}", "sequence": i, "module": "vigil"},
             "agent": {"type": "vigil", "version": "0.1.0"}, "host": {"name": f"gpu-{i % 8}"},
             "process": {"pid": 1000 + i % 50, "entity_id": tree, "name": "python3",
                         "executable": "/usr/bin/python3", "args": ["python3", "serve.py"]},
             "user": {"id": "1000"},
             "vigil": {"process": {"ancestors": [{"pid": 1, "entity_id": "init",
                                                  "name": "systemd"}]}}}
        k = i % 20
        if k < 14:
            e["file"] = {"path": f"/models/m{i % 7}/model.safetensors", "extension": "safetensors"}
            e["vigil"]["file"] = {"kind": "model"}
        elif k < 18:
            e["event"].update(category=["process"], type=["start"], action="exec")
            name = "hunt-marker" if i % 100 == 15 else "sh" if k == 17 else "nvidia-smi"
            e["process"].update(name=name, executable="/usr/bin/" + name)
        else:
            e["event"].update(category=["network"], type=["connection", "start"], action="connect")
            e["destination"] = {"ip": "127.0.0.1" if k == 18 else "203.0.113.7", "port": 443}
            e["network"] = {"transport": "tcp", "direction": "egress"}
        yield json.dumps(e, separators=(",", ":"))


def timed(cmd):
    t = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return time.monotonic() - t, p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""


def main():
    tmp = tempfile.mkdtemp(prefix="vigil-hbench-")
    path = os.path.join(tmp, "events.jsonl")
    with open(path, "w") as f:
        for line in lines(N):
            f.write(line + "\n")
    rules = ["--rules", os.path.join(ROOT, "rules"), "--rules", MARKER]
    s, summary = timed([VIGIL, "replay", *rules, path])
    print(f"vigil replay:  {N / s:10,.0f} lines/s ({s:.2f} s) {summary}")
    with NatsCluster() as c, Client(c.urls) as nc:
        nc.add_stream("VIGIL", ["vigil.>"], replicas=3)
        t = time.monotonic()
        with open(path) as f:
            for line in f:
                nc.publish_core("vigil.events.0.gpu", line.rstrip("\n"))
        nc.flush()
        deadline = time.time() + 120
        while (nc.js("STREAM.INFO.VIGIL")["state"]["messages"] < N and time.time() < deadline):
            time.sleep(0.2)
        print(f"loaded {N} events into the R3 stream in {time.monotonic() - t:.1f} s")
        s, summary = timed([VIGIL, "hunt", "--nats", ",".join(c.urls), *rules, "--partition",
                            "0"])
        s -= 1.0  # the last fetch waits FETCH_MS (1 s) to see that nothing is left
        print(f"vigil hunt:    {N / s:10,.0f} lines/s ({s:.2f} s, one worker) {summary}")
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
