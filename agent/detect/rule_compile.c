// SPDX-License-Identifier: GPL-2.0
/*
 * rule_compile.c — the rule loader's second phase: condition text into
 * struct pnode (macros and lists expanded, fields resolved), which
 * event.action values a condition can match, the optimizer, and one rule
 * with its exceptions, sequence or threshold. Errors name the file:line:col
 * of the offending token, even inside a macro or a folded condition.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "core/util.h"

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

static int resolve_field(struct compiler *c, const char *name, uint32_t off)
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
	int f = resolve_field(c, cn->name, cn->off);

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
			resolve_field(c, cn->name, cn->off);
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

static struct pnode *compile_cond(struct compiler *c, const struct ydoc *d,
				  const struct ynode *text)
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

static struct pnode *optimize(struct pnode *n)
{
	struct pnode *chain, **kids = NULL;
	unsigned nk = 0, front = 0;
	uint32_t mask;

	if (!n)
		return NULL;
	if (n->kind == P_NOT) {
		n->a = optimize(n->a);
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
		kids[i] = optimize(kids[i]);
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

/* ---- rules ---- */

struct rule *rc_rule_free(struct rule *r)
{
	if (!r)
		return NULL;
	free(r->id);
	free(r->name);
	free(r->desc);
	free(r->ruleset);
	free(r->file);
	for (unsigned i = 0; r->tags && r->tags[i]; i++)
		free(r->tags[i]);
	free(r->tags);
	rc_pnode_free(r->cond);
	if (r->seq)
		for (unsigned i = 0; i < r->seq->nsteps; i++)
			rc_pnode_free(r->seq->steps[i]);
	free(r->seq);
	for (unsigned i = 0; i < r->nout; i++)
		free(r->out[i].lit.p);
	free(r->out);
	free(r);
	return NULL;
}

static bool out_field_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '.' || ch == '_' || ch == '@';
}

static bool add_part(struct rule *r, int field, const char *p, size_t n)
{
	struct tmpl_part *np = realloc(r->out, (r->nout + 1) * sizeof(*np));

	if (!np)
		return false;
	r->out = np;
	np[r->nout].field = field;
	np[r->nout].lit.p = field < 0 ? strndup(p, n) : NULL;
	np[r->nout].lit.n = n;
	r->nout++;
	return field >= 0 || np[r->nout - 1].lit.p;
}

/* "Shell %process.name under %process.parent.name" → literal and field parts. */
static bool compile_output(struct compiler *c, const struct ydoc *d, const struct ynode *out,
			   struct rule *r)
{
	const char *s = out->value, *lit = s;

	c->doc = d;
	c->node = out;
	while (*s) {
		size_t n = 0;
		int f;

		if (*s != '%' || !out_field_char(s[1])) {
			s++;
			continue;
		}
		while (out_field_char(s[1 + n]))
			n++;
		while (n && s[n] == '.') /* a full stop after the field */
			n--;
		f = field_lookup(s + 1, n);
		if (f < 0) {
			char name[128];

			snprintf(name, sizeof(name), "%.*s", (int)n, s + 1);
			resolve_field(c, name, s + 1 - out->value);
			return false;
		}
		if ((s > lit && !add_part(r, -1, lit, s - lit)) || !add_part(r, f, NULL, 0))
			return false;
		s += 1 + n;
		lit = s;
	}
	return s == lit || add_part(r, -1, lit, s - lit);
}

static bool read_tags(struct compiler *c, const struct ydoc *d, const struct ynode *m,
		      struct rule *r)
{
	const struct ynode *t = ymap_get(m, "tags");
	unsigned n = 0;

	if (!t) {
		r->tags = calloc(1, sizeof(char *));
		return r->tags;
	}
	if (t->kind != Y_SEQ) {
		node_error(c, d, t, "'tags' must be a list");
		return false;
	}
	r->tags = calloc(t->nkids + 1, sizeof(char *));
	if (!r->tags)
		return false;
	for (unsigned i = 0; i < t->nkids; i++) {
		if (t->kids[i]->kind != Y_SCALAR) {
			node_error(c, d, t->kids[i], "tags are single words");
			return false;
		}
		r->tags[n++] = strdup(t->kids[i]->value);
	}
	r->meta.ntags = n;
	return true;
}

static bool read_severity(struct compiler *c, const struct ydoc *d, const struct ynode *m,
			  struct rule *r)
{
	const struct ynode *s = rc_scalar(c, d, m, "severity", false);

