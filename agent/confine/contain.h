/* SPDX-License-Identifier: GPL-2.0 */
/*
 * contain.h — containment the kernel enforces, kept across vigild restarts.
 *
 * Owns: cells — a process set for a pid target (tgids in a pinned map, the
 * kernel adding children at fork and dropping exited processes) or a
 * cgroup for a --cgroup target; for the freezer a pid cell also gets a
 * cgroup holding exactly its processes (the target's own cgroup when
 * nothing else lives there, otherwise a quarantine cgroup under
 * response.cgroup_parent they are moved into); the cgroup v2 freezer; isolation and
 * per-cgroup egress allowlists (contain.bpf.c: cgroup connect4/6 +
 * sendmsg4/6 with links and maps pinned under response.pin_dir) plus
 * cutting already-open TCP and connected UDP sockets with sock_diag
 * SOCK_DESTROY; deny-path entries (enforced by file.bpf.c); release; and
 * the record of live cells (state_dir/containments.json, with a pid cell's
 * members by pid and start time) that a restarted vigild picks up again —
 * rebuilding a process set whose pinned map was lost, and saying so loudly
 * (contain_problems_json) when something cannot be restored.
 *
 * Stage confine/: includes core/ to detect/; does not include respond/: it runs no playbooks.
 */
#ifndef VIGIL_CONTAIN_H
#define VIGIL_CONTAIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sense/proc_tree.h"
#include "core/config.h"
#include "confine/egress.h"

struct cell {
	char id[48];
	uint32_t set;	/* process set number (pid targets); 0: a cgroup cell */
	char path[512]; /* cgroup path below the v2 mount, "/…"; "" until a pid cell is frozen */
	char origin[512]; /* where moved processes came from; "" when not moved */
	uint64_t cgid;
	pid_t target;	       /* 0 for a --cgroup target */
	uint64_t target_start; /* its start time (proc_start_ticks); 0: not on record */
	bool moved, frozen, isolated;
	struct strv denied; /* paths */
	char incident[64];
	/* a pid cell's processes on record (pid and start time): what a lost set is rebuilt from */
	struct cell_member {
		pid_t pid;
		uint64_t start;
	} * members;
	unsigned nmembers;
	char boot_id[40];  /* the boot the record was made in */
	char problem[256]; /* why it is not enforced as recorded; "" while it is */
};

struct contain;

int contain_new(const struct vigil_config *cfg, const char *cgroup_root, struct contain **ret);
/*
 * Leaves the kernel's state (pinned links and maps, cells) in place while it
 * enforces anything; holding nothing, it unpins it all (the programs detach).
 */
struct contain *contain_free(struct contain *c);
/* "active" or why containment in the kernel is unavailable. */
const char *contain_status(const struct contain *c);
/*
 * The maps the probes share: vgl_cells, vgl_deny, vgl_cstate, vgl_tasks
 * (file.bpf.c), vgl_confined, vgl_verdicts, vgl_sc_state (process.bpf.c);
 * -1 when unavailable.
 */
#define CONTAIN_SHARED_MAPS 7
void contain_map_fds(const struct contain *c, int fds[CONTAIN_SHARED_MAPS]);

/*
 * The cell of pid's tree (tree false: pid alone; hint: members already known,
 * stopped first): existing, or made now as a
 * process set the kernel keeps (children join at fork) — no cgroup move, so
 * isolation and deny-path take effect within a millisecond. start: pid's
 * start time (0: unchecked); a pid reused by another process gets no cell.
 */
struct cell *contain_cell_for_pid(struct contain *c, const struct guard *g, pid_t pid,
				  uint64_t start, bool tree, const struct proc_tree *hint,
				  char *err, size_t errlen);
/* The cell for a cgroup path (relative to the mount or absolute under it). */
struct cell *contain_cell_for_cgroup(struct contain *c, const char *path, char *err, size_t errlen);
/*
 * A live cell that holds pid or was made for it (the process that started
 * then, or anything while nothing runs as pid) / for that cgroup; NULL if none.
 */
struct cell *contain_find(struct contain *c, pid_t pid, const char *cgroup);

int contain_freeze(struct contain *c, struct cell *cell, bool on, char *err, size_t errlen);
/* Isolate (on) or lift it; *cut = open sockets destroyed. */
int contain_isolate(struct contain *c, struct cell *cell, bool on, unsigned *cut, char *err,
		    size_t errlen);
int contain_deny_path(struct contain *c, struct cell *cell, const char *path, char *err,
		      size_t errlen);
/* SIGKILL everything in the cell (cgroup.kill). */
int contain_kill(struct contain *c, struct cell *cell, char *err, size_t errlen);
/* Undo everything for the cell and forget it (cell is freed). */
int contain_release(struct contain *c, struct cell *cell, char *err, size_t errlen);
/*
 * Undo every containment, detach and unpin the programs and maps, remove the
 * quarantine parent and the record: the package runs this on removal, when
 * nothing would be left to release what stays. Returns how many cells could
 * not be released (their cgroup part); they stay in the record.
 */
int contain_teardown(struct contain *c);
/* Apply the egress allowlists (replacing the previous ones). */
int contain_allowlists(struct contain *c, const struct egress_allowlist *lists, unsigned n,
		       char *err, size_t errlen);
/*
 * Is any process confined by `vigil exec` (so the syscall check is needed)?
 * Called once a tick: also keeps the kernel's gate in front of vgl_confined
 * (VGL_CSTATE_CONFINED) and the fork and exit programs that follow children
 * in step (attached only while a process set or a confined process exists).
 */
bool contain_any_confined(struct contain *c);
/* Cells changed (here or by the caller): containments.json is rewritten at the next flush. */
void contain_save(struct contain *c);
void contain_flush(struct contain *c);
/*
 * Once a second: pid cells whose members changed (forks, exits) are recorded
 * again, from one walk of vgl_tasks; the only place members are recorded,
 * besides a new set (its tree as stopped).
 */
void contain_tick(struct contain *c);
json_t *contain_list_json(const struct contain *c);
/*
 * What a start could not carry over from the previous vigild (a containment
 * no longer enforced, a pinned map recreated): one line each, [] when
 * nothing was lost. The caller reports them (log, stream, status).
 */
json_t *contain_problems_json(const struct contain *c);

#endif
