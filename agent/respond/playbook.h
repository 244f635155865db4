/* SPDX-License-Identifier: GPL-2.0 */
/*
 * playbook.h — response playbooks: what to do when an alert fires.
 *
 * Owns: reading playbook files (ytree.h; same file rules as rules: lexical
 * order, a later same-named file or item replaces an earlier one, errors as
 * file:line:col) into three kinds of item: `playbook` (match by rule id or
 * name, tags, minimum severity; ordered steps; on_error; dry_run;
 * de-duplication window; rate limit), `webhook` (an endpoint the steps
 * name) and `egress_allowlist` (CIDR + port per cgroup); matching an alert
 * against the playbooks; and the per-playbook gates (de-duplication by
 * target, token-bucket rate limit). Running the steps is respond.h's.
 *
 * Stage respond/: includes any stage but daemon/; does not own the loop or the socket.
 */
#ifndef VIGIL_PLAYBOOK_H
#define VIGIL_PLAYBOOK_H

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include "confine/egress.h"
#include "detect/rules.h"

/* clang-format off */
#define PB_ACTIONS(X) \
	X(PB_KILL, "kill") X(PB_STOP, "stop") X(PB_CONT, "cont") X(PB_FREEZE, "freeze") \
	X(PB_THAW, "thaw") X(PB_ISOLATE, "isolate") X(PB_DENY_PATH, "deny-path") \
	X(PB_SNAPSHOT, "snapshot") X(PB_WEBHOOK, "webhook") X(PB_EXEC, "exec")
#define PB_TARGETS(X) \
	X(PB_T_PROCESS, "process") X(PB_T_TREE, "tree") X(PB_T_PARENT, "parent") \
	X(PB_T_PARENT_TREE, "parent-tree")
/* clang-format on */

#define X(id, name) id,
enum pb_action { PB_ACTIONS(X) PB_ACTION_NR };
enum pb_target { PB_TARGETS(X) PB_TARGET_NR };
#undef X

const char *pb_action_name(enum pb_action a);
const char *pb_target_name(enum pb_target t);
int pb_action_parse(const char *s, enum pb_action *ret);
int pb_target_parse(const char *s, enum pb_target *ret);

struct pb_step {
	enum pb_action action;
	enum pb_target target;
	bool stop_on_error; /* on_error: stop */
	char *arg;	    /* webhook: endpoint name; deny-path: path or %field */
	char **argv;	    /* exec: the command (NULL-terminated) */
	uint64_t timeout_ms;
	unsigned line;
};

struct playbook {
	char *name, *desc, *file;
	unsigned line;
	struct strv rules, tags; /* either list matching is enough; empty = any */
	enum severity min_severity;
	bool dry_run;
	uint64_t dedup_ms;
	uint32_t rate_n; /* runs per rate_period_ms; 0 = no limit */
	uint64_t rate_period_ms;
	struct pb_step *steps;
	unsigned nsteps;
	/* gates (runtime) */
	double tokens;
	uint64_t tokens_at_ms;
	uint64_t runs, deduplicated, rate_limited;
	struct pb_recent *recent; /* target keys run within dedup_ms */
	unsigned nrecent;
};

struct webhook_def {
	char *name, *url, *secret_file, *ca_file, *ca_dir, *client_cert, *client_key;
	bool slack; /* format: slack ({"text": …}) instead of the alert JSON */
	uint64_t timeout_ms;
};

struct playbook_set {
	struct playbook *pbs;
	unsigned npbs;
	struct webhook_def *hooks;
	unsigned nhooks;
	struct egress_allowlist *egress;
	unsigned negress;
	unsigned nfiles;
};

/* What matching needs to know about an alert. */
struct pb_alert {
	const char *rule_id, *rule_name;
	const char *const *tags;
	unsigned ntags;
	enum severity severity;
};

/* Host names in egress allowlists are not resolved (fuzzing: no lookups). */
#define PB_LOAD_NO_RESOLVE 0x1

/* Load playbook files/directories; -EINVAL if any error was reported. */
int playbooks_load(const char *const *paths, unsigned npaths, unsigned flags,
		   struct rules_diag *diag, struct playbook_set **ret);
struct playbook_set *playbooks_free(struct playbook_set *s);
/* Free a definition's strings (the set's, or a copy such as webhook.c's). */
void webhook_def_fini(struct webhook_def *w);
/* Does pb want this alert? */
bool playbook_matches(const struct playbook *pb, const struct pb_alert *a);
const struct webhook_def *playbooks_webhook(const struct playbook_set *s, const char *name);

enum pb_gate { PB_RUN, PB_DEDUPLICATED, PB_RATE_LIMITED };
struct rule_view;
/* May pb run for target key (e.g. an entity id) now? Counts the verdict. */
enum pb_gate playbook_admit(struct playbook *pb, const char *key, uint64_t now_ms);

/*
 * vigil replay's dry run (a replay_opts.on_alert hook; set: a struct
 * playbook_set): what the playbooks matching this alert would do, on err,
 * gates included. Nothing is done. Returns the playbook runs.
 */
unsigned playbook_dry_run(void *set, const struct rule_meta *m, const struct rule_view *v,
			  FILE *err);

#endif
