#!/usr/bin/python3
"""Fault injection: containment across a fresh host, an upgrade-like restart
and a reused pid.

Every vigild here runs in a private mount namespace whose /sys/fs/bpf starts
unmounted, as on a host without systemd (containers, minimal VMs): vigild
has to mount bpffs itself, and nothing it pins leaks to the host. A holder
process keeps the namespace (and its bpffs) alive across restarts; commands
that need the pins (vigild --teardown, vigil exec, bpftool) enter it.
Prints "fault-contain: N passed, N failed".
"""
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from common import Agent, VIGIL, VIGILD, get, registry, running, suite_main, wait_until
from harness import ECS_FIELDS, SCHEMA, ecs_check  # noqa: E402

TESTS, test = registry()

PY = "/usr/bin/python3"
CLONE_NEWNS = 0x00020000
libc = ctypes.CDLL(None, use_errno=True)

# connects to a loopback port every 50 ms, one result per line: "ok" or the errno name
PROBER = """import errno, socket, sys, time
while True:
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", int(sys.argv[2])))
        r = "ok"
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e.errno))
    s.close()
    with open(sys.argv[1], "a") as f:
        f.write(r + "\\n")
    time.sleep(0.05)
"""


class MountNs:
    """A private mount namespace with nothing mounted at /sys/fs/bpf."""

    def __init__(self, tmp):
        ready = os.path.join(tmp, "ns-ready")
        self.holder = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             "while umount -l /sys/fs/bpf 2>/dev/null; do :; done; "
             f"touch {ready}; exec sleep infinity"])
        wait_until(lambda: os.path.exists(ready), what="mount namespace")
        self.path = f"/proc/{self.holder.pid}/ns/mnt"

    def enter(self):
        """preexec_fn: the child joins the namespace."""
        fd = os.open(self.path, os.O_RDONLY)
        if libc.setns(fd, CLONE_NEWNS) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        os.close(fd)

    def run(self, *cmd, **kw):
        return subprocess.run(["nsenter", f"--mount={self.path}", "--", *cmd],
                              capture_output=True, text=True, timeout=60, **kw)

    def close(self):
        self.holder.kill()
        self.holder.wait()


class NsAgent(Agent):
    """A private vigild started inside ns (Agent.start, plus the namespace)."""

    def __init__(self, tmp, ns, **kw):
        super().__init__(tmp, **kw)
        self.ns = ns

    def start(self, env=None, args=()):
        self.proc = subprocess.Popen(self.command(args), stdout=subprocess.DEVNULL,
                                     stderr=open(self.stderr, "a"), env=env,
                                     preexec_fn=self.ns.enter)
        self.wait_for(lambda e: e["event"]["action"] == "agent-start"
                      and get(e, "vigil.agent.pid") == self.proc.pid, timeout=90,
                      what="agent-start")

    def cleanup(self):
        self.ns.run("rm", "-rf", self.pin_dir)
        super().cleanup()

    def cli(self, *args, check=True):
        p = subprocess.run([VIGIL, "--socket", self.sock, *args], capture_output=True, text=True,
                           timeout=30)
        if check and p.returncode != 0:
            raise AssertionError(f"vigil {' '.join(args)}: rc {p.returncode}: {p.stderr}")
        return p


class in_namespace:
    """`with in_namespace(tmp) as (ns, a):` a NsAgent running in a fresh MountNs."""

    def __init__(self, tmp, args=(), **kw):
        self.ns = MountNs(tmp)
        self.r = running(NsAgent(tmp, self.ns, **kw), args=args)

    def __enter__(self):
        try:
            return self.ns, self.r.__enter__()
        except BaseException:
            self.r.a.cleanup()
            self.ns.close()
            raise

    def __exit__(self, *exc):
        try:
            return self.r.__exit__(*exc)
        finally:
            self.ns.close()


def results(log):
    try:
        return open(log).read().split()
    except OSError:
        return []


