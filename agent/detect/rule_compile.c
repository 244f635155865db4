// SPDX-License-Identifier: GPL-2.0
/*
 * rule_compile.c — the rule loader's second phase: condition text into
 * struct pnode (macros and lists expanded, fields resolved), a rule's
 * exceptions as "and not (...)", which event.action values a condition can
 * match, and the optimizer; rule_build.c assembles one rule from them.
 * Errors name the file:line:col of the offending token, even inside a
 * macro or a folded condition.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/rule_internal.h"

/* ---- conditions ---- */

static struct pnode *compile_node(struct compiler *c, const struct cnode *cn);

static bool op_fits(enum cond_op op, enum field_type t)
{
	switch (op) {
	case OP_LT:
	case OP_LE:
	case OP_GT:
	case OP_GE:
		return t == FT_NUM;
	case OP_STARTSWITH:
	case OP_ENDSWITH:
	case OP_CONTAINS:
	case OP_ICONTAINS:
	case OP_GLOB:
		return t == FT_STR;
	case OP_IN:
		return t != FT_BOOL;
	default:
		return true;
	}
}

int rc_resolve_field(struct compiler *c, const char *name, uint32_t off)
{
	int f = field_lookup(name, strlen(name));
	const char *hint;

	if (f >= 0)
		return f;
	hint = field_suggest(name, strlen(name));
	if (hint)
		rc_cond_error(c, off, "unknown field '%s' (did you mean '%s'?)", name, hint);
	else
		rc_cond_error(c, off, "unknown field or macro '%s'", name);
	return -1;
}

static bool check_test(struct compiler *c, const struct cnode *cn, struct pnode *n)
{
	const struct field_def *fd = &field_defs[n->field];

	if (!op_fits(cn->op, fd->type)) {
		rc_cond_error(c, cn->off, "operator '%s' does not apply to %s field %s",
			      cond_op_name(cn->op), field_type_name(fd->type), fd->name);
		return false;
	}
	if (cn->op == OP_IN && !cn->paren &&
	    (cn->vals[0].quoted || !rc_find_named(c->lists, c->nlists, cn->vals[0].s))) {
		rc_cond_error(c, cn->vals[0].off,
			      "'in' takes ( values ) or a list name; '%s' is "
			      "not a list",
			      cn->vals[0].s);
		return false;
	}
	if (cn->paren && cn->op != OP_IN && cn->op != OP_STARTSWITH && cn->op != OP_ENDSWITH &&
	    cn->op != OP_CONTAINS && cn->op != OP_ICONTAINS && cn->op != OP_GLOB) {
		rc_cond_error(c, cn->off, "operator '%s' takes a single value",
			      cond_op_name(cn->op));
		return false;
	}
	return true;
}

static struct pnode *compile_test(struct compiler *c, const struct cnode *cn)
{
	struct pnode *n;
	int f = rc_resolve_field(c, cn->name, cn->off);

	if (f < 0 || !(n = calloc(1, sizeof(*n))))
		return NULL;
	n->field = f;
	n->kind = cn->op == OP_EXISTS ? P_EXISTS : P_TEST;
	n->op = cn->op == OP_NE ? OP_EQ : cn->op == OP_IN ? OP_EQ : cn->op;
	n->negate = cn->op == OP_NE;
	if (n->kind == P_EXISTS)
		return n;
	if (!check_test(c, cn, n))
		goto fail;
	for (unsigned i = 0; i < cn->nvals; i++)
		if (!rc_add_value(c, n, &cn->vals[i]))
			goto fail;
	if (field_defs[f].type == FT_STR && n->op == OP_STARTSWITH)
		rc_reduce_prefixes(n);
	if (field_defs[f].type == FT_STR && n->op == OP_EQ && n->n >= SET_MIN_ITEMS &&
	    rc_build_set(n) < 0)
		goto fail;
	if (field_defs[f].type == FT_BOOL && n->n != 1) {
		rc_cond_error(c, cn->off, "a boolean field takes one value");
		goto fail;
	}
	return n;
fail:
	rc_pnode_free(n);
	return NULL;
}

/* A bare name: a macro, or a boolean field meaning "= true". */
static struct pnode *compile_name(struct compiler *c, const struct cnode *cn)
{
	struct named *m = rc_find_named(c->macros, c->nmacros, cn->name);
	const struct ydoc *saved_doc = c->doc;
	const struct ynode *saved_node = c->node;
	struct cnode *tree = NULL;
	struct cond_error perr;
	struct pnode *n = NULL;
	int f;

