#!/usr/bin/python3
"""Integration tests for the response stage: the real build/vigild, the real
kernel, as root.

Playbooks kill a shell spawned by a fake model loader; the cgroup v2 freezer
stops and resumes a tree; cgroup connect/sendmsg programs refuse an isolated
process's connections with EPERM (and sock_diag cuts its open ones) while
others still connect; an egress allowlist lets through only its CIDR+port;
deny-path kills a contained process that opens the path; webhooks reach a
real HTTPS server (CA made here) with Standard Webhooks signatures, survive
the receiver being down and the agent being killed; the control socket
refuses an unprivileged user. Hermetic: temp dirs, own pin directory and
quarantine cgroups, loopback and a network namespace made here.
Prints "response-integration: N passed, N failed".
"""
import base64
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Agent, CGROUP2, ROOT, VIGIL, VIGILD, WebhookReceiver, get, registry,  # noqa: E402
                     run_suite, wait_until)

PY = "/usr/bin/python3"
NETNS = f"vigil-rt-{os.getpid()}"
ALLOWED, OTHER = "10.201.0.1", "10.201.0.2"
TEST_USER = "vigil-test-user"
SECRET = "whsec_" + base64.b64encode(b"vigil-integration-test-secret-32b").decode()

FAKE_SERVER = """import sys
# an inference server stand-in: its command line matches the workload selector
if __name__ == "__main__":
    exec(sys.argv[1])
"""

# counts forever into a file: progress is visible from outside
COUNTER = """import sys, time
n = 0
while True:
    n += 1
    with open(sys.argv[1], "w") as f:
        f.write(str(n))
    time.sleep(0.01)
"""

# tries to connect every 100 ms and reports each result; keeps one connection open
PROBER = """import socket, sys, time, errno
port = int(sys.argv[2])
held = socket.create_connection(("127.0.0.1", port))
while True:
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        r = "ok"
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e.errno))
    s.close()
    try:
        held.send(b"x")
        h = "open"
    except OSError as e:
        h = errno.errorcode.get(e.errno, str(e.errno))
    with open(sys.argv[1], "a") as f:
        f.write(r + " " + h + "\\n")
    time.sleep(0.1)
"""


class Env:
    def __init__(self, tmp):
        self.tmp = tmp
        self.local = os.path.join(tmp, "local-playbooks")
        self.rules = os.path.join(tmp, "local-rules")
        os.makedirs(self.local)
        os.makedirs(self.rules)
        self.allow_cg = None
        self.a = Agent(tmp, playbooks=[os.path.join(ROOT, "playbooks"), self.local],
                       response="  webhook_max_backoff: 2s\n")
        with open(self.a.config, "a") as f:
            f.write("    command_lines: [fake_inference_server]\n")
        self.metrics = os.path.join(tmp, "vigil.prom")
        cfg = open(self.a.config).read().replace(
            "output:\n", f"output:\n  metrics_file: {self.metrics}\n  metrics_interval: 1s\n", 1)
        open(self.a.config, "w").write(cfg)
        self.server = os.path.join(tmp, "fake_inference_server.py")
        open(self.server, "w").write(FAKE_SERVER)
        # test rules: a program name raises an alert the local playbooks act on
        with open(os.path.join(self.rules, "zz-test.yaml"), "w") as f:
            f.write("""- rule: Test notify
  id: VGL-9001
  desc: test
  condition: event.action = exec and process.name = vigil-notify
  output: notify %process.pid
  severity: high
  tags: [test]
- rule: Test seccomp violation
  id: VGL-9003
  desc: test
  condition: event.action = seccomp and vigil.seccomp.verdict = denied and vigil.seccomp.syscall = unshare
  output: seccomp %vigil.seccomp.syscall by %process.pid
  severity: medium
  tags: [test]
- rule: Test deny
  id: VGL-9002
  desc: test
  condition: event.action = exec and process.name = vigil-denyme
  output: deny %process.pid
  severity: high
  tags: [test]
- rule: Test twice first
  id: VGL-9004
  desc: test (its playbook takes a snapshot)
  condition: event.action = exec and process.name = vigil-twice
  output: first %process.pid
  severity: high
  tags: [test]
- rule: Test twice second
  id: VGL-9005
  desc: test (the same exec as VGL-9004, no playbook)
  condition: event.action = exec and process.name = vigil-twice
  output: second %process.pid
  severity: medium
  tags: [test]
""")
        for name in ("vigil-notify", "vigil-denyme", "vigil-twice"):
            shutil.copy(PY, os.path.join(tmp, name))

    def start(self):
        self.a.start(args=["--rules", os.path.join(ROOT, "rules"), "--rules", self.rules])

    def cli(self, *args, user=None, check=True):
        cmd = [VIGIL, "--socket", self.a.sock, *args]
        if user:
            cmd = ["runuser", "-u", user, "--"] + cmd
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(args)}: rc {p.returncode}: {p.stderr}")
        return p

    def actions(self, name=None, pid=None):
        return [e for e in self.a.lines() if get(e, "event.action", "").startswith(("contain.", "release."))
                and (name is None or get(e, "event.action") == name)
                and (pid is None or get(e, "vigil.action.target_pid") == pid)]

    def wait_action(self, name, pid, timeout=15):
        return self.a.wait_for(lambda e: get(e, "event.action") == name
                               and get(e, "vigil.action.target_pid") == pid,
                               timeout=timeout, what=f"{name} on {pid}")[0]


