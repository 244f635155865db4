// SPDX-License-Identifier: GPL-2.0
/*
 * safetensors: a u64 LE header length, then that many bytes of JSON
 * ({"name": {"dtype", "shape", "data_offsets"}, ..., "__metadata__": {str: str}}),
 * then the tensors. The JSON is read as a stream through the cursor, never
 * whole: a hostile header costs its read, not memory (a DOM of 8 MiB of JSON
 * took 200 MiB).
 */
#include <errno.h>
#include <string.h>

#include "core/util.h"
#include "inventory/model_header_internal.h"

#define ST_HEADER_MAX 100000000u /* the reference implementation's MAX_HEADER_SIZE */
#define ST_DEPTH_MAX  64
#define ST_DIMS_MAX   16

struct js {
	struct byte_cursor c;
	struct model_header *h;
	uint64_t data_len; /* bytes after the header: data_offsets must stay inside */
};

static int js_peek(struct js *j, uint8_t *b)
{
	int r = byte_cursor_get(&j->c, b, 1);

	if (r == 0)
		j->c.pos--; /* the byte stays in the buffer: only the position moves back */
	return r;
}

static int js_ws(struct js *j, uint8_t *next)
{
	int r;

	while ((r = js_peek(j, next)) == 0 && strchr(" \t\r\n", *next) && *next)
		j->c.pos++;
	return r;
}

/* The next significant byte must be ch: consumed. */
static int js_expect(struct js *j, char ch)
{
	uint8_t b;
	int r = js_ws(j, &b);

	if (r < 0)
		return r;
	if (b != (uint8_t)ch)
		return -EBADMSG;
	j->c.pos++;
	return 0;
}

static int hex4(struct js *j, uint32_t *v)
{
	uint8_t b[4];
	int r = byte_cursor_get(&j->c, b, 4);

	*v = 0;
	for (int i = 0; r == 0 && i < 4; i++) {
		int d = b[i] >= '0' && b[i] <= '9'		       ? b[i] - '0'
			: (b[i] | 0x20) >= 'a' && (b[i] | 0x20) <= 'f' ? (b[i] | 0x20) - 'a' + 10
								       : -1;
		if (d < 0)
			return -EBADMSG;
		*v = *v << 4 | (uint32_t)d;
	}
	return r;
}

/* One escape after '\': its UTF-8 bytes into out (up to 4). */
static int js_escape(struct js *j, char *out, size_t *n)
{
	static const char esc[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
	uint32_t cp, lo;
	uint8_t b;
	int r = byte_cursor_get(&j->c, &b, 1);

	if (r < 0)
		return r;
	for (const char *e = esc; *e; e += 2)
		if (*e == (char)b) {
			out[0] = e[1];
			*n = 1;
			return 0;
		}
	if (b != 'u' || (r = hex4(j, &cp)) < 0)
		return r < 0 ? r : -EBADMSG;
	if (cp >= 0xd800 && cp < 0xdc00) { /* a surrogate pair: \uD8xx\uDCxx */
		uint8_t bs[2];
		if ((r = byte_cursor_get(&j->c, bs, 2)) < 0 || bs[0] != '\\' || bs[1] != 'u' ||
		    (r = hex4(j, &lo)) < 0 || lo < 0xdc00 || lo >= 0xe000)
			return r < 0 ? r : -EBADMSG;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (cp < 0x80) {
		out[0] = (char)cp;
		*n = 1;
	} else if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3f));
		*n = 2;
	} else if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12), out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		*n = 3;
	} else {
		out[0] = (char)(0xf0 | cp >> 18), out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), out[3] = (char)(0x80 | (cp & 0x3f));
		*n = 4;
	}
	return 0;
}

