/* SPDX-License-Identifier: GPL-2.0 */
/*
 * contain.bpf.h — containment state the kernel enforces, shared by
 * contain.bpf.c (connect/sendmsg verdicts) and file.bpf.c (deny-path).
 *
 * contain.bpf.c pins these maps (VGL_CONTAIN_PIN) under the pin directory
 * so containment outlives vigild; the other objects get the same maps
 * through bpf_map__reuse_fd(). A cell is a cgroup v2 id; a process is in a
 * cell when its cgroup or one of its ancestors is one.
 */
#ifndef VIGIL_CONTAIN_BPF_H
#define VIGIL_CONTAIN_BPF_H

#include "vigil/abi.h"

#ifdef VGL_CONTAIN_PIN
#define VGL_PINNING __uint(pinning, LIBBPF_PIN_BY_NAME);
#else
#define VGL_PINNING
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VGL_CELLS_MAX);
	__type(key, __u64); /* cgroup id */
	__type(value, struct vgl_cell);
	VGL_PINNING
} vgl_cells SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VGL_DENY_MAX);
	__type(key, struct vgl_deny_key);
	__type(value, __u8);
	VGL_PINNING
} vgl_deny SEC(".maps");

/* [0]: live cells, [1]: live deny entries; zero means nothing to look up */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
	VGL_PINNING
} vgl_cstate SEC(".maps");

static __always_inline __u32 cstate_get(__u32 i)
{
	__u32 *v = bpf_map_lookup_elem(&vgl_cstate, &i);

	return v ? *v : 0;
}

/* The current task's cell (its cgroup or the nearest contained ancestor). */
static __always_inline struct vgl_cell *current_cell(__u64 *cgid)
{
	__u64 id = bpf_get_current_cgroup_id();
	struct vgl_cell *c = bpf_map_lookup_elem(&vgl_cells, &id);

	if (c) {
		*cgid = id;
		return c;
	}
	for (int lvl = VGL_CELL_DEPTH; lvl >= 1; lvl--) {
		id = bpf_get_current_ancestor_cgroup_id(lvl);
		if (!id)
			continue;
		c = bpf_map_lookup_elem(&vgl_cells, &id);
		if (c) {
			*cgid = id;
			return c;
		}
	}
	return NULL;
}

#endif
