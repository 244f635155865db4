#!/usr/bin/python3
"""The test harness every suite imports (tests/integration, tests/fault):
a private vigild on a temp config (Agent), waiting, the test registry and
runner, and the ECS field check. Test files hold only tests."""
import atexit
import base64
import glob
import hashlib
import hmac
import http.server
import ipaddress
import json
import os
import pwd
import re
import shutil
import signal
import stat
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("B", os.path.join(ROOT, "build"))
VIGILD = os.path.join(ROOT, BUILD, "vigild") if not os.path.isabs(BUILD) else os.path.join(BUILD, "vigild")
VIGIL = os.path.join(os.path.dirname(VIGILD), "vigil")
SCHEMA = os.path.join(ROOT, "packaging", "schema", "vigil-event.schema.json")
ECS_FIELDS = os.path.join(ROOT, "tests", "fixtures", "ecs-fields.json")


CGROUP2 = "/sys/fs/cgroup/unified" if os.path.exists("/sys/fs/cgroup/unified/cgroup.procs") else "/sys/fs/cgroup"


class Agent:
    """A private vigild on a temp config."""

    instances = []  # every agent a suite made: none may outlive it (see kill_leftover_agents)

    def __init__(self, tmp, capture="", playbooks=None, response="", extra=""):
        Agent.instances.append(self)
        self.tmp = tmp
        # containment state of its own: pinned programs/maps and quarantine cgroups
        tag = hashlib.sha256(os.path.abspath(tmp).encode()).hexdigest()[:10]
        self.pin_dir = f"/sys/fs/bpf/vigil-test-{tag}"
        self.cg_parent = f"vigil-test-{tag}"
        self.state = os.path.join(tmp, "state")
        if playbooks is None:  # none: the event and rule tests must not act
            playbooks = [os.path.join(tmp, "no-playbooks")]
            os.makedirs(playbooks[0], exist_ok=True)
        self.events = os.path.join(tmp, "events.jsonl")
        self.sock = os.path.join(tmp, "vigil.sock")
        self.models = os.path.join(tmp, "models")
        self.creds = os.path.join(tmp, "creds")
        self.later = os.path.join(tmp, "later")  # configured, made only by a test
        os.makedirs(self.models, exist_ok=True)
        os.makedirs(self.creds, exist_ok=True)
        # a stand-in GPU node: /dev/full's numbers (1:7), so opens succeed
        # without a GPU driver; a configured node is matched by major:minor,
        # so /dev/urandom (1:9) and /dev/zero (1:5) stay ordinary files
        os.makedirs(os.path.join(tmp, "dev"), exist_ok=True)
        self.gpu = os.path.join(tmp, "dev", "nvidia0")
        if not os.path.exists(self.gpu):  # a dir an earlier agent used
            os.mknod(self.gpu, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
        with open(os.path.join(self.creds, "token"), "w") as f:
            f.write("hf_dummy")
        self.config = os.path.join(tmp, "vigil.yaml")
        with open(self.config, "w") as f:
            f.write(f"""# test config
output:
  heartbeat_interval: 1s
capture:
  max_args_bytes: 2048
{capture}response:
  pin_dir: {self.pin_dir}
  cgroup_parent: {self.cg_parent}
  playbooks: [{", ".join(playbooks)}]
{response}watch:
  model_dirs: [{self.models}]
  credential_files: [{self.creds}/token, {self.creds}/late-token, {self.later}/cloud/credentials]
  gpu_devices: [{tmp}/dev/nvidia0]
workloads:
  inference:
    executables: [fake-vllm]
{extra}""")
        os.chmod(self.config, 0o600)
        self.proc = None
        self.stderr = os.path.join(tmp, "vigild.stderr")

    def command(self, args=()):
        """vigild's argv, SIGKILLed once the harness is gone: one killed by a
        timeout runs no finally and no stop(), and a vigild left with the
        default playbooks kills what later suites' fake model servers spawn
        (VGL-0001), e.g. VGL-0024's listener before it listens. A second start
        would orphan the first the same way. setpriv execs: same pid."""
        assert not self.proc or self.proc.poll() is not None, "vigild already running"
        return ["/usr/bin/setpriv", "--pdeathsig", "KILL", VIGILD, "--config", self.config,
                "--events", self.events, "--socket", self.sock, "--state-dir", self.state, *args]

    def start(self, env=None, args=()):
        self.proc = subprocess.Popen(self.command(args), stdout=subprocess.DEVNULL,
                                     stderr=open(self.stderr, "w"), env=env)
        self.wait_for(lambda e: e["event"]["action"] == "agent-start"
                      and get(e, "vigil.agent.pid") == self.proc.pid, timeout=90,
                      what="agent-start")

    def cleanup(self):
        """Undo what containment left in the kernel: pinned links (detached
        with their pins), maps, and quarantine cgroups (emptied first)."""
        shutil.rmtree(self.pin_dir, ignore_errors=True)
        parent = os.path.join(CGROUP2, self.cg_parent)
        for cell in (glob.glob(os.path.join(parent, "*", "")) if os.path.isdir(parent) else []):
            try:
                with open(os.path.join(cell, "cgroup.freeze"), "w") as f:
                    f.write("0")
                with open(os.path.join(cell, "cgroup.kill"), "w") as f:
                    f.write("1")
            except OSError:
                pass
            for _ in range(50):
                try:
                    os.rmdir(cell)
                    break
                except OSError:
                    time.sleep(0.1)
        try:
            os.rmdir(parent)
        except OSError:
            pass

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.proc.wait(timeout=30)
            if rc:  # what a failing stop said (a sanitizer report, an error): the tmp dir goes
                with open(self.stderr, errors="replace") as f:
                    print(f"vigild exited {rc}; its stderr ends:\n{f.read()[-4000:]}")
            return rc
        return self.proc.returncode if self.proc else None

    def lines(self, alerts=False):
        """Events in the stream (alerts=False), alerts only (True) or both (None)."""
        try:
            with open(self.events, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return []
        # only complete lines: the last one may be mid-write (or waiting for disk space)
        evs = [json.loads(l) for l in data.split(b"\n")[:-1] if l]
        return [e for e in evs if alerts is None or (e["event"]["kind"] == "alert") == alerts]

    def wait_for(self, pred, timeout=20, what="event", alerts=False):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"vigild exited ({self.proc.returncode}): {open(self.stderr).read()[-2000:]}")
            found = [e for e in self.lines(alerts) if pred(e)]
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}")


