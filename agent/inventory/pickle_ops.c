// SPDX-License-Identifier: GPL-2.0
/*
 * Each pickle opcode (Lib/pickletools.py lists them, protocols 0-5): how its
 * argument is read and what it does to the modelled stack and memo.
 */
#include <errno.h>
#include <string.h>

#include "core/util.h"
#include "inventory/pickle_internal.h"

enum arg {
	A_NONE,
	A_U1,
	A_U2,
	A_U4,
	A_U8,
	A_LINE,	 /* up to '\n' */
	A_LINE2, /* two lines: module, name */
	A_LEN1,	 /* a u8 length, then bytes */
	A_LEN4,	 /* a u32 length */
	A_SLEN4, /* an i32 length (negative: invalid) */
	A_LEN8,	 /* a u64 length */
};

enum act {
	X_INVALID = 0,
	X_CONST,   /* push a non-str literal */
	X_STR,	   /* push the argument as a str */
	X_STRING,  /* STRING: a quoted, escaped line */
	X_UNICODE, /* UNICODE: a raw-unicode-escape line */
	X_MARK,
	X_STOP,
	X_POP,
	X_POP_MARK,
	X_DUP,
	X_TUPLE_N,   /* TUPLE1-3: pop n, push one */
	X_SAME,	     /* READONLY_BUFFER: needs one, changes nothing we track */
	X_FROM_MARK, /* TUPLE LIST DICT FROZENSET */
	X_INTO_MARK, /* APPENDS SETITEMS ADDITEMS: into the item below the mark */
	X_INTO_N,    /* APPEND (1), SETITEM (2): into the item below */
	X_GLOBAL,
	X_STACK_GLOBAL,
	X_INST,
	X_OBJ,
	X_REDUCE,
	X_NEWOBJ,
	X_NEWOBJ_EX,
	X_BUILD,
	X_PERSID,
	X_BINPERSID,
	X_EXT,
	X_PUT,
	X_MEMOIZE,
	X_GET,
	X_PROTO,
	X_FRAME,
};

struct opinfo {
	uint8_t arg, act, n;
};

