/* SPDX-License-Identifier: GPL-2.0 */
/*
 * seccomp_filter.h — confine: a seccomp profile made into a filter for this
 * host.
 *
 * Owns: resolving the Docker-only parts of a profile for a host (the
 * launched process's capabilities, the kernel version, the architecture) as
 * Docker does; building the libseccomp filter: architectures added, rules
 * whose action equals the default skipped, unknown syscall names warned and
 * skipped (or fatal), several conditions on one argument split into OR'ed
 * rules as runc and crun do, the first of two conflicting rules winning,
 * complain mode (every denying action becomes LOG); and the per-syscall
 * verdicts vigild reports violations by. Reading profiles is
 * seccomp_profile.h's; loading the filter and launching launch.h's.
 *
 * Stage confine/: includes core/ to detect/; does not include respond/: it runs no playbooks.
 */
#ifndef VIGIL_SECCOMP_FILTER_H
#define VIGIL_SECCOMP_FILTER_H

#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "confine/seccomp_profile.h"
#include "core/util.h"

DEFINE_CLEANUP(scmp_filter_ctx, seccomp_release)

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

/* This host, for a process that will hold caps (see sc_caps_after_user). */
int sc_host_detect(struct sc_host *h, uint64_t caps);
/* Effective capabilities now (capget). */
uint64_t sc_caps_current(void);

/* Does rule apply on host (Docker's includes/excludes)? */
bool sc_rule_applies(const struct sc_rule *r, const struct sc_host *h);

/* Build (not load) the filter. */
int sc_build(const struct sc_profile *p, const struct sc_host *h, const struct sc_opts *o,
	     scmp_filter_ctx *ret, struct sc_report *rep, char *err, size_t errlen);

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
