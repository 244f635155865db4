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
#include "core/util.h"
#include "respond/webhook.h"

#define SYSTEM_PLAYBOOKS      "/usr/share/vigil/playbooks"
#define LOCAL_PLAYBOOKS	      "/etc/vigil/playbooks.d"
#define OPEN_INCIDENTS	      256 /* playbook+target → incident, for de-duplicated alerts */
#define EXECS_MAX	      64
#define SNAPSHOT_TIMEOUT_MS   60000
#define SNAPSHOT_EXIT_WAIT_MS 2000

struct open_incident {
	char key[160];
	char id[48];
	uint64_t at_ms;
};

/* Slow work off the event loop: an operator script (a child) or a snapshot (a thread). */
struct running_exec {
	pid_t pid;		  /* the script; 0 for a snapshot */
	struct snapshot_job *job; /* the snapshot's hashing */
	uint64_t deadline_ms;
	char incident[48];
	char argv0[256]; /* the script, or the evidence directory */
	bool snapshot;
	bool killed;
};

struct responder {
	struct ecs_writer *w;
	struct proc_cache *pc;
	struct sinks *sinks;
	struct playbook_set *set;
	struct strv paths;
	bool paths_from_cli;
	struct contain *contain;
	struct webhooks *hooks;
	struct incidents *incidents;
	struct strv protected;
	struct guard guard;
	struct open_incident open[OPEN_INCIDENTS];
	unsigned nopen;
	struct running_exec execs[EXECS_MAX];
	unsigned nexecs;
	bool problems_reported; /* contain_problems_json is in the stream */
	uint64_t alerts_seen, runs, deduplicated, rate_limited, actions, action_failures;
};

/* Who asked, about what: the context of one run of steps. */
struct run {
	const char *via; /* "playbook" or "cli" */
	const char *playbook;
	uid_t uid;
	pid_t by_pid;
	bool dry_run;
	json_t *inc;
	json_t *alert; /* parsed alert, NULL for CLI runs */
	const char *line;
	size_t len;
	pid_t pid, ppid;
	const char *entity; /* CLI: the target's process.entity_id, when the request names it */
	const char *cgroup; /* CLI --cgroup */
	uint64_t t0_ns;	    /* when the run started (latency) */
};

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

/* ---- the audit trail ---- */

static const char *category_of(enum pb_action a)
{
	return a == PB_ISOLATE ? "network" : "process";
}

static const char *type_of(enum pb_action a)
{
	switch (a) {
	case PB_KILL:
		return "end";
	case PB_ISOLATE:
		return "denied";
	case PB_SNAPSHOT:
	case PB_WEBHOOK:
	case PB_EXEC:
		return "info";
	default:
		return "change";
	}
}

/* Write one action to the stream: what, on whom, for whom, how it went. */
static void audit(struct responder *r, const struct run *run, const char *action,
		  const char *category, const char *type, json_t *result)
{
	const char *error = json_string_value(json_object_get(result, "error"));
	const char *outcome = json_string_value(json_object_get(result, "outcome"));
	const char *what = json_string_value(json_object_get(result, "target_description"));
	pid_t pid = json_integer_value(json_object_get(result, "target_pid"));
	json_t *a = json_deep_copy(result);
	struct jw *j;
	const char *line;
	size_t len;
	char msg[768], uid[16];

	j = ecs_begin_outcome(r->w, "event", category, type, action,
			      !strcmp(outcome, "dry-run") ? "unknown" : outcome);
	snprintf(msg, sizeof(msg), "%s %s: %s%s%s", action, what ? what : "", outcome,
		 error ? ": " : "", error ? error : "");
	jw_str(j, "message", msg);
	if (pid > 0) {
		jw_obj_open(j, "process");
		jw_i64(j, "pid", pid);
		jw_obj_close(j);
	}
	if (!strcmp(run->via, "cli")) { /* a person: ECS user.id is who asked */
		snprintf(uid, sizeof(uid), "%u", (unsigned)run->uid);
		jw_obj_open(j, "user");
		jw_str(j, "id", uid);
		jw_obj_close(j);
	}
	json_object_set_new(a, "via", json_string(run->via));
	if (run->playbook)
		json_object_set_new(a, "playbook", json_string(run->playbook));
	json_object_set(a, "incident", json_object_get(run->inc, "id"));
	json_object_set_new(a, "by",
			    run->by_pid
				? json_pack("{s:i, s:i}", "uid", run->uid, "pid", run->by_pid)
				: json_pack("{s:i}", "uid", run->uid));
	j = ecs_vigil(r->w);
	jw_json(j, "action", a);
	json_decref(a);
	ecs_end(r->w, &line, &len);
	sinks_emit(r->sinks, line, len);
}