def read_int(path):
    try:
        return int(open(path).read() or 0)
    except (OSError, ValueError):
        return 0


def cgroup_of(pid):
    for line in open(f"/proc/{pid}/cgroup"):
        if line.startswith("0::"):
            return line[3:].strip()
    return None


TESTS, test = registry()


@test
def default_playbook_kills_shell_from_model_loader(env):
    out = os.path.join(env.tmp, "shell-status")
    code = ("import subprocess, time\n"
            "p = subprocess.Popen(['/bin/sh', '-c', 'sleep 30'])\n"
            f"open({out!r}, 'w').write(str(p.wait()))\n"
            "time.sleep(2)\n")  # a model server lives on after its shell is killed
    loader = subprocess.Popen([PY, env.server, code])
    wait_until(lambda: os.path.exists(out) and open(out).read(), timeout=25,
               what="the shell to die long before its 30 s")
    assert read_int(out) == -signal.SIGKILL, f"shell exit status {open(out).read()}"
    alert = env.a.wait_for(lambda e: get(e, "rule.id") == "VGL-0001"
                           and get(e, "process.parent.pid") == loader.pid, alerts=True)[0]
    shell = get(alert, "process.pid")
    kill = env.wait_action("contain.kill", shell)
    assert get(kill, "event.outcome") == "success" and get(kill, "vigil.action.via") == "playbook"
    assert get(kill, "vigil.action.playbook") == "kill-shell-from-model-loader"
    assert get(kill, "vigil.action.signalled") >= 1 and get(kill, "vigil.action.latency_us") >= 0
    inc = json.loads(env.cli("--json", "incidents", get(kill, "vigil.action.incident")).stdout)["incident"]
    assert inc["status"] == "contained" and inc["alerts"][0]["rule_id"] == "VGL-0001"
    assert [s["name"] for s in inc["steps"]][:2] == ["contain.kill", "contain.snapshot"]
    # the evidence is written by a child process of vigild, reaped on its 1 s tick
    wait_until(lambda: os.path.exists(os.path.join(inc["evidence"][0], "tree.json")),
               what="the loader's evidence")
    tree = json.load(open(os.path.join(inc["evidence"][0], "tree.json")))
    assert tree[0]["pid"] == loader.pid and len(tree[0]["sha256"]) == 64
    assert os.path.exists(os.path.join(inc["evidence"][0], str(loader.pid), "environ"))
    # a shell from a process that is not a model loader is left alone
    p = subprocess.run([PY, "-c", "import subprocess; print(subprocess.run(['/bin/sh', '-c', 'sleep 0.5']).returncode)"],
                       capture_output=True, text=True, timeout=30)
    assert p.stdout.strip() == "0"
    loader.wait(timeout=30)


# Launchers stand-ins: tini and dumb-init fork their argv and wait for it (a
# script of that name does the same when the binaries are absent); a pyenv
# shim execs pyenv, which execs the interpreter after a child or two.
SUPERVISOR = """import subprocess, sys
args = sys.argv[1:]
sys.exit(subprocess.call(args[1:] if args[:1] == ["--"] else args))
"""
PYENV_SHIM = """#!/usr/bin/env bash
set -e
program="${0##*/}"
exec "$(dirname "$0")/../libexec/pyenv" exec "$program" "$@"
"""
PYENV = """#!/usr/bin/env bash
set -e
[ "$1" = exec ] && shift
program="$1"; shift
version="$(echo 3)"
exec "/usr/bin/$program" "$@"
"""
ENTRYPOINT = """#!/bin/bash
set -e
echo "starting $*" >/dev/null
"$@"
"""