/* A string: its first cap-1 decoded bytes into buf (NUL-terminated; buf may be NULL). */
static int js_string(struct js *j, char *buf, size_t cap, size_t *len)
{
	size_t o = 0, n;
	char tmp[4];
	uint8_t b;
	int r = js_expect(j, '"');

	while (r == 0 && (r = byte_cursor_get(&j->c, &b, 1)) == 0 && b != '"') {
		if (b < 0x20)
			return -EBADMSG; /* a raw control character */
		n = 1;
		tmp[0] = (char)b;
		if (b == '\\' && (r = js_escape(j, tmp, &n)) < 0)
			return r;
		if (buf && o + n < cap)
			memcpy(buf + o, tmp, n);
		o += n;
	}
	if (buf && cap)
		buf[o < cap ? o : cap - 1] = '\0';
	if (len)
		*len = o;
	return r;
}

/* A number; *v its value when it is a plain non-negative integer (else *exact false). */
static int js_number(struct js *j, uint64_t *v, bool *exact)
{
	uint8_t b;
	bool digits = false;
	int r = js_ws(j, &b);

	*v = 0;
	*exact = true;
	while (r == 0 && (r = js_peek(j, &b)) == 0 && strchr("0123456789+-.eE", b) && b) {
		if (b >= '0' && b <= '9') {
			digits = true;
			if (__builtin_mul_overflow(*v, 10, v) ||
			    __builtin_add_overflow(*v, b - '0', v))
				*exact = false;
		} else {
			*exact = false;
		}
		j->c.pos++;
	}
	return r < 0 ? r : digits ? 0 : -EBADMSG;
}

static int js_skip(struct js *j, int depth);

/* Members of an array or object after its opening byte, each handed to fn (or skipped). */
static int js_items(struct js *j, bool object, int depth,
		    int (*fn)(struct js *, const char *, void *), void *arg)
{
	char key[MODEL_KEY_MAX];
	uint8_t b;
	int r = js_ws(j, &b);

	if (r == 0 && b == (object ? '}' : ']')) {
		j->c.pos++;
		return 0;
	}
	for (; r == 0;) {
		if (object &&
		    ((r = js_string(j, key, sizeof(key), NULL)) < 0 || (r = js_expect(j, ':')) < 0))
			return r;
		r = fn ? fn(j, object ? key : NULL, arg) : js_skip(j, depth + 1);
		if (r < 0 || (r = js_ws(j, &b)) < 0)
			return r;
		j->c.pos++;
		if (b == (object ? '}' : ']'))
			return 0;
		if (b != ',')
			return -EBADMSG;
	}
	return r;
}

static int js_skip(struct js *j, int depth)
{
	uint64_t v;
	bool exact;
	uint8_t b, lit[4];
	int r = js_ws(j, &b);

	if (r < 0)
		return r;
	if (depth > ST_DEPTH_MAX)
		return -EBADMSG;
	if (b == '"')
		return js_string(j, NULL, 0, NULL);
	if (b == '{' || b == '[') {
		j->c.pos++;
		return js_items(j, b == '{', depth, NULL, NULL);
	}
	if (b == 't' || b == 'n')
		return (r = byte_cursor_get(&j->c, lit, 4)) < 0	    ? r
		       : memcmp(lit, b == 't' ? "true" : "null", 4) ? -EBADMSG
								    : 0;
	if (b == 'f')
		return (r = byte_cursor_get(&j->c, lit, 1)) < 0 ||
			       (r = byte_cursor_get(&j->c, lit, 4)) < 0
			   ? r
		       : memcmp(lit, "alse", 4) ? -EBADMSG
						: 0;
	return js_number(j, &v, &exact);
}

/* ---- the safetensors shape of it ---- */

struct st_ints {
	uint64_t v[ST_DIMS_MAX];
	uint32_t n;
	bool bad; /* not a short list of plain integers */
};

static int st_int(struct js *j, const char *key, void *arg)
{
	struct st_ints *a = arg;
	uint64_t v;
	bool exact;
	int r = js_number(j, &v, &exact);

	if (r < 0)
		return r;
	if (!exact || a->n >= ST_DIMS_MAX)
		a->bad = true;
	else
		a->v[a->n++] = v;
	return 0;
}

