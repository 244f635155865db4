#!/usr/bin/python3
"""Fleet: vigild ships its events file into a real 3-node NATS JetStream
cluster on loopback (Debian's nats-server), R3 stream. Each test compares
the stream, read back through libnats (build/tests/natsjs), with the local
hash-chained events file (rotated files included): every line exactly once
(Nats-Msg-Id = event.id, no id twice), none lost, in the file's order
where the test says so; with the stream's leader killed, the whole cluster
down for 30 s, vigild killed with SIGKILL mid-publish, and retention that
removed lines the cursor had not reached (a gap event). Bounded waits,
temp dirs, every nats-server and vigild stopped. Prints
"fleet: N passed, N failed"."""
import glob
import json
import os
import signal
import subprocess
import sys
import threading
import time

from harness import BUILD, ROOT, VIGIL, Agent, get, registry, run_suite, selected, wait_until  # noqa: F401
from nats_cluster import NatsCluster

TESTS, test = registry()
NATSJS = os.path.join(os.path.dirname(VIGIL), "tests", "natsjs")
STREAM = "VIGIL"
PARTITIONS = 16
MAX_FILES = 200


def fnv1a(s):
    h = 2166136261
    for b in s.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def subject_of(e):
    host = "".join(c if c.isalnum() or c in "-_" else "_" for c in e["host"]["name"])
    kind = e["event"]["kind"]
    if kind in ("metric", "state"):
        return f"vigil.health.{host}"
    what = "alerts" if kind == "alert" else "events"
    return f"vigil.{what}.{fnv1a(e['host']['name']) % PARTITIONS}.{host}"


class Env:
    def __init__(self, tmp):
        self.tmp = tmp
        self.cluster = NatsCluster()
        self.agent = None

    def urls(self):
        return ",".join(self.cluster.urls)

    def natsjs(self, *args, timeout=60, urls=None, tls=None):
        """tls: NATSJS_TLS_* variables for a server that wants TLS."""
        for _ in range(3):
            p = subprocess.run([NATSJS, urls or self.urls(), *args], capture_output=True,
                               text=True, timeout=timeout, env={**os.environ, **(tls or {})})
            # a read that timed out while the cluster settles (a leader moved): ask again
            if p.returncode == 0 or args[0] not in ("dump", "info") or "Timeout" not in p.stderr:
                break
            time.sleep(1)
        assert p.returncode == 0, f"natsjs {args}: {p.stderr.strip()}"
        return [json.loads(l) for l in p.stdout.splitlines() if l]

    def stream(self):
        return self.natsjs("dump", STREAM)

    def info(self):
        return self.natsjs("info", STREAM)[0]

    def new_agent(self, name, cluster=None, replicas=3, nats=""):
        """A vigild with its own host name, events file and state, shipping to
        the cluster (or another one); small files, so rotation happens inside
        every test. nats: more output.nats lines."""
        if self.agent:
            self.agent.stop()
            self.agent.cleanup()  # a SIGKILLed one keeps its pins
        self.cluster.start()  # whole again, whatever the test before did
        cluster = cluster or self.cluster
        os.makedirs(os.path.join(self.tmp, name))
        a = Agent(os.path.join(self.tmp, name))
        a.host = f"fleet-{name}"
        servers = ", ".join(cluster.urls)
        with open(a.config) as f:
            cfg = f.read()
        cfg = f"host_name: {a.host}\n" + cfg.replace("output:\n", f"""output:
  max_size: 256KiB
  max_files: {MAX_FILES}
  nats:
    servers: [{servers}]
    replicas: {replicas}
    partitions: {PARTITIONS}
{nats}""", 1)
        with open(a.config, "w") as f:
            f.write(cfg)
        self.agent = a
        p = subprocess.run([NATSJS, ",".join(cluster.urls), "info", STREAM], capture_output=True, text=True,
                           timeout=60)
        self.since = json.loads(p.stdout)["last_seq"] + 1 if p.returncode == 0 else 1
        return a

    def mine(self, a):
        """The stream's messages from a's host (all after the stream's end when a was made)."""
        return [m for m in self.natsjs("dump", STREAM, str(self.since)) if get(m, "data.host.name") == a.host]


def start(a):
    """Agent.start, but agent-start is looked for in rotated files too."""
    a.proc = subprocess.Popen(a.command(), stdout=subprocess.DEVNULL, stderr=open(a.stderr, "w"))
    wait_until(lambda: a.proc.poll() is not None or any(
        e["event"]["action"] == "agent-start" and get(e, "vigil.agent.pid") == a.proc.pid
        for e in file_lines(a)), timeout=90, what="agent-start", every=0.2)
    assert a.proc.poll() is None, open(a.stderr).read()[-2000:]


