// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "respond/act.h"
#include "confine/contain.h"
#include "respond/incident.h"
#include "core/log.h"
#include "respond/playbook.h"
#include "sense/proc_cache.h"
#include "respond/respond.h"
#include "respond/respond_internal.h"
#include "core/util.h"
#include "respond/webhook.h"

/* ---- loading ---- */

static int pick_paths(const struct vigil_config *cfg, const struct strv *cli, struct strv *out)
{
	return config_yaml_paths(cli, &cfg->playbook_paths, "playbooks", SYSTEM_PLAYBOOKS,
				 LOCAL_PLAYBOOKS, out);
}

static int load(const struct strv *paths, char *err, size_t errlen, struct playbook_set **ret)
{
	struct diag_first df = {err, errlen};
	struct rules_diag diag = {.fn = diag_log, .ctx = &df};
	int r;

	if (err)
		err[0] = 0;
	if (!paths->n) { /* no playbooks anywhere: respond to nothing */
		*ret = calloc(1, sizeof(**ret));
		return *ret ? 0 : -ENOMEM;
	}
	r = playbooks_load((const char *const *)paths->v, paths->n, 0, &diag, ret);
	if (r < 0 && err && !err[0])
		snprintf(err, errlen, "cannot load playbooks: %s", strerror(-r));
	return r;
}

int respond_check(const struct vigil_config *cfg, const struct strv *cli_paths)
{
	struct strv paths = {0};
	struct playbook_set *set = NULL;
	int r = pick_paths(cfg, cli_paths, &paths);

	if (r == 0)
		r = load(&paths, NULL, 0, &set);
	if (r == 0)
		printf("playbooks OK: %u from %u files\n", set->npbs, set->nfiles);
	playbooks_free(set);
	strv_clear(&paths);
	return r;
}

/* New playbooks take effect: endpoints restarted, allowlists replaced. */
static void apply(struct responder *r, struct playbook_set *set)
{
	char err[512] = "";

	playbooks_free(r->set);
	r->set = set;
	if (webhooks_configure(r->hooks, set, err, sizeof(err)) < 0)
		log_error("webhooks: %s", err);
	err[0] = 0;
	if (contain_allowlists(r->contain, set->egress, set->negress, err, sizeof(err)) < 0)
		log_error("%s", err);
	log_info("playbooks: %u loaded from %u files (%u webhooks, %u egress allowlists)",
		 set->npbs, set->nfiles, set->nhooks, set->negress);
}

int respond_new(const struct vigil_config *cfg, const struct strv *cli_paths, struct ecs_writer *w,
		struct sinks *sinks, struct proc_cache *pc, const char *cgroup_root,
		struct responder **ret)
{
	struct responder *r = calloc(1, sizeof(*r));
	struct playbook_set *set = NULL;
	char dir[PATH_MAX];
	int e;

	if (!r)
		return -ENOMEM;
	r->w = w;
	r->sinks = sinks;
	r->pc = pc;
	r->paths_from_cli = cli_paths && cli_paths->n;
	for (unsigned i = 0; i < cfg->protected.n; i++)
		strv_push(&r->protected, cfg->protected.v[i]);
	guard_init(&r->guard, &r->protected);
	snprintf(dir, sizeof(dir), "%s/incidents", cfg->state_dir);
	e = incidents_open(dir, &r->incidents);
	if (e == 0) {
		snprintf(dir, sizeof(dir), "%s/spool", cfg->state_dir);
		e = webhooks_new(dir, cfg->spool_max, cfg->webhook_max_backoff_ms, &r->hooks);
	}
	if (e == 0)
		e = contain_new(cfg, cgroup_root, &r->contain);
	if (e == 0)
		e = pick_paths(cfg, cli_paths, &r->paths);
	if (e == 0)
		e = load(&r->paths, NULL, 0, &set);
	if (e < 0) {
		respond_free(r);
		return e;
	}
	apply(r, set);
	*ret = r;
	return 0;
}

/* At exit: give hashing threads a moment (exit tears OpenSSL down under them), then leave them. */
static void finish_snapshots(struct responder *r)
{
	for (int waited_ms = 0; waited_ms < SNAPSHOT_EXIT_WAIT_MS; waited_ms += 10) {
		bool running = false;
		int result;

		for (unsigned i = 0; i < r->nexecs; i++)
			running |= r->execs[i].job && !act_snapshot_done(r->execs[i].job, &result);
		if (!running)
			break;
		nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
	}
	for (unsigned i = 0; i < r->nexecs; i++)
		act_snapshot_release(r->execs[i].job);
}

struct responder *respond_free(struct responder *r)
{
	if (!r)
		return NULL;
	finish_snapshots(r);
	r->hooks = webhooks_free(r->hooks); /* in-flight POSTs aborted: the spool keeps them */
	r->contain = contain_free(r->contain);
	r->incidents = incidents_close(r->incidents);
	playbooks_free(r->set);
	strv_clear(&r->paths);
	strv_clear(&r->protected);
	free(r);
	return NULL;
}

