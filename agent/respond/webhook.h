/* SPDX-License-Identifier: GPL-2.0 */
/*
 * webhook.h — delivering notifications to webhook endpoints (libcurl,
 * loaded with dlopen when the first endpoint is configured).
 *
 * Owns: one delivery thread per endpoint, so a slow or dead receiver
 * never holds up event processing or another endpoint; the hand-off from
 * the event loop (webhook_send writes the message into the endpoint's
 * spool, spool.h, fsync'd, before it returns: nothing waits in memory, so a
 * crash at any point loses nothing); delivery from the spool only, oldest
 * first, removed after a 2xx (at least once: a crash between the 2xx and
 * the removal resends it with the same webhook-id, which receivers
 * de-duplicate on); the POST itself (TLS verified by default, CA file/dir,
 * optional client certificate, Standard Webhooks headers signed with
 * webhook_sign.h, the same webhook-id on every attempt, across restarts);
 * retries with exponential backoff and jitter on network errors, 408, 429
 * and 5xx except 501, honouring Retry-After; other answers retire the
 * message to the spool's failed/ directory, counted; counters.
 * The event loop never waits on the network here: libcurl runs only in the
 * delivery threads (CURLOPT_NOSIGNAL), a reload hands new settings to a
 * running thread instead of joining it, and a stopping thread's POST is
 * aborted within about a second (shutdown joins are bounded).
 *
 * Stage respond/: includes any stage but daemon/; does not own the loop or the socket.
 */
#ifndef VIGIL_WEBHOOK_H
#define VIGIL_WEBHOOK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "respond/playbook.h"

struct webhooks;

/* spool_dir: one subdirectory per endpoint. */
int webhooks_new(const char *spool_dir, uint64_t spool_max, uint64_t max_backoff_ms,
		 struct webhooks **ret);
struct webhooks *webhooks_free(struct webhooks *w);
/*
 * Make set's endpoints the running ones: an endpoint defined before keeps
 * its thread and spool and takes changed settings at its next attempt; a
 * new one starts; one no longer defined is told to stop (its spool stays on
 * disk) and reaped later. Returns without waiting for any thread. Secrets
 * are read here: a secret file that is missing, empty, malformed or
 * readable by others fails the endpoint (a running one keeps its settings).
 */
int webhooks_configure(struct webhooks *w, const struct playbook_set *set, char *err,
		       size_t errlen);
/*
 * Spool body for endpoint (fsync'd: durable when this returns 0) and wake
 * its thread; id_out (SPOOL_ID_MAX) gets the webhook-id. Disk I/O only,
 * never the network. -ENOENT no such endpoint running, -ENOSPC spool full;
 * a failure is counted as lost.
 */
int webhook_send(struct webhooks *w, const char *endpoint, const char *body, size_t len,
		 char *id_out);
json_t *webhooks_stats(struct webhooks *w);

/*
 * What an attempt's answer means: a 2xx is delivered (removed from the
 * spool); no answer (status 0: connection, TLS, timeout, any libcurl
 * error), 408, 429 and 5xx but 501 are retried with backoff; any other
 * status dead-letters the message to the spool's failed/.
 */
enum webhook_outcome { WEBHOOK_DELIVERED, WEBHOOK_RETRY, WEBHOOK_REJECTED };
enum webhook_outcome webhook_outcome(long status);

#endif
