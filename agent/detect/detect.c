// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "detect/alert.h"
#include "detect/detect.h"
#include "detect/event_view.h"
#include "core/log.h"
#include "detect/rules.h"
#include "core/util.h"

#define SYSTEM_RULES "/usr/share/vigil/rules"
#define LOCAL_RULES  "/etc/vigil/rules.d"

struct detector {
	struct rule_engine *eng;
	struct strv paths;
	bool paths_from_cli; /* --rules: kept across reloads */
	struct ecs_writer *w;
	struct proc_cache *pc;
	struct sinks *sinks;
	struct rule_view view;
	int falco_fd;
	/* the event being matched, for on_alert */
	const char *line;
	size_t len;
	uint64_t alerts, alert_errors, reloads, reload_failures;
	detect_alert_hook hook;
	void *hook_ctx;
	char first_error[512];
};

static int pick_paths(const struct vigil_config *cfg, const struct strv *cli, struct strv *out)
{
	return config_yaml_paths(cli, &cfg->rules_paths, "rules", SYSTEM_RULES, LOCAL_RULES, out);
}

static int load(const struct vigil_config *cfg, const struct strv *paths, char *err, size_t errlen,
		struct ruleset **ret)
{
	struct diag_first df = {err, errlen};
	struct rules_diag diag = {.fn = diag_log, .ctx = &df};
	struct rules_select sel = {.enable = &cfg->rules_enable,
				   .disable = &cfg->rules_disable,
				   .severity = &cfg->rules_severity};
	int r;

	if (err)
		err[0] = 0;
	r = ruleset_load((const char *const *)paths->v, paths->n, &sel, &diag, ret);
	if (r < 0 && err && !err[0])
		snprintf(err, errlen, "cannot load rules: %s", strerror(-r));
	return r;
}

static void on_alert(void *ctx, const struct rule *r, const struct rule_view *v,
		     const struct rule_hit *hit)
{
	struct detector *d = ctx;
	json_t *alert = NULL;
	char *line = alert_ecs(d->w, d->line, d->len, r, hit, d->hook ? &alert : NULL);

	if (!line) {
		d->alert_errors++;
		return;
	}
	sinks_emit(d->sinks, line, strlen(line));
	if (d->hook)
		d->hook(d->hook_ctx, rule_meta(r), line, strlen(line), alert);
	json_decref(alert);
	free(line);
	d->alerts++;
	if (d->falco_fd >= 0 && (line = alert_falco(ecs_host_name(d->w), r, v, hit))) {
		size_t n = strlen(line);

		line[n] = '\n'; /* replaces the NUL: written with its length */
		if (write(d->falco_fd, line, n + 1) != (ssize_t)n + 1)
			d->alert_errors++;
		free(line);
	}
}

int detect_new(const struct vigil_config *cfg, const struct strv *cli_paths, struct ecs_writer *w,
	       struct proc_cache *pc, struct sinks *sinks, struct detector **ret)
{
	struct detector *d = calloc(1, sizeof(*d));
	struct ruleset *rs = NULL;
	int r;