static int st_int_array(struct js *j, struct st_ints *a)
{
	int r = js_expect(j, '[');

	return r < 0 ? r : js_items(j, false, 1, st_int, a);
}

struct st_tensor {
	char dtype[16];
	struct st_ints shape, offsets;
	bool has_dtype, has_shape;
};

static int st_tensor_field(struct js *j, const char *key, void *arg)
{
	struct st_tensor *t = arg;

	if (!strcmp(key, "dtype")) {
		t->has_dtype = true;
		return js_string(j, t->dtype, sizeof(t->dtype), NULL);
	}
	if (!strcmp(key, "shape")) {
		t->has_shape = true;
		return st_int_array(j, &t->shape);
	}
	if (!strcmp(key, "data_offsets"))
		return st_int_array(j, &t->offsets);
	return js_skip(j, 2);
}

static void st_count(struct js *j, const struct st_tensor *t)
{
	struct model_header *h = j->h;
	uint64_t p = 1;

	h->tensors++;
	if (t->has_dtype)
		model_dtype_add(h, t->dtype, strlen(t->dtype));
	if (!t->has_shape || t->shape.bad) {
		h->truncated = true;
		return;
	}
	for (uint32_t i = 0; i < t->shape.n; i++)
		if (__builtin_mul_overflow(p, t->shape.v[i], &p)) {
			h->truncated = true;
			return;
		}
	model_params_add(h, p);
}

static int st_meta_field(struct js *j, const char *key, void *arg)
{
	char val[MODEL_TEXT_MAX];
	uint8_t b;
	int r = js_ws(j, &b);

	if (r < 0)
		return r;
	if (b != '"')
		return js_skip(j, 2); /* the format allows strings only: others are not kept */
	if ((r = js_string(j, val, sizeof(val), NULL)) < 0)
		return r;
	model_meta_add(j->h, key, strlen(key), val, strlen(val));
	return 0;
}

static int st_top_field(struct js *j, const char *key, void *arg)
{
	struct st_tensor t = {0};
	uint8_t b;
	int r = js_ws(j, &b);

	if (r < 0)
		return r;
	if (b != '{')
		return -EBADMSG; /* every member is an object */
	j->c.pos++;
	if (!strcmp(key, "__metadata__"))
		return js_items(j, true, 1, st_meta_field, NULL);
	if ((r = js_items(j, true, 1, st_tensor_field, &t)) < 0)
		return r;
	if (t.offsets.n == 2 && (t.offsets.v[0] > t.offsets.v[1] || t.offsets.v[1] > j->data_len))
		return -EBADMSG; /* data outside the file: the loader refuses it */
	st_count(j, &t);
	return 0;
}

int model_safetensors_read(struct byte_reader *r, struct model_header *h)
{
	struct js *j = malloc(sizeof(*j));
	uint64_t hlen = 0;
	uint8_t le[8], b;
	int ret = byte_read(r, 0, le, 8);

	if (!j)
		return -ENOMEM;
	for (int i = 7; ret == 0 && i >= 0; i--)
		hlen = hlen << 8 | le[i];
	if (ret == 0 && (hlen > r->src->size - 8 || hlen > ST_HEADER_MAX))
		ret = -EBADMSG;
	if (ret == 0) {
		*j = (struct js){.h = h, .data_len = r->src->size - 8 - hlen};
		byte_cursor_init(&j->c, r, 8, 8 + hlen);
		ret = js_expect(j, '{');
	}
	if (ret == 0)
		ret = js_items(j, true, 0, st_top_field, NULL);
	if (ret == 0 && js_ws(j, &b) == 0)
		ret = -EBADMSG; /* something after the object (padding is spaces) */
	free(j);
	return ret == -ENODATA ? -EBADMSG : ret;
}
