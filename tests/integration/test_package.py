#!/usr/bin/env python3
"""The Debian package, installed for real on this host (root).

`make deb` builds build/vigil_<version>_<arch>.deb and runs lintian (no
errors); dpkg installs it; the installed unit passes `systemd-analyze
verify`; the installed `vigild --check` accepts the installed config; the
installed vigild runs in the foreground from the installed paths with the
installed config, under the unit's CapabilityBoundingSet, writes events to
/var/log/vigil, answers `vigil status` on /run/vigil/vigil.sock, and contains
and releases a process; an upgrade keeps local config and rules (and the
kernel's containment state); removal tears containment down; purge removes
state and logs. Prints "package-integration: N passed, N failed".
"""
import fcntl
import grp
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import CGROUP2, ROOT, get, registry, run_suite, wait_until  # noqa: E402

UNIT = "/lib/systemd/system/vigil.service"
EVENTS = "/var/log/vigil/events.jsonl"
SOCK = "/run/vigil/vigil.sock"
PIN_DIR = "/sys/fs/bpf/vigil"
QUARANTINE = os.path.join(CGROUP2, "vigil.quarantine")
SYSTEM_DIRS = ("/etc/vigil", "/var/lib/vigil", "/var/log/vigil")

TESTS, test = registry()


def sh(*cmd, check=True, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 600), **kw)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}: exit {out.returncode}\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    return out


def installed_version():
    out = sh("dpkg-query", "-W", "-f=${Status} ${Version}", "vigil", check=False)
    return out.stdout.split()[-1] if out.stdout.startswith("install ok installed") else None


def events():
    try:
        with open(EVENTS) as f:
            return [json.loads(l) for l in f.read().splitlines()]
    except FileNotFoundError:
        return []


def unit_caps():
    """The unit's CapabilityBoundingSet, as setpriv --bounding-set wants it."""
    for line in open(UNIT):
        if line.startswith("CapabilityBoundingSet="):
            caps = line.split("=", 1)[1].split()
            return "-all," + ",".join("+" + c[4:].lower() for c in caps)
    raise AssertionError("the unit has no CapabilityBoundingSet")


class Env:
    def __init__(self, tmp):
        self.tmp = tmp
        self.deb = None
        self.agent = None
        self.held = None  # a process contained across the upgrade


def start_agent(env):
    """The installed vigild, installed config, the unit's capability bound."""
    env.agent_err = os.path.join(env.tmp, "vigild.stderr")
    env.agent = subprocess.Popen(["setpriv", "--bounding-set", unit_caps(), "/usr/sbin/vigild"],
                                 stdout=subprocess.DEVNULL, stderr=open(env.agent_err, "w"))
    try:
        wait_until(lambda: any(get(e, "event.action") == "agent-start"
                               and get(e, "vigil.agent.pid") == env.agent.pid for e in events()),
                   timeout=90, what="agent-start in /var/log/vigil/events.jsonl")
    except AssertionError:
        raise AssertionError(open(env.agent_err).read()[-3000:])


def stop_agent(env):
    if env.agent and env.agent.poll() is None:
        env.agent.send_signal(signal.SIGTERM)
        env.agent.wait(timeout=30)
    env.agent = None


def repack(deb, version, out):
    """The same package under another version: an upgrade without a rebuild."""
    d = out + ".d"
    sh("dpkg-deb", "-R", deb, d)
    control = os.path.join(d, "DEBIAN", "control")
    text = re.sub(r"(?m)^Version: .*$", f"Version: {version}", open(control).read())
    open(control, "w").write(text)
    sh("dpkg-deb", "--root-owner-group", "-b", d, out)
    shutil.rmtree(d)
    return out