def launcher_argv(env, kind):
    """How a deployment starts the server: the launcher's argv carries the server's."""
    d = os.path.join(env.tmp, "launchers")
    if not os.path.isdir(d):
        os.makedirs(os.path.join(d, "shims"))
        os.makedirs(os.path.join(d, "libexec"))
        for path, text in (("tini", "#!" + PY + "\n" + SUPERVISOR),
                           ("dumb-init", "#!" + PY + "\n" + SUPERVISOR),
                           ("shims/python3", PYENV_SHIM), ("libexec/pyenv", PYENV),
                           ("entrypoint.sh", ENTRYPOINT)):
            with open(os.path.join(d, path), "w") as f:
                f.write(text)
            os.chmod(os.path.join(d, path), 0o755)
    return {"sh -c": lambda cmd: ["/bin/sh", "-c", " ".join(map(shlex.quote, cmd)) + "; exit $?"],
            "bash entrypoint.sh": lambda cmd: ["/bin/bash", f"{d}/entrypoint.sh"] + cmd,
            "env": lambda cmd: ["/usr/bin/env", "HF_HOME=/tmp/hf"] + cmd,
            "tini": lambda cmd: [f"{d}/tini", "--"] + cmd,
            "dumb-init": lambda cmd: [f"{d}/dumb-init"] + cmd,
            "pyenv shim": lambda cmd: ["bash", f"{d}/shims/python3"] + cmd[1:]}[kind]


def launch_serves_and_still_catches_its_shell(env, kind):
    """The server started through kind lives (nothing killed, nothing above
    low on the launch), and a shell it spawns is still VGL-0001 and killed."""
    out = os.path.join(env.tmp, f"shell-{kind.replace(' ', '-')}")
    code = ("import subprocess, time\n"
            "time.sleep(0.5)\n"  # serving: the launch is over before the attack
            "p = subprocess.Popen(['/bin/sh', '-c', 'sleep 30; true'])\n"
            f"open({out!r}, 'w').write(f'{{p.pid}} {{p.wait()}}')\n")
    launch = subprocess.Popen(launcher_argv(env, kind)([PY, env.server, code]))
    assert launch.wait(timeout=40) == 0, f"{kind}: launch exited {launch.returncode}"
    shell, status = map(int, open(out).read().split())
    assert status == -signal.SIGKILL, f"{kind}: the server's shell exited {status}"
    alert = env.a.wait_for(lambda e: get(e, "rule.id") == "VGL-0001"
                           and get(e, "process.pid") == shell, alerts=True)[0]
    assert get(alert, "process.parent.name") == "python3", f"{kind}: {get(alert, 'message')}"
    env.wait_action("contain.kill", shell)
    env.a.wait_for(lambda e: get(e, "event.action") == "exit" and get(e, "process.pid") == launch.pid,
                   what=f"exit of {launch.pid}")
    time.sleep(0.5)
    loud = [e for e in env.a.lines(alerts=True) if get(e, "event.severity", 0) > 21
            and launch.pid in related_pids(e) and shell not in related_pids(e, parent=False)]
    assert not loud, [(get(e, "rule.id"), get(e, "message")) for e in loud]
    assert not env.actions("contain.kill", pid=launch.pid), f"{kind}: the launch was killed"


def related_pids(e, parent=True):
    """The alert's process and its ancestors (and its parent)."""
    pids = {get(e, "process.pid")} | {x.get("pid") for x in get(e, "vigil.process.ancestors", [])}
    return pids | {get(e, "process.parent.pid")} if parent else pids


@test
def a_shell_that_launches_the_server_is_not_a_shell_it_spawned(env):
    # the reproduction: the wrapper's argv names the workload
    p = subprocess.run(["/bin/sh", "-c", "sleep 1 # fake_inference_server /models/x"], timeout=30)
    assert p.returncode == 0, f"the wrapper exited {p.returncode}"
    launch_serves_and_still_catches_its_shell(env, "sh -c")


@test
def an_entrypoint_script_launches_the_server(env):
    launch_serves_and_still_catches_its_shell(env, "bash entrypoint.sh")


@test
def env_launches_the_server(env):
    launch_serves_and_still_catches_its_shell(env, "env")


@test
def tini_and_dumb_init_launch_the_server(env):
    launch_serves_and_still_catches_its_shell(env, "tini")
    launch_serves_and_still_catches_its_shell(env, "dumb-init")


@test
def a_pyenv_shim_launches_the_server(env):
    launch_serves_and_still_catches_its_shell(env, "pyenv shim")


@test
def freeze_stops_progress_and_thaw_resumes(env):
    count = os.path.join(env.tmp, "count")
    p = subprocess.Popen([PY, "-c", COUNTER, count])
    try:
        wait_until(lambda: read_int(count) > 5, what="counter start")
        origin = cgroup_of(p.pid)
        out = env.cli("contain", "--pid", str(p.pid), "--freeze").stdout
        assert "contain.freeze" in out and "success" in out, out
        assert cgroup_of(p.pid).startswith("/" + env.a.cg_parent + "/"), cgroup_of(p.pid)
        a = read_int(count)
        time.sleep(0.5)
        assert read_int(count) == a, "a frozen process made progress"
        ev = env.wait_action("contain.freeze", p.pid)
        assert get(ev, "vigil.action.via") == "cli" and get(ev, "user.id") == "0"
        env.cli("release", "--pid", str(p.pid))
        wait_until(lambda: read_int(count) > a + 5, what="progress after thaw")
        assert cgroup_of(p.pid) == origin, "not moved back where it came from"
        assert env.wait_action("release.all", p.pid)["event"]["outcome"] == "success"
    finally:
        p.kill()
        p.wait()


