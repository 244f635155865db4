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

json_t *fleet_request(struct fleet_conn *fc, const char *prefix, const char *key_file,
		      const char *host, const char *cmd, json_t *args, int timeout_ms, char *err,
		      size_t errlen)
{
	char key_id[CMD_KEY_ID_MAX], nonce[33], subj[SUBJECT_MAX];
	_cleanup_free_ char *req = NULL;
	EVP_PKEY *key = NULL;
	natsMsg *reply = NULL;
	json_error_t jerr;
	json_t *o;
	natsStatus s;

	if (rcmd_key_load(key_file, &key, key_id, err, errlen) < 0)
		return NULL;
	if (rcmd_nonce(nonce) == 0)
		req = rcmd_sign_request(key, key_id, cmd, host, args, time(NULL), nonce);
	rcmd_key_free(key);
	if (!req)
		return snprintf(err, errlen, "cannot sign the request with %s", key_file), NULL;
	if (subject_cmd(prefix, host, subj, sizeof(subj)) < 0)
		return snprintf(err, errlen, "host name too long: %s", host), NULL;
	s = fc->nl.natsConnection_Request(&reply, fc->nc, subj, req, strlen(req), timeout_ms);
	if (s == NATS_NO_RESPONDERS)
		return snprintf(err, errlen,
				"no vigild listens on %s (is output.nats set on %s, and is that "
				"its host.name?)",
				subj, host),
		       NULL;
	if (s != NATS_OK)
		return fail(fc, s, subj, err, errlen), NULL;
	o = json_loadb(fc->nl.natsMsg_GetData(reply), fc->nl.natsMsg_GetDataLength(reply), 0,
		       &jerr);
	fc->nl.natsMsg_Destroy(reply);
	if (!json_is_object(o)) {
		json_decref(o);
		return snprintf(err, errlen, "%s: malformed reply: %s", subj, jerr.text), NULL;
	}
	if (!json_object_get(o, "ok") && json_object_get(o, "stream")) { /* a publish ack */
		snprintf(err, errlen,
			 "stream %s captures %s and answered first: its subjects must be "
			 "%s.events.>, %s.alerts.>, %s.health.> (not %s.>)",
			 json_string_value(json_object_get(o, "stream")) ?: "?", subj, prefix,
			 prefix, prefix, prefix);
		return json_decref(o), NULL;
	}
	return o;
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
