// SPDX-License-Identifier: GPL-2.0
/*
 * ship.c — the publisher thread: lines from the cursor into batches, one
 * round of async publishes per batch, the cursor over the acked prefix,
 * gaps, lag, counters; and the event loop's side (stats, gaps, dispatch).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/log.h"
#include "core/util.h"
#include "ship/ship_internal.h"

#define IDLE_MS	       100 /* at the end of the live file: look again this often */
#define BACKOFF_MIN_MS 500 /* after a round that got no ack, or a failed connect */
#define BACKOFF_MAX_MS 8000
#define SAVE_EVERY_NS  (250 * 1000000ull) /* cursor writes at most this often while busy */
#define LAG_EVERY_NS   (1000 * 1000000ull)
#define LAG_SCAN_MAX   (64ull << 20) /* backlog lines counted over at most this many bytes */

/* ---- a line into a batch entry ---- */

static void view_str(const struct rule_view *v, enum field_id f, char *out, size_t len)
{
	const struct rval *r = view_first(v, f);

	if (r && r->s.n < len) {
		memcpy(out, r->s.p, r->s.n);
		out[r->s.n] = 0;
	} else {
		out[0] = 0;
	}
}

/* id, subject, sequence and time of a line; one that is not JSON goes to health, id = its hash */
static void describe(struct ship *s, const struct reader_line *l, struct entry *e)
{
	char kind[32] = "metric", host[256], err[128];
	const struct rval *seq;
	bool ok = json_view_fill(s->jv, &s->view, l->p, l->len, err, sizeof(err)) == 0;

	e->id[0] = host[0] = 0;
	if (ok) {
		view_str(&s->view, F_EVENT_ID, e->id, sizeof(e->id));
		view_str(&s->view, F_EVENT_KIND, kind, sizeof(kind));
		view_str(&s->view, F_HOST_NAME, host, sizeof(host));
		seq = view_first(&s->view, F_EVENT_SEQUENCE);
		e->end.seq = seq ? (uint64_t)seq->i : 0;
		e->ts_ns = s->view.ts_ns;
	} else {
		s->c.unparsed++;
		e->ts_ns = clock_ns(CLOCK_REALTIME);
	}
	if (!e->id[0]) /* the line's hash: a resend is still the same message */
		snprintf(e->id, sizeof(e->id), "sha256-%s", l->end.head);
	memcpy(e->end.id, e->id,
	       sizeof(e->end.id) < sizeof(e->id) ? sizeof(e->end.id) : sizeof(e->id));
	e->end.id[sizeof(e->end.id) - 1] = 0;
	if (subject_for(s->prefix, subject_kind_of(kind), host[0] ? host : s->host, s->partitions,
			e->subject, sizeof(e->subject)) < 0)
		subject_for(s->prefix, SUBJECT_HEALTH, s->host, s->partitions, e->subject,
			    sizeof(e->subject));
}

/* The chain says lines are missing before e: counted, and handed to the loop to be written. */
static void report_gap(struct ship *s, const struct entry *e)
{
	json_t *g =
	    json_pack("{s:s, s:s, s:{s:s, s:I}, s:{s:s, s:I}}", "reason",
		      "the events file's hash chain breaks before this line", "file", s->events,
		      "after", "id", s->last_read.id, "sequence", (json_int_t)s->last_read.seq,
		      "resumed", "id", e->id, "sequence", (json_int_t)e->end.seq);
	/* within one run sequences are consecutive: the difference is what was lost */
	bool known = s->last_read.seq && e->end.seq > s->last_read.seq;
	uint64_t lost = known ? e->end.seq - s->last_read.seq - 1 : 0;

	json_object_set_new(g, "lost_events", known ? json_integer(lost) : json_null());
	log_warn("fleet: %s lines are missing from %s before event %s (hash chain break): "
		 "reported as a gap event",
		 known ? "some" : "an unknown number of", s->events, e->id);
	pthread_mutex_lock(&s->mu);
	s->c.gaps++;
	s->c.lost_events += lost;
	json_array_append_new(s->gaps, g);
	pthread_mutex_unlock(&s->mu);
	ship_wake_loop(s);
}

