// SPDX-License-Identifier: GPL-2.0
/*
 * The opcode walk. The unpickler's stack and memo are modelled by what a
 * value is — a string (kept when short), a global, a call's result, another
 * constant — which is all STACK_GLOBAL and the call opcodes need. Where the
 * real unpickler would fail (underflow, a missing memo key, an opcode it
 * does not know) the walk fails too: nothing after that point would run.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "inventory/pickle_internal.h"

void pickle_limits_default(struct pickle_limits *lim)
{
	*lim = (struct pickle_limits){
	    .max_bytes = 256u << 20,
	    .max_ops = 64u << 20,
	    .max_memo = 256u << 10, /* 8 bytes a slot, half full at most: 4 MiB */
	    .max_stack = 64u << 10,
	    .max_read = 256u << 20,
	};
}

/* ---- the model's storage: stack, marks, memo, string pool ---- */

static int grow(void **p, uint32_t *cap, size_t elem, uint32_t need, uint32_t max)
{
	uint32_t n = *cap ? *cap : 64;
	void *q;

	if (need > max)
		return -E2BIG;
	if (need <= *cap)
		return 0;
	while (n < need)
		n = n > max / 2 ? max : n * 2;
	q = realloc(*p, (size_t)n * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

int walk_push(struct walk *w, struct val v)
{
	int r = grow((void **)&w->stack, &w->cap, sizeof(*w->stack), w->n + 1,
		     w->lim->max_stack - w->n_marks);
	if (r < 0)
		return r;
	w->stack[w->n++] = v;
	return 0;
}

/* Items above the top mark: the unpickler's current stack. */
uint32_t walk_depth(const struct walk *w)
{
	return w->n - (w->n_marks ? w->marks[w->n_marks - 1] : 0);
}

int walk_pop(struct walk *w, uint32_t k, struct val *top)
{
	if (walk_depth(w) < k)
		return -EBADMSG; /* the unpickler's stack underflow */
	w->n -= k;
	if (top && k)
		*top = w->stack[w->n];
	return 0;
}

int walk_mark(struct walk *w)
{
	int r = grow((void **)&w->marks, &w->cap_marks, sizeof(*w->marks), w->n_marks + 1,
		     w->lim->max_stack - w->n);
	if (r < 0)
		return r;
	w->marks[w->n_marks++] = w->n;
	return 0;
}

/* Drop everything down to the top mark; *first the item just above it (OBJ's class). */
int walk_pop_mark(struct walk *w, uint32_t *count, struct val *first)
{
	uint32_t base;

	if (!w->n_marks)
		return -EBADMSG; /* "could not find MARK" */
	base = w->marks[--w->n_marks];
	if (count)
		*count = w->n - base;
	if (first && w->n > base)
		*first = w->stack[base];
	w->n = base;
	return 0;
}

static uint32_t memo_hash(uint32_t key, uint32_t cap)
{
	return (key * 2654435761u) & (cap - 1);
}

/* A slot holds key and value in 8 bytes: the tag + 1 (0: empty) and idx above it. */
static uint32_t pack(struct val v)
{
	return v.idx << 3 | (uint32_t)(v.tag + 1);
}

static struct memo_slot *memo_find(struct walk *w, uint32_t key)
{
	if (!w->memo_cap)
		return NULL;
	for (uint32_t i = memo_hash(key, w->memo_cap);; i = (i + 1) & (w->memo_cap - 1)) {
		if (!w->memo[i].packed || w->memo[i].key == key)
			return &w->memo[i];
	}
}

static int memo_rehash(struct walk *w)
{
	uint32_t old_cap = w->memo_cap, cap = old_cap ? old_cap * 2 : 256;
	struct memo_slot *old = w->memo, *m = calloc(cap, sizeof(*m));

	if (!m)
		return -ENOMEM;
	w->memo = m;
	w->memo_cap = cap;
	for (uint32_t i = 0; i < old_cap; i++)
		if (old[i].packed)
			*memo_find(w, old[i].key) = old[i];
	free(old);
	return 0;
}

/*
 * Past max_memo the walk goes on without storing (an attacker who pads the
 * memo must not hide what follows): it counts what it dropped, a fetch of a
 * dropped key reads as an unknown value, and once a MEMOIZE may have landed
 * on a key the walk cannot tell (len(memo) unknown), every fetch does.
 */
static void memo_drop(struct walk *w, bool memoize)
{
	w->out->memo_dropped++;
	w->memo_lost = true;
	if (!memoize)
		w->memo_uncertain = true; /* was that key new? len(memo) is unknown from here */
	else if (w->memo_uncertain)
		w->memo_clobbered = true; /* written to an unknown key: maybe one stored */
	else
		w->memo_len++;
}

int walk_memo_put(struct walk *w, uint32_t key, struct val v, bool memoize)
{
	struct memo_slot *m = memo_find(w, key);
	int r;

	if (m && m->packed) {
		m->packed = pack(v);
		return 0;
	}
	if (w->memo_stored >= w->lim->max_memo) {
		memo_drop(w, memoize);
		return 0;
	}
	if ((uint64_t)(w->memo_stored + 1) * 2 > w->memo_cap && (r = memo_rehash(w)) < 0)
		return r;
	*memo_find(w, key) = (struct memo_slot){.key = key, .packed = pack(v)};
	w->memo_stored++;
	w->memo_len++;
	return 0;
}

int walk_memo_get(struct walk *w, uint32_t key, struct val *v)
{
	struct memo_slot *m = memo_find(w, key);

	if (w->memo_clobbered || ((!m || !m->packed) && w->memo_lost)) {
		*v = (struct val){.tag = V_RESULT};
		return 0;
	}
	if (!m || !m->packed)
		return -EBADMSG; /* "Memo value not found": the unpickler stops here too */
	*v = (struct val){.tag = (uint8_t)((m->packed & 7) - 1), .idx = m->packed >> 3};
	return 0;
}

#define POOL_MAX (4u << 20)

struct val walk_string(struct walk *w, const void *s, size_t len)
{
	uint32_t need = w->pool_len + 1 + (uint32_t)len;

	if (len > PICKLE_STR_MAX || grow((void **)&w->pool, &w->pool_cap, 1, need, POOL_MAX) < 0)
		return (struct val){.tag = V_USTR};
	w->pool[w->pool_len] = (uint8_t)len;
	memcpy(w->pool + w->pool_len + 1, s, len);
	w->pool_len = need;
	return (struct val){.tag = V_STR, .idx = need - 1 - (uint32_t)len};
}

/* ---- globals: kept (bounded, dangerous ones first), deduplicated ---- */

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

static bool dropped_has(struct walk *w, uint64_t h)
{
	for (uint32_t i = 0; i < w->n_dropped; i++)
		if (w->dropped[i] == h)
			return true;
	return false;
}

static void drop(struct walk *w, const char *name)
{
	w->out->globals_dropped++;
	if (w->n_dropped < ARRAY_SIZE(w->dropped))
		w->dropped[w->n_dropped++] = fnv1a(name);
}

/* A slot for a new global: a free one, or a safe/unknown one a dangerous one evicts. */
static int global_slot(struct walk *w, enum pickle_class cls)
{
	struct pickle_report *o = w->out;

	if (o->n_globals < PICKLE_GLOBALS_MAX)
		return (int)o->n_globals++;
	if (cls != PICKLE_DANGEROUS)
		return -1;
	for (enum pickle_class c = PICKLE_SAFE; c < PICKLE_DANGEROUS; c++)
		for (int i = PICKLE_GLOBALS_MAX - 1; i >= 0; i--)
			if (o->globals[i].cls == c) {
				drop(w, o->globals[i].name);
				return i;
			}
	return -1;
}

struct val walk_global(struct walk *w, const char *module, const char *name)
{
	struct pickle_report *o = w->out;
	struct val v = {.tag = V_GLOBAL, .idx = 0};
	enum pickle_class cls = pickle_classify(module, name);
	char full[PICKLE_NAME_MAX], raw[2 * PICKLE_STR_MAX + 2];
	int slot;

	snprintf(raw, sizeof(raw), "%s.%s", module, name);
	byte_text_copy(full, sizeof(full), raw, strlen(raw));
	for (uint32_t i = 0; i < o->n_globals; i++)
		if (!strcmp(o->globals[i].name, full)) {
			o->globals[i].imports++;
			v.idx = w->ids[i];
			return v;
		}
	if (dropped_has(w, fnv1a(full)))
		return v;
	o->dangerous += cls == PICKLE_DANGEROUS;
	o->unknown += cls == PICKLE_UNKNOWN;
	if ((slot = global_slot(w, cls)) < 0) {
		drop(w, full);
		return v;
	}
	o->globals[slot] = (struct pickle_global){.cls = cls, .imports = 1};
	memcpy(o->globals[slot].name, full, sizeof(full));
	v.idx = w->ids[slot] = ++w->next_id;
	return v;
}

void walk_call(struct walk *w, struct val callee)
{
	w->out->calls++;
	if (callee.tag != V_GLOBAL)
		return;
	for (uint32_t i = 0; i < w->out->n_globals; i++)
		if (w->ids[i] == callee.idx)
			w->out->globals[i].calls++;
}

/* The string a value holds, NUL-terminated into buf; false when it holds none we know. */
bool walk_str_value(const struct walk *w, struct val v, char *buf)
{
	if (v.tag != V_STR)
		return false;
	memcpy(buf, w->pool + v.idx + 1, w->pool[v.idx]);
	buf[w->pool[v.idx]] = '\0';
	return true;
}

/* ---- the walk ---- */

static void walk_reset(struct walk *w)
{
	w->n = w->n_marks = w->memo_stored = w->memo_len = 0;
	w->memo_lost = w->memo_uncertain = w->memo_clobbered = false;
	w->pool_len = 0;
	if (w->memo)
		memset(w->memo, 0, (size_t)w->memo_cap * sizeof(*w->memo));
}

static void walk_free(struct walk *w)
{
	free(w->stack);
	free(w->marks);
	free(w->memo);
	free(w->pool);
}

/* One pickle, up to its STOP. */
static int walk_pickle(struct walk *w)
{
	uint8_t op;
	int r;

	walk_reset(w);
	for (;;) {
		w->op_off = w->s->pos;
		if (++w->out->ops > w->lim->max_ops)
			return -E2BIG;
		if ((r = pstream_get(w->s, &op, 1)) < 0)
			return r;
		if ((r = walk_op(w, op)) != 0)
			return r; /* 1: STOP */
	}
}

static int walk_all(struct walk *w, uint64_t total)
{
	uint8_t b;
	int r;

	for (;;) {
		w->op_off = w->s->pos;
		if ((r = pstream_peek(w->s, &b)) <= 0)
			return r < 0 ? r : w->out->pickles ? 0 : -EBADMSG; /* nothing to walk */
		if (w->out->pickles &&
		    b != 0x80) { /* another pickle starts with PROTO, or none does */
			w->out->trailing = total > w->s->pos ? total - w->s->pos : 1;
			return 0;
		}
		r = walk_pickle(w);
		if (r < 0)
			return r;
		w->out->pickles++;
	}
}

static int scan(const struct byte_src *src, uint64_t off, uint64_t len, uint64_t total,
		bool deflated, const struct pickle_limits *lim, struct pickle_report *out)
{
	struct pickle_limits defaults;
	struct pstream *s = malloc(sizeof(*s));
	struct walk *w = calloc(1, sizeof(*w));
	int r;

	memset(out, 0, sizeof(*out));
	if (!lim) {
		pickle_limits_default(&defaults);
		lim = &defaults;
	}
	r = !s || !w ? -ENOMEM : pstream_open(s, src, off, len, deflated, lim);
	if (r == 0) {
		*w = (struct walk){.s = s, .lim = lim, .out = out};
		r = walk_all(w, total);
		out->bytes = s->pos;
		out->bytes_read = s->rd.used;
		pstream_close(s);
		walk_free(w);
	}
	if (r == -ENODATA)
		r = -EBADMSG; /* the data ended inside a pickle */
	out->complete = r == 0;
	out->error = r;
	out->error_at = r && w ? w->op_off : 0;
	free(s);
	free(w);
	return r;
}

int pickle_scan(const struct byte_src *src, uint64_t off, uint64_t len,
		const struct pickle_limits *lim, struct pickle_report *out)
{
	return scan(src, off, len, len, false, lim, out);
}

int pickle_scan_model(const struct byte_src *src, const struct model_pickle_loc *loc,
		      const struct pickle_limits *lim, struct pickle_report *out)
{
	switch (loc->method) {
	case MODEL_PICKLE_RAW:
	case MODEL_PICKLE_STORED:
		return scan(src, loc->off, loc->len, loc->len, false, lim, out);
	case MODEL_PICKLE_DEFLATED:
		return scan(src, loc->off, loc->len, loc->size, true, lim, out);
	default:
		memset(out, 0, sizeof(*out));
		out->error = -ENOENT;
		return -ENOENT;
	}
}
