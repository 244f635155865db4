/* SPDX-License-Identifier: GPL-2.0 */
/*
 * event_view.h — a live event (decoded, enriched) as a struct rule_view.
 *
 * Owns: the mapping from struct vigil_event + the process cache to the
 * same field names and values the stream shows (ecs.c), so a rule matches
 * live exactly as it matches in replay: argv redacted the same way,
 * optional objects present under the same conditions. Each process's
 * redacted argv and command line are built once and kept with it.
 *
 * Stage detect/: includes core/, sense/, stream/; does not act: no signals, cells, webhooks.
 */
#ifndef VIGIL_EVENT_VIEW_H
#define VIGIL_EVENT_VIEW_H

#include "stream/ecs.h"
#include "sense/event.h"
#include "detect/fields.h"
#include "sense/proc_cache.h"

/* The rule index bucket of an action (no string compares: once per event). */
enum action_bit event_view_action(enum vigil_action a);
/* Fill v from ev; call after ecs_format_event(w, ev) so event.id matches the line. */
void event_view_fill(struct rule_view *v, const struct vigil_event *ev, struct proc_cache *pc,
		     const struct ecs_writer *w);

#endif
