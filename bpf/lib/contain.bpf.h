/* SPDX-License-Identifier: GPL-2.0 */
/*
 * contain.bpf.h — containment state the kernel enforces, shared by
 * contain.bpf.c (connect/sendmsg verdicts, process sets following fork) and
 * file.bpf.c (deny-path).
 *
 * contain.bpf.c pins these maps (VGL_CONTAIN_PIN) under the pin directory
 * so containment outlives vigild; the other objects get the same maps
 * through bpf_map__reuse_fd(). A process is in a cell when its tgid is in
 * vgl_tasks, or its cgroup or one of its ancestors is in vgl_cells.
 */
#ifndef VIGIL_CONTAIN_BPF_H
#define VIGIL_CONTAIN_BPF_H

#include "vigil/abi.h"
#include "cstate.bpf.h"
#include "pin.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VGL_CELLS_MAX);
	__type(key, __u64); /* cgroup id */
	__type(value, struct vgl_cell);
	VGL_PINNING
} vgl_cells SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VGL_TASKS_MAX);
	__type(key, __u32); /* tgid */
	__type(value, struct vgl_cell);
	VGL_PINNING
} vgl_tasks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VGL_DENY_MAX);
	__type(key, struct vgl_deny_key);
	__type(value, __u8);
	VGL_PINNING
} vgl_deny SEC(".maps");

/* Might some cell deny this file? Its bit in the deny bitmap (abi.h). */
static __always_inline int deny_maybe(__u64 ino, __u32 dev)
{
	__u32 slot = VGL_DENY_SLOT(ino, dev);

	return (cstate_get(VGL_CSTATE_DENY_BITS + slot / 32) >> (slot % 32)) & 1;
}

/* The current task's cell: its process set, else its cgroup or nearest contained ancestor. */
static __always_inline struct vgl_cell *current_cell(void)
{
	struct vgl_cell *c;
	__u64 id;

	if (cstate_get(VGL_CSTATE_TASKS)) {
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;

		c = bpf_map_lookup_elem(&vgl_tasks, &tgid);
		if (c)
			return c;
	}
	if (!cstate_get(VGL_CSTATE_CELLS))
		return NULL;
	id = bpf_get_current_cgroup_id();
	c = bpf_map_lookup_elem(&vgl_cells, &id);
	if (c)
		return c;
	for (int lvl = VGL_CELL_DEPTH; lvl >= 1; lvl--) {
		id = bpf_get_current_ancestor_cgroup_id(lvl);
		if (!id)
			continue;
		c = bpf_map_lookup_elem(&vgl_cells, &id);
		if (c)
			return c;
	}
	return NULL;
}

#endif
