// SPDX-License-Identifier: GPL-2.0
/*
 * natsjs — what the fleet tests and benches need from a JetStream cluster,
 * through libnats (Debian has no nats CLI), via vigil's own loader
 * (ship/natslib.h):
 *   natsjs URLS dump STREAM [FROM_SEQ]  every message as a JSON line:
 *                                       {"seq","subject","id","data"}
 *   natsjs URLS info STREAM             config and state as one JSON line
 *   natsjs URLS pub SUBJECT ID DATA     publish with Nats-Msg-Id and wait for the ack
 *   natsjs URLS create STREAM SUBJECT R a stream of R replicas, file storage
 * URLS: comma-separated. TLS when NATSJS_TLS_CA is set (a client certificate
 * too with NATSJS_TLS_CERT and NATSJS_TLS_KEY). Exit 0, or 1 with one line
 * on stderr.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ship/natslib.h"

static struct natslib nl;

static int fail(const char *what, natsStatus s)
{
	char buf[512];

	fprintf(stderr, "natsjs: %s: %s\n", what, natslib_error(&nl, s, buf, sizeof(buf)));
	return 1;
}

static natsStatus set_tls(natsOptions *o)
{
	const char *ca = getenv("NATSJS_TLS_CA"), *cert = getenv("NATSJS_TLS_CERT");
	natsStatus s = NATS_OK;

	if (!ca)
		return NATS_OK;
	s = nl.natsOptions_SetSecure(o, true);
	if (s == NATS_OK)
		s = nl.natsOptions_LoadCATrustedCertificates(o, ca);
	if (s == NATS_OK && cert)
		s = nl.natsOptions_LoadCertificatesChain(o, cert, getenv("NATSJS_TLS_KEY"));
	return s;
}

static natsStatus connect_js(char *urls, natsConnection **nc, jsCtx **js)
{
	const char *v[16];
	int n = 0;
	natsOptions *o = NULL;
	natsStatus s;

	for (char *t = strtok(urls, ","); t && n < 16; t = strtok(NULL, ","))
		v[n++] = t;
	s = nl.natsOptions_Create(&o);
	if (s == NATS_OK)
		s = nl.natsOptions_SetServers(o, v, n);
	if (s == NATS_OK)
		s = nl.natsOptions_SetTimeout(o, 3000);
	if (s == NATS_OK)
		s = set_tls(o);
	if (s == NATS_OK)
		s = nl.natsConnection_Connect(nc, o);
	if (s == NATS_OK)
		s = nl.natsConnection_JetStream(js, *nc, NULL);
	nl.natsOptions_Destroy(o);
	return s;
}

static void print_msg(natsMsg *m, uint64_t seq)
{
	const char *id = NULL;
	json_error_t je;
	json_t *data = json_loadb(nl.natsMsg_GetData(m), nl.natsMsg_GetDataLength(m), 0, &je);
	json_t *o;

	nl.natsMsgHeader_Get(m, "Nats-Msg-Id", &id);
	if (!data)
		data = json_stringn(nl.natsMsg_GetData(m), nl.natsMsg_GetDataLength(m));
	o = json_pack("{s:I, s:s, s:s?, s:o}", "seq", (json_int_t)seq, "subject",
		      nl.natsMsg_GetSubject(m), "id", id, "data", data);
	json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(o);
}

static int dump(jsCtx *js, const char *stream, uint64_t from)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s = nl.js_GetStreamInfo(&si, js, stream, NULL, &jerr);
	uint64_t last;

	if (s != NATS_OK)
		return fail("stream info", s);
	last = si->State.LastSeq;
	if (from < si->State.FirstSeq)
		from = si->State.FirstSeq;
	nl.jsStreamInfo_Destroy(si);
	for (uint64_t seq = from; seq && seq <= last; seq++) {
		natsMsg *m = NULL;

		s = nl.js_GetMsg(&m, js, stream, seq, NULL, &jerr);
		if (s == NATS_NOT_FOUND)
			continue; /* deleted */
		if (s != NATS_OK)
			return fail("get message", s);
		print_msg(m, seq);
		nl.natsMsg_Destroy(m);
	}
	return 0;
}

static int info(jsCtx *js, const char *stream)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s = nl.js_GetStreamInfo(&si, js, stream, NULL, &jerr);
	json_t *subj = json_array(), *o;

	if (s != NATS_OK)
		return fail("stream info", s);
	for (int i = 0; i < si->Config->SubjectsLen; i++)
		json_array_append_new(subj, json_string(si->Config->Subjects[i]));
	o = json_pack("{s:s, s:o, s:I, s:i, s:I, s:I, s:I, s:I, s:I}", "name", si->Config->Name,
		      "subjects", subj, "replicas", (json_int_t)si->Config->Replicas, "storage",
		      (int)si->Config->Storage, "duplicates_ns",
		      (json_int_t)si->Config->Duplicates, "max_age_ns",
		      (json_int_t)si->Config->MaxAge, "messages", (json_int_t)si->State.Msgs,
		      "first_seq", (json_int_t)si->State.FirstSeq, "last_seq",
		      (json_int_t)si->State.LastSeq);
	json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(o);
	nl.jsStreamInfo_Destroy(si);
	return 0;
}

static int pub(jsCtx *js, const char *subject, const char *id, const char *data)
{
	jsPubOptions po;
	jsPubAck *pa = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	nl.jsPubOptions_Init(&po);
	po.MsgId = id;
	s = nl.js_Publish(&pa, js, subject, data, strlen(data), &po, &jerr);
	if (s != NATS_OK)
		return fail("publish", s);
	printf("{\"seq\":%llu,\"duplicate\":%s}\n", (unsigned long long)pa->Sequence,
	       pa->Duplicate ? "true" : "false");
	nl.jsPubAck_Destroy(pa);
	return 0;
}

static int create(jsCtx *js, const char *stream, const char *subject, int replicas)
{
	const char *subjects[] = {subject};
	jsStreamInfo *si = NULL;
	jsStreamConfig sc;
	jsErrCode jerr = 0;
	natsStatus s;

	nl.jsStreamConfig_Init(&sc);
	sc.Name = stream;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	sc.Replicas = replicas;
	s = nl.js_AddStream(&si, js, &sc, NULL, &jerr);
	if (s != NATS_OK)
		return fail("create stream", s);
	nl.jsStreamInfo_Destroy(si);
	return 0;
}

int main(int argc, char **argv)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	char err[256];
	natsStatus s;
	int r;

	if (argc < 4) {
		fprintf(stderr, "usage: natsjs URLS dump STREAM [FROM] | info STREAM | pub SUBJECT "
				"ID DATA | create STREAM SUBJECT REPLICAS\n");
		return 2;
	}
	if (natslib_load(&nl, err, sizeof(err)) < 0) {
		fprintf(stderr, "natsjs: %s\n", err);
		return 1;
	}
	if ((s = connect_js(argv[1], &nc, &js)) != NATS_OK)
		return fail("connect", s);
	if (!strcmp(argv[2], "dump"))
		r = dump(js, argv[3], argc > 4 ? strtoull(argv[4], NULL, 10) : 1);
	else if (!strcmp(argv[2], "info"))
		r = info(js, argv[3]);
	else if (!strcmp(argv[2], "pub") && argc == 6)
		r = pub(js, argv[3], argv[4], argv[5]);
	else if (!strcmp(argv[2], "create") && argc == 6)
		r = create(js, argv[3], argv[4], atoi(argv[5]));
	else
		r = 2;
	nl.jsCtx_Destroy(js);
	nl.natsConnection_Destroy(nc);
	return r;
}
