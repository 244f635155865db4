/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ship.h — the local events file into NATS JetStream (output.nats), and the
 * NATS connection other fleet features (remote commands) ride on.
 *
 * Owns: one publisher thread (the event loop never waits on the network)
 * that connects (TLS, creds), creates the stream when absent (subjects
 * <prefix>.>, file storage, the configured replicas; never changed or
 * deleted), reads the events file from the cursor (cursor.h) and publishes
 * each line to its subject (subject.h) with Nats-Msg-Id = event.id,
 * asynchronously in batches; the cursor advances over the contiguous prefix
 * the stream acknowledged and is saved atomically, so a dead cluster, a
 * leader failover, kill -9 or a reboot loses nothing, and a resend is
 * de-duplicated by the stream inside its window (and checked against the
 * stream's last message per subject after a reconnect, for longer outages).
 * Failed or unacknowledged publishes are retried forever with backoff; the
 * connection reconnects forever. Counters and lag (events, bytes, seconds).
 * Gaps (lines the chain says are missing) are counted and handed to the
 * event loop (ship_take_gap) to be written, and so shipped, as events.
 *
 * Subscriptions (for vigild's command subject): ship_subscribe registers a
 * subject and a callback; messages are queued by libnats's thread, ship_fd
 * becomes readable, and ship_dispatch runs the callbacks on the event loop.
 * ship_publish answers (core NATS, no ack: request/reply).
 *
 * Stage ship/: includes core/ and any stage below daemon/; does not own the
 * loop or the socket.
 */
#ifndef VIGIL_SHIP_H
#define VIGIL_SHIP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

struct ship;

/*
 * From cfg->nats_* (no servers: 0 and *ret NULL) for the events file
 * cfg->events_file, the cursor in cfg->state_dir. Bad settings (a prefix or
 * stream name NATS refuses, a creds or key file others can read, TLS files
 * missing) are -EINVAL/-EPERM with one line in err: vigild refuses to start.
 * Without libnats it returns 0 with a ship that only reports why (status,
 * heartbeat): vigild runs, the file keeps everything for later.
 */
int ship_new(const struct vigil_config *cfg, const char *host_name, char *err, size_t errlen,
	     struct ship **ret);
/* ship_new's checks alone, for vigild --check: 0 or -errno with one line in err. */
int ship_check(const struct vigil_config *cfg, char *err, size_t errlen);
/* Start the publisher thread (after the stages that write the events file). */
int ship_start(struct ship *s);
/* Stop: up to drain_ms for what is already in the file to be acked, then join. */
struct ship *ship_free(struct ship *s, uint64_t drain_ms);

/* Counters, lag, connection and cursor, for vigil status / heartbeat / metrics. */
json_t *ship_stats_json(struct ship *s);
/* A gap to report (vigil.agent.nats_gap's content; the caller owns it), or NULL. */
json_t *ship_take_gap(struct ship *s);

/* Readable when ship_dispatch or ship_take_gap has work; -1 when s is NULL. */
int ship_fd(struct ship *s);
typedef void (*ship_msg_fn)(void *ctx, const char *subject, const char *reply, const char *data,
			    size_t len);
/* Receive subject's messages (subscribed now or at the next connect, and after reconnects). */
int ship_subscribe(struct ship *s, const char *subject, ship_msg_fn fn, void *ctx);
/* On the event loop: run the callbacks of the messages that arrived. */
void ship_dispatch(struct ship *s);
/* Core NATS publish (a reply): -ENOTCONN when not connected; never waits on the network. */
int ship_publish(struct ship *s, const char *subject, const void *data, size_t len);

#endif
