// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "stream/json_writer.h"
#include "core/util.h"

int jw_init(struct jw *w, size_t cap)
{
	memset(w, 0, sizeof(*w));
	w->buf = malloc(cap);
	if (!w->buf)
		return -ENOMEM;
	w->cap = cap;
	return 0;
}

void jw_free(struct jw *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

void jw_reset(struct jw *w)
{
	w->len = 0;
	w->depth = 0;
	w->need_comma[0] = false;
	w->lossy = false;
	w->oom = false;
}

static bool reserve(struct jw *w, size_t n)
{
	char *nb;
	size_t ncap;

	if (w->len + n <= w->cap)
		return true;
	ncap = w->cap * 2;
	while (ncap < w->len + n)
		ncap *= 2;
	nb = realloc(w->buf, ncap);
	if (!nb) {
		w->oom = true;
		return false;
	}
	w->buf = nb;
	w->cap = ncap;
	return true;
}

void jw_raw(struct jw *w, const char *s, size_t n)
{
	if (!reserve(w, n))
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void put(struct jw *w, char c)
{
	if (reserve(w, 1))
		w->buf[w->len++] = c;
}

/* Length of a valid UTF-8 sequence at s (max n bytes), or 0 if invalid. */
static size_t utf8_valid(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0; /* overlong */
		if (c == 0xed && s[1] >= 0xa0)
			return 0; /* surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0;
		if (c == 0xf4 && s[1] >= 0x90)
			return 0; /* > U+10FFFF */
		return 4;
	}
	return 0;
}

void jw_escape(struct jw *w, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	if (!reserve(w, n + 8))
		return;
	while (i < n) {
		unsigned char c = s[i];
		size_t l;

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			size_t run = i + 1; /* copy a run of plain ASCII at once */

			while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' &&
			       s[run] != '\\')
				run++;
			jw_raw(w, (const char *)s + i, run - i);
			i = run;
			continue;
		}
		if (c >= 0x80) {
			l = utf8_valid(s + i, n - i);
			if (l) {
				jw_raw(w, (const char *)s + i, l);
				i += l;
			} else {
				jw_raw(w, "\xef\xbf\xbd", 3); /* U+FFFD */
				w->lossy = true;
				i++;
			}
			continue;
		}
		put(w, '\\');
		switch (c) {
		case '"':
			put(w, '"');
			break;
		case '\\':
			put(w, '\\');
			break;
		case '\n':
			put(w, 'n');
			break;
		case '\t':
			put(w, 't');
			break;
		case '\r':
			put(w, 'r');
			break;
		case '\b':
			put(w, 'b');
			break;
		case '\f':
			put(w, 'f');
			break;
		default:
			jw_raw(w, "u00", 3);
			put(w, hex[c >> 4]);
			put(w, hex[c & 15]);
		}
		i++;
	}
}

static void key(struct jw *w, const char *k)
{
	if (w->need_comma[w->depth])
		put(w, ',');
	w->need_comma[w->depth] = true;
	if (k) {
		put(w, '"');
		jw_escape(w, k, strlen(k));
		jw_raw(w, "\":", 2);
	}
}

static void open_(struct jw *w, const char *k, char c)
{
	key(w, k);
	put(w, c);
	if (w->depth + 1 < JW_MAX_DEPTH)
		w->depth++;
	w->need_comma[w->depth] = false;
}

static void close_(struct jw *w, char c)
{
	if (w->depth > 0)
		w->depth--;
	put(w, c);
}

void jw_obj_open(struct jw *w, const char *k)
{
	open_(w, k, '{');
}

void jw_obj_close(struct jw *w)
{
	close_(w, '}');
}

void jw_arr_open(struct jw *w, const char *k)
{
	open_(w, k, '[');
}

void jw_arr_close(struct jw *w)
{
	close_(w, ']');
}

void jw_strn(struct jw *w, const char *k, const char *s, size_t n)
{
	key(w, k);
	put(w, '"');
	jw_escape(w, s, n);
	put(w, '"');
}

void jw_str(struct jw *w, const char *k, const char *s)
{
	jw_strn(w, k, s, strlen(s));
}

void jw_u64(struct jw *w, const char *k, uint64_t v)
{
	char tmp[24], *p = u64_digits(tmp + sizeof(tmp), v);

	key(w, k);
	jw_raw(w, p, tmp + sizeof(tmp) - p);
}

void jw_i64(struct jw *w, const char *k, int64_t v)
{
	char tmp[24], *p = u64_digits(tmp + sizeof(tmp), v < 0 ? -(uint64_t)v : (uint64_t)v);

	if (v < 0)
		*--p = '-';
	key(w, k);
	jw_raw(w, p, tmp + sizeof(tmp) - p);
}

void jw_bool(struct jw *w, const char *k, bool v)
{
	key(w, k);
	if (v)
		jw_raw(w, "true", 4);
	else
		jw_raw(w, "false", 5);
}

/* Write a jansson object's members into the stream writer (non-hot path). */
void jw_json(struct jw *j, const char *key, json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		jw_obj_open(j, key);
		json_object_foreach (v, k, x)
			jw_json(j, k, x);
		jw_obj_close(j);
		break;
	case JSON_ARRAY:
		jw_arr_open(j, key);
		json_array_foreach (v, i, x)
			jw_json(j, NULL, x);
		jw_arr_close(j);
		break;
	case JSON_STRING:
		jw_strn(j, key, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		jw_i64(j, key, json_integer_value(v));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		jw_bool(j, key, json_is_true(v));
		break;
	default:
		break;
	}
}
