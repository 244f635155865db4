/* SPDX-License-Identifier: GPL-2.0 */
/*
 * contain_internal.h — confine: what contain.c (cells and their actions),
 * contain_state.c (containments.json) and contain_load.c (the programs,
 * teardown, allowlists) share. Other modules use contain.h.
 *
 * Stage confine/: includes core/ to detect/; does not include respond/: it runs no playbooks.
 */
#ifndef VIGIL_CONTAIN_INTERNAL_H
#define VIGIL_CONTAIN_INTERNAL_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "contain.skel.h"
#include "vigil/abi.h"
#include "confine/contain.h"
#include "core/util.h"

struct egress_cg {
	uint64_t cgid;
	uint32_t policy;
};

struct contain {
	struct vigil_contain *skel;
	struct bpf_link *links[6];
	char root[256];
	char pin_dir[PATH_MAX];
	char parent[256];
	char state_path[PATH_MAX];
	char status[256];
	bool allow_lo;
	struct cell **cells;
	unsigned ncells;
	struct egress_cg *egress;
	unsigned negress;
	unsigned seq;
	uint32_t next_set; /* process sets are numbered from 1 */
	bool dirty;	   /* containments.json is behind */
	char boot_id[40];
	struct strv recreated; /* pinned maps of another layout, made afresh at this start */
	struct strv problems;  /* what this start could not restore (contain_problems_json) */
};

bool contain_active(const struct contain *c);
/* cgroup id of cg (a path below the v2 mount), 0 if none. */
uint64_t contain_cg_id(const struct contain *c, const char *cg);
/* The processes of a pid cell's set as the kernel has them. */
int contain_set_members(const struct contain *c, const struct cell *cell, struct proc_tree *out);
/* Bring the kernel's cell maps in line with cell / a cgroup / the counters. */
int contain_sync_cell(struct contain *c, const struct cell *cell);
int contain_sync_cgroup(struct contain *c, uint64_t cgid);
void contain_sync_counts(struct contain *c);
/* Children follow from now on (before a process set's members run on); 0 or -errno. */
int contain_follow_sets(struct contain *c);
uint64_t cell_key(const struct cell *cell);
struct vgl_cell cell_value(const struct contain *c, const struct cell *cell);
int cell_deny_key(const struct cell *cell, const char *path, struct vgl_deny_key *k);
/* Add k to vgl_deny, its bit in vgl_cstate's deny bitmap first; 0 or -errno. */
int contain_deny_add(struct contain *c, const struct vgl_deny_key *k);

/* contain_state.c */
/* A cell as containments.json records it, and back (no kernel: testable alone). */
json_t *cell_state_json(const struct cell *cell);
void cell_state_load(json_t *o, struct cell *cell);
struct cell *contain_add_cell(struct contain *c);
void cell_free(struct cell *cell);
/* A new set's members: its tree as read, by pid and start time. */
void cell_record_tree(struct cell *cell, const struct proc_tree *t);
/* Say loudly what of a recorded cell is not enforced (log, status, stream). */
void contain_add_problem(struct contain *c, struct cell *cell, const char *fmt, const char *arg);
/* The cells a previous vigild left (containments.json), enforced again. */
void contain_load_state(struct contain *c);

#endif
