#!/usr/bin/python3
"""Integration tests for `vigil exec` and `vigil seccomp check`: real seccomp
filters from Docker's and Podman's default profiles, on the real kernel, as
root (so `--user nobody` really drops to a process without capabilities, as
in a default container). Prints "seccomp-integration: N passed, N failed".
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, VIGIL, registry, run_suite  # noqa: E402

PROFILES = os.path.join(ROOT, "tests", "fixtures", "seccomp")
DOCKER = os.path.join(PROFILES, "docker-default.json")
PODMAN = os.path.join(PROFILES, "podman-default.json")

# calls a syscall by number and prints the errno name it got (or "ok")
SYSCALL = """import ctypes, errno, sys
libc = ctypes.CDLL(None, use_errno=True)
nr = int(sys.argv[1]); args = [int(a) for a in sys.argv[2:]]
r = libc.syscall(nr, *args)
print("ok" if r >= 0 else errno.errorcode[ctypes.get_errno()])
"""
NR = {"get_mempolicy": 239, "keyctl": 250, "add_key": 248, "unshare": 272, "swapon": 167, "socket": 41, "getpid": 39}
AF_NETLINK, SOCK_RAW, NETLINK_AUDIT = 16, 3, 9
ENV = dict(os.environ, PATH="/usr/sbin:/usr/bin:/sbin:/bin")  # nothing nobody cannot search
CLONE_NEWUSER = 0x10000000


# no vigild here: without --pin-dir, vigil exec would register with the host's (the default pin dir)
NO_VIGILD = f"/sys/fs/bpf/vigil-test-none-{os.getpid()}"


def vexec(*args, profile=DOCKER, user="nobody", extra=()):
    cmd = [VIGIL, "exec", "--quiet", "--pin-dir", NO_VIGILD, "--profile", profile, *extra]
    if user:
        cmd += ["--user", user]
    return subprocess.run(cmd + ["--", *args], capture_output=True, text=True, timeout=60, env=ENV)


def syscall(name, *args, **kw):
    p = vexec("/usr/bin/python3", "-c", SYSCALL, str(NR[name]), *map(str, args), **kw)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


TESTS, test = registry()


@test
def docker_default_runs_ordinary_programs(tmp):
    for cmd in (["true"], ["ls", "/"], ["/usr/bin/python3", "-c", "import os; print(os.getpid())"]):
        p = vexec(*cmd)
        assert p.returncode == 0, (cmd, p.returncode, p.stderr)
    p = vexec("id", "-u")
    assert p.stdout.strip() == str(65534), p.stdout  # really nobody


@test
def docker_default_refuses_what_docker_refuses(tmp):
    p = vexec("unshare", "-U", "true")
    assert p.returncode == 1 and "Operation not permitted" in p.stderr, (p.returncode, p.stderr)
    assert syscall("keyctl", 0, 0, 0, 0, 0) == "EPERM"  # Docker's defaultErrnoRet: 1
    assert syscall("unshare", CLONE_NEWUSER) == "EPERM"
    assert syscall("getpid") == "ok"
    # without a profile the same user may create a user namespace: the filter did it
    p = subprocess.run(["runuser", "-u", "nobody", "--", "unshare", "-U", "true"], capture_output=True)
    assert p.returncode == 0, "this kernel refuses user namespaces to nobody: the test proves nothing"


@test
def podman_default_answers_with_its_errnos(tmp):
    assert syscall("add_key", 0, 0, 0, 0, 0, profile=PODMAN) == "ENOSYS"  # defaultErrnoRet 38
    assert syscall("swapon", 0, 0, profile=PODMAN) == "EPERM"            # a rule's errnoRet 1
    # socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT) without CAP_AUDIT_WRITE: errnoRet 22 on args
    assert syscall("socket", AF_NETLINK, SOCK_RAW, NETLINK_AUDIT, profile=PODMAN) == "EINVAL"
    assert syscall("socket", AF_NETLINK, SOCK_RAW, 0, profile=PODMAN) == "ok"
    assert syscall("getpid", profile=PODMAN) == "ok"


@test
def inference_profile_adds_numa_and_cuda_ipc_calls(tmp):
    prof = os.path.join(ROOT, "packaging", "seccomp", "inference.json")
    assert syscall("get_mempolicy", 0, 0, 0, 0, 0) == "EPERM"  # Docker's, without CAP_SYS_NICE
    assert syscall("get_mempolicy", 0, 0, 0, 0, 0, profile=prof) == "ok"
    assert syscall("keyctl", 0, 0, 0, 0, 0, profile=prof) == "EPERM"  # the rest is Docker's


@test
def complain_mode_lets_refused_calls_run(tmp):
    p = vexec("unshare", "-U", "true", extra=["--complain"])
    assert p.returncode == 0, p.stderr
    assert syscall("keyctl", 0, 0, 0, 0, 0, extra=["--complain"]) != "EPERM"


@test
def exit_status_is_the_commands_or_envs(tmp):
    assert vexec("/bin/sh", "-c", "exit 7").returncode == 7
    assert vexec("no-such-command-anywhere").returncode == 127
    script = os.path.join(tmp, "not-executable")
    open(script, "w").write("#!/bin/sh\n")
    assert vexec(script).returncode == 126
    assert vexec("true", profile=os.path.join(tmp, "missing.json")).returncode == 125
    assert vexec("true", user="no-such-user-here").returncode == 125


@test
def check_reports_summary_and_json_path_errors(tmp):
    p = subprocess.run([VIGIL, "--json", "seccomp", "check", DOCKER], capture_output=True, text=True)
    out = json.loads(p.stdout)
    assert p.returncode == 0 and out["default_action"] == "SCMP_ACT_ERRNO"
    assert out["unknown_names"] == 12 and len(out["warnings"]) == 12  # libseccomp 2.5 on 6.x
    bad = os.path.join(tmp, "bad.json")
    with open(bad, "w") as f:
        json.dump({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["write"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 1, "op": "EQQ"}]}]}, f)
    p = subprocess.run([VIGIL, "seccomp", "check", bad], capture_output=True, text=True)
    assert p.returncode == 1, p
    assert p.stderr.strip() == f'vigil: seccomp check: {bad}: syscalls[1].args[0].op: unknown operator "EQQ"', p.stderr
    os.chmod(bad, 0o666)
    p = subprocess.run([VIGIL, "seccomp", "check", bad], capture_output=True, text=True)
    assert p.returncode == 1 and "world-writable" in p.stderr


@test
def record_a_command_then_run_it_under_the_recorded_profile(tmp):
    out = os.path.join(tmp, "recorded.json")
    prog = ["/usr/bin/python3", "-c", SYSCALL, str(NR["getpid"])]
    p = subprocess.run([VIGIL, "seccomp", "record", "-o", out, "--", *prog],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    prof = json.load(open(out))
    names = prof["syscalls"][0]["names"]
    assert prof["defaultAction"] == "SCMP_ACT_ERRNO" and prof["architectures"] == ["SCMP_ARCH_X86_64"]
    assert {"getpid", "execve", "openat", "mmap", "read"} <= set(names), names
    assert "keyctl" not in names
    # the recorded program works under its profile; a call it never made is refused
    assert syscall("getpid", profile=out, user=None) == "ok"
    assert syscall("keyctl", 0, 0, 0, 0, 0, profile=out, user=None) == "EPERM"
    p = subprocess.run([VIGIL, "seccomp", "check", out], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


@test
def record_a_running_tree_and_merge_into_a_profile(tmp):
    loop = subprocess.Popen(["/usr/bin/python3", "-c",
                             "import os, time\nwhile True:\n    os.getppid(); time.sleep(0.02)"])
    try:
        out = os.path.join(tmp, "merged.json")
        p = subprocess.run([VIGIL, "seccomp", "record", "--pid", str(loop.pid), "--duration", "1s",
                            "--merge", DOCKER, "-o", out], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        merged = json.load(open(out))
        docker = json.load(open(DOCKER))
        assert merged["syscalls"][:len(docker["syscalls"])] == docker["syscalls"]  # kept as is
        added = merged["syscalls"][len(docker["syscalls"]):]
        # getppid and clock_nanosleep are in Docker's allow list already: nothing to add for them
        assert not added or "getppid" not in added[0]["names"]
    finally:
        loop.kill()
        loop.wait()


def main():
    return run_suite("seccomp-integration", TESTS, lambda tmp: tmp, prefix="vigil-sc-")


if __name__ == "__main__":
    sys.exit(main())
