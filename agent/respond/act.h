/* SPDX-License-Identifier: GPL-2.0 */
/*
 * act.h — respond: evidence and operator scripts.
 *
 * Owns: snapshots of a process tree's evidence into a directory (the slow
 * half on a thread of its own); starting an operator script with the alert
 * on its stdin; SHA-256 of a file. Trees, guard rails and signals are
 * proc_tree.h's; cgroups and the kernel's containment contain.h's.
 *
 * Stage respond/: includes any stage but daemon/; does not own the loop or the socket.
 */
#ifndef VIGIL_ACT_H
#define VIGIL_ACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sense/proc_tree.h"

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
