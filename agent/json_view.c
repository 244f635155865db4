// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/json_view.h"
#include "vigil/rule_prog.h"
#include "vigil/util.h"

#define MAX_DEPTH 64
#define PATH_MAX_ 512
#define NBUCKETS  256

struct json_view {
	struct {
		uint64_t hash;
		uint16_t len;
		int16_t field; /* -1: empty */
	} tab[NBUCKETS];
};

struct scan {
	const char *s, *end;
	const char *start;
	struct rule_view *v;
	const struct json_view *jv;
	char path[PATH_MAX_];
	size_t plen;
	unsigned depth;
	const char *err;
};

int json_view_new(struct json_view **ret)
{
	struct json_view *jv = calloc(1, sizeof(*jv));

	if (!jv)
		return -ENOMEM;
	for (int i = 0; i < NBUCKETS; i++)
		jv->tab[i].field = -1;
	for (int f = 0; f < F__COUNT; f++) {
		size_t n = strlen(field_defs[f].name);
		uint64_t h = str_hash(field_defs[f].name, n);
		uint32_t b = h & (NBUCKETS - 1);

		while (jv->tab[b].field >= 0)
			b = (b + 1) & (NBUCKETS - 1);
		jv->tab[b].hash = h;
		jv->tab[b].len = n;
		jv->tab[b].field = f;
	}
	*ret = jv;
	return 0;
}

struct json_view *json_view_free(struct json_view *jv)
{
	free(jv);
	return NULL;
}

static int lookup(const struct json_view *jv, const char *p, size_t n)
{
	uint64_t h = str_hash(p, n);

	for (uint32_t b = h & (NBUCKETS - 1); jv->tab[b].field >= 0; b = (b + 1) & (NBUCKETS - 1))
		if (jv->tab[b].hash == h && jv->tab[b].len == n &&
		    !memcmp(field_defs[jv->tab[b].field].name, p, n))
			return jv->tab[b].field;
	return -1;
}

static void skip_ws(struct scan *sc)
{
	while (sc->s < sc->end &&
	       (*sc->s == ' ' || *sc->s == '\t' || *sc->s == '\n' || *sc->s == '\r'))
		sc->s++;
}

