// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/alert.h"
#include "stream/json_writer.h"
#include "core/util.h"

/* A JSON string from bytes that may not be UTF-8: bad bytes become U+FFFD. */
static json_t *json_string_lossy(const char *p, size_t n)
{
	json_t *s = json_stringn(p, n);
	struct jw w;

	if (s || jw_init(&w, n + 16) < 0)
		return s ? s : json_string("");
	jw_raw(&w, "\"", 1);
	jw_escape(&w, p, n);
	jw_raw(&w, "\"", 1);
	s = w.oom ? NULL : json_loadb(w.buf, w.len, JSON_DECODE_ANY, NULL);
	jw_free(&w);
	return s ? s : json_string("");
}

static json_t *str_list(const char *const *v, unsigned n, bool (*keep)(const char *))
{
	json_t *a = json_array();

	for (unsigned i = 0; i < n; i++)
		if (!keep || keep(v[i]))
			json_array_append_new(a, json_string(v[i]));
	return a;
}

/* ATT&CK (T1059.004) and ATLAS (AML.T0011) technique ids, not free-form tags. */
static bool is_technique(const char *t)
{
	return (t[0] == 'T' && t[1] >= '0' && t[1] <= '9') || !strncmp(t, "AML.T", 5);
}

static json_t *rule_json(const struct rule_meta *m)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_string(m->id));
	json_object_set_new(o, "name", json_string(m->name));
	if (m->desc[0])
		json_object_set_new(o, "description", json_string(m->desc));
	json_object_set_new(o, "ruleset", json_string(m->ruleset));
	return o;
}

static json_t *threat_json(const struct rule_meta *m)
{
	json_t *ids = str_list(m->tags, m->ntags, is_technique), *t, *tech;

	if (!json_array_size(ids)) {
		json_decref(ids);
		return NULL;
	}
	t = json_object();
	tech = json_object();
	json_object_set_new(tech, "id", ids);
	json_object_set_new(t, "framework", json_string("MITRE ATT&CK"));
	json_object_set_new(t, "technique", tech);
	return t;
}

static json_t *seq_json(const struct seq_match *s)
{
	json_t *o = json_object();
	char ts[48];

	fmt_rfc3339_ns(ts, sizeof(ts), s->first_ts_ns);
	json_object_set_new(o, "by", json_string(s->by));
	json_object_set_new(o, "key", json_string(s->key));
	json_object_set_new(o, "steps", json_integer(s->steps));
	json_object_set_new(o, "first_event_id", json_string(s->first_event_id));
	json_object_set_new(o, "first_timestamp", json_string(ts));
	return o;
}

static void set_event(json_t *ev, const char *id, uint64_t seq, const struct rule_meta *m)
{
	json_t *trig = json_object();

	json_object_set(trig, "id", json_object_get(ev, "id"));
	json_object_set(trig, "sequence", json_object_get(ev, "sequence"));
	json_object_set_new(ev, "kind", json_string("alert"));
	json_object_set_new(ev, "category", json_pack("[s]", "intrusion_detection"));
	json_object_set_new(ev, "type", json_pack("[s]", "info"));
	json_object_set_new(ev, "id", json_string(id));
	json_object_set_new(ev, "sequence", json_integer(seq));
	json_object_set_new(ev, "severity", json_integer(severity_score(m->severity)));
	json_object_set_new(ev, "module", json_string("vigil"));
	json_object_set_new(ev, "__trigger", trig); /* moved to vigil.alert by the caller */
}

