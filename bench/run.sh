#!/usr/bin/env bash
# sudo make bench: overhead of vigild and of auditd on the same workloads, in one run.
# Prints three tables: ns per operation inside vigil's programs (the kernel's
# own statistics, on only for that step: bench/prog_cost.py), wall-clock
# ns/op with ratios to no agent (median and min-max of the per-round ratios
# of REPS interleaved rounds; the loop on CPU 0, vigild on CPU 1), and the
# paced event rate raised until the first drop; then vigild's RSS at idle
# and after the workloads. Results go in bench/RESULTS.md.
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
trap 'exit 130' INT TERM # through the EXIT trap: the bench's vigild, pins and auditd go too
mkdir -p $T/models
# the defaults, except where containment pins its programs and cgroups: never
# the host's /sys/fs/bpf/vigil (an installed vigil may be running)
printf 'response:\n  pin_dir: /sys/fs/bpf/vigil-bench-%s\n  cgroup_parent: vigil-bench-%s\n' $$ $$ \
	> $T/defaults.yaml
echo data > $T/plain.txt
echo data > $T/models/m.safetensors

N_OPEN=${N_OPEN:-100000} N_EXEC=${N_EXEC:-1000} N_CONN=${N_CONN:-10000}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
LOOP="taskset -c 0 $B/loops" # the workload on CPU 0, vigild on CPU 1 (start_vigild)
one_round() { # label: one sample of each workload, appended to $T/<label>.<workload>
	$LOOP open $T/plain.txt $N_OPEN >> $T/$1.open
	$LOOP open $T/models/m.safetensors $N_OPEN >> $T/$1.watched
	$LOOP exec $N_EXEC >> $T/$1.exec
	$LOOP connect $N_CONN >> $T/$1.connect
}
rss_kib() { awk '/VmRSS/ {print $2}' /proc/$(cat $T/vigild.pid)/status; }
status_json() { $B/vigil --socket $T/s.sock --json status | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)))'; }
lost() { # events lost in a status line: every drop counter but the truncation counts
	python3 -c 'import json,sys; print(sum(v for k, v in json.loads(sys.argv[1])["drops"].items() if "trunc" not in k))' "$1"
}

start_vigild() {
	taskset -c 1 $B/vigild "$@" --events $T/events.jsonl --socket $T/s.sock --state-dir $T/state 2>$T/vigild.err &
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
	[ $r = 1 ] && rss_idle=$(rss_kib)
	one_round vigild
	if [ $r = $REPS ]; then
		status=$($B/vigil --socket $T/s.sock --json status)
		rss=$(rss_kib)
		hwm=$(awk '/VmHWM/ {print $2}' /proc/$(cat $T/vigild.pid)/status)
		# the kernel's own ns per run of each program, statistics on only for this step
		python3 bench/prog_cost.py --pid $(cat $T/vigild.pid) --reps ${STAT_REPS:-5} > $T/progs.md
		rss_stats=$(rss_kib)
	fi
	stop_vigild
	rm -f $T/events.jsonl
	audit_on
	one_round auditd
	audit_off
	if command -v perf >/dev/null; then # the floor: a bare sys_exit_openat tracepoint, no program
		perf stat -e syscalls:sys_exit_openat -a -o /dev/null -- sleep 30 & PERF=$!
		sleep 0.5
		$LOOP open $T/plain.txt $N_OPEN >> $T/floor.open
		kill -INT $PERF; wait $PERF 2>/dev/null || true
	fi
done

# pipeline capacity: folding off, so every open of the watched file is an event;
# N_RATE opens paced at each rate of RATES (0: flat out; 0xK: K loops flat out
# at once, unpinned, N_RATE/K each: one loop on one CPU cannot outrun vigild)
# until the first step that loses any; each step's drop causes say why it broke
RATES=${RATES:-95000 120000 150000 0 0x2 0x4 0x8} N_RATE=${N_RATE:-300000}
{ cat $T/defaults.yaml; printf 'capture:\n  fold_window: 0\n'; } > $T/nofold.yaml
rm -f $T/events.jsonl
start_vigild --config $T/nofold.yaml
: > $T/rates
for rate in $RATES; do
	d0=$(status_json)
	t0=$(date +%s.%N)
	case $rate in
	0x*) # wait for these loops only: vigild is a child of this shell too
		pids=; for i in $(seq ${rate#0x}); do $B/loops open $T/models/m.safetensors $((N_RATE / ${rate#0x})) >/dev/null & pids="$pids $!"; done
		wait $pids ;;
	*) $LOOP open $T/models/m.safetensors $N_RATE $rate >/dev/null ;;
	esac
	t1=$(date +%s.%N)
	sleep 3
	d1=$(status_json)
	echo "$rate $t0 $t1 $d0" >> $T/rates; echo "$d1" >> $T/rates
	[ "$(lost "$d1")" -gt "$(lost "$d0")" ] && break
done
rss_rate=$(rss_kib)
stop_vigild

cat $T/progs.md
echo
python3 - "$T" "$rss_idle" "$rss" "$hwm" "$status" "$REPS" "$rss_rate" "$N_RATE" "$rss_stats" <<'PY'
import json, statistics, sys
T, rss_idle, rss, hwm, st1, reps, rss_rate, n_rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), json.loads(sys.argv[5]), sys.argv[6], int(sys.argv[7]), int(sys.argv[8])
rss_stats = int(sys.argv[9])
def samples(label, w):
    try:
        return [int(x) for x in open(f"{T}/{label}.{w}").read().split()]
    except FileNotFoundError:
        return []
