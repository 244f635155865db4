/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rules.h — detection rules: load, compile, evaluate, correlate.
 *
 * Owns: reading rule files (ytree.h) into lists, macros and rules; the
 * compiler (macros inlined, lists expanded into hash sets / sorted prefix
 * tables, fields resolved to ids, types checked, CIDRs parsed, every error
 * as file:line:col); selection (enable/disable by id, name or tag, severity
 * overrides); the evaluator over a struct rule_view with rules indexed by
 * event.action; sequence ("A then B within T by KEY") and threshold ("N
 * times, or N distinct values, within T by KEY") state, bounded, with
 * evictions counted per rule; alert de-duplication. Formatting alerts is alert.c's business; where
 * events come from is the caller's.
 *
 * Stage detect/: includes core/, sense/, stream/; does not act: no signals, cells, webhooks.
 */
#ifndef VIGIL_RULES_H
#define VIGIL_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "detect/fields.h"

enum severity { SEV_INFO, SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL };

const char *severity_name(enum severity s);
int severity_score(enum severity s); /* ECS event.severity: 1 21 47 73 99 */
/* "high" → SEV_HIGH; Falco priorities (WARNING, ERROR…) accepted too. */
int severity_parse(const char *s, enum severity *ret);

/* Where load errors and warnings go: one line each, "file:line:col: …". */
struct rules_diag {
	void (*fn)(void *ctx, bool error, const char *line);
	void *ctx;
	unsigned errors, warnings;
};

/* A rules_diag.fn that logs each line and keeps the first error (ctx: struct diag_first, or NULL). */
struct diag_first {
	char *buf;
	size_t len;
};
void diag_log(void *ctx, bool error, const char *line);

struct ydoc;
/* "file:line:col: [warning: ]message" to d (rules and playbooks alike). */
__attribute__((format(printf, 6, 7))) void diag_report(struct rules_diag *d, bool error,
						       const struct ydoc *doc, unsigned line,
						       unsigned col, const char *fmt, ...);
/*
 * Files and directories → *.yaml / *.yml files in lexical order of their
 * names, a later same-named file replacing an earlier one; world-writable
 * directories refused.
 */
int yaml_collect_files(const char *const *paths, unsigned npaths, struct strv *files,
		       struct rules_diag *diag);
struct ydoc;
struct ynode;
/*
 * Every key of mapping m must be in allowed (NULL-terminated); each other
 * one is an error at its position, with "did you mean" when a known key is
 * within two edits. Rules and playbooks alike. false if any was unknown.
 */
bool yaml_check_keys(struct rules_diag *diag, const struct ydoc *d, const struct ynode *m,
		     const char *const *allowed);
/*
 * The one YAML file-set loader (rules and playbooks): yaml_collect_files,
 * then each file read (read_trusted_file) and parsed, errors counted in
 * diag; each(ctx, doc) takes the tree over. *nfiles: the files found. 0, or
 * each's first error (-errno).
 */
int yaml_load_files(const char *const *paths, unsigned npaths, struct rules_diag *diag,
		    int (*each)(void *ctx, struct ydoc *doc), void *ctx, unsigned *nfiles);

struct rules_select {
	const struct strv *enable;   /* ids, names or tags */
	const struct strv *disable;  /* ids, names or tags; enable wins */
	const struct strv *severity; /* "ID=level" */
};

struct rule;
struct ruleset;

/*
 * Load and compile rule files. paths: files or directories (*.yaml, *.yml,
 * lexical order); a file with the same name as an earlier one replaces it.
 * Fails (-EINVAL) if any error was reported; warnings do not fail.
 */
int ruleset_load(const char *const *paths, unsigned npaths, const struct rules_select *sel,
		 struct rules_diag *diag, struct ruleset **ret);
struct ruleset *ruleset_free(struct ruleset *rs);
unsigned ruleset_count(const struct ruleset *rs); /* enabled rules */
unsigned ruleset_files(const struct ruleset *rs);
/* The longest 'within' of its sequences and thresholds (0: none): what a resumed reader re-reads. */
uint64_t ruleset_max_window_ns(const struct ruleset *rs);
/* The i-th enabled rule (i < ruleset_count), in load order. */
const struct rule *ruleset_rule(const struct ruleset *rs, unsigned i);

/* What an alert needs to know about its rule. */
struct rule_meta {
	const char *id, *name, *desc, *ruleset;
	const char *file; /* where the rule is written, and its line */
	unsigned line;
	enum severity severity;
	const char *const *tags;
	unsigned ntags;
};
const struct rule_meta *rule_meta(const struct rule *r);
/* Render the output template against v into buf (always NUL-terminated). */
size_t rule_render(const struct rule *r, const struct rule_view *v, char *buf, size_t len);
/* Call fn for each field the output template names (Falco output_fields). */
void rule_output_fields(const struct rule *r, void (*fn)(void *ctx, enum field_id f), void *ctx);

/* A sequence's earlier steps, for the alert. */
struct seq_match {
	const char *by;	 /* key kind: tree, process, session, container or a field */
	const char *key; /* the key value the steps shared */
	unsigned steps;
	uint64_t first_ts_ns;
	const char *first_event_id;
};

/* One rule firing: its rendered output, and what led to it. */
struct rule_hit {
	const char *message;	     /* the output template, rendered */
	const struct seq_match *seq; /* NULL unless a sequence completed */
	uint64_t suppressed;	     /* identical alerts held back since the last one */
};

typedef void (*alert_fn)(void *ctx, const struct rule *r, const struct rule_view *v,
			 const struct rule_hit *hit);

struct rule_engine_stats {
	uint64_t events, matches, suppressed, seq_started, seq_expired, seq_evicted, seq_live;
	uint64_t undecided; /* conditions (rules or steps) left unknown by unknown fields */
};

struct rule_engine;

/* state_max: cap on live sequence states (oldest evicted, counted). */
int rule_engine_new(struct ruleset *rs, unsigned state_max, alert_fn fn, void *ctx,
		    struct rule_engine **ret);
/*
 * Hold back an alert identical to one (same rule, process, rendered output)
 * raised less than window_ns ago; the next one that goes out carries the
 * count. 0 = every match is an alert.
 */
void rule_engine_set_dedup(struct rule_engine *e, uint64_t window_ns);
/* Frees the engine and its ruleset. */
struct rule_engine *rule_engine_free(struct rule_engine *e);
/* Use a new ruleset (sequence state is dropped); returns the old one to free. */
struct ruleset *rule_engine_swap(struct rule_engine *e, struct ruleset *rs);
const struct ruleset *rule_engine_ruleset(const struct rule_engine *e);
/* Does any rule look at events with this event.action? (skip building a view if not) */
bool rule_engine_wants(const struct rule_engine *e, enum action_bit a);
/* Evaluate one event: fn is called for each rule that fires. */
void rule_engine_eval(struct rule_engine *e, const struct rule_view *v);
void rule_engine_stats(const struct rule_engine *e, struct rule_engine_stats *ret);
/*
 * Sequence states evicted to make room, per rule (the rule whose pending
 * sequence was lost): fn gets each rule with evictions, n of them new
 * since the last unreported_only call (which marks them reported), or all
 * n = total when unreported_only is false. Since the last reload.
 */
typedef void (*eviction_fn)(void *ctx, const struct rule *r, uint64_t n, uint64_t total);
void rule_engine_evictions(struct rule_engine *e, bool unreported_only, eviction_fn fn, void *ctx);
/* Rules whose condition was unknown on n events (views with unknown fields). */
typedef void (*undecided_fn)(void *ctx, const struct rule *r, uint64_t n);
void rule_engine_undecided(const struct rule_engine *e, undecided_fn fn, void *ctx);
/*
 * Can r fire at all on events where the fields in the bitmap unknown are
 * never known (a plain ECS stream)? used gets the unknown fields r names.
 */
bool rule_can_fire_without(const struct rule *r, const uint64_t *unknown, uint64_t *used);
/* Every field some rule's condition names, as a bitmap of (F__COUNT + 63) / 64 words. */
void ruleset_fields(const struct ruleset *rs, uint64_t *ret);

#endif
