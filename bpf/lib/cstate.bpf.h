/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cstate.bpf.h — vgl_cstate, the gates in front of every containment
 * lookup (abi.h's VGL_CSTATE_*): zero in a slot means there is nothing of
 * that kind to look up. Shared by contain.bpf.h (cells, deny-path) and
 * seccomp.bpf.h (processes confined by `vigil exec`); contain.bpf.c pins it
 * (VGL_CONTAIN_PIN), the other objects reuse its fd.
 */
#ifndef VIGIL_CSTATE_BPF_H
#define VIGIL_CSTATE_BPF_H

#include "vigil/abi.h"
#include "pin.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VGL_CSTATE_SIZE);
	__type(key, __u32);
	__type(value, __u32);
	VGL_PINNING
} vgl_cstate SEC(".maps");

static __always_inline __u32 cstate_get(__u32 i)
{
	__u32 *v = bpf_map_lookup_elem(&vgl_cstate, &i);

	return v ? *v : 0;
}

#endif
