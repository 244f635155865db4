// SPDX-License-Identifier: GPL-2.0
/*
 * rule_select.c — the rule loader's last phase: enable / disable / severity
 * overrides, the index by event.action, and ruleset_load / ruleset_free.
 */
#include <errno.h>
#include <string.h>

#include "core/util.h"

#include "detect/rule_internal.h"

/* ---- selection and index ---- */

static bool selected_by(const struct rule *r, const struct strv *list)
{
	if (!list)
		return false;
	for (unsigned i = 0; i < list->n; i++) {
		const char *s = list->v[i];

		if (!strcmp(s, r->id) || !strcmp(s, r->name))
			return true;
		for (unsigned t = 0; t < r->meta.ntags; t++)
			if (!strcmp(s, r->tags[t]))
				return true;
	}
	return false;
}

static void apply_severity(struct compiler *c, struct rule *r, const struct strv *ov)
{
	for (unsigned i = 0; ov && i < ov->n; i++) {
		const char *eq = strchr(ov->v[i], '=');

		if (eq && (size_t)(eq - ov->v[i]) == strlen(r->id) &&
		    !strncmp(ov->v[i], r->id, eq - ov->v[i]) &&
		    severity_parse(eq + 1, &r->meta.severity) < 0)
			diag_report(c->diag, true, NULL, 0, 0,
				    "rules.severity: unknown severity in '%s'", ov->v[i]);
	}
}

static int index_entry(struct ruleset *rs, struct rule *r, const struct pnode *cond, int step,
		       struct compiler *c, const struct named *it)
{
	uint32_t acts = rc_actions_of(cond);

	if (!acts)
		node_warn(c, it->doc, it->item,
			  "rule %s%s can never match (its event.action tests "
			  "exclude each other)",
			  r->id, step >= 0 ? " (a sequence step)" : "");
	for (int a = 0; a < AB__COUNT; a++) {
		struct rule_entry *e;

		if (!(acts & (1u << a)))
			continue;
		e = realloc(rs->by_action[a], (rs->nby[a] + 1) * sizeof(*e));
		if (!e)
			return -ENOMEM;
		rs->by_action[a] = e;
		e[rs->nby[a]++] = (struct rule_entry){.r = r, .cond = cond, .step = step};
	}
	return 0;
}

static int add_rule(struct ruleset *rs, struct rule *r, struct compiler *c, const struct named *it)
{
	struct rule **nr = realloc(rs->rules, (rs->n + 1) * sizeof(*nr));
	int err = 0;

	if (!nr)
		return -ENOMEM;
	rs->rules = nr;
	r->index = rs->n;
	nr[rs->n++] = r;
	if (!r->seq)
		return index_entry(rs, r, r->cond, -1, c, it);
	/* later steps first: an event that completes a step is not also a fresh start */
	for (int s = r->seq->nsteps - 1; s >= 0 && !err; s--)
		err = index_entry(rs, r, r->seq->steps[s], s, c, it);
	return err;
}

static void warn_unused(struct compiler *c)
{
	for (unsigned i = 0; i < c->nmacros; i++)
		if (!c->macros[i].used)
			node_warn(c, c->macros[i].doc, c->macros[i].item,
				  "macro '%s' is never used", c->macros[i].name);
}

static int compile_all(struct compiler *c, const struct rules_select *sel, struct ruleset *rs)
{
	for (unsigned i = 0; i < c->nrules; i++) {
		const struct named *it = &c->rules[i];
		struct rule *r;
		bool on = rc_read_enabled(c, it->doc, it->item);

		r = rc_compile_rule(c, it); /* disabled rules are checked too */
		if (!r)
			continue;
		on = (on && !selected_by(r, sel ? sel->disable : NULL)) ||
		     selected_by(r, sel ? sel->enable : NULL);
		apply_severity(c, r, sel ? sel->severity : NULL);
		if (!on) {
			rc_rule_free(r);
			continue;
		}
		if (add_rule(rs, r, c, it) < 0)
			return -ENOMEM;
	}
	if (!c->diag->errors)
		warn_unused(c);
	return 0;
}

static void compiler_fini(struct compiler *c)
{
	for (unsigned i = 0; i < c->ndocs; i++)
		ydoc_free(c->docs[i]);
	free(c->docs);
	free(c->lists);
	free(c->macros);
	free(c->rules);
}

/* Each rule file's tree is kept until the compile ends: errors point into it. */
static int keep_doc(void *ctx, struct ydoc *doc)
{
	struct compiler *c = ctx;
	struct ydoc **nd = realloc(c->docs, (c->ndocs + 1) * sizeof(*nd));

	if (!nd) {
		ydoc_free(doc);
		return -ENOMEM;
	}
	c->docs = nd;
	c->docs[c->ndocs++] = doc;
	return rc_read_doc(c, doc);
}

int ruleset_load(const char *const *paths, unsigned npaths, const struct rules_select *sel,
		 struct rules_diag *diag, struct ruleset **ret)
{
	struct compiler c = {.diag = diag};
	struct ruleset *rs = calloc(1, sizeof(*rs));
	unsigned nfiles = 0;
	int r = rs ? yaml_load_files(paths, npaths, diag, keep_doc, &c, &nfiles) : -ENOMEM;

	if (r == 0)
		r = compile_all(&c, sel, rs);
	if (rs)
		rs->nfiles = nfiles;
	compiler_fini(&c);
	if (r == 0 && diag->errors)
		r = -EINVAL;
	if (r < 0) {
		ruleset_free(rs);
		return r;
	}
	*ret = rs;
	return 0;
}

struct ruleset *ruleset_free(struct ruleset *rs)
{
	if (!rs)
		return NULL;
	for (unsigned i = 0; i < rs->n; i++)
		rc_rule_free(rs->rules[i]);
	free(rs->rules);
	for (int a = 0; a < AB__COUNT; a++)
		free(rs->by_action[a]);
	free(rs);
	return NULL;
}

unsigned ruleset_count(const struct ruleset *rs)
{
	return rs->n;
}

const struct rule *ruleset_rule(const struct ruleset *rs, unsigned i)
{
	return i < rs->n ? rs->rules[i] : NULL;
}

uint64_t ruleset_max_window_ns(const struct ruleset *rs)
{
	uint64_t w = 0;

	for (unsigned i = 0; i < rs->n; i++)
		if (rs->rules[i]->seq && rs->rules[i]->seq->within_ns > w)
			w = rs->rules[i]->seq->within_ns;
	return w;
}

unsigned ruleset_files(const struct ruleset *rs)
{
	return rs->nfiles;
}

const struct rule_meta *rule_meta(const struct rule *r)
{
	return &r->meta;
}
