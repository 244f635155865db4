#!/usr/bin/python3
"""Fault injection on the control socket: clients that hang up early, stall,
say nothing, send too much, or have no right to ask. In every case vigild
stays up, its stream keeps flowing (an exec made afterwards reaches the
events file), another client is still answered, and the bad client is
dropped and counted (`vigil status --json`: control.*).
Prints "fault-control: N passed, N failed"."""
import grp
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import threading
import time

from common import VIGIL, Agent, get, registry, running, suite_main

TESTS, test = registry()
WAIT = 15  # bounded waits, generous: the old loop stalled for as long as a client liked


def connect(a):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(a.sock)
    except ConnectionRefusedError:
        try:
            rc = a.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            rc = "none yet"
        raise AssertionError(f"vigild is gone: exit status {rc}") from None
    return s


def status(a):
    """`vigil --json status` must answer; its parsed reply."""
    out = subprocess.run([VIGIL, "--socket", a.sock, "--json", "status"], capture_output=True,
                         text=True, timeout=WAIT)
    assert out.returncode == 0, (out.returncode, out.stderr)
    return json.loads(out.stdout)


def stream_flows(a, tag):
    """An exec made now reaches the events file (the loop is not stalled)."""
    p = subprocess.Popen(["/bin/true", f"vigil-fault-{tag}"])
    p.wait(timeout=WAIT)
    a.wait_for(lambda e: e["event"]["action"] == "exec" and get(e, "process.pid") == p.pid,
               timeout=WAIT, what=f"the exec after {tag}")
    assert a.proc.poll() is None


def read_line(s, timeout=WAIT):
    """One reply line (b'' on EOF before a newline)."""
    s.settimeout(timeout)
    buf = b""
    while not buf.endswith(b"\n"):
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return b""
        buf += chunk
    return buf


def wait_closed(s, timeout=WAIT):
    """The server closed the connection: reads reach EOF (what was sent is discarded)."""
    s.settimeout(timeout)
    try:
        while s.recv(1 << 20):
            pass
    except ConnectionResetError:
        pass


def counters(a):
    return get(status(a), "control")


def wait_counter(a, name, at_least):
    deadline = time.time() + WAIT
    while time.time() < deadline:
        c = counters(a)
        if c and c.get(name, 0) >= at_least:
            return c
        time.sleep(0.2)
    raise AssertionError(f"control.{name} never reached {at_least}: {counters(a)}")


@test
def early_hangups_do_not_kill_vigild(tmp):
    """Status/incidents/events requests closed before the reply, some mid-request."""
    reqs = [b'{"cmd":"status"}\n', b'{"cmd":"incidents"}\n', b'{"cmd":"events"}\n',
            b'{"cmd":"sta', b'{"cmd":"events","max":1000}']
    with running(Agent(tmp)) as a:
        for _ in range(6):
            socks = [connect(a) for _ in range(10)]
            for i, s in enumerate(socks):
                s.sendall(reqs[i % len(reqs)])
            for s in socks:
                s.close()
        stream_flows(a, "hang-ups")
        c = counters(a)
        assert c["hung_up"] >= 1, c


def fill_recent_ring(a, execs=300):
    """300 execs with 1900-byte arguments fill the 2 MiB ring of recent lines."""
    arg = "A" * 1900
    subprocess.run(["/bin/sh", "-c", f'for i in $(seq {execs}); do /bin/true {arg}; done'],
                   timeout=120, check=True)
    a.wait_for(lambda e: e["event"]["action"] == "exec" and
               get(e, "process.args", [None, ""])[-1] == arg, timeout=WAIT, what="the flood")
    time.sleep(1)  # its exits too


@test
def stalled_reader_does_not_stall_the_agent(tmp):
    with running(Agent(tmp)) as a:
        fill_recent_ring(a)
        stalled = connect(a)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(b'{"cmd":"events","max":1000}\n')
        time.sleep(0.5)  # the reply is being written and not taken
        stream_flows(a, "stalled reader")
        status(a)
        c = wait_counter(a, "timed_out", 1)  # dropped at its deadline, never having read
        assert c["clients"] == 1, c  # the asker only
        wait_closed(stalled)  # what it reads now is a part of the reply, then EOF
        stalled.close()
        stream_flows(a, "stalled reader dropped")


