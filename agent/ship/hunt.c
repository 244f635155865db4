// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "ship/fleet.h"
#include "ship/hunt.h"

#define BATCH	     256
#define FETCH_MS     1000
#define ACK_WAIT_NS  (30 * 1000000000ll)
#define REREAD_SLACK (5 * 1000000000ull) /* hosts' clocks vs the stream's arrival times */
#define EPHEMERAL_NS (30 * 1000000000ll)
#define MAX_ACK_PEND 8192

struct hunt {
	struct fleet_conn *fc;
	const struct hunt_opts *o;
	FILE *out, *err;
	struct hunt_stats *st;
	struct replay_opts ro;
	struct replay *rp;
	uint64_t window_ns;
	char filter[256], durable[64], bucket[300], key[32];
	kvStore *kv;
	uint64_t rev, renewed_ns;
	bool holding;
	/* the message being evaluated */
	const char *subject;
	bool quiet; /* re-reading before the ack floor: its alerts went out already */
	int pub_err;
};

static int nats_fail(struct hunt *h, natsStatus s, const char *what)
{
	char buf[256];

	fprintf(h->err, "vigil: hunt: %s: %s\n", what,
		natslib_error(&h->fc->nl, s, buf, sizeof(buf)));
	return -EIO;
}

/* "<prefix>.events.<P>.<host>" → "<prefix>.alerts.hunt.<P>.<host>". */
static int alert_subject(const struct hunt *h, char *out, size_t len)
{
	size_t pl = strlen(h->o->prefix);
	const char *rest = h->subject + pl + strlen(".events.");
	int n;

	if (strncmp(h->subject, h->o->prefix, pl) || strncmp(h->subject + pl, ".events.", 8))
		return -EINVAL;
	n = snprintf(out, len, "%s.alerts.hunt.%s", h->o->prefix, rest);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The alert's id from its trigger and rule: the same alert gets the same id from any worker. */
static int alert_id(json_t *a, char *id, size_t len)
{
	json_t *vig = json_object_get(a, "vigil");
	const char *trig = json_string_value(
	    json_object_get(json_object_get(json_object_get(vig, "alert"), "trigger"), "id"));
	const char *rule = json_string_value(json_object_get(json_object_get(a, "rule"), "id"));

	if (!trig || !rule)
		return -EINVAL;
	snprintf(id, len, "hunt-%s-%s", trig, rule);
	json_object_set_new(json_object_get(a, "event"), "id", json_string(id));
	return 0;
}

static void on_alert_line(void *ctx, const char *alert, const char *trigger, size_t tlen)
{
	struct hunt *h = ctx;
	_cleanup_(json_decrefp) json_t *a = NULL;
	_cleanup_free_ char *line = NULL;
	char subj[512], id[256], ebuf[256];
	jsPubOptions po;
	jsPubAck *ack = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	if (h->quiet) {
		h->st->reread_alerts++;
		return;
	}
	a = json_loads(alert, 0, NULL);
	if (!a || alert_id(a, id, sizeof(id)) < 0 || alert_subject(h, subj, sizeof(subj)) < 0 ||
	    !(line = json_dumps(a, JSON_COMPACT))) {
		h->st->publish_errors++;
		return; /* not an alert we can name: counted, the event still acked */
	}
	h->fc->nl.jsPubOptions_Init(&po);
	po.MsgId = id;
	s = h->fc->nl.js_Publish(&ack, h->fc->js, subj, line, strlen(line), &po, &jerr);
	if (s != NATS_OK) {
		fprintf(h->err, "vigil: hunt: publishing %s: %s\n", id,
			natslib_error(&h->fc->nl, s, ebuf, sizeof(ebuf)));
		h->st->publish_errors++;
		h->pub_err = -EIO; /* the event is not acked: it comes back */
		return;
	}
	h->st->alerts++;
	if (ack->Duplicate) {
		h->st->duplicates++; /* a worker before us published it, and printed it */
	} else {
		h->st->published++;
		fprintf(h->out, "%s\n", line);
		fflush(h->out);
	}
	h->fc->nl.jsPubAck_Destroy(ack);
}

/* ---- the lease ---- */

static int lease_bucket(struct hunt *h)
{
	struct natslib *nl = &h->fc->nl;
	kvConfig kc;
	natsStatus s;

	if (nl->js_KeyValue(&h->kv, h->fc->js, h->bucket) == NATS_OK)
		return 0;
	nl->kvConfig_Init(&kc);
	kc.Bucket = h->bucket;
	kc.History = 1;
	kc.TTL = (int64_t)h->o->lease_ttl_ms * 1000000;
	kc.Replicas = 3;
	s = nl->js_CreateKeyValue(&h->kv, h->fc->js, &kc);
	if (s != NATS_OK) { /* a single server: R1 */
		kc.Replicas = 1;
		s = nl->js_CreateKeyValue(&h->kv, h->fc->js, &kc);
	}
	return s == NATS_OK ? 0 : nats_fail(h, s, h->bucket);
}

/* Who holds the lease now (for the message), into buf. */
static void lease_holder(struct hunt *h, char *buf, size_t len)
{
	kvEntry *e = NULL;

	snprintf(buf, len, "?");
	if (h->fc->nl.kvStore_Get(&e, h->kv, h->key) != NATS_OK)
		return;
	snprintf(buf, len, "%.*s", h->fc->nl.kvEntry_ValueLen(e),
		 (const char *)h->fc->nl.kvEntry_Value(e));
	h->fc->nl.kvEntry_Destroy(e);
}

static bool lease_take(struct hunt *h)
{
	const char *w = h->o->worker;

	if (h->fc->nl.kvStore_Create(&h->rev, h->kv, h->key, w, strlen(w)) != NATS_OK)
		return false;
	h->renewed_ns = clock_ns(CLOCK_MONOTONIC);
	h->holding = true;
	return true;
}

/* Renewed a third of the TTL in; false when someone else has it now. */
static bool lease_keep(struct hunt *h)
{
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	const char *w = h->o->worker;

	if (now - h->renewed_ns < h->o->lease_ttl_ms * 1000000ull / 3)
		return true;
	if (h->fc->nl.kvStore_Update(&h->rev, h->kv, h->key, w, strlen(w), h->rev) != NATS_OK)
		return h->holding = false;
	h->renewed_ns = now;
	return true;
}

/* ---- reading ---- */

static void feed(struct hunt *h, natsMsg *m)
{
	struct natslib *nl = &h->fc->nl;

	h->subject = nl->natsMsg_GetSubject(m);
	h->pub_err = 0;
	replay_feed(h->rp, nl->natsMsg_GetData(m), nl->natsMsg_GetDataLength(m), h->subject);
}

static uint64_t stream_seq(struct hunt *h, natsMsg *m)
{
	jsMsgMetaData *md = NULL;
	uint64_t seq = 0;

	if (h->fc->nl.natsMsg_GetMetaData(&md, m) == NATS_OK) {
		seq = md->Sequence.Stream;
		h->fc->nl.jsMsgMetaData_Destroy(md);
	}
	return seq;
}

/* The @timestamp of the event at stream sequence seq (0: unknown). */
static uint64_t event_time(struct hunt *h, uint64_t seq)
{
	struct natslib *nl = &h->fc->nl;
	natsMsg *m = NULL;
	json_t *o;
	uint64_t ns = 0;
	const char *ts;

	if (nl->js_GetMsg(&m, h->fc->js, h->o->stream, seq, NULL, NULL) != NATS_OK)
		return 0;
	o = json_loadb(nl->natsMsg_GetData(m), nl->natsMsg_GetDataLength(m), 0, NULL);
	ts = json_string_value(json_object_get(o, "@timestamp"));
	if (!ts || parse_rfc3339_ns(ts, strlen(ts), &ns) < 0)
		ns = 0;
	json_decref(o);
	nl->natsMsg_Destroy(m);
	return ns;
}

/*
 * Taking over at ack floor `floor`: the events of the longest correlation
 * window up to it, through the rules with their alerts held back, so the
 * sequences the previous worker had open are open here too.
 */
static void reread(struct hunt *h, uint64_t floor)
{
	struct natslib *nl = &h->fc->nl;
	uint64_t t = floor && h->window_ns ? event_time(h, floor) : 0;
	natsSubscription *sub = NULL;
	jsSubOptions so;
	bool done = false;

	if (!t)
		return;
	nl->jsSubOptions_Init(&so);
	so.Stream = h->o->stream;
	so.Config.DeliverPolicy = js_DeliverByStartTime;
	so.Config.OptStartTime = t - h->window_ns - REREAD_SLACK;
	so.Config.AckPolicy = js_AckNone;
	so.Config.FilterSubject = h->filter;
	so.Config.InactiveThreshold = EPHEMERAL_NS;
	if (nl->js_PullSubscribe(&sub, h->fc->js, h->filter, NULL, NULL, &so, NULL) != NATS_OK) {
		fprintf(h->err, "vigil: hunt: cannot re-read before the ack floor; sequences open "
				"at the takeover may not fire\n");
		return;
	}
	h->quiet = true;
	while (!done && !*h->o->stop) {
		natsMsgList l = {0};

		if (nl->natsSubscription_Fetch(&l, sub, BATCH, FETCH_MS, NULL) != NATS_OK)
			break;
		for (int i = 0; i < l.Count && !done; i++) {
			uint64_t seq = stream_seq(h, l.Msgs[i]);

			done = seq >= floor;
			if (seq <= floor) {
				feed(h, l.Msgs[i]);
				h->st->reread++;
			}
		}
		nl->natsMsgList_Destroy(&l);
	}
	h->quiet = false;
	nl->natsSubscription_Unsubscribe(sub);
	nl->natsSubscription_Destroy(sub);
}

/* The partition's durable consumer: bound if it exists (its start stays), else created. */
static int durable_open(struct hunt *h, natsSubscription **sub, uint64_t *floor)
{
	struct natslib *nl = &h->fc->nl;
	jsConsumerInfo *ci = NULL;
	jsSubOptions so;
	natsStatus s;

	nl->jsSubOptions_Init(&so);
	so.Stream = h->o->stream;
	if (nl->js_GetConsumerInfo(&ci, h->fc->js, h->o->stream, h->durable, NULL, NULL) ==
	    NATS_OK) {
		*floor = ci->AckFloor.Stream;
		nl->jsConsumerInfo_Destroy(ci);
		so.Consumer = h->durable;
	} else {
		*floor = 0;
		so.Config.Durable = h->durable;
		so.Config.AckPolicy = js_AckAll; /* one ack per batch: it covers those before */
		so.Config.AckWait = ACK_WAIT_NS;
		so.Config.MaxAckPending = MAX_ACK_PEND;
		so.Config.FilterSubject = h->filter;
		so.Config.DeliverPolicy = h->o->since_ns ? js_DeliverByStartTime : js_DeliverAll;
		so.Config.OptStartTime = h->o->since_ns;
	}
	s = nl->js_PullSubscribe(sub, h->fc->js, h->filter, h->durable, NULL, &so, NULL);
	return s == NATS_OK ? 0 : nats_fail(h, s, h->durable);
}

/*
 * One batch: each event through the rules; the last one whose alerts (and
 * every earlier one's) are in the stream is acked, which acks those before
 * it (AckAll). After a failed publish the rest of the batch waits for
 * redelivery: nothing is acked past an alert that is not in the stream.
 */
static void process(struct hunt *h, natsMsgList *l)
{
	struct natslib *nl = &h->fc->nl;
	int i;

	for (i = 0; i < l->Count; i++) {
		feed(h, l->Msgs[i]);
		h->st->messages++;
		if (h->pub_err)
			break;
	}
	if (i < l->Count)
		nl->natsMsg_Nak(l->Msgs[i], NULL);
	if (i > 0)
		nl->natsMsg_Ack(l->Msgs[i - 1], NULL);
}

/* Active on the partition until done, stopped, or the lease is lost (-EAGAIN). */
static int work(struct hunt *h)
{
	struct natslib *nl = &h->fc->nl;
	natsSubscription *sub = NULL;
	uint64_t floor;
	int r = durable_open(h, &sub, &floor);

	if (r < 0)
		return r;
	if (floor)
		h->st->takeovers++;
	reread(h, floor);
	while (!*h->o->stop) {
		natsMsgList l = {0};
		natsStatus s = nl->natsSubscription_Fetch(&l, sub, BATCH, FETCH_MS, NULL);

		if (s == NATS_OK)
			process(h, &l);
		nl->natsMsgList_Destroy(&l);
		if (!lease_keep(h)) {
			fprintf(h->err,
				"vigil: hunt: lost the lease on partition %s, standing by\n",
				h->key);
			r = -EAGAIN;
			break;
		}
		if (s == NATS_TIMEOUT && !h->o->follow)
			break; /* caught up */
		if (s != NATS_OK && s != NATS_TIMEOUT) {
			r = nats_fail(h, s, "fetch");
			break;
		}
	}
	nl->natsSubscription_Destroy(sub); /* not Unsubscribe: the durable stays */
	return r;
}

static int hunt_init(struct hunt *h, struct ruleset *rs)
{
	const char *p = h->o->partition ? h->o->partition : "all";

	h->window_ns = ruleset_max_window_ns(rs);
	snprintf(h->key, sizeof(h->key), "%s", p);
	snprintf(h->durable, sizeof(h->durable), "hunt-%s", p);
	snprintf(h->bucket, sizeof(h->bucket), "%s_hunt", h->o->stream);
	if (h->o->partition)
		snprintf(h->filter, sizeof(h->filter), "%s.events.%s.>", h->o->prefix, p);
	else
		snprintf(h->filter, sizeof(h->filter), "%s.events.>", h->o->prefix);
	h->ro = h->o->ro;
	h->ro.emit = on_alert_line;
	h->ro.emit_ctx = h;
	return replay_new(rs, &h->ro, h->out, h->err, &h->st->rs, &h->rp);
}

int hunt_run(struct fleet_conn *fc, const struct hunt_opts *o, struct ruleset *rs, FILE *out,
	     FILE *err, struct hunt_stats *st)
{
	struct hunt h = {.fc = fc, .o = o, .out = out, .err = err, .st = st};
	bool told = false;
	int r;

	memset(st, 0, sizeof(*st));
	r = hunt_init(&h, rs);
	if (r == 0)
		r = lease_bucket(&h);
	while (r == 0 && !*o->stop) {
		char who[128];

		if (lease_take(&h)) {
			fprintf(err, "vigil: hunt: partition %s: active (%s)\n", h.key, o->worker);
			told = false;
			r = work(&h);
			if (r == -EAGAIN)
				r = 0;
			else
				break;
			continue;
		}
		lease_holder(&h, who, sizeof(who));
		if (!o->follow) {
			fprintf(
			    err,
			    "vigil: hunt: partition %s is hunted by %s now (--follow stands by)\n",
			    h.key, who);
			r = -EBUSY;
			break;
		}
		if (!told)
			fprintf(err, "vigil: hunt: partition %s held by %s, standing by\n", h.key,
				who);
		told = true;
		nanosleep(&(struct timespec){o->lease_ttl_ms / 4000,
					     o->lease_ttl_ms / 4 % 1000 * 1000000L},
			  NULL);
	}
	if (h.holding)
		fc->nl.kvStore_Delete(h.kv, h.key); /* a clean stop hands over at once */
	if (h.kv)
		fc->nl.kvStore_Destroy(h.kv);
	replay_free(h.rp);
	return r;
}
