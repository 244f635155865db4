"""Webhook faults: the receiver goes away longer than the backoff and vigild
is SIGKILLed meanwhile; a receiver hangs mid-POST while the agent reloads.
Every alert handed to the webhook step must arrive exactly once per
webhook-id once a receiver answers again, and a reload must never stall
the event stream waiting for a delivery thread.

A local plain-HTTP receiver on 127.0.0.1, a local playbook with one webhook
step, and a test rule raised by the exec of a named program (as
tests/integration/test_response.py does); no containment is involved.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

from common import Agent, VIGIL, get, registry, running, suite_main, wait_until
from common import WebhookReceiver as Receiver

TESTS, test = registry()

PY = os.path.realpath(sys.executable)


class Hung:
    """Accepts, reads the request, never answers (a receiver wedged mid-request)."""

    def __init__(self, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.conns, self.requests = [], 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._read, args=(c,), daemon=True).start()

    def _read(self, c):
        try:
            if b"webhook-id" in c.recv(65536):
                self.requests += 1
        except OSError:
            pass

    def stop(self):
        # shutdown first: close() alone leaves a socket another thread blocks on open
        for c in [self.sock] + self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hook:
    """A private vigild whose only playbook posts VGL-9001 alerts to endpoint soc."""

    def __init__(self, tmp, port, timeout="2s", max_backoff="4s"):
        self.tmp = tmp
        local, rules = os.path.join(tmp, "local-playbooks"), os.path.join(tmp, "local-rules")
        os.makedirs(local)
        os.makedirs(rules)
        with open(os.path.join(local, "50-test.yaml"), "w") as f:
            f.write(f"""- webhook: soc
  url: http://127.0.0.1:{port}/hook
  timeout: {timeout}
- playbook: notify-soc
  match:
    rules: [VGL-9001]
  steps:
    - webhook: soc
""")
        with open(os.path.join(rules, "zz-test.yaml"), "w") as f:
            f.write("""- rule: Test notify
  id: VGL-9001
  desc: test
  condition: event.action = exec and process.name = vigil-notify
  output: notify %process.pid
  severity: high
  tags: [test]