@test
def events_larger_than_a_reply_come_whole(tmp):
    """The lines kept for `vigil events` (a 2 MiB ring) outgrow one reply (~1 MiB of
    lines): the CLI asks for the rest, every reply valid JSON."""
    with running(Agent(tmp)) as a:
        fill_recent_ring(a)
        p = subprocess.Popen(["/bin/true", "vigil-fault-last"])
        p.wait(timeout=WAIT)
        a.wait_for(lambda e: get(e, "process.pid") == p.pid, timeout=WAIT, what="the last exec")
        out = subprocess.run([VIGIL, "--socket", a.sock, "events"], capture_output=True,
                             timeout=WAIT)
        assert out.returncode == 0, out.stderr
        lines = [json.loads(l) for l in out.stdout.splitlines()]
        assert len(out.stdout) > (1 << 20) + (1 << 19), (len(lines), len(out.stdout))
        assert any(get(e, "process.pid") == p.pid for e in lines)


@test
def silent_clients_are_dropped(tmp):
    """Clients that connect and never send a request: each once cost the loop 2 s."""
    with running(Agent(tmp)) as a:
        silent = [connect(a) for _ in range(16)]
        stream_flows(a, "silent clients")
        status(a)
        for s in silent:
            wait_closed(s)
            s.close()
        wait_counter(a, "timed_out", 16)
        stream_flows(a, "silent clients dropped")


@test
def too_many_clients_are_refused_busy(tmp):
    with running(Agent(tmp)) as a:
        held = [connect(a) for _ in range(40)]
        busy = 0
        for s in held:
            s.settimeout(0.5)
            try:
                line = s.recv(4096)
            except socket.timeout:
                continue
            if line:
                busy += 1
                assert "busy" in json.loads(line)["error"], line
        assert busy >= 1, "no client was refused"
        stream_flows(a, "too many clients")
        for s in held:
            s.close()
        status(a)
        assert counters(a)["busy"] >= busy


@test
def oversized_request_is_refused(tmp):
    with running(Agent(tmp)) as a:
        for body in (b"x" * (1 << 20),
                     b'{"cmd":"status","pad":"' + b"y" * (1 << 17) + b'"}\n'):
            s = connect(a)

            def send():
                try:
                    s.sendall(body)
                except OSError:
                    pass  # refused and closed before all of it went
            t = threading.Thread(target=send)
            t.start()
            reply = json.loads(read_line(s))
            t.join(timeout=WAIT)
            s.close()
            assert reply["ok"] is False and "too large" in reply["error"], reply
        stream_flows(a, "oversized request")
        assert counters(a)["too_large"] >= 2


class PipedAgent(Agent):
    """vigild --stdout into a pipe, its read end ours to close."""

    def start(self, env=None, args=()):
        self.reader, w = os.pipe()
        self.proc = subprocess.Popen(
            self.command(["--stdout"]),
            stdout=w, stderr=open(self.stderr, "w"), env=env)
        os.close(w)
        self.wait_for(lambda e: e["event"]["action"] == "agent-start"
                      and get(e, "vigil.agent.pid") == self.proc.pid, timeout=90,
                      what="agent-start")


@test
def stdout_reader_gone_does_not_kill_vigild(tmp):
    """SIGPIPE is ignored everywhere, not only on the socket: `vigild --stdout | x`, x exits."""
    with running(PipedAgent(tmp)) as a:
        os.close(a.reader)
        for i in range(3):
            stream_flows(a, f"stdout reader gone {i}")
        assert get(status(a), "drops.sink_stdout_errors") >= 1


def as_nobody(code, *args, stdin=""):
    nobody = pwd.getpwnam("nobody")

    def drop():
        os.setgroups([])
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)
    return subprocess.run(["/usr/bin/python3", "-c", code, *args], capture_output=True, text=True,
                          input=stdin, timeout=WAIT, preexec_fn=drop)


NOBODY_CLIENT = """import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(10)
req = sys.stdin.read().encode()
if req:
    try:
        s.sendall(req)
    except OSError:
        pass  # refused before the request went
buf = b""
while not buf.endswith(b"\\n"):
    try:
        chunk = s.recv(4096)
    except ConnectionResetError:
        chunk = b""
    if not chunk:
        break
    buf += chunk
sys.stdout.write(buf.decode())
"""


