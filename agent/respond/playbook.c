// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/fileio.h"
#include "respond/playbook.h"
#include "detect/fields.h"
#include "core/util.h"
#include "core/ytree.h"

#define DEFAULT_DEDUP_MS   60000
#define DEFAULT_TIMEOUT_MS 10000
#define RECENT_MAX	   1024 /* target keys remembered per playbook */
#define KEY_MAX		   96

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

/* ---- reading ---- */

struct reader {
	unsigned flags;
	struct rules_diag *diag;
	const struct ydoc *doc;
	struct playbook_set *set;
};

#define err_at(rd, n, ...) \
	diag_report((rd)->diag, true, (rd)->doc, (n)->line, (n)->col, __VA_ARGS__)

static const struct ynode *want_scalar(struct reader *rd, const struct ynode *n, const char *what)
{
	if (n && n->kind != Y_SCALAR) {
		err_at(rd, n, "%s: expected a single value", what);
		return NULL;
	}
	return n;
}

static int strv_from(struct reader *rd, const struct ynode *n, const char *what, struct strv *out)
{
	if (!n)
		return 0;
	if (n->kind == Y_SCALAR)
		return strv_push(out, n->value);
	if (n->kind != Y_SEQ) {
		err_at(rd, n, "%s: expected a value or a list of values", what);
		return -EINVAL;
	}
	for (unsigned i = 0; i < n->nkids; i++) {
		if (n->kids[i]->kind != Y_SCALAR) {
			err_at(rd, n->kids[i], "%s: expected a value", what);
			return -EINVAL;
		}
		if (strv_push(out, n->kids[i]->value) < 0)
			return -ENOMEM;
	}
	return 0;
}

static bool check_keys(struct reader *rd, const struct ynode *m, const char *const *allowed)
{
	return yaml_check_keys(rd->diag, rd->doc, m, allowed);
}

static int get_duration(struct reader *rd, const struct ynode *m, const char *key, uint64_t *ms)
{
	const struct ynode *n = want_scalar(rd, ymap_get(m, key), key);

	if (!n)
		return ymap_get(m, key) ? -EINVAL : 0;
	if (parse_duration_ms(n->value, ms) < 0) {
		err_at(rd, n, "%s: bad duration '%s' (e.g. 500ms, 30s, 5m)", key, n->value);
		return -EINVAL;
	}
	return 0;
}

static int get_bool(struct reader *rd, const struct ynode *m, const char *key, bool *ret)
{
	const struct ynode *n = want_scalar(rd, ymap_get(m, key), key);

	if (!n)
		return ymap_get(m, key) ? -EINVAL : 0;
	if (parse_bool(n->value, ret)) {
		err_at(rd, n, "%s: expected true or false, not '%s'", key, n->value);
		return -EINVAL;
	}
	return 0;
}

static int dup_scalar(struct reader *rd, const struct ynode *m, const char *key, bool required,
		      char **ret)
{
	const struct ynode *n = want_scalar(rd, ymap_get(m, key), key);

	if (!n) {
		if (ymap_get(m, key))
			return -EINVAL;
		if (required) {
			err_at(rd, m, "missing '%s'", key);
			return -EINVAL;
		}
		return 0;
	}
	free(*ret);
	*ret = strdup(n->value);
	return *ret ? 0 : -ENOMEM;
}

/* "10/min", "1/s", "100/h" */
static int parse_rate(const char *s, uint32_t *n, uint64_t *period_ms)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (end == s || *end != '/' || v == 0 || v > 1000000)
		return -EINVAL;
	end++;
	if (!strcmp(end, "s") || !strcmp(end, "sec"))
		*period_ms = 1000;
	else if (!strcmp(end, "min") || !strcmp(end, "m"))
		*period_ms = 60000;
	else if (!strcmp(end, "h") || !strcmp(end, "hour"))
		*period_ms = 3600000;
	else
		return -EINVAL;
	*n = v;
	return 0;
}

static int read_exec(struct reader *rd, const struct ynode *v, struct pb_step *st)
{
	struct strv argv = {0};
	const struct ynode *cmd = v;

	if (v->kind == Y_MAP) {
		static const char *const keys[] = {"command", "timeout", NULL};

		if (!check_keys(rd, v, keys) || get_duration(rd, v, "timeout", &st->timeout_ms) < 0)
			return -EINVAL;
		cmd = ymap_get(v, "command");
		if (!cmd) {
			err_at(rd, v, "exec: missing 'command'");
			return -EINVAL;
		}
	}
	if (strv_from(rd, cmd, "exec command", &argv) < 0 || !argv.n) {
		strv_clear(&argv);
		return -EINVAL;
	}
	if (argv.v[0][0] != '/') {
		err_at(rd, cmd, "exec: the command must be an absolute path, not '%s'", argv.v[0]);
		strv_clear(&argv);
		return -EINVAL;
	}
	st->argv = argv.v;
	return 0;
}

