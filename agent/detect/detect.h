/* SPDX-License-Identifier: GPL-2.0 */
/*
 * detect.h — the daemon's detection stage: events in, alerts out.
 *
 * Owns: which rule files the daemon loads (config rules.paths, --rules, or
 * the defaults: rules/ beside build/ in a source tree, otherwise
 * /usr/share/vigil/rules overridden by same-named files in
 * /etc/vigil/rules.d), the running rule engine, reload (compiled to the
 * side and swapped; a failed reload keeps the running rules), the live
 * event → view step, writing alerts to the stream (and Falco JSON to
 * output.falco_file), and the counters. Rule semantics are rules.h's.
 *
 * Stage detect/: includes core/, sense/, stream/; does not act: no signals, cells, webhooks.
 */
#ifndef VIGIL_DETECT_H
#define VIGIL_DETECT_H

#include <jansson.h>

#include "core/config.h"
#include "stream/ecs.h"
#include "sense/event.h"
#include "sense/proc_cache.h"
#include "detect/rules.h"
#include "stream/sink.h"

struct detector;

/* cli_paths: --rules given on the command line (override config and defaults). */
int detect_new(const struct vigil_config *cfg, const struct strv *cli_paths, struct ecs_writer *w,
	       struct proc_cache *pc, struct sinks *sinks, struct detector **ret);
struct detector *detect_free(struct detector *d);
/* Recompile the rules (cfg may carry new selection lists); err gets the first error. */
int detect_reload(struct detector *d, const struct vigil_config *cfg, char *err, size_t errlen);
/*
 * Match a live event; line/len is the event's stream line (the alert's base).
 * It must stay valid while every matching rule alerts and its hooks run: the
 * ECS writer's event buffer is one no agent line reuses (ecs.h).
 */
void detect_event(struct detector *d, const struct vigil_event *ev, const char *line, size_t len);
/* Called with each alert after it is written (the response stage): its line and its JSON. */
typedef void (*detect_alert_hook)(void *ctx, const struct rule_meta *m, const char *line,
				  size_t len, json_t *alert);
void detect_on_alert(struct detector *d, detect_alert_hook fn, void *ctx);
/* Counters and what is loaded, for status and heartbeats. */
json_t *detect_stats(const struct detector *d);
/* Sequences evicted since the last call, {rule id: count}; NULL if none. */
json_t *detect_evictions(struct detector *d);
/* Load the rules the daemon would use and report problems (vigild --check). */
int detect_check(const struct vigil_config *cfg, const struct strv *cli_paths);

#endif
