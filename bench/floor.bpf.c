// SPDX-License-Identifier: GPL-2.0
/*
 * floor.bpf.c — bench/open_cost.py's empty program on sys_exit_openat: what
 * the kernel's statistics count for a program that does nothing (two clock
 * reads and the call), the floor under every figure they give.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tracepoint/syscalls/sys_exit_openat")
int floor_openat(void *ctx)
{
	return 0;
}
