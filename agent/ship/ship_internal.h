/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ship_internal.h — what ship.c (the publisher thread, batches, counters)
 * and ship_conn.c (connection, stream, subscriptions) share. Nothing outside
 * ship/ includes it.
 *
 * Stage ship/: includes core/ and any stage below daemon/; does not own the
 * loop or the socket.
 */
#ifndef VIGIL_SHIP_INTERNAL_H
#define VIGIL_SHIP_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "detect/fields.h"
#include "detect/json_view.h"
#include "ship/cursor.h"
#include "ship/natslib.h"
#include "ship/ship.h"
#include "ship/subject.h"

#define BATCH_MAX   256	 /* lines in flight: one batch of async publishes */
#define ACK_WAIT_MS 4000 /* for a batch's acks: longer than a leader election */
#define ID_MAX	    80

enum entry_state { E_NEW, E_SENT, E_ACKED, E_FAILED };

struct entry {
	char *data;
	size_t len;
	char id[ID_MAX];
	char subject[SUBJECT_MAX];
	struct ship_cursor end; /* the cursor once it is acked */
	uint64_t ts_ns;		/* @timestamp (realtime): lag in seconds */
	enum entry_state st;	/* under mu: the ack handler sets it */
	bool dup;
};

struct sub {
	struct ship *s;
	char *subject;
	ship_msg_fn fn;
	void *ctx;
	natsSubscription *ns; /* the thread's: made at connect */
};

struct inmsg {
	struct inmsg *next;
	struct sub *sub;
	natsMsg *msg;
};

struct ship_counters {
	uint64_t sent, acked, duplicates, retried, errors, reconnects, disconnects;
	uint64_t gaps, lost_events, unparsed, oversized, cursor_errors;
};

struct ship {
	/* settings, fixed after ship_new */
	struct natslib nl;
	bool available; /* libnats loaded */
	struct strv servers;
	char *creds, *ca, *cert, *key, *prefix, *stream, *host;
	uint32_t replicas, partitions;
	char events[PATH_MAX], cursor_path[PATH_MAX];
	unsigned max_files;
	/* the publisher thread's own */
	pthread_t thread;
	bool started;
	jsCtx *js;
	bool stream_ok, settle;
	struct reader *rd;
	struct json_view *jv;
	struct rule_view view;
	struct entry batch[BATCH_MAX];
	unsigned nbatch;
	/*
	 * Publishes in flight at most, 1 .. BATCH_MAX: 1 after a reconnect or a
	 * failed round, doubled after each round acked in full. A round that
	 * fails midway (a leader dying) lets later lines land before the resent
	 * ones: starting small again keeps that to the lines of one round.
	 */
	unsigned window;
	struct ship_cursor acked, last_read; /* the last line acked / read */
	bool cursor_dirty;
	uint64_t last_save_ns, last_lag_ns;
	/* shared, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	natsConnection *nc; /* set and cleared by the thread; ship_publish uses it */
	bool stop;
	uint64_t drain_until_ns;
	bool caught_up;
	struct ship_counters c;
	uint64_t lag_events, lag_bytes;
	bool lag_capped, connected;
	double lag_seconds;
	char url[256], last_error[256];
	json_t *gaps; /* reports for the event loop */
	struct sub **subs;
	unsigned nsubs;
	bool subs_dirty;
	struct inmsg *q_head, **q_tail;
	int efd;
};

/* ship_conn.c, on the publisher thread: 0 or -errno (last_error says why). */
int conn_open(struct ship *s);
void conn_close(struct ship *s);
int conn_ensure_stream(struct ship *s);
void conn_sync_subs(struct ship *s);
/* The stream's last message per subject of the batch: those already stored are acked. */
void conn_settle(struct ship *s);
void ship_set_error(struct ship *s, const char *what, natsStatus st, const char *detail);
void ship_wake_loop(struct ship *s);

#endif
