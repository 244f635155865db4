/* SPDX-License-Identifier: GPL-2.0 */
/*
 * health.h — daemon: vigild's account of itself, for vigil status, the
 * heartbeat and the stream (drop events, resyncs, agent-start).
 *
 * Stage daemon/: the top; wires the stages and owns no detection or response logic.
 */
#ifndef VIGIL_HEALTH_H
#define VIGIL_HEALTH_H

#include <jansson.h>
#include <stdint.h>

struct manager;

/* What vigil status and the heartbeat show: events, drops, cache, sinks, stages. */
json_t *health_counters_json(struct manager *m);
/* Probes, mechanisms, BPF-LSM / fentry, watch counts. */
json_t *health_features_json(struct manager *m);
/* A state/metric event about the agent with vigil.agent = vigil_agent (taken over). */
void health_emit(struct manager *m, const char *kind, const char *type, const char *action,
		 json_t *vigil_agent);
/* agent-start, with what the previous run left in the events file. */
void health_emit_start(struct manager *m);
/* New drops since the last tick, as drop events; asks for a resync after lost exits. */
void health_check_drops(struct manager *m);
/* Check the process cache against /proc when it is wanted (rate-limited). */
void health_maybe_resync(struct manager *m, uint64_t now);
/* Fleet: messages for subscriptions, and gaps the shipper found, as fleet-gap events. */
void health_check_ship(struct manager *m);
/* Evicted correlation states, per rule. */
void health_check_evictions(struct manager *m);

#endif
