// SPDX-License-Identifier: GPL-2.0
/*
 * Playbooks (playbook.h): the set read from files (items by playbook_read.c),
 * matching an alert, the gates, and replay's dry run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/fileio.h"
#include "detect/fields.h"
#include "respond/playbook_internal.h"

#define RECENT_MAX 1024 /* target keys remembered per playbook */
#define KEY_MAX	   96

struct pb_recent {
	char key[KEY_MAX];
	uint64_t at_ms;
};

#define X(id, name) name,
static const char *const action_names[] = {PB_ACTIONS(X)};
static const char *const target_names[] = {PB_TARGETS(X)};
#undef X

const char *pb_action_name(enum pb_action a)
{
	return a < PB_ACTION_NR ? action_names[a] : "?";
}

const char *pb_target_name(enum pb_target t)
{
	return t < PB_TARGET_NR ? target_names[t] : "?";
}

static int name_index(const char *const *names, unsigned n, const char *s)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(names[i], s))
			return (int)i;
	return -EINVAL;
}

int pb_action_parse(const char *s, enum pb_action *ret)
{
	int i = name_index(action_names, PB_ACTION_NR, s);

	if (i >= 0)
		*ret = i;
	return i < 0 ? i : 0;
}

int pb_target_parse(const char *s, enum pb_target *ret)
{
	int i = name_index(target_names, PB_TARGET_NR, s);

	if (i >= 0)
		*ret = i;
	return i < 0 ? i : 0;
}

/* ---- the set ---- */

/* Append *item to an array unless one of the same name exists: then it replaces that one. */
#define PUT_NAMED(arr, n, item, fini)                                                \
	({                                                                           \
		int _r = 0;                                                          \
		unsigned _i;                                                         \
		for (_i = 0; _i < (n) && strcmp((arr)[_i].name, (item)->name); _i++) \
			;                                                            \
		if (_i < (n)) {                                                      \
			fini(&(arr)[_i]);                                            \
			(arr)[_i] = *(item);                                         \
		} else {                                                             \
			void *_p = realloc((arr), ((n) + 1) * sizeof(*(arr)));       \
			if (_p) {                                                    \
				(arr) = _p;                                          \
				(arr)[(n)++] = *(item);                              \
			} else {                                                     \
				fini(item);                                          \
				_r = -ENOMEM;                                        \
			}                                                            \
		}                                                                    \
		_r;                                                                  \
	})

/* A disabled playbook (enabled: false) still replaces an earlier one of its name, then goes. */
static void drop_named_playbook(struct playbook_set *s, const char *name)
{
	for (unsigned i = 0; i < s->npbs; i++)
		if (!strcmp(s->pbs[i].name, name)) {
			pbr_playbook_fini(&s->pbs[i]);
			s->pbs[i] = s->pbs[--s->npbs];
			return;
		}
}

static int read_item(struct reader *rd, const struct ynode *m)
{
	struct playbook_set *s = rd->set;
	int r;

	if (m->kind != Y_MAP) {
		err_at(rd, m,
		       "expected a mapping with 'playbook', 'webhook' or 'egress_allowlist'");
		return 0;
	}
	if (ymap_get(m, "playbook")) {
		struct playbook pb = {0};

		r = pbr_read_playbook(rd, m, &pb);
		if (r == 1)
			drop_named_playbook(s, pb.name);
		if (r)
			pbr_playbook_fini(&pb);
		return r < 0 ? 0 : r == 1 ? 0 : PUT_NAMED(s->pbs, s->npbs, &pb, pbr_playbook_fini);
	}
	if (ymap_get(m, "webhook")) {
		struct webhook_def w = {0};

		if (pbr_read_webhook(rd, m, &w) < 0) {
			webhook_def_fini(&w);
			return 0;
		}
		return PUT_NAMED(s->hooks, s->nhooks, &w, webhook_def_fini);
	}
	if (ymap_get(m, "egress_allowlist")) {
		struct egress_allowlist e = {0};

		if (pbr_read_egress(rd, m, &e) < 0) {
			egress_allowlist_fini(&e);
			return 0;
		}
		return PUT_NAMED(s->egress, s->negress, &e, egress_allowlist_fini);
	}
	err_at(rd, m, "expected a mapping with 'playbook', 'webhook' or 'egress_allowlist'");
	return 0;
}

