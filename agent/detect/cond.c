// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/cond.h"
#include "core/util.h"

#define MAX_DEPTH 100 /* nesting; bounds the recursion on hostile input */

enum tok_kind { T_END, T_LPAREN, T_RPAREN, T_COMMA, T_WORD, T_STRING, T_CMP };

struct tok {
	enum tok_kind kind;
	uint32_t off, len;
	enum cond_op op; /* T_CMP */
};

struct parser {
	const char *s;
	struct tok t; /* current token */
	uint32_t pos;
	unsigned depth;
	struct cond_error *err;
	bool failed;
};

static const char *const op_names[] = {
    [OP_EQ] = "=",
    [OP_NE] = "!=",
    [OP_LT] = "<",
    [OP_LE] = "<=",
    [OP_GT] = ">",
    [OP_GE] = ">=",
    [OP_IN] = "in",
    [OP_STARTSWITH] = "startswith",
    [OP_ENDSWITH] = "endswith",
    [OP_CONTAINS] = "contains",
    [OP_ICONTAINS] = "icontains",
    [OP_GLOB] = "glob",
    [OP_EXISTS] = "exists",
};

const char *cond_op_name(enum cond_op op)
{
	return op_names[op];
}

__attribute__((format(printf, 3, 4))) static void fail(struct parser *p, uint32_t off,
						       const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return;
	p->failed = true;
	p->err->off = off;
	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
	va_end(ap);
}

static bool word_char(char c)
{
	return c && !isspace((unsigned char)c) && !strchr("(),=!<>\"'", c);
}

static void lex_cmp(struct parser *p, const char *c)
{
	struct tok *t = &p->t;
	bool eq = c[1] == '=';

	t->kind = T_CMP;
	t->len = 1 + eq;
	if (c[0] == '=') {
		t->op = OP_EQ;
		t->len = 1 + eq; /* "==" accepted as "=" */
	} else if (c[0] == '!') {
		t->op = OP_NE;
		if (!eq)
			fail(p, t->off, "'!' must be followed by '=' (use 'not' to negate)");
	} else if (c[0] == '<') {
		t->op = eq ? OP_LE : OP_LT;
	} else {
		t->op = eq ? OP_GE : OP_GT;
	}
}

static void lex_string(struct parser *p, const char *c)
{
	struct tok *t = &p->t;
	char q = *c;
	uint32_t i = 1;

	while (c[i] && c[i] != q)
		i += (c[i] == '\\' && c[i + 1]) ? 2 : 1;
	if (!c[i]) {
		fail(p, t->off, "unterminated string");
		t->kind = T_END;
		return;
	}
	t->kind = T_STRING;
	t->len = i + 1;
}

static void next(struct parser *p)
{
	const char *c;
	struct tok *t = &p->t;

	while (isspace((unsigned char)p->s[p->pos]))
		p->pos++;
	c = p->s + p->pos;
	t->off = p->pos;
	t->len = 1;
	switch (*c) {
	case 0:
		t->kind = T_END;
		t->len = 0;
		break;
	case '(':
		t->kind = T_LPAREN;
		break;
	case ')':
		t->kind = T_RPAREN;
		break;
	case ',':
		t->kind = T_COMMA;
		break;
	case '=':
	case '!':
	case '<':
	case '>':
		lex_cmp(p, c);
		break;
	case '"':
	case '\'':
		lex_string(p, c);
		break;
	default:
		t->kind = T_WORD;
		for (t->len = 0; word_char(c[t->len]); t->len++)
			;
	}
	p->pos += t->len;
}

static bool is_word(const struct parser *p, const char *w)
{
	return p->t.kind == T_WORD && strlen(w) == p->t.len &&
	       !memcmp(p->s + p->t.off, w, p->t.len);
}

/* The token's text, quotes removed and escapes resolved. */
static char *tok_text(const struct parser *p)
{
	const char *s = p->s + p->t.off;
	uint32_t n = p->t.len;
	char *out, *o;

	if (p->t.kind != T_STRING)
		return strndup(s, n);
	out = o = malloc(n);
	if (!out)
		return NULL;
	for (uint32_t i = 1; i + 1 < n; i++) {
		if (s[i] == '\\' && i + 2 < n)
			i++;
		*o++ = s[i];
	}
	*o = 0;
	return out;
}

static struct cnode *node_new(struct parser *p, enum cnode_kind kind, uint32_t off)
{
	struct cnode *n = calloc(1, sizeof(*n));

	if (!n)
		fail(p, off, "out of memory");
	else {
		n->kind = kind;
		n->off = off;
	}
	return n;
}

static const char *tok_desc(const struct parser *p, char *buf, size_t len)
{
	if (p->t.kind == T_END)
		return "end of condition";
	snprintf(buf, len, "'%.*s'", (int)(p->t.len > 40 ? 40 : p->t.len), p->s + p->t.off);
	return buf;
}