/* The argument of a step: a target, an endpoint, a path or a command. */
static int read_step_arg(struct reader *rd, const struct ynode *step, const struct ynode *v,
			 struct pb_step *st)
{
	const char *s = v && v->kind == Y_SCALAR ? v->value : NULL;

	switch (st->action) {
	case PB_EXEC:
		if (!v) {
			err_at(rd, step, "exec: no command");
			return -EINVAL;
		}
		return read_exec(rd, v, st);
	case PB_WEBHOOK:
	case PB_DENY_PATH:
		if (!s || !*s) {
			err_at(rd, v ? v : step, "%s: expected %s", pb_action_name(st->action),
			       st->action == PB_WEBHOOK ? "an endpoint name" : "a path or %field");
			return -EINVAL;
		}
		st->arg = strdup(s);
		return st->arg ? 0 : -ENOMEM;
	default:
		if (!v || (s && !*s))
			return 0; /* the default target */
		if (!s || pb_target_parse(s, &st->target) < 0) {
			err_at(rd, v,
			       "%s: unknown target '%s' (process, tree, parent, parent-tree)",
			       pb_action_name(st->action), s ? s : "?");
			return -EINVAL;
		}
		return 0;
	}
}

/* A step: `- kill`, `- kill: tree`, or a mapping with one action key plus on_error/target. */
static int read_step(struct reader *rd, const struct ynode *n, struct pb_step *st, bool stop)
{
	const struct ynode *akey = n, *aval = NULL, *oe;

	memset(st, 0, sizeof(*st));
	st->line = n->line;
	st->stop_on_error = stop;
	st->target = PB_T_TREE;
	st->timeout_ms = DEFAULT_TIMEOUT_MS;
	if (n->kind == Y_MAP) {
		akey = NULL;
		for (unsigned i = 0; i + 1 < n->nkids; i += 2) {
			const char *k = n->kids[i]->value;

			if (!strcmp(k, "on_error") || !strcmp(k, "target"))
				continue;
			if (akey) {
				err_at(rd, n->kids[i], "a step has one action ('%s' and '%s')",
				       akey->value, k);
				return -EINVAL;
			}
			akey = n->kids[i];
			aval = n->kids[i + 1];
		}
		if (!akey) {
			err_at(rd, n, "step without an action");
			return -EINVAL;
		}
	} else if (n->kind != Y_SCALAR) {
		err_at(rd, n, "expected a step (e.g. 'kill: tree')");
		return -EINVAL;
	}
	if (pb_action_parse(akey->value, &st->action) < 0) {
		err_at(rd, akey,
		       "unknown action '%s' (kill, stop, cont, freeze, thaw, isolate, deny-path, "
		       "snapshot, webhook, exec)",
		       akey->value);
		return -EINVAL;
	}
	if (aval && aval->kind == Y_SCALAR && !aval->value[0])
		aval = NULL;
	if (aval && aval->kind == Y_MAP && st->action != PB_EXEC) {
		/* `isolate: {target: parent, on_error: continue}`: options, not an argument */
		static const char *const keys[] = {"target", "on_error", "path", "endpoint", NULL};

		if (!check_keys(rd, aval, keys))
			return -EINVAL;
		n = aval;
		aval = ymap_get(aval, st->action == PB_WEBHOOK ? "endpoint" : "path");
	}
	if (read_step_arg(rd, n, aval, st) < 0)
		return -EINVAL;
	if (n->kind == Y_MAP && (oe = ymap_get(n, "target")) &&
	    (oe->kind != Y_SCALAR || pb_target_parse(oe->value, &st->target) < 0)) {
		err_at(rd, oe, "unknown target (process, tree, parent, parent-tree)");
		return -EINVAL;
	}
	if (n->kind == Y_MAP && (oe = ymap_get(n, "on_error"))) {
		if (oe->kind != Y_SCALAR ||
		    (strcmp(oe->value, "stop") && strcmp(oe->value, "continue"))) {
			err_at(rd, oe, "on_error: expected continue or stop");
			return -EINVAL;
		}
		st->stop_on_error = !strcmp(oe->value, "stop");
	}
	return 0;
}

