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
