#!/usr/bin/python3
"""Fleet shipping figures (issue 14), against a real 3-node JetStream cluster
on loopback (tests/integration/nats_cluster.py), R3 stream:

1. publish throughput with acks: an events file of N lines (a real vigild
   exec event's shape, ~1.3 KiB, hash-chained like the file sink writes
   them) is in place before vigild starts; the time from vigild's first
   ack to the N-th, from `vigil status` (nats.acked), gives lines/s.
2. lag under a leader failover: vigild ships the events of a steady process
   load (RATE execs/s, ~2 events each); the stream's leader is killed with
   SIGKILL; `vigil status` is sampled every 0.2 s: the largest lag (events,
   seconds) and how long until it is back under its level before the kill.

As root, under the suite lock: flock /tmp/vigil-suite.lock unshare -m
--propagation private bench/fleet_publish.py   (N=50000 RATE=200)"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import VIGIL, Agent, wait_until  # noqa: E402
from nats_cluster import NatsCluster  # noqa: E402

N = int(os.environ.get("N", "50000"))
RATE = int(os.environ.get("RATE", "200"))
GENESIS = "0" * 64


def synthetic_file(path, n, host):
    """n chained lines shaped like vigild's exec events."""
    prev = GENESIS
    args = ["/usr/bin/python3", "-m", "vllm.entrypoints.openai.api_server", "--model", "/models/llama"]
    with open(path, "wb") as f:
        for i in range(1, n + 1):
            ev = {"@timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime()),
                  "ecs": {"version": "9.4.0"},
                  "event": {"kind": "event", "category": ["process"], "type": ["start"], "action": "exec",
                            "id": f"bench{os.getpid():x}-{i}", "sequence": i},
                  "host": {"name": host}, "agent": {"type": "vigil"},
                  "process": {"pid": 1000 + i % 30000, "entity_id": hashlib.sha1(str(i).encode()).hexdigest(),
                              "name": "python3", "executable": "/usr/bin/python3", "args": args,
                              "command_line": " ".join(args), "working_directory": "/srv/inference",
                              "parent": {"pid": 1, "name": "systemd", "executable": "/usr/lib/systemd/systemd"}},
                  "user": {"id": "0", "name": "root"},
                  "vigil": {"process": {"ancestors": [{"pid": 1, "name": "systemd"}] * 4}}}
            body = json.dumps(ev, separators=(",", ":"))
            line = body[:-2] + f',"chain":"{prev}"}}}}'
            f.write(line.encode() + b"\n")
            prev = hashlib.sha256(line.encode()).hexdigest()
    return os.path.getsize(path)


def nats_status(a):
    p = subprocess.run([VIGIL, "--socket", a.sock, "--json", "status"], capture_output=True, text=True, timeout=30)
    return json.loads(p.stdout)["nats"] if p.returncode == 0 else None


def agent(tmp, name, cluster, host):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    a = Agent(d)
    cfg = open(a.config).read().replace("output:\n", f"""output:
  nats:
    servers: [{", ".join(cluster.urls)}]
""", 1)
    open(a.config, "w").write(f"host_name: {host}\n" + cfg)
    return a


def throughput(tmp, cluster):
    a = agent(tmp, "tput", cluster, "bench-tput")
    size = synthetic_file(a.events, N, "bench-tput")
    a.proc = subprocess.Popen(a.command(), stdout=subprocess.DEVNULL, stderr=open(a.stderr, "w"))
    first = wait_until(lambda: (s := nats_status(a)) and s["acked"] > 0 and (time.time(), s["acked"]),
                       timeout=120, what="the first ack", every=0.02)
    last = wait_until(lambda: (s := nats_status(a)) and s["acked"] >= N and (time.time(), s["acked"]),
                      timeout=600, what=f"{N} acks", every=0.05)
    st = nats_status(a)
    a.stop()
    secs = last[0] - first[0]
    lines = last[1] - first[1]
    print(f"throughput: {N} lines ({size / N:.0f} B each) shipped with acks, R3: "
          f"{lines / secs:,.0f} lines/s, {size / N * lines / secs / 2**20:.1f} MiB/s "
          f"(sent {st['sent']}, retried {st['retried']}, errors {st['errors']})", flush=True)


def load(stop):
    period = 1.0 / RATE
    while not stop.is_set():
        t = time.time()
        subprocess.run(["/bin/true"])
        time.sleep(max(0, period - (time.time() - t)))


def failover(tmp, cluster):
    a = agent(tmp, "failover", cluster, "bench-failover")
    a.start()
    stop = threading.Event()
    t = threading.Thread(target=load, args=(stop,), daemon=True)
    t.start()
    try:
        time.sleep(5)
        before = [nats_status(a)["lag"] for _ in range(10) if time.sleep(0.2) is None]
        base_ev = max(b["events"] for b in before)
        base_s = max(b["seconds"] for b in before)
        killed = time.time()
        dead = cluster.kill_stream_leader("VIGIL")
        samples = []
        recovered = None
        while time.time() - killed < 30:
            s = nats_status(a)
            samples.append((time.time() - killed, s["lag"]["events"], s["lag"]["seconds"]))
            if recovered is None and time.time() - killed > 1 and s["lag"]["events"] <= max(base_ev, 2 * RATE // 5):
                recovered = time.time() - killed
            if recovered and time.time() - killed > recovered + 3:
                break
            time.sleep(0.2)
        leader = cluster.wait_stream_leader("VIGIL", timeout=30, other_than=dead)
        st = nats_status(a)
    finally:
        stop.set()
        t.join(timeout=30)
    cluster.restart(dead)
    a.stop()
    peak = max(samples, key=lambda x: x[1])
    print(f"failover: load {RATE} execs/s (~{2 * RATE} events/s); before the kill lag <= {base_ev} events, "
          f"{base_s:.2f} s; leader {dead} killed, new leader {leader}; peak lag {peak[1]} events, "
          f"{max(x[2] for x in samples):.1f} s (at +{peak[0]:.1f} s); back under "
          f"{max(base_ev, 2 * RATE // 5)} events at +{recovered if recovered is None else round(recovered, 1)} s; "
          f"retried {st['retried']}, errors {st['errors']}, duplicates {st['duplicates']}", flush=True)


def main():
    if os.geteuid() != 0:
        sys.exit("bench/fleet_publish.py: run as root (vigild loads eBPF programs)")
    tmp = tempfile.mkdtemp(prefix="vigil-bench-fleet-")
    os.chmod(tmp, 0o755)
    try:
        with NatsCluster() as cluster:
            throughput(tmp, cluster)
            failover(tmp, cluster)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
