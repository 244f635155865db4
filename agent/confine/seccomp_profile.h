/* SPDX-License-Identifier: GPL-2.0 */
/*
 * seccomp_profile.h — confine: OCI / Docker / Podman seccomp profiles, read.
 *
 * Owns: reading the OCI runtime-spec seccomp JSON with Docker's extensions
 * (archMap, includes/excludes by caps, arches and minKernel, defaultErrnoRet,
 * errnoRet) and containers/common's (defaultErrno and per-rule errno names,
 * comment), every error naming its JSON path, into struct sc_profile; the
 * names of actions and architectures. Turning a profile into a filter is
 * seccomp_filter.h's, launching under it launch.h's.
 *
 * Stage confine/: includes core/ to detect/; does not include respond/: it runs no playbooks.
 */
#ifndef VIGIL_SECCOMP_PROFILE_H
#define VIGIL_SECCOMP_PROFILE_H

#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/util.h"

#define SC_CONDS_MAX 6 /* conditions per rule: seccomp has six arguments */

struct sc_cond {
	unsigned index;
	uint64_t value, value_two;
	enum scmp_compare op;
};

/* includes / excludes */
struct sc_when {
	char **caps, **arches; /* NULL-terminated, NULL if absent */
	unsigned kmajor, kminor;
	bool has_min_kernel;
};

struct sc_rule {
	char **names; /* NULL-terminated */
	uint32_t action;
	int errno_ret; /* -1: the default's */
	struct sc_cond *conds;
	unsigned nconds;
	struct sc_when inc, exc;
	unsigned index; /* position in syscalls[] */
};

struct sc_profile {
	uint32_t default_action;
	int default_errno; /* defaultErrnoRet / defaultErrno for the default action; -1: EPERM */
	uint32_t *arches;  /* libseccomp arch tokens */
	unsigned narches;
	struct sc_archmap {
		uint32_t arch;
		uint32_t *subs;
		unsigned nsubs;
	} * archmap;
	unsigned narchmap;
	bool flag_tsync, flag_log, flag_spec_allow;
	struct sc_rule *rules;
	unsigned nrules;
};

/* What the profile is resolved against. */
int sc_profile_parse(const char *text, size_t len, struct sc_profile **ret, char *err,
		     size_t errlen);
/*
 * Read a file through read_trusted_file (owned by root or by us, writable by
 * nobody else, parents too); err gets "PATH: message".
 */
int sc_profile_load(const char *path, struct sc_profile **ret, char *err, size_t errlen);
struct sc_profile *sc_profile_free(struct sc_profile *p);
DEFINE_CLEANUP(struct sc_profile *, sc_profile_free)

const char *sc_action_name(uint32_t action);
/* CAP_* number of a capability name ("CAP_SYS_ADMIN", any case), or -1. */
int sc_cap_by_name(const char *name);

#endif