@atexit.register
def kill_leftover_agents():
    """A suite that failed before stopping its vigild must not leave it running
    with its playbooks on the host (it would act on the next suite's processes)."""
    for a in Agent.instances:
        proc = getattr(a, "proc", None)  # None: its __init__ failed
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    reap_pins("harness")


def reap_pins(label):
    """The safety net after a suite (or a case): each agent's vigild stopped,
    and what its containment left pinned (links attached to the host's cgroup
    root and tracepoints) removed, loudly: a test that leaves containment
    behind (a SIGKILLed vigild keeps it, by design) must clean up itself.
    Returns how many agents left pins."""
    leaked = 0
    for a in Agent.instances:
        try:
            a.stop()  # holding nothing, a clean stop unpins by itself
        except Exception:
            a.proc.kill()
            a.proc.wait(timeout=30)
        if os.path.lexists(getattr(a, "pin_dir", "")):
            print(f"{label}: leaked pin dir {a.pin_dir} ({' '.join(sorted(os.listdir(a.pin_dir)))}): removed",
                  file=sys.stderr)
            leaked += 1
            a.cleanup()
    Agent.instances.clear()
    return leaked


def run(cmd, **kw):
    p = subprocess.Popen(cmd, **kw)
    p.wait(timeout=30)
    return p


def get(e, dotted, default=None):
    for k in dotted.split("."):
        if not isinstance(e, dict) or k not in e:
            return default
        e = e[k]
    return e


def registry():
    """A list of tests and the decorator that fills it (one per test file)."""
    tests = []

    def register(fn):
        tests.append(fn)
        return fn
    return tests, register


