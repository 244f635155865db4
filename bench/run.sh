#!/usr/bin/env bash
# sudo make bench: overhead of vigild and of auditd on the same workloads, in one run.
# Prints a markdown table (medians of REPS runs, ns/op, ratios vs no agent)
# and the event rate / drop / memory figures. Results go in bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench: run as root (sudo make bench)" >&2; exit 1; }
REPS=${REPS:-7}
B=build
cc -O2 -o $B/loops bench/loops.c -lpthread
T=$(mktemp -d /tmp/vigil-bench-XXXXXX)
cleanup() {
	[ -f $T/vigild.pid ] && kill $(cat $T/vigild.pid) 2>/dev/null && sleep 1
	# the bench's own pinned containment programs (a host's vigil keeps its own)
	$B/vigild --config $T/defaults.yaml --state-dir $T/state --teardown >/dev/null 2>&1
	auditctl -D >/dev/null 2>&1; auditctl -e 0 >/dev/null 2>&1
	[ -n "${STARTED_AUDITD:-}" ] && pkill -x auditd
	rm -rf $T
	true
}
trap cleanup EXIT
mkdir -p $T/models
# the defaults, except where containment pins its programs and cgroups: never
# the host's /sys/fs/bpf/vigil (an installed vigil may be running)
printf 'response:\n  pin_dir: /sys/fs/bpf/vigil-bench-%s\n  cgroup_parent: vigil-bench-%s\n' $$ $$ \
	> $T/defaults.yaml
echo data > $T/plain.txt
echo data > $T/models/m.safetensors

N_OPEN=${N_OPEN:-100000} N_EXEC=${N_EXEC:-1000} N_CONN=${N_CONN:-10000}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
one_round() { # label: one sample of each workload, appended to $T/<label>.<workload>
	$B/loops open $T/plain.txt $N_OPEN >> $T/$1.open
	$B/loops open $T/models/m.safetensors $N_OPEN >> $T/$1.watched
	$B/loops exec $N_EXEC >> $T/$1.exec
	$B/loops connect $N_CONN >> $T/$1.connect
}
summary() { echo "$1 $(median < $T/$1.open) $(median < $T/$1.watched) $(median < $T/$1.exec) $(median < $T/$1.connect)"; }

start_vigild() {
	$B/vigild "$@" --events $T/events.jsonl --socket $T/s.sock --state-dir $T/state 2>$T/vigild.err &
	echo $! > $T/vigild.pid
	for i in $(seq 120); do grep -q agent-start $T/events.jsonl 2>/dev/null && break; sleep 0.5; done
	grep -q agent-start $T/events.jsonl 2>/dev/null || { echo "vigild did not start" >&2; cat $T/vigild.err >&2; exit 1; }
	sleep 2 # let the start-up settle before timing
}
stop_vigild() {
	kill $(cat $T/vigild.pid); wait $(cat $T/vigild.pid) 2>/dev/null || true
	rm -f $T/vigild.pid
}

# auditd watching the same things: the two files, execve, connect (rules toggled per round)
if ! pgrep -x auditd >/dev/null; then auditd; STARTED_AUDITD=1; sleep 1; fi
audit_on() {
	auditctl -w $T/models/m.safetensors -p rwa -k model >/dev/null
	auditctl -w $T/plain.txt -p rwa -k plain >/dev/null
	auditctl -a always,exit -F arch=b64 -S execve -k exec >/dev/null
	auditctl -a always,exit -F arch=b64 -S connect -k net >/dev/null
	auditctl -e 1 >/dev/null
}
audit_off() { auditctl -D >/dev/null; auditctl -e 0 >/dev/null; }

# Rounds interleave the three set-ups so drift on a shared machine hits all alike.
for r in $(seq $REPS); do
	one_round none
	start_vigild --config $T/defaults.yaml
	one_round vigild
	if [ $r = $REPS ]; then
		status=$($B/vigil --socket $T/s.sock --json status)
		rss=$(awk '/VmRSS/ {print $2}' /proc/$(cat $T/vigild.pid)/status)
		hwm=$(awk '/VmHWM/ {print $2}' /proc/$(cat $T/vigild.pid)/status)
	fi
	stop_vigild
	rm -f $T/events.jsonl
	audit_on
	one_round auditd
	audit_off
	if command -v perf >/dev/null; then # the floor: a bare sys_exit_openat tracepoint, no program
		perf stat -e syscalls:sys_exit_openat -a -o /dev/null -- sleep 30 & PERF=$!
		sleep 0.5
		$B/loops open $T/plain.txt $N_OPEN >> $T/floor.open
		kill -INT $PERF; wait $PERF 2>/dev/null || true
	fi
done
none=$(summary none) vig=$(summary vigild) aud=$(summary auditd)
floor=$( [ -s $T/floor.open ] && median < $T/floor.open || echo 0)

# pipeline capacity: folding off, so every open of the watched file is an event;
# 300k opens paced at RATE/s, then count what arrived and what was lost
RATE=${RATE:-100000}
{ cat $T/defaults.yaml; printf 'capture:\n  fold_window: 0\n'; } > $T/nofold.yaml
rm -f $T/events.jsonl
start_vigild --config $T/nofold.yaml
before=0
t0=$(date +%s.%N); $B/loops open $T/models/m.safetensors 300000 $RATE >/dev/null; t1=$(date +%s.%N)
sleep 3
status2=$($B/vigil --socket $T/s.sock --json status)
stop_vigild

python3 - "$none" "$vig" "$aud" "$before" "$t0" "$t1" "$status2" "$rss" "$hwm" "$status" "$REPS" "$floor" <<'PY'
import json, sys
none, vig, aud = (l.split() for l in sys.argv[1:4])
before, t0, t1, st, rss, hwm = int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), json.loads(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9])
st1 = json.loads(sys.argv[10])
names = ["open/read/close, unwatched file", "open/read/close, watched model file", "fork+exec /bin/true", "TCP connect, loopback"]
print(f"medians of {sys.argv[11]} interleaved rounds")
print()
print("| workload | no agent (ns/op) | vigild (ns/op) | vigild ratio | auditd (ns/op) | auditd ratio |")
print("|---|---|---|---|---|---|")
for i, n in enumerate(names):
    b, v, a = int(none[i+1]), int(vig[i+1]), int(aud[i+1])
    print(f"| {n} | {b} | {v} | {v/b:.2f} | {a} | {a/b:.2f} |")
floor = int(sys.argv[12])
if floor:
    b = int(none[1])
    print(f"| floor: bare sys_exit_openat tracepoint (perf), unwatched open loop | {b} | {floor} | {floor/b:.2f} | | |")
opens = st["events"]["by_action"]["open"] - before
lost = sum(v for k, v in st["drops"].items())
print()
print(f"pipeline, folding off: 300000 watched opens in {t1-t0:.2f} s = {300000/(t1-t0):,.0f} events/s; "
      f"open events written: {opens}; drops (all causes): {lost}")
print(f"vigild RSS after the workloads: {rss/1024:.1f} MiB (peak VmHWM {hwm/1024:.1f} MiB, includes libbpf's parse of kernel BTF at load)")
print(f"last round's vigild: {st1['events']['emitted']} events, drops: {sum(st1['drops'].values())}")
PY