def file_lines(a):
    """Every complete line of the events file series, oldest first."""
    names = sorted(glob.glob(a.events + ".*"), key=lambda n: -int(n.rsplit(".", 1)[1]))
    out = []
    for n in names + [a.events]:
        try:
            data = open(n, "rb").read()
        except FileNotFoundError:
            continue
        out += [json.loads(l) for l in data.split(b"\n")[:-1] if l]
    return out


def status(a):
    p = subprocess.run([VIGIL, "--socket", a.sock, "--json", "status"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def burst(n):
    """n short processes: about 2n events (exec, exit)."""
    subprocess.run(["/bin/sh", "-c", f"i=0; while [ $i -lt {n} ]; do /bin/true; i=$((i+1)); done"],
                   check=True, timeout=120)


class Flow:
    """Events flowing in the background while the cluster is hurt."""

    def __init__(self):
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            burst(20)
            time.sleep(0.05)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.t.join(timeout=60)


def all_shipped(env, a, timeout=90):
    """The stream holds every line the file holds now (the file grows: heartbeats)."""
    want = [e["event"]["id"] for e in file_lines(a)]
    def have():
        try:
            got = {m["id"] for m in env.mine(a)}
        except AssertionError:  # a read timed out: the cluster is still settling; ask again
            return None
        missing = [i for i in want if i not in got]
        return not missing or None
    wait_until(have, timeout=timeout, what=f"{len(want)} lines in the stream", every=1)
    return want


def check_exactly_once(env, a, ordered):
    """No id twice; every stored message is a line of the file, byte for byte
    the same event, on its subject; with ordered, in the file's order."""
    msgs = env.mine(a)
    ids = [m["id"] for m in msgs]
    assert len(ids) == len(set(ids)), f"doubled in the stream: {len(ids) - len(set(ids))}"
    file = file_lines(a)
    lines = {e["event"]["id"]: e for e in file}
    order = {e["event"]["id"]: n for n, e in enumerate(file)}
    for m in msgs:
        e = lines.get(m["id"])
        assert e is not None, f"stream message {m['id']} is not in the file"
        assert m["data"] == e, f"message {m['id']} differs from the file's line"
        assert m["subject"] == subject_of(e), (m["subject"], subject_of(e))
    if ordered:
        pos = [order[i] for i in ids]
        assert pos == sorted(pos), "the stream's order is not the file's"
    return msgs


def start_cluster(env):
    env.cluster.start()


def finish(env):
    if env.agent:
        env.agent.stop()
        env.agent.cleanup()
    env.cluster.stop()


@test
def stream_created_every_event_exactly_once(env):
    a = env.new_agent("once")
    start(a)
    burst(300)
    want = all_shipped(env, a)
    info = env.info()
    assert info["subjects"] == ["vigil.>"] and info["replicas"] == 3 and info["storage"] == 0, info
    assert info["duplicates_ns"] >= 60 * 10**9, info
    assert len(glob.glob(a.events + ".*")) >= 2, "no rotation happened: the test would not cover it"
    st = status(a)["nats"]
    assert st["state"] == "connected" and st["acked"] >= len(want), st
    assert st["errors"] == 0 and st["gaps"] == 0, st
    assert a.stop() == 0
    check_exactly_once(env, a, ordered=True)
    ids = [m["id"] for m in env.mine(a)]
    assert [e["event"]["id"] for e in file_lines(a)][:len(ids)] == ids


@test
def stream_leader_killed_mid_stream_none_lost_none_doubled(env):
    a = env.new_agent("leader")
    start(a)
    with Flow():
        wait_until(lambda: status(a)["nats"]["acked"] > 200, timeout=60, what="shipping")
        dead = env.cluster.kill_stream_leader(STREAM)
        env.cluster.wait_stream_leader(STREAM, timeout=30, other_than=dead)
        acked = status(a)["nats"]["acked"]
        wait_until(lambda: status(a)["nats"]["acked"] > acked + 200, timeout=60,
                   what="shipping under the new leader")
    env.cluster.restart(dead)
    all_shipped(env, a)
    assert a.stop() == 0
    check_exactly_once(env, a, ordered=False)


@test
def cluster_down_30s_all_delivered_after_in_order(env):
    a = env.new_agent("outage")
    start(a)
    all_shipped(env, a)
    env.cluster.stop_all()
    t0 = time.time()
    with Flow():
        lag = wait_until(lambda: (s := status(a)["nats"])["lag"]["events"] > 100 and s, timeout=60,
                         what="lag while the cluster is down")
        assert lag["state"] == "connecting" and lag["lag"]["bytes"] > 0, lag
        time.sleep(max(0, 30 - (time.time() - t0)))
        assert status(a)["nats"]["lag"]["seconds"] >= 20, status(a)["nats"]
    env.cluster.start()
    all_shipped(env, a, timeout=120)
    assert a.stop() == 0
    check_exactly_once(env, a, ordered=True)


@test
def vigild_kill9_mid_publish_resumes_from_cursor(env):
    a = env.new_agent("kill9")
    start(a)
    burst(200)
    burst_t = threading.Thread(target=burst, args=(400,))
    burst_t.start()
    wait_until(lambda: status(a)["nats"]["acked"] > 100, timeout=60, what="shipping")
    a.proc.kill()
    a.proc.wait(timeout=30)
    burst_t.join(timeout=120)
    cursor = json.load(open(os.path.join(a.state, "ship.cursor")))
    assert cursor["offset"] > 0 and cursor["id"], cursor
    start(a)
    all_shipped(env, a)
    st = status(a)["nats"]
    assert a.stop() == 0
    check_exactly_once(env, a, ordered=False)
    assert st["gaps"] == 0, st


@test
def retention_past_the_cursor_is_a_gap_event(env):
    a = env.new_agent("gap")
    start(a)
    all_shipped(env, a)
    env.cluster.stop_all()
    burst(100)  # written, not shipped
    assert a.stop() == 0
    lost = [e["event"]["id"] for e in file_lines(a)]
    for n in glob.glob(a.events + "*"):  # retention: everything the cursor had not reached
        os.unlink(n)
    env.cluster.start()
    start(a)
    gap = wait_until(lambda: [m for m in env.mine(a) if m["data"]["event"]["action"] == "fleet-gap"],
                     timeout=90, what="a fleet-gap event in the stream")[0]["data"]
    g = get(gap, "vigil.agent.nats_gap")
    assert g["after"]["id"] in lost and g["resumed"]["id"], g
    st = status(a)["nats"]
    assert st["gaps"] == 1, st
    assert a.stop() == 0


@test
def packaged_cluster_config_forms_a_jetstream_cluster(env):
    """packaging/nats/n{1,2,3}.conf as users get them, on free ports and a temp store."""
    c = NatsCluster()
    try:
        for i, node in enumerate(c.nodes, 1):
            conf = open(os.path.join(ROOT, "packaging", "nats", f"n{i}.conf")).read()
            conf = conf.replace(f"/var/lib/nats/n{i}", os.path.join(node.dir, "store"))
            conf = conf.replace(f"127.0.0.1:{4221 + i}", f"127.0.0.1:{node.port}")
            conf = conf.replace(f"127.0.0.1:{8221 + i}", f"127.0.0.1:{node.hport}")
            for j, other in enumerate(c.nodes, 1):
                conf = conf.replace(f"127.0.0.1:{6221 + j}", f"127.0.0.1:{other.cport}")
            with open(node.conf, "w") as f:
                f.write(conf)
        c.start()
        leader = c.meta_leader()
        metas = [n.monitor("/jsz")["meta_cluster"] for n in c.nodes]
        assert all(m["cluster_size"] == 3 and m["leader"] == leader for m in metas), metas
        wait_until(lambda: [r["current"] for r in c.node(leader).monitor("/jsz")["meta_cluster"]["replicas"]]
                   == [True] * 2, timeout=30, what="both followers current")
    finally:
        c.stop()


@test
def an_existing_stream_is_used_as_it_is(env):
    """The operator's stream (R1 here) is neither changed nor replaced."""
    env.natsjs("create", "OPS", "ops.>", "1")
    a = env.new_agent("existing")
    with open(a.config) as f:
        cfg = f.read().replace("    replicas: 3\n", "    replicas: 3\n    stream: OPS\n    subject_prefix: ops\n")
    with open(a.config, "w") as f:
        f.write(cfg)
    start(a)
    wait_until(lambda: env.natsjs("info", "OPS")[0]["messages"] > 0, timeout=60, what="lines in OPS")
    info = env.natsjs("info", "OPS")[0]
    assert info["replicas"] == 1 and info["subjects"] == ["ops.>"] and info["duplicates_ns"] == 120 * 10**9, info
    m = env.natsjs("dump", "OPS")[0]
    assert m["subject"].startswith("ops.health.fleet-existing"), m
    assert a.stop() == 0


@test
def vigild_runs_without_libnats(env):
    """libnats hidden (an empty file bound over it, in a mount namespace of
    vigild's own): vigild starts, writes its events, and says why it does not ship."""
    a = env.new_agent("nolib")
    lib = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True).stdout
    path = next(l.split("=> ")[1] for l in lib.splitlines() if "libnats.so.3.4 " in l)
    empty = os.path.join(a.tmp, "empty.so")
    open(empty, "w").close()
    argv = a.command()
    a.command = lambda args=(): ["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                                 'mount --bind "$0" "$1" && shift && exec "$@"', empty, path, *argv]
    start(a)
    st = status(a)["nats"]
    assert st["state"] == "unavailable" and "cannot load libnats.so.3.4 (package libnats3.4)" in st["last_error"], st
    burst(10)
    assert a.stop() == 0
    assert "fleet: not shipping to NATS: cannot load libnats.so.3.4" in open(a.stderr).read()
    p = subprocess.run([NATSJS, env.urls(), "dump", STREAM], capture_output=True, text=True, timeout=60)
    assert a.host not in p.stdout  # (no stream at all when this test runs alone)


def make_certs(d):
    """A throwaway CA, a server certificate for 127.0.0.1 and a client
    certificate, by the openssl CLI; the keys 0600 (vigild wants that of tls_key)."""
    os.makedirs(d, mode=0o755)
    def ssl(*args, ext=None):
        if ext:
            with open(os.path.join(d, "ext"), "w") as f:
                f.write(ext)
            args += ("-extfile", "ext")
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=60)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    ssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=vigil-test-ca")
    for n, ext in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
                   ("client", "extendedKeyUsage=clientAuth\n")):
        ssl("req", *ec, "-keyout", f"{n}.key", "-out", f"{n}.csr", "-subj", f"/CN={n}")
        ssl("x509", "-req", "-in", f"{n}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{n}.pem", "-days", "1", ext=ext)
        os.chmod(os.path.join(d, f"{n}.key"), 0o600)
    return {k: os.path.join(d, f) for k, f in
            (("ca", "ca.pem"), ("server", "server.pem"), ("server_key", "server.key"),
             ("cert", "client.pem"), ("key", "client.key"))}