@test
def contain_a_cgroup_freeze_release_and_kill(env):
    cg = env.a.cg_parent + "-svc"
    path = os.path.join(CGROUP2, cg)
    os.makedirs(path, exist_ok=True)
    count = os.path.join(env.tmp, "count-cg")
    join = f"echo $$ > {path}/cgroup.procs && exec {PY} -c \"$0\" \"$@\""
    p = subprocess.Popen(["/bin/sh", "-c", join, COUNTER, count])
    try:
        wait_until(lambda: read_int(count) > 5, what="counter start")
        env.cli("contain", "--cgroup", cg, "--freeze")
        a = read_int(count)
        time.sleep(0.5)
        assert read_int(count) == a, "a frozen cgroup made progress"
        assert cgroup_of(p.pid) == "/" + cg  # its own cgroup: nothing to move
        env.cli("release", "--cgroup", cg)
        wait_until(lambda: read_int(count) > a + 5, what="progress after release")
        env.cli("contain", "--cgroup", path, "--kill")  # absolute under the mount works too
        assert p.wait(timeout=10) == -signal.SIGKILL
        env.cli("release", "--cgroup", cg)
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        for _ in range(50):
            try:
                os.rmdir(path)
                break
            except OSError:
                time.sleep(0.1)


def listener():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)
    conns = []

    def accept():
        while True:
            try:
                c, _ = srv.accept()
                conns.append(c)
            except OSError:
                return
    threading.Thread(target=accept, daemon=True).start()
    return srv


def last_result(path):
    try:
        lines = open(path).read().splitlines()
        return lines[-1].split() if lines else None
    except OSError:
        return None


def start_prober(env, name):
    """A loopback listener and a prober holding one connection to it, connected."""
    srv = listener()
    port = srv.getsockname()[1]
    log = os.path.join(env.tmp, name)
    p = subprocess.Popen([PY, "-c", PROBER, log, str(port)])
    wait_until(lambda: last_result(log) == ["ok", "open"], what="prober connected")
    return srv, port, log, p


def release_and_reconnect(env, p, log):
    env.cli("release", "--pid", str(p.pid))
    open(log, "w").close()
    wait_until(lambda: (last_result(log) or [""])[0] == "ok", what="connect after release")


def stop_prober(srv, p):
    p.kill()
    p.wait()
    srv.close()


@test
def isolate_refuses_connect_with_eperm_cuts_open_ones_and_release_restores(env):
    srv, port, log, p = start_prober(env, "prober")
    try:
        env.cli("contain", "--pid", str(p.pid), "--isolate")
        ev = env.wait_action("contain.isolate", p.pid)
        assert get(ev, "event.category") == ["network"] and get(ev, "event.type") == ["denied"]
        assert get(ev, "vigil.action.sockets_cut") >= 1, ev
        open(log, "w").close()
        wait_until(lambda: (last_result(log) or [""])[0] == "EPERM", what="EPERM for the isolated")
        assert last_result(log)[1] in ("ECONNABORTED", "ECONNRESET", "EPIPE"), last_result(log)
        # an unrelated process still connects
        c = socket.create_connection(("127.0.0.1", port), timeout=2)
        c.close()
        release_and_reconnect(env, p, log)
    finally:
        stop_prober(srv, p)


@test
def isolation_follows_children_forked_later(env):
    srv = listener()
    port = srv.getsockname()[1]
    go, out = os.path.join(env.tmp, "fork-go"), os.path.join(env.tmp, "fork-out")
    code = ("import os, socket, subprocess, sys, time, errno\n"
            f"while not os.path.exists({go!r}): time.sleep(0.05)\n"
            "child = ('import socket, errno; s = socket.socket(); '\n"
            f"         'print(errno.errorcode.get(s.connect_ex((\"127.0.0.1\", {port})), \"ok\"))')\n"
            f"r = subprocess.run([sys.executable, '-c', child], capture_output=True, text=True)\n"
            f"open({out!r}, 'w').write(r.stdout)\n")
    p = subprocess.Popen([PY, "-c", code])
    try:
        env.cli("contain", "--pid", str(p.pid), "--isolate")
        open(go, "w").close()
        p.wait(timeout=30)
        assert open(out).read().strip() == "EPERM", open(out).read()
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        env.cli("release", "--pid", str(p.pid), check=False)
        srv.close()


