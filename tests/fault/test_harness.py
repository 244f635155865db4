#!/usr/bin/python3
"""Fault injection on the test harness itself: a harness killed mid-run (a
`timeout` around a suite, a crash) must not leave its vigild behind. A left
vigild keeps its default playbooks and kills what later suites' fake model
servers spawn (VGL-0001), e.g. the listener of VGL-0024 before it listens.
Nor may a suite leave containment pinned (attached to the host) unnoticed.
Prints "fault-harness: N passed, N failed".
"""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Agent, ROOT, registry, suite_main  # noqa: E402

TESTS, test = registry()


def alive(pid):
    """Running, not a zombie waiting for init to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@test
def vigild_dies_with_a_harness_killed_by_sigkill(tmp):
    a = Agent(tmp)
    r, w = os.pipe()
    harness = os.fork()
    if harness == 0:  # the harness that a timeout kills: no finally, no stop()
        try:
            os.close(r)
            a.start()
            os.write(w, str(a.proc.pid).encode())
            os.close(w)
            time.sleep(300)
        finally:
            os._exit(1)  # never back into the suite's code
    os.close(w)
    with os.fdopen(r) as f:
        vigild = int(f.read() or 0)
    os.kill(harness, signal.SIGKILL)
    os.waitpid(harness, 0)
    try:
        assert vigild, "the harness did not start vigild"
        deadline = time.time() + 10
        while alive(vigild) and time.time() < deadline:
            time.sleep(0.1)
        assert not alive(vigild), f"vigild {vigild} outlived its harness"
    finally:
        if vigild and alive(vigild):
            os.kill(vigild, signal.SIGKILL)
        a.cleanup()


# a suite whose one test contains a process and stops vigild without cleanup():
# the cell is held, so its pins stay (by design), attached to the host
LEAKY = """import os, subprocess, sys
sys.path.insert(0, %r)
from harness import VIGIL, Agent, run_suite, registry
TESTS, test = registry()

@test
def contains_and_forgets_its_pins(tmp):
    a = Agent(tmp)
    a.start()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        subprocess.run([VIGIL, "--socket", a.sock, "contain", "--pid", str(sleeper.pid), "--isolate"],
                       check=True, capture_output=True, timeout=30)
        assert a.stop() == 0
        assert os.path.exists(a.pin_dir)
    finally:
        sleeper.kill()
        sleeper.wait()

sys.exit(run_suite("leaky", TESTS, lambda tmp: tmp))
"""


@test
def a_suite_that_leaves_pins_fails_and_they_are_removed(tmp):
    script = os.path.join(tmp, "leaky.py")
    open(script, "w").write(LEAKY % os.path.join(ROOT, "tests", "integration"))
    env = {k: v for k, v in os.environ.items() if k != "ONLY"}  # its one test, whatever ours ran
    p = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=180, env=env)
    left = re.search(r"^leaky: leaked pin dir (\S+) \(.*link_contain_connect4.*\): removed$", p.stderr, re.M)
    assert left, (p.stdout, p.stderr[-2000:])
    assert p.returncode == 1 and p.stdout.splitlines()[-1] == "leaky: 1 passed, 1 failed", p.stdout
    assert not os.path.exists(left.group(1)), f"{left.group(1)} left behind"


if __name__ == "__main__":
    sys.exit(suite_main("fault-harness", TESTS))
