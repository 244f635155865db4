// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "detect/fields.h"
#include "core/util.h"

const struct field_def field_defs[F__COUNT] = {
#define FIELD_DEF(id, nm, ty, mu) [F_##id] = {.name = nm, .type = ty, .multi = mu},
    VIGIL_FIELDS(FIELD_DEF)
#undef FIELD_DEF
};

int field_lookup(const char *name, size_t len)
{
	for (int i = 0; i < F__COUNT; i++)
		if (strlen(field_defs[i].name) == len && !memcmp(field_defs[i].name, name, len))
			return i;
	return -1;
}

/* Falco names people type out of habit, mapped to ours. */
static const struct {
	const char *falco, *ecs;
} falco_aliases[] = {
    {"proc.name", "process.name"},
    {"proc.exe", "process.executable"},
    {"proc.exepath", "process.executable"},
    {"proc.cmdline", "process.command_line"},
    {"proc.args", "process.args"},
    {"proc.pid", "process.pid"},
    {"proc.pname", "process.parent.name"},
    {"proc.aname", "vigil.process.ancestors.name"},
    {"proc.cwd", "process.working_directory"},
    {"fd.name", "file.path"},
    {"fd.directory", "file.directory"},
    {"fd.filename", "file.name"},
    {"fd.sip", "destination.ip"},
    {"fd.rip", "destination.ip"},
    {"fd.sport", "destination.port"},
    {"fd.rport", "destination.port"},
    {"evt.type", "event.action"},
    {"user.uid", "user.id"},
    {"container.id", "container.id"},
};

const char *field_suggest(const char *name, size_t len)
{
	const char *best = NULL;
	unsigned best_d = ~0u;

	for (size_t i = 0; i < ARRAY_SIZE(falco_aliases); i++)
		if (strlen(falco_aliases[i].falco) == len &&
		    !memcmp(falco_aliases[i].falco, name, len))
			return falco_aliases[i].ecs;
	for (int i = 0; i < F__COUNT; i++) {
		unsigned d = str_edit_distance(name, len, field_defs[i].name);

		if (d < best_d) {
			best_d = d;
			best = field_defs[i].name;
		}
	}
	return best_d <= 3 ? best : NULL;
}

const char *field_type_name(enum field_type t)
{
	switch (t) {
	case FT_NUM:
		return "number";
	case FT_IP:
		return "ip";
	case FT_BOOL:
		return "boolean";
	default:
		return "string";
	}
}

enum action_bit action_bit_of(const char *s, size_t n)
{
#define ACTION_CMP(a, name)                                              \
	if (n == sizeof(name) - 1 && !memcmp(s, name, sizeof(name) - 1)) \
		return AB_##a;
	VIGIL_ACTIONS(ACTION_CMP)
#undef ACTION_CMP
	return AB_OTHER;
}

int view_init(struct rule_view *v, size_t scratch_cap)
{
	memset(v, 0, sizeof(*v));
	v->scratch = malloc(scratch_cap);
	if (!v->scratch)
		return -ENOMEM;
	v->scratch_cap = scratch_cap;
	view_reset(v);
	return 0;
}

void view_fini(struct rule_view *v)
{
	free(v->scratch);
	v->scratch = NULL;
}

void view_reset(struct rule_view *v)
{
	memset(v->head, 0, sizeof(v->head));
	v->nvals = 1; /* index 0 means "none" */
	v->overflow = false;
	if (v->has_unknown) {
		memset(v->unknown, 0, sizeof(v->unknown));
		v->has_unknown = false;
	}
	v->scratch_len = 0;
	v->ts_ns = 0;
	v->action = AB_OTHER;
}

struct rval *view_add(struct rule_view *v, enum field_id f)
{
	struct rval *r;

	if (v->nvals >= VIEW_MAX_VALS) {
		v->overflow = true;
		return NULL;
	}
	r = &v->vals[v->nvals];
	r->next = 0;
	if (v->head[f])
		v->vals[v->tail[f]].next = v->nvals;
	else
		v->head[f] = v->nvals;
	v->tail[f] = v->nvals++;
	return r;
}

void view_add_str(struct rule_view *v, enum field_id f, const char *p, size_t n)
{
	struct rval *r = view_add(v, f);

	if (r) {
		r->s.p = p;
		r->s.n = n;
	}
}

void view_add_num(struct rule_view *v, enum field_id f, int64_t i)
{
	struct rval *r = view_add(v, f);

	if (r)
		r->i = i;
}

void view_add_bool(struct rule_view *v, enum field_id f, bool b)
{
	struct rval *r = view_add(v, f);

	if (r)
		r->b = b;
}

void view_add_ip(struct rule_view *v, enum field_id f, const struct ipaddr *ip)
{
	struct rval *r = view_add(v, f);

	if (r)
		r->ip = *ip;
}

bool ip_parse(const char *p, size_t n, struct ipaddr *ret)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	char buf[INET6_ADDRSTRLEN];

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, p, n);
	buf[n] = 0;
	memset(ret, 0, sizeof(*ret));
	if (inet_pton(AF_INET, buf, ret->a) == 1)
		return true;
	if (inet_pton(AF_INET6, buf, ret->a) != 1)
		return false;
	ret->v6 = true;
	if (!memcmp(ret->a, v4mapped, sizeof(v4mapped))) {
		memmove(ret->a, ret->a + 12, 4);
		memset(ret->a + 4, 0, 12);
		ret->v6 = false;
	}
	return true;
}

char *view_stash(struct rule_view *v, const char *p, size_t n)
{
	char *dst;

	if (v->scratch_len + n > v->scratch_cap) {
		v->overflow = true;
		return NULL;
	}
	dst = v->scratch + v->scratch_len;
	memcpy(dst, p, n);
	v->scratch_len += n;
	return dst;
}
