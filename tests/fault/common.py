"""The fault-injection harness: each case gets a fresh temp dir and its own
private vigild (tests/integration/harness.py's Agent), injects one fault, and checks
that nothing was lost or corrupted. Test files only hold cases:

    from common import Agent, registry, running, suite_main
    TESTS, test = registry()

    @test
    def client_hangs_up_early(tmp):
        with running(Agent(tmp)) as a:
            ...

    if __name__ == "__main__":
        sys.exit(suite_main("fault-control", TESTS))
"""
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from harness import (Agent, CGROUP2, ROOT, VIGIL, VIGILD, WebhookReceiver, get,  # noqa: E402,F401
                     reap_pins, registry, run_one, selected, wait_until)


def suite_main(label, tests):
    """Run each selected case in its own temp dir; print '<label>: N passed, N failed'."""
    if os.geteuid() != 0:
        print(f"{label}: needs root (a real vigild loads eBPF programs): run sudo make test",
              file=sys.stderr)
        print(f"{label}: 0 passed, 1 failed")
        return 1
    passed = failed = 0
    for t in selected(tests):
        tmp = tempfile.mkdtemp(prefix="vigil-fault-")
        os.chmod(tmp, 0o755)
        try:
            ok = run_one(t.__name__, t, tmp)
            ok = not reap_pins(f"{label}: {t.__name__}") and ok
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        passed, failed = passed + ok, failed + (not ok)
    print(f"{label}: {passed} passed, {failed} failed")
    return 1 if failed else 0


class running:
    """`with running(Agent(tmp)) as a:` — started, and always stopped and its
    kernel state (pins, quarantine cgroups) removed, whatever the case did."""

    def __init__(self, agent, **start_kw):
        self.a, self.kw = agent, start_kw

    def __enter__(self):
        self.a.start(**self.kw)
        return self.a

    def __exit__(self, *exc):
        try:
            if self.a.proc and self.a.proc.poll() is None:
                self.a.proc.kill()
                self.a.proc.wait(timeout=30)
        finally:
            self.a.cleanup()
        if exc[0] is not None and os.path.exists(self.a.stderr):
            print(open(self.a.stderr, errors="replace").read()[-2000:], file=sys.stderr)
        return False
