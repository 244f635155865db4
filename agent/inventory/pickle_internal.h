/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pickle_internal.h — what the parts of pickle_scan share: the byte stream
 * it walks (a region of the source read through a buffer, or a deflated zip
 * entry inflated as it is read, both bounded), and the walk's model of the
 * unpickler (stack, marks, memo, strings, globals) the opcodes act on.
 *
 * Stage inventory/: includes core/ and sense/ only; private to pickle_*.c.
 */
#ifndef VIGIL_PICKLE_INTERNAL_H
#define VIGIL_PICKLE_INTERNAL_H

#include <zlib.h>

#include "inventory/pickle_scan.h"

#define PSTREAM_BUF (32u << 10)

struct pstream {
	struct byte_reader rd;
	bool deflated, z_live, z_end;
	z_stream z;
	uint64_t in_pos,
	    in_end; /* the source bytes still to read (compressed ones when deflated) */
	size_t out_pos, out_len; /* pickle bytes buffered in out */
	uint64_t pos, max;	 /* pickle bytes consumed, and the most allowed */
	uint8_t in[PSTREAM_BUF], out[PSTREAM_BUF];
};

/* A stream over [off, off + len) of src, inflated when deflated. */
int pstream_open(struct pstream *s, const struct byte_src *src, uint64_t off, uint64_t len,
		 bool deflated, const struct pickle_limits *lim);
void pstream_close(struct pstream *s);
/* Exactly n bytes, or -ENODATA at the end, -E2BIG past a bound, -EBADMSG for bad deflate data. */
int pstream_get(struct pstream *s, void *buf, size_t n);
int pstream_skip(struct pstream *s, uint64_t n);
/* The next byte into *b without consuming it: 1, 0 at the end, or -errno. */
int pstream_peek(struct pstream *s, uint8_t *b);
/* A line up to '\n' (consumed, not stored): its first cap bytes into buf, *len its length. */
int pstream_line(struct pstream *s, char *buf, size_t cap, size_t *len);

/* What a value on the modelled stack is. */
enum vtag {
	V_CONST,  /* a literal that is no str: int, bytes, None, a container ... */
	V_STR,	  /* a str the walk knows: idx is its offset in the pool */
	V_USTR,	  /* a str too long (or too many) to keep */
	V_GLOBAL, /* an imported callable: idx its id (0: not kept) */
	V_RESULT, /* what a call returned: anything, a str included */
};

struct val {
	uint8_t tag;
	uint32_t idx;
};

struct memo_slot {
	uint32_t key;
	uint32_t packed; /* 0: empty */
};

struct walk {
	struct pstream *s;
	const struct pickle_limits *lim;
	struct pickle_report *out;
	uint64_t op_off; /* the current opcode's offset in the pickle */
	struct val *stack;
	uint32_t n, cap;
	uint32_t *marks; /* stack heights at each MARK */
	uint32_t n_marks, cap_marks;
	struct memo_slot *memo; /* open addressing, a power of two */
	uint32_t memo_cap, memo_stored;
	uint32_t memo_len; /* the unpickler's len(memo), while the walk can tell */
	bool memo_lost, memo_uncertain, memo_clobbered; /* see memo_drop() */
	uint8_t *pool;					/* strings: a length byte, then the bytes */
	uint32_t pool_len, pool_cap;
	uint32_t ids[PICKLE_GLOBALS_MAX], next_id; /* each kept global's id */
	uint64_t dropped[4096];			   /* hashes of the names not kept */
	uint32_t n_dropped;
};

int walk_push(struct walk *w, struct val v);
uint32_t walk_depth(const struct walk *w);
int walk_pop(struct walk *w, uint32_t k, struct val *top);
int walk_mark(struct walk *w);
int walk_pop_mark(struct walk *w, uint32_t *count, struct val *first);
int walk_memo_put(struct walk *w, uint32_t key, struct val v, bool memoize);
int walk_memo_get(struct walk *w, uint32_t key, struct val *v);
struct val walk_string(struct walk *w, const void *s, size_t len);
struct val walk_global(struct walk *w, const char *module, const char *name);
void walk_call(struct walk *w, struct val callee);
bool walk_str_value(const struct walk *w, struct val v, char *buf);
/* One opcode (pickle_ops.c): 0, 1 at STOP, or -errno. */
int walk_op(struct walk *w, uint8_t op);

#endif
