// SPDX-License-Identifier: GPL-2.0
/*
 * probe.bpf.c — feature probes only: can this kernel load and attach BPF-LSM
 * fentry and tp_btf programs? Loaded one program at a time at start-up;
 * nothing here stays attached.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("lsm/file_open")
int BPF_PROG(probe_lsm, struct file *file)
{
	return 0;
}

SEC("fentry/do_unlinkat")
int BPF_PROG(probe_fentry, int dfd)
{
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(probe_tp_btf, struct task_struct *p)
{
	return 0;
}

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* Loaded, never attached: does bpf_rdonly_cast() to void give plain loads of kernel memory? */
SEC("tp_btf/sys_exit")
int BPF_PROG(probe_raw_loads, struct pt_regs *regs, long ret)
{
	const __u64 *p = bpf_rdonly_cast((void *)regs, 0);

	return p[1] == 0;
}