static void step_fini(struct pb_step *st)
{
	free(st->arg);
	if (st->argv)
		for (char **a = st->argv; *a; a++)
			free(*a);
	free(st->argv);
}

static void playbook_fini(struct playbook *pb)
{
	free(pb->name);
	free(pb->desc);
	free(pb->file);
	strv_clear(&pb->rules);
	strv_clear(&pb->tags);
	for (unsigned i = 0; i < pb->nsteps; i++)
		step_fini(&pb->steps[i]);
	free(pb->steps);
	free(pb->recent);
	memset(pb, 0, sizeof(*pb));
}

static int read_match(struct reader *rd, const struct ynode *item, const struct ynode *m,
		      struct playbook *pb)
{
	static const char *const keys[] = {"rules", "tags", "severity", NULL};
	const struct ynode *sev;

	if (!m) {
		err_at(rd, item, "playbook '%s': missing 'match'", pb->name);
		return -EINVAL;
	}
	if (m->kind != Y_MAP) {
		err_at(rd, m, "match: expected rules, tags and/or severity");
		return -EINVAL;
	}
	if (!check_keys(rd, m, keys) || strv_from(rd, ymap_get(m, "rules"), "rules", &pb->rules) ||
	    strv_from(rd, ymap_get(m, "tags"), "tags", &pb->tags))
		return -EINVAL;
	sev = want_scalar(rd, ymap_get(m, "severity"), "severity");
	if (sev && severity_parse(sev->value, &pb->min_severity) < 0) {
		err_at(rd, sev, "unknown severity '%s' (info, low, medium, high, critical)",
		       sev->value);
		return -EINVAL;
	}
	if (!pb->rules.n && !pb->tags.n && !sev) {
		err_at(rd, m,
		       "match: give rules, tags or severity (an empty match runs on every alert)");
		return -EINVAL;
	}
	return 0;
}

static int read_steps(struct reader *rd, const struct ynode *item, const struct ynode *steps,
		      struct playbook *pb, bool stop)
{
	if (!steps || steps->kind != Y_SEQ || !steps->nkids) {
		err_at(rd, steps ? steps : item, "playbook '%s': 'steps' must be a non-empty list",
		       pb->name);
		return -EINVAL;
	}
	pb->steps = calloc(steps->nkids, sizeof(*pb->steps));
	if (!pb->steps)
		return -ENOMEM;
	for (unsigned i = 0; i < steps->nkids; i++) {
		if (read_step(rd, steps->kids[i], &pb->steps[pb->nsteps], stop) < 0)
			return -EINVAL;
		pb->nsteps++;
	}
	return 0;
}

static int read_playbook(struct reader *rd, const struct ynode *m, struct playbook *pb)
{
	static const char *const keys[] = {"playbook", "desc",	  "match",	  "steps",
					   "on_error", "dry_run", "dedup_window", "rate_limit",
					   "enabled",  NULL};
	const struct ynode *n;
	bool stop = false, enabled = true;

	pb->dedup_ms = DEFAULT_DEDUP_MS;
	pb->line = m->line;
	if (!check_keys(rd, m, keys) || dup_scalar(rd, m, "playbook", true, &pb->name) ||
	    dup_scalar(rd, m, "desc", false, &pb->desc) || !(pb->file = strdup(rd->doc->path)))
		return -EINVAL;
	n = want_scalar(rd, ymap_get(m, "on_error"), "on_error");
	if (n && strcmp(n->value, "continue") && strcmp(n->value, "stop")) {
		err_at(rd, n, "on_error: expected continue or stop");
		return -EINVAL;
	}
	stop = n && !strcmp(n->value, "stop");
	if (get_bool(rd, m, "dry_run", &pb->dry_run) || get_bool(rd, m, "enabled", &enabled) ||
	    get_duration(rd, m, "dedup_window", &pb->dedup_ms))
		return -EINVAL;
	n = want_scalar(rd, ymap_get(m, "rate_limit"), "rate_limit");
	if (n && parse_rate(n->value, &pb->rate_n, &pb->rate_period_ms) < 0) {
		err_at(rd, n, "rate_limit: expected N/s, N/min or N/h, not '%s'", n->value);
		return -EINVAL;
	}
	pb->tokens = pb->rate_n;
	if (read_match(rd, m, ymap_get(m, "match"), pb) < 0 ||
	    read_steps(rd, m, ymap_get(m, "steps"), pb, stop) < 0)
		return -EINVAL;
	return enabled ? 0 : 1;
}

