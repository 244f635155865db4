/* SPDX-License-Identifier: GPL-2.0 */
/*
 * record.h — `vigil seccomp record`: learn a profile from behaviour.
 *
 * Owns: counting the syscalls of a target in the kernel (record.bpf.c: a
 * command it starts, an existing process tree, or a cgroup; children
 * followed at fork; native and compat calls apart), for the command's
 * lifetime or a duration; and writing the OCI profile Docker, Podman and
 * Kubernetes accept: defaultAction ERRNO (EPERM), the architectures seen,
 * the observed syscalls allowed, plus what a launcher needs between
 * installing the filter and exec; optionally merged into an existing
 * profile (its rules kept, the observed calls it does not allow added).
 *
 * Stage confine/: includes core/ to detect/; does not include respond/: it runs no playbooks.
 */
#ifndef VIGIL_RECORD_H
#define VIGIL_RECORD_H

#include <stdint.h>
#include <sys/types.h>

struct record_opts {
	pid_t pid;	      /* --pid: that process and its descendants */
	const char *cgroup;   /* --cgroup: relative to the v2 mount or absolute */
	uint64_t duration_ms; /* 0: until the command exits (or SIGINT) */
	const char *out;      /* -o */
	const char *merge;    /* --merge: an existing profile to extend */
};

/* Returns the exit status for vigil (0, 1; 2 usage) and prints a summary. */
int record_run(const struct record_opts *o, char *const argv[]);

#endif