	if (!m) {
		f = field_lookup(cn->name, strlen(cn->name));
		if (f >= 0 && field_defs[f].type == FT_BOOL && (n = calloc(1, sizeof(*n)))) {
			n->kind = P_TEST;
			n->field = f;
			n->op = OP_EQ;
			n->bval = true;
			return n;
		}
		if (f >= 0)
			rc_cond_error(c, cn->off, "field '%s' needs an operator", cn->name);
		else
			rc_resolve_field(c, cn->name, cn->off);
		return NULL;
	}
	if (m->busy || c->depth >= MAX_EXPAND) {
		rc_cond_error(c, cn->off, "macro '%s' refers to itself", cn->name);
		return NULL;
	}
	m->used = true;
	c->doc = m->doc;
	c->node = m->body;
	if (cond_parse(m->body->value, &tree, &perr) < 0) {
		rc_cond_error(c, perr.off, "%s", perr.msg);
	} else {
		m->busy = true;
		c->depth++;
		n = compile_node(c, tree);
		c->depth--;
		m->busy = false;
	}
	cnode_free(tree);
	c->doc = saved_doc;
	c->node = saved_node;
	return n;
}

static struct pnode *compile_node(struct compiler *c, const struct cnode *cn)
{
	struct pnode *n;

	if (!cn)
		return NULL;
	if (cn->kind == CN_TEST)
		return compile_test(c, cn);
	if (cn->kind == CN_NAME)
		return compile_name(c, cn);
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->kind = cn->kind == CN_AND ? P_AND : cn->kind == CN_OR ? P_OR : P_NOT;
	n->a = compile_node(c, cn->a);
	n->b = cn->kind == CN_NOT ? NULL : compile_node(c, cn->b);
	if (!n->a || (cn->kind != CN_NOT && !n->b)) {
		rc_pnode_free(n);
		return NULL;
	}
	return n;
}

struct pnode *rc_compile_cond(struct compiler *c, const struct ydoc *d, const struct ynode *text)
{
	struct cnode *tree;
	struct cond_error perr;
	struct pnode *n;

	c->doc = d;
	c->node = text;
	c->depth = 0;
	if (cond_parse(text->value, &tree, &perr) < 0) {
		rc_cond_error(c, perr.off, "%s", perr.msg);
		return NULL;
	}
	n = compile_node(c, tree);
	cnode_free(tree);
	return n;
}

/* ---- static analysis: which event.action values can a condition match? ---- */

uint32_t rc_actions_of(const struct pnode *n)
{
	uint32_t m = 0;

	switch (n->kind) {
	case P_AND:
		m = ACTIONS_ALL;
		for (unsigned i = 0; i < n->nkids; i++)
			m &= rc_actions_of(n->kids[i]);
		return n->kids ? m : rc_actions_of(n->a) & rc_actions_of(n->b);
	case P_OR:
		for (unsigned i = 0; i < n->nkids; i++)
			m |= rc_actions_of(n->kids[i]);
		return n->kids ? m : rc_actions_of(n->a) | rc_actions_of(n->b);
	case P_ACTION:
		return n->mask;
	case P_TEST:
		if (n->field != F_EVENT_ACTION || n->op != OP_EQ)
			return ACTIONS_ALL;
		for (unsigned i = 0; i < n->n; i++)
			m |= 1u << action_bit_of(n->strs[i].p, n->strs[i].n);
		return n->negate ? ACTIONS_ALL : m;
	case P_CONST:
		return n->bval ? ACTIONS_ALL : 0;
	default:
		return ACTIONS_ALL; /* not, exists: no narrowing */
	}
}

/* ---- optimizer: flat and/or chains, event.action as a bit mask ---- */

static int gather(struct pnode *n, enum pkind k, struct pnode ***kids, unsigned *nk)
{
	struct pnode **nv;

	if (n->kind == k && !n->kids) { /* a binary node of the chain: its children move up */
		struct pnode *a = n->a, *b = n->b;

		n->a = n->b = NULL;
		free(n);
		return gather(a, k, kids, nk) ?: gather(b, k, kids, nk);
	}
	nv = realloc(*kids, (*nk + 1) * sizeof(*nv));
	if (!nv) {
		rc_pnode_free(n);
		return -ENOMEM;
	}
	*kids = nv;
	nv[(*nk)++] = n;
	return 0;
}

static bool action_mask(const struct pnode *n, uint32_t *ret)
{
	uint32_t m = 0;

	if (n->kind != P_TEST || n->field != F_EVENT_ACTION || n->op != OP_EQ || n->negate)
		return false;
	for (unsigned i = 0; i < n->n; i++) {
		enum action_bit b = action_bit_of(n->strs[i].p, n->strs[i].n);

		if (b == AB_OTHER) /* one bit for many names: keep comparing strings */
			return false;
		m |= 1u << b;
	}
	*ret = m;
	return true;
}

struct pnode *rc_optimize(struct pnode *n)
{
	struct pnode *chain, **kids = NULL;
	unsigned nk = 0, front = 0;
	uint32_t mask;