class Prober:
    """A loopback listener and a process connecting to it over and over."""

    def __init__(self, tmp, pid=None, name="prober.log"):
        """pid: the prober takes that pid again (reuse_pid)."""
        import socket
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1024)
        self.log = os.path.join(tmp, name)
        argv = [PY, "-c", PROBER, self.log, str(self.srv.getsockname()[1])]
        self.p = reuse_pid(pid, argv) if pid else subprocess.Popen(argv)
        self.wait("ok")

    def wait(self, want, timeout=15):
        """Fresh results only: the log is emptied, then the next one must be `want`."""
        open(self.log, "w").close()
        wait_until(lambda: results(self.log)[:1] == [want], timeout, f"prober: {want}")

    def close(self):
        self.p.kill()
        self.p.wait()
        self.srv.close()


def stderr_of(a):
    return open(a.stderr, errors="replace").read()


@test
def fresh_host_without_bpffs_mounts_it_and_contains(tmp):
    with in_namespace(tmp) as (ns, a):
        assert ns.run("stat", "-f", "-c", "%T", "/sys/fs/bpf").stdout.strip() == "bpf_fs", \
            "vigild did not mount bpffs at /sys/fs/bpf"
        status = json.loads(a.cli("--json", "status").stdout)
        assert get(status, "response.containment") == "active", status
        pr = Prober(tmp)
        try:
            a.cli("contain", "--pid", str(pr.p.pid), "--isolate")
            pr.wait("EPERM")
            # what needs the pins works too: vigil exec registers, --teardown unpins
            prof = os.path.join(tmp, "allow.json")
            json.dump({"defaultAction": "SCMP_ACT_ALLOW"}, open(prof, "w"))
            ex = ns.run(VIGIL, "exec", "--pin-dir", a.pin_dir, "--profile", prof, "--",
                        "/bin/true")
            assert ex.returncode == 0 and "no vigild containment state" not in ex.stderr, ex.stderr
            a.stop()
            td = ns.run(VIGILD, "--config", a.config, "--state-dir", a.state, "--teardown")
            assert td.returncode == 0 and "released" in td.stderr, td.stderr
            assert ns.run("test", "-e", a.pin_dir).returncode != 0, "pins left after --teardown"
            pr.wait("ok")
        finally:
            pr.close()


@test
def pin_dir_off_bpffs_is_one_clear_error_naming_it(tmp):
    ns = MountNs(tmp)
    a = NsAgent(tmp, ns)
    pins = os.path.join(tmp, "pins")  # tmpfs or ext4: pins cannot live there
    cfg = open(a.config).read().replace(f"pin_dir: {a.pin_dir}", f"pin_dir: {pins}")
    open(a.config, "w").write(cfg)
    try:
        with running(a):
            lines = [l for l in stderr_of(a).splitlines() if "bpf filesystem" in l]
            assert len(lines) == 1 and pins in lines[0], stderr_of(a)
            sleeper = subprocess.Popen(["sleep", "60"])
            try:
                out = a.cli("contain", "--pid", str(sleeper.pid), "--isolate", check=False)
                assert out.returncode != 0 and pins in out.stderr + out.stdout, out
            finally:
                sleeper.kill()
                sleeper.wait()
    finally:
        ns.close()


def pins_left(ns, a):
    out = ns.run("ls", "-A", a.pin_dir)
    return out.stdout.split() if out.returncode == 0 else None


@test
def clean_stop_holding_nothing_leaves_nothing_attached(tmp):
    # pinned, the links keep the programs on every connect and sendmsg of the
    # host after vigild is gone: only worth it while there is something to enforce
    with in_namespace(tmp) as (ns, a):
        assert a.stop() == 0
        assert pins_left(ns, a) is None, f"pinned after a clean stop, nothing contained: {pins_left(ns, a)}"
        a.start()
        pr = Prober(tmp)
        try:
            a.cli("contain", "--pid", str(pr.p.pid), "--isolate")
            pr.wait("EPERM")
            a.cli("release", "--pid", str(pr.p.pid))
            pr.wait("ok")
            assert a.stop() == 0
            assert pins_left(ns, a) is None, f"pinned after a clean stop, all released: {pins_left(ns, a)}"
        finally:
            pr.close()