@test
def non_member_is_refused_before_any_work(tmp):
    """The socket's mode is the first gate; the peer check is the second (here
    the mode is opened up, as an admin might): refused at accept, unread."""
    with running(Agent(tmp)) as a:
        os.chmod(a.sock, 0o666)
        for req in ("", '{"cmd":"status"}\n', '{"cmd":"contain","pid":1}\n', "z" * 200000):
            out = as_nobody(NOBODY_CLIENT, a.sock, stdin=req)
            assert out.returncode == 0, out.stderr
            reply = json.loads(out.stdout or "null")
            assert reply and reply["ok"] is False and "permission denied" in reply["error"], \
                (req[:30], out.stdout, out.stderr)
        # a copy nobody can reach wherever the checkout is (a mktemp -d clone is 0700)
        vigil = shutil.copy2(VIGIL, tmp)
        out = as_nobody(f"import subprocess, sys; sys.exit(subprocess.run([{vigil!r}, "
                        f"'--socket', {a.sock!r}, 'status']).returncode)")
        assert out.returncode == 1 and "permission denied" in out.stderr \
            and out.stderr.count("\n") == 1, (out.returncode, out.stderr)
        stream_flows(a, "non-member")
        assert counters(a)["denied"] >= 5


MEMBER_HOLDER = """import socket, sys, time
held = []
for _ in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    held.append(s)
print("held", flush=True)
time.sleep(30)
"""


@test
def readers_cannot_lock_responders_out(tmp):
    """A member of the read group holding every connection it can still
    leaves root (and vigil-admin) a slot: the last few are kept for them."""
    made = subprocess.run(["groupadd", "-f", "-r", "vigil"]).returncode == 0 and \
        grp.getgrnam("vigil").gr_gid
    assert made, "cannot make the vigil group"
    nobody = pwd.getpwnam("nobody")

    def member():
        os.setgroups([made])
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)
    with running(Agent(tmp)) as a:
        assert os.stat(a.sock).st_gid == made
        h = subprocess.Popen(["/usr/bin/python3", "-c", MEMBER_HOLDER, a.sock, "40"],
                             stdout=subprocess.PIPE, text=True, preexec_fn=member)
        try:
            assert h.stdout.readline().strip() == "held"
            # at once, before the held ones reach their deadline: one try, no retry
            out = subprocess.run([VIGIL, "--socket", a.sock, "--json", "status"],
                                 capture_output=True, text=True, timeout=WAIT)
            assert out.returncode == 0 and json.loads(out.stdout)["pid"] == a.proc.pid, \
                (out.returncode, out.stdout[:200], out.stderr)
            assert counters(a)["busy"] >= 1  # the member was refused its last connections
        finally:
            h.kill()
            h.wait()


@test
def cli_still_works(tmp):
    """status, events, events --follow, incidents through the new loop."""
    with running(Agent(tmp)) as a:
        assert status(a)["pid"] == a.proc.pid
        out = subprocess.run([VIGIL, "--socket", a.sock, "events"], capture_output=True,
                             text=True, timeout=WAIT)
        assert out.returncode == 0 and any('"agent-start"' in l for l in out.stdout.splitlines())
        out = subprocess.run([VIGIL, "--socket", a.sock, "incidents"], capture_output=True,
                             text=True, timeout=WAIT)
        assert out.returncode == 0, out.stderr
        f = subprocess.Popen([VIGIL, "--socket", a.sock, "events", "--follow"],
                             stdout=subprocess.PIPE, text=True)
        try:
            p = subprocess.Popen(["/bin/true", "vigil-fault-follow"])
            p.wait(timeout=WAIT)
            deadline = time.time() + WAIT
            seen = False
            while time.time() < deadline and not seen:
                e = json.loads(f.stdout.readline())
                seen = e["event"]["action"] == "exec" and get(e, "process.pid") == p.pid
            assert seen, "events --follow did not show the exec"
        finally:
            f.kill()
            f.wait()
        assert a.proc.poll() is None


if __name__ == "__main__":
    sys.exit(suite_main("fault-control", TESTS))
