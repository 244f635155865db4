#!/usr/bin/python3
"""Workload-derived watches when the workload is not seen starting: a server
already running when vigild starts (first sight is the /proc seed) gets its
watches, said after agent-start, and gives them back when it is killed.
Prints "fault-workload: N passed, N failed"."""
import os
import shutil
import signal
import subprocess
import sys

from common import Agent, get, registry, running, suite_main

TESTS, test = registry()


def fake_server(tmp, env):
    """A program vigil's test config calls an inference workload (executables: [fake-vllm])."""
    exe = os.path.join(tmp, "fake-vllm")
    shutil.copy("/bin/sleep", exe)
    return subprocess.Popen([exe, "600"], env=dict(os.environ, **env))


def watch_event(a, action, path):
    return a.wait_for(lambda e: get(e, "event.action") == action and get(e, "vigil.watch.path") == path,
                      timeout=20, what=f"{action} {path}")[0]


@test
def workload_running_before_start_gets_its_watches(tmp):
    hub = os.path.join(tmp, "hf", "hub")
    blob = os.path.join(hub, "models--o--m", "blobs", "e" * 64)
    os.makedirs(os.path.dirname(blob))
    open(blob, "wb").write(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    srv = fake_server(tmp, {"HF_HOME": os.path.join(tmp, "hf")})
    try:
        with running(Agent(tmp)) as a:
            e = watch_event(a, "watch-added", hub)
            assert get(e, "vigil.watch.reason") == f"HF_HOME of pid {srv.pid} (fake-vllm)", e
            starts = [x for x in a.lines() if get(x, "event.action") == "agent-start"]
            assert get(starts[0], "event.sequence") < get(e, "event.sequence")  # said after the start
            cat = subprocess.run(["cat", blob], stdout=subprocess.DEVNULL)
            assert cat.returncode == 0
            a.wait_for(lambda x: get(x, "event.action") == "open" and get(x, "file.path") == blob
                       and get(x, "vigil.file.kind") == "model", what="the blob's open")
            srv.send_signal(signal.SIGKILL)
            srv.wait(timeout=10)
            watch_event(a, "watch-removed", hub)
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(suite_main("fault-workload", TESTS))