	if (!s)
		s = rc_scalar(c, d, m, "priority", false);
	if (!s) {
		node_error(c, d, m, "missing 'severity' (info, low, medium, high or critical)");
		return false;
	}
	if (severity_parse(s->value, &r->meta.severity) < 0) {
		node_error(c, d, s, "unknown severity '%s' (info, low, medium, high or critical)",
			   s->value);
		return false;
	}
	return true;
}

static const char *const by_names[] = {"tree", "process"};

static bool read_by(struct compiler *c, const struct ydoc *d, const struct ynode *by,
		    struct seq_def *s)
{
	const char *v = by ? by->value : "tree";
	int f;

	snprintf(s->by_name, sizeof(s->by_name), "%s", v);
	for (unsigned i = 0; i < ARRAY_SIZE(by_names); i++)
		if (!strcmp(v, by_names[i])) {
			s->by = i;
			return true;
		}
	s->by = BY_FIELD;
	if (!strcmp(v, "session"))
		v = "process.session_leader.pid";
	else if (!strcmp(v, "container"))
		v = "container.id";
	else if (!strcmp(v, "user"))
		v = "user.id";
	f = field_lookup(v, strlen(v));
	if (f < 0 || field_defs[f].multi) {
		node_error(c, d, by,
			   "'by' is tree, process, session, container, user or a "
			   "single-valued field, not '%s'",
			   v);
		return false;
	}
	s->key_field = f;
	return true;
}

/* Keys of a sequence/threshold mapping, its 'by' and its 'within'. */
static bool read_window(struct compiler *c, const struct ydoc *d, const struct ynode *m,
			const char *what, const char *const *keys, struct rule *r)
{
	const struct ynode *within = ymap_get(m, "within");
	uint64_t ms;

	if (m->kind != Y_MAP) {
		node_error(c, d, m, "'%s' is a mapping (%s)", what, keys[0]);
		return false;
	}
	for (unsigned i = 0; i < m->nkids; i += 2) {
		const char *const *k;

		for (k = keys + 1; *k && strcmp(*k, m->kids[i]->value); k++)
			;
		if (!*k) {
			node_error(c, d, m->kids[i], "unknown key '%s' in %s (%s)",
				   m->kids[i]->value, what, keys[0]);
			return false;
		}
	}
	r->seq = calloc(1, sizeof(*r->seq));
	if (!r->seq || !read_by(c, d, ymap_get(m, "by"), r->seq))
		return false;
	r->seq->distinct = -1;
	if (!within || within->kind != Y_SCALAR || parse_duration_ms(within->value, &ms) < 0 ||
	    !ms) {
		node_error(c, d, within ? within : m,
			   "%s needs 'within' as a duration (e.g. 30s, 2m)", what);
		return false;
	}
	r->seq->within_ns = ms * 1000000ull;
	return true;
}

static bool compile_sequence(struct compiler *c, const struct ydoc *d, const struct ynode *sq,
			     struct rule *r)
{
	static const char *const keys[] = {"by, within, steps", "by", "within", "steps", NULL};
	const struct ynode *steps = ymap_get(sq, "steps");

	if (!read_window(c, d, sq, "sequence", keys, r))
		return false;
	if (!steps || steps->kind != Y_SEQ || steps->nkids < 2 || steps->nkids > SEQ_MAX_STEPS) {
		node_error(c, d, steps ? steps : sq, "sequence needs 'steps': 2 to %d conditions",
			   SEQ_MAX_STEPS);
		return false;
	}
	for (unsigned i = 0; i < steps->nkids; i++) {
		if (steps->kids[i]->kind != Y_SCALAR) {
			node_error(c, d, steps->kids[i], "a step is a condition");
			return false;
		}
		r->seq->steps[i] = compile_cond(c, d, steps->kids[i]);
		if (!r->seq->steps[i])
			return false;
		r->seq->nsteps++;
	}
	return true;
}

/* threshold: {by, within, count, distinct}: the rule's condition, count times in a window. */
static bool compile_threshold(struct compiler *c, const struct ydoc *d, const struct ynode *th,
			      struct rule *r)
{
	static const char *const keys[] = {
	    "by, within, count, distinct", "by", "within", "count", "distinct", NULL};
	const struct ynode *count = ymap_get(th, "count"), *distinct = ymap_get(th, "distinct");
	int64_t n;

