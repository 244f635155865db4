"""A real 3-node NATS JetStream cluster on loopback for the fleet tests and
benches: Debian's nats-server, free ports, temp store dirs, one monitoring
port per node. Start waits for every node's /healthz and a JetStream meta
leader; nodes (or the leader of a stream, as /jsz says) can be killed and
restarted; stop() kills every server it started and removes the store dirs,
also at exit and when the test process dies (pdeathsig)."""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

NATS_SERVER = os.environ.get("NATS_SERVER", "/usr/sbin/nats-server")


def free_port():
    """A loopback TCP port nobody listens on now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"nats cluster: timed out waiting for {what}")


class Node:
    def __init__(self, cluster, i):
        self.name = f"n{i + 1}"
        self.port, self.cport, self.hport = free_port(), free_port(), free_port()
        self.dir = os.path.join(cluster.dir, self.name)
        self.conf = os.path.join(self.dir, "nats.conf")
        self.log = os.path.join(self.dir, "nats.log")
        self.proc = None
        os.makedirs(os.path.join(self.dir, "store"))

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    def write_conf(self, cluster):
        routes = ", ".join(f"nats-route://127.0.0.1:{n.cport}" for n in cluster.nodes)
        routed = f"cluster {{ name: {cluster.name}, listen: 127.0.0.1:{self.cport}, routes: [{routes}] }}"
        with open(self.conf, "w") as f:
            f.write(f"""server_name: {self.name}
listen: 127.0.0.1:{self.port}
http: 127.0.0.1:{self.hport}
jetstream {{ store_dir: "{self.dir}/store", max_memory_store: 64MB, max_file_store: 1GB }}
{routed if len(cluster.nodes) > 1 else ""}
{cluster.extra}""")

    def start(self):
        assert not self.running(), f"{self.name} already running"
        self.proc = subprocess.Popen(
            ["/usr/bin/setpriv", "--pdeathsig", "KILL", NATS_SERVER, "-c", self.conf],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "a"))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL):
        if self.running():
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def monitor(self, path):
        """The node's monitoring endpoint's JSON answer, None when it does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.hport}{path}", timeout=2) as r:
                return json.loads(r.read())
        except (OSError, ValueError):
            return None

    def healthy(self):
        if not self.running():
            return False
        h = self.monitor("/healthz")
        return h is not None and h.get("status") == "ok"


class NatsCluster:
    """with NatsCluster() as c: ... c.urls, c.kill_stream_leader("VIGIL"), c.messages("VIGIL").
    n=1: one standalone server (no cluster block); extra: more server config (tls { ... })."""

    instances = []

    def __init__(self, n=3, name="vigil-test", extra=""):
        self.dir = tempfile.mkdtemp(prefix="vigil-nats-")
        self.name, self.extra = name, extra
        self.nodes = [Node(self, i) for i in range(n)]
        for node in self.nodes:
            node.write_conf(self)
        NatsCluster.instances.append(self)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def urls(self):
        return [n.url for n in self.nodes]

    def start(self, timeout=60):
        for n in self.nodes:
            if not n.running():
                n.start()
        self.wait_ready(timeout)

    def wait_ready(self, timeout=60):
        """Every running node answers /healthz ok and they agree on a meta leader."""
        up = [n for n in self.nodes if n.running()]
        _wait(lambda: all(n.healthy() for n in up), timeout, "/healthz on every node")
        return _wait(self.meta_leader, timeout, "a JetStream meta leader")

    def meta_leader(self):
        if len(self.nodes) == 1:  # n=1: a standalone server, JetStream without a meta group
            return self.nodes[0].running() and self.nodes[0].monitor("/jsz") and self.nodes[0].name
        for n in self.nodes:
            j = n.running() and n.monitor("/jsz")
            leader = j and (j.get("meta_cluster") or {}).get("leader")
            if leader:
                return leader
        return None

    def node(self, name):
        return next(n for n in self.nodes if n.name == name)

    def stream(self, stream):
        """The stream's detail from /jsz?streams=true of the first node that has it."""
        for n in self.nodes:
            j = n.running() and n.monitor("/jsz?streams=true")
            for acc in (j or {}).get("account_details") or []:
                for s in acc.get("stream_detail") or []:
                    if s.get("name") == stream:
                        return s
        return None

    def stream_leader(self, stream):
        s = self.stream(stream)
        return ((s or {}).get("cluster") or {}).get("leader")

    def messages(self, stream):
        """Messages stored in the stream, as its leader says (None: no leader now)."""
        leader = self.stream_leader(stream)
        if not leader or not self.node(leader).running():
            return None
        j = self.node(leader).monitor("/jsz?streams=true")
        for acc in (j or {}).get("account_details") or []:
            for s in acc.get("stream_detail") or []:
                if s.get("name") == stream:
                    return s["state"]["messages"]
        return None

    def kill(self, name, sig=signal.SIGKILL):
        self.node(name).kill(sig)

    def restart(self, name, timeout=60):
        self.node(name).start()
        self.wait_ready(timeout)

    def kill_stream_leader(self, stream, sig=signal.SIGKILL):
        """Kill the node leading the stream; returns its name."""
        leader = _wait(lambda: self.stream_leader(stream), 30, f"a leader of {stream}")
        self.kill(leader, sig)
        return leader

    def wait_stream_leader(self, stream, timeout=30, other_than=None):
        return _wait(lambda: (l := self.stream_leader(stream)) and l != other_than
                     and self.node(l).running() and l, timeout, f"a new leader of {stream}")

    def stop_all(self):
        """Every node down (the store dirs stay: start() brings the cluster back)."""
        for n in self.nodes:
            n.kill()

    def stop(self):
        self.stop_all()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self in NatsCluster.instances:
            NatsCluster.instances.remove(self)

    def logs(self, tail=2000):
        return "\n".join(f"--- {n.name}\n" + open(n.log, errors="replace").read()[-tail:]
                         for n in self.nodes if os.path.exists(n.log))


@atexit.register
def _stop_leftover_clusters():
    for c in list(NatsCluster.instances):
        c.stop()
