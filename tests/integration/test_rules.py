#!/usr/bin/python3
"""Integration tests for the default rules: real attacks reproduced on this
host against the real build/vigild with rules/ loaded, each with a positive
and a negative case, and a benign inference run that must stay at or below
severity low. Replay of the recorded stream must raise the same alerts.

Hermetic: a temp dir, loopback, and a network namespace this test creates
whose loopback holds 10.200.0.1-2 and 169.254.169.254 (they exist only
inside it). Prints "rules-integration: N passed, N failed".
"""
import json
import os
import pickle
import struct
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CGROUP2, ECS_FIELDS, ROOT, SCHEMA, VIGIL, Agent, ecs_check, get,  # noqa: E402
                     registry, run_suite)

PY = "/usr/bin/python3"
NETNS = f"vigil-it-{os.getpid()}"
HUB, ELSEWHERE, METADATA = "10.200.0.1", "10.200.0.2", "169.254.169.254"
SAFETENSORS = struct.pack("<Q", 2) + b"{}"
SEVERITY = {"info": 1, "low": 21, "medium": 47, "high": 73, "critical": 99}

FAKE_SERVER = """import sys
# stands in for an inference server: its command line matches the workload
# selector "fake_inference_server"; it runs the code it is given
if __name__ == "__main__":  # not again in multiprocessing's spawned workers
    exec(sys.argv[1])
"""


