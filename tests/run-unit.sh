#!/usr/bin/env bash
# Run CMocka binaries; print what failing ones said and one summary line "unit: N passed, N failed".
pass=0 fail=0
for t in "$@"; do
	out=$("$t" 2>&1); rc=$?
	# a failing binary shows what its tests printed (e.g. every undocumented config key)
	[ $rc -ne 0 ] && { echo "$out" | grep -vE '^\[ *(RUN|OK|PASSED) *\]|^\[=+\]' || true; }
	p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p')
	f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p')
	pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
	[ $rc -ne 0 ] && [ -z "$f" ] && { echo "$t crashed (rc=$rc)"; echo "$out" | tail -5; fail=$((fail + 1)); }
done
echo "unit: $pass passed, $fail failed"
[ $fail -eq 0 ]
