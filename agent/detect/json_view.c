// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/json_view.h"
#include "detect/rule_prog.h"
#include "core/util.h"

#define MAX_DEPTH 64
#define PATH_MAX_ 512
#define NBUCKETS  256

struct json_view {
	struct {
		uint64_t hash;
		uint16_t len;
		int16_t field; /* -1: empty */
	} tab[NBUCKETS];
	/* hashes of every proper prefix of a field name ("vigil", "vigil.process"):
	 * below any other object nothing can match, so nothing is looked up */
	struct {
		uint64_t hash;
		uint16_t len; /* 0: empty */
	} prefixes[NBUCKETS];
};

struct scan {
	const char *s, *end;
	const char *start;
	struct rule_view *v;
	const struct json_view *jv;
	size_t plen;	/* length of the dotted path to here */
	uint64_t phash; /* name_hash() of that path, built key by key */
	bool live;	/* path is a field or a prefix of one */
	unsigned depth;
	const char *err;
};

#define PATH_SEED 0x243f6a8885a308d3ull
#define MIX	  0xff51afd7ed558ccdull

/* Hash of a path one key deeper: word at a time (keys are short; this is per key). */
static inline __attribute__((always_inline)) uint64_t key_hash(uint64_t h, const char *p, size_t n)
{
	uint64_t w;

	h ^= n * 0x9e3779b97f4a7c15ull;
	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * MIX;
		h ^= h >> 32;
	}
	if (n) { /* byte by byte: a short memcpy into w stalls on store forwarding */
		w = 0;
		for (size_t i = 0; i < n; i++)
			w |= (uint64_t)(uint8_t)p[i] << (8 * i);
		h = (h ^ w) * MIX;
		h ^= h >> 32;
	}
	return h;
}

/* The hash a dotted name (its first n bytes) gets, key by key, as the reader builds it. */
static uint64_t name_hash(const char *name, size_t n)
{
	uint64_t h = PATH_SEED;
	size_t start = 0;

	for (size_t i = 0; i <= n; i++)
		if (i == n || name[i] == '.') {
			h = key_hash(h, name + start, i - start);
			start = i + 1;
		}
	return h;
}

static void add_prefixes(struct json_view *jv, const char *name)
{
	for (const char *dot = strchr(name, '.'); dot; dot = strchr(dot + 1, '.')) {
		uint64_t h = name_hash(name, dot - name);
		uint32_t b = h & (NBUCKETS - 1);

		while (jv->prefixes[b].len &&
		       !(jv->prefixes[b].hash == h && jv->prefixes[b].len == dot - name))
			b = (b + 1) & (NBUCKETS - 1);
		jv->prefixes[b].hash = h;
		jv->prefixes[b].len = dot - name;
	}
}

static bool is_prefix(const struct json_view *jv, uint64_t h, size_t n)
{
	for (uint32_t b = h & (NBUCKETS - 1); jv->prefixes[b].len; b = (b + 1) & (NBUCKETS - 1))
		if (jv->prefixes[b].hash == h && jv->prefixes[b].len == n)
			return true;
	return false;
}

int json_view_new(struct json_view **ret)
{
	struct json_view *jv = calloc(1, sizeof(*jv));

	if (!jv)
		return -ENOMEM;
	for (int i = 0; i < NBUCKETS; i++)
		jv->tab[i].field = -1;
	for (int f = 0; f < F__COUNT; f++) {
		size_t n = strlen(field_defs[f].name);
		uint64_t h = name_hash(field_defs[f].name, n);
		uint32_t b = h & (NBUCKETS - 1);

		while (jv->tab[b].field >= 0)
			b = (b + 1) & (NBUCKETS - 1);
		jv->tab[b].hash = h;
		jv->tab[b].len = n;
		jv->tab[b].field = f;
		add_prefixes(jv, field_defs[f].name);
	}
	*ret = jv;
	return 0;
}

struct json_view *json_view_free(struct json_view *jv)
{
	free(jv);
	return NULL;
}

/* Field id of the current path, or -1. */
static int lookup(const struct scan *sc)
{
	const struct json_view *jv = sc->jv;
	size_t n = sc->plen;
	uint64_t h = sc->phash;

	if (!sc->live)
		return -1;
	for (uint32_t b = h & (NBUCKETS - 1); jv->tab[b].field >= 0; b = (b + 1) & (NBUCKETS - 1))
		if (jv->tab[b].hash == h && jv->tab[b].len == n)
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

static const char unescaped[256] = {['n'] = '\n', ['t'] = '\t', ['r'] = '\r',  ['b'] = '\b',
				    ['f'] = '\f', ['"'] = '"',	['\\'] = '\\', ['/'] = '/'};

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
		if (*p == 'u') {
			p++;
			if (!unescape_u(sc, &p, o, &on))
				return false;
			continue;
		}
		o[on++] = unescaped[(uint8_t)*p++]; /* scan_escaped() let only valid ones through */
	}
	sc->v->scratch_len += on;
	*ret = o;
	return true;
}

