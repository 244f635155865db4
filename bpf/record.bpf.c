// SPDX-License-Identifier: GPL-2.0
/*
 * record.bpf.c — `vigil seccomp record`: which syscalls a process tree or
 * a cgroup makes, counted in the kernel.
 *
 * tp_btf/sys_enter counts per syscall number in a per-CPU array, native and
 * compat (32-bit) calls apart; only for the tracked processes (a tgid set
 * that follows fork) or the tracked cgroup (and its descendants). Attached
 * only while a recording runs.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "vigil/abi.h"

char LICENSE[] SEC("license") = "GPL";

#define TS_COMPAT 0x0002

const volatile __u64 target_cgroup = 0; /* 0: track rec_tasks instead */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32); /* tgid */
	__type(value, __u8);
} rec_tasks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2 * VGL_REC_SYSCALLS);
	__type(key, __u32); /* nr, + VGL_REC_SYSCALLS for compat calls */
	__type(value, __u64);
} rec_counts SEC(".maps");

static __always_inline int tracked(void)
{
	__u32 tgid;

	if (target_cgroup) {
		if (bpf_get_current_cgroup_id() == target_cgroup)
			return 1;
		for (int lvl = 1; lvl <= 16; lvl++)
			if (bpf_get_current_ancestor_cgroup_id(lvl) == target_cgroup)
				return 1;
		return 0;
	}
	tgid = bpf_get_current_pid_tgid() >> 32;
	return bpf_map_lookup_elem(&rec_tasks, &tgid) != NULL;
}

static __always_inline int is_compat(void)
{
#if defined(__TARGET_ARCH_x86)
	struct task_struct *t = bpf_get_current_task_btf();

	return t->thread_info.status & TS_COMPAT;
#else
	return 0;
#endif
}

SEC("tp_btf/sys_enter")
int BPF_PROG(rec_enter, struct pt_regs *regs, long id)
{
	__u32 key;
	__u64 *n;

	if (id < 0 || id >= VGL_REC_SYSCALLS || !tracked())
		return 0;
	key = id + (is_compat() ? VGL_REC_SYSCALLS : 0);
	n = bpf_map_lookup_elem(&rec_counts, &key);
	if (n)
		(*n)++;
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(rec_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	__u8 one = 1;

	if (!target_cgroup && child->pid == child->tgid && bpf_map_lookup_elem(&rec_tasks, &ptgid))
		bpf_map_update_elem(&rec_tasks, &ctgid, &one, BPF_ANY);
	return 0;
}