/* ---- steps ---- */

static json_t *result_new(const char *action, pid_t pid, const char *scope, const char *cgroup)
{
	char what[600];

	if (cgroup)
		snprintf(what, sizeof(what), "cgroup %s", cgroup);
	else
		snprintf(what, sizeof(what), "%s %d", scope, pid);
	return json_pack("{s:s, s:i, s:s, s:s, s:s}", "name", action, "target_pid", pid,
			 "target_scope", cgroup ? "cgroup" : scope, "target_description", what,
			 "outcome", "success");
}

static int fail(json_t *res, int e, const char *err)
{
	json_object_set_new(res, "outcome", json_string("failure"));
	json_object_set_new(res, "error", json_string(err[0] ? err : strerror(-e)));
	return e;
}

/* A live process of the cache: the hint's raw material. */
struct live_proc {
	pid_t pid, ppid;
	uint64_t start; /* clock ticks after boot, as /proc says */
};

struct live {
	struct live_proc *v;
	unsigned n, cap;
	uint64_t tick_ns;
};

static void add_live(struct proc *p, void *ctx)
{
	struct live *l = ctx;

	if ((p->flags & PROC_EXITED) || !p->start_ns)
		return;
	if (l->n == l->cap) {
		unsigned cap = l->cap ? 2 * l->cap : 256;
		struct live_proc *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct live_proc){p->pid, p->ppid, p->start_ns / l->tick_ns};
}

/*
 * The tree as the process cache knows it, each member with its start time
 * (proc_tree_stop stops only those it can check): stopped first, before
 * /proc is read, so the common case costs one pass over /proc instead of two.
 */
static void tree_hint(struct responder *r, pid_t root, uint64_t start, bool tree,
		      struct proc_tree *out)
{
	struct live all = {0};

	memset(out, 0, sizeof(*out));
	if (!tree || !r->pc || !root)
		return;
	all.tick_ns = proc_cache_ns_per_tick(r->pc);
	proc_cache_foreach(r->pc, add_live, &all);
	out->pids = malloc((all.n + 1) * sizeof(pid_t));
	out->starts = malloc((all.n + 1) * sizeof(uint64_t));
	if (out->pids && out->starts) {
		out->starts[out->n] = start;
		out->pids[out->n++] = root;
		for (unsigned head = 0; head < out->n; head++)
			for (unsigned i = 0; i < all.n; i++)
				if (all.v[i].ppid == out->pids[head] &&
				    !proc_tree_has(out, all.v[i].pid)) {
					out->starts[out->n] = all.v[i].start;
					out->pids[out->n++] = all.v[i].pid;
				}
	} else {
		proc_tree_free(out);
	}
	free(all.v);
}

/* The cell a step works on: the CLI's cgroup, or the target's tree. */
static struct cell *cell_for(struct responder *r, const struct run *run, pid_t pid, uint64_t start,
			     bool tree, char *err, size_t errlen)
{
	struct cell *cell;
	struct proc_tree hint;

	tree_hint(r, pid, start, tree, &hint);
	cell = run->cgroup ? contain_cell_for_cgroup(r->contain, run->cgroup, err, errlen)
			   : contain_cell_for_pid(r->contain, &r->guard, pid, start, tree, &hint,
						  err, errlen);
	proc_tree_free(&hint);

	if (cell && !cell->incident[0]) {
		snprintf(cell->incident, sizeof(cell->incident), "%s",
			 json_string_value(json_object_get(run->inc, "id")));
		contain_save(r->contain);
	}
	return cell;
}