static void expected(struct parser *p, const char *what)
{
	char buf[64];

	fail(p, p->t.off, "expected %s, found %s", what, tok_desc(p, buf, sizeof(buf)));
}

static bool add_value(struct parser *p, struct cnode *n)
{
	struct cond_val *v;

	if (p->t.kind != T_WORD && p->t.kind != T_STRING) {
		expected(p, "a value");
		return false;
	}
	v = realloc(n->vals, (n->nvals + 1) * sizeof(*v));
	if (!v) {
		fail(p, p->t.off, "out of memory");
		return false;
	}
	n->vals = v;
	v = &n->vals[n->nvals++];
	v->off = p->t.off;
	v->quoted = p->t.kind == T_STRING;
	v->s = tok_text(p);
	next(p);
	return v->s != NULL;
}

static void parse_values(struct parser *p, struct cnode *n)
{
	n->paren = true;
	next(p); /* ( */
	while (!p->failed) {
		if (!add_value(p, n))
			return;
		if (p->t.kind == T_RPAREN)
			break;
		if (p->t.kind != T_COMMA) {
			expected(p, "',' or ')'");
			return;
		}
		next(p);
	}
	next(p); /* ) */
}

static enum cond_op str_op(const struct parser *p)
{
	for (enum cond_op op = OP_IN; op <= OP_EXISTS; op++)
		if (is_word(p, op_names[op]))
			return op;
	return OP_EQ; /* not a word operator */
}

/* After a NAME: the test, or nothing (a macro / boolean field reference). */
static void parse_test(struct parser *p, struct cnode *n)
{
	enum cond_op op = str_op(p);

	if (p->t.kind == T_CMP) {
		n->op = p->t.op;
		next(p);
		add_value(p, n);
		return;
	}
	if (op == OP_EQ) {
		n->kind = CN_NAME;
		return;
	}
	n->op = op;
	next(p);
	if (op == OP_EXISTS)
		return;
	if (p->t.kind == T_LPAREN)
		parse_values(p, n);
	else
		add_value(p, n);
}

static struct cnode *parse_or(struct parser *p);

static struct cnode *parse_unary(struct parser *p)
{
	struct cnode *n;
	uint32_t off = p->t.off;

	if (++p->depth > MAX_DEPTH) {
		fail(p, off, "condition nested too deeply (over %d levels)", MAX_DEPTH);
		return NULL;
	}
	if (is_word(p, "not")) {
		next(p);
		n = node_new(p, CN_NOT, off);
		if (n)
			n->a = parse_unary(p);
	} else if (p->t.kind == T_LPAREN) {
		next(p);
		n = parse_or(p);
		if (p->t.kind != T_RPAREN)
			expected(p, "')'");
		next(p);
	} else if (p->t.kind == T_WORD && !is_word(p, "and") && !is_word(p, "or")) {
		n = node_new(p, CN_TEST, off);
		if (n) {
			n->name = tok_text(p);
			next(p);
			parse_test(p, n);
		}
	} else {
		expected(p, "a field, macro, 'not' or '('");
		n = NULL;
	}
	p->depth--;
	return n;
}

static struct cnode *parse_binary(struct parser *p, const char *word, enum cnode_kind kind,
				  struct cnode *(*sub)(struct parser *))
{
	struct cnode *l = sub(p);

	while (!p->failed && is_word(p, word)) {
		struct cnode *n = node_new(p, kind, p->t.off);

		next(p);
		if (!n)
			break;
		n->a = l;
		n->b = sub(p);
		l = n;
	}
	return l;
}

static struct cnode *parse_and(struct parser *p)
{
	return parse_binary(p, "and", CN_AND, parse_unary);
}

static struct cnode *parse_or(struct parser *p)
{
	return parse_binary(p, "or", CN_OR, parse_and);
}

int cond_parse(const char *text, struct cnode **ret, struct cond_error *err)
{
	struct parser p = {.s = text, .err = err};
	struct cnode *n;

	next(&p);
	if (p.t.kind == T_END) {
		fail(&p, 0, "empty condition");
		return -EINVAL;
	}
	n = parse_or(&p);
	if (!p.failed && p.t.kind != T_END)
		expected(&p, "'and', 'or' or the end of the condition");
	if (p.failed) {
		cnode_free(n);
		return -EINVAL;
	}
	*ret = n;
	return 0;
}

struct cnode *cnode_free(struct cnode *n)
{
	if (!n)
		return NULL;
	cnode_free(n->a);
	cnode_free(n->b);
	for (unsigned i = 0; i < n->nvals; i++)
		free(n->vals[i].s);
	free(n->vals);
	free(n->name);
	free(n);
	return NULL;
}