def listed(a, pid):
    cells = json.loads(a.cli("--json", "incidents").stdout)["containments"]
    return [c for c in cells if c["target_pid"] == pid]


@test
def incompatible_pinned_map_at_restart_keeps_the_containment(tmp):
    # an upgrade whose process-set map changed layout: the old vigild's pin
    # cannot be reused, and must not take the containment with it
    with in_namespace(tmp) as (ns, a):
        pr = Prober(tmp)
        try:
            a.cli("contain", "--pid", str(pr.p.pid), "--isolate")
            pr.wait("EPERM")
            a.stop()
            tasks = os.path.join(a.pin_dir, "vgl_tasks")
            out = ns.run("sh", "-c", f"rm {tasks} && bpftool map create {tasks} type hash "
                         "key 4 value 4 entries 16 name vgl_tasks")
            assert out.returncode == 0, out.stderr
            a.start()
            cells = listed(a, pr.p.pid)
            assert cells and cells[0]["isolated"] and not cells[0].get("problem"), \
                (cells, stderr_of(a)[-2000:])
            pr.wait("EPERM")
            time.sleep(0.5)
            assert set(results(pr.log)) == {"EPERM"}, "isolation lifted after the restart"
            a.cli("release", "--pid", str(pr.p.pid))
            pr.wait("ok")
        finally:
            pr.close()


@test
def containment_that_cannot_be_restored_is_reported_loudly(tmp):
    # the pins are gone and the programs cannot load at the next start (here:
    # a pin_dir off bpffs): the containment is lost, and that must be said
    with in_namespace(tmp) as (ns, a):
        pr = Prober(tmp)
        try:
            a.cli("contain", "--pid", str(pr.p.pid), "--isolate")
            pr.wait("EPERM")
            a.stop()
            ns.run("rm", "-rf", a.pin_dir)
            cfg = open(a.config).read().replace(f"pin_dir: {a.pin_dir}",
                                                f"pin_dir: {os.path.join(tmp, 'pins')}")
            open(a.config, "w").write(cfg)
            a.start()
            cell = f"pid-{pr.p.pid}"
            errors = [l for l in stderr_of(a).splitlines() if cell in l and "error" in l.lower()]
            assert errors, stderr_of(a)[-2000:]
            ev = a.wait_for(lambda e: get(e, "event.action") == "containment-not-restored"
                            and cell in get(e, "message", ""), what="containment-not-restored")[0]
            assert_valid(ev)
            status = json.loads(a.cli("--json", "status").stdout)
            assert any(cell in p for p in get(status, "response.containment_problems") or []), status
            cells = listed(a, pr.p.pid)
            assert cells and cells[0].get("problem"), cells
        finally:
            pr.close()


def assert_valid(ev):
    """The event fits the stream's schema (and ECS, where the field list is at hand)."""
    import jsonschema
    errs = [x.message for x in jsonschema.Draft202012Validator(json.load(open(SCHEMA))).iter_errors(ev)]
    if os.path.exists(ECS_FIELDS):
        errs += ecs_check(ev, json.load(open(ECS_FIELDS))["fields"])
    assert not errs, (errs, ev)


def reuse_pid(pid, argv):
    """A new process given pid (ns_last_pid, retried while others take it), running argv."""
    for _ in range(200):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid - 1))
        p = subprocess.Popen(argv)
        if p.pid == pid:
            return p
        p.kill()
        p.wait()
    raise AssertionError(f"could not get pid {pid} again")