@test
def make_deb_builds_a_lintian_clean_package(env):
    out = sh("make", "-s", "deb", cwd=ROOT, timeout=900)
    arch = sh("dpkg", "--print-architecture").stdout.strip()
    version = re.search(r"^VERSION := (\S+)", open(os.path.join(ROOT, "Makefile")).read(), re.M)[1]
    env.deb = os.path.join(ROOT, "build", f"vigil_{version}_{arch}.deb")
    assert os.path.exists(env.deb), out.stdout + out.stderr
    lint = sh("lintian", "--fail-on", "error", env.deb, check=False)
    assert lint.returncode == 0 and not re.search(r"(?m)^E: ", lint.stdout), lint.stdout
    info = sh("dpkg-deb", "-f", env.deb, "Depends").stdout
    for lib in ("libbpf1", "libseccomp2", "libcurl4", "libjansson4", "libyaml-0-2", "libssl3"):
        assert lib in info, info
    for tool in ("clang", "llvm", "bpftool", "-dev"):
        assert tool not in info, info


@test
def dpkg_installs_files_groups_and_directories(env):
    sh("dpkg", "-i", env.deb)
    for path, mode in (("/usr/sbin/vigild", 0o755), ("/usr/bin/vigil", 0o755),
                       ("/etc/vigil/vigil.yaml", 0o644), (UNIT, 0o644),
                       ("/etc/vigil/rules.d", 0o755), ("/etc/vigil/playbooks.d", 0o755),
                       ("/var/log/vigil", 0o750), ("/var/lib/vigil", 0o700),
                       ("/usr/share/vigil/rules/00-lists.yaml", 0o644),
                       ("/usr/share/vigil/playbooks/00-default.yaml", 0o644),
                       ("/usr/share/vigil/seccomp/inference.json", 0o644),
                       ("/usr/share/man/man8/vigild.8.gz", 0o644),
                       ("/usr/share/man/man8/vigil.8.gz", 0o644),
                       ("/usr/share/man/man5/vigil.yaml.5.gz", 0o644),
                       ("/usr/share/man/man5/vigil-rules.5.gz", 0o644),
                       ("/usr/share/man/man5/vigil-playbooks.5.gz", 0o644)):
        st = os.stat(path)
        assert stat.S_IMODE(st.st_mode) == mode and st.st_uid == 0, f"{path}: {oct(st.st_mode)}"
    for g in ("vigil", "vigil-admin"):
        grp.getgrnam(g)
    conffiles = sh("dpkg-query", "-W", "-f=${Conffiles}", "vigil").stdout
    assert "/etc/vigil/vigil.yaml" in conffiles, conffiles
    # nothing of the build (compilers, headers) at run time
    for lib in sh("ldd", "/usr/sbin/vigild").stdout.splitlines():
        assert "=> not found" not in lib, lib


@test
def unit_passes_systemd_analyze_verify(env):
    if not shutil.which("systemd-analyze"):
        print("        SKIP: systemd-analyze is not installed on this host")
        return
    out = sh("systemd-analyze", "verify", "--man=no", UNIT, check=False)
    assert out.returncode == 0 and not out.stderr.strip(), out.stdout + out.stderr
    sec = sh("systemd-analyze", "security", "--offline=true", "--no-pager", UNIT, check=False)
    level = re.search(r"Overall exposure level for vigil.service: ([\d.]+)", sec.stdout + sec.stderr)
    assert level and float(level[1]) <= 4.5, sec.stdout[-1500:] + sec.stderr  # README: 4.1
    text = open(UNIT).read()
    for want in ("ExecStartPre=/usr/sbin/vigild --check", "ProtectSystem=strict",
                 "ProtectHome=read-only", "NoNewPrivileges=yes", "RuntimeDirectory=vigil",
                 "StateDirectory=vigil", "LogsDirectory=vigil", "Restart=on-failure"):
        assert want in text, want


@test
def installed_check_accepts_the_installed_config(env):
    out = sh("/usr/sbin/vigild", "--check")
    assert "configuration OK (/etc/vigil/vigil.yaml)" in out.stdout, out.stdout + out.stderr
    m = re.search(r"rules: (\d+) rules from \d+ files are valid", out.stderr)
    assert m, out.stderr
    env.nrules, env.rules_checked = int(m[1]), m[0].split(" from")[0]


