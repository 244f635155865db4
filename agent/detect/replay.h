/* SPDX-License-Identifier: GPL-2.0 */
/*
 * replay.h — recorded NDJSON through the rules: retro-hunting.
 *
 * Owns: reading lines (any length, up to 16 MiB each), skipping and
 * counting malformed ones (reported as NAME:LINE: reason), skipping alert
 * lines (event.kind alert: a stream's own alerts are not evidence), and
 * writing alerts as ECS or Falco JSON lines. The engine is the daemon's.
 * Lines another collector wrote are completed first (derive.h); their
 * alerts say which fields were derived (vigil.derived) and which the rules
 * needed but no line could tell (vigil.underived); a rule left undecided
 * by such a field does not fire and is counted in the summary.
 *
 * Stage detect/: includes core/, sense/, stream/; does not act: no signals, cells, webhooks.
 */
#ifndef VIGIL_REPLAY_H
#define VIGIL_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "detect/rules.h"

struct rule_view;

struct replay_stats {
	uint64_t lines, events, alerts, malformed, skipped_alerts, alert_errors, playbook_runs;
	uint64_t foreign;   /* events from other collectors (derivation ran) */
	uint64_t undecided; /* rule conditions left unknown by an underived field */
};

struct replay_opts {
	bool falco; /* Falco-compatible alert JSON instead of ECS */
	unsigned max_sequences;
	uint64_t dedup_ms;     /* identical alerts within this are held back (0: off) */
	const char *host_name; /* for Falco's hostname when events lack host.name */
	/*
	 * Called for each alert (NULL: nothing): the CLI prints what the
	 * playbooks would do there (playbook_dry_run); returns the playbook runs
	 * it counted. Response is a stage above detection: it comes in as a hook.
	 */
	unsigned (*on_alert)(void *ctx, const struct rule_meta *m, const struct rule_view *v,
			     FILE *err);
	void *alert_ctx;
	/* watch lists and workload selectors to derive fields of foreign lines with (NULL: none) */
	const struct vigil_config *cfg;
	/* Each alert line (no '\n'), with its trigger's line, instead of writing it to out. */
	void (*emit)(void *ctx, const char *alert, const char *trigger, size_t tlen);
	void *emit_ctx;
};

struct replay;

/* The engine for a stream of lines: rs is taken over (freed on failure too). */
int replay_new(struct ruleset *rs, const struct replay_opts *o, FILE *out, FILE *err,
	       struct replay_stats *st, struct replay **ret);
/* One line (its newline optional) through the rules; name is for messages ("NAME:LINE: ..."). */
void replay_feed(struct replay *rp, const char *line, size_t n, const char *name);
struct replay *replay_free(struct replay *rp);

/* Runs rs (taken over and freed) over in; alerts to out, problems to err. */
int replay_run(struct ruleset *rs, const struct replay_opts *o, FILE *in, const char *name,
	       FILE *out, FILE *err, struct replay_stats *st);

#endif