static int step_signal(struct responder *r, const struct run *run, pid_t pid, uint64_t start,
		       bool tree, int sig, json_t *res, char *err, size_t errlen)
{
	unsigned sent = 0, skipped = 0;
	int e;

	if (run->cgroup && sig == SIGKILL) {
		struct cell *cell = cell_for(r, run, 0, 0, true, err, errlen);

		return cell ? contain_kill(r->contain, cell, err, errlen) : -ENOENT;
	}
	struct proc_tree hint;

	tree_hint(r, pid, start, tree && sig == SIGKILL, &hint);
	e = proc_tree_signal(&r->guard, pid, start, tree, &hint, sig, &sent, &skipped, err, errlen);
	proc_tree_free(&hint);
	json_object_set_new(res, "signalled", json_integer(sent));
	if (skipped)
		json_object_set_new(res, "skipped_guarded", json_integer(skipped));
	return e;
}

static int step_contain(struct responder *r, const struct run *run, enum pb_action a, pid_t pid,
			uint64_t start, bool tree, json_t *res, char *err, size_t errlen)
{
	struct cell *cell = a == PB_THAW ? contain_find(r->contain, pid, run->cgroup)
					 : cell_for(r, run, pid, start, tree, err, errlen);
	unsigned cut = 0;
	int e;

	if (!cell) {
		if (a == PB_THAW)
			snprintf(err, errlen, "nothing frozen for %d", pid);
		return -ENOENT;
	}
	json_object_set_new(res, "cell", json_string(cell->path));
	if (a == PB_FREEZE || a == PB_THAW)
		return contain_freeze(r->contain, cell, a == PB_FREEZE, err, errlen);
	e = contain_isolate(r->contain, cell, true, &cut, err, errlen);
	json_object_set_new(res, "sockets_cut", json_integer(cut));
	return e;
}

/* "%file.path" → the alert's value of that field; anything else is a path. */
static const char *deny_target(const struct run *run, const char *arg)
{
	json_t *v = run->alert;
	char key[128];
	const char *p = arg + 1;

	if (arg[0] != '%')
		return arg;
	while (v && *p) {
		size_t n = strcspn(p, ".");

		snprintf(key, sizeof(key), "%.*s", (int)n, p);
		v = json_object_get(v, key);
		p += n + (p[n] == '.');
	}
	return json_string_value(v);
}

static int step_deny(struct responder *r, const struct run *run, const struct pb_step *st,
		     pid_t pid, uint64_t start, bool tree, json_t *res, char *err, size_t errlen)
{
	const char *path = deny_target(run, st->arg);
	struct cell *cell;

	if (!path) {
		snprintf(err, errlen, "deny-path: the alert has no %s", st->arg);
		return -ENOENT;
	}
	json_object_set_new(res, "path", json_string(path));
	cell = cell_for(r, run, pid, start, tree, err, errlen);
	return cell ? contain_deny_path(r->contain, cell, path, err, errlen) : -ENOENT;
}

static struct running_exec *track_child(struct responder *r, pid_t child, struct snapshot_job *job,
					const char *incident, const char *what, uint64_t timeout_ms)
{
	struct running_exec *x = &r->execs[r->nexecs++];

	*x = (struct running_exec){.pid = child,
				   .job = job,
				   .deadline_ms = clock_ns(CLOCK_MONOTONIC) / 1000000 + timeout_ms,
				   .snapshot = job != NULL};
	snprintf(x->incident, sizeof(x->incident), "%s", incident);
	snprintf(x->argv0, sizeof(x->argv0), "%s", what);
	return x;
}