@test
def installed_agent_runs_writes_events_and_answers(env):
    start_agent(env)
    marker = f"vigil-package-test-{os.getpid()}"
    sh("/bin/echo", marker)
    wait_until(lambda: any(get(e, "event.action") == "exec" and marker in (get(e, "process.command_line") or "")
                           for e in events()), what="the marker's exec event")
    st = os.stat(SOCK)
    assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == grp.getgrnam("vigil").gr_gid, oct(st.st_mode)
    status = json.loads(sh("/usr/bin/vigil", "--json", "status").stdout)
    assert status["pid"] == env.agent.pid and status["events_file"] == EVENTS, status
    assert status["features"]["containment"] == "active", status["features"]


# a process of another user, in a network namespace of its own, holding a connected UDP socket:
# acting on it takes every capability the unit keeps (KILL, DAC_OVERRIDE for the quarantine
# cgroup, SYS_ADMIN to enter its namespace, NET_ADMIN to cut the socket there)
VICTIM = ("ip link set lo up && exec setpriv --reuid=65534 --regid=65534 --clear-groups "
          "/usr/bin/python3 -c 'import socket, time\n"
          "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect((\"127.0.0.1\", 9))\n"
          "print(\"ready\", flush=True); time.sleep(300)'")


@test
def installed_agent_contains_and_releases_under_the_units_capabilities(env):
    victim = subprocess.Popen(["unshare", "--net", "sh", "-c", VICTIM], stdout=subprocess.PIPE, text=True)
    try:
        assert victim.stdout.readline().strip() == "ready"
        out = sh("/usr/bin/vigil", "contain", "--pid", str(victim.pid), "--freeze", "--isolate")
        assert "contain.freeze tree" in out.stdout and "contain.isolate tree" in out.stdout, out.stdout
        assert "vigil.quarantine" in open(f"/proc/{victim.pid}/cgroup").read()
        isolate = wait_until(lambda: [e for e in events() if get(e, "event.action") == "contain.isolate"
                                      and get(e, "process.pid") == victim.pid], what="the isolate event")
        assert get(isolate[-1], "vigil.action.sockets_cut") == 1, isolate[-1]
        sh("/usr/bin/vigil", "release", "--pid", str(victim.pid))
        assert "vigil.quarantine" not in open(f"/proc/{victim.pid}/cgroup").read()
        sh("/usr/bin/vigil", "contain", "--pid", str(victim.pid), "--kill")
        victim.wait(timeout=10)
    finally:
        victim.kill()
        victim.wait()
    stop_agent(env)


@test
def upgrade_keeps_local_config_rules_and_containment(env):
    conf = "/etc/vigil/vigil.yaml"
    local_conf = open(conf).read() + "\n# local change kept across upgrades\n"
    open(conf, "w").write(local_conf)
    rule = "/etc/vigil/rules.d/50-local.yaml"
    open(rule, "w").write("- rule: local package-test rule\n  id: LOCAL-0001\n"
                          "  condition: process.name = vigil-pkg-nothing\n"
                          "  output: never\n  severity: low\n")
    # containment in force when the agent stops (holding nothing, a clean stop unpins)
    start_agent(env)
    env.held = subprocess.Popen(["sleep", "600"])
    sh("/usr/bin/vigil", "contain", "--pid", str(env.held.pid), "--isolate")
    stop_agent(env)
    assert os.path.isdir(PIN_DIR), "the agent's pins (what a restart picks up) are missing"
    new = repack(env.deb, "99.0.0", os.path.join(env.tmp, "vigil_upgrade.deb"))
    sh("dpkg", "-i", new)
    assert installed_version() == "99.0.0"
    assert open(conf).read() == local_conf
    assert os.path.exists(rule)
    assert os.path.isdir(PIN_DIR), "an upgrade must not tear containment down"
    out = sh("/usr/sbin/vigild", "--check")
    assert "configuration OK" in out.stdout
    assert env.rules_checked.replace(f"{env.nrules} rules", f"{env.nrules + 1} rules") in out.stderr, \
        out.stderr  # the local rule is one more


