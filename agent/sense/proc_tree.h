/* SPDX-License-Identifier: GPL-2.0 */
/*
 * proc_tree.h — sense: the processes an action is about, named so that a
 * reused pid is never mistaken for them. Used by respond (signals,
 * evidence) and confine (cells) alike; includes neither.
 *
 * Owns: the process tree of a target (the target and all its descendants,
 * read from /proc at the moment of acting, so children forked a moment ago
 * count); start times and verified pidfds; the guard rails (PID 1, kernel
 * threads, vigild and its ancestors, configured protected names are never
 * acted on); stopping and signalling a tree without losing a child forked
 * mid-way (stop everything, re-read, then signal). Logs nothing.
 *
 * Stage sense/: includes core/ only; does not write the stream, decide alerts or act.
 */
#ifndef VIGIL_PROC_TREE_H
#define VIGIL_PROC_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/config.h"

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

/*
 * proc_tree_read, refused (-ESTALE) when root is no longer the process that
 * started at start (0: unchecked); on failure one line in err ("no such
 * process", "pid N was reused…").
 */
int proc_tree_read_of(pid_t root, uint64_t start, bool tree, struct proc_tree *out, char *err,
		      size_t errlen);
/* pid's parent (/proc/PID/stat). 0, -ESRCH or -EINVAL. */
int proc_parent_pid(pid_t pid, pid_t *ret);

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
int proc_tree_signal(const struct guard *g, pid_t root, uint64_t start, bool tree,
		     const struct proc_tree *hint, int sig, unsigned *signalled, unsigned *skipped,
		     char *err, size_t errlen);

#endif
