// SPDX-License-Identifier: GPL-2.0
/*
 * manager.c — vigild's manager: setup (the stages in order), the event loop
 * (ring buffer, control socket, signals, a 1 s tick), reloads, the control
 * commands it answers itself, and teardown.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>

#include "sense/cgroup.h"
#include "confine/contain.h"
#include "core/config.h"
#include "daemon/control.h"
#include "sense/decode.h"
#include "detect/detect.h"
#include "stream/ecs.h"
#include "sense/enrich.h"
#include "stream/file_sink.h"
#include "core/log.h"
#include "stream/metrics.h"
#include "sense/probes.h"
#include "sense/proc_cache.h"
#include "respond/respond.h"
#include "stream/sink.h"
#include "ship/ship.h"
#include "sense/sniff.h"
#include "core/util.h"
#include "sense/workload_watch.h"
#include "daemon/fleet_cmd.h"
#include "daemon/commands.h"
#include "daemon/health.h"
#include "daemon/heap.h"
#include "daemon/manager.h"
#include "daemon/models.h"

#define TICK_MS		    1000
#define EXEC_WAIT_BUDGET_MS 500 /* per tick, for all execs together (wait_for_verdicts) */
#define SHIP_DRAIN_MS	    2000 /* at stop: for agent-stop and what precedes it to reach the stream */
#define DRAIN_MS	    10 /* the ring buffer wakes us only when it fills up; drain this often */
/* `vigil events`: lines per reply, escaped at most 2x: well under CONTROL_REPLY_MAX */

/* An enriched event: into the stream, then through the rules. */
static void emit_event(struct manager *m, const struct vigil_event *ev)
{
	const char *line;
	size_t len;

	ecs_format_event(m->ecs, ev, &line, &len);
	sinks_emit(&m->sinks, line, len);
	detect_event(m->detect, ev, line, len);
	m->by_action[ev->action]++;
	m->emitted++;
}

/* Model opens: ask the sniffer what the file really is (answered later, off this loop). */
static void maybe_sniff(struct manager *m, const struct vigil_event *ev)
{
	struct sniff_job j;

	/* O_PATH reads nothing (and is how the sniffer itself looks) */
	if (ev->action != VA_OPEN || (ev->open.open_flags & O_ACCMODE) != O_RDONLY ||
	    (ev->open.open_flags & O_PATH) ||
	    (ev->open.kind != VGL_KIND_MODEL && ev->open.kind != VGL_KIND_MODEL_AMBIGUOUS &&
	     ev->open.kind != VGL_KIND_MODEL_PTH) ||
	    ev->open.path.n >= sizeof(j.path) || (ev->open.sflags & VGL_SF_PATH_TRUNC) ||
	    !sniff_first(m->sniff, ev->open.ino, ev->pid))
		return;
	j.pid = ev->pid;
	j.tid = ev->tid;
	j.uid = ev->uid;
	j.gid = ev->gid;
	j.cgroup_id = ev->cgroup_id;
	j.ts_boot_ns = ev->ts_boot_ns;
	j.ino = ev->open.ino;
	j.dev = ev->open.dev;
	j.kind = ev->open.kind;
	j.host_root = ev->proc && !ev->proc->container.id[0];
	memcpy(j.path, ev->open.path.p, ev->open.path.n);
	j.path[ev->open.path.n] = 0;
	sniff_request(m->sniff, &j);
}

/* What the sniffer found: a model-format event for the process that opened the file. */
static void on_sniffed(struct manager *m)
{
	struct sniff_job j;

	while (sniff_result(m->sniff, &j)) {
		struct vigil_event ev = {.action = VA_MODEL_FORMAT,
					 .ts_boot_ns = clock_ns(CLOCK_BOOTTIME),
					 .pid = j.pid,
					 .tid = j.tid,
					 .uid = j.uid,
					 .gid = j.gid,
					 .cgroup_id = j.cgroup_id};

		ev.sniff.path = (struct vstr){j.path, strlen(j.path)};
		ev.sniff.kind = j.kind;
		ev.sniff.format = j.format;
		ev.sniff.expected = j.expected;
		ev.sniff.mismatch = j.mismatch;
		ev.sniff.pickle = j.pickle;
		ev.proc = proc_cache_get(m->pc, j.pid);
		if (ev.proc) {
			ev.ppid = ev.proc->ppid;
			memcpy(ev.comm, ev.proc->name, sizeof(ev.comm));
		}
		emit_event(m, &ev);
		models_sniffed(m, &j); /* the inventory, and what it finds (after model-format) */
	}
}

