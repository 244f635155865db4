/* SPDX-License-Identifier: GPL-2.0 */
/*
 * act.h — acting on processes: trees, guard rails, signals, evidence, scripts.
 *
 * Owns: the process tree of a target (the target and all its descendants,
 * read from /proc at the moment of acting, so children forked a moment ago
 * count); the guard rails (PID 1, kernel threads, vigild and its ancestors,
 * configured protected names are never acted on); signalling a tree without
 * losing a child forked mid-way (stop everything, re-read, then signal);
 * snapshots of evidence into a directory; starting an operator script with
 * the alert on its stdin. Cgroups and the kernel's containment are
 * contain.h's.
 */
#ifndef VIGIL_ACT_H
#define VIGIL_ACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vigil/config.h"

struct proc_tree {
	pid_t *pids;	  /* the root first */
	uint64_t *starts; /* each one's start time (see proc_start_ticks); NULL: not read */
	unsigned n;
};

/*
 * Processes are named by pid and start time: a pid alone may belong to
 * another process by the time it is acted on. The start time is
 * /proc/PID/stat's field 22 (clock ticks after boot, what process.entity_id
 * is derived from); 0 or -ESRCH.
 */
int proc_start_ticks(pid_t pid, uint64_t *ticks);
/*
 * A pidfd (O_CLOEXEC) on pid, checked to be the process that started at
 * start (0: whichever runs as pid now; *ret_start, if not NULL, gets its
 * start). The start time is read after the open and trusted only if the
 * pidfd's process is still alive after that read. -ESRCH: gone; -ESTALE:
 * the pid belongs to another process now.
 */
int pidfd_open_verified(pid_t pid, uint64_t start, int *ret_fd, uint64_t *ret_start);
/*
 * The one wording of a reused pid, into err: "pid N was reused: <gone> is
 * gone, another process runs as N now" (gone NULL: "the process it
 * named"). Returns -ESTALE.
 */
int pid_reused_error(pid_t pid, const char *gone, char *err, size_t errlen);

/* root alone (tree false) or root and its descendants; -ESRCH if root is gone. */
int proc_tree_read(pid_t root, bool tree, struct proc_tree *out);
void proc_tree_free(struct proc_tree *t);
bool proc_tree_has(const struct proc_tree *t, pid_t pid);

struct guard {
	pid_t self;
	pid_t ancestors[64];
	unsigned nancestors;
	const struct strv *protected; /* process names or executable paths */
};

void guard_init(struct guard *g, const struct strv *protected);
/* 0 if pid may be acted on; otherwise -EPERM and why ("PID 1", "vigild itself"…). */
int guard_check(const struct guard *g, pid_t pid, char *why, size_t len);

/*
 * SIGSTOP root's tree and re-read it until no new child appears (nothing
 * escapes by forking); t gets the members. hint (NULL or the members the
 * caller already knows, e.g. from the process cache) is stopped before the
 * first read of /proc. proc_tree_cont resumes them. Signals go through
 * pidfds to members whose start time is still the one read (a pid reused
 * meanwhile is left alone); start (0: unchecked) is root's: -ESTALE if
 * root is another process now.
 */
int proc_tree_stop(const struct guard *g, pid_t root, uint64_t start, bool tree,
		   const struct proc_tree *hint, struct proc_tree *t);
void proc_tree_cont(const struct proc_tree *t);

/*
 * Send sig to root (tree false) or its whole tree, through pidfds as
 * proc_tree_stop does; -ESTALE ("pid N was reused" in err) if root is no
 * longer the process that started at start. For SIGKILL the tree is
 * stopped first and re-read until no new child appears. Guarded members are
 * skipped (counted in *skipped); the root being guarded refuses it all.
 */
int act_signal(const struct guard *g, pid_t root, uint64_t start, bool tree,
	       const struct proc_tree *hint, int sig, unsigned *signalled, unsigned *skipped,
	       char *err, size_t errlen);

/*
 * Evidence of root's tree into dir (created 0700), in two halves so the
 * slow one can run elsewhere. begin, at once (the processes may not live
 * long): per process cmdline, environ (secrets redacted), status, open
 * files, sockets, maps, cgroup, and trigger.json (the alert); the
 * executables are opened. end, later (e.g. on a thread, below): their
 * SHA-256 and tree.json; it frees s. free: drop s without finishing.
 * start: root's start time (0: unchecked), -ESTALE if root is reused.
 */
struct snapshot {
	char dir[4096];
	struct json_t *procs;
	int *exe_fds;
	unsigned n, files;
};

int act_snapshot_begin(pid_t root, uint64_t start, bool tree, const char *dir, const char *trigger,
		       size_t tlen, struct snapshot *s, char *err, size_t errlen);
int act_snapshot_end(struct snapshot *s);
void act_snapshot_free(struct snapshot *s);

/*
 * Run act_snapshot_end on a thread of its own (it takes s over, also on
 * failure). The loop polls act_snapshot_done, and calls
 * act_snapshot_release when it has the result or stops waiting for it: a
 * thread still hashing then frees the job itself when it ends.
 */
struct snapshot_job;
int act_snapshot_start(struct snapshot *s, struct snapshot_job **ret);
/* true once finished; *result: act_snapshot_end's (0 or a negative errno) */
bool act_snapshot_done(struct snapshot_job *j, int *result);
void act_snapshot_release(struct snapshot_job *j);

/* Start argv[0] (absolute) with input on stdin, output to log_path; *child gets its pid. */
int act_exec_start(char *const *argv, const char *input, size_t len, const char *log_path,
		   pid_t *child, char *err, size_t errlen);

/* SHA-256 of a file as 64 hex digits. */
int sha256_file(const char *path, char out[65]);

#endif