char *alert_ecs(struct ecs_writer *w, const char *trigger, size_t tlen, const struct rule *r,
		const struct rule_hit *hit, json_t **obj)
{
	const struct rule_meta *m = rule_meta(r);
	json_t *o = json_loadb(trigger, tlen, 0, NULL), *ev, *vig, *al, *threat;
	char id[48];
	uint64_t sequence;
	char *out;

	if (!json_is_object(o) || !json_is_object(ev = json_object_get(o, "event"))) {
		json_decref(o);
		return NULL;
	}
	sequence = ecs_claim_id(w, id, sizeof(id));
	set_event(ev, id, sequence, m);
	json_object_set_new(o, "message", json_string_lossy(hit->message, strlen(hit->message)));
	json_object_set_new(o, "rule", rule_json(m));
	if ((threat = threat_json(m)))
		json_object_set_new(o, "threat", threat);
	json_object_set_new(o, "tags", str_list(m->tags, m->ntags, NULL));
	/* vigil stays the last member: take it out and put it back at the end */
	vig = json_incref(json_object_get(o, "vigil"));
	json_object_del(o, "vigil");
	if (!json_is_object(vig)) {
		json_decref(vig);
		vig = json_object();
	}
	json_object_del(vig, "chain"); /* the trigger's own link; this line gets its own */
	json_object_set_new(vig, "severity", json_string(severity_name(m->severity)));
	al = json_object();
	json_object_set(al, "trigger", json_object_get(ev, "__trigger"));
	json_object_del(ev, "__trigger");
	if (hit->seq)
		json_object_set_new(al, "sequence", seq_json(hit->seq));
	if (hit->suppressed)
		json_object_set_new(al, "suppressed", json_integer(hit->suppressed));
	json_object_set_new(vig, "alert", al);
	json_object_set_new(o, "vigil", vig);
	out = json_dumps(o, JSON_COMPACT);
	if (obj && out)
		*obj = o;
	else
		json_decref(o);
	return out;
}

const char *falco_priority(enum severity s)
{
	static const char *const names[] = {"Informational", "Notice", "Warning", "Error",
					    "Critical"};

	return names[s];
}

struct fields_ctx {
	json_t *obj;
	const struct rule_view *v;
};

json_t *alert_value_json(const struct rval *r, enum field_type t)
{
	char ip[INET6_ADDRSTRLEN] = "";

	switch (t) {
	case FT_NUM:
		return json_integer(r->i);
	case FT_BOOL:
		return json_boolean(r->b);
	case FT_IP:
		inet_ntop(r->ip.v6 ? AF_INET6 : AF_INET, r->ip.a, ip, sizeof(ip));
		return json_string(ip);
	default:
		return json_string_lossy(r->s.p, r->s.n);
	}
}

static void add_output_field(void *ctx, enum field_id f)
{
	struct fields_ctx *c = ctx;
	const struct rval *r = view_first(c->v, f);
	json_t *val;

	if (!r) {
		json_object_set_new(c->obj, field_defs[f].name, json_null());
		return;
	}
	if (!field_defs[f].multi) {
		val = alert_value_json(r, field_defs[f].type);
	} else {
		val = json_array();
		for (; r; r = view_next(c->v, r))
			json_array_append_new(val, alert_value_json(r, field_defs[f].type));
	}
	json_object_set_new(c->obj, field_defs[f].name, val);
}

char *alert_falco(const char *host_name, const struct rule *r, const struct rule_view *v,
		  const struct rule_hit *hit)
{
	const struct rule_meta *m = rule_meta(r);
	json_t *o = json_object(), *fields = json_object();
	struct fields_ctx fc = {.obj = fields, .v = v};
	char ts[48];
	char *out;

	fmt_rfc3339_ns(ts, sizeof(ts), v->ts_ns);
	rule_output_fields(r, add_output_field, &fc);
	json_object_set_new(o, "time", json_string(ts));
	json_object_set_new(o, "rule", json_string(m->name));
	json_object_set_new(o, "priority", json_string(falco_priority(m->severity)));
	json_object_set_new(o, "output", json_string_lossy(hit->message, strlen(hit->message)));
	json_object_set_new(o, "output_fields", fields);
	json_object_set_new(o, "tags", str_list(m->tags, m->ntags, NULL));
	json_object_set_new(o, "hostname", json_string(host_name));
	json_object_set_new(o, "source", json_string("vigil"));
	out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return out;
}