/* Read on from the cursor until the batch is full or the file has no more. */
static void fill(struct ship *s)
{
	struct reader_line l;
	int r = 0;

	while (s->nbatch < BATCH_MAX && (r = reader_next(s->rd, &l)) > 0) {
		struct entry *e = &s->batch[s->nbatch];

		*e = (struct entry){.end = l.end, .len = l.len, .data = malloc(l.len ? l.len : 1)};
		if (!e->data)
			break;
		memcpy(e->data, l.p, l.len);
		describe(s, &l, e);
		if (l.gap)
			report_gap(s, e);
		s->last_read = e->end;
		pthread_mutex_lock(&s->mu);
		s->nbatch++;
		pthread_mutex_unlock(&s->mu);
	}
	if (r < 0)
		ship_set_error(s, "reading the events file", NATS_OK, strerror(-r));
	pthread_mutex_lock(&s->mu);
	s->c.oversized = reader_oversized(s->rd);
	s->caught_up = s->nbatch == 0 && r == 0;
	if (s->caught_up) /* at the live file's end with nothing unacked: no lag, now */
		s->lag_events = s->lag_bytes = 0, s->lag_seconds = 0;
	pthread_mutex_unlock(&s->mu);
}

/* ---- one round of publishes ---- */

static void save_cursor(struct ship *s, bool force)
{
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	int r;

	if (!s->cursor_dirty || (!force && now - s->last_save_ns < SAVE_EVERY_NS))
		return;
	r = cursor_save(s->cursor_path, &s->acked);
	if (r < 0) {
		s->c.cursor_errors++;
		ship_set_error(s, "saving the cursor", NATS_OK, strerror(-r));
		return;
	}
	s->cursor_dirty = false;
	s->last_save_ns = now;
}

/* Drop the acked prefix from the batch: the cursor moves past it. */
static unsigned advance(struct ship *s)
{
	unsigned n = 0, dups = 0;

	pthread_mutex_lock(&s->mu);
	while (n < s->nbatch && s->batch[n].st == E_ACKED)
		dups += s->batch[n++].dup;
	if (n) {
		s->acked = s->batch[n - 1].end;
		s->cursor_dirty = true;
	}
	for (unsigned i = 0; i < n; i++)
		free(s->batch[i].data);
	memmove(s->batch, s->batch + n, (s->nbatch - n) * sizeof(s->batch[0]));
	s->nbatch -= n;
	for (unsigned i = 0; i < s->nbatch; i++) /* unanswered: sent again next round */
		if (s->batch[i].st == E_SENT)
			s->batch[i].st = E_FAILED;
	s->c.acked += n;
	s->c.duplicates += dups;
	pthread_mutex_unlock(&s->mu);
	save_cursor(s, s->nbatch == 0);
	return n;
}

/* Acks that did not come in ACK_WAIT_MS: taken back from libnats (no late callback). */
static void drop_pending(struct ship *s)
{
	natsMsgList pending = {0};

	if (s->nl.js_PublishAsyncGetPendingList(&pending, s->js) == NATS_OK)
		s->nl.natsMsgList_Destroy(&pending);
}

static int publish_round(struct ship *s)
{
	const struct natslib *nl = &s->nl;
	jsPubOptions po;
	unsigned sent = 0, retried = 0, n;

	for (unsigned i = 0; i < s->nbatch && sent < s->window; i++) {
		struct entry *e = &s->batch[i];
		natsStatus st;

		if (e->st == E_ACKED)
			continue;
		pthread_mutex_lock(&s->mu);
		retried += e->st == E_FAILED;
		e->st = E_SENT;
		pthread_mutex_unlock(&s->mu);
		nl->jsPubOptions_Init(&po);
		po.MsgId = e->id;
		st = nl->js_PublishAsync(s->js, e->subject, e->data, e->len, &po);
		sent++;
		if (st != NATS_OK) {
			pthread_mutex_lock(&s->mu);
			e->st = E_FAILED;
			s->c.errors++;
			pthread_mutex_unlock(&s->mu);
			ship_set_error(s, "publish", st, NULL);
		}
	}
	nl->jsPubOptions_Init(&po);
	po.MaxWait = ACK_WAIT_MS;
	if (nl->js_PublishAsyncComplete(s->js, &po) != NATS_OK)
		drop_pending(s);
	pthread_mutex_lock(&s->mu);
	s->c.sent += sent;
	s->c.retried += retried;
	pthread_mutex_unlock(&s->mu);
	n = advance(s);
	if (n >= sent) /* all of it acked (a settled line counts too) */
		s->window = s->window * 2 > BATCH_MAX ? BATCH_MAX : s->window * 2;
	else
		s->window = 1;
	return n ? 0 : -EAGAIN;
}