	if (!d)
		return -ENOMEM;
	d->falco_fd = -1;
	d->w = w;
	d->pc = pc;
	d->sinks = sinks;
	d->paths_from_cli = cli_paths && cli_paths->n;
	r = view_init(&d->view, 64 * 1024);
	if (r == 0)
		r = pick_paths(cfg, cli_paths, &d->paths);
	if (r == 0)
		r = load(cfg, &d->paths, NULL, 0, &rs);
	if (r == 0)
		r = rule_engine_new(rs, cfg->rules_max_sequences, on_alert, d, &d->eng);
	if (r == 0)
		rule_engine_set_dedup(d->eng, cfg->alert_dedup_ms * 1000000ull);
	if (r == 0 && cfg->falco_file[0]) {
		d->falco_fd =
		    open(cfg->falco_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (d->falco_fd < 0)
			r = log_error_errno(-errno, "cannot open %s", cfg->falco_file);
	}
	if (r < 0) {
		if (!d->eng)
			ruleset_free(rs);
		detect_free(d);
		return r;
	}
	log_info("rules: %u loaded from %u files", ruleset_count(rs), ruleset_files(rs));
	*ret = d;
	return 0;
}

struct detector *detect_free(struct detector *d)
{
	if (!d)
		return NULL;
	rule_engine_free(d->eng);
	view_fini(&d->view);
	strv_clear(&d->paths);
	if (d->falco_fd >= 0)
		close(d->falco_fd);
	free(d);
	return NULL;
}

int detect_reload(struct detector *d, const struct vigil_config *cfg, char *err, size_t errlen)
{
	struct ruleset *rs = NULL;
	struct strv paths = {0};
	int r;

	d->reloads++;
	/* --rules from the command line stay; otherwise config or defaults again */
	r = d->paths_from_cli ? 0 : pick_paths(cfg, NULL, &paths);
	if (r == 0)
		r = load(cfg, d->paths_from_cli ? &d->paths : &paths, err, errlen, &rs);
	if (r < 0) {
		d->reload_failures++;
		strv_clear(&paths);
		return r;
	}
	ruleset_free(rule_engine_swap(d->eng, rs));
	if (!d->paths_from_cli) {
		strv_clear(&d->paths);
		d->paths = paths;
	}
	log_info("rules reloaded: %u rules from %u files", ruleset_count(rs), ruleset_files(rs));
	return 0;
}

void detect_on_alert(struct detector *d, detect_alert_hook fn, void *ctx)
{
	d->hook = fn;
	d->hook_ctx = ctx;
}

void detect_event(struct detector *d, const struct vigil_event *ev, const char *line, size_t len)
{
	if (!rule_engine_wants(d->eng, event_view_action(ev->action)))
		return;
	event_view_fill(&d->view, ev, d->pc, d->w);
	d->line = line;
	d->len = len;
	rule_engine_eval(d->eng, &d->view);
}

static void add_evicted(void *ctx, const struct rule *r, uint64_t n, uint64_t total)
{
	json_object_set_new(ctx, rule_meta(r)->id, json_integer(n));
}

json_t *detect_evictions(struct detector *d)
{
	json_t *by_rule = json_object();

	rule_engine_evictions(d->eng, true, add_evicted, by_rule);
	if (json_object_size(by_rule))
		return by_rule;
	json_decref(by_rule);
	return NULL;
}

json_t *detect_stats(const struct detector *d)
{
	struct rule_engine_stats st;
	const struct ruleset *rs = rule_engine_ruleset(d->eng);
	json_t *o, *by_rule = json_object();

	rule_engine_stats(d->eng, &st);
	rule_engine_evictions(d->eng, false, add_evicted, by_rule);
	o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		      "alerts_suppressed", (json_int_t)st.suppressed, "rules",
		      (json_int_t)ruleset_count(rs), "rule_files", (json_int_t)ruleset_files(rs),
		      "evaluated", (json_int_t)st.events, "alerts", (json_int_t)d->alerts,
		      "alert_errors", (json_int_t)d->alert_errors, "sequences_live",
		      (json_int_t)st.seq_live, "sequences_started", (json_int_t)st.seq_started,
		      "sequences_expired", (json_int_t)st.seq_expired, "sequences_evicted",
		      (json_int_t)st.seq_evicted, "reloads", (json_int_t)d->reloads,
		      "reload_failures", (json_int_t)d->reload_failures);
	json_object_set_new(o, "sequences_evicted_by_rule", by_rule);
	return o;
}

int detect_check(const struct vigil_config *cfg, const struct strv *cli_paths)
{
	struct strv paths = {0};
	struct ruleset *rs = NULL;
	int r = pick_paths(cfg, cli_paths, &paths);

	if (r == 0)
		r = load(cfg, &paths, NULL, 0, &rs);
	if (r == 0)
		log_info("rules: %u rules from %u files are valid", ruleset_count(rs),
			 ruleset_files(rs));
	ruleset_free(rs);
	strv_clear(&paths);
	return r;
}