static int read_webhook(struct reader *rd, const struct ynode *m, struct webhook_def *w)
{
	static const char *const keys[] = {"webhook", "url",	     "secret_file", "ca_file",
					   "ca_dir",  "client_cert", "client_key",  "format",
					   "timeout", NULL};
	_cleanup_free_ char *format = NULL;
	const struct ynode *url;

	w->timeout_ms = DEFAULT_TIMEOUT_MS;
	if (!check_keys(rd, m, keys) || dup_scalar(rd, m, "webhook", true, &w->name) ||
	    dup_scalar(rd, m, "url", true, &w->url) ||
	    dup_scalar(rd, m, "secret_file", false, &w->secret_file) ||
	    dup_scalar(rd, m, "ca_file", false, &w->ca_file) ||
	    dup_scalar(rd, m, "ca_dir", false, &w->ca_dir) ||
	    dup_scalar(rd, m, "client_cert", false, &w->client_cert) ||
	    dup_scalar(rd, m, "client_key", false, &w->client_key) ||
	    dup_scalar(rd, m, "format", false, &format) ||
	    get_duration(rd, m, "timeout", &w->timeout_ms))
		return -EINVAL;
	url = ymap_get(m, "url");
	if (strncmp(w->url, "https://", 8) && strncmp(w->url, "http://", 7)) {
		err_at(rd, url, "url: expected https://… (or http://…), not '%s'", w->url);
		return -EINVAL;
	}
	if (format && strcmp(format, "standard") && strcmp(format, "slack")) {
		err_at(rd, ymap_get(m, "format"), "format: expected standard or slack");
		return -EINVAL;
	}
	w->slack = format && !strcmp(format, "slack");
	if (!w->client_cert != !w->client_key) {
		err_at(rd, m, "webhook '%s': client_cert and client_key go together", w->name);
		return -EINVAL;
	}
	return 0;
}

static int read_egress(struct reader *rd, const struct ynode *m, struct egress_allowlist *e)
{
	static const char *const keys[] = {"egress_allowlist", "cgroup", "allow", NULL};
	const struct ynode *allow = ymap_get(m, "allow");

	if (!check_keys(rd, m, keys) || dup_scalar(rd, m, "egress_allowlist", true, &e->name) ||
	    dup_scalar(rd, m, "cgroup", true, &e->cgroup))
		return -EINVAL;
	if (!allow || allow->kind != Y_SEQ) {
		err_at(rd, allow ? allow : m, "allow: expected a list of CIDR[:port] or host:port");
		return -EINVAL;
	}
	for (unsigned i = 0; i < allow->nkids; i++) {
		const struct ynode *n = allow->kids[i];
		int r;

		if (n->kind != Y_SCALAR) {
			err_at(rd, n, "allow: expected CIDR[:port] or host:port");
			return -EINVAL;
		}
		r = egress_allow_add(e, n->value, !(rd->flags & PB_LOAD_NO_RESOLVE));
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			err_at(rd, n,
			       r == -ENOENT ? "allow: cannot resolve '%s'"
					    : "allow: bad address '%s' (CIDR[:port], "
					      "[v6]:port or host:port)",
			       n->value);
			return -EINVAL;
		}
	}
	return 0;
}

static void webhook_fini(struct webhook_def *w)
{
	free(w->name);
	free(w->url);
	free(w->secret_file);
	free(w->ca_file);
	free(w->ca_dir);
	free(w->client_cert);
	free(w->client_key);
	memset(w, 0, sizeof(*w));
}

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
			playbook_fini(&s->pbs[i]);
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

		r = read_playbook(rd, m, &pb);
		if (r == 1)
			drop_named_playbook(s, pb.name);
		if (r)
			playbook_fini(&pb);
		return r < 0 ? 0 : r == 1 ? 0 : PUT_NAMED(s->pbs, s->npbs, &pb, playbook_fini);
	}
	if (ymap_get(m, "webhook")) {
		struct webhook_def w = {0};

		if (read_webhook(rd, m, &w) < 0) {
			webhook_fini(&w);
			return 0;
		}
		return PUT_NAMED(s->hooks, s->nhooks, &w, webhook_fini);
	}
	if (ymap_get(m, "egress_allowlist")) {
		struct egress_allowlist e = {0};

		if (read_egress(rd, m, &e) < 0) {
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
		playbook_fini(&s->pbs[i]);
	for (unsigned i = 0; i < s->nhooks; i++)
		webhook_fini(&s->hooks[i]);
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