void respond_contain_fds(const struct responder *r, int fds[CONTAIN_SHARED_MAPS])
{
	contain_map_fds(r->contain, fds);
}

int respond_reload(struct responder *r, const struct vigil_config *cfg, char *err, size_t errlen)
{
	struct playbook_set *set = NULL;
	struct strv paths = {0};
	int e = r->paths_from_cli ? 0 : pick_paths(cfg, NULL, &paths);

	if (e == 0)
		e = load(r->paths_from_cli ? &r->paths : &paths, err, errlen, &set);
	if (e < 0) {
		strv_clear(&paths);
		return e;
	}
	if (!r->paths_from_cli) {
		strv_clear(&r->paths);
		r->paths = paths;
	}
	apply(r, set);
	return 0;
}

/* ---- alerts → playbooks ---- */

static const char *jstr(json_t *o, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(o, a), b));
}

static pid_t jpid(json_t *o, const char *a, const char *b)
{
	json_t *x = json_object_get(o, a);

	return b ? json_integer_value(json_object_get(json_object_get(x, b), "pid"))
		 : json_integer_value(json_object_get(x, "pid"));
}

static struct open_incident *open_incident(struct responder *r, const char *key, uint64_t now_ms,
					   uint64_t window_ms)
{
	for (unsigned i = 0; i < r->nopen; i++)
		if (!strcmp(r->open[i].key, key) && now_ms - r->open[i].at_ms < window_ms)
			return &r->open[i];
	return NULL;
}

/* Keep key → incident for the dedup window; a full table reuses its oldest slot. */
static void remember_incident(struct responder *r, const char *key, const char *id, uint64_t now_ms)
{
	unsigned slot = r->nopen;

	if (r->nopen < OPEN_INCIDENTS) {
		r->nopen++;
	} else {
		slot = 0;
		for (unsigned i = 1; i < OPEN_INCIDENTS; i++)
			if (r->open[i].at_ms < r->open[slot].at_ms)
				slot = i;
	}
	snprintf(r->open[slot].key, sizeof(r->open[slot].key), "%s", key);
	snprintf(r->open[slot].id, sizeof(r->open[slot].id), "%s", id);
	r->open[slot].at_ms = now_ms;
}

static json_t *alert_summary(json_t *a)
{
	return json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:i}", "event_id", jstr(a, "event", "id"),
			 "@timestamp", json_string_value(json_object_get(a, "@timestamp")),
			 "rule_id", jstr(a, "rule", "id"), "rule_name", jstr(a, "rule", "name"),
			 "message", json_string_value(json_object_get(a, "message")), "pid",
			 jpid(a, "process", NULL));
}

/* A de-duplicated alert still lands in the incident its first one opened. */
static void add_to_open_incident(struct responder *r, const char *id, json_t *alert)
{
	json_t *inc = incident_load(r->incidents, id);

	if (!inc)
		return;
	incident_append(inc, "alerts", alert_summary(alert));
	incident_save(r->incidents, inc);
	json_decref(inc);
}

static void run_playbook(struct responder *r, struct playbook *pb, struct run *run)
{
	char title[512];
	int e = 0;

	snprintf(title, sizeof(title), "%s: %s", pb->name,
		 jstr(run->alert, "rule", "name") ? jstr(run->alert, "rule", "name") : "alert");
	run->inc = incident_new(r->incidents, "playbook", title);
	if (!run->inc)
		return;
	json_object_set_new(run->inc, "playbook", json_string(pb->name));
	incident_append(run->inc, "alerts", alert_summary(run->alert));
	for (unsigned i = 0; i < pb->nsteps; i++) {
		e = respond_run_step(r, run, &pb->steps[i]);
		if (e < 0 && pb->steps[i].stop_on_error)
			break;
	}
	json_object_set_new(run->inc, "status",
			    json_string(run->dry_run ? "dry-run"
					: e < 0	     ? "failed"
						     : "contained"));
	incident_save(r->incidents, run->inc);
}

void respond_alert(struct responder *r, const struct rule_meta *meta, const char *line, size_t len,
		   json_t *alert)
{
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC), now_ms = t0 / 1000000;
	struct pb_alert pa = {meta->id, meta->name, meta->tags, meta->ntags, meta->severity};

	r->alerts_seen++;
	for (unsigned i = 0; i < r->set->npbs; i++) {
		struct playbook *pb = &r->set->pbs[i];
		struct run run = {.via = "playbook",
				  .playbook = pb->name,
				  .dry_run = pb->dry_run,
				  .line = line,
				  .len = len,
				  .t0_ns = t0};
		const char *entity;
		char key[160];
		struct open_incident *oi;

		if (!playbook_matches(pb, &pa))
			continue;
		entity = jstr(alert, "process", "entity_id");
		snprintf(key, sizeof(key), "%s/%s", pb->name, entity ? entity : "-");
		switch (playbook_admit(pb, entity, now_ms)) {
		case PB_DEDUPLICATED:
			r->deduplicated++;
			if ((oi = open_incident(r, key, now_ms, pb->dedup_ms)))
				add_to_open_incident(r, oi->id, alert);
			continue;
		case PB_RATE_LIMITED:
			r->rate_limited++;
			log_warn("playbook %s: rate limit reached; not run for %s", pb->name,
				 meta->id);
			continue;
		case PB_RUN:
			break;
		}
		r->runs++;
		run.alert = alert;
		run.pid = jpid(alert, "process", NULL);
		run.ppid = jpid(alert, "process", "parent");
		run_playbook(r, pb, &run);
		remember_incident(r, key, json_string_value(json_object_get(run.inc, "id")),
				  now_ms);
		json_decref(run.inc);
	}
}

