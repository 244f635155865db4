// SPDX-License-Identifier: GPL-2.0
/*
 * probe.bpf.c — feature probes only: can this kernel load and attach BPF-LSM
 * fentry and tp_btf programs, and cast kernel pointers to typed ones? Loaded
 * one program at a time at start-up; nothing here stays attached.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

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

/*
 * Weak: where the kernel lacks it (before 6.2) the object still loads the
 * probes above, and the two below fail to load: the answer.
 */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

/*
 * Loaded, never attached: does bpf_rdonly_cast() to a kernel struct work
 * (the typed build of the objects, bpf/lib/common.bpf.h's VGL_TYPED)?
 */
SEC("tp_btf/sys_exit")
int BPF_PROG(probe_typed_loads, struct pt_regs *regs, long ret)
{
	struct file *f = bpf_rdonly_cast((void *)ret, bpf_core_type_id_kernel(struct file));

	return f->f_flags == 0;
}

/* Loaded, never attached: does bpf_rdonly_cast() to void give plain loads of kernel memory? */
SEC("tp_btf/sys_exit")
int BPF_PROG(probe_raw_loads, struct pt_regs *regs, long ret)
{
	const __u64 *p = bpf_rdonly_cast((void *)regs, 0);

	return p[1] == 0;
}
