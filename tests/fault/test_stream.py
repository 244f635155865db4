#!/usr/bin/python3
"""Fault injection on the event stream: a real vigild killed with SIGKILL in
the middle of a flood, a disk that fills up (and a crash while it is full),
and a ring buffer that overflows while the agent is stopped. After each:
every line on disk is JSON, `vigil verify` passes, and whatever was lost is
counted and said in the stream (agent-start's vigil.agent.previous,
events-truncated, drop events) and in `vigil status` — never silent.
Prints "fault-stream: N passed, N failed".
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Agent, VIGIL, get, registry, running, suite_main  # noqa: E402
from harness import SCHEMA  # noqa: E402

TESTS, test = registry()

# execs as fast as a shell can start them, opens of a watched model file
EXEC_FLOOD = 'i=0; while [ $i -lt {n} ]; do /bin/true; i=$((i+1)); done'
OPEN_FLOOD = "import sys\nfor i in range(int(sys.argv[2])): open(sys.argv[1]).close()"


def flood(a, execs=20000, opens=20000):
    hot = os.path.join(a.models, "hot.gguf")
    open(hot, "w").write("x")
    return [subprocess.Popen(["/bin/sh", "-c", EXEC_FLOOD.format(n=execs)]),
            subprocess.Popen([sys.executable, "-c", OPEN_FLOOD, hot, str(opens)])]


def finish(procs):
    for p in procs:
        p.wait(timeout=120)


def stop_all(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=30)


def status(a):
    out = subprocess.run([VIGIL, "--socket", a.sock, "--json", "status"], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def whole_lines(path):
    """Every line of the file is one JSON object, and the file ends with a newline."""
    raw = open(path, "rb").read()
    assert raw.endswith(b"\n"), f"{path} ends with a torn line: {raw[-80:]!r}"
    for n, line in enumerate(raw.split(b"\n")[:-1], 1):
        try:
            json.loads(line)
        except ValueError:
            raise AssertionError(f"{path}:{n} is not JSON: {line[:120]!r}")
    return raw


def schema_valid(*events):
    import jsonschema
    v = jsonschema.Draft202012Validator(json.load(open(SCHEMA)))
    for e in events:
        errs = [f"{'/'.join(map(str, x.path))}: {x.message}" for x in v.iter_errors(e)]
        assert not errs, errs


def verify(*files):
    out = subprocess.run([VIGIL, "verify", *files], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("OK:"), out.stdout[-2000:] + out.stderr
    return out.stdout


def last_whole_line(raw):
    return json.loads(raw[:raw.rindex(b"\n")].rsplit(b"\n", 1)[-1])


def restart_after_crash(a, raw):
    """Start again on what the crash left (raw); return agent-start and events-truncated."""
    last = last_whole_line(raw)
    torn = len(raw) - (raw.rindex(b"\n") + 1)
    a.start()
    start = a.wait_for(lambda e: get(e, "event.action") == "agent-start"
                       and get(e, "vigil.agent.pid") == a.proc.pid, what="agent-start")[0]
    prev = get(start, "vigil.agent.previous")
    # the gap: the old run's stream ends there, and it did not stop
    assert prev == {"ephemeral_id": get(last, "agent.ephemeral_id"),
                    "last_sequence": get(last, "event.sequence"),
                    "chain_head": start["vigil"]["chain"],
                    "stopped_cleanly": False}, (prev, get(last, "event.sequence"))
    assert "did not stop cleanly" in open(a.stderr).read()
    cut = None
    if torn:
        cut = a.wait_for(lambda e: get(e, "event.action") == "events-truncated", what="events-truncated")[0]
        assert get(cut, "vigil.agent.truncated.bytes") == torn, (get(cut, "vigil.agent.truncated"), torn)
        assert get(cut, "vigil.agent.truncated.at_offset") == len(raw) - torn
        assert f"cut a torn last line of {torn} bytes" in open(a.stderr).read()
        schema_valid(cut)
    schema_valid(start)
    return start, cut


@test
def kill_9_mid_flood_then_restart(tmp):
    a = Agent(tmp)
    with running(a):
        procs = flood(a)
        try:
            a.wait_for(lambda e: get(e, "process.name") == "true", what="the flood in the stream")
            time.sleep(0.5)
            a.proc.send_signal(signal.SIGKILL)  # mid-stream: lines in flight and in the backlog
            a.proc.wait(timeout=30)
        finally:
            stop_all(procs)
        raw = open(a.events, "rb").read()
        if raw.endswith(b"\n"):
            # the kill fell between two writes: leave what a write cut by it leaves,
            # the first half of a line
            last = raw[:-1].rsplit(b"\n", 1)[-1]
            with open(a.events, "ab") as f:
                f.write(last[:len(last) // 2])
            raw = open(a.events, "rb").read()
        restart_after_crash(a, raw)
        a.wait_for(lambda e: get(e, "event.action") == "heartbeat"
                   and get(e, "agent.ephemeral_id") != get(last_whole_line(raw), "agent.ephemeral_id"),
                   what="a heartbeat of the new run")
        assert a.stop() == 0  # files are checked at rest: a live one may end mid-write
        whole_lines(a.events)
        verify(a.events)  # one chain across the crash and the cut
        # that clean stop says so at the next start
        a.start()
        start = a.wait_for(lambda e: get(e, "event.action") == "agent-start"
                           and get(e, "vigil.agent.pid") == a.proc.pid, what="agent-start")[0]
        assert get(start, "vigil.agent.previous.stopped_cleanly") is True
        assert not [e for e in a.lines() if get(e, "event.action") == "events-truncated"
                    and get(e, "agent.ephemeral_id") == get(start, "agent.ephemeral_id")]


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


@test
def full_disk_drops_counted_and_a_crash_while_full_leaves_whole_lines(tmp):
    disk = os.path.join(tmp, "small")
    os.makedirs(disk)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", disk], check=True)
    try:
        a = Agent(os.path.join(tmp, "a"), capture="  fold_window: 0\n")
        a.events = os.path.join(disk, "events.jsonl")
        with running(a):
            # ~1.5 KiB per event: overflows the disk and the 16 MiB backlog
            finish(flood(a, execs=0, opens=20000))
            deadline = time.time() + 20
            while time.time() < deadline:
                st = status(a)
                if st["file_sink"]["write_errors"] and st["file_sink"]["dropped"]:
                    break
                time.sleep(0.5)
            assert st["file_sink"]["write_errors"] > 0 and st["file_sink"]["dropped"] > 0, st["file_sink"]
            assert st["drops"]["sink_file"] == st["file_sink"]["dropped"]
            assert a.proc.poll() is None
            subprocess.run(["mount", "-o", "remount,size=256m", disk], check=True)
            # writing resumes, and every line dropped is reported in the file: drop
            # events dropped themselves while the disk was full are said again
            deadline = time.time() + 30
            while time.time() < deadline:
                reported = sum(get(e, "vigil.agent.lost.sink_file", 0) for e in a.lines()
                               if get(e, "event.action") == "drop")
                st = status(a)["file_sink"]
                if reported == st["dropped"] and not st["backlog_bytes"]:
                    break
                time.sleep(0.5)
            assert reported == st["dropped"] and not st["backlog_bytes"], (reported, st)
            # full again, then a crash: the short write left a torn line on disk
            filler = os.path.join(disk, "filler")
            with open(filler, "wb") as f:
                f.write(b"\0" * (free_bytes(disk) - 40000))
            finish(flood(a, execs=0, opens=3000))
            deadline = time.time() + 20
            while time.time() < deadline and not status(a)["file_sink"]["backlog_bytes"]:
                time.sleep(0.2)
            assert status(a)["file_sink"]["backlog_bytes"] > 0
            a.proc.send_signal(signal.SIGKILL)
            a.proc.wait(timeout=30)
            raw = open(a.events, "rb").read()
            assert not raw.endswith(b"\n"), "the full disk left no torn line"
            os.unlink(filler)
            restart_after_crash(a, raw)
            a.wait_for(lambda e: get(e, "event.action") == "heartbeat"
                       and get(e, "vigil.agent.uptime_s") is not None
                       and get(e, "agent.ephemeral_id") != get(last_whole_line(raw), "agent.ephemeral_id"),
                       what="a heartbeat of the new run")
            assert a.stop() == 0
            whole_lines(a.events)
            verify(a.events)  # dropped lines never entered the chain; the cut one left it
    finally:
        subprocess.run(["umount", "-l", disk])


@test
def ring_buffer_overflow_while_stopped_is_counted_and_reported(tmp):
    a = Agent(tmp, capture="  ring_buffer_size: 64KiB\n")
    n = 3000
    with running(a):
        os.kill(a.proc.pid, signal.SIGSTOP)  # nothing drains: the 64 KiB ring fills
        try:
            p = subprocess.run(["/bin/sh", "-c", EXEC_FLOOD.format(n=n)], timeout=120)
            assert p.returncode == 0
        finally:
            os.kill(a.proc.pid, signal.SIGCONT)
        a.wait_for(lambda e: get(e, "event.action") == "drop"
                   and get(e, "vigil.agent.lost.ringbuf_full_exec", 0) > 0, what="a drop event")
        a.wait_for(lambda e: get(e, "event.action") == "heartbeat", what="a heartbeat after it")
        st = status(a)["drops"]
        time.sleep(1.5)  # a tick after the status: every drop counted is also in the stream
        reported = {}
        for e in a.lines():
            if get(e, "event.action") == "drop":
                for k, v in get(e, "vigil.agent.lost").items():
                    reported[k] = reported.get(k, 0) + v
        assert st["ringbuf_full_exec"] > 0, st
        for k, v in st.items():
            if k.startswith("ringbuf_full_"):
                assert reported.get(k, 0) >= v, (k, reported.get(k, 0), v)
        # nothing vanished: each exec of the flood is in the stream or counted as dropped
        seen = sum(1 for e in a.lines() if get(e, "event.action") == "exec" and get(e, "process.name") == "true")
        assert seen + st["ringbuf_full_exec"] >= n, (seen, st["ringbuf_full_exec"])
        assert seen < n, "the ring never overflowed"
        assert a.stop() == 0
        whole_lines(a.events)
        verify(a.events)


if __name__ == "__main__":
    sys.exit(suite_main("fault-stream", TESTS))