void manager_emit_line(struct manager *m)
{
	const char *line;
	size_t len;

	ecs_end(m->ecs, &line, &len);
	sinks_emit(&m->sinks, line, len);
}

/* watch-added / watch-removed: one event shape for every watch not made at start. */
static void emit_watch(struct manager *m, const char *action, const char *path, const char *kind,
		       const char *reason)
{
	const char *line;
	size_t len;

	ecs_watch_change(m->ecs, action, path, kind, reason, &line, &len);
	sinks_emit(&m->sinks, line, len);
}

/* A workload's model dir, model or token (workload_watch.h): into the maps, then said. */
static int on_watch_change(void *ctx, bool added, const char *path, enum ww_kind kind,
			   const char *reason)
{
	struct manager *m = ctx;
	uint32_t vk = kind == WW_CREDENTIAL ? VGL_KIND_CREDENTIAL : VGL_KIND_MODEL;
	int r = added ? probes_extra_add(m->probes, path, kind == WW_MODEL_DIR, vk)
		      : probes_extra_del(m->probes, path);

	if (r < 0 && added)
		return log_msg(LOG_LVL_DEBUG, r, "not watching %s (%s)", path, reason);
	emit_watch(m, added ? "watch-added" : "watch-removed", path, workload_watch_kind_name(kind),
		   reason);
	return 0;
}

/* Re-resolve the configured watches; those that were pending and are there now say so. */
static void reload_watches(struct manager *m)
{
	const struct strv *up;

	probes_load_watches(m->probes, m->cfg);
	up = probes_promoted(m->probes);
	for (unsigned i = 0; i < up->n; i++) {
		log_info("watching %s: it appeared after start", up->v[i]);
		emit_watch(m, "watch-added", up->v[i], "configured",
			   "configured path appeared after start");
	}
}

/*
 * A name with //, /./ or /../ reached us unfiltered (a prefix match on it
 * would be wrong either way): now canonical, it is looked up by path here.
 */
static bool change_watched(const struct manager *m, struct vigil_event *ev)
{
	char path[VGL_PATH_MAX];

	if (ev->action < VA_RENAME || ev->action > VA_SYMLINK ||
	    ev->change.kind != VGL_KIND_UNRESOLVED)
		return true;
	snprintf(path, sizeof(path), "%.*s", (int)ev->change.path.n, ev->change.path.p);
	ev->change.kind = probes_path_kind(m->probes, path);
	if (!ev->change.kind && ev->change.target.n) {
		snprintf(path, sizeof(path), "%.*s", (int)ev->change.target.n, ev->change.target.p);
		ev->change.kind = probes_path_kind(m->probes, path);
	}
	return ev->change.kind != 0;
}

/*
 * An exec by (or in a child of) a process whose model is still being
 * inspected: the verdict (a pickle's callables) goes to the stream first.
 * The waits share a budget per tick, so a process that keeps a slow read
 * pending and execs in a loop cannot stall the event loop; past it the
 * exec goes first and the skip is counted.
 */