@test
def tls_with_a_client_certificate_and_refused_without(env):
    """A server that wants TLS and a client certificate from our CA (verify:
    true): vigild with tls_ca, tls_cert and tls_key ships every line; one with
    the CA alone is refused by the server, keeps running, and says why in status."""
    c = make_certs(os.path.join(env.tmp, "certs"))
    server = NatsCluster(n=1, extra=f'tls {{ cert_file: "{c["server"]}", key_file: "{c["server_key"]}", '
                                    f'ca_file: "{c["ca"]}", verify: true }}\n')
    tls = {"NATSJS_TLS_CA": c["ca"], "NATSJS_TLS_CERT": c["cert"], "NATSJS_TLS_KEY": c["key"]}
    try:
        server.start()
        a = env.new_agent("tls", cluster=server, replicas=1, nats=f"""    tls_ca: {c['ca']}
    tls_cert: {c['cert']}
    tls_key: {c['key']}
""")
        start(a)
        burst(50)
        want = [e["event"]["id"] for e in file_lines(a)]
        def shipped():
            got = {m["id"] for m in env.natsjs("dump", STREAM, urls=server.urls[0], tls=tls)
                   if get(m, "data.host.name") == a.host}
            return all(i in got for i in want)
        wait_until(shipped, timeout=60, what=f"{len(want)} lines in the stream over TLS", every=1)
        st = status(a)["nats"]
        assert st["state"] == "connected" and st["errors"] == 0, st
        assert env.natsjs("info", STREAM, urls=server.urls[0], tls=tls)[0]["replicas"] == 1
        assert a.stop() == 0
        p = subprocess.run([NATSJS, server.urls[0], "info", STREAM], capture_output=True, text=True,
                           timeout=60, env={**os.environ, "NATSJS_TLS_CA": c["ca"]})
        assert p.returncode == 1 and "connect" in p.stderr, p  # the server does want the certificate
        b = env.new_agent("notls", cluster=server, replicas=1, nats=f"    tls_ca: {c['ca']}\n")
        start(b)
        st = wait_until(lambda: (s := status(b)["nats"]).get("last_error") and s, timeout=30,
                        what="a connect error in status")
        assert st["state"] == "connecting" and st["acked"] == 0, st
        assert "client certificate" in st["last_error"], st
        burst(10)
        assert b.proc.poll() is None and b.stop() == 0
        assert b.host not in "".join(json.dumps(m) for m in env.natsjs("dump", STREAM, urls=server.urls[0], tls=tls))
    finally:
        server.stop()


if __name__ == "__main__":
    if not os.access(NATSJS, os.X_OK):
        print(f"fleet: {NATSJS} missing: make {BUILD}/tests/natsjs", file=sys.stderr)
        print("fleet: 0 passed, 1 failed")
        sys.exit(1)
    sys.exit(run_suite("fleet", TESTS, Env, start=start_cluster, finish=finish,
                       log=lambda env: env.agent.stderr if env.agent else None, prefix="vigil-fleet-"))
