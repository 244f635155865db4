/* SPDX-License-Identifier: GPL-2.0 */
/*
 * seccomp_profile.h — OCI / Docker / Podman seccomp profiles.
 *
 * Owns: reading the OCI runtime-spec seccomp JSON with Docker's extensions
 * (archMap, includes/excludes by caps, arches and minKernel, defaultErrnoRet,
 * errnoRet) and containers/common's (defaultErrno and per-rule errno names,
 * comment), every error naming its JSON path; resolving the Docker-only
 * parts for a host (the launched process's capabilities, the kernel
 * version, the architecture) as Docker does; and building the libseccomp
 * filter: architectures added, rules whose action equals the default
 * skipped, unknown syscall names warned and skipped (or fatal), several
 * conditions on one argument split into OR'ed rules as runc and crun do,
 * the first of two conflicting rules winning, complain mode (every denying
 * action becomes LOG). Launching under a filter is the caller's.
 */
#ifndef VIGIL_SECCOMP_PROFILE_H
#define VIGIL_SECCOMP_PROFILE_H

#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
struct sc_host {
	uint64_t caps;	  /* effective capabilities of the launched process */
	const char *arch; /* Docker's (Go) name: amd64, arm64, ppc64le, s390x, … */
	unsigned kmajor, kminor;
};

struct sc_opts {
	bool complain;	   /* denying actions become SCMP_ACT_LOG */
	bool strict_names; /* an unknown syscall name is an error */
	void (*warn)(void *ctx, const char *msg);
	void *ctx;
};

struct sc_report {
	unsigned rules_added, skipped_default, skipped_conditional, unknown_names, conflicts;
	unsigned syscalls_allowed, syscalls_denied;
};

/* Parse JSON text; err gets "PATH: message" (e.g. `syscalls[12].args[0].op: …`). */
int sc_profile_parse(const char *text, size_t len, struct sc_profile **ret, char *err,
		     size_t errlen);
/*
 * Read a file through read_trusted_file (owned by root or by us, writable by
 * nobody else, parents too); err gets "PATH: message".
 */
int sc_profile_load(const char *path, struct sc_profile **ret, char *err, size_t errlen);
struct sc_profile *sc_profile_free(struct sc_profile *p);

/* This host, for a process that will hold caps (see sc_caps_after_user). */
int sc_host_detect(struct sc_host *h, uint64_t caps);
/* Effective capabilities now (capget). */
uint64_t sc_caps_current(void);

/* Does rule apply on host (Docker's includes/excludes)? */
bool sc_rule_applies(const struct sc_rule *r, const struct sc_host *h);

/* Build (not load) the filter. */
int sc_build(const struct sc_profile *p, const struct sc_host *h, const struct sc_opts *o,
	     scmp_filter_ctx *ret, struct sc_report *rep, char *err, size_t errlen);

const char *sc_action_name(uint32_t action);

/*
 * Per native syscall number, what the profile decides on host: a deny bit
 * for a denying action, a logged bit for SCMP_ACT_LOG (and, complaining,
 * for what would be denied). Calls whose first rule tests arguments are
 * left out: only the filter knows. For vigild's violation reports.
 */
struct vgl_sc_verdicts;
void sc_verdicts(const struct sc_profile *p, const struct sc_host *h, bool complain,
		 struct vgl_sc_verdicts *out);

#endif
