/* SPDX-License-Identifier: GPL-2.0 */
/*
 * seccomp.bpf.h — processes confined by `vigil exec` and their profiles'
 * verdicts, shared by contain.bpf.c (which pins them and follows fork and
 * exit) and process.bpf.c (the syscall check that reports violations).
 * vgl_confined is looked up only while vgl_cstate's VGL_CSTATE_CONFINED
 * says it may hold an entry: every fork, exit and exec would pay the lookup.
 */
#ifndef VIGIL_SECCOMP_BPF_H
#define VIGIL_SECCOMP_BPF_H

#include "vigil/abi.h"
#include "cstate.bpf.h"
#include "pin.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tgid */
	__type(value, struct vgl_confined);
	VGL_PINNING
} vgl_confined SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct vgl_sc_verdicts);
	VGL_PINNING
} vgl_verdicts SEC(".maps");

/* [0]: 1 while vigild's syscall check is attached (vigil exec waits for it) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	VGL_PINNING
} vgl_sc_state SEC(".maps");

static __always_inline __u32 confined_maybe(void)
{
	return cstate_get(VGL_CSTATE_CONFINED);
}

#endif
