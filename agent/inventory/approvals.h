/* SPDX-License-Identifier: GPL-2.0 */
/*
 * approvals.h — the approved models (models.d), and whether a load is one.
 *
 * Owns: reading the *.yaml files of /etc/vigil/models.d (or the configured directory;
 * each file root-owned and not group/other-writable, read_trusted_file),
 * their form —
 *
 *   models:
 *     - sha256: 3a5b...        # required: 64 hex digits
 *       name: llama-3-8b       # optional, for people and the BOM
 *       workloads: [/usr/bin/python3.11, vllm.service]  # optional
 *
 * (workloads: executables or units/"container:<id>" allowed to load it;
 * none = any workload) — and the verdict for a (digest, workload) pair.
 * An empty set approves nothing and is never enforced: with no entry every
 * load on every host would alert.
 *
 * Stage inventory/: includes core/ and sense/ only; does not emit events or alert.
 */
#ifndef VIGIL_APPROVALS_H
#define VIGIL_APPROVALS_H

#include <stdbool.h>
#include <stddef.h>

#define APPROVALS_DIR_DEFAULT "/etc/vigil/models.d"

enum approval {
	APPROVAL_OFF = 0,	 /* no approved list: nothing is checked */
	APPROVAL_OK,		 /* approved for this workload */
	APPROVAL_UNKNOWN_DIGEST, /* the digest is in no entry */
	APPROVAL_WRONG_WORKLOAD, /* approved, but not for this workload */
};

struct approvals;

/* Every *.yaml in dir, in lexical order (a missing dir: an empty set). On a bad
 * file -errno and one line in err naming file:line. */
int approvals_load(const char *dir, struct approvals **ret, char *err, size_t errlen);
/* The same from one YAML text (unit tests, fuzzing); name is used in messages. */
int approvals_parse(struct approvals *a, const char *name, const char *text, size_t len, char *err,
		    size_t errlen);
int approvals_new(struct approvals **ret);
struct approvals *approvals_free(struct approvals *a);
unsigned approvals_count(const struct approvals *a);
/* The verdict for a load: exe and unit identify the workload. */
enum approval approvals_check(const struct approvals *a, const char *sha256, const char *exe,
			      const char *unit);
/* The approved name of a digest, or NULL. */
const char *approvals_name(const struct approvals *a, const char *sha256);
const char *approval_name(enum approval v);

#endif