/*
 * What the start could not restore of the containments, in the stream as
 * well as the log (on the first tick: after agent-start), and in status.
 */
static void report_containment_problems(struct responder *r)
{
	json_t *a = contain_problems_json(r->contain), *p;
	const char *line;
	size_t i, len;

	r->problems_reported = true;
	json_array_foreach (a, i, p) {
		struct jw *j = ecs_begin_outcome(r->w, "state", "host", "info",
						 "containment-not-restored", "failure");

		jw_str(j, "message", json_string_value(p));
		ecs_vigil(r->w);
		ecs_end(r->w, &line, &len);
		sinks_emit(r->sinks, line, len);
	}
	json_decref(a);
}

/* ---- operator scripts ---- */

/* Finished, or out of time (then the whole session it started is killed)? */
static bool reap_script(struct running_exec *x, uint64_t now_ms, int *code)
{
	int status;
	pid_t p = waitpid(x->pid, &status, WNOHANG);

	if (p == 0 && now_ms < x->deadline_ms)
		return false;
	if (p == 0) {
		kill(-x->pid, SIGKILL);
		kill(x->pid, SIGKILL);
		waitpid(x->pid, &status, 0);
		x->killed = true;
	}
	*code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	return true;
}

/* A thread cannot be killed: one still hashing at its deadline is left to finish alone. */
static bool reap_snapshot(struct running_exec *x, uint64_t now_ms, int *code)
{
	int result;

	if (act_snapshot_done(x->job, &result))
		*code = result < 0;
	else if (now_ms < x->deadline_ms)
		return false;
	else {
		*code = -1;
		x->killed = true;
	}
	act_snapshot_release(x->job);
	x->job = NULL;
	return true;
}

void respond_tick(struct responder *r)
{
	uint64_t now_ms = clock_ns(CLOCK_MONOTONIC) / 1000000;

	if (!r->problems_reported)
		report_containment_problems(r);
	contain_tick(r->contain);

	for (unsigned i = 0; i < r->nexecs;) {
		struct running_exec *x = &r->execs[i];
		int code;
		json_t *inc;

		if (!(x->job ? reap_snapshot(x, now_ms, &code) : reap_script(x, now_ms, &code))) {
			i++;
			continue;
		}
		inc = incident_load(r->incidents, x->incident);
		if (inc) {
			incident_append(inc, "steps",
					json_pack("{s:s, s:s, s:i, s:b}", "name",
						  x->snapshot ? "contain.snapshot-result"
							      : "contain.exec-result",
						  x->snapshot ? "evidence" : "command", x->argv0,
						  "exit_code", code, "timed_out", x->killed));
			incident_save(r->incidents, inc);
			json_decref(inc);
		}
		if (x->killed || code)
			log_warn("%s %s (incident %s) %s",
				 x->snapshot ? "snapshot" : "operator script", x->argv0,
				 x->incident,
				 !x->killed    ? "failed"
				 : x->snapshot ? "timed out (its hashing is left to finish)"
					       : "timed out and was killed");
		r->execs[i] = r->execs[--r->nexecs];
	}
}

bool respond_any_confined(const struct responder *r)
{
	return contain_any_confined(r->contain);
}

const char *respond_containment(const struct responder *r)
{
	return contain_status(r->contain);
}

json_t *respond_stats(struct responder *r)
{
	unsigned cells = 0;
	json_t *cl = contain_list_json(r->contain);

	cells = json_array_size(cl);
	json_decref(cl);
	return json_pack(
	    "{s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:s, s:o, s:i, s:o}", "alerts",
	    (json_int_t)r->alerts_seen, "playbook_runs", (json_int_t)r->runs, "deduplicated",
	    (json_int_t)r->deduplicated, "rate_limited", (json_int_t)r->rate_limited, "actions",
	    (json_int_t)r->actions, "action_failures", (json_int_t)r->action_failures, "playbooks",
	    r->set ? r->set->npbs : 0, "containments", cells, "containment",
	    contain_status(r->contain), "containment_problems", contain_problems_json(r->contain),
	    "scripts_running", r->nexecs, "webhooks", webhooks_stats(r->hooks));
}
