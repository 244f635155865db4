// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "ship/cmd_sign.h"
#include "ship/fleet.h"
#include "ship/subject.h"

#define MAX_SERVERS  16
#define CONNECT_MS   5000
#define HEALTH_BATCH 256
#define HEALTH_WAIT  2000

static int fail(struct fleet_conn *fc, natsStatus s, const char *what, char *err, size_t errlen)
{
	char buf[256];

	snprintf(err, errlen, "%s: %s", what, natslib_error(&fc->nl, s, buf, sizeof(buf)));
	return -EIO;
}

int fleet_connect(struct fleet_conn *fc, const char *urls, const char *creds_file, char *err,
		  size_t errlen)
{
	_cleanup_free_ char *copy = strdup(urls);
	const char *servers[MAX_SERVERS];
	natsOptions *opts = NULL;
	char *save = NULL, *tok;
	int n = 0, r;
	natsStatus s;

	memset(fc, 0, sizeof(*fc));
	r = natslib_load(&fc->nl, err, errlen);
	if (r < 0)
		return r;
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok && n < MAX_SERVERS;
	     tok = strtok_r(NULL, ",", &save))
		servers[n++] = tok;
	if (!n)
		return snprintf(err, errlen, "no NATS server in \"%s\"", urls), -EINVAL;
	s = fc->nl.natsOptions_Create(&opts);
	if (s == NATS_OK)
		s = fc->nl.natsOptions_SetServers(opts, servers, n);
	if (s == NATS_OK)
		s = fc->nl.natsOptions_SetTimeout(opts, CONNECT_MS);
	if (s == NATS_OK && creds_file)
		s = fc->nl.natsOptions_SetUserCredentialsFromFiles(opts, creds_file, NULL);
	if (s == NATS_OK)
		s = fc->nl.natsConnection_Connect(&fc->nc, opts);
	if (s == NATS_OK)
		s = fc->nl.natsConnection_JetStream(&fc->js, fc->nc, NULL);
	if (opts)
		fc->nl.natsOptions_Destroy(opts);
	if (s != NATS_OK) {
		r = fail(fc, s, urls, err, errlen);
		fleet_close(fc);
	}
	return r;
}

void fleet_close(struct fleet_conn *fc)
{
	if (fc->js)
		fc->nl.jsCtx_Destroy(fc->js);
	if (fc->nc) {
		fc->nl.natsConnection_Close(fc->nc);
		fc->nl.natsConnection_Destroy(fc->nc);
	}
	fc->js = NULL;
	fc->nc = NULL;
}

/* vigild's answer: a JSON object with "ok" (a stream's publish ack, if one captures subj, skipped). */
static json_t *answer(struct fleet_conn *fc, natsMsg *m, bool *acked)
{
	json_t *o = json_loadb(fc->nl.natsMsg_GetData(m), fc->nl.natsMsg_GetDataLength(m), 0, NULL);

	if (json_is_object(o) && json_object_get(o, "ok"))
		return o;
	*acked = *acked || json_object_get(o, "stream");
	json_decref(o);
	return NULL;
}

/* The request on subj, answered on our own inbox: the first reply that is vigild's. */
static json_t *ask(struct fleet_conn *fc, const char *subj, const char *host, const char *req,
		   int timeout_ms, char *err, size_t errlen)
{
	struct natslib *nl = &fc->nl;
	uint64_t deadline = clock_ns(CLOCK_MONOTONIC) + timeout_ms * 1000000ull;
	natsSubscription *sub = NULL;
	natsInbox *inbox = NULL;
	bool acked = false;
	json_t *o = NULL;
	natsStatus s = nl->natsInbox_Create(&inbox);

	if (s == NATS_OK)
		s = nl->natsConnection_SubscribeSync(&sub, fc->nc, inbox);
	if (s == NATS_OK)
		s = nl->natsConnection_PublishRequest(fc->nc, subj, inbox, req, strlen(req));
	while (s == NATS_OK && !o) {
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		natsMsg *m = NULL;

		s = now < deadline
			? nl->natsSubscription_NextMsg(&m, sub, (deadline - now) / 1000000)
			: NATS_TIMEOUT;
		if (s == NATS_OK && nl->natsMsg_IsNoResponders(m))
			s = NATS_NO_RESPONDERS;
		else if (s == NATS_OK)
			o = answer(fc, m, &acked);
		if (m)
			nl->natsMsg_Destroy(m);
	}
	if (sub) {
		nl->natsSubscription_Unsubscribe(sub);
		nl->natsSubscription_Destroy(sub);
	}
	if (inbox)
		nl->natsInbox_Destroy(inbox);
	if (s == NATS_NO_RESPONDERS || (s == NATS_TIMEOUT && !o))
		snprintf(err, errlen,
			 "no answer on %s%s (is vigild running on %s with output.nats, and is that "
			 "its host.name?)",
			 subj, acked ? " (only the stream's publish ack)" : "", host);
	else if (s != NATS_OK)
		fail(fc, s, subj, err, errlen);
	return o;
}