	if (!read_window(c, d, th, "threshold", keys, r))
		return false;
	if (distinct) {
		r->seq->distinct = distinct->kind == Y_SCALAR
				       ? field_lookup(distinct->value, strlen(distinct->value))
				       : -1;
		if (r->seq->distinct < 0) {
			node_error(c, d, distinct, "'distinct' names a field");
			return false;
		}
	}
	if (!count || count->kind != Y_SCALAR || !rc_parse_num(count->value, &n) || n < 2 ||
	    n > (distinct ? SEQ_DISTINCT_MAX : 1000000)) {
		node_error(c, d, count ? count : th, "threshold needs 'count': 2 to %d",
			   distinct ? SEQ_DISTINCT_MAX : 1000000);
		return false;
	}
	r->seq->count = n;
	r->seq->nsteps = 1;
	r->seq->steps[0] = r->cond; /* matched like a first step, counted per key */
	r->cond = NULL;
	return true;
}

/* exceptions: [{name, fields, comps, values}] → and not ((f1 c1 v1 and …) or …) */
static struct pnode *exception_tuple(struct compiler *c, const struct ynode *fields,
				     const struct ynode *comps, const struct ynode *tuple);

static bool compile_exceptions(struct compiler *c, const struct ydoc *d, const struct ynode *ex,
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

bool rc_read_enabled(struct compiler *c, const struct ydoc *d, const struct ynode *m)
{
	return rc_flag(c, d, m, "enabled", true);
}

static char *ruleset_name(const char *path)
{
	const char *b = strrchr(path, '/');
	char *s = strdup(b ? b + 1 : path), *dot;

	if (s && (dot = strrchr(s, '.')))
		*dot = 0;
	return s;
}

struct rule *rc_compile_rule(struct compiler *c, const struct named *it)
{
	const struct ydoc *d = it->doc;
	const struct ynode *m = it->item, *cond = ymap_get(m, "condition"),
			   *seq = ymap_get(m, "sequence"), *th = ymap_get(m, "threshold"),
			   *out = rc_scalar(c, d, m, "output", false),
			   *desc = rc_scalar(c, d, m, "desc", false),
			   *ex = ymap_get(m, "exceptions");
	struct rule *r = calloc(1, sizeof(*r));
	unsigned errors = c->diag->errors;

	if (!r)
		return NULL;
	r->id = strdup(it->name);
	r->name = strdup(ymap_get(m, "rule")->value);
	r->desc = strdup(desc ? desc->value : "");
	r->ruleset = ruleset_name(d->path);
	r->file = strdup(d->path);
	if (!r->id || !r->name || !r->desc || !r->ruleset || !r->file || !read_tags(c, d, m, r) ||
	    !read_severity(c, d, m, r))
		return rc_rule_free(r);
	if (!cond == !seq || (th && !cond)) {
		node_error(c, d, m,
			   "rule '%s' needs either 'condition' (optionally with 'threshold') "
			   "or 'sequence'",
			   r->name);
		return rc_rule_free(r);
	}
	if (cond && cond->kind != Y_SCALAR) {
		node_error(c, d, cond, "'condition' must be text");
		return rc_rule_free(r);
	}
	if (cond ? !(r->cond = compile_cond(c, d, cond)) : !compile_sequence(c, d, seq, r))
		return rc_rule_free(r);
	if (th && !compile_threshold(c, d, th, r))
		return rc_rule_free(r);
	if (ex &&
	    !compile_exceptions(c, d, ex, r->seq ? &r->seq->steps[r->seq->nsteps - 1] : &r->cond))
		return rc_rule_free(r);
	if (out ? !compile_output(c, d, out, r) : !add_part(r, -1, r->name, strlen(r->name)))
		return rc_rule_free(r);
	if (c->diag->errors != errors)
		return rc_rule_free(r);
	if (r->cond && !(r->cond = optimize(r->cond)))
		return rc_rule_free(r);
	for (unsigned i = 0; r->seq && i < r->seq->nsteps; i++)
		if (!(r->seq->steps[i] = optimize(r->seq->steps[i])))
			return rc_rule_free(r);
	r->meta = (struct rule_meta){.id = r->id,
				     .name = r->name,
				     .desc = r->desc,
				     .ruleset = r->ruleset,
				     .file = r->file,
				     .line = m->line,
				     .severity = r->meta.severity,
				     .tags = (const char *const *)r->tags,
				     .ntags = r->meta.ntags};
	return r;
}