/*
 * The volatile evidence is copied at once (the processes may be gone in a
 * moment); hashing the executables (tens of ms for a Python) is left to a
 * thread polled on the tick, so the event loop goes on.
 */
static int step_snapshot(struct responder *r, const struct run *run, pid_t pid, uint64_t start,
			 bool tree, json_t *res, char *err, size_t errlen)
{
	const char *id = json_string_value(json_object_get(run->inc, "id"));
	char dir[PATH_MAX + 64];
	struct snapshot snap;
	struct snapshot_job *job;
	int e;

	if (r->nexecs == EXECS_MAX) {
		snprintf(err, errlen, "too many snapshots and scripts running (%d)", EXECS_MAX);
		return -EAGAIN;
	}
	snprintf(dir, sizeof(dir), "%s/%s", incidents_dir(r->incidents), id);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%.400s: %s", dir, strerror(errno));
		return -errno;
	}
	snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/evidence-%d", pid);
	json_object_set_new(res, "evidence", json_string(dir));
	incident_append(run->inc, "evidence", json_string(dir));
	e = act_snapshot_begin(pid, start, tree, dir, run->line, run->len, &snap, err, errlen);
	if (e < 0)
		return e;
	json_object_set_new(res, "files", json_integer(snap.files));
	e = act_snapshot_start(&snap, &job);
	if (e < 0) {
		snprintf(err, errlen, "cannot start hashing: %s", strerror(-e));
		return e;
	}
	track_child(r, 0, job, id, dir, SNAPSHOT_TIMEOUT_MS);
	return 0;
}

