#!/usr/bin/python3
"""Fault: SIGHUPs (logrotate) while a watched file is being opened. A reload
re-resolves every watch glob; no open of a file watched before and after it
may go unseen while it does (new entries are added before stale ones go)."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Agent, get, registry, running, suite_main  # noqa: E402

TESTS, test = registry()

# opens the file until the stop file appears, ~1 per ms; prints how many
OPENER = """import os, sys, time
path, stop, n = sys.argv[1], sys.argv[2], 0
while not os.path.exists(stop):
    os.close(os.open(path, os.O_RDONLY)); n += 1
    time.sleep(0.001)
print(n)
"""


def reloads(a):
    """Reloads done so far, from vigild's log: cheaper than parsing the stream."""
    with open(a.stderr, errors="replace") as f:
        return f.read().count("rules reloaded")


@test
def sighup_burst_misses_no_open_of_a_watched_file(tmp):
    a = Agent(tmp, capture="  fold_window: 0\n")  # every open is its own event
    # 3000 other watched files resolved with it: a reload has real work to do
    decoys = os.path.join(tmp, "decoys")
    os.makedirs(decoys)
    for i in range(3000):
        open(os.path.join(decoys, f"d{i}"), "w").close()
    token = os.path.join(a.creds, "token")
    with open(a.config) as f:
        cfg = f.read().replace(f"credential_files: [{token}]", f"credential_files: [{decoys}/*, {token}]")
    cfg = cfg.replace("output:\n", "output:\n  max_size: 1G\n")  # one file to count in
    with open(a.config, "w") as f:
        f.write(cfg)
    stop = os.path.join(tmp, "stop")
    with running(a):
        opener = subprocess.Popen([sys.executable, "-c", OPENER, token, stop],
                                  stdout=subprocess.PIPE, text=True)
        mine = lambda e: (e["event"]["action"] == "open" and get(e, "process.pid") == opener.pid
                          and get(e, "file.path") == token)
        a.wait_for(mine, what="the opener's first open")
        for i in range(20):  # each one handled before the next: 20 reloads, not 1 coalesced
            before = reloads(a)
            a.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 20
            while reloads(a) == before:
                assert time.time() < deadline and a.proc.poll() is None, f"reload {i + 1} not seen"
                time.sleep(0.05)
        open(stop, "w").close()
        made = int(opener.communicate(timeout=30)[0])
        deadline = time.time() + 30
        while time.time() < deadline and len([e for e in a.lines() if mine(e)]) < made:
            time.sleep(1)
        seen = len([e for e in a.lines() if mine(e)])
        beats = [e for e in a.lines() if e["event"]["action"] == "heartbeat"]
        drops = (get(beats[-1], "vigil.agent.drops"), get(beats[-1], "vigil.agent.file_sink")) if beats else None
        assert seen == made, f"{made} opens during 20 reloads, {seen} seen; drops: {drops}"
        assert reloads(a) >= 20


if __name__ == "__main__":
    sys.exit(suite_main("fault-reload", TESTS))