static void wait_for_verdicts(struct manager *m, const struct vigil_event *ev)
{
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC), spent;
	unsigned ms = m->exec_wait_left_ns / 1000000;

	if (sniff_wait_pids(m->sniff, ev->pid, ev->ppid, ms < 500 ? ms : 500) < 0)
		m->exec_waits_skipped++;
	spent = clock_ns(CLOCK_MONOTONIC) - t0;
	m->exec_wait_left_ns -= spent < m->exec_wait_left_ns ? spent : m->exec_wait_left_ns;
	/*
	 * Always: a job the worker finished before the exec came is no longer
	 * pending, but its verdict waits in the results until the loop takes it.
	 */
	on_sniffed(m);
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct manager *m = ctx;
	struct vigil_event ev;

	if (decode_record(&m->dec, data, size, &ev) < 0) {
		m->decode_errors++;
		return 0;
	}
	/* created where a pending watch waits: reported if it is the one awaited */
	if (ev.action == VA_OPEN && ev.open.kind == VGL_KIND_PENDING) {
		/* any file created there comes here: reload only for the awaited one */
		if (!probes_awaits(m->probes, ev.open.path.p, ev.open.path.n))
			return 0;
		reload_watches(m);
		ev.open.kind =
		    probes_watched_kind(m->probes, ev.open.ino, ev.open.dev, ev.open.path.p);
		if (!ev.open.kind)
			return 0;
	}
	if (!change_watched(m, &ev) || !enrich_event(m->en, &ev))
		return 0;
	if (ev.action == VA_EXEC)
		wait_for_verdicts(m, &ev);
	emit_event(m, &ev);
	workload_watch_event(m->ww, &ev); /* after the exec it names */
	maybe_sniff(m, &ev);
	return 0;
}

static void on_tick(struct manager *m)
{
	uint64_t now = clock_ns(CLOCK_BOOTTIME);

	m->exec_wait_left_ns = EXEC_WAIT_BUDGET_MS * 1000000ull;

	health_check_drops(m);
	health_check_evictions(m);
	health_maybe_resync(m, now);
	if (now - m->last_heartbeat_ns >= m->cfg->heartbeat_ms * 1000000ull) {
		json_t *a = health_counters_json(m);

		json_object_set_new(a, "uptime_s",
				    json_integer((now - m->started_boot_ns) / 1000000000ull));
		health_emit(m, "metric", "info", "heartbeat", a);
		m->last_heartbeat_ns = now;
		ecs_sync_clock(m->ecs);
	}
	workload_watch_expire(m->ww, m->pc); /* before the cache forgets the exited */
	proc_cache_expire(m->pc, now, m->cfg->exit_grace_ms * 1000000ull);
	respond_tick(m->respond);
	sniff_tick(m->sniff);
	models_tick(m);
	probes_seccomp_check(m->probes, respond_any_confined(m->respond));
	probes_watch_gpu_drivers(m->probes);
	if (m->cfg->metrics_file[0] &&
	    now - m->last_metrics_ns >= m->cfg->metrics_interval_ms * 1000000ull) {
		json_t *c = health_counters_json(m);
		int r = metrics_write(m->cfg->metrics_file, c);

		if (r < 0 && !m->metrics_failed)
			log_warn_errno(r, "cannot write metrics to %s", m->cfg->metrics_file);
		m->metrics_failed = r < 0;
		m->last_metrics_ns = now;
		json_decref(c);
	}
	sinks_flush(&m->sinks);
	heap_tick(&m->heap, m->sinks.lines);
}

static int replace_str(char **field, const char *v)
{
	char *n = strdup(v);

	if (!n)
		return -ENOMEM;
	free(*field);
	*field = n;
	return 0;
}

int manager_load_config(struct manager *m)
{
	const char *path = m->opt.config;
	char err[512];
	int r;

	r = config_defaults(&m->cfg);
	if (r < 0)
		return r;
	if (!path && access("/etc/vigil/vigil.yaml", F_OK) == 0)
		path = "/etc/vigil/vigil.yaml";
	if (path && (r = config_load_file(m->cfg, path, err, sizeof(err))) < 0) {
		fprintf(stderr, "vigild: %s\n", err);
		return r;
	}
	if ((m->opt.socket && replace_str(&m->cfg->socket_path, m->opt.socket) < 0) ||
	    (m->opt.state_dir && replace_str(&m->cfg->state_dir, m->opt.state_dir) < 0) ||
	    (m->opt.events && replace_str(&m->cfg->events_file, m->opt.events) < 0))
		return -ENOMEM;
	if (m->opt.stdout_stream)
		m->cfg->stdout_stream = true;
	if (!strcmp(m->cfg->log_level, "debug"))
		log_set_level(LOG_LVL_DEBUG);
	return 0;
}

