#!/usr/bin/env bash
# `make test`: unit tests, then integration tests against the real kernel.
# Ends with one summary line: "tests: N passed, N failed".
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
unit_out=$(tests/run-unit.sh "$@"); unit_rc=$?
echo "$unit_out"
if [ "$(id -u)" != 0 ]; then
	echo "integration tests load eBPF programs: run as root (sudo make test)" >&2
	int_out="integration: 0 passed, 1 failed"; int_rc=1
	rules_out="rules-integration: 0 passed, 0 failed"; rules_rc=1
	resp_out="response-integration: 0 passed, 0 failed"; resp_rc=1
	sc_out="seccomp-integration: 0 passed, 0 failed"; sc_rc=1
	pkg_out="package-integration: 0 passed, 0 failed"; pkg_rc=1
else
	int_out=$(B="${B:-build}" "$PYTHON" tests/integration/test_events.py 2>&1); int_rc=$?
	rules_out=$(B="${B:-build}" "$PYTHON" tests/integration/test_rules.py 2>&1); rules_rc=$?
	resp_out=$(B="${B:-build}" "$PYTHON" tests/integration/test_response.py 2>&1); resp_rc=$?
	sc_out=$(B="${B:-build}" "$PYTHON" tests/integration/test_seccomp.py 2>&1); sc_rc=$?
	pkg_out=$("$PYTHON" tests/integration/test_package.py 2>&1); pkg_rc=$?
fi
echo "$int_out"
echo "$rules_out"
echo "$resp_out"
echo "$sc_out"
echo "$pkg_out"
p=0 f=0
for line in "$(echo "$unit_out" | tail -1)" "$(echo "$int_out" | tail -1)" "$(echo "$rules_out" | tail -1)" "$(echo "$resp_out" | tail -1)" "$(echo "$sc_out" | tail -1)" "$(echo "$pkg_out" | tail -1)"; do
	p=$((p + $(echo "$line" | sed -n 's/.*: \([0-9]*\) passed.*/\1/p'))); 
	f=$((f + $(echo "$line" | sed -n 's/.*passed, \([0-9]*\) failed.*/\1/p')))
done
echo "tests: $p passed, $f failed"
[ $unit_rc -eq 0 ] && [ $int_rc -eq 0 ] && [ "${rules_rc:-1}" -eq 0 ] && [ "${resp_rc:-1}" -eq 0 ] && [ "${sc_rc:-1}" -eq 0 ] && [ "${pkg_rc:-1}" -eq 0 ]