/* ---- the thread ---- */

static void update_lag(struct ship *s)
{
	uint64_t now = clock_ns(CLOCK_MONOTONIC), bytes, lines, real = clock_ns(CLOCK_REALTIME);
	bool capped;
	double secs = 0;

	if (now - s->last_lag_ns < LAG_EVERY_NS)
		return;
	s->last_lag_ns = now;
	reader_backlog(s->rd, LAG_SCAN_MAX, &bytes, &lines, &capped);
	pthread_mutex_lock(&s->mu);
	for (unsigned i = 0; i < s->nbatch; i++)
		bytes += s->batch[i].len + 1;
	if (s->nbatch && s->batch[0].ts_ns && real > s->batch[0].ts_ns)
		secs = (real - s->batch[0].ts_ns) / 1e9;
	s->lag_events = lines + s->nbatch;
	s->lag_bytes = bytes;
	s->lag_capped = capped;
	s->lag_seconds = secs;
	pthread_mutex_unlock(&s->mu);
}

/* 0: progress; 1: nothing to do; <0: an error (back off). */
static int step(struct ship *s)
{
	bool settle, connected;
	int r;

	if (s->nbatch < BATCH_MAX)
		fill(s); /* also while disconnected: lag in seconds is the oldest line's age */
	if (!s->nc && (r = conn_open(s)) < 0)
		return r;
	if (s->nc && s->nl.natsConnection_IsClosed(s->nc)) {
		conn_close(s);
		return -ENOTCONN;
	}
	if (!s->stream_ok && (r = conn_ensure_stream(s)) < 0)
		return r;
	conn_sync_subs(s);
	if (!s->nbatch)
		return 1;
	pthread_mutex_lock(&s->mu);
	connected = s->connected;
	settle = s->settle && connected;
	s->settle = false;
	pthread_mutex_unlock(&s->mu);
	if (!connected) /* libnats is reconnecting: its buffer is no place for the batch */
		return -ENOTCONN;
	if (settle) {
		conn_settle(s);
		s->window = 1;
	}
	return publish_round(s);
}

/* Wait ms, or less when told to stop. */
static void nap(struct ship *s, uint64_t ms)
{
	struct timespec ts;
	uint64_t until = clock_ns(CLOCK_REALTIME) + ms * 1000000ull;

	ts.tv_sec = until / 1000000000ull;
	ts.tv_nsec = until % 1000000000ull;
	pthread_mutex_lock(&s->mu);
	if (!s->stop)
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	pthread_mutex_unlock(&s->mu);
}

/* Stop when told, after the drain: what the file holds acked, or the deadline passed. */
static bool done(struct ship *s)
{
	bool d;

	pthread_mutex_lock(&s->mu);
	d = s->stop &&
	    (s->caught_up || !s->connected || clock_ns(CLOCK_MONOTONIC) >= s->drain_until_ns);
	pthread_mutex_unlock(&s->mu);
	return d;
}

static void *ship_main(void *arg)
{
	struct ship *s = arg;
	uint64_t backoff = 0;

	while (!done(s)) {
		int r = step(s);

		update_lag(s);
		if (r < 0)
			backoff = !backoff			 ? BACKOFF_MIN_MS
				  : backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
								 : backoff * 2;
		else
			backoff = 0;
		if (r)
			nap(s, r < 0 ? backoff / 2 + random() % (backoff / 2 + 1) : IDLE_MS);
	}
	save_cursor(s, true);
	return NULL;
}