static int mkdir_parents(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			if (mkdir(tmp, mode) < 0 && errno != EEXIST)
				return -errno;
			*p = '/';
		}
	return 0;
}

static int take_lock(struct manager *m)
{
	char path[PATH_MAX];

	if (mkdir_parents(m->cfg->state_dir, 0755) < 0 ||
	    (mkdir(m->cfg->state_dir, 0700) < 0 && errno != EEXIST))
		return log_error_errno(-errno, "cannot create state dir %s", m->cfg->state_dir);
	snprintf(path, sizeof(path), "%s/vigild.lock", m->cfg->state_dir);
	m->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (m->lock_fd < 0)
		return log_error_errno(-errno, "cannot open %s", path);
	if (flock(m->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return log_error_errno(-errno, "another vigild holds %s", path);
	return 0;
}

static int open_sinks(struct manager *m)
{
	const char *path = m->cfg->events_file;
	int r;

	m->sinks.to_stdout = m->cfg->stdout_stream;
	if (sinks_keep_recent(&m->sinks) < 0)
		return log_error_errno(-ENOMEM, "cannot keep recent events");
	if (!path[0])
		return 0;
	r = mkdir_parents(path, 0755);
	if (r < 0)
		return log_error_errno(r, "cannot create the directory of %s", path);
	r = file_sink_open(path, m->cfg->file_max_size, m->cfg->file_max_files, BACKLOG_MAX,
			   &m->sinks.file);
	if (r < 0)
		return log_error_errno(r, "cannot open events file %s", path);
	return 0;
}

static void tag_seeded(struct proc *p, void *ctx)
{
	struct manager *m = ctx;

	enrich_tag(m->en, p);
}

static void tag_seeded_tree(struct proc *p, void *ctx)
{
	struct manager *m = ctx;
	const struct proc *anc[16];
	unsigned n = proc_cache_ancestors(m->pc, p, anc, 16);

	for (unsigned i = 0; i < n; i++)
		if (anc[i]->flags & PROC_INFERENCE) {
			p->flags |= PROC_INFERENCE_TREE;
			if (anc[i]->match > p->match)
				p->match = anc[i]->match;
		}
}

/* Workloads already running at start: their paths, once agent-start is in the stream. */
static void watch_seeded(struct proc *p, void *ctx)
{
	struct manager *m = ctx;

	if (p->flags & PROC_INFERENCE)
		workload_watch_add(m->ww, p);
}

static void on_alert(void *ctx, const struct rule_meta *meta, const char *line, size_t len,
		     json_t *alert)
{
	struct manager *m = ctx;

	respond_alert(m->respond, meta, line, len, alert);
}

static int setup(struct manager *m)
{
	char buf[128], cgroot[256], err[512];
	int contain_fds[7];
	int r;

	if (read_file("/proc/sys/kernel/random/boot_id", buf, sizeof(buf)) > 0)
		snprintf(m->boot_id, sizeof(m->boot_id), "%.36s", buf);
	if (m->cfg->host_name)
		snprintf(m->host_name, sizeof(m->host_name), "%s", m->cfg->host_name);
	else
		gethostname(m->host_name, sizeof(m->host_name) - 1);
	r = take_lock(m);
	if (r < 0)
		return r;
	r = open_sinks(m);
	if (r < 0)
		return r;
	r = proc_cache_new("/proc", m->boot_id, &m->pc);
	if (r < 0)
		return r;
	proc_cache_set_max(m->pc, m->cfg->proc_cache_max);
	r = enrich_new(m->cfg, m->pc, &m->en);
	if (r < 0)
		return r;
	r = workload_watch_new("/proc", WW_MAX_DEFAULT, on_watch_change, m, &m->ww);
	if (r < 0)
		return r;
	r = ecs_new(m->host_name, m->boot_id, m->pc, &m->ecs);
	if (r < 0)
		return r;
	r = detect_new(m->cfg, &m->opt.rules, m->ecs, m->pc, &m->sinks, &m->detect);
	if (r < 0)
		return log_error_errno(r, "cannot load the rules");
	r = sniff_new(&m->sniff);
	if (r < 0)
		return log_error_errno(r, "cannot start the model reader");
	sniff_set_limits(m->sniff, SNIFF_DEADLINE_MS, m->cfg->sniff_network_fs);
	r = models_new(m);
	if (r < 0)
		return log_error_errno(r, "cannot start the model inventory");
	if (cgroup2_root(cgroot, sizeof(cgroot)) < 0)
		cgroot[0] = 0;
	r = respond_new(m->cfg, &m->opt.playbooks, m->ecs, &m->sinks, m->pc, cgroot, &m->respond);
	if (r < 0)
		return log_error_errno(r, "cannot load the playbooks");
	detect_on_alert(m->detect, on_alert, m);
	respond_contain_fds(m->respond, contain_fds);
	/* probes first, then the /proc seed: a process started in between is
	 * seen by both, never by neither */
	r = probes_new(m->cfg, contain_fds, on_sample, m, &m->probes);
	if (r < 0)
		return log_error_errno(r, "cannot load the eBPF probes");
	r = proc_cache_seed(m->pc);
	if (r < 0)
		return log_error_errno(r, "cannot read /proc");
	/* mark the seeded processes that already are inference workloads */
	proc_cache_foreach(m->pc, tag_seeded, m);
	proc_cache_foreach(m->pc, tag_seeded_tree, m);
	r = mkdir_parents(m->cfg->socket_path, 0755);
	if (!r)
		r = control_new(m->cfg->socket_path, NULL, manager_on_command, m, &m->control);
	if (r < 0)
		return log_error_errno(r, "cannot create control socket %s", m->cfg->socket_path);
	r = ship_new(m->cfg, m->host_name, err, sizeof(err), &m->ship);
	if (r == 0)
		r = fleet_cmd_start(m, err, sizeof(err));
	if (r < 0)
		return log_error_errno(r, "%s", err);
	return ship_start(m->ship);
}

/*
 * Re-read the config file's watch lists and workload selectors; the rest
 * (output, socket, sizes) needs a restart, and command-line overrides stay.
 */
static void reload_lists(struct manager *m)
{
	struct vigil_config *n = NULL;
	char err[512] = "out of memory";

	if (config_defaults(&n) == 0 &&
	    config_load_file(n, m->cfg->source, err, sizeof(err)) == 0) {
		config_swap_lists(m->cfg, n);
		log_info("reloaded the watch lists and workload selectors of %s", m->cfg->source);
	} else {
		log_error("reload failed, keeping the running configuration: %s", err);
	}
	config_free(n);
}

static void on_signal(struct manager *m, int sfd)
{
	struct signalfd_siginfo si;

	if (read(sfd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo != SIGHUP) {
		m->stop = true;
		return;
	}
	/* SIGHUP: reopen files (logrotate) and re-resolve watched paths */
	if (m->sinks.file)
		file_sink_reopen(m->sinks.file);
	if (m->cfg->source)
		reload_lists(m);
	reload_watches(m);
	json_decref(manager_reload_rules(m, NULL)); /* the reply is for the CLI only */
}

static int run_loop(struct manager *m)
{
	struct itimerspec its = {{TICK_MS / 1000, 0}, {TICK_MS / 1000, 0}};
	struct epoll_event evs[7];
	_cleanup_close_ int ep = epoll_create1(EPOLL_CLOEXEC);
	_cleanup_close_ int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	_cleanup_close_ int sfd = -1;
	sigset_t mask;
	int fds[7];

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (ep < 0 || tfd < 0 || sfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0)
		return log_error_errno(-errno, "event loop setup failed");
	fds[0] = probes_epoll_fd(m->probes);
	fds[1] = control_fd(m->control);
	fds[2] = sfd;
	fds[3] = tfd;
	fds[4] = sniff_fd(m->sniff);
	fds[5] = probes_pending_fd(m->probes);
	fds[6] = ship_fd(m->ship);
	for (int i = 0; i < 7; i++) {
		struct epoll_event e = {.events = EPOLLIN, .data.fd = fds[i]};

		if (fds[i] < 0) /* no inotify: paths made later stay unwatched (logged) */
			continue;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e) < 0)
			return log_error_errno(-errno, "epoll_ctl failed");
	}
	while (!m->stop) {
		int n = epoll_wait(ep, evs, ARRAY_SIZE(evs), DRAIN_MS);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return log_error_errno(-errno, "epoll_wait failed");
		probes_drain(m->probes);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			uint64_t ticks;

			if (fd == fds[0])
				continue; /* drained above */
			if (fd == fds[1])
				control_serve(m->control);
			else if (fd == sfd)
				on_signal(m, sfd);
			else if (fd == fds[4])
				on_sniffed(m);
			else if (fd == fds[5] && probes_pending_changed(m->probes))
				reload_watches(m);
			else if (fd == fds[6])
				health_check_ship(m);
			else if (read(tfd, &ticks, sizeof(ticks)) > 0)
				on_tick(m);
		}
		if (m->sinks.to_stdout)
			fflush(stdout);
	}
	return 0;
}