""")
        for name in ("vigil-notify", "vigil-after-hup"):
            shutil.copy(PY, os.path.join(tmp, name))
        self.a = Agent(tmp, playbooks=[local],
                       response=f"  webhook_max_backoff: {max_backoff}\n")
        self.rules = rules

    def start(self):
        self.a.start(args=["--rules", self.rules])

    def notify(self):
        p = subprocess.Popen([os.path.join(self.tmp, "vigil-notify"), "-c", "pass"])
        p.wait(timeout=30)
        return p.pid

    def soc(self):
        st = subprocess.run([VIGIL, "--socket", self.a.sock, "--json", "status"],
                            capture_output=True, text=True, timeout=10)
        return json.loads(st.stdout)["response"]["webhooks"]["soc"]

    def sent(self):
        """webhook-ids the agent handed over, from the contain.webhook actions in the stream."""
        return [get(e, "vigil.action.webhook_id") for e in self.a.lines()
                if get(e, "event.action") == "contain.webhook"]

    def wait_sent(self, n, timeout=15):
        wait_until(lambda: len(self.sent()) >= n, timeout, f"{n} webhook hand-overs")

    def sighup_keeps_the_stream_flowing(self):
        """SIGHUP, then an exec: its event and the reload reach the stream within a bounded wait."""
        reloads = len([e for e in self.a.lines() if get(e, "event.action") == "rules-reload"])
        self.a.proc.send_signal(signal.SIGHUP)
        p = subprocess.Popen([os.path.join(self.tmp, "vigil-after-hup"), "-c", "pass"])
        p.wait(timeout=30)
        self.a.wait_for(lambda e: get(e, "event.action") == "exec" and get(e, "process.pid") == p.pid,
                        timeout=5, what="the exec right after SIGHUP (the loop stalled)")
        wait_until(lambda: len([e for e in self.a.lines()
                                if get(e, "event.action") == "rules-reload"]) > reloads,
                   5, "the rules-reload event")


@test
def receiver_down_past_the_backoff_then_agent_killed_loses_nothing(tmp):
    port = free_port()
    rx = Receiver(port)
    rx.start()
    h = Hook(tmp, port)
    try:
        with running(h.a, args=["--rules", h.rules]):
            for _ in range(3):
                h.notify()
            wait_until(lambda: len(rx.got) >= 3, 15, "3 deliveries with the receiver up")
            rx.stop()  # the outage: connections refused from now on
            h.notify()
            h.wait_sent(4)
            wait_until(lambda: h.soc()["retries"] >= 2, 15, "retries while the receiver is down")
            h.sighup_keeps_the_stream_flowing()
            # three more failures since the reload: the thread now sleeps 2-4 s (cap 4 s, jitter)
            base = h.soc()["retries"]
            wait_until(lambda: h.soc()["retries"] >= base + 3, 20, "backoff after the reload")
            for _ in range(5):  # raised while the delivery thread backs off
                h.notify()
            h.wait_sent(9)
            h.a.proc.send_signal(signal.SIGKILL)
            h.a.proc.wait()
            sent = h.sent()
            assert len(sent) == len(set(sent)) == 9, sent
            rx.start()
            h.start()  # the same state dir: the spool an earlier run left
            wait_until(lambda: set(rx.ids()) >= set(sent), 30,
                       f"every spooled alert (got {len(set(rx.ids()))} of {len(sent)})")
            time.sleep(2)  # a duplicate would come now, not later
            ids = rx.ids()
            assert len(ids) == len(set(ids)) == 9, f"duplicates after a 2xx: {ids}"
            assert set(ids) == set(sent)
            assert all(get(b, "rule.id") == "VGL-9001" for _, b in rx.got)
            st = h.soc()
            assert st["pending"] == 0 and st["lost"] == 0, st
    finally:
        rx.stop()


@test
def sighup_or_stop_while_a_post_hangs_does_not_stall(tmp):
    port = free_port()
    hung = Hung(port)
    h = Hook(tmp, port, timeout="20s")
    rx = Receiver(port)
    try:
        with running(h.a, args=["--rules", h.rules]):
            h.notify()
            h.wait_sent(1)
            wait_until(lambda: hung.requests >= 1, 15, "the POST reaching the hung receiver")
            h.sighup_keeps_the_stream_flowing()
            # a stop aborts the hung POST (bounded, well before its 20 s timeout)
            h.a.proc.send_signal(signal.SIGTERM)
            assert h.a.proc.wait(timeout=5) == 0
            sent = h.sent()
            hung.stop()  # the receiver comes back: the message is delivered once
            rx.start()
            h.start()
            wait_until(lambda: set(rx.ids()) >= set(sent), 30, "the delivery after the hang")
            time.sleep(1)
            assert sorted(rx.ids()) == sorted(sent), (rx.ids(), sent)
    finally:
        hung.stop()
        rx.stop()


@test
def endpoint_removed_mid_post_then_restored_delivers_once(tmp):
    port = free_port()
    hung = Hung(port)
    h = Hook(tmp, port, timeout="20s")
    rx = Receiver(port)
    pb = os.path.join(tmp, "local-playbooks", "50-test.yaml")
    try:
        with running(h.a, args=["--rules", h.rules]):
            h.notify()
            h.wait_sent(1)
            wait_until(lambda: hung.requests >= 1, 15, "the POST reaching the hung receiver")
            os.rename(pb, pb + ".off")  # the reload removes the endpoint while it POSTs
            h.sighup_keeps_the_stream_flowing()
            st = subprocess.run([VIGIL, "--socket", h.a.sock, "--json", "status"],
                                capture_output=True, text=True, timeout=10)
            assert "soc" not in json.loads(st.stdout)["response"]["webhooks"]
            sent = h.sent()
            hung.stop()
            rx.start()
            os.rename(pb + ".off", pb)  # and the next one brings it back: its spool with it
            h.sighup_keeps_the_stream_flowing()
            wait_until(lambda: set(rx.ids()) >= set(sent), 15, "the delivery after the restore")
            time.sleep(1)
            assert sorted(rx.ids()) == sorted(sent), (rx.ids(), sent)
    finally:
        hung.stop()
        rx.stop()


@test
def reload_with_a_new_url_takes_the_backlog_there(tmp):
    down, up = free_port(), free_port()
    busy, rx = Receiver(down, refuse=float("inf"), retry_after=60), Receiver(up)
    busy.start()
    h = Hook(tmp, down, max_backoff="120s")
    try:
        with running(h.a, args=["--rules", h.rules]):
            for _ in range(2):
                h.notify()
            h.wait_sent(2)
            wait_until(lambda: h.soc()["retries"] >= 1, 15, "a 503 with Retry-After: 60")
            rx.start()
            pb = os.path.join(tmp, "local-playbooks", "50-test.yaml")
            text = open(pb).read()
            open(pb, "w").write(text.replace(f":{down}/", f":{up}/"))
            h.sighup_keeps_the_stream_flowing()
            sent = h.sent()
            # the thread takes the new URL at once, not after its backoff
            wait_until(lambda: set(rx.ids()) >= set(sent), 10, "the backlog at the new URL")
            time.sleep(1)
            assert sorted(rx.ids()) == sorted(sent), (rx.ids(), sent)
            assert h.soc()["pending"] == 0
    finally:
        busy.stop()
        rx.stop()


if __name__ == "__main__":
    sys.exit(suite_main("fault-webhook", TESTS))