static const struct opinfo optab[256] = {
    ['('] = {A_NONE, X_MARK, 0},
    ['.'] = {A_NONE, X_STOP, 0},
    ['0'] = {A_NONE, X_POP, 0},
    ['1'] = {A_NONE, X_POP_MARK, 0},
    ['2'] = {A_NONE, X_DUP, 0},
    ['F'] = {A_LINE, X_CONST, 0},
    ['I'] = {A_LINE, X_CONST, 0},
    ['J'] = {A_U4, X_CONST, 0},
    ['K'] = {A_U1, X_CONST, 0},
    ['L'] = {A_LINE, X_CONST, 0},
    ['M'] = {A_U2, X_CONST, 0},
    ['N'] = {A_NONE, X_CONST, 0},
    ['P'] = {A_LINE, X_PERSID, 0},
    ['Q'] = {A_NONE, X_BINPERSID, 0},
    ['R'] = {A_NONE, X_REDUCE, 0},
    ['S'] = {A_LINE, X_STRING, 0},
    ['T'] = {A_SLEN4, X_STR, 0},
    ['U'] = {A_LEN1, X_STR, 0},
    ['V'] = {A_LINE, X_UNICODE, 0},
    ['X'] = {A_LEN4, X_STR, 0},
    ['a'] = {A_NONE, X_INTO_N, 1},
    ['b'] = {A_NONE, X_BUILD, 0},
    ['c'] = {A_LINE2, X_GLOBAL, 0},
    ['d'] = {A_NONE, X_FROM_MARK, 0},
    ['}'] = {A_NONE, X_CONST, 0},
    ['e'] = {A_NONE, X_INTO_MARK, 0},
    ['g'] = {A_LINE, X_GET, 0},
    ['h'] = {A_U1, X_GET, 0},
    ['i'] = {A_LINE2, X_INST, 0},
    ['j'] = {A_U4, X_GET, 0},
    ['l'] = {A_NONE, X_FROM_MARK, 0},
    [']'] = {A_NONE, X_CONST, 0},
    ['o'] = {A_NONE, X_OBJ, 0},
    ['p'] = {A_LINE, X_PUT, 0},
    ['q'] = {A_U1, X_PUT, 0},
    ['r'] = {A_U4, X_PUT, 0},
    ['s'] = {A_NONE, X_INTO_N, 2},
    ['t'] = {A_NONE, X_FROM_MARK, 0},
    [')'] = {A_NONE, X_CONST, 0},
    ['u'] = {A_NONE, X_INTO_MARK, 0},
    ['G'] = {A_U8, X_CONST, 0},
    [0x80] = {A_U1, X_PROTO, 0},
    [0x81] = {A_NONE, X_NEWOBJ, 0},
    [0x82] = {A_U1, X_EXT, 0},
    [0x83] = {A_U2, X_EXT, 0},
    [0x84] = {A_U4, X_EXT, 0},
    [0x85] = {A_NONE, X_TUPLE_N, 1},
    [0x86] = {A_NONE, X_TUPLE_N, 2},
    [0x87] = {A_NONE, X_TUPLE_N, 3},
    [0x88] = {A_NONE, X_CONST, 0},
    [0x89] = {A_NONE, X_CONST, 0},
    [0x8a] = {A_LEN1, X_CONST, 0},
    [0x8b] = {A_SLEN4, X_CONST, 0},
    ['B'] = {A_LEN4, X_CONST, 0},
    ['C'] = {A_LEN1, X_CONST, 0},
    [0x8c] = {A_LEN1, X_STR, 0},
    [0x8d] = {A_LEN8, X_STR, 0},
    [0x8e] = {A_LEN8, X_CONST, 0},
    [0x8f] = {A_NONE, X_CONST, 0},
    [0x90] = {A_NONE, X_INTO_MARK, 0},
    [0x91] = {A_NONE, X_FROM_MARK, 0},
    [0x92] = {A_NONE, X_NEWOBJ_EX, 0},
    [0x93] = {A_NONE, X_STACK_GLOBAL, 0},
    [0x94] = {A_NONE, X_MEMOIZE, 0},
    [0x95] = {A_U8, X_FRAME, 0},
    [0x96] = {A_LEN8, X_CONST, 0},
    [0x97] = {A_NONE, X_CONST, 0},
    [0x98] = {A_NONE, X_SAME, 0},
};

#define LINE_MAX_KEEP (PICKLE_STR_MAX + 1)

/* An opcode's argument: a number, or the text it carries (kept when short). */
struct arg_val {
	uint64_t num;
	char text[LINE_MAX_KEEP + 1], text2[LINE_MAX_KEEP + 1];
	size_t len, len2; /* full lengths (may exceed what text keeps) */
};

static int read_fixed(struct walk *w, size_t n, uint64_t *v)
{
	uint8_t b[8];
	int r = pstream_get(w->s, b, n);

	*v = 0;
	for (size_t i = n; r == 0 && i-- > 0;)
		*v = *v << 8 | b[i];
	return r;
}

static int read_line(struct walk *w, char *buf, size_t *len)
{
	int r = pstream_line(w->s, buf, LINE_MAX_KEEP, len);

	buf[*len < LINE_MAX_KEEP ? *len : LINE_MAX_KEEP] = '\0';
	return r;
}

/* Counted bytes: kept in text when the opcode pushes a str short enough to follow. */
static int read_counted(struct walk *w, const struct opinfo *oi, struct arg_val *a)
{
	size_t lenlen = oi->arg == A_LEN1 ? 1 : oi->arg == A_LEN8 ? 8 : 4;
	int r = read_fixed(w, lenlen, &a->num);

	if (r < 0)
		return r;
	if (oi->arg == A_SLEN4 && a->num > INT32_MAX)
		return -EBADMSG; /* "negative byte count" */
	a->len = a->num > SIZE_MAX ? SIZE_MAX : (size_t)a->num;
	if (oi->act != X_STR || a->num > PICKLE_STR_MAX)
		return pstream_skip(w->s, a->num);
	r = pstream_get(w->s, a->text, a->len);
	a->text[a->len] = '\0';
	return r;
}