@test
def reused_pid_is_not_signalled_or_snapshotted(tmp):
    rules, books = os.path.join(tmp, "rules"), os.path.join(tmp, "books")
    os.makedirs(rules)
    os.makedirs(books)
    open(os.path.join(rules, "r.yaml"), "w").write("""- rule: Test reuse
  id: VGL-9101
  desc: test
  condition: event.action = exec and process.name = vigil-reuse
  output: reuse %process.pid
  severity: high
  tags: [test]
""")
    open(os.path.join(books, "p.yaml"), "w").write("""- playbook: kill-the-alerted
  match:
    rules: [VGL-9101]
  steps:
    - snapshot: {target: process, on_error: continue}
    - stop: {target: process, on_error: continue}
    - kill: process
""")
    victim = os.path.join(tmp, "vigil-reuse")
    shutil.copy("/bin/true", victim)
    with in_namespace(tmp, args=["--rules", rules], playbooks=[books]) as (ns, a):
        impostor = None
        os.kill(a.proc.pid, signal.SIGSTOP)  # the alert waits in the ring buffer
        try:
            v = subprocess.Popen([victim])
            v.wait()
            time.sleep(0.05)  # another clock tick: start times differ
            impostor = reuse_pid(v.pid, ["sleep", "60"])
        finally:
            os.kill(a.proc.pid, signal.SIGCONT)
        try:
            ev = a.wait_for(lambda e: get(e, "event.action") == "contain.kill"
                            and get(e, "vigil.action.target_pid") == v.pid, what="contain.kill")[0]
            assert get(ev, "event.outcome") == "failure", ev
            assert "was reused" in get(ev, "vigil.action.error", ""), ev
            assert_valid(ev)
            for name in ("contain.snapshot", "contain.stop"):
                e = [x for x in a.lines() if get(x, "event.action") == name
                     and get(x, "vigil.action.target_pid") == v.pid]
                assert e and "was reused" in get(e[0], "vigil.action.error", ""), e
            time.sleep(0.3)
            assert impostor.poll() is None, "the process that took over the pid was killed"
            st = open(f"/proc/{impostor.pid}/stat").read().rsplit(")", 1)[1].split()[0]
            assert st != "T", "the process that took over the pid was stopped"
        finally:
            if impostor:
                impostor.kill()
                impostor.wait()


@test
def cell_of_an_exited_target_is_not_a_reused_pids(tmp):
    # A is contained and exits (a cell outlives its target: its children
    # would keep it); its pid goes to B. Containing B must give B a cell of
    # its own, and releasing B must leave A's alone.
    with in_namespace(tmp) as (ns, a):
        pa, pb = Prober(tmp), None
        try:
            pid = pa.p.pid
            a.cli("contain", "--pid", str(pid), "--isolate")
            pa.wait("EPERM")
            pa.p.kill()
            pa.p.wait()
            time.sleep(0.05)  # another clock tick: start times differ
            pb = Prober(tmp, pid=pid, name="prober-b.log")
            a.cli("contain", "--pid", str(pid), "--isolate")
            pb.wait("EPERM")
            assert len(listed(a, pid)) == 2, listed(a, pid)
            a.cli("release", "--pid", str(pid))
            pb.wait("ok")
            cells = listed(a, pid)
            assert len(cells) == 1 and cells[0]["isolated"], cells
        finally:
            pa.close()
            if pb:
                pb.close()


def request(sock, req):
    """One request on the control socket (a line of JSON each way)."""
    import socket
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(sock)
        s.sendall(json.dumps(req).encode() + b"\n")
        return json.loads(s.makefile().readline())


@test
def request_naming_a_process_whose_pid_was_reused_is_refused(tmp):
    # a responder holding an alert's process.entity_id asks for a kill after
    # that process exited and its pid went to another one
    with in_namespace(tmp) as (ns, a):
        v = subprocess.Popen(["/bin/true"])
        v.wait()
        entity = get(a.wait_for(lambda e: get(e, "event.action") == "exec"
                                and get(e, "process.pid") == v.pid, what="exec")[0],
                     "process.entity_id")
        time.sleep(0.05)  # another clock tick: start times differ
        impostor = reuse_pid(v.pid, ["sleep", "60"])
        try:
            rep = request(a.sock, {"cmd": "contain", "pid": v.pid, "entity_id": entity,
                                   "kill": True})
            assert not rep["ok"] and "was reused" in rep.get("error", ""), rep
            time.sleep(0.3)
            assert impostor.poll() is None, "the process that took over the pid was killed"
        finally:
            impostor.kill()
            impostor.wait()


if __name__ == "__main__":
    sys.exit(suite_main("fault-contain", TESTS))