static char *slack_body(const struct run *run)
{
	json_t *a = run->alert;
	const char *sev =
	    json_string_value(json_object_get(json_object_get(a, "vigil"), "severity"));
	const char *name = json_string_value(json_object_get(json_object_get(a, "rule"), "name"));
	const char *msg = json_string_value(json_object_get(a, "message"));
	const char *host = json_string_value(json_object_get(json_object_get(a, "host"), "name"));
	char text[2048];
	json_t *o;
	char *s;

	snprintf(text, sizeof(text), "[%s] %s on %s: %s", sev ? sev : "?", name ? name : "alert",
		 host ? host : "?", msg ? msg : "");
	o = json_pack("{s:s}", "text", text);
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static int step_webhook(struct responder *r, const struct run *run, const struct pb_step *st,
			json_t *res, char *err, size_t errlen)
{
	const struct webhook_def *d = playbooks_webhook(r->set, st->arg);
	_cleanup_free_ char *body = d && d->slack && run->alert ? slack_body(run) : NULL;
	char id[64];
	int e;

	if (!d) {
		snprintf(err, errlen, "webhook %s is not defined", st->arg);
		return -ENOENT;
	}
	e = webhook_send(r->hooks, st->arg, body ? body : run->line, body ? strlen(body) : run->len,
			 id);
	if (e < 0)
		snprintf(err, errlen, "webhook %s: %s", st->arg,
			 e == -ENOENT ? "endpoint not running (see the log)" : strerror(-e));
	else
		json_object_set_new(res, "webhook_id", json_string(id));
	json_object_set_new(res, "endpoint", json_string(st->arg));
	return e;
}

static int step_exec(struct responder *r, const struct run *run, const struct pb_step *st,
		     json_t *res, char *err, size_t errlen)
{
	const char *id = json_string_value(json_object_get(run->inc, "id"));
	char log[PATH_MAX];
	pid_t child;
	int e;

	if (r->nexecs == EXECS_MAX) {
		snprintf(err, errlen, "too many operator scripts running (%d)", EXECS_MAX);
		return -EAGAIN;
	}
	snprintf(log, sizeof(log), "%s/%s.exec.log", incidents_dir(r->incidents), id);
	e = act_exec_start(st->argv, run->line, run->len, log, &child, err, errlen);
	if (e < 0)
		return e;
	track_child(r, child, NULL, id, st->argv[0], st->timeout_ms);
	json_object_set_new(res, "command", json_string(st->argv[0]));
	json_object_set_new(res, "child_pid", json_integer(child));
	json_object_set_new(res, "log", json_string(log));
	return 0;
}

static int run_action(struct responder *r, const struct run *run, const struct pb_step *st,
		      pid_t pid, uint64_t start, bool tree, json_t *res, char *err, size_t errlen)
{
	switch (st->action) {
	case PB_KILL:
		return step_signal(r, run, pid, start, tree, SIGKILL, res, err, errlen);
	case PB_STOP:
		return step_signal(r, run, pid, start, tree, SIGSTOP, res, err, errlen);
	case PB_CONT:
		return step_signal(r, run, pid, start, tree, SIGCONT, res, err, errlen);
	case PB_FREEZE:
	case PB_THAW:
	case PB_ISOLATE:
		return step_contain(r, run, st->action, pid, start, tree, res, err, errlen);
	case PB_DENY_PATH:
		return step_deny(r, run, st, pid, start, tree, res, err, errlen);
	case PB_SNAPSHOT:
		return step_snapshot(r, run, pid, start, tree, res, err, errlen);
	case PB_WEBHOOK:
		return step_webhook(r, run, st, res, err, errlen);
	case PB_EXEC:
		return step_exec(r, run, st, res, err, errlen);
	default:
		return -EINVAL;
	}
}

/* The target's process.entity_id: the alert's (the process or its parent), or the CLI's. */
static const char *target_entity(const struct run *run, bool parent)
{
	json_t *p = json_object_get(run->alert, "process");

	if (!run->alert)
		return parent ? NULL : run->entity;
	return json_string_value(
	    json_object_get(parent ? json_object_get(p, "parent") : p, "entity_id"));
}

/*
 * Is pid still the process the run names? The start time of whatever runs
 * as pid now (read through a pidfd: see pidfd_open_verified) must give the
 * entity id the alert carries. *start gets it, for every action to check
 * again as it signals. -ESRCH if the process is gone: with no start time to
 * check, a pid alone could name whatever takes it next.
 */
static int check_target(struct responder *r, const struct run *run, bool parent, pid_t pid,
			uint64_t *start, char *err, size_t errlen)
{
	const char *want = target_entity(run, parent);
	_cleanup_close_ int fd = -1;
	struct proc now = {.pid = pid};
	int e = pidfd_open_verified(pid, 0, &fd, start);

	if (e < 0) { /* gone: no start to check against, so nothing may be acted on */
		snprintf(err, errlen, "process %d: no such process", pid);
		return e;
	}
	if (!want || !r->pc)
		return 0;
	now.start_ns = *start * proc_cache_ns_per_tick(r->pc);
	if (strcmp(proc_cache_entity_id(r->pc, &now), want)) {
		char gone[128];

		snprintf(gone, sizeof(gone), "the process the %s names (entity %s)",
			 run->alert ? "alert" : "request", want);
		return pid_reused_error(pid, gone, err, errlen);
	}
	return 0;
}

static bool acts_on_pid(const struct run *run, const struct pb_step *st)
{
	return !run->cgroup && st->action != PB_WEBHOOK && st->action != PB_EXEC;
}

/* One step: act (unless dry-run), record in the incident, write the audit event. */
static int run_step(struct responder *r, const struct run *run, const struct pb_step *st)
{
	bool parent = st->target == PB_T_PARENT || st->target == PB_T_PARENT_TREE;
	bool tree = st->target == PB_T_TREE || st->target == PB_T_PARENT_TREE;
	pid_t pid = parent ? run->ppid : run->pid;
	char action[32], err[512] = "";
	uint64_t start = 0;
	json_t *res;
	int e = 0;

	snprintf(action, sizeof(action), "contain.%s", pb_action_name(st->action));
	res = result_new(action, pid, pb_target_name(st->target), run->cgroup);
	if (run->dry_run)
		json_object_set_new(res, "outcome", json_string("dry-run"));
	else if (acts_on_pid(run, st) && pid <= 0)
		e = fail(res, -ESRCH, "the alert names no such process");
	else if (acts_on_pid(run, st) &&
		 (e = check_target(r, run, parent, pid, &start, err, sizeof(err))) < 0)
		fail(res, e, err);
	else if ((e = run_action(r, run, st, pid, start, tree, res, err, sizeof(err))) < 0)
		fail(res, e, err);
	json_object_set_new(res, "latency_us",
			    json_integer((clock_ns(CLOCK_MONOTONIC) - run->t0_ns) / 1000));
	r->actions++;
	r->action_failures += e < 0;
	contain_flush(r->contain);
	audit(r, run, action, category_of(st->action), type_of(st->action), res);
	incident_append(run->inc, "steps", res);
	return e;
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
		e = run_step(r, run, &pb->steps[i]);
		if (e < 0 && pb->steps[i].stop_on_error)
			break;
	}
	json_object_set_new(run->inc, "status",
			    json_string(run->dry_run ? "dry-run"
					: e < 0	     ? "failed"
						     : "contained"));
	incident_save(r->incidents, run->inc);
}

