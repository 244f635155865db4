// SPDX-License-Identifier: GPL-2.0
/*
 * Reading one playbook-file item (playbook_internal.h): a playbook (match,
 * steps and their targets, on_error, dry_run, dedup window, rate limit), a
 * webhook endpoint, an egress allowlist. Errors as file:line:col.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "respond/playbook_internal.h"

#define DEFAULT_DEDUP_MS   60000
#define DEFAULT_TIMEOUT_MS 10000
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

void pbr_playbook_fini(struct playbook *pb)
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

int pbr_read_playbook(struct reader *rd, const struct ynode *m, struct playbook *pb)
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

int pbr_read_webhook(struct reader *rd, const struct ynode *m, struct webhook_def *w)
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

int pbr_read_egress(struct reader *rd, const struct ynode *m, struct egress_allowlist *e)
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

void webhook_def_fini(struct webhook_def *w)
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