void manager_teardown(struct manager *m)
{
	if (m->probes && m->ecs) {
		probes_drain(m->probes); /* what is already in the buffer still counts */
		health_check_drops(m);
		health_emit(m, "state", "end", "agent-stop", health_counters_json(m));
	}
	sinks_flush(&m->sinks);
	m->ship = ship_free(m->ship, SHIP_DRAIN_MS);
	fleet_cmd_stop(m);
	m->control = control_free(m->control);
	m->probes = probes_free(m->probes);
	m->detect = detect_free(m->detect);
	m->respond = respond_free(m->respond);
	sinks_free_recent(&m->sinks);
	models_free(m);
	m->sniff = sniff_free(m->sniff);
	m->ecs = ecs_free(m->ecs);
	m->en = enrich_free(m->en);
	m->ww = workload_watch_free(m->ww);
	m->pc = proc_cache_free(m->pc);
	m->sinks.file = file_sink_close(m->sinks.file);
	m->cfg = config_free(m->cfg);
	strv_clear(&m->opt.rules);
	strv_clear(&m->opt.playbooks);
	if (m->lock_fd >= 0)
		close(m->lock_fd);
}

/* vigild --teardown: what the kernel still enforces for vigil, undone. */
int manager_undo_containment(struct manager *m)
{
	char cgroot[256];
	struct contain *c;
	int r = take_lock(m);

	if (r < 0)
		return r;
	if (cgroup2_root(cgroot, sizeof(cgroot)) < 0)
		cgroot[0] = 0;
	r = contain_new(m->cfg, cgroot, &c);
	if (r < 0)
		return log_error_errno(r, "cannot read the containment state");
	r = contain_teardown(c);
	contain_free(c);
	if (r > 0) {
		log_error("teardown: %d containment(s) could not be released", r);
		return -EIO;
	}
	log_info("teardown: no containment left, %s unpinned", m->cfg->pin_dir);
	return 0;
}

/* Set up, say so, then serve until a signal stops it; manager_teardown after, either way. */
int manager_run(struct manager *m)
{
	int r;

	m->started_boot_ns = m->last_heartbeat_ns = clock_ns(CLOCK_BOOTTIME);
	m->exec_wait_left_ns = EXEC_WAIT_BUDGET_MS * 1000000ull;
	heap_setup();
	r = setup(m);
	if (r == 0) {
		const struct probes_info *pi = probes_info(m->probes);

		log_info("started: %s; BPF-LSM %s; fentry %s; typed loads %s; %u probes attached, "
			 "%u skipped",
			 pi->mechanisms, pi->lsm, pi->fentry, pi->typed_loads, pi->attached,
			 pi->skipped);
		health_emit_start(m);
		proc_cache_foreach(m->pc, watch_seeded, m);
		sinks_flush(&m->sinks);
		/* loading parsed the kernel's BTF several times: hand that heap back */
		malloc_trim(0);
		r = run_loop(m);
	}
	return r;
}