void respond_alert(struct responder *r, const struct rule_meta *meta, const char *line, size_t len)
{
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC), now_ms = t0 / 1000000;
	struct pb_alert pa = {meta->id, meta->name, meta->tags, meta->ntags, meta->severity};
	json_t *alert = NULL;

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
		if (!alert && !(alert = json_loadb(line, len, 0, NULL)))
			return;
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
	json_decref(alert);
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

/* ---- the responder's commands ---- */

static json_t *reply_error(const char *fmt, const char *arg)
{
	char msg[768];

	snprintf(msg, sizeof(msg), fmt, arg);
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

/* --pid N or --cgroup PATH from a request; a one-line complaint otherwise. */
static bool read_target(json_t *req, struct run *run, char *err, size_t errlen)
{
	json_t *pid = json_object_get(req, "pid");
	const char *cg = json_string_value(json_object_get(req, "cgroup"));

	if (!pid == !cg) {
		snprintf(err, errlen, "give --pid N or --cgroup PATH");
		return false;
	}
	if (pid && (!json_is_integer(pid) || json_integer_value(pid) <= 0 ||
		    json_integer_value(pid) > 4194304)) {
		snprintf(err, errlen, "pid: expected a process id");
		return false;
	}
	run->pid = pid ? json_integer_value(pid) : 0;
	run->entity = json_string_value(json_object_get(req, "entity_id"));
	run->cgroup = cg;
	return true;
}

static json_t *cmd_contain(struct responder *r, json_t *req, const struct respond_requester *who)
{
	struct run run = {
	    .via = "cli", .uid = who->uid, .by_pid = who->pid, .t0_ns = clock_ns(CLOCK_MONOTONIC)};
	bool kill_ = json_is_true(json_object_get(req, "kill"));
	bool freeze = json_is_true(json_object_get(req, "freeze"));
	bool isolate = json_is_true(json_object_get(req, "isolate"));
	struct pb_step steps[3];
	unsigned n = 0;
	char err[256], title[600];
	json_t *out;
	int e = 0;

	if (!read_target(req, &run, err, sizeof(err)))
		return reply_error("%s", err);
	if (!kill_ && !freeze && !isolate)
		freeze = isolate = true; /* reversible by default */
	if (kill_)
		steps[n++] = (struct pb_step){.action = PB_KILL, .target = PB_T_TREE};
	if (freeze)
		steps[n++] = (struct pb_step){.action = PB_FREEZE, .target = PB_T_TREE};
	if (isolate)
		steps[n++] = (struct pb_step){.action = PB_ISOLATE, .target = PB_T_TREE};
	if (run.cgroup)
		snprintf(title, sizeof(title), "contain cgroup %s", run.cgroup);
	else
		snprintf(title, sizeof(title), "contain process %d", run.pid);
	run.inc = incident_new(r->incidents, "cli", title);
	if (!run.inc)
		return reply_error("%s", "out of memory");
	for (unsigned i = 0; i < n; i++)
		e |= run_step(r, &run, &steps[i]) < 0;
	json_object_set_new(run.inc, "status", json_string(e ? "failed" : "contained"));
	incident_save(r->incidents, run.inc);
	out = json_pack("{s:b, s:O, s:O}", "ok", !e, "incident", json_object_get(run.inc, "id"),
			"steps", json_object_get(run.inc, "steps"));
	if (e) {
		json_t *steps_ = json_object_get(run.inc, "steps"), *s;
		size_t i;

		json_array_foreach (steps_, i, s)
			if (json_object_get(s, "error")) {
				json_object_set(out, "error", json_object_get(s, "error"));
				break;
			}
	}
	json_decref(run.inc);
	return out;
}

static json_t *cmd_release(struct responder *r, json_t *req, const struct respond_requester *who)
{
	struct run run = {
	    .via = "cli", .uid = who->uid, .by_pid = who->pid, .t0_ns = clock_ns(CLOCK_MONOTONIC)};
	char err[512] = "", incident[64];
	struct cell *cell;
	json_t *res, *out;
	int e;

	if (!read_target(req, &run, err, sizeof(err)))
		return reply_error("%s", err);
	cell = contain_find(r->contain, run.pid, run.cgroup);
	if (!cell) {
		snprintf(err, sizeof(err), "process %d", run.pid);
		return reply_error("nothing is contained for %s", run.cgroup ? run.cgroup : err);
	}
	snprintf(incident, sizeof(incident), "%s", cell->incident);
	run.inc = incident_load(r->incidents, incident);
	if (!run.inc)
		run.inc = incident_new(r->incidents, "cli", "release");
	res = result_new("release.all", run.pid, "tree", run.cgroup ? run.cgroup : NULL);
	json_object_set_new(res, "cell", json_string(cell->path));
	e = contain_release(r->contain, cell, err, sizeof(err));
	contain_flush(r->contain);
	if (e < 0)
		fail(res, e, err);
	json_object_set_new(res, "latency_us",
			    json_integer((clock_ns(CLOCK_MONOTONIC) - run.t0_ns) / 1000));
	audit(r, &run, "release.all", "process", "change", res);
	incident_append(run.inc, "steps", res);
	if (e == 0)
		json_object_set_new(run.inc, "status", json_string("released"));
	incident_save(r->incidents, run.inc);
	out = e < 0 ? json_pack("{s:b, s:s}", "ok", 0, "error", err)
		    : json_pack("{s:b, s:O}", "ok", 1, "incident", json_object_get(run.inc, "id"));
	json_decref(run.inc);
	return out;
}

static json_t *cmd_incidents(struct responder *r, json_t *req)
{
	const char *id = json_string_value(json_object_get(req, "id"));
	json_t *inc;

	if (!id)
		return json_pack("{s:b, s:o, s:o, s:o}", "ok", 1, "incidents",
				 incident_list(r->incidents, 100), "containments",
				 contain_list_json(r->contain), "containment_problems",
				 contain_problems_json(r->contain));
	inc = incident_load(r->incidents, id);
	if (!inc)
		return reply_error("no incident %s", id);
	return json_pack("{s:b, s:o}", "ok", 1, "incident", inc);
}

json_t *respond_command(struct responder *r, const char *cmd, json_t *req,
			const struct respond_requester *who)
{
	if (!strcmp(cmd, "contain"))
		return cmd_contain(r, req, who);
	if (!strcmp(cmd, "release"))
		return cmd_release(r, req, who);
	if (!strcmp(cmd, "incidents"))
		return cmd_incidents(r, req);
	return NULL;
}
