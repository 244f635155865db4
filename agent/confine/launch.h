/* SPDX-License-Identifier: GPL-2.0 */
/*
 * launch.h — `vigil exec`: run a command confined by a seccomp profile.
 *
 * Owns: the order a container runtime uses — resolve the user, compute the
 * capabilities the command will hold (none after switching to a non-root
 * user; the caller's effective set otherwise) so Docker's cap-gated rules
 * resolve as Docker would, build the filter (seccomp_filter.h), drop to
 * the user (groups, gid, uid), set no_new_privs, load the filter with
 * TSYNC, exec. Exit codes like env(1): 125 vigil failed, 126 cannot
 * execute, 127 not found; otherwise the command's own (it replaces vigil).
 *
 * Stage confine/: includes core/ to detect/; does not include respond/: it runs no playbooks.
 */
#ifndef VIGIL_LAUNCH_H
#define VIGIL_LAUNCH_H

#include <stdbool.h>

struct launch_opts {
	const char *profile;
	const char *user; /* NULL: stay who we are */
	bool complain;
	bool strict_names;
	bool quiet;	     /* no warnings or notes */
	const char *pin_dir; /* vigild's containment state (NULL: its config's) */
};

/* Only returns on failure, with the exit status to use (125, 126, 127). */
int launch_exec(const struct launch_opts *o, char *const argv[]);

#endif