static int read_arg(struct walk *w, const struct opinfo *oi, struct arg_val *a)
{
	static const uint8_t fixed[] = {[A_U1] = 1, [A_U2] = 2, [A_U4] = 4, [A_U8] = 8};
	int r;

	switch (oi->arg) {
	case A_NONE:
		return 0;
	case A_U1:
	case A_U2:
	case A_U4:
	case A_U8:
		return read_fixed(w, fixed[oi->arg], &a->num);
	case A_LINE:
		return read_line(w, a->text, &a->len);
	case A_LINE2:
		if ((r = read_line(w, a->text, &a->len)) < 0)
			return r;
		return read_line(w, a->text2, &a->len2);
	default:
		return read_counted(w, oi, a);
	}
}

/* A decimal memo key as int() reads it: blanks around, an optional sign, '_' between digits. */
static int parse_key(const char *s, size_t len, uint64_t *key)
{
	const char *e;
	uint64_t v = 0;
	bool digit = false;

	if (len > LINE_MAX_KEEP)
		return -E2BIG;
	for (e = s + len; e > s && strchr(" \t\r\v\f", e[-1]); e--)
		;
	for (; s < e && strchr(" \t\r\v\f", *s); s++)
		;
	if (s < e && *s == '+')
		s++;
	for (; s < e; s++) {
		if (*s == '_' && digit && s + 1 < e && s[1] != '_')
			continue;
		if (*s < '0' || *s > '9')
			return -EBADMSG; /* a minus too: "negative argument" */
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return -E2BIG; /* valid for Python, past what the walk keeps */
		digit = true;
	}
	*key = v;
	return digit ? 0 : -EBADMSG;
}

/* ---- string decoders for protocol 0's text opcodes ---- */

static int hexval(char c)
{
	return c >= '0' && c <= '9'			? c - '0'
	       : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
							: -1;
}

/* STRING: quoted like repr(), escapes as codecs.escape_decode reads them. */
static struct val decode_string(struct walk *w, const char *s, size_t len, int *err)
{
	static const char esc[] = "\\\\''\"\"a\ab\bf\fn\nr\rt\tv\v";
	char out[LINE_MAX_KEEP];
	size_t o = 0;

	if (len > PICKLE_STR_MAX + 2)
		return (struct val){.tag = V_USTR};
	if (len < 2 || s[0] != s[len - 1] || (s[0] != '\'' && s[0] != '"')) {
		*err = -EBADMSG; /* "the STRING opcode argument must be quoted" */
		return (struct val){0};
	}
	for (size_t i = 1; i < len - 1; i++) {
		const char *m;
		if (s[i] != '\\' || i + 1 >= len - 1) {
			out[o++] = s[i];
		} else if (s[i + 1] == 'x' && i + 3 < len - 1 && hexval(s[i + 2]) >= 0 &&
			   hexval(s[i + 3]) >= 0) {
			out[o++] = (char)(hexval(s[i + 2]) << 4 | hexval(s[i + 3]));
			i += 3;
		} else if (s[i + 1] >= '0' && s[i + 1] <= '7') {
			int v = 0, k = 0;
			for (; k < 3 && i + 1 + k < len - 1 && s[i + 1 + k] >= '0' &&
			       s[i + 1 + k] <= '7';
			     k++)
				v = v * 8 + (s[i + 1 + k] - '0');
			out[o++] = (char)v;
			i += (size_t)k;
		} else if ((m = strchr(esc, s[i + 1])) && ((m - esc) & 1) == 0) {
			out[o++] = m[1];
			i++;
		} else {
			out[o++] = s[i]; /* unknown escapes stay as written */
		}
	}
	return walk_string(w, out, o);
}

