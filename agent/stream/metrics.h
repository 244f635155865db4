/* SPDX-License-Identifier: GPL-2.0 */
/*
 * metrics.h — Prometheus metrics for node_exporter's textfile collector.
 *
 * Owns: turning vigild's counters (the same object `vigil status` shows:
 * events by action, drops by cause, rules, response actions, webhook
 * deliveries/failures/spool per endpoint, …) into the Prometheus text
 * format — every number becomes `vigil_<path>`, with the keys under
 * by_action, drops and webhooks as labels (action, cause, endpoint) — and
 * writing the file atomically (temporary file, rename) so the collector
 * never reads half of it.
 *
 * Stage stream/: includes core/ and sense/; does not decide (detect) or act.
 */
#ifndef VIGIL_METRICS_H
#define VIGIL_METRICS_H

#include <jansson.h>
#include <stdio.h>

/* The exposition text for counters, to f. */
void metrics_format(FILE *f, json_t *counters);
/* Write it to path (atomically); -errno on failure. */
int metrics_write(const char *path, json_t *counters);

#endif