	if (!n)
		return NULL;
	if (n->kind == P_NOT) {
		n->a = rc_optimize(n->a);
		return n->a ? n : (free(n), NULL);
	}
	if (action_mask(n, &mask)) {
		n->kind = P_ACTION;
		n->mask = mask;
		return n;
	}
	if (n->kind != P_AND && n->kind != P_OR)
		return n;
	chain = calloc(1, sizeof(*chain));
	if (!chain)
		return n;
	chain->kind = n->kind;
	if (gather(n, chain->kind, &kids, &nk) < 0) {
		free(chain);
		free(kids);
		return NULL;
	}
	for (unsigned i = 0; i < nk; i++) {
		kids[i] = rc_optimize(kids[i]);
		if (kids[i] && kids[i]->kind == P_ACTION) { /* bit tests first */
			struct pnode *t = kids[front];

			kids[front++] = kids[i];
			kids[i] = t;
		}
	}
	chain->kids = kids;
	chain->nkids = nk;
	for (unsigned i = 0; i < nk; i++)
		if (!kids[i])
			return rc_pnode_free(chain), NULL;
	return chain;
}

/* exceptions: [{name, fields, comps, values}] → and not ((f1 c1 v1 and …) or …) */
static struct pnode *exception_tuple(struct compiler *c, const struct ynode *fields,
				     const struct ynode *comps, const struct ynode *tuple);

bool rc_compile_exceptions(struct compiler *c, const struct ydoc *d, const struct ynode *ex,
			   struct pnode **cond)
{
	if (ex->kind != Y_SEQ) {
		node_error(c, d, ex, "'exceptions' must be a list");
		return false;
	}
	c->doc = d;
	for (unsigned i = 0; i < ex->nkids; i++) {
		const struct ynode *e = ex->kids[i], *fields = ymap_get(e, "fields"),
				   *comps = ymap_get(e, "comps"), *values = ymap_get(e, "values");

		if (!fields || !values || values->kind != Y_SEQ) {
			node_error(c, d, e, "an exception needs 'fields' and 'values'");
			return false;
		}
		for (unsigned j = 0; j < values->nkids; j++) {
			struct pnode *t = exception_tuple(c, fields, comps, values->kids[j]), *nn,
				     *a;

			if (!t)
				return false;
			nn = calloc(1, sizeof(*nn));
			a = calloc(1, sizeof(*a));
			if (!nn || !a) {
				free(nn);
				free(a);
				rc_pnode_free(t);
				return false;
			}
			nn->kind = P_NOT;
			nn->a = t;
			a->kind = P_AND;
			a->a = *cond;
			a->b = nn;
			*cond = a;
		}
	}
	return true;
}

static const struct ynode *nth_scalar(const struct ynode *n, unsigned i)
{
	if (n && n->kind == Y_SCALAR)
		return i == 0 ? n : NULL;
	return n && n->kind == Y_SEQ && i < n->nkids && n->kids[i]->kind == Y_SCALAR ? n->kids[i]
										     : NULL;
}

static struct pnode *exception_tuple(struct compiler *c, const struct ynode *fields,
				     const struct ynode *comps, const struct ynode *tuple)
{
	unsigned nf = fields->kind == Y_SEQ ? fields->nkids : 1;
	struct pnode *all = NULL;

	for (unsigned i = 0; i < nf; i++) {
		const struct ynode *f = nth_scalar(fields, i), *op = nth_scalar(comps, i),
				   *v = nth_scalar(tuple, i);
		char text[4096];
		struct cnode *cn;
		struct cond_error perr;
		struct pnode *t, *and;

		if (!f || !v) {
			node_error(c, c->doc, tuple,
				   "exception value must match 'fields' (%u "
				   "values)",
				   nf);
			return rc_pnode_free(all), NULL;
		}
		/* reuse the condition compiler on "FIELD OP 'VALUE'" */
		snprintf(text, sizeof(text), "%s %s \"", f->value, op ? op->value : "=");
		for (const char *p = v->value; *p && strlen(text) < sizeof(text) - 4; p++) {
			size_t l = strlen(text);

			if (*p == '"' || *p == '\\')
				text[l++] = '\\';
			text[l++] = *p;
			text[l] = 0;
		}
		strcat(text, "\"");
		c->node = v;
		if (cond_parse(text, &cn, &perr) < 0) {
			node_error(c, c->doc, v, "exception: %s", perr.msg);
			return rc_pnode_free(all), NULL;
		}
		t = compile_node(c, cn);
		cnode_free(cn);
		if (!t)
			return rc_pnode_free(all), NULL;
		if (!all) {
			all = t;
			continue;
		}
		and = calloc(1, sizeof(*and));
		if (!and)
			return rc_pnode_free(t), rc_pnode_free(all), NULL;
		and->kind = P_AND;
		and->a = all;
		and->b = t;
		all = and;
	}
	return all;
}