static bool fail(struct scan *sc, const char *what)
{
	if (!sc->err)
		sc->err = what;
	return false;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool hex4(const char *p, unsigned *ret)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);

		if (h < 0)
			return false;
		v = v << 4 | h;
	}
	*ret = v;
	return true;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = 0xc0 | cp >> 6;
		o[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = 0xe0 | cp >> 12;
		o[1] = 0x80 | ((cp >> 6) & 0x3f);
		o[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	o[0] = 0xf0 | cp >> 18;
	o[1] = 0x80 | ((cp >> 12) & 0x3f);
	o[2] = 0x80 | ((cp >> 6) & 0x3f);
	o[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/* One \u escape (with its surrogate pair); p points after "\u". */
static bool unescape_u(struct scan *sc, const char **pp, char *o, size_t *on)
{
	const char *p = *pp;
	unsigned cp, lo;

	if (sc->end - p < 4 || !hex4(p, &cp))
		return fail(sc, "bad \\u escape");
	p += 4;
	if (cp >= 0xd800 && cp < 0xdc00 && sc->end - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
	    hex4(p + 2, &lo) && lo >= 0xdc00 && lo < 0xe000) {
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		p += 6;
	} else if (cp >= 0xd800 && cp < 0xe000) {
		cp = 0xfffd; /* a lone surrogate */
	}
	*on += put_utf8(o + *on, cp);
	*pp = p;
	return true;
}

/* Resolve escapes of s[0..n) into the view's scratch. */
static bool unescape(struct scan *sc, const char *s, size_t n, const char **ret)
{
	char *o = sc->v->scratch + sc->v->scratch_len;
	size_t on = 0, room = sc->v->scratch_cap - sc->v->scratch_len;
	const char *p = s, *e = s + n;

	if (room < n) {
		sc->v->overflow = true;
		*ret = NULL;
		return true;
	}
	while (p < e) {
		if (*p != '\\') {
			o[on++] = *p++;
			continue;
		}
		p++;
		switch (*p++) {
		case 'n':
			o[on++] = '\n';
			break;
		case 't':
			o[on++] = '\t';
			break;
		case 'r':
			o[on++] = '\r';
			break;
		case 'b':
			o[on++] = '\b';
			break;
		case 'f':
			o[on++] = '\f';
			break;
		case 'u':
			if (!unescape_u(sc, &p, o, &on))
				return false;
			break;
		default:
			o[on++] = p[-1]; /* \" \\ \/ */
		}
	}
	sc->v->scratch_len += on;
	*ret = o;
	return true;
}

/* A string token; on return p and n are its raw content, esc says if it has escapes. */
static bool scan_string(struct scan *sc, const char **p, size_t *n, bool *esc)
{
	const char *s = ++sc->s;

	*esc = false;
	while (sc->s < sc->end && *sc->s != '"') {
		if ((unsigned char)*sc->s < 0x20)
			return fail(sc, "control character in a string");
		if (*sc->s == '\\') {
			unsigned cp;

			*esc = true;
			if (++sc->s >= sc->end || !strchr("\"\\/bfnrtu", *sc->s))
				return fail(sc, "bad escape");
			if (*sc->s == 'u' && (sc->end - sc->s < 5 || !hex4(sc->s + 1, &cp)))
				return fail(sc, "bad \\u escape");
		}
		sc->s++;
	}
	if (sc->s >= sc->end)
		return fail(sc, "unterminated string");
	*p = s;
	*n = sc->s - s;
	sc->s++;
	return true;
}

static void store_str(struct scan *sc, int f, const char *p, size_t n)
{
	struct ipaddr ip;
	int64_t num;
	char *end, buf[32];

	switch (field_defs[f].type) {
	case FT_IP:
		if (ip_parse(p, n, &ip))
			view_add_ip(sc->v, f, &ip);
		return;
	case FT_NUM: /* a number written as a string */
		if (n == 0 || n >= sizeof(buf))
			return;
		memcpy(buf, p, n);
		buf[n] = 0;
		num = strtoll(buf, &end, 10);
		if (!*end)
			view_add_num(sc->v, f, num);
		return;
	case FT_BOOL:
		if (n == 4 && !memcmp(p, "true", 4))
			view_add_bool(sc->v, f, true);
		else if (n == 5 && !memcmp(p, "false", 5))
			view_add_bool(sc->v, f, false);
		return;
	default:
		view_add_str(sc->v, f, p, n);
		if (f == F_EVENT_ACTION)
			sc->v->action = action_bit_of(p, n);
		else if (f == F_TIMESTAMP)
			parse_rfc3339_ns(p, n, &sc->v->ts_ns);
	}
}

static bool scan_value(struct scan *sc);

static bool leaf_string(struct scan *sc)
{
	const char *p;
	size_t n;
	bool esc;
	int f;

	if (!scan_string(sc, &p, &n, &esc))
		return false;
	f = lookup(sc->jv, sc->path, sc->plen);
	if (f < 0)
		return true;
	if (esc && !unescape(sc, p, n, &p))
		return false;
	if (esc && p)
		n = sc->v->scratch + sc->v->scratch_len - p;
	if (p)
		store_str(sc, f, p, n);
	return true;
}

static bool leaf_literal(struct scan *sc)
{
	const char *s = sc->s;
	int f;

	while (sc->s < sc->end && (strchr("+-.eE", *sc->s) || (*sc->s >= '0' && *sc->s <= '9') ||
				   (*sc->s >= 'a' && *sc->s <= 'z')))
		sc->s++;
	if (sc->s == s)
		return fail(sc, "expected a value");
	if ((sc->s - s == 4 && !memcmp(s, "null", 4)))
		return true;
	if (!(sc->s - s == 4 && !memcmp(s, "true", 4)) &&
	    !(sc->s - s == 5 && !memcmp(s, "false", 5))) {
		if (*s != '-' && (*s < '0' || *s > '9'))
			return fail(sc, "expected a value");
	}
	f = lookup(sc->jv, sc->path, sc->plen);
	if (f < 0)
		return true;
	if (field_defs[f].type == FT_NUM) {
		view_add_num(sc->v, f, strtoll(s, NULL, 10));
		return true;
	}
	store_str(sc, f, s, sc->s - s);
	return true;
}

static bool scan_object(struct scan *sc)
{
	size_t saved = sc->plen;

	sc->s++;
	skip_ws(sc);
	if (sc->s < sc->end && *sc->s == '}') {
		sc->s++;
		return true;
	}
	for (;;) {
		const char *k;
		size_t kn;
		bool esc;

		skip_ws(sc);
		if (sc->s >= sc->end || *sc->s != '"' || !scan_string(sc, &k, &kn, &esc))
			return fail(sc, "expected a key");
		sc->plen = saved;
		if (saved + 1 + kn < sizeof(sc->path)) { /* deeper paths match no field */
			if (saved)
				sc->path[sc->plen++] = '.';
			memcpy(sc->path + sc->plen, k, kn);
			sc->plen += kn;
		}
		skip_ws(sc);
		if (sc->s >= sc->end || *sc->s++ != ':')
			return fail(sc, "expected ':'");
		if (!scan_value(sc))
			return false;
		skip_ws(sc);
		if (sc->s < sc->end && *sc->s == ',') {
			sc->s++;
			continue;
		}
		sc->plen = saved;
		if (sc->s < sc->end && *sc->s == '}') {
			sc->s++;
			return true;
		}
		return fail(sc, "expected ',' or '}'");
	}
}

static bool scan_array(struct scan *sc)
{
	sc->s++;
	skip_ws(sc);
	if (sc->s < sc->end && *sc->s == ']') {
		sc->s++;
		return true;
	}
	for (;;) {
		if (!scan_value(sc))
			return false;
		skip_ws(sc);
		if (sc->s < sc->end && *sc->s == ',') {
			sc->s++;
			continue;
		}
		if (sc->s < sc->end && *sc->s == ']') {
			sc->s++;
			return true;
		}
		return fail(sc, "expected ',' or ']'");
	}
}

static bool scan_value(struct scan *sc)
{
	bool ok;

	skip_ws(sc);
	if (sc->s >= sc->end)
		return fail(sc, "unexpected end of line");
	if (*sc->s == '"')
		return leaf_string(sc);
	if (*sc->s != '{' && *sc->s != '[')
		return leaf_literal(sc);
	if (++sc->depth > MAX_DEPTH)
		return fail(sc, "nested too deeply");
	ok = *sc->s == '{' ? scan_object(sc) : scan_array(sc);
	sc->depth--;
	return ok;
}

int json_view_fill(struct json_view *jv, struct rule_view *v, const char *line, size_t len,
		   char *err, size_t errlen)
{
	struct scan sc = {.s = line, .end = line + len, .start = line, .v = v, .jv = jv};

	view_reset(v);
	skip_ws(&sc);
	if (sc.s >= sc.end || *sc.s != '{')
		fail(&sc, "not a JSON object");
	else if (scan_object(&sc)) {
		skip_ws(&sc);
		if (sc.s < sc.end)
			fail(&sc, "text after the object");
	}
	if (!sc.err)
		return 0;
	snprintf(err, errlen, "malformed JSON at byte %zu: %s", (size_t)(sc.s - line) + 1, sc.err);
	return -EINVAL;
}
