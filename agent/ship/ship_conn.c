// SPDX-License-Identifier: GPL-2.0
/*
 * ship_conn.c — the publisher thread's NATS side: connecting (TLS, creds,
 * reconnecting forever with capped, jittered backoff), the stream (created
 * when absent, never changed), the batch's settle check after a reconnect,
 * and the subscriptions whose messages the event loop dispatches.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "ship/ship_internal.h"

#define CONNECT_TIMEOUT_MS 2000
#define RECONNECT_MAX_MS   8000 /* a fleet reconnecting after an outage spreads over this */
/*
 * The stream's de-duplication window. The server keeps every id of the
 * window in memory (~100 bytes each), so it must be sized to the fleet's
 * rate, not to the longest outage: 5 minutes covers what resends within a
 * connection (a leader election takes seconds, a vigild restart a few), and
 * an outage longer than that is covered by the settle check (the stream's last
 * message per subject against the batch, conn_settle) instead.
 */
#define DUPLICATE_WINDOW_NS (5 * 60 * 1000000000ll)
#define MAX_AGE_NS	    (7 * 24 * 3600 * 1000000000ll) /* when vigild creates it */

void ship_set_error(struct ship *s, const char *what, natsStatus st, const char *detail)
{
	char buf[200];

	pthread_mutex_lock(&s->mu);
	snprintf(s->last_error, sizeof(s->last_error), "%s: %s", what,
		 detail ? detail : natslib_error(&s->nl, st, buf, sizeof(buf)));
	pthread_mutex_unlock(&s->mu);
}

void ship_wake_loop(struct ship *s)
{
	uint64_t one = 1;

	if (write(s->efd, &one, sizeof(one)) < 0) { /* full (2^64-2 wakeups): it is readable */
	}
}

static int64_t reconnect_delay(natsConnection *nc, int attempts, void *closure)
{
	int64_t d = 250ll << (attempts < 5 ? attempts : 5);

	if (d > RECONNECT_MAX_MS)
		d = RECONNECT_MAX_MS;
	return d / 2 + random() % (d / 2 + 1); /* jitter: half to all of it */
}

static void on_disconnected(natsConnection *nc, void *closure)
{
	struct ship *s = closure;

	pthread_mutex_lock(&s->mu);
	s->connected = false;
	s->c.disconnects++;
	pthread_mutex_unlock(&s->mu);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
	struct ship *s = closure;

	pthread_mutex_lock(&s->mu);
	s->connected = true;
	s->c.reconnects++;
	s->settle = true; /* acks of the batch in flight may have been lost */
	s->nl.natsConnection_GetConnectedUrl(nc, s->url, sizeof(s->url));
	pthread_cond_signal(&s->cv); /* out of its backoff: the batch can go now */
	pthread_mutex_unlock(&s->mu);
}

/* An ack (or a failure) of one async publish, on a libnats thread. */
static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	struct ship *s = closure;
	const char *id = NULL;

	s->nl.natsMsgHeader_Get(msg, "Nats-Msg-Id", &id);
	pthread_mutex_lock(&s->mu);
	for (unsigned i = 0; id && i < s->nbatch; i++) {
		struct entry *e = &s->batch[i];

		if (e->st != E_SENT || strcmp(e->id, id))
			continue;
		e->st = pa ? E_ACKED : E_FAILED;
		e->dup = pa && pa->Duplicate;
		if (pae) {
			s->c.errors++;
			snprintf(s->last_error, sizeof(s->last_error), "publish: %s (%d)",
				 pae->ErrText ? pae->ErrText : s->nl.natsStatus_GetText(pae->Err),
				 (int)pae->ErrCode);
			if (pae->ErrCode == JSStreamNotFoundErr || pae->Err == NATS_NO_RESPONDERS)
				s->stream_ok = false;
		}
		break;
	}
	pthread_mutex_unlock(&s->mu);
	s->nl.natsMsg_Destroy(msg);
}

