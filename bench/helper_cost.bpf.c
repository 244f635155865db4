// SPDX-License-Identifier: GPL-2.0
/*
 * helper_cost.bpf.c — bench/helper_cost.py's programs on sys_exit_openat:
 * each does one of the things a watched open's event does, REPS times, so
 * that its ns per run less the empty program's (floor.bpf.c), over REPS, is
 * what that one thing costs on this host. The floor under the event's
 * figure: no event can cost less than the sum of its parts' helpers.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

#define REPS 8

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[512]);
} scratch SEC(".maps");

volatile __u64 sink; /* results land here, so that no call is optimized out */

static __always_inline char *buf(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch, &zero);
}

/* A program that sums `expr` over REPS evaluations (s: the sum so far). */
#define SUM_PROG(prog, expr)                       \
	SEC("tracepoint/syscalls/sys_exit_openat") \
	int prog(void *ctx)                        \
	{                                          \
		__u64 s = 0;                       \
                                                   \
		for (int i = 0; i < REPS; i++)     \
			s += (expr);               \
		sink = s;                          \
		return 0;                          \
	}

/* the record's timestamp */
SUM_PROG(hc_clock, bpf_ktime_get_boot_ns())

/* the syscall's registers, where the caller's flags and name are */
SEC("tracepoint/syscalls/sys_exit_openat")
int hc_pt_regs(void *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u64 s = 0;

	for (int i = 0; i < REPS; i++)
		s += PT_REGS_PARM2_SYSCALL((struct pt_regs *)bpf_task_pt_regs(t));
	sink = s;
	return 0;
}

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
volatile __u64 regs_off;

/* the same registers as common.bpf.h's task_regs() finds them: the stack plus a learnt offset */
SEC("tracepoint/syscalls/sys_exit_openat")
int hc_regs_learnt(void *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();
	volatile __u64 *b = (volatile __u64 *)buf();
	__u64 s = 0;

	if (!b)
		return 0;
	for (int i = 0; i < REPS; i++) {
		__u64 stack = (__u64)t->stack;
		struct pt_regs *regs;

		if (!regs_off) {
			b[0] = (__u64)bpf_task_pt_regs(t);
			b[1] = stack;
			regs_off = b[0] - b[1];
		}
		regs = bpf_rdonly_cast((void *)(stack + regs_off),
				       bpf_core_type_id_kernel(struct pt_regs));
		s += PT_REGS_PARM2_SYSCALL(regs);
	}
	sink = s;
	return 0;
}

/* A program that reads the openat caller's name REPS times with `read` (a user-read helper). */
#define USER_NAME_PROG(prog, read, size)                                            \
	SEC("tracepoint/syscalls/sys_exit_openat")                                  \
	int prog(void *ctx)                                                         \
	{                                                                           \
		struct pt_regs *regs =                                              \
		    (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf()); \
		const void *name = (const void *)PT_REGS_PARM2_SYSCALL(regs);       \
		char *b = buf();                                                    \
		__u64 s = 0;                                                        \
                                                                                    \
		if (!b)                                                             \
			return 0;                                                   \
		for (int i = 0; i < REPS; i++)                                      \
			s += read(b, size, name);                                   \
		sink = s;                                                           \
		return 0;                                                           \
	}

/* the caller's name, copied from user memory */
USER_NAME_PROG(hc_user_name, bpf_probe_read_user_str, 256)
/* its first 64 bytes read as a block (no NUL search in the kernel) */
USER_NAME_PROG(hc_user_read64, bpf_probe_read_user, 64)

/* one kernel read by helper (the compat build's way, and names over 64 bytes) */
SEC("tracepoint/syscalls/sys_exit_openat")
int hc_kernel_read(void *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();
	char *b = buf();

	if (!b)
		return 0;
	for (int i = 0; i < REPS; i++)
		bpf_probe_read_kernel(b + i * 16, 16, t->comm);
	sink = b[0];
	return 0;
}

/* a call into a global subprogram and back (open_report, path_put) */
__noinline int hc_callee(__u64 x)
{
	return x * 3 + 1;
}

SUM_PROG(hc_subprog, hc_callee(s))

/* the cheapest helper there is: what any helper call and return costs */
SUM_PROG(hc_helper_call, bpf_get_prandom_u32())

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} ring SEC(".maps");

/* a 256-byte record into a ring (helper_cost.py consumes it on another CPU), no wakeup */
SEC("tracepoint/syscalls/sys_exit_openat")
int hc_ring_output(void *ctx)
{
	char *b = buf();
	long s = 0;

	if (!b)
		return 0;
	for (int i = 0; i < REPS; i++)
		s += bpf_ringbuf_output(&ring, b, 256, BPF_RB_NO_WAKEUP);
	sink = s;
	return 0;
}

/* the same record reserved in the ring and committed, no copy (common.bpf.h's REC_RESERVE) */
SEC("tracepoint/syscalls/sys_exit_openat")
int hc_ring_reserve(void *ctx)
{
	long s = 0;

	for (int i = 0; i < REPS; i++) {
		char *r = bpf_ringbuf_reserve(&ring, 256, 0);

		if (!r)
			continue;
		r[0] = 1;
		bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
		s++;
	}
	sink = s;
	return 0;
}