json_t *fleet_request(struct fleet_conn *fc, const char *prefix, const char *key_file,
		      const char *host, const char *cmd, json_t *args, int timeout_ms, char *err,
		      size_t errlen)
{
	char key_id[CMD_KEY_ID_MAX], nonce[33], subj[SUBJECT_MAX];
	_cleanup_free_ char *req = NULL;
	EVP_PKEY *key = NULL;

	if (rcmd_key_load(key_file, &key, key_id, err, errlen) < 0)
		return NULL;
	if (rcmd_nonce(nonce) == 0)
		req = rcmd_sign_request(key, key_id, cmd, host, args, time(NULL), nonce);
	rcmd_key_free(key);
	if (!req)
		return snprintf(err, errlen, "cannot sign the request with %s", key_file), NULL;
	if (subject_cmd(prefix, host, subj, sizeof(subj)) < 0)
		return snprintf(err, errlen, "host name too long: %s", host), NULL;
	return ask(fc, subj, host, req, timeout_ms, err, errlen);
}

/* Every message of list parsed into a; false when the stream has no more for us. */
static bool take_batch(struct fleet_conn *fc, natsMsgList *l, json_t *a)
{
	bool more = true;

	for (int i = 0; i < l->Count; i++) {
		natsMsg *m = l->Msgs[i];
		jsMsgMetaData *md = NULL;
		json_t *o =
		    json_loadb(fc->nl.natsMsg_GetData(m), fc->nl.natsMsg_GetDataLength(m), 0, NULL);

		if (json_is_object(o))
			json_array_append_new(a, o);
		else
			json_decref(o);
		if (fc->nl.natsMsg_GetMetaData(&md, m) == NATS_OK) {
			more = md->NumPending > 0;
			fc->nl.jsMsgMetaData_Destroy(md);
		}
	}
	return more;
}

json_t *fleet_heartbeats(struct fleet_conn *fc, const char *prefix, const char *stream, char *err,
			 size_t errlen)
{
	natsSubscription *sub = NULL;
	char filter[SUBJECT_MAX];
	json_t *a = json_array();
	jsSubOptions so;
	bool more = true;
	natsStatus s;

	snprintf(filter, sizeof(filter), "%s.health.>", prefix);
	fc->nl.jsSubOptions_Init(&so);
	so.Stream = stream;
	so.Config.DeliverPolicy = js_DeliverLastPerSubject;
	so.Config.AckPolicy = js_AckNone;
	so.Config.FilterSubject = filter;
	so.Config.InactiveThreshold = 10 * 1000000000ll;
	s = fc->nl.js_PullSubscribe(&sub, fc->js, filter, NULL, NULL, &so, NULL);
	if (s != NATS_OK) {
		json_decref(a);
		return fail(fc, s, stream, err, errlen), NULL;
	}
	while (more) {
		natsMsgList l = {0};

		s = fc->nl.natsSubscription_Fetch(&l, sub, HEALTH_BATCH, HEALTH_WAIT, NULL);
		more = s == NATS_OK && take_batch(fc, &l, a);
		fc->nl.natsMsgList_Destroy(&l);
	}
	fc->nl.natsSubscription_Unsubscribe(sub);
	fc->nl.natsSubscription_Destroy(sub);
	return a;
}