/* ---- the event loop's side ---- */

/* A secret for libnats to read: root's (or ours), 0600, in directories only root can write. */
static int check_secret(const char *key, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int r;

	if (!path[0])
		return 0;
	if ((r = path_check_trusted(path, err, errlen)) < 0)
		return r;
	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "output.nats.%s %s: %s", key, path, strerror(errno));
		return -errno;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen,
			 "output.nats.%s %s: readable by others (mode %03o); chmod 600", key, path,
			 st.st_mode & 0777);
		return -EPERM;
	}
	return 0;
}

static int check_config(const struct vigil_config *cfg, char *err, size_t errlen)
{
	const char *readable[][2] = {{"tls_ca", cfg->nats_tls_ca},
				     {"tls_cert", cfg->nats_tls_cert}};
	int r;

	if (!subject_prefix_valid(cfg->nats_subject_prefix)) {
		snprintf(err, errlen,
			 "output.nats.subject_prefix '%s': not a NATS subject prefix "
			 "(tokens of letters, digits, - and _, separated by dots)",
			 cfg->nats_subject_prefix);
		return -EINVAL;
	}
	if (!subject_stream_valid(cfg->nats_stream)) {
		snprintf(err, errlen,
			 "output.nats.stream '%s': not a stream name (letters, "
			 "digits, - and _)",
			 cfg->nats_stream);
		return -EINVAL;
	}
	if (!cfg->events_file[0]) {
		snprintf(err, errlen,
			 "output.nats needs output.file: the stream is shipped from it");
		return -EINVAL;
	}
	if (!cfg->nats_tls_cert[0] != !cfg->nats_tls_key[0]) {
		snprintf(err, errlen, "output.nats: tls_cert and tls_key go together");
		return -EINVAL;
	}
	for (unsigned i = 0; i < ARRAY_SIZE(readable); i++)
		if (readable[i][1][0] && access(readable[i][1], R_OK) < 0) {
			snprintf(err, errlen, "output.nats.%s %s: %s", readable[i][0],
				 readable[i][1], strerror(errno));
			return -errno;
		}
	if ((r = check_secret("creds_file", cfg->nats_creds_file, err, errlen)) < 0)
		return r;
	return check_secret("tls_key", cfg->nats_tls_key, err, errlen);
}

int ship_check(const struct vigil_config *cfg, char *err, size_t errlen)
{
	return cfg->nats_servers.n ? check_config(cfg, err, errlen) : 0;
}

static int copy_settings(struct ship *s, const struct vigil_config *cfg, const char *host)
{
	int r = 0;

	for (unsigned i = 0; i < cfg->nats_servers.n; i++)
		r |= strv_push(&s->servers, cfg->nats_servers.v[i]);
	s->creds = strdup(cfg->nats_creds_file);
	s->ca = strdup(cfg->nats_tls_ca);
	s->cert = strdup(cfg->nats_tls_cert);
	s->key = strdup(cfg->nats_tls_key);
	s->prefix = strdup(cfg->nats_subject_prefix);
	s->stream = strdup(cfg->nats_stream);
	s->host = strdup(host);
	s->replicas = cfg->nats_replicas;
	s->partitions = cfg->nats_partitions;
	s->max_files = cfg->file_max_files;
	snprintf(s->events, sizeof(s->events), "%s", cfg->events_file);
	snprintf(s->cursor_path, sizeof(s->cursor_path), "%s/ship.cursor", cfg->state_dir);
	return r || !s->creds || !s->ca || !s->cert || !s->key || !s->prefix || !s->stream ||
		       !s->host
		   ? -ENOMEM
		   : 0;
}

static int ship_alloc(struct ship **ret)
{
	struct ship *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->q_tail = &s->q_head;
	s->window = 1;
	s->gaps = json_array();
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	*ret = s;
	if (!s->gaps || s->efd < 0)
		return s->efd < 0 ? -errno : -ENOMEM;
	return 0;
}