@test
def remove_tears_down_and_purge_removes_state(env):
    sh("dpkg", "-r", "vigil")  # releases the process held across the upgrade
    assert not os.path.exists("/usr/sbin/vigild") and not os.path.exists("/usr/bin/vigil")
    assert os.path.exists("/etc/vigil/vigil.yaml"), "remove keeps the configuration"
    assert not os.path.exists(PIN_DIR), "removal leaves pinned programs behind"
    assert not os.path.exists(QUARANTINE)
    sh("dpkg", "-P", "vigil")
    assert installed_version() is None
    for path in ("/var/lib/vigil", "/var/log/vigil", "/etc/vigil/vigil.yaml", UNIT):
        assert not os.path.exists(path), f"{path} survived the purge"
    # what dpkg did not install stays, as with every Debian package: the admin's own rule
    left = [os.path.join(d, f) for d, _, fs in os.walk("/etc/vigil") for f in fs]
    assert left == ["/etc/vigil/rules.d/50-local.yaml"], left


def cleanup(env):
    stop_agent(env)
    if env.held:
        env.held.kill()
        env.held.wait()
    if installed_version():
        subprocess.run(["dpkg", "-P", "vigil"], capture_output=True)
    shutil.rmtree(PIN_DIR, ignore_errors=True)
    for d in SYSTEM_DIRS:
        shutil.rmtree(d, ignore_errors=True)
    try:
        os.rmdir(QUARANTINE)
    except OSError:
        pass


def why_not_here():
    """What on this host the test must not touch: an installed vigil, a running
    vigild, or containment a stopped one left in force. None when it may run."""
    if installed_version():
        return "vigil is installed on this host: remove it first (dpkg -P vigil)"
    try:
        with open("/var/lib/vigil/vigild.lock") as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except FileNotFoundError:
        pass
    except BlockingIOError:
        return "a vigild is running with /var/lib/vigil (sudo make run?): stop it first"
    try:
        if json.load(open("/var/lib/vigil/containments.json")):
            return "containments are recorded in /var/lib/vigil: vigil release them first"
    except (FileNotFoundError, ValueError):
        pass
    return None


def set_aside(tmp):
    """A `make run` from source leaves /var/log/vigil, /var/lib/vigil and its
    pinned programs (nothing contained, checked above): keep the first two for
    restore() and tear the pins down as the package will."""
    saved = {}
    for d in SYSTEM_DIRS:
        if os.path.exists(d):
            saved[d] = os.path.join(tmp, "saved" + d.replace("/", "_"))
            shutil.move(d, saved[d])
    if os.path.exists(PIN_DIR):
        sh(os.path.join(ROOT, "build", "vigild"), "--teardown", "--state-dir",
           os.path.join(tmp, "teardown-state"), "--events", "")
    return saved


def restore(saved):
    for d, where in saved.items():
        shutil.rmtree(d, ignore_errors=True)
        shutil.move(where, d)


def make_env(tmp):
    env = Env(tmp)
    env.saved = set_aside(tmp)
    return env


def finish(env):
    cleanup(env)
    restore(env.saved)


def main():
    why = os.geteuid() == 0 and why_not_here()
    if why:
        print(f"package tests install and purge vigil on this host, but {why}", file=sys.stderr)
        print("package-integration: 0 passed, 1 failed")
        return 1
    return run_suite("package-integration", TESTS, make_env, finish=finish,
                     log=lambda env: getattr(env, "agent_err", None), chained=True,
                     prefix="vigil-pkg-")


if __name__ == "__main__":
    sys.exit(main())