class Env:
    def __init__(self, tmp):
        self.tmp = tmp
        self.persist = os.path.join(tmp, "persist")
        self.vigilcfg = os.path.join(tmp, "etc-vigil")
        # an unwatched dir holding a watched file, and one watched before it exists
        # (as /etc holds /etc/ld.so.preload, which is usually absent)
        self.etc = os.path.join(tmp, "etc")
        self.preload = os.path.join(self.etc, "ld.so.preload")
        self.absent = os.path.join(self.etc, "absent.preload")
        os.makedirs(self.persist)
        os.makedirs(os.path.join(self.vigilcfg, "rules.d"))
        os.makedirs(self.etc)
        open(self.preload, "w").write("")
        self.a = Agent(tmp, capture="")
        # The fake servers run in a cgroup of their own, the cgroup selector
        # makes them trusted workloads: what a deployment configures (a unit,
        # a cgroup). Their command line still matches, but argv alone earns
        # no exemption (argv_only_workload_is_not_trusted_VGL_0009).
        self.workload_cg = os.path.join(CGROUP2, f"vigil-wl-{os.getpid()}")
        # the Agent's config plus what these rules need watched
        with open(self.a.config, "a") as f:
            f.write(f"""  # (workloads.inference continues)
    command_lines: [fake_inference_server]
    cgroups: [/{os.path.basename(self.workload_cg)}]
""")
        self.falco = os.path.join(tmp, "falco.jsonl")
        cfg = open(self.a.config).read().replace(
            "executables: [fake-vllm]", "executables: [fake-vllm, ollama]").replace(
            "  gpu_devices:", f"  paths: [{self.persist}, {self.vigilcfg}, {self.preload}, {self.absent}]\n"
            "  gpu_devices:").replace(
            "output:\n", f"output:\n  falco_file: {self.falco}\n")
        open(self.a.config, "w").write(cfg)
        self.local = os.path.join(tmp, "local-rules")
        os.makedirs(self.local)
        with open(os.path.join(self.local, "zz-local.yaml"), "w") as f:
            f.write(f"""# what a site adds in /etc/vigil/rules.d/
- list: egress_allowed
  append: true
  items: [{HUB}]
- list: model_dirs
  append: true
  items: [{self.a.models}/]
- list: persistence_prefixes
  append: true
  items: [{self.persist}/, {self.preload}, {self.absent}]
- macro: vigil_config_path
  condition: file.path startswith {self.vigilcfg}/
""")
        self.server = os.path.join(tmp, "fake_inference_server.py")
        open(self.server, "w").write(FAKE_SERVER)
        self.model = os.path.join(self.a.models, "m.safetensors")
        self.gguf = os.path.join(self.a.models, "m.gguf")
        self.pkl = os.path.join(self.a.models, "m.pkl")
        # real first bytes: the model-format reader judges them
        open(self.model, "wb").write(SAFETENSORS)
        open(self.gguf, "wb").write(b"GGUF\x03\x00\x00\x00" + bytes(24))
        open(self.pkl, "wb").write(pickle.dumps({"weights": [1.0, 2.0]}, protocol=4))

    def join_workload(self):
        """preexec_fn: the child joins the workload cgroup before it execs."""
        with open(os.path.join(self.workload_cg, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    def start(self):
        os.makedirs(self.workload_cg, exist_ok=True)
        self.a.start(args=["--rules", os.path.join(ROOT, "rules"), "--rules", self.local])



def setup_netns():
    subprocess.run(["ip", "netns", "add", NETNS], check=True)
    # the namespace's own loopback holds the "remote" addresses: nothing leaves it
    for c in (["ip", "link", "set", "lo", "up"],
              ["ip", "addr", "add", f"{HUB}/32", "dev", "lo"],
              ["ip", "addr", "add", f"{ELSEWHERE}/32", "dev", "lo"],
              ["ip", "addr", "add", f"{METADATA}/32", "dev", "lo"]):
        subprocess.run(["ip", "netns", "exec", NETNS] + c, check=True)


def connect_code(ip, port):
    return (f"import socket\ns = socket.socket()\ns.settimeout(2)\n"
            f"try: s.connect(({ip!r}, {port}))\nexcept OSError: pass\n")


# ---- helpers ----

def pids_of(e):
    return {get(e, "process.pid"), get(e, "process.parent.pid")} | {
        x.get("pid") for x in get(e, "vigil.process.ancestors", [])}


def alerts_for(env, rule_id, pid):
    return [e for e in env.a.lines(alerts=True)
            if get(e, "rule.id") == rule_id and pid in pids_of(e)]


def expect_alert(env, rule_id, pid, timeout=15):
    found = env.a.wait_for(lambda e: get(e, "rule.id") == rule_id and pid in pids_of(e),
                           timeout=timeout, what=f"alert {rule_id}", alerts=True)
    return found[0]


def settle(env, pid):
    """Wait until pid's exit is in the stream: alerts on its events come before it."""
    env.a.wait_for(lambda e: get(e, "event.action") == "exit" and get(e, "process.pid") == pid,
                   what=f"exit of {pid}")
    time.sleep(0.3)


def expect_none(env, rule_id, pid):
    settle(env, pid)
    got = alerts_for(env, rule_id, pid)
    assert not got, f"{rule_id} fired: {[get(e, 'message') for e in got]}"


def spawn(cmd, **kw):
    """Start cmd, wait for it, return its pid."""
    p = subprocess.Popen(cmd, **kw)
    p.wait(timeout=60)
    return p.pid


def server(env, code, **kw):
    """The fake inference server, in the workload cgroup."""
    return spawn([PY, env.server, code], preexec_fn=env.join_workload, **kw)


TESTS, test = registry()


# ---- the default rules, one attack and one look-alike each ----

@test
def shell_from_model_loader_VGL_0001(env):
    pid = server(env, "import subprocess; subprocess.run(['/bin/sh', '-c', 'true'])")
    e = expect_alert(env, "VGL-0001", pid)
    assert get(e, "event.severity") == 99 and get(e, "vigil.severity") == "critical"
    assert get(e, "process.name") == "sh" and get(e, "process.parent.pid") == pid
    assert "T1059.004" in get(e, "threat.technique.id") and get(e, "rule.ruleset") == "10-process"
    pid = spawn([PY, "-c", "import subprocess; subprocess.run(['/bin/sh', '-c', 'true'])"])
    expect_none(env, "VGL-0001", pid)


@test
def server_execing_a_shell_in_place_VGL_0001(env):
    # no fork: the payload turns the server's own process into the shell
    pid = server(env, "import os; os.execv('/bin/sh', ['sh', '-c', 'true'])")
    e = expect_alert(env, "VGL-0001", pid)
    assert get(e, "process.pid") == pid and get(e, "process.name") == "sh"
    pid = spawn([PY, "-c", "import os; os.execv('/bin/sh', ['sh', '-c', 'true'])"])
    expect_none(env, "VGL-0001", pid)


@test
def benign_inference_run_stays_at_or_below_low(env):
    code = f"""
import multiprocessing, socket, subprocess, shutil
open({env.model!r}, 'rb').read(); open({env.gguf!r}, 'rb').read()
subprocess.run(['ldconfig', '-p'], stdout=subprocess.DEVNULL)
subprocess.run(['gcc', '--version'], stdout=subprocess.DEVNULL)
if shutil.which('nvidia-smi'):
    subprocess.run(['nvidia-smi'], stdout=subprocess.DEVNULL)
ctx = multiprocessing.get_context('spawn')
w = ctx.Process(target=abs, args=(1,)); w.start(); w.join()
s = socket.socket(); s.settimeout(2)
try: s.connect(({HUB!r}, 443))
except OSError: pass
"""
    p = subprocess.Popen(["ip", "netns", "exec", NETNS, PY, env.server, code],
                         preexec_fn=env.join_workload)
    p.wait(timeout=60)
    spid = p.pid  # ip netns exec execs the command in place
    settle(env, spid)
    time.sleep(1)
    loud = [e for e in env.a.lines(alerts=True) if spid in pids_of(e)
            and get(e, "event.severity") > SEVERITY["low"]]
    assert not loud, [(get(e, "rule.id"), get(e, "message")) for e in loud]


@test
def reverse_shell_VGL_0002(env):
    code = ("import socket, subprocess\na, b = socket.socketpair()\n"
            "subprocess.run(['/bin/sh', '-c', 'true'], stdin=b, stdout=b)\n")
    pid = spawn([PY, "-c", code])
    e = expect_alert(env, "VGL-0002", pid)
    assert get(e, "vigil.process.stdin_socket") is True
    pid = spawn([PY, "-c", "import subprocess; subprocess.run(['/bin/sh', '-c', 'true'], "
                 "stdin=subprocess.PIPE, stdout=subprocess.PIPE)"])
    expect_none(env, "VGL-0002", pid)


@test
def shell_after_pickle_load_VGL_0101(env):
    code = f"open({env.pkl!r}, 'rb').read()\nimport subprocess; subprocess.run(['/bin/sh', '-c', 'true'])"
    pid = spawn([PY, "-c", code])
    e = expect_alert(env, "VGL-0101", pid)
    assert get(e, "vigil.alert.sequence.by") == "tree" and get(e, "vigil.alert.sequence.steps") == 2
    code = f"open({env.model!r}, 'rb').read()\nimport subprocess; subprocess.run(['/bin/sh', '-c', 'true'])"
    pid = spawn([PY, "-c", code])
    expect_none(env, "VGL-0101", pid)


@test
def egress_after_unpickling_VGL_0003(env):
    code = f"open({env.pkl!r}, 'rb').read()\n" + connect_code(ELSEWHERE, 80)
    p = subprocess.Popen(["ip", "netns", "exec", NETNS, PY, "-c", code])
    p.wait(timeout=60)
    e = expect_alert(env, "VGL-0003", p.pid)
    assert get(e, "destination.ip") == ELSEWHERE
    code = f"open({env.pkl!r}, 'rb').read()\n" + connect_code(HUB, 80)
    p = subprocess.Popen(["ip", "netns", "exec", NETNS, PY, "-c", code])
    p.wait(timeout=60)
    expect_none(env, "VGL-0003", p.pid)


@test
def pickle_loaded_by_inference_VGL_0004(env):
    pid = server(env, f"open({env.pkl!r}, 'rb').read()")
    e = expect_alert(env, "VGL-0004", pid)
    assert get(e, "vigil.severity") == "low" and get(e, "vigil.file.format") == "pickle"
    # the bytes decide, not the name: a .pt that is really safetensors is fine
    safe_pt = os.path.join(env.a.models, "really-safe.pt")
    open(safe_pt, "wb").write(SAFETENSORS)
    pid = server(env, f"open({env.model!r}, 'rb').read(); open({safe_pt!r}, 'rb').read()")
    expect_none(env, "VGL-0004", pid)


@test
def model_container_mismatch_VGL_0005(env):
    import gzip
    packed = os.path.join(env.a.models, "weights.bin")
    open(packed, "wb").write(gzip.compress(b"not a model"))
    pid = spawn(["cat", packed], stdout=subprocess.DEVNULL)
    e = expect_alert(env, "VGL-0005", pid)
    assert get(e, "vigil.file.format") == "gzip" and get(e, "vigil.file.expected_format") == "pytorch-zip"
    disguised = os.path.join(env.a.models, "disguised.safetensors")
    open(disguised, "wb").write(pickle.dumps([1], protocol=2))
    pid = spawn(["cat", disguised], stdout=subprocess.DEVNULL)
    assert get(expect_alert(env, "VGL-0005", pid), "vigil.file.pickle") is True
    pid = spawn(["cat", env.model, env.gguf], stdout=subprocess.DEVNULL)
    expect_none(env, "VGL-0005", pid)


@test
def model_tampered_VGL_0006_and_served_model_swapped_VGL_0007(env):
    victim = os.path.join(env.a.models, "served.safetensors")
    open(victim, "wb").write(SAFETENSORS)
    server(env, f"open({victim!r}, 'rb').read()")
    pid = spawn(["/bin/sh", "-c", f"echo x >> {victim}"])
    expect_alert(env, "VGL-0006", pid)
    pid = spawn(["mv", victim, victim + ".bak"])
    e = expect_alert(env, "VGL-0007", pid)
    assert get(e, "vigil.alert.sequence.by") == "file.path"
    pid = server(env, f"open({env.gguf!r}, 'ab').write(b'x')")  # the workload itself
    expect_none(env, "VGL-0006", pid)


@test
def exec_from_model_dir_VGL_0008_and_ephemeral_VGL_0019(env):
    planted = os.path.join(env.a.models, "run")
    shutil.copy("/bin/true", planted)
    pid = spawn([planted])
    expect_alert(env, "VGL-0008", pid)
    expect_alert(env, "VGL-0019", pid)  # the models dir is under /tmp here
    pid = spawn(["/bin/true"])
    expect_none(env, "VGL-0008", pid)
    expect_none(env, "VGL-0019", pid)


@test
def weight_readers_VGL_0009_VGL_0010(env):
    pid = spawn([PY, "-c", f"open({env.model!r}, 'rb').read()"])
    assert get(expect_alert(env, "VGL-0009", pid), "vigil.severity") == "medium"
    pid = spawn(["cp", env.model, os.path.join(env.tmp, "copy.bin")])
    expect_alert(env, "VGL-0010", pid)
    pid = spawn(["sha256sum", env.model], stdout=subprocess.DEVNULL)  # a model tool
    expect_none(env, "VGL-0009", pid)
    expect_none(env, "VGL-0010", pid)


@test
def a_binary_named_ollama_in_tmp_is_no_workload_VGL_0009(env):
    # the name is a workload's and a model tool's, the file is anyone's
    fake = os.path.join(env.tmp, "ollama")
    shutil.copy("/usr/bin/head", fake)
    pid = spawn([fake, "-c", "8", env.model], stdout=subprocess.DEVNULL)
    e = expect_alert(env, "VGL-0009", pid)
    assert get(e, "vigil.workload.inference") is True and get(e, "vigil.workload.match") == "comm"
    pid = spawn(["/usr/bin/head", "-c", "8", env.model], stdout=subprocess.DEVNULL)
    expect_alert(env, "VGL-0009", pid)  # the look-alike: head is no model tool either
    pid = spawn(["sha256sum", env.model], stdout=subprocess.DEVNULL)  # a model tool on /usr
    expect_none(env, "VGL-0009", pid)


@test
def argv_only_workload_is_not_trusted_VGL_0009(env):
    code = f"open({env.model!r}, 'rb').read()"
    pid = spawn([PY, env.server, code])  # no cgroup: "fake_inference_server" in argv only
    e = expect_alert(env, "VGL-0009", pid)
    assert get(e, "vigil.workload.match") == "argv"
    pid = server(env, code)  # the same server in its cgroup
    expect_none(env, "VGL-0009", pid)


@test
def weights_read_then_egress_by_session_VGL_0011(env):
    # cat reads the weights, then a sibling in the same session connects out
    for name, ip in (("out.py", ELSEWHERE), ("hub.py", HUB)):
        open(os.path.join(env.tmp, name), "w").write(connect_code(ip, 443))
    script = f"cat {env.model} >/dev/null; {PY} {env.tmp}/out.py"
    p = subprocess.Popen(["ip", "netns", "exec", NETNS, "setsid", "/bin/sh", "-c", script])
    p.wait(timeout=60)
    e = expect_alert(env, "VGL-0011", p.pid)
    assert get(e, "vigil.alert.sequence.by") == "session" and get(e, "destination.ip") == ELSEWHERE
    script = f"cat {env.model} >/dev/null; {PY} {env.tmp}/hub.py"
    p = subprocess.Popen(["ip", "netns", "exec", NETNS, "setsid", "/bin/sh", "-c", script])
    p.wait(timeout=60)
    expect_none(env, "VGL-0011", p.pid)


@test
def model_discovery_sweep_VGL_0023(env):
    dirs = [os.path.join(env.a.models, f"org{i}") for i in range(5)]
    for d in dirs:
        os.makedirs(d, exist_ok=True)
        open(os.path.join(d, "w.safetensors"), "wb").write(SAFETENSORS)
    files = [os.path.join(d, "w.safetensors") for d in dirs]
    pid = spawn([PY, "-c", f"for f in {files!r}: open(f, 'rb').read()"])
    e = expect_alert(env, "VGL-0023", pid)
    assert get(e, "vigil.alert.sequence.steps") == 5
    same = [os.path.join(dirs[0], f"s{i}.safetensors") for i in range(6)]
    for f in same:
        open(f, "wb").write(SAFETENSORS)
    pid = spawn([PY, "-c", f"for f in {same!r}: open(f, 'rb').read()"])
    expect_none(env, "VGL-0023", pid)


@test
def token_theft_VGL_0013(env):
    token = os.path.join(env.a.creds, "token")
    pid = spawn(["cat", token], stdout=subprocess.DEVNULL)
    expect_alert(env, "VGL-0013", pid)
    pid = server(env, f"open({token!r}).read()")  # the server reading its own hub token
    expect_none(env, "VGL-0013", pid)


@test
def typed_from_multiprocessing_is_no_runtime_worker_VGL_0013(env):
    token = os.path.join(env.a.creds, "token")
    forged = f"open({token!r}).read() # from multiprocessing.spawn import spawn_main"
    pid = server(env, f"import subprocess; subprocess.run([{PY!r}, '-c', {forged!r}])")
    e = expect_alert(env, "VGL-0013", pid)
    assert get(e, "process.parent.pid") == pid and not get(e, "vigil.workload.runtime_worker")
    # multiprocessing's own spawned worker reading it is the runtime
    real = ("import multiprocessing\nctx = multiprocessing.get_context('spawn')\n"
            f"w = ctx.Process(target=open, args=({token!r},)); w.start(); w.join()\n")
    pid = server(env, real)
    expect_none(env, "VGL-0013", pid)
    assert env.a.wait_for(lambda e: get(e, "event.action") == "exec"
                          and get(e, "process.parent.pid") == pid
                          and get(e, "vigil.workload.runtime_worker") is True,
                          what="the spawned worker")


@test
def metadata_VGL_0014_and_inference_egress_VGL_0015(env):
    p = subprocess.Popen(["ip", "netns", "exec", NETNS, PY, "-c", connect_code(METADATA, 80)])
    p.wait(timeout=60)
    expect_alert(env, "VGL-0014", p.pid)
    p = subprocess.Popen(["ip", "netns", "exec", NETNS, PY, env.server, connect_code(ELSEWHERE, 443)],
                         preexec_fn=env.join_workload)
    p.wait(timeout=60)
    e = expect_alert(env, "VGL-0015", p.pid)
    assert get(e, "vigil.severity") == "medium"
    p = subprocess.Popen(["ip", "netns", "exec", NETNS, PY, env.server, connect_code(HUB, 443)],
                         preexec_fn=env.join_workload)
    p.wait(timeout=60)
    expect_none(env, "VGL-0015", p.pid)
    expect_none(env, "VGL-0014", p.pid)


@test
def inference_memory_scraping_VGL_0012(env):
    srv = subprocess.Popen([PY, env.server, "import time; time.sleep(30)"])
    try:
        env.a.wait_for(lambda e: get(e, "event.action") == "exec" and get(e, "process.pid") == srv.pid,
                       what="server exec")
        code = ("import ctypes, os, sys\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                "pid = int(sys.argv[1])\nassert libc.ptrace(16, pid, None, None) == 0\n"
                "os.waitpid(pid, 0)\nlibc.ptrace(17, pid, None, None)\n")
        pid = spawn([PY, "-c", code, str(srv.pid)])
        e = expect_alert(env, "VGL-0012", pid)
        assert get(e, "vigil.target.pid") == srv.pid and get(e, "vigil.ptrace.request") == "attach"
        assert get(e, "vigil.target.inference") is True and get(e, "event.outcome") == "success"
        # a debugger attaching is not scraping
        st = subprocess.Popen(["strace", "-p", str(srv.pid), "-o", "/dev/null"])
        env.a.wait_for(lambda e: get(e, "event.action") == "ptrace" and get(e, "process.pid") == st.pid,
                       what="strace's ptrace event")
        st.terminate()
        st.wait(timeout=30)
        expect_none(env, "VGL-0012", st.pid)
    finally:
        srv.kill()
        srv.wait()


@test
def secrets_scraped_from_workload_proc_VGL_0028(env):
    srv = subprocess.Popen([PY, env.server, "import time; time.sleep(30)"],
                           env={**os.environ, "HF_TOKEN": "hf_not_a_real_token"})
    other = subprocess.Popen(["/bin/sleep", "30"])
    try:
        env.a.wait_for(lambda e: get(e, "event.action") == "exec" and get(e, "process.pid") == srv.pid,
                       what="server exec")
        pid = spawn(["/bin/cat", f"/proc/{srv.pid}/environ"], stdout=subprocess.DEVNULL)
        e = expect_alert(env, "VGL-0028", pid)
        assert get(e, "file.path") == f"/proc/{srv.pid}/environ", get(e, "file.path")
        assert get(e, "vigil.file.kind") == "proc-secret"
        assert get(e, "vigil.target.pid") == srv.pid and get(e, "vigil.target.inference") is True
        # maps through the thread's own directory: the target is still the process
        pid = spawn([PY, "-c", f"open('/proc/{srv.pid}/task/{srv.pid}/maps').read()"])
        e = expect_alert(env, "VGL-0028", pid)
        assert get(e, "vigil.target.pid") == srv.pid
        # reading a process that is no workload: reported, no alert
        pid = spawn(["/bin/cat", f"/proc/{other.pid}/environ"], stdout=subprocess.DEVNULL)
        env.a.wait_for(lambda e: get(e, "process.pid") == pid and get(e, "vigil.target.pid") == other.pid,
                       what="environ read of a plain process")
        expect_none(env, "VGL-0028", pid)
        # a process reading its own environ is not reported at all
        pid = spawn(["/bin/cat", "/proc/self/environ"], stdout=subprocess.DEVNULL)
        settle(env, pid)
        assert not [e for e in env.a.lines() if get(e, "process.pid") == pid and
                    get(e, "vigil.file.kind") == "proc-secret"]
    finally:
        for p in (srv, other):
            p.kill()
            p.wait()


@test
def mining_port_VGL_0016_and_miner_VGL_0017(env):
    pid = spawn([PY, "-c", connect_code("127.0.0.1", 3333)])
    expect_alert(env, "VGL-0016", pid)
    pid = spawn(["/bin/true", "-o", "stratum+tcp://pool.invalid:3333", "--donate-level=1"])
    expect_alert(env, "VGL-0017", pid)
    pid = spawn([PY, "-c", connect_code("127.0.0.1", 8080)])
    expect_none(env, "VGL-0016", pid)
    pid = spawn(["/bin/true", "-o", "https://example.invalid/"])
    expect_none(env, "VGL-0017", pid)


@test
def unknown_gpu_user_VGL_0018(env):
    rogue = os.path.join(env.tmp, "rogue")
    shutil.copy("/usr/bin/head", rogue)
    pid = spawn([rogue, "-c", "1", env.a.gpu], stdout=subprocess.DEVNULL)
    expect_alert(env, "VGL-0018", pid)
    expect_alert(env, "VGL-0118", pid)
    pid = spawn(["/usr/bin/head", "-c", "1", env.a.gpu], stdout=subprocess.DEVNULL)
    expect_none(env, "VGL-0018", pid)


@test
def download_and_execute_VGL_0020(env):
    # The downloader is Python's urllib, not curl: CI hosts need not have curl.
    fetch = ("import urllib.request\ntry: urllib.request.urlopen('http://127.0.0.1:1/payload', "
             "timeout=1)\nexcept OSError: pass\n")
    payload = os.path.join(env.tmp, "payload")
    shutil.copy("/bin/true", payload)
    code = ("import subprocess\n"
            f"subprocess.run([{PY!r}, '-c', {fetch!r}])\n"
            f"subprocess.run([{payload!r}])\n")
    # VGL-0020 correlates by session. A real server has its own (systemd and
    # runc call setsid); the harness may run in session 0 (no session at all,
    # as under a CI runner that is PID 1's child), where nothing correlates.
    pid = server(env, code, start_new_session=True)
    expect_alert(env, "VGL-0020", pid)
    pid = server(env, "import subprocess\n"
                      f"subprocess.run([{PY!r}, '-c', {fetch!r}])\n"
                      "subprocess.run(['/bin/true'])\n", start_new_session=True)
    expect_none(env, "VGL-0020", pid)


@test
def persistence_from_workload_VGL_0021(env):
    target = os.path.join(env.persist, "evil.timer")
    pid = server(env, f"open({target!r}, 'w').write('x')")
    expect_alert(env, "VGL-0021", pid)
    open(target, "w").write("y")  # root editing it by hand: not a workload
    pid = spawn(["/bin/sh", "-c", f"echo z >> {target}"])
    expect_none(env, "VGL-0021", pid)
    # a well-known name outside every configured path: a home made after start
    keys = os.path.join(env.tmp, "late-home", ".ssh", "authorized_keys")
    os.makedirs(os.path.dirname(keys))
    pid = server(env, f"open({keys!r}, 'w').write('ssh-ed25519 AAAA')")
    assert get(expect_alert(env, "VGL-0021", pid), "file.path") == keys


def change_event(env, action, pid, path, other=None):
    """The stream's event for pid's `action` on path (other: new or target path)."""
    def match(e):
        return (get(e, "event.action") == action and get(e, "process.pid") == pid and
                get(e, "file.path") == path and
                (other is None or other in (get(e, "vigil.file.new_path"),
                                            get(e, "file.target_path"))))
    return env.a.wait_for(match, what=f"{action} {path} by {pid}")[0]


def py(code, **kw):
    return spawn([PY, "-c", code], **kw)


@test
def names_persistence_by_rename_and_link_VGL_0026(env):
    """Persistence planted by rename, hard link or symlink: no write to the
    watched place itself, and no model extension in the names."""
    job, dst = os.path.join(env.tmp, "job"), os.path.join(env.persist, "x")
    open(job, "w").write("* * * * * root id\n")
    pid = spawn(["mv", "job", dst], cwd=env.tmp)  # relative source, absolute destination
    change_event(env, "rename", pid, job, dst)
    e = expect_alert(env, "VGL-0026", pid)
    assert get(e, "vigil.severity") == "medium", e
    src = os.path.join(env.tmp, "unit")
    open(src, "w").write("[Service]\n")
    hard = os.path.join(env.persist, "hard.service")
    pid = spawn(["ln", src, hard])
    link = change_event(env, "link", pid, hard, src)
    expect_alert(env, "VGL-0026", pid)
    soft = os.path.join(env.persist, "soft.service")
    pid = spawn(["ln", "-s", src, soft])
    sym = change_event(env, "symlink", pid, soft, src)
    expect_alert(env, "VGL-0026", pid)
    assert get(sym, "file.type") == "symlink" and get(sym, "event.type") == ["creation"], sym
    import jsonschema
    validator = jsonschema.Draft202012Validator(json.load(open(SCHEMA)))
    fields = json.load(open(ECS_FIELDS))["fields"]
    for e in (link, sym):
        errs = [x.message for x in validator.iter_errors(e)] + ecs_check(e, fields)
        assert not errs, errs
    # a relative target is relative to the link's directory
    pid = spawn(["ln", "-s", "../unit", os.path.join(env.persist, "rel.service")])
    change_event(env, "symlink", pid, os.path.join(env.persist, "rel.service"), src)
    # a link elsewhere pointing into a watched file counts too
    ptr = os.path.join(env.tmp, "ptr")
    pid = spawn(["ln", "-s", env.preload, ptr])
    change_event(env, "symlink", pid, ptr, env.preload)
    expect_alert(env, "VGL-0026", pid)
    # the same from the workload: high
    pid = server(env, f"import os; os.symlink({src!r}, {os.path.join(env.persist, 'w.service')!r})")
    assert get(expect_alert(env, "VGL-0126", pid), "vigil.severity") == "high"
    # renames between unwatched places: nothing in the stream
    a, b = os.path.join(env.tmp, "plain-a"), os.path.join(env.tmp, "plain-b")
    open(a, "w").write("")
    pid = py(f"import os; os.rename({a!r}, {b!r}); os.unlink({b!r})")
    settle(env, pid)
    assert not [e for e in env.a.lines() if get(e, "process.pid") == pid and
                get(e, "event.action") in ("rename", "unlink")]


@test
def names_by_cwd_dirfd_and_odd_paths(env):
    """The kernel resolves a relative name's directory: the cwd, a dirfd, a
    name with a '/', or one with /../ (canonicalised by vigild)."""
    p = env.persist
    open(os.path.join(p, "a"), "w").write("")
    pid = py("import os; os.rename('a', 'b')", cwd=p)
    change_event(env, "rename", pid, os.path.join(p, "a"), os.path.join(p, "b"))
    pid = py(f"import os; fd = os.open({p!r}, os.O_RDONLY); "
             "os.rename('b', 'c', src_dir_fd=fd, dst_dir_fd=fd)")
    change_event(env, "rename", pid, os.path.join(p, "b"), os.path.join(p, "c"))
    pid = py("import os; os.rename('persist/c', 'persist/d')", cwd=env.tmp)
    change_event(env, "rename", pid, os.path.join(p, "c"), os.path.join(p, "d"))
    odd = os.path.join(env.tmp, "local-rules", "..", "persist", "d")
    pid = py(f"import os; os.chmod({odd!r}, 0o600)")
    change_event(env, "chmod", pid, os.path.join(p, "d"))
    pid = spawn(["rm", os.path.join(p, "d")])
    change_event(env, "unlink", pid, os.path.join(p, "d"))
    # a watched file in an unwatched dir: chmod, rm by name from its dir, re-planted by rename
    pid = spawn(["chmod", "600", env.preload])
    change_event(env, "chmod", pid, env.preload)
    pid = spawn(["rm", "ld.so.preload"], cwd=env.etc)
    change_event(env, "unlink", pid, env.preload)
    payload = os.path.join(env.tmp, "evil.so")
    open(payload, "w").write("")
    pid = spawn(["mv", payload, env.preload])
    change_event(env, "rename", pid, payload, env.preload)
    expect_alert(env, "VGL-0026", pid)
    # watched before it existed
    open(payload, "w").write("")
    pid = py(f"import os; os.rename({payload!r}, 'absent.preload')", cwd=env.etc)
    change_event(env, "rename", pid, payload, env.absent)
    expect_alert(env, "VGL-0026", pid)
    # other names in that dir stay out of the stream
    other = os.path.join(env.etc, "other")
    open(other, "w").write("")
    pid = spawn(["rm", "other"], cwd=env.etc)
    settle(env, pid)
    assert not [e for e in env.a.lines() if get(e, "process.pid") == pid and
                get(e, "event.action") == "unlink"]


@test
def agent_tool_recon_VGL_0022(env):
    pid = server(env, "import subprocess; subprocess.run(['id'], stdout=subprocess.DEVNULL)")
    expect_alert(env, "VGL-0022", pid)
    pid = spawn(["id"], stdout=subprocess.DEVNULL)
    expect_none(env, "VGL-0022", pid)


@test
def listener_in_workload_VGL_0024(env):
    listen = "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()"
    # check=True: a listener killed before it listened (by a vigild left over
    # from another run, whose playbook kills this "shell") fails by name
    p = subprocess.Popen([PY, env.server, f"import subprocess; subprocess.run([{PY!r}, '-c', "
                                          f"{listen!r}], check=True)"],
                         stderr=subprocess.PIPE, text=True)
    err = p.communicate(timeout=60)[1]
    assert p.returncode == 0, err.splitlines()[-1:]
    expect_alert(env, "VGL-0024", p.pid)
    pid = server(env, listen)  # the server itself listening
    expect_none(env, "VGL-0024", pid)


@test
def sensor_tampering_VGL_0025(env):
    cfg = os.path.join(env.vigilcfg, "vigil.yaml")
    pid = spawn(["/bin/sh", "-c", f"echo tampered >> {cfg}"])
    expect_alert(env, "VGL-0025", pid)
    pid = spawn(["cat", cfg], stdout=subprocess.DEVNULL)
    expect_none(env, "VGL-0025", pid)


@test
def names_rules_dir_tampering_VGL_0025(env):
    # the rules directory: renamed away, chmod'ed, removed (no model extension in the names)
    rules = os.path.join(env.vigilcfg, "rules.d")
    r, s = os.path.join(rules, "r.yaml"), os.path.join(rules, "s.yaml")
    open(r, "w").write("[]\n")
    open(s, "w").write("[]\n")
    pid = spawn(["mv", r, os.path.join(env.tmp, "r.yaml")])
    change_event(env, "rename", pid, r)
    expect_alert(env, "VGL-0025", pid)
    pid = spawn(["chmod", "666", s])
    change_event(env, "chmod", pid, s)
    expect_alert(env, "VGL-0025", pid)
    pid = spawn(["rm", "s.yaml"], cwd=rules)
    change_event(env, "unlink", pid, s)
    expect_alert(env, "VGL-0025", pid)


@test
def signal_to_the_sensor_VGL_0125(env):
    agent = env.a.proc.pid
    pid = spawn(["/bin/sh", "-c", f"kill -STOP {agent}; sleep 0.5; kill -CONT {agent}"])
    e = expect_alert(env, "VGL-0125", pid)
    assert get(e, "vigil.signal.name") == "SIGSTOP" and get(e, "vigil.target.pid") == agent
    pid = spawn(["/bin/sh", "-c", f"kill -HUP {agent}"])  # reopen + reload: what SIGHUP is for
    env.a.wait_for(lambda e: get(e, "event.action") == "signal" and get(e, "process.pid") == pid,
                   what="the SIGHUP signal event")
    expect_none(env, "VGL-0125", pid)


@test
def the_sensor_does_not_watch_itself(env):
    """vigild's own opens (the sniffer reading a model, a GPU node lookup,
    /proc) are filtered in the kernel: none reaches the stream, so no rule
    names vigild (VGL-0018/0118 would ask a playbook to kill it)."""
    agent = env.a.proc.pid
    fresh = os.path.join(env.a.models, "self-check.safetensors")  # not in the sniffer's cache
    open(fresh, "wb").write(SAFETENSORS)
    pid = spawn(["cat", fresh], stdout=subprocess.DEVNULL)
    # the sniffer has read it: its model-format verdict is in the stream
    env.a.wait_for(lambda e: get(e, "event.action") == "model-format" and get(e, "file.path") == fresh,
                   what="the sniffer's model-format event")
    settle(env, pid)
    pid = spawn(["head", "-c", "1", env.a.gpu], stdout=subprocess.DEVNULL)
    settle(env, pid)
    own = [e for e in env.a.lines(alerts=None) if get(e, "process.pid") == agent]
    assert not own, [(get(e, "event.action"), get(e, "file.path"), get(e, "rule.id")) for e in own][:10]
    named = [e for e in env.a.lines(alerts=True) if get(e, "rule.id") in ("VGL-0009", "VGL-0018", "VGL-0118")
             and agent in pids_of(e) - {get(e, "process.parent.pid")}]
    assert not named, [get(e, "message") for e in named]


MEMFD_EXEC = """import os
fd = os.memfd_create(%r, 0)  # no MFD_CLOEXEC: the fd must survive into the exec
os.write(fd, open('/bin/true', 'rb').read())
os.execv(f'/proc/self/fd/{fd}', ['payload'])
"""

DELETED_EXEC = """import os, shutil, sys
shutil.copy('/bin/true', sys.argv[1])
fd = os.open(sys.argv[1], os.O_RDONLY)
os.unlink(sys.argv[1])
os.execv(f'/proc/self/fd/{fd}', ['gone'])
"""


def exec_of(env, pid):
    return env.a.wait_for(lambda e: get(e, "event.action") == "exec" and get(e, "process.pid") == pid
                          and not get(e, "process.executable", "").startswith("/usr/bin/python"),
                          what=f"exec of {pid}")[0]


@test
def fileless_exec_VGL_0027(env):
    pid = spawn([PY, "-c", MEMFD_EXEC % "payload"])
    ev = exec_of(env, pid)
    assert get(ev, "process.executable") == "/memfd:payload", get(ev, "process.executable")
    assert get(ev, "vigil.process.exe_memfd") is True and get(ev, "vigil.process.exe_deleted") is True
    e = expect_alert(env, "VGL-0027", pid)
    assert get(e, "vigil.severity") == "high" and "T1620" in get(e, "threat.technique.id")
    dropped = os.path.join(env.tmp, "dropped")
    pid = spawn([PY, "-c", DELETED_EXEC, dropped])
    ev = exec_of(env, pid)
    assert get(ev, "process.executable") == dropped and get(ev, "vigil.process.exe_deleted") is True
    assert get(ev, "vigil.process.exe_memfd") is None
    expect_alert(env, "VGL-0027", pid)
    # runc re-executes itself from a memfd of that name: the runtime's own
    pid = spawn([PY, "-c", MEMFD_EXEC % "runc_cloned:/proc/self/exe"])
    expect_none(env, "VGL-0027", pid)
    pid = spawn([PY, "-c", "import os; os.execv('/bin/true', ['true'])"])
    ev = exec_of(env, pid)
    assert get(ev, "vigil.process.exe_memfd") is None and get(ev, "vigil.process.exe_deleted") is None
    expect_none(env, "VGL-0027", pid)


def status_of(env):
    out = subprocess.run([VIGIL, "--socket", env.a.sock, "--json", "status"], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def workload_watches(env):
    return {w["path"]: w for w in status_of(env)["workload_watches"]["active"]}


def watch_event(env, action, path):
    return env.a.wait_for(lambda e: get(e, "event.action") == action and get(e, "vigil.watch.path") == path,
                          what=f"{action} {path}")[0]


@test
def workload_env_and_argv_paths_are_watched(env):
    """A server run with HF_HOME and --model elsewhere: its cache, token and
    model dir become watches while it runs (VGL-0009/VGL-0013 fire there),
    and are dropped when it exits."""
    hf = os.path.join(env.tmp, "hf")
    blobs = os.path.join(hf, "hub", "models--org--m", "blobs")
    os.makedirs(blobs)
    blob = os.path.join(blobs, "ab" * 32)  # a content-addressed blob: no extension
    open(blob, "wb").write(SAFETENSORS)
    token = os.path.join(hf, "token")
    open(token, "w").write("hf_dummy")
    served = os.path.join(env.tmp, "served-model")
    os.makedirs(served)
    weights = os.path.join(served, "c" * 40)
    open(weights, "wb").write(SAFETENSORS)
    hub = os.path.join(hf, "hub")
    srv = subprocess.Popen([PY, env.server, "import sys; sys.stdin.read()", "--model", served],
                           stdin=subprocess.PIPE, env=dict(os.environ, HF_HOME=hf, OLLAMA_MODELS="/",
                                                           TORCH_HOME="relative/dir", HF_TOKEN_PATH="/proc/self/environ"))
    try:
        e = watch_event(env, "watch-added", hub)
        assert get(e, "vigil.watch.kind") == "model-dir", e
        assert get(e, "vigil.watch.reason") == f"HF_HOME of pid {srv.pid} (python3)", get(e, "vigil.watch.reason")
        assert get(watch_event(env, "watch-added", token), "vigil.watch.kind") == "credential"
        assert "--model of pid" in get(watch_event(env, "watch-added", served), "vigil.watch.reason")
        ws = workload_watches(env)
        assert {hub, token, served} <= set(ws), ws
        # hostile values add nothing: "/", a relative path, /proc
        assert not [p for p in ws if p in ("/", "/proc/self/environ") or not p.startswith("/")], ws
        assert status_of(env)["workload_watches"]["refused"] >= 3  # and each is counted
        pid = spawn([PY, "-c", f"open({blob!r}, 'rb').read(); open({weights!r}, 'rb').read()"])
        expect_alert(env, "VGL-0009", pid)
        settle(env, pid)
        hits = [get(a, "file.path") for a in alerts_for(env, "VGL-0009", pid)]
        assert set(hits) == {blob, weights}, hits
        pid = spawn(["cat", token], stdout=subprocess.DEVNULL)
        assert get(expect_alert(env, "VGL-0013", pid), "file.path") == token
    finally:
        srv.stdin.close()
        srv.wait(timeout=30)
    e = watch_event(env, "watch-removed", hub)
    assert f"pid {srv.pid}" in get(e, "vigil.watch.reason"), e
    watch_event(env, "watch-removed", served)
    assert not {hub, token, served} & set(workload_watches(env))
    pid = spawn([PY, "-c", f"open({blob!r}, 'rb').read()"])
    expect_none(env, "VGL-0009", pid)


@test
def workload_watches_survive_sighup(env):
    cache = os.path.join(env.tmp, "ollama-models")
    os.makedirs(os.path.join(cache, "blobs"), exist_ok=True)
    blob = os.path.join(cache, "blobs", "sha256-" + "d" * 64)
    open(blob, "wb").write(SAFETENSORS)
    srv = subprocess.Popen([PY, env.server, "import sys; sys.stdin.read()"], stdin=subprocess.PIPE,
                           env=dict(os.environ, OLLAMA_MODELS=cache))
    try:
        watch_event(env, "watch-added", cache)
        before = {get(e, "event.sequence") for e in env.a.lines() if get(e, "event.action") == "rules-reload"}
        env.a.proc.send_signal(signal.SIGHUP)
        env.a.wait_for(lambda e: get(e, "event.action") == "rules-reload" and
                       get(e, "event.sequence") not in before, what="the reload")
        assert cache in workload_watches(env)
        pid = spawn([PY, "-c", f"open({blob!r}, 'rb').read()"])
        assert get(expect_alert(env, "VGL-0009", pid), "file.path") == blob
    finally:
        srv.stdin.close()
        srv.wait(timeout=30)
    watch_event(env, "watch-removed", cache)


@test
def replay_of_the_recorded_stream_raises_the_same_alerts(env):
    live = {(get(e, "rule.id"), get(e, "vigil.alert.trigger.id")) for e in env.a.lines(alerts=True)}
    out = subprocess.run([VIGIL, "replay", "--rules", os.path.join(ROOT, "rules"), "--rules",
                          env.local, env.a.events], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    replayed = {(get(json.loads(l), "rule.id"), get(json.loads(l), "vigil.alert.trigger.id"))
                for l in out.stdout.splitlines()}
    missing = live - replayed
    assert not missing, f"live alerts replay did not raise: {sorted(missing)[:10]}"
    assert "0 malformed" in out.stderr, out.stderr
    falco = subprocess.run([VIGIL, "replay", "--falco", "--rules", os.path.join(ROOT, "rules"),
                            "--rules", env.local, env.a.events], capture_output=True, text=True,
                           timeout=120)
    f = json.loads(falco.stdout.splitlines()[0])
    assert set(f) >= {"time", "rule", "priority", "output", "output_fields", "tags", "hostname", "source"}


@test
def falco_file_gets_the_live_alerts(env):
    lines = [json.loads(l) for l in open(env.falco)]
    assert lines, "no Falco-format alerts written"
    crit = [l for l in lines if l["rule"] == "Shell spawned by model loader"]
    assert crit and crit[0]["priority"] == "Critical" and crit[0]["source"] == "vigil"
    assert "process.command_line" in crit[0]["output_fields"] and crit[0]["tags"]


@test
def rules_check_and_vigild_check_name_the_typo(env):
    bad = os.path.join(env.tmp, "typo.yaml")
    open(bad, "w").write("- rule: typo\n  id: X-2\n  severity: high\n  condition: >\n"
                         "    event.action = exec and\n    process.nmae = sh\n")
    out = subprocess.run([VIGIL, "rules", "check", bad], capture_output=True, text=True, timeout=30)
    assert out.returncode == 1, out
    assert f"{bad}:6:5: unknown field 'process.nmae' (did you mean 'process.name'?)" in out.stderr, out.stderr
    out = subprocess.run([os.path.join(os.path.dirname(VIGIL), "vigild"), "--config", env.a.config,
                          "--rules", bad, "--check"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and f"{bad}:6:5:" in out.stderr, out.stderr
    out = subprocess.run([VIGIL, "rules", "check", os.path.join(ROOT, "rules")], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.startswith("OK: "), out


@test
def replay_reports_malformed_lines_by_number(env):
    good = [l for l in open(env.a.events) if '"kind":"event"' in l][:3]
    data = good[0] + "{not json\n" + good[1] + '{"event": {"action": "exec"}, "x": [1,}\n' + good[2]
    out = subprocess.run([VIGIL, "replay", "--rules", os.path.join(ROOT, "rules"), "-"], input=data,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "-:2: malformed JSON at byte 2" in out.stderr and "-:4: malformed JSON" in out.stderr, out.stderr
    assert "3 events" in out.stderr and "2 malformed lines skipped" in out.stderr, out.stderr


@test
def rules_reload_keeps_running_rules_on_error(env):
    bad = os.path.join(env.local, "zz-typo.yaml")
    open(bad, "w").write("- rule: typo\n  id: X-1\n  severity: low\n  condition: proc.name = x\n")
    out = subprocess.run([VIGIL, "--socket", env.a.sock, "rules", "reload"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 1 and "zz-typo.yaml:4:14: unknown field 'proc.name'" in out.stderr, out.stderr
    pid = server(env, "import subprocess; subprocess.run(['/bin/sh', '-c', 'true'])")
    expect_alert(env, "VGL-0001", pid)  # the old rules still run
    os.unlink(bad)
    out = subprocess.run([VIGIL, "--socket", env.a.sock, "rules", "reload"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    env.a.wait_for(lambda e: get(e, "event.action") == "rules-reload", what="rules-reload event")


def start(env):
    setup_netns()
    env.start()


def stop(env):
    env.a.stop()
    env.a.cleanup()
    subprocess.run(["ip", "netns", "del", NETNS], stderr=subprocess.DEVNULL)
    try:
        os.rmdir(env.workload_cg)
    except OSError:
        pass


def main():
    return run_suite("rules-integration", TESTS, Env, start=start, finish=stop,
                     log=lambda env: env.a.stderr, prefix="vigil-rt-")


if __name__ == "__main__":
    sys.exit(main())