int ship_new(const struct vigil_config *cfg, const char *host_name, char *err, size_t errlen,
	     struct ship **ret)
{
	struct ship *s = NULL;
	int r;

	*ret = NULL;
	if (!cfg->nats_servers.n)
		return 0;
	if ((r = check_config(cfg, err, errlen)) < 0)
		return r;
	if ((r = ship_alloc(&s)) < 0 || (r = copy_settings(s, cfg, host_name)) < 0 ||
	    (r = json_view_new(&s->jv)) < 0 || (r = view_init(&s->view, 1 << 16)) < 0) {
		snprintf(err, errlen, "output.nats: %s", strerror(-r));
		ship_free(s, 0);
		return r;
	}
	if (natslib_load(&s->nl, s->last_error, sizeof(s->last_error)) == 0)
		s->available = true;
	else
		log_warn("fleet: not shipping to NATS: %s", s->last_error);
	*ret = s;
	return 0;
}

/* The reader from the saved cursor; an unreadable cursor file starts over (said, counted). */
static int open_reader(struct ship *s)
{
	int r = cursor_load(s->cursor_path, &s->acked);

	if (r == -EINVAL) {
		log_warn("fleet: %s is unreadable: shipping the events file from its oldest line "
			 "(the stream drops what it already holds inside its window)",
			 s->cursor_path);
		s->c.cursor_errors++;
	}
	if (r < 0)
		s->acked = (struct ship_cursor){0};
	s->last_read = s->acked;
	return reader_new(s->events, s->max_files, r == 0 ? &s->acked : NULL, &s->rd);
}

int ship_start(struct ship *s)
{
	int r;

	if (!s || !s->available)
		return 0;
	if ((r = open_reader(s)) < 0)
		return log_error_errno(r, "fleet: cannot read %s", s->events);
	r = thread_start(&s->thread, NULL, ship_main, s); /* libnats's threads inherit its mask */
	if (r < 0)
		return log_error_errno(r, "fleet: cannot start the publisher thread");
	s->started = true;
	return 0;
}

struct ship *ship_free(struct ship *s, uint64_t drain_ms)
{
	if (!s)
		return NULL;
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		s->stop = true;
		s->caught_up = false; /* until a read after this finds nothing more */
		s->drain_until_ns = clock_ns(CLOCK_MONOTONIC) + drain_ms * 1000000ull;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
	}
	if (s->available)
		conn_close(s);
	for (struct inmsg *q = s->q_head, *n; q; q = n) {
		n = q->next;
		s->nl.natsMsg_Destroy(q->msg);
		free(q);
	}
	for (unsigned i = 0; i < s->nsubs; i++) {
		free(s->subs[i]->subject);
		free(s->subs[i]);
	}
	for (unsigned i = 0; i < s->nbatch; i++)
		free(s->batch[i].data);
	free(s->subs);
	reader_free(s->rd);
	json_view_free(s->jv);
	view_fini(&s->view);
	json_decref(s->gaps);
	if (s->efd >= 0)
		close(s->efd);
	strv_clear(&s->servers);
	free(s->creds), free(s->ca), free(s->cert), free(s->key);
	free(s->prefix), free(s->stream), free(s->host);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
	return NULL;
}