@test
def containment_survives_a_vigild_restart(env):
    srv, port, log, p = start_prober(env, "prober2")
    try:
        env.cli("contain", "--pid", str(p.pid), "--isolate")
        wait_until(lambda: (last_result(log) or [""])[0] == "EPERM", what="EPERM")
        env.a.stop()
        open(log, "w").close()
        time.sleep(0.5)
        assert (last_result(log) or [""])[0] == "EPERM", "isolation lifted while vigild was away"
        env.start()
        listing = json.loads(env.cli("--json", "incidents").stdout)
        assert any(c["target_pid"] == p.pid and c["isolated"] for c in listing["containments"])
        release_and_reconnect(env, p, log)
    finally:
        stop_prober(srv, p)


@test
def teardown_releases_everything_and_unpins(env):
    # what the package runs on removal: nothing may stay frozen, isolated or pinned
    srv, port, log, p = start_prober(env, "prober3")
    try:
        origin = cgroup_of(p.pid)
        env.cli("contain", "--pid", str(p.pid))  # freeze (into a quarantine cell) + isolate
        wait_until(lambda: cgroup_of(p.pid).startswith(f"/{env.a.cg_parent}/"), what="quarantine")
        env.a.stop()
        out = subprocess.run([VIGILD, "--config", env.a.config, "--state-dir", env.a.state,
                              "--teardown"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "released" in out.stderr, out.stderr
        assert not os.path.exists(env.a.pin_dir), os.listdir(env.a.pin_dir)
        assert not os.path.exists(os.path.join(CGROUP2, env.a.cg_parent))
        assert cgroup_of(p.pid) == origin
        open(log, "w").close()
        wait_until(lambda: (last_result(log) or [""])[0] == "ok", what="connect after teardown")
        assert not os.path.exists(os.path.join(env.a.state, "containments.json"))
    finally:
        stop_prober(srv, p)
        env.start()


@test
def teardown_moves_a_tree_whose_cgroup_is_gone_to_the_nearest_ancestor(env):
    origin = os.path.join(CGROUP2, f"vigil-test-origin-{os.getpid()}")
    os.mkdir(origin)
    join = f"echo $$ > {origin}/cgroup.procs && exec "
    sleeper = subprocess.Popen(["/bin/sh", "-c", join + "sleep 300"])
    p = subprocess.Popen(["/bin/sh", "-c", join + "sleep 301"])
    try:
        wait_until(lambda: cgroup_of(p.pid) == "/" + os.path.basename(origin), what="origin")
        env.cli("contain", "--pid", str(p.pid), "--freeze")  # shared cgroup: moved to a cell
        wait_until(lambda: cgroup_of(p.pid).startswith(f"/{env.a.cg_parent}/"), what="quarantine")
        env.a.stop()
        sleeper.kill()
        sleeper.wait()
        wait_until(lambda: not open(os.path.join(origin, "cgroup.procs")).read(), what="origin empty")
        os.rmdir(origin)
        out = subprocess.run([VIGILD, "--config", env.a.config, "--state-dir", env.a.state,
                              "--teardown"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "released" in out.stderr, out.stderr
        assert cgroup_of(p.pid) == "/", cgroup_of(p.pid)  # out of the cell, in the origin's parent
        assert not os.path.exists(os.path.join(CGROUP2, env.a.cg_parent))
    finally:
        for q in (sleeper, p):
            q.kill()
            q.wait()
        try:
            os.rmdir(origin)
        except OSError:
            pass
        env.start()


@test
def egress_allowlist_lets_only_its_cidr_and_port(env):
    # the workload: a cgroup of its own, in a namespace whose loopback holds two "remote" addresses
    code = ("import socket, sys, errno\n"
            "for ip, port in ((sys.argv[1], 443), (sys.argv[1], 80), (sys.argv[2], 443)):\n"
            "    s = socket.socket(); s.settimeout(2)\n"
            "    e = s.connect_ex((ip, port))\n"
            "    print(errno.errorcode.get(e, 'ok'))\n")
    # join the cgroup first: `ip netns exec` remounts /sys without the cgroup mount
    join = f"echo $$ > {env.allow_cg}/cgroup.procs && exec ip netns exec {NETNS} {PY} -c \"$0\" \"$@\""
    out = subprocess.run(["/bin/sh", "-c", join, code, ALLOWED, OTHER],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.split() == ["ECONNREFUSED", "EPERM", "EPERM"], out.stdout + out.stderr
    # outside the cgroup nothing is filtered
    code = ("import socket, errno\n"
            f"s = socket.socket(); print(errno.errorcode.get(s.connect_ex(({OTHER!r}, 443)), 'ok'))\n")
    out = subprocess.run(["ip", "netns", "exec", NETNS, PY, "-c", code], capture_output=True, text=True)
    assert out.stdout.split() == ["ECONNREFUSED"], out.stdout + out.stderr


@test
def deny_path_kills_a_contained_opener(env):
    secret = os.path.join(env.tmp, "deny-target")
    open(secret, "w").write("x")
    go = os.path.join(env.tmp, "deny-go")
    code = ("import os, sys, time\n"
            f"while not os.path.exists({go!r}): time.sleep(0.05)\n"
            f"open({secret!r}).read()\n"
            "print('read it')\n")
    state = json.loads(env.cli("--json", "status").stdout)
    lsm = "lsm" in state["features"]["deny_path"]  # where BPF-LSM loads (6.1 in make test-kernels)
    p = subprocess.Popen([os.path.join(env.tmp, "vigil-denyme"), "-c", code],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        env.wait_action("contain.deny-path", p.pid)
        open(go, "w").close()
        # BPF-LSM refuses the open (EPERM, the caller lives on); without it the opener is killed
        rc = p.wait(timeout=15)
        assert rc == (1 if lsm else -signal.SIGKILL), (rc, p.stderr.read())
        assert p.stdout.read() == ""
        assert not lsm or "PermissionError" in p.stderr.read()
        ev = env.a.wait_for(lambda e: get(e, "event.action") == "open" and get(e, "process.pid") == p.pid
                            and get(e, "vigil.file.denied") is True, what="denied open")[0]
        assert get(ev, "file.path") == secret
        assert open(secret).read() == "x"  # others still open it
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        open(go, "w").close()
    assert lsm or "kill-on-open" in state["features"]["deny_path"], state["features"]["deny_path"]


# ---- webhooks ----

def make_ca(tmp):
    """A test CA and a server certificate for 127.0.0.1, with openssl(1)."""
    def ossl(*a):
        subprocess.run(["openssl", *a], check=True, capture_output=True, cwd=tmp)
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
         "-days", "2", "-subj", "/CN=vigil test CA")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
         "-subj", "/CN=127.0.0.1")
    with open(os.path.join(tmp, "ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "server.pem", "-days", "2", "-extfile", "ext")
    return os.path.join(tmp, "ca.pem")


def notify(env):
    p = subprocess.Popen([os.path.join(env.tmp, "vigil-notify"), "-c", "pass"])
    p.wait(timeout=30)
    return p.pid


@test
def webhooks_signed_delivered_once_across_receiver_outage_and_agent_kill(env):
    rx = env.receiver
    pids = [notify(env) for _ in range(3)]  # the receiver is down
    for pid in pids:
        env.wait_action("contain.webhook", pid)
    time.sleep(2)  # a few failed attempts
    st = json.loads(env.cli("--json", "status").stdout)["response"]["webhooks"]["soc"]
    # backing off (1 s, doubling, capped at 2 s here), not hammering the dead receiver
    assert st["delivered"] == 0 and st["pending"] == 3 and 1 <= st["retries"] <= 6, st
    env.a.proc.send_signal(signal.SIGKILL)  # pending messages are on disk only
    env.a.proc.wait()
    rx.refuse = 1  # and the first answer after that is a 503 with Retry-After
    rx.start()
    env.start()
    pids.append(notify(env))
    wait_until(lambda: len(rx.got) >= 4, timeout=30, what="4 deliveries")
    time.sleep(1.5)
    ids = [m for m, _ in rx.got]
    assert len(ids) == len(set(ids)) == 4, ids
    assert not rx.bad, f"bad signatures: {rx.bad}"
    assert sorted(get(b, "process.pid") for _, b in rx.got) == sorted(pids)
    assert all(get(b, "rule.id") == "VGL-9001" for _, b in rx.got)
    sent = {get(e, "vigil.action.webhook_id") for e in env.actions("contain.webhook")}
    assert set(ids) <= sent
    # the webhook threads' connects are those of vigild (every one this suite ran): filtered in the kernel
    agents = {get(e, "vigil.agent.pid") for e in env.a.lines() if get(e, "event.action") == "agent-start"}
    own = [e for e in env.a.lines() if get(e, "event.action") == "connect"
           and get(e, "process.pid") in agents]
    assert len(agents) >= 2 and not own, (agents, [get(e, "destination.port") for e in own])


@test
def every_rule_on_an_event_alerts_after_a_playbook_wrote_audit_lines(env):
    # VGL-9004's snapshot writes audit lines between VGL-9004's alert and
    # VGL-9005's: the second alert must still be built from the exec's line
    errors = json.loads(env.cli("--json", "status").stdout)["rules"]["alert_errors"]
    pids = []
    for _ in range(3):
        p = subprocess.Popen([os.path.join(env.tmp, "vigil-twice"), "-c", "import time; time.sleep(1)"])
        pids.append(p.pid)
        p.wait(timeout=30)
    for pid in pids:
        env.wait_action("contain.snapshot", pid)
        for rid in ("VGL-9004", "VGL-9005"):
            env.a.wait_for(lambda e: get(e, "rule.id") == rid and get(e, "process.pid") == pid,
                           alerts=True, timeout=10, what=f"{rid} for {pid}")
    alerts = [e for e in env.a.lines(alerts=True) if get(e, "process.pid") in pids
              and get(e, "rule.id") in ("VGL-9004", "VGL-9005")]
    assert sorted(get(e, "rule.id") for e in alerts) == ["VGL-9004"] * 3 + ["VGL-9005"] * 3
    assert all(get(e, "event.action") == "exec" for e in alerts)
    st = json.loads(env.cli("--json", "status").stdout)["rules"]
    assert st["alert_errors"] == errors, st


@test
def events_shows_the_stream_and_follows_it(env):
    lines = [json.loads(l) for l in env.cli("events").stdout.splitlines()]
    assert lines and all("@timestamp" in e for e in lines)
    assert lines[-1]["event"]["sequence"] >= lines[0]["event"]["sequence"]
    f = subprocess.Popen([VIGIL, "--socket", env.a.sock, "events", "--follow"],
                         stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        pid = notify(env)  # an exec, its alert and the webhook step arrive while following
        deadline = time.time() + 15
        seen = False
        while not seen and time.time() < deadline:
            line = f.stdout.readline()
            seen = '"contain.webhook"' in line and f'"target_pid":{pid}' in line
        assert seen, "vigil events --follow did not show the new action"
    finally:
        f.kill()
        f.wait()


@test
def seccomp_violations_of_confined_processes_reach_the_stream(env):
    profile = os.path.join(ROOT, "tests", "fixtures", "seccomp", "docker-default.json")
    for complain, verdict in ((False, "denied"), (True, "logged")):
        cmd = [VIGIL, "exec", "--quiet", "--pin-dir", env.a.pin_dir, "--profile", profile,
               "--user", "nobody"] + (["--complain"] if complain else []) + ["--", "unshare", "-U", "true"]
        p = subprocess.Popen(cmd, stderr=subprocess.DEVNULL,
                             env=dict(os.environ, PATH="/usr/sbin:/usr/bin:/sbin:/bin"))
        assert p.wait(timeout=30) == (0 if complain else 1)
        ev = env.a.wait_for(lambda e: get(e, "event.action") == "seccomp" and get(e, "process.pid") == p.pid,
                            what=f"seccomp event ({verdict})")[0]
        assert get(ev, "vigil.seccomp.syscall") == "unshare" and get(ev, "vigil.seccomp.verdict") == verdict
        assert get(ev, "event.outcome") == ("success" if complain else "failure")
        # nothing vigil itself called before exec counts
        assert all(get(e, "vigil.seccomp.syscall") == "unshare" for e in env.a.lines()
                   if get(e, "event.action") == "seccomp" and get(e, "process.pid") == p.pid)
        if not complain:
            env.a.wait_for(lambda e: get(e, "rule.id") == "VGL-9003" and get(e, "process.pid") == p.pid,
                           what="the rule on the violation", alerts=True)
    # a child the confined program forks is confined with it: its violation is reported too
    # (the fork probe follows it into vgl_confined behind the VGL_CSTATE_CONFINED gate)
    p = subprocess.Popen([VIGIL, "exec", "--quiet", "--pin-dir", env.a.pin_dir, "--profile", profile,
                          "--user", "nobody", "--", "sh", "-c", "unshare -U true; true"],
                         stderr=subprocess.DEVNULL, env=dict(os.environ, PATH="/usr/sbin:/usr/bin:/sbin:/bin"))
    assert p.wait(timeout=30) == 0
    env.a.wait_for(lambda e: get(e, "event.action") == "seccomp" and get(e, "process.parent.pid") == p.pid
                   and get(e, "vigil.seccomp.syscall") == "unshare", what="the forked child's seccomp event")
    # a trapping profile: the kernel's SIGSYS is in the stream too (SCMP_ACT_TRAP and KILL)
    trap = os.path.join(env.tmp, "trap.json")
    with open(trap, "w") as f:
        json.dump({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_TRAP"}]}, f)
    p = subprocess.Popen([VIGIL, "exec", "--quiet", "--pin-dir", env.a.pin_dir, "--profile", trap,
                          "--", PY, "-c", "import os; os.getppid()"], stderr=subprocess.DEVNULL)
    assert p.wait(timeout=30) == -signal.SIGSYS
    ev = env.a.wait_for(lambda e: get(e, "event.action") == "signal" and get(e, "process.pid") == p.pid,
                        what="the SIGSYS")[0]
    assert get(ev, "vigil.signal.name") == "SIGSYS" and get(ev, "vigil.target.pid") == p.pid
    assert not [e for e in env.a.lines(alerts=True) if get(e, "rule.id") == "VGL-0125"
                and get(e, "process.pid") == p.pid], "a SIGSYS is not a signal to the sensor"


@test
def prometheus_textfile_metrics_are_written(env):
    def lines():
        try:
            return open(env.metrics).read().splitlines()
        except OSError:
            return []
    wait_until(lambda: any(l.startswith("vigil_response_actions ") for l in lines()), what="metrics")
    text = lines()
    assert "vigil_up 1" in text
    samples = [l for l in text if not l.startswith("#")]
    assert all(len(l.rsplit(" ", 1)) == 2 and l.rsplit(" ", 1)[1].lstrip("-").isdigit() for l in samples), samples
    assert any(l.startswith('vigil_events_by_action{action="exec"} ') for l in samples)
    assert any(l.startswith('vigil_drops{cause="ringbuf_full_exec"} ') for l in samples)
    assert any(l.startswith('vigil_response_webhooks_delivered{endpoint="soc"} ') for l in samples)
    assert any(l.startswith('vigil_response_webhooks_pending{endpoint="soc"} ') for l in samples)
    assert not os.path.exists(env.metrics + ".tmp")


@test
def control_socket_refuses_unprivileged_users(env):
    p = env.cli("status", user=TEST_USER, check=False)
    assert p.returncode == 1 and "permission denied" in p.stderr.lower(), p.stderr
    p = env.cli("contain", "--pid", "1", user=TEST_USER, check=False)
    assert p.returncode == 1 and "permission denied" in p.stderr.lower(), p.stderr


@test
def guard_rails_refuse_init_vigild_and_its_ancestors(env):
    for pid, why in ((1, "PID 1"), (env.a.proc.pid, "vigild itself"), (os.getpid(), "ancestor of vigild")):
        p = env.cli("contain", "--pid", str(pid), "--kill", check=False)
        assert p.returncode == 1 and why in p.stderr, (pid, p.stderr)
    assert os.path.exists(f"/proc/{env.a.proc.pid}")


def setup(env):
    subprocess.run(["ip", "netns", "add", NETNS], check=True)
    for c in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", f"{ALLOWED}/32", "dev", "lo"],
              ["ip", "addr", "add", f"{OTHER}/32", "dev", "lo"]):
        subprocess.run(["ip", "netns", "exec", NETNS] + c, check=True)
    env.allow_cg = os.path.join(CGROUP2, env.a.cg_parent + "-allow")
    os.makedirs(env.allow_cg, exist_ok=True)
    ca = make_ca(env.tmp)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env.receiver = WebhookReceiver(port, secret=SECRET, cert=os.path.join(env.tmp, "server.pem"),
                                   key=os.path.join(env.tmp, "server.key"))
    secret = os.path.join(env.tmp, "soc.secret")
    with open(os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(SECRET + "\n")
    with open(os.path.join(env.local, "50-test.yaml"), "w") as f:
        f.write(f"""- webhook: soc
  url: https://127.0.0.1:{port}/hook
  ca_file: {ca}
  secret_file: {secret}
  timeout: 2s
- playbook: notify-soc
  match:
    rules: [VGL-9001]
  steps:
    - webhook: soc
- playbook: deny-the-secret
  match:
    rules: [VGL-9002]
  steps:
    - deny-path: {env.tmp}/deny-target
- playbook: snapshot-the-first
  match:
    rules: [VGL-9004]
  steps:
    - snapshot: process
- egress_allowlist: test-workload
  cgroup: {env.a.cg_parent}-allow
  allow: ["{ALLOWED}/32:443"]
""")
    if subprocess.run(["id", TEST_USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        TEST_USER], check=True)


def teardown(env):
    env.receiver.stop() if getattr(env, "receiver", None) else None
    subprocess.run(["ip", "netns", "del", NETNS], stderr=subprocess.DEVNULL)
    subprocess.run(["userdel", TEST_USER], stderr=subprocess.DEVNULL)
    if env.allow_cg:
        try:
            os.rmdir(env.allow_cg)
        except OSError:
            pass


def start(env):
    setup(env)
    env.start()


def stop(env):
    env.a.stop()
    env.a.cleanup()
    teardown(env)


def main():
    return run_suite("response-integration", TESTS, Env, start=start, finish=stop,
                     log=lambda env: env.a.stderr, prefix="vigil-rt-")


if __name__ == "__main__":
    sys.exit(main())