def wait_until(pred, timeout=30, what="condition", every=0.05):
    """pred() until it returns something true (which is returned), or AssertionError."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def ecs_check(ev, fields, path=""):
    """Every non-vigil leaf must be an ECS field of ECS's type (and allowed value)."""
    errs = []
    for k, v in ev.items():
        name = f"{path}{k}"
        if name == "vigil":
            continue
        if isinstance(v, dict) and name not in fields:
            errs += ecs_check(v, fields, name + ".")
            continue
        spec = fields.get(name)
        if spec is None:
            errs.append(f"{name}: not an ECS field")
            continue
        vals = v if isinstance(v, list) else [v]
        if isinstance(v, list) and "array" not in spec.get("normalize", []):
            errs.append(f"{name}: array for a non-array field")
        for x in vals:
            t = spec["type"]
            ok = {"keyword": isinstance(x, str), "wildcard": isinstance(x, str), "match_only_text": isinstance(x, str),
                  "long": isinstance(x, int) and not isinstance(x, bool), "boolean": isinstance(x, bool),
                  "date": isinstance(x, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", x or ""),
                  "object": isinstance(x, dict)}.get(t)
            if t == "ip":
                try:
                    ipaddress.ip_address(x)
                    ok = True
                except ValueError:
                    ok = False
            if not ok:
                errs.append(f"{name}: {x!r} is not ECS type {t}")
            if "allowed" in spec and x not in spec["allowed"]:
                errs.append(f"{name}: {x!r} not an allowed value")
    return errs


def selected(tests):
    """The tests whose name contains $ONLY (all when it is unset): for reruns by hand."""
    only = os.environ.get("ONLY")
    return [t for t in tests if not only or only in t.__name__]


def run_one(name, fn, *args):
    try:
        fn(*args)
        print(f"  ok    {name}")
        return True
    except Exception:
        print(f"  FAIL  {name}\n" + "".join("        " + l for l in traceback.format_exc().splitlines(True)[-6:]))
        return False


def run_suite(label, tests, make_env, start=None, finish=None, log=None, chained=False, prefix="vigil-"):
    """The one runner: root check, a temp dir (0755: tests run programs as
    nobody), make_env(tmp), start(env), each selected test(env) (chained: stop
    at the first failure, each step needs the one before), finish(env) always,
    the tail of log(env) when something failed. Prints '<label>: N passed, N
    failed' last; returns the exit status."""
    if os.geteuid() != 0:
        print(f"{label}: needs root (vigil loads eBPF programs): run sudo make test", file=sys.stderr)
        print(f"{label}: 0 passed, 1 failed")
        return 1
    tmp = tempfile.mkdtemp(prefix=prefix)
    os.chmod(tmp, 0o755)
    passed = failed = 0
    env = None
    try:
        env = make_env(tmp)
        if start:
            start(env)
        for t in selected(tests):
            ok = run_one(t.__name__, t, env)
            passed, failed = passed + ok, failed + (not ok)
            if chained and not ok:
                break
    except Exception:
        failed += 1
        traceback.print_exc()
    finally:
        try:
            if env is not None and finish:
                finish(env)
        finally:
            failed += reap_pins(label)  # counted: a leak fails the suite, it is no note
        path = log(env) if env is not None and log else None
        if failed and path and os.path.exists(path):
            print(open(path, errors="replace").read()[-4000:], file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{label}: {passed} passed, {failed} failed")
    return 1 if failed else 0


class WebhookReceiver:
    """A webhook receiver on 127.0.0.1:port, plain HTTP or (cert, key) HTTPS.
    Records (webhook-id, body) of each message it accepts in got; with secret
    (whsec_...) it checks Standard Webhooks signatures (a bad one: 401, its id
    in bad). refuse: how many requests to answer 503 with Retry-After
    retry_after first (float("inf"): a receiver that is always busy). HTTP/1.1
    keep-alive over TLS (vigild reuses its connection), one request per
    connection in plain HTTP (stop() then leaves none serving)."""

    def __init__(self, port, secret=None, cert=None, key=None, refuse=0, retry_after=1):
        self.port, self.secret, self.cert, self.key = port, secret, cert, key
        self.refuse, self.retry_after = refuse, retry_after
        self.got, self.bad, self.server = [], [], None

    def _signed(self, headers, body):
        if not self.secret:
            return True
        key = base64.b64decode(self.secret[len("whsec_"):])
        mid, ts = headers["webhook-id"], headers["webhook-timestamp"]
        mac = hmac.new(key, f"{mid}.{ts}.".encode() + body, hashlib.sha256).digest()
        return "v1," + base64.b64encode(mac).decode() in headers.get("webhook-signature", "").split()

    def start(self):
        me = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if me.cert else "HTTP/1.0"

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if not me._signed(self.headers, body):
                    me.bad.append(self.headers["webhook-id"])
                    self.send_response(401)
                elif me.refuse > 0:
                    me.refuse -= 1
                    self.send_response(503)
                    self.send_header("Retry-After", str(me.retry_after))
                else:
                    me.got.append((self.headers["webhook-id"], json.loads(body)))
                    self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        if self.cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.cert, self.key)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def ids(self):
        return [m for m, _ in self.got]
