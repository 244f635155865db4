// SPDX-License-Identifier: GPL-2.0
/*
 * rule_build.c — one rule out of its YAML item (rule_internal.h): id, name,
 * tags, severity, the output template, its condition or sequence (compiled
 * by rule_compile.c), threshold and exceptions, then optimized. Errors name
 * the file:line:col of the offending key or value.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

#include "detect/rule_internal.h"

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
			rc_resolve_field(c, name, s + 1 - out->value);
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
		r->seq->steps[i] = rc_compile_cond(c, d, steps->kids[i]);
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
	if (cond ? !(r->cond = rc_compile_cond(c, d, cond)) : !compile_sequence(c, d, seq, r))
		return rc_rule_free(r);
	if (th && !compile_threshold(c, d, th, r))
		return rc_rule_free(r);
	if (ex && !rc_compile_exceptions(c, d, ex,
					 r->seq ? &r->seq->steps[r->seq->nsteps - 1] : &r->cond))
		return rc_rule_free(r);
	if (out ? !compile_output(c, d, out, r) : !add_part(r, -1, r->name, strlen(r->name)))
		return rc_rule_free(r);
	if (c->diag->errors != errors)
		return rc_rule_free(r);
	if (r->cond && !(r->cond = rc_optimize(r->cond)))
		return rc_rule_free(r);
	for (unsigned i = 0; r->seq && i < r->seq->nsteps; i++)
		if (!(r->seq->steps[i] = rc_optimize(r->seq->steps[i])))
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