/* A string token; on return p and n are its raw content, esc says if it has escapes. */
/* A string with escapes, from s (after the opening quote). */
static bool scan_escaped(struct scan *sc, const char *s, const char **p, size_t *n)
{
	while (sc->s < sc->end && *sc->s != '"') {
		if ((unsigned char)*sc->s < 0x20)
			return fail(sc, "control character in a string");
		if (*sc->s == '\\') {
			unsigned cp;

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

/* Byte classes: what ends a run of plain string bytes, what a bare literal is made of. */
enum { C_PLAIN = 0, C_CTRL = 1, C_QUOTE = 2, C_BSLASH = 3 };
static const uint8_t str_class[256] = {
    [0x00 ... 0x1f] = C_CTRL, ['"'] = C_QUOTE, ['\\'] = C_BSLASH};
static const bool literal_char[256] = {['0' ... '9'] = true, ['a' ... 'z'] = true, ['+'] = true,
				       ['-'] = true,	     ['.'] = true,	   ['E'] = true};

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* First byte of s..end that is '"', '\\' or a control character (8 at a time). */
static const char *string_end(const char *c, const char *end)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (; end - c >= 8; c += 8) {
		uint64_t w, q, b, m;

		memcpy(&w, c, 8);
		q = w ^ (ONES * '"');
		b = w ^ (ONES * '\\');
		/* a byte is flagged when it is zero after the xor, or below 0x20 */
		m = ((q - ONES) & ~q) | ((b - ONES) & ~b) | ((w - ONES * 0x20) & ~w);
		m &= HIGHS;
		if (m) /* the lowest flag is exact (borrows only run upwards) */
			return c + __builtin_ctzll(m) / 8;
	}
#endif
	while (c < end && str_class[(uint8_t)*c] == C_PLAIN)
		c++;
	return c;
}

static inline __attribute__((always_inline)) bool scan_string(struct scan *sc, const char **p,
							      size_t *n, bool *esc)
{
	const char *s = ++sc->s, *c = string_end(s, sc->end);

	*esc = false;
	if (c >= sc->end)
		return fail(sc, "unterminated string");
	if (str_class[(uint8_t)*c] == C_CTRL)
		return fail(sc, "control character in a string");
	if (*c == '\\') { /* escapes: the slow way, a quote may be escaped */
		*esc = true;
		sc->s = c;
		return scan_escaped(sc, s, p, n);
	}
	*p = s;
	*n = c - s;
	sc->s = c + 1;
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
	f = lookup(sc);
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

/* The integer part of a JSON number in [s, end) (fractions and exponents dropped). */
static int64_t parse_int(const char *s, const char *end)
{
	bool neg = s < end && *s == '-';
	uint64_t v = 0;

	for (s += neg; s < end && *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (*s - '0');
	return neg ? -(int64_t)v : (int64_t)v;
}

static bool leaf_literal(struct scan *sc)
{
	const char *s = sc->s;
	int f;

	while (sc->s < sc->end && literal_char[(uint8_t)*sc->s])
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
	f = lookup(sc);
	if (f < 0)
		return true;
	if (field_defs[f].type == FT_NUM) {
		view_add_num(sc->v, f, parse_int(s, sc->s));
		return true;
	}
	store_str(sc, f, s, sc->s - s);
	return true;
}

static bool scan_object(struct scan *sc)
{
	size_t saved = sc->plen;
	uint64_t saved_hash = sc->phash;
	bool saved_live = sc->live;

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
		sc->phash = saved_hash;
		sc->live = saved_live && saved + 1 + kn < PATH_MAX_;
		if (sc->live) {
			sc->plen += (saved != 0) + kn;
			sc->phash = key_hash(sc->phash, k, kn);
			/* a leaf is looked up; an object is only entered "live" if fields lie below */
			sc->live = true;
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
		sc->phash = saved_hash;
		sc->live = saved_live;
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
	if (*sc->s == '{' && sc->plen && sc->live)
		sc->live = is_prefix(sc->jv, sc->phash, sc->plen);
	ok = *sc->s == '{' ? scan_object(sc) : scan_array(sc);
	sc->depth--;
	return ok;
}

int json_view_fill(struct json_view *jv, struct rule_view *v, const char *line, size_t len,
		   char *err, size_t errlen)
{
	struct scan sc = {.s = line,
			  .end = line + len,
			  .start = line,
			  .v = v,
			  .jv = jv,
			  .phash = PATH_SEED,
			  .live = true};

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
