// SPDX-License-Identifier: GPL-2.0
/* respond_steps.c — one step against its target, and the audit event it leaves. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "confine/contain.h"
#include "respond/incident.h"
#include "respond/respond_internal.h"
#include "core/util.h"
#include "respond/webhook.h"

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
void respond_audit(struct responder *r, const struct run *run, const char *action,
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
	if (run->key_id)
		json_object_set_new(a, "key_id", json_string(run->key_id));
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

json_t *respond_step_result(const char *action, pid_t pid, const char *scope, const char *cgroup)
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

int respond_step_fail(json_t *res, int e, const char *err)
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
int respond_run_step(struct responder *r, const struct run *run, const struct pb_step *st)
{
	bool parent = st->target == PB_T_PARENT || st->target == PB_T_PARENT_TREE;
	bool tree = st->target == PB_T_TREE || st->target == PB_T_PARENT_TREE;
	pid_t pid = parent ? run->ppid : run->pid;
	char action[32], err[512] = "";
	uint64_t start = 0;
	json_t *res;
	int e = 0;

	snprintf(action, sizeof(action), "contain.%s", pb_action_name(st->action));
	res = respond_step_result(action, pid, pb_target_name(st->target), run->cgroup);
	if (run->dry_run)
		json_object_set_new(res, "outcome", json_string("dry-run"));
	else if (acts_on_pid(run, st) && pid <= 0)
		e = respond_step_fail(res, -ESRCH, "the alert names no such process");
	else if (acts_on_pid(run, st) &&
		 (e = check_target(r, run, parent, pid, &start, err, sizeof(err))) < 0)
		respond_step_fail(res, e, err);
	else if ((e = run_action(r, run, st, pid, start, tree, res, err, sizeof(err))) < 0)
		respond_step_fail(res, e, err);
	json_object_set_new(res, "latency_us",
			    json_integer((clock_ns(CLOCK_MONOTONIC) - run->t0_ns) / 1000));
	r->actions++;
	r->action_failures += e < 0;
	contain_flush(r->contain);
	respond_audit(r, run, action, category_of(st->action), type_of(st->action), res);
	incident_append(run->inc, "steps", res);
	return e;
}
