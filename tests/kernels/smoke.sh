#!/bin/bash
# What a kernel check runs in the guest (tests/kernels/run.sh -- tests/kernels/smoke.sh):
# which probe families load on this kernel (vigil status, vigild's libbpf and
# verifier errors), then test_events cases that need each family (an exec, a
# watched open, a connect): tests/kernels/smoke.py. Non-zero if any failed.
set -u
export B=${B:-build}
echo "smoke: kernel $(uname -r); BTF $( [ -e /sys/kernel/btf/vmlinux ] && echo present || echo MISSING);" \
	"cgroup2 $( [ -e /sys/fs/cgroup/cgroup.controllers ] && echo mounted || echo MISSING)"
exec /usr/bin/python3 tests/kernels/smoke.py