static size_t utf8_put(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* UNICODE: raw-unicode-escape (\uXXXX, \UXXXXXXXX; other bytes are latin-1). */
static struct val decode_unicode(struct walk *w, const char *s, size_t len)
{
	char out[4 * LINE_MAX_KEEP];
	size_t o = 0;

	if (len > PICKLE_STR_MAX)
		return (struct val){.tag = V_USTR};
	for (size_t i = 0; i < len; i++) {
		size_t digits = i + 1 < len && s[i] == '\\' ? (s[i + 1] == 'u'	 ? 4
							       : s[i + 1] == 'U' ? 8
										 : 0)
							    : 0;
		uint32_t cp = 0;
		bool ok = digits && i + 2 + digits <= len;
		for (size_t k = 0; ok && k < digits; k++)
			ok = hexval(s[i + 2 + k]) >= 0 &&
			     (cp = cp << 4 | (uint32_t)hexval(s[i + 2 + k]), true);
		if (ok && cp <= 0x10ffff) {
			o += utf8_put(out + o, cp);
			i += 1 + digits;
		} else {
			o += utf8_put(out + o, (uint8_t)s[i]);
		}
	}
	return o > PICKLE_STR_MAX ? (struct val){.tag = V_USTR} : walk_string(w, out, o);
}

/* ---- the opcodes that import or call ---- */

static int op_stack_global(struct walk *w)
{
	char module[PICKLE_STR_MAX + 1], name[PICKLE_STR_MAX + 1];
	struct val n, m;
	int r;

	if ((r = walk_pop(w, 1, &n)) < 0 || (r = walk_pop(w, 1, &m)) < 0)
		return r;
	if (n.tag == V_CONST || m.tag == V_CONST || n.tag == V_GLOBAL || m.tag == V_GLOBAL)
		return -EBADMSG; /* "STACK_GLOBAL requires str" */
	if (!walk_str_value(w, m, module) || !walk_str_value(w, n, name))
		return walk_push(w, walk_global(w, "?", "?")); /* a str the walk did not follow */
	return walk_push(w, walk_global(w, module, name));
}

static int op_call(struct walk *w, int act)
{
	struct val callee = {0};
	uint32_t count;
	int r;

	switch (act) {
	case X_REDUCE:
	case X_NEWOBJ:
	case X_NEWOBJ_EX:
		r = walk_pop(w, act == X_NEWOBJ_EX ? 2 : 1, NULL);
		if (r < 0 || (r = walk_pop(w, 1, &callee)) < 0)
			return r;
		break;
	case X_OBJ:
		if ((r = walk_pop_mark(w, &count, &callee)) < 0)
			return r;
		if (!count)
			return -EBADMSG; /* OBJ needs the class above the mark */
		break;
	case X_BUILD: /* state onto the object below it: a call of its __setstate__ */
		if ((r = walk_pop(w, 1, NULL)) < 0 || walk_depth(w) < 1)
			return r < 0 ? r : -EBADMSG;
		walk_call(w, w->stack[w->n - 1]);
		return 0;
	}
	walk_call(w, callee);
	return walk_push(w, (struct val){.tag = V_RESULT});
}

static int op_inst(struct walk *w, const struct arg_val *a)
{
	struct val g;
	int r;

	if (a->len > PICKLE_STR_MAX || a->len2 > PICKLE_STR_MAX)
		g = walk_global(w, "?", "?");
	else
		g = walk_global(w, a->text, a->text2);
	if ((r = walk_pop_mark(w, NULL, NULL)) < 0)
		return r;
	walk_call(w, g);
	return walk_push(w, (struct val){.tag = V_RESULT});
}

static int op_global(struct walk *w, const struct arg_val *a)
{
	if (a->len > PICKLE_STR_MAX || a->len2 > PICKLE_STR_MAX)
		return walk_push(w, walk_global(w, "?", "?"));
	return walk_push(w, walk_global(w, a->text, a->text2));
}

/* ---- memo ---- */

static int op_memo(struct walk *w, const struct opinfo *oi, int act, const struct arg_val *a)
{
	uint64_t key = a->num;
	struct val v;
	int r = 0;

	if (act == X_MEMOIZE)
		key = w->memo_len; /* memo[len(memo)] */
	else if (oi->arg == A_LINE)
		r = parse_key(a->text, a->len, &key);
	if (r < 0)
		return r;
	if (act == X_GET)
		return (r = walk_memo_get(w, (uint32_t)key, &v)) < 0 ? r : walk_push(w, v);
	if (walk_depth(w) < 1)
		return -EBADMSG;
	return walk_memo_put(w, (uint32_t)key, w->stack[w->n - 1], act == X_MEMOIZE);
}

/* ---- the rest: stack shapes ---- */

static int op_stack(struct walk *w, const struct opinfo *oi)
{
	int r;

	switch (oi->act) {
	case X_MARK:
		return walk_mark(w);
	case X_POP: /* the unpickler pops the mark when the stack above it is empty */
		return walk_depth(w) ? walk_pop(w, 1, NULL) : walk_pop_mark(w, NULL, NULL);
	case X_POP_MARK:
		return walk_pop_mark(w, NULL, NULL);
	case X_DUP:
		return walk_depth(w) ? walk_push(w, w->stack[w->n - 1]) : -EBADMSG;
	case X_TUPLE_N:
		return (r = walk_pop(w, oi->n, NULL)) < 0
			   ? r
			   : walk_push(w, (struct val){.tag = V_CONST});
	case X_SAME:
		return walk_depth(w) ? 0 : -EBADMSG;
	case X_FROM_MARK:
		return (r = walk_pop_mark(w, NULL, NULL)) < 0
			   ? r
			   : walk_push(w, (struct val){.tag = V_CONST});
	case X_INTO_MARK:
		return (r = walk_pop_mark(w, NULL, NULL)) < 0 ? r : walk_depth(w) ? 0 : -EBADMSG;
	case X_INTO_N:
		return (r = walk_pop(w, oi->n, NULL)) < 0 ? r : walk_depth(w) ? 0 : -EBADMSG;
	case X_PERSID: /* persistent_load(pid): torch's storages; a call of the loader's own */
		return walk_push(w, (struct val){.tag = V_RESULT});
	case X_BINPERSID:
		return (r = walk_pop(w, 1, NULL)) < 0 ? r
						      : walk_push(w, (struct val){.tag = V_RESULT});
	case X_EXT: /* copyreg's extension registry: an import by number */
		return walk_push(w, walk_global(w, "?", "?"));
	}
	return -EBADMSG;
}

int walk_op(struct walk *w, uint8_t op)
{
	const struct opinfo *oi = &optab[op];
	struct arg_val a;
	int r, err = 0;

	if (oi->act == X_INVALID)
		return -EBADMSG; /* "invalid load key" */
	if ((r = read_arg(w, oi, &a)) < 0)
		return r;
	switch (oi->act) {
	case X_CONST:
		return walk_push(w, (struct val){.tag = V_CONST});
	case X_STR:
		return walk_push(w, walk_string(w, a.text, a.len));
	case X_STRING: {
		struct val v = decode_string(w, a.text, a.len, &err);
		return err ? err : walk_push(w, v);
	}
	case X_UNICODE:
		return walk_push(w, decode_unicode(w, a.text, a.len));
	case X_STOP:
		return (r = walk_pop(w, 1, NULL)) < 0 ? r : 1;
	case X_GLOBAL:
		return op_global(w, &a);
	case X_STACK_GLOBAL:
		return op_stack_global(w);
	case X_INST:
		return op_inst(w, &a);
	case X_REDUCE:
	case X_NEWOBJ:
	case X_NEWOBJ_EX:
	case X_OBJ:
	case X_BUILD:
		return op_call(w, oi->act);
	case X_PUT:
	case X_MEMOIZE:
	case X_GET:
		return op_memo(w, oi, oi->act, &a);
	case X_PROTO:
		if (!w->out->protocol)
			w->out->protocol = (uint8_t)a.num;
		return a.num <= 5 ? 0 : -EBADMSG; /* "unsupported pickle protocol" */
	case X_FRAME:
		return 0;
	default:
		return op_stack(w, oi);
	}
}