def ratios(label, w):
    return [a / b for a, b in zip(samples(label, w), samples("none", w))]
def cell(label, w):
    r = ratios(label, w)
    return f"{statistics.median(samples(label, w)):.0f} | {statistics.median(r):.2f} ({min(r):.2f}-{max(r):.2f})"
names = [("open", "open/read/close, unwatched file"), ("watched", "open/read/close, watched model file"),
         ("exec", "fork+exec /bin/true"), ("connect", "TCP connect, loopback")]
print(f"wall clock: medians of {reps} interleaved rounds; ratio to no agent per round, median (min-max)")
print()
print("| workload | no agent (ns/op) | vigild (ns/op) | vigild ratio | auditd (ns/op) | auditd ratio |")
print("|---|---|---|---|---|---|")
for w, n in names:
    print(f"| {n} | {statistics.median(samples('none', w)):.0f} | {cell('vigild', w)} | {cell('auditd', w)} |")
if samples("floor", "open"):
    print(f"| floor: bare sys_exit_openat tracepoint (perf), unwatched open loop | "
          f"{statistics.median(samples('none', 'open')):.0f} | {cell('floor', 'open')} | | |")
print()
print("| paced rate asked (events/s) | reached | open events written | drops (causes) |")
print("|---|---|---|---|")
lines = open(f"{T}/rates").read().splitlines()
for head, after in zip(lines[0::2], lines[1::2]):
    rate, t0, t1, before = head.split(" ", 3)
    b, a = json.loads(before), json.loads(after)
    k = int(rate[2:]) if rate.startswith("0x") else 1
    causes = {k: a["drops"][k] - b["drops"].get(k, 0) for k in a["drops"]
              if "trunc" not in k and a["drops"][k] != b["drops"].get(k, 0)}
    opens = a["events"]["by_action"].get("open", 0) - b["events"]["by_action"].get("open", 0)
    asked = f"flat out, {k} loops" if k > 1 else f"{int(rate):,}" if int(rate) else "flat out"
    n = n_rate // k * k
    print(f"| {asked} | {n / (float(t1) - float(t0)):,.0f} | {opens} of {n} | {sum(causes.values())} {causes or ''} |")
print()
print(f"vigild RSS: {rss_idle/1024:.1f} MiB at idle, {rss/1024:.1f} MiB after the workloads, "
      f"{rss_stats/1024:.1f} MiB after the statistics step, {rss_rate/1024:.1f} MiB after the rate steps (peak VmHWM {hwm/1024:.1f} MiB)")
print(f"last round's vigild: {st1['events']['emitted']} events, drops: {sum(st1['drops'].values())}")
PY