static int read_doc(struct reader *rd)
{
	const struct ynode *root = rd->doc->root;

	if (!root)
		return 0;
	if (root->kind != Y_SEQ) {
		err_at(rd, root, "expected a list of playbook, webhook and egress_allowlist items");
		return 0;
	}
	for (unsigned i = 0; i < root->nkids; i++) {
		int r = read_item(rd, root->kids[i]);

		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Every webhook step names an endpoint that exists; every exec step runs a
 * script only root (fileio.h) can change: vigild runs it as root.
 */
static void check_references(struct reader *rd, struct playbook_set *s)
{
	for (unsigned i = 0; i < s->npbs; i++)
		for (unsigned j = 0; j < s->pbs[i].nsteps; j++) {
			const struct pb_step *st = &s->pbs[i].steps[j];
			char err[1024];

			if (st->action == PB_EXEC &&
			    path_check_trusted(st->argv[0], err, sizeof(err)) < 0)
				diag_report(rd->diag, true, NULL, 0, 0, "%s:%u:1: exec: %s",
					    s->pbs[i].file, st->line, err);
			if (st->action == PB_WEBHOOK && !playbooks_webhook(s, st->arg))
				diag_report(rd->diag, true, NULL, 0, 0,
					    "%s:%u:1: webhook '%s' is not defined", s->pbs[i].file,
					    st->line, st->arg);
		}
}

static int read_one_doc(void *ctx, struct ydoc *doc)
{
	struct reader *rd = ctx;
	int r;

	rd->doc = doc;
	r = read_doc(rd);
	ydoc_free(doc);
	return r;
}

int playbooks_load(const char *const *paths, unsigned npaths, unsigned flags,
		   struct rules_diag *diag, struct playbook_set **ret)
{
	struct playbook_set *s = calloc(1, sizeof(*s));
	struct reader rd = {.flags = flags, .diag = diag, .set = s};
	unsigned nfiles = 0;
	int r = s ? yaml_load_files(paths, npaths, diag, read_one_doc, &rd, &nfiles) : -ENOMEM;

	if (s) {
		s->nfiles = nfiles;
		if (r == 0)
			check_references(&rd, s);
	}
	if (r == 0 && diag->errors)
		r = -EINVAL;
	if (r < 0) {
		playbooks_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

struct playbook_set *playbooks_free(struct playbook_set *s)
{
	if (!s)
		return NULL;
	for (unsigned i = 0; i < s->npbs; i++)
		pbr_playbook_fini(&s->pbs[i]);
	for (unsigned i = 0; i < s->nhooks; i++)
		webhook_def_fini(&s->hooks[i]);
	for (unsigned i = 0; i < s->negress; i++)
		egress_allowlist_fini(&s->egress[i]);
	free(s->pbs);
	free(s->hooks);
	free(s->egress);
	free(s);
	return NULL;
}

const struct webhook_def *playbooks_webhook(const struct playbook_set *s, const char *name)
{
	for (unsigned i = 0; i < s->nhooks; i++)
		if (!strcmp(s->hooks[i].name, name))
			return &s->hooks[i];
	return NULL;
}

/* ---- matching and gates ---- */

bool playbook_matches(const struct playbook *pb, const struct pb_alert *a)
{
	bool rule_ok = !pb->rules.n, tag_ok = !pb->tags.n;

	if (a->severity < pb->min_severity)
		return false;
	for (unsigned i = 0; i < pb->rules.n && !rule_ok; i++)
		rule_ok = (a->rule_id && !strcmp(pb->rules.v[i], a->rule_id)) ||
			  (a->rule_name && !strcmp(pb->rules.v[i], a->rule_name));
	for (unsigned i = 0; i < pb->tags.n && !tag_ok; i++)
		for (unsigned j = 0; j < a->ntags && !tag_ok; j++)
			tag_ok = !strcasecmp(pb->tags.v[i], a->tags[j]);
	return rule_ok && tag_ok;
}

/* Was key run within the window? Otherwise remember it (oldest slot reused). */
static bool seen_recently(struct playbook *pb, const char *key, uint64_t now_ms)
{
	unsigned oldest = 0;

	if (!pb->dedup_ms)
		return false;
	if (!pb->recent && !(pb->recent = calloc(RECENT_MAX, sizeof(*pb->recent))))
		return false;
	for (unsigned i = 0; i < pb->nrecent; i++) {
		struct pb_recent *r = &pb->recent[i];

		if (!strcmp(r->key, key) && now_ms - r->at_ms < pb->dedup_ms)
			return true;
		if (r->at_ms < pb->recent[oldest].at_ms)
			oldest = i;
	}
	if (pb->nrecent < RECENT_MAX)
		oldest = pb->nrecent++;
	snprintf(pb->recent[oldest].key, KEY_MAX, "%s", key);
	pb->recent[oldest].at_ms = now_ms;
	return false;
}

static bool take_token(struct playbook *pb, uint64_t now_ms)
{
	if (!pb->rate_n)
		return true;
	if (pb->tokens_at_ms && now_ms > pb->tokens_at_ms) {
		pb->tokens += (double)(now_ms - pb->tokens_at_ms) * pb->rate_n / pb->rate_period_ms;
		if (pb->tokens > pb->rate_n)
			pb->tokens = pb->rate_n;
	}
	pb->tokens_at_ms = now_ms;
	if (pb->tokens < 1)
		return false;
	pb->tokens -= 1;
	return true;
}

enum pb_gate playbook_admit(struct playbook *pb, const char *key, uint64_t now_ms)
{
	if (key && seen_recently(pb, key, now_ms)) {
		pb->deduplicated++;
		return PB_DEDUPLICATED;
	}
	if (!take_token(pb, now_ms)) {
		pb->rate_limited++;
		return PB_RATE_LIMITED;
	}
	pb->runs++;
	return PB_RUN;
}

/* ---- replay's dry run ---- */

static int64_t num_of(const struct rule_view *v, enum field_id f)
{
	const struct rval *x = view_first(v, f);

	return x ? x->i : 0;
}

unsigned playbook_dry_run(void *set_, const struct rule_meta *m, const struct rule_view *v,
			  FILE *err)
{
	struct playbook_set *set = set_;
	unsigned runs = 0;
	struct pb_alert a = {m->id, m->name, m->tags, m->ntags, m->severity};
	const struct rval *ent = view_first(v, F_PROC_ENTITY);
	char key[128];

	snprintf(key, sizeof(key), "%.*s", ent ? (int)ent->s.n : 1, ent ? ent->s.p : "-");
	for (unsigned i = 0; i < set->npbs; i++) {
		struct playbook *pb = &set->pbs[i];
		enum pb_gate g;

		if (!playbook_matches(pb, &a))
			continue;
		g = playbook_admit(pb, key, v->ts_ns / 1000000);
		fprintf(err, "dry-run: playbook %s for %s (pid %lld)%s", pb->name, m->id,
			(long long)num_of(v, F_PROC_PID),
			g == PB_DEDUPLICATED   ? ": de-duplicated\n"
			: g == PB_RATE_LIMITED ? ": rate-limited\n"
					       : ":");
		if (g != PB_RUN)
			continue;
		runs++;
		for (unsigned j = 0; j < pb->nsteps; j++) {
			const struct pb_step *st = &pb->steps[j];
			bool parent = st->target == PB_T_PARENT || st->target == PB_T_PARENT_TREE;

			fprintf(err, " %s %s %lld%s", pb_action_name(st->action),
				pb_target_name(st->target),
				(long long)num_of(v, parent ? F_PARENT_PID : F_PROC_PID),
				j + 1 < pb->nsteps ? "," : "\n");
		}
	}
	return runs;
}