static natsStatus set_options(struct ship *s, natsOptions *o)
{
	const struct natslib *nl = &s->nl;
	char name[300];
	natsStatus st;

	snprintf(name, sizeof(name), "vigild %s", s->host);
	st = nl->natsOptions_SetServers(o, (const char **)s->servers.v, s->servers.n);
	if (st == NATS_OK)
		st = nl->natsOptions_SetName(o, name);
	if (st == NATS_OK)
		st = nl->natsOptions_SetTimeout(o, CONNECT_TIMEOUT_MS);
	if (st == NATS_OK)
		st = nl->natsOptions_SetMaxReconnect(o, -1);
	if (st == NATS_OK)
		st = nl->natsOptions_SetCustomReconnectDelay(o, reconnect_delay, s);
	/* buffered while disconnected is not durable (the file is): keep it small */
	if (st == NATS_OK)
		st = nl->natsOptions_SetReconnectBufSize(o, 1 << 20);
	if (st == NATS_OK)
		st = nl->natsOptions_SetDisconnectedCB(o, on_disconnected, s);
	if (st == NATS_OK)
		st = nl->natsOptions_SetReconnectedCB(o, on_reconnected, s);
	if (st == NATS_OK && (s->ca[0] || s->cert[0]))
		st = nl->natsOptions_SetSecure(o, true);
	if (st == NATS_OK && s->ca[0])
		st = nl->natsOptions_LoadCATrustedCertificates(o, s->ca);
	if (st == NATS_OK && s->cert[0])
		st = nl->natsOptions_LoadCertificatesChain(o, s->cert, s->key);
	if (st == NATS_OK && s->creds[0])
		st = nl->natsOptions_SetUserCredentialsFromFiles(o, s->creds, NULL);
	return st;
}

/*
 * A server that wants a client certificate (tls verify) and gets none refuses
 * it after the TLS 1.3 handshake: libnats then says only "Expected 'PONG',
 * got ''", which names neither TLS nor the certificate.
 */
static void set_connect_error(struct ship *s, natsStatus st)
{
	char buf[120], msg[200]; /* + "connect: ": fits last_error */

	natslib_error(&s->nl, st, buf, sizeof(buf));
	if (st == NATS_PROTOCOL_ERROR && s->ca[0] && !s->cert[0])
		snprintf(msg, sizeof(msg),
			 "%.100s (closed after TLS: does the server want a client certificate? "
			 "output.nats.tls_cert, tls_key)",
			 buf);
	else
		snprintf(msg, sizeof(msg), "%s", buf);
	ship_set_error(s, "connect", st, msg);
}

int conn_open(struct ship *s)
{
	const struct natslib *nl = &s->nl;
	natsOptions *o = NULL;
	natsConnection *nc = NULL;
	jsOptions jo;
	natsStatus st = nl->natsOptions_Create(&o);

	if (st == NATS_OK)
		st = set_options(s, o);
	if (st == NATS_OK)
		st = nl->natsConnection_Connect(&nc, o);
	if (o)
		nl->natsOptions_Destroy(o);
	if (st != NATS_OK) {
		set_connect_error(s, st);
		return -ENOTCONN;
	}
	nl->jsOptions_Init(&jo);
	jo.PublishAsync.AckHandler = on_ack;
	jo.PublishAsync.AckHandlerClosure = s;
	jo.PublishAsync.MaxPending = BATCH_MAX;
	st = nl->natsConnection_JetStream(&s->js, nc, &jo);
	if (st != NATS_OK) {
		ship_set_error(s, "jetstream", st, NULL);
		nl->natsConnection_Destroy(nc);
		return -ENOTCONN;
	}
	pthread_mutex_lock(&s->mu);
	s->nc = nc;
	s->connected = true;
	s->settle = true;
	nl->natsConnection_GetConnectedUrl(nc, s->url, sizeof(s->url));
	for (unsigned i = 0; i < s->nsubs; i++)
		s->subs[i]->ns = NULL;
	s->subs_dirty = s->nsubs > 0;
	pthread_mutex_unlock(&s->mu);
	log_info("fleet: connected to %s, publishing to stream %s", s->url, s->stream);
	return 0;
}

void conn_close(struct ship *s)
{
	natsConnection *nc;

	pthread_mutex_lock(&s->mu);
	nc = s->nc;
	s->nc = NULL;
	s->connected = false;
	pthread_mutex_unlock(&s->mu);
	for (unsigned i = 0; i < s->nsubs; i++)
		if (s->subs[i]->ns) {
			s->nl.natsSubscription_Destroy(s->subs[i]->ns);
			s->subs[i]->ns = NULL;
		}
	if (s->js)
		s->nl.jsCtx_Destroy(s->js);
	s->js = NULL;
	if (nc) {
		s->nl.natsConnection_Close(nc);
		s->nl.natsConnection_Destroy(nc); /* after it, no callback runs */
	}
	s->stream_ok = false;
}

