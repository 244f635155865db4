#!/usr/bin/env python3
"""What the UDP send hook (tp_btf/sock_send_length, on every socket send) and
the cgroup sendmsg program cost, in the kernel's own ns per run.

Starts a private vigild, turns kernel.bpf_stats_enabled on and does N sends
of 64 bytes over loopback TCP (the hook's non-UDP path: one load and a
compare) and N over one connected UDP socket, printing each program's ns
per run from the run_time_ns/run_cnt deltas of `bpftool -j prog show`.

  flock /tmp/vigil-suite.lock unshare -m --propagation private \\
      env B=build python3 bench/send_cost.py [N]
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from harness import Agent  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
PROGS = ("udp_sent", "udp_sendmsg4", "udp_release")


def stats():
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                         check=True).stdout
    return {p["name"]: (p.get("run_cnt", 0), p.get("run_time_ns", 0)) for p in json.loads(out)
            if p.get("name") in PROGS or p.get("name", "").startswith("udp_")}


def measure(label, send):
    before = stats()
    send()
    after = stats()
    for name, (cnt, ns) in sorted(after.items()):
        c0, n0 = before.get(name, (0, 0))
        if cnt - c0 >= N // 2:
            print(f"| {label} | `{name}` | {cnt - c0} | {(ns - n0) / (cnt - c0):.0f} |")


def tcp_sends():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    c = socket.create_connection(srv.getsockname())
    s, _ = srv.accept()
    buf = b"x" * 64
    for _ in range(N):
        c.send(buf)
        s.recv(4096)
    c.close(), s.close(), srv.close()


def udp_sends():
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.connect(rx.getsockname())
    buf = b"x" * 64
    for _ in range(N):
        tx.send(buf)
        rx.recv(4096)
    tx.close(), rx.close()


def main():
    tmp = tempfile.mkdtemp(prefix="vigil-sendb-")
    os.chmod(tmp, 0o755)
    a = Agent(tmp)
    try:
        a.start()
        subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=1"], check=True)
        print("| sends | program | runs | ns/run |\n|---|---|---|---|")
        measure(f"{N} TCP sends", tcp_sends)
        measure(f"{N} connected UDP sends", udp_sends)
    finally:
        subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=0"])
        a.stop()
        a.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
