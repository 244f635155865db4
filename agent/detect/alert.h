/* SPDX-License-Identifier: GPL-2.0 */
/*
 * alert.h — the JSON of an alert, in the stream's ECS form or in Falco's.
 *
 * Owns: turning a rule match into a line. ECS: the triggering event's
 * fields, event.kind alert, rule.*, event.severity, threat.technique.id,
 * tags, message (the rendered output) and vigil.alert (trigger id,
 * sequence steps). Falco: time, rule, priority, output, output_fields,
 * tags, hostname, source — what Falcosidekick and Falco Talon read.
 * Alerts are rare, so this uses jansson; the per-event path never does.
 *
 * Stage detect/: includes core/, sense/, stream/; does not act: no signals, cells, webhooks.
 */
#ifndef VIGIL_ALERT_H
#define VIGIL_ALERT_H

#include <jansson.h>
#include <stddef.h>

#include "stream/ecs.h"
#include "detect/fields.h"
#include "detect/rules.h"

/*
 * ECS alert from the triggering event's line (trigger, tlen). Returns a
 * malloc'd line without '\n', or NULL (out of memory / unparsable trigger).
 * With obj, the alert's JSON object is handed over too (the caller
 * decrefs it): the response stage reads it instead of parsing the line.
 */
char *alert_ecs(struct ecs_writer *w, const char *trigger, size_t tlen, const struct rule *r,
		const struct rule_hit *hit, json_t **obj);
/* Falco-compatible alert JSON (malloc'd, no '\n'). */
char *alert_falco(const char *host_name, const struct rule *r, const struct rule_view *v,
		  const struct rule_hit *hit);
const char *falco_priority(enum severity s);

/* One field value as JSON (strings lossy-decoded where not UTF-8): output_fields, replay. */
json_t *alert_value_json(const struct rval *r, enum field_type t);

#endif