int conn_ensure_stream(struct ship *s)
{
	const struct natslib *nl = &s->nl;
	char subj[SUBJECT_MAX];
	const char *subjects[] = {subj};
	jsStreamInfo *si = NULL;
	jsStreamConfig sc;
	jsErrCode jerr = 0;
	natsStatus st = nl->js_GetStreamInfo(&si, s->js, s->stream, NULL, &jerr);

	if (st == NATS_OK) { /* there: used as it is, whoever made it */
		nl->jsStreamInfo_Destroy(si);
		s->stream_ok = true;
		return 0;
	}
	if (st != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) {
		ship_set_error(s, "stream info", st, NULL);
		return -EIO;
	}
	snprintf(subj, sizeof(subj), "%s.>", s->prefix);
	nl->jsStreamConfig_Init(&sc);
	sc.Name = s->stream;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	sc.Replicas = s->replicas;
	sc.Duplicates = DUPLICATE_WINDOW_NS;
	sc.MaxAge = MAX_AGE_NS;
	st = nl->js_AddStream(&si, s->js, &sc, NULL, &jerr);
	if (st != NATS_OK && jerr != JSStreamNameExistErr) { /* another host made it first: fine */
		ship_set_error(s, "create stream", st, NULL);
		return -EIO;
	}
	if (si)
		nl->jsStreamInfo_Destroy(si);
	log_info("fleet: created stream %s (subjects %s, %u replicas, file storage)", s->stream,
		 subj, s->replicas);
	s->stream_ok = true;
	return 0;
}

/* Is entry i the last one of the batch with its subject up to j? Mark i..j of subject stored. */
static void mark_stored(struct ship *s, const char *subject, const char *id)
{
	int last = -1;

	for (unsigned i = 0; i < s->nbatch; i++)
		if (!strcmp(s->batch[i].subject, subject) && !strcmp(s->batch[i].id, id))
			last = i;
	for (int i = 0; i <= last; i++) {
		struct entry *e = &s->batch[i];

		if (!strcmp(e->subject, subject) && e->st != E_ACKED) {
			e->st = E_ACKED;
			e->dup = true;
		}
	}
}

void conn_settle(struct ship *s)
{
	const struct natslib *nl = &s->nl;

	for (unsigned i = 0; i < s->nbatch; i++) {
		natsMsg *m = NULL;
		const char *id = NULL;
		jsErrCode jerr = 0;
		bool seen = false;

		for (unsigned j = 0; j < i && !seen; j++)
			seen = !strcmp(s->batch[j].subject, s->batch[i].subject);
		if (seen || s->batch[i].st == E_ACKED)
			continue;
		if (nl->js_GetLastMsg(&m, s->js, s->stream, s->batch[i].subject, NULL, &jerr) !=
		    NATS_OK)
			continue; /* none yet (or no answer): the stream's window decides */
		if (nl->natsMsgHeader_Get(m, "Nats-Msg-Id", &id) == NATS_OK && id) {
			pthread_mutex_lock(&s->mu);
			mark_stored(s, s->batch[i].subject, id);
			pthread_mutex_unlock(&s->mu);
		}
		nl->natsMsg_Destroy(m);
	}
}

/* A message for a subscription, on a libnats thread: queued for the event loop. */
static void on_msg(natsConnection *nc, natsSubscription *ns, natsMsg *msg, void *closure)
{
	struct sub *sub = closure;
	struct ship *s = sub->s;
	struct inmsg *q = malloc(sizeof(*q));

	if (!q) {
		s->nl.natsMsg_Destroy(msg);
		return;
	}
	*q = (struct inmsg){.sub = sub, .msg = msg};
	pthread_mutex_lock(&s->mu);
	*s->q_tail = q;
	s->q_tail = &q->next;
	pthread_mutex_unlock(&s->mu);
	ship_wake_loop(s);
}

void conn_sync_subs(struct ship *s)
{
	pthread_mutex_lock(&s->mu);
	if (!s->subs_dirty || !s->nc) {
		pthread_mutex_unlock(&s->mu);
		return;
	}
	s->subs_dirty = false;
	for (unsigned i = 0; i < s->nsubs; i++) {
		struct sub *sub = s->subs[i];
		natsStatus st;

		if (sub->ns)
			continue;
		st = s->nl.natsConnection_Subscribe(&sub->ns, s->nc, sub->subject, on_msg, sub);
		if (st != NATS_OK) {
			sub->ns = NULL;
			s->subs_dirty = true; /* again on the next round */
		}
	}
	pthread_mutex_unlock(&s->mu);
}
