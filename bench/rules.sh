#!/usr/bin/env bash
# sudo make bench (second part): rule engine and replay throughput.
# Records a real stream from vigild while a mixed inference-host workload
# runs (model loads, subprocesses, loopback connects, a few attacks), repeats
# it to LINES lines, then measures on one core:
#   - build/rules-bench: parse only, rule evaluation only, parse + evaluation
#   - `vigil replay` end to end (read, parse, evaluate, write alerts), peak RSS
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench: run as root (sudo make bench)" >&2; exit 1; }
B=build
LINES=${LINES:-1000000}
T=$(mktemp -d /tmp/vigil-rbench-XXXXXX)
trap 'kill $(cat $T/pid 2>/dev/null) 2>/dev/null; rm -rf $T' EXIT
cc -O2 -g -std=c11 -D_GNU_SOURCE -Iinclude -Iagent -o $B/rules-bench bench/rules_bench.c \
	$(ls $B/agent/*/*.o | grep -v -e /probes.o -e /manager.o -e /health.o) \
	$(pkg-config --libs libbpf libseccomp libcurl jansson yaml-0.1 libcrypto) -lelf -lz

mkdir -p $T/models
for f in a.safetensors b.gguf c.pt; do echo weights > $T/models/$f; done
cat > $T/vigil.yaml <<CFG
capture:
  fold_window: 0
watch:
  model_dirs: [$T/models]
workloads:
  inference:
    command_lines: [fake_inference_server]
CFG
chmod 600 $T/vigil.yaml
cat > $T/fake_inference_server.py <<'PY'
import socket, subprocess, sys
d = sys.argv[1]
for i in range(2000):
    for f in ("a.safetensors", "b.gguf", "c.pt"):
        open(f"{d}/{f}", "rb").read()
for i in range(100):
    subprocess.run(["/bin/true"])
    s = socket.socket(); s.settimeout(1)
    try: s.connect(("127.0.0.1", 9))
    except OSError: pass
subprocess.run(["/bin/sh", "-c", "id >/dev/null"])  # an attack: a shell from the loader
PY
$B/vigild --config $T/vigil.yaml --events $T/ev.jsonl --socket $T/s.sock --state-dir $T/st 2>$T/err &
echo $! > $T/pid
for i in $(seq 120); do grep -q agent-start $T/ev.jsonl 2>/dev/null && break; sleep 0.5; done
/usr/bin/python3 $T/fake_inference_server.py $T/models
for i in $(seq 50); do cat $T/models/a.safetensors >/dev/null; ls $T >/dev/null; done
sleep 2
kill $(cat $T/pid); wait $(cat $T/pid) 2>/dev/null || true
n=$(wc -l < $T/ev.jsonl)
/usr/bin/python3 -c '
import itertools, sys
lines = open(sys.argv[1]).readlines()
with open(sys.argv[2], "w") as out:
    out.writelines(itertools.islice(itertools.cycle(lines), int(sys.argv[3])))' $T/ev.jsonl $T/big.jsonl $LINES
echo "sample: $n lines recorded ($(grep -c '"kind":"alert"' $T/ev.jsonl) alerts live), repeated to $LINES lines"
echo "by action: $(grep -o '"action":"[a-z_-]*"' $T/ev.jsonl | sort | uniq -c | sort -rn | head -6 | awk '{printf "%s %s; ", $2, $1}')"
echo
$B/rules-bench rules $T/big.jsonl 3
echo
/usr/bin/python3 - "$B/vigil" "$T/big.jsonl" "$LINES" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
p = subprocess.run([sys.argv[1], "replay", "--rules", "rules", sys.argv[2]],
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
s = time.monotonic() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"vigil replay end to end: {p.stderr.strip().splitlines()[-1]} in {s:.2f} s "
      f"= {int(sys.argv[3]) / s:,.0f} lines/s; peak RSS {rss:.1f} MiB")
PY
