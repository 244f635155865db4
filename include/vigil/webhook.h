/* SPDX-License-Identifier: GPL-2.0 */
/*
 * webhook.h — delivering notifications to webhook endpoints (libcurl,
 * loaded with dlopen when the first endpoint is configured).
 *
 * Owns: one delivery thread per endpoint, so a slow or dead receiver
 * never holds up event processing or another endpoint; the hand-off from
 * the event loop (an in-memory queue the thread drains into the endpoint's
 * spool, spool.h, before the first attempt); the POST itself (TLS verified
 * by default, CA file/dir, optional client certificate, Standard Webhooks
 * headers signed with webhook_sign.h, the same webhook-id on every
 * attempt); retries with exponential backoff and jitter on network errors,
 * 408, 429 and 5xx except 501, honouring Retry-After; other answers retire
 * the message to the spool's failed/ directory, counted; counters.
 */
#ifndef VIGIL_WEBHOOK_H
#define VIGIL_WEBHOOK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/playbook.h"

struct webhooks;

/* spool_dir: one subdirectory per endpoint. */
int webhooks_new(const char *spool_dir, uint64_t spool_max, uint64_t max_backoff_ms,
		 struct webhooks **ret);
struct webhooks *webhooks_free(struct webhooks *w);
/*
 * (Re)start the endpoints of set (threads of endpoints no longer defined
 * stop; their spools stay on disk). Secrets are read here: a secret file
 * that is missing, empty, malformed or readable by others fails it.
 */
int webhooks_configure(struct webhooks *w, const struct playbook_set *set, char *err,
		       size_t errlen);
/* Queue body for endpoint; id_out (SPOOL_ID_MAX) gets the webhook-id. Never blocks on I/O. */
int webhook_send(struct webhooks *w, const char *endpoint, const char *body, size_t len,
		 char *id_out);
json_t *webhooks_stats(struct webhooks *w);

/* Should an HTTP status be retried? (network errors are: status 0) */
bool webhook_retryable(long status);

#endif
