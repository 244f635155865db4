#!/usr/bin/env bash
# `make test`: unit tests, then the suites against the real kernel: the
# integration suites (tests/integration/test_*.py, in the order below) and
# every fault-injection suite (tests/fault/test_*.py). Suites run one at a
# time: each loads BPF and runs its own vigild. Each prints a last line
# "<suite>: N passed, N failed"; this ends with "tests: N passed, N failed".
# What a suite leaves pinned on bpffs counts as one more failure.
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
export B="${B:-build}"
SUITES="tests/integration/test_events.py tests/integration/test_rules.py tests/integration/test_inventory.py
	tests/integration/test_response.py tests/integration/test_seccomp.py
	tests/integration/test_fleet.py tests/integration/test_hunt.py
	$(ls tests/fault/test_*.py 2>/dev/null)
	tests/integration/test_package.py"
p=0 f=0 rc=0
tally() { # the summary line of one suite; none (the suite died first) counts as a failure
	local line=$(echo "$1" | grep -E '^[a-z_-]+: [0-9]+ passed, [0-9]+ failed' | tail -1)
	if [ -z "$line" ]; then
		f=$((f + 1)) rc=1
		return
	fi
	p=$((p + $(echo "$line" | sed -n 's/.*: \([0-9]*\) passed.*/\1/p')))
	f=$((f + $(echo "$line" | sed -n 's/.*passed, \([0-9]*\) failed.*/\1/p')))
}
pins() { # what vigil pins on bpffs: the test agents' dirs, a real vigild's, maps at its root
	ls -d /sys/fs/bpf/vigil-test-* /sys/fs/bpf/vigil /sys/fs/bpf/vgl_* 2>/dev/null
}
leaks() { # SUITE BEFORE: what the suite left pinned (containment attached to the host) fails it
	local left=$(pins | grep -vxF -e "$2" -e '') d
	[ -n "$left" ] || return 0
	echo "$(basename "$1" .py): leaked pin dirs: $(echo $left)" >&2
	f=$((f + 1)) rc=1
	for d in $left; do
		case "$d" in /sys/fs/bpf/vigil) ;; *) rm -rf "$d" ;; esac # a real vigil's is not ours to remove
	done
}
out=$(tests/run-unit.sh "$@") || rc=1
echo "$out"
tally "$out"
for s in $SUITES; do
	if [ "$(id -u)" != 0 ]; then
		echo "$s: loads eBPF programs: run as root (sudo make test)" >&2
		echo "$(basename "$s" .py): 0 passed, 1 failed"
		f=$((f + 1)); rc=1
		continue
	fi
	t0=$SECONDS
	before=$(pins)
	out=$("$PYTHON" "$s" 2>&1) || rc=1
	echo "$out"
	echo "($(basename "$s"): $((SECONDS - t0)) s)"
	tally "$out"
	leaks "$s" "$before"
done
echo "tests: $p passed, $f failed"
exit $rc