json_t *ship_stats_json(struct ship *s)
{
	const struct ship_counters *c = &s->c;
	uint64_t real = clock_ns(CLOCK_REALTIME);
	double lag_s;
	json_t *o;

	pthread_mutex_lock(&s->mu);
	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		      "state",
		      !s->available  ? "unavailable"
		      : s->connected ? "connected"
				     : "connecting",
		      "stream", s->stream, "server", s->url, "sent", (json_int_t)c->sent, "acked",
		      (json_int_t)c->acked, "duplicates", (json_int_t)c->duplicates, "retried",
		      (json_int_t)c->retried, "errors", (json_int_t)c->errors, "reconnects",
		      (json_int_t)c->reconnects, "disconnects", (json_int_t)c->disconnects, "gaps",
		      (json_int_t)c->gaps, "lost_events", (json_int_t)c->lost_events, "unparsed",
		      (json_int_t)c->unparsed, "oversized", (json_int_t)c->oversized,
		      "cursor_errors", (json_int_t)c->cursor_errors);
	/* the thread's last scan, made fresh by what is in flight: a round waiting for acks
	 * (a leader election) must not show the lag from before it */
	lag_s = s->nbatch && s->batch[0].ts_ns && real > s->batch[0].ts_ns
		    ? (real - s->batch[0].ts_ns) / 1e9
		    : s->lag_seconds;
	json_object_set_new(
	    o, "lag",
	    json_pack("{s:I, s:I, s:f, s:b}", "events",
		      (json_int_t)(s->lag_events > s->nbatch ? s->lag_events : s->nbatch), "bytes",
		      (json_int_t)s->lag_bytes, "seconds", s->caught_up ? 0.0 : lag_s,
		      "events_capped", s->lag_capped));
	json_object_set_new(o, "cursor",
			    json_pack("{s:I, s:I, s:s}", "inode", (json_int_t)s->acked.ino,
				      "offset", (json_int_t)s->acked.off, "event_id", s->acked.id));
	json_object_set_new(o, "connected", json_boolean(s->connected)); /* for the metrics */
	if (s->last_error[0])
		json_object_set_new(o, "last_error", json_string(s->last_error));
	pthread_mutex_unlock(&s->mu);
	return o;
}

json_t *ship_take_gap(struct ship *s)
{
	json_t *g = NULL;

	pthread_mutex_lock(&s->mu);
	if (json_array_size(s->gaps)) {
		g = json_incref(json_array_get(s->gaps, 0));
		json_array_remove(s->gaps, 0);
	}
	pthread_mutex_unlock(&s->mu);
	return g;
}

int ship_fd(struct ship *s)
{
	return s ? s->efd : -1;
}

int ship_subscribe(struct ship *s, const char *subject, ship_msg_fn fn, void *ctx)
{
	struct sub *sub, **n;

	if (!s->available)
		return -ENOTSUP;
	sub = calloc(1, sizeof(*sub));
	if (!sub || !(sub->subject = strdup(subject))) {
		free(sub);
		return -ENOMEM;
	}
	*sub = (struct sub){.s = s, .subject = sub->subject, .fn = fn, .ctx = ctx};
	pthread_mutex_lock(&s->mu);
	n = realloc(s->subs, (s->nsubs + 1) * sizeof(*n));
	if (n) {
		s->subs = n;
		s->subs[s->nsubs++] = sub;
		s->subs_dirty = true;
	}
	pthread_mutex_unlock(&s->mu);
	if (!n) {
		free(sub->subject);
		free(sub);
		return -ENOMEM;
	}
	return 0;
}

void ship_dispatch(struct ship *s)
{
	uint64_t v;
	struct inmsg *q;

	if (read(s->efd, &v, sizeof(v)) < 0) { /* nothing new (EAGAIN): the queue says */
	}
	for (;;) {
		pthread_mutex_lock(&s->mu);
		q = s->q_head;
		if (q && !(s->q_head = q->next))
			s->q_tail = &s->q_head;
		s->window = 1;
		pthread_mutex_unlock(&s->mu);
		if (!q)
			return;
		q->sub->fn(q->sub->ctx, s->nl.natsMsg_GetSubject(q->msg),
			   s->nl.natsMsg_GetReply(q->msg), s->nl.natsMsg_GetData(q->msg),
			   s->nl.natsMsg_GetDataLength(q->msg));
		s->nl.natsMsg_Destroy(q->msg);
		free(q);
	}
}

int ship_publish(struct ship *s, const char *subject, const void *data, size_t len)
{
	natsStatus st = NATS_CONNECTION_CLOSED;

	pthread_mutex_lock(&s->mu);
	if (s->nc && s->connected)
		st = s->nl.natsConnection_Publish(s->nc, subject, data, len);
	pthread_mutex_unlock(&s->mu);
	return st == NATS_OK ? 0 : -ENOTCONN;
}
