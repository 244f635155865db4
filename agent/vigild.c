// SPDX-License-Identifier: GPL-2.0
/*
 * vigild — the daemon: owns the manager struct that ties the stages
 * together (probes → decode → enrich → ecs → sinks → detect → respond), the event loop
 * (ring buffer, control socket, signals, a 1 s tick), health events,
 * the single-instance lock, and the one-shot modes --check and --teardown.
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

#include "vigil/cgroup.h"
#include "vigil/contain.h"
#include "vigil/config.h"
#include "vigil/control.h"
#include "vigil/decode.h"
#include "vigil/detect.h"
#include "vigil/ecs.h"
#include "vigil/enrich.h"
#include "vigil/file_sink.h"
#include "vigil/log.h"
#include "vigil/metrics.h"
#include "vigil/probes.h"
#include "vigil/proc_cache.h"
#include "vigil/respond.h"
#include "vigil/sink.h"
#include "vigil/sniff.h"
#include "vigil/util.h"

#define BACKLOG_MAX (16u << 20)
#define TICK_MS	    1000
#define DRAIN_MS    10 /* the ring buffer wakes us only when it fills up; drain this often */
/* `vigil events`: lines per reply, escaped at most 2x: well under CONTROL_REPLY_MAX */
#define EVENTS_REPLY_BYTES (1u << 20)

struct options {
	const char *config;
	const char *socket;
	const char *state_dir;
	const char *events;
	bool stdout_stream, check, teardown;
	struct strv rules;     /* --rules, repeatable */
	struct strv playbooks; /* --playbooks, repeatable */
};

struct manager {
	struct options opt;
	struct vigil_config *cfg;
	struct proc_cache *pc;
	struct enricher *en;
	struct ecs_writer *ecs;
	struct decoder dec;
	struct sinks sinks;
	struct probes *probes;
	struct control *control;
	struct detector *detect;
	struct responder *respond;
	struct sniffer *sniff;
	char boot_id[64];
	char host_name[256];
	uint64_t started_boot_ns, last_heartbeat_ns, last_metrics_ns;
	uint64_t by_action[VA_SECCOMP + 1];
	uint64_t decode_errors, emitted;
	uint64_t drops_reported[VGL_DROP_NR];
	uint64_t sink_drops_reported;
	uint64_t last_resync_ns, refused_at_resync;
	bool resync_wanted; /* process events were lost: exits may be missing */
	int lock_fd;
	bool stop, metrics_failed;
};

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

static int on_sample(void *ctx, void *data, size_t size)
{
	struct manager *m = ctx;
	struct vigil_event ev;

	if (decode_record(&m->dec, data, size, &ev) < 0) {
		m->decode_errors++;
		return 0;
	}
	if (!enrich_event(m->en, &ev))
		return 0;
	emit_event(m, &ev);
	maybe_sniff(m, &ev);
	return 0;
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
	}
}

static void emit_line(struct manager *m)
{
	const char *line;
	size_t len;

	ecs_end(m->ecs, &line, &len);
	sinks_emit(&m->sinks, line, len);
}

static const char *const drop_names[VGL_DROP_NR] = {
    [VGL_DROP_RB_FULL + VGL_MSG_EXEC] = "ringbuf_full_exec",
    [VGL_DROP_RB_FULL + VGL_MSG_EXIT] = "ringbuf_full_exit",
    [VGL_DROP_RB_FULL + VGL_MSG_FORK] = "ringbuf_full_fork",
    [VGL_DROP_RB_FULL + VGL_MSG_OPEN] = "ringbuf_full_open",
    [VGL_DROP_RB_FULL + VGL_MSG_FCHANGE] = "ringbuf_full_file_change",
    [VGL_DROP_RB_FULL + VGL_MSG_CONNECT] = "ringbuf_full_connect",
    [VGL_DROP_RB_FULL + VGL_MSG_LISTEN] = "ringbuf_full_listen",
    [VGL_DROP_RB_FULL + VGL_MSG_IOURING] = "ringbuf_full_io_uring",
    [VGL_DROP_RB_FULL + VGL_MSG_PTRACE] = "ringbuf_full_ptrace",
    [VGL_DROP_RB_FULL + VGL_MSG_SIGNAL] = "ringbuf_full_signal",
    [VGL_DROP_RB_FULL + VGL_MSG_SECCOMP] = "ringbuf_full_seccomp",
    [VGL_DROP_TRUNC_ARGS] = "truncated_args",
    [VGL_DROP_TRUNC_PATH] = "truncated_path",
    [VGL_DROP_UDP_DEDUP_FULL] = "udp_dedup_full",
};

static json_t *counters_json(struct manager *m)
{
	uint64_t drops[VGL_DROP_NR];
	struct proc_cache_stats pcs;
	struct file_sink_stats fss = {0};
	json_t *o = json_object(), *d = json_object(), *a = json_object();

	probes_drops(m->probes, drops);
	for (int i = 0; i < VGL_DROP_NR; i++)
		if (drop_names[i])
			json_object_set_new(d, drop_names[i], json_integer(drops[i]));
	json_object_set_new(d, "decode_errors", json_integer(m->decode_errors));
	proc_cache_stats(m->pc, &pcs);
	if (m->sinks.file)
		file_sink_stats(m->sinks.file, &fss);
	json_object_set_new(d, "sink_file", json_integer(fss.dropped));
	json_object_set_new(d, "sink_stdout_errors", json_integer(m->sinks.stdout_errors));
	for (int i = VA_EXEC; i <= VA_SECCOMP; i++)
		if (i != VA_FORK)
			json_object_set_new(a, vigil_action_name(i), json_integer(m->by_action[i]));
	json_object_set_new(
	    o, "events",
	    json_pack("{s:I, s:o}", "emitted", (json_int_t)m->emitted, "by_action", a));
	json_object_set_new(o, "drops", d);
	/* UDP is once per process and destination: what was folded, and the
	 * connects that sent nothing (getaddrinfo's probes), are not in the stream */
	json_object_set_new(o, "udp",
			    json_pack("{s:I, s:I, s:I}", "folded",
				      (json_int_t)drops[VGL_DROP_UDP_FOLDED], "connect_no_data",
				      (json_int_t)drops[VGL_DROP_UDP_NO_DATA], "dedup_full",
				      (json_int_t)drops[VGL_DROP_UDP_DEDUP_FULL]));
	json_object_set_new(
	    o, "proc_cache",
	    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "entries",
		      (json_int_t)pcs.entries, "misses", (json_int_t)pcs.misses, "loaded_on_miss",
		      (json_int_t)pcs.loaded, "expired", (json_int_t)pcs.evicted, "max",
		      (json_int_t)pcs.max, "refused", (json_int_t)pcs.refused, "resyncs",
		      (json_int_t)pcs.resyncs, "resync_dropped", (json_int_t)pcs.resync_dropped));
	json_object_set_new(
	    o, "file_sink",
	    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "lines", (json_int_t)fss.lines, "bytes",
		      (json_int_t)fss.bytes, "dropped", (json_int_t)fss.dropped, "write_errors",
		      (json_int_t)fss.write_errors, "rotations", (json_int_t)fss.rotations,
		      "backlog_bytes", (json_int_t)fss.backlog));
	if (m->sinks.file)
		json_object_set_new(o, "chain_head",
				    json_string(file_sink_chain_head(m->sinks.file)));
	if (m->detect) /* heartbeats carry them too: evictions and reload failures are losses */
		json_object_set_new(o, "rules", detect_stats(m->detect));
	if (m->respond)
		json_object_set_new(o, "response", respond_stats(m->respond));
	if (m->control) {
		struct control_stats cs;

		control_stats(m->control, &cs);
		json_object_set_new(
		    o, "control",
		    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "clients",
			      (json_int_t)cs.clients, "served", (json_int_t)cs.served, "denied",
			      (json_int_t)cs.denied, "busy", (json_int_t)cs.busy, "hung_up",
			      (json_int_t)cs.hung_up, "timed_out", (json_int_t)cs.timed_out,
			      "too_large", (json_int_t)cs.too_large, "reply_too_large",
			      (json_int_t)cs.reply_too_large));
	}
	if (m->sniff) {
		struct sniff_stats ss;

		sniff_stats(m->sniff, &ss);
		json_object_set_new(
		    o, "model_sniff",
		    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "requests",
			      (json_int_t)ss.requests, "read", (json_int_t)ss.read, "cached",
			      (json_int_t)ss.cached, "skipped_network_fs",
			      (json_int_t)ss.skipped_fs, "failed", (json_int_t)ss.failed,
			      "queue_full", (json_int_t)ss.queue_full, "refused",
			      (json_int_t)ss.refused, "timed_out", (json_int_t)ss.timed_out,
			      "stuck_workers", (json_int_t)ss.stuck));
	}
	return o;
}

static void emit_health(struct manager *m, const char *kind, const char *type, const char *action,
			json_t *vigil_agent)
{
	struct jw *j = ecs_begin(m->ecs, 0, kind, "host", type, action);

	j = ecs_vigil(m->ecs);
	jw_json(j, "agent", vigil_agent);
	json_decref(vigil_agent);
	emit_line(m);
}

static json_t *features_json(struct manager *m)
{
	const struct probes_info *pi = probes_info(m->probes);
	const char *contain = respond_containment(m->respond);
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:i, s:i, s:{s:i, s:i, s:i, s:i}, s:s}", "mechanisms",
		      pi->mechanisms, "lsm", pi->lsm, "fentry", pi->fentry, "probes_attached",
		      pi->attached, "probes_skipped", pi->skipped, "watch", "extensions",
		      pi->watched_exts, "dirs", pi->watched_dirs, "files", pi->watched_files,
		      "gpu_majors", pi->gpu_majors, "cgroup_root", pi->cgroup_root);
	json_object_set_new(o, "containment", json_string(contain));
	json_object_set_new(o, "deny_path",
			    json_string(strcmp(contain, "active") ? "unavailable"
					: pi->open_via_lsm	  ? "lsm (open refused with EPERM)"
							   : "kill-on-open (syscall tracepoint)"));
	return o;
}

/* Where the previous run's stream ended: a reader sees a crash and the gap after it. */
static json_t *previous_run_json(const struct file_sink_found *f)
{
	return json_pack("{s:s, s:I, s:s, s:b}", "ephemeral_id", f->tail.run_id, "last_sequence",
			 (json_int_t)f->tail.sequence, "chain_head", f->tail.head,
			 "stopped_cleanly", f->tail.clean);
}

/* A torn last line found at open: said once on stderr and once in the stream. */
static void report_torn_line(struct manager *m, const struct file_sink_found *f)
{
	if (f->torn_kept)
		log_warn("%s: a torn last line of %llu bytes at offset %llu cannot be cut "
			 "(append-only file): ended with a newline, vigil verify reports it",
			 m->cfg->events_file, (unsigned long long)f->torn_bytes,
			 (unsigned long long)f->torn_at);
	else
		log_warn("%s: cut a torn last line of %llu bytes at offset %llu (the previous "
			 "run died mid-write); the chain goes on from the last whole line",
			 m->cfg->events_file, (unsigned long long)f->torn_bytes,
			 (unsigned long long)f->torn_at);
	emit_health(m, "state", "change", "events-truncated",
		    json_pack("{s:{s:s, s:I, s:I, s:b}}", "truncated", "file", m->cfg->events_file,
			      "bytes", (json_int_t)f->torn_bytes, "at_offset",
			      (json_int_t)f->torn_at, "kept", f->torn_kept));
}

static void emit_start(struct manager *m)
{
	const struct file_sink_found *f = m->sinks.file ? file_sink_found(m->sinks.file) : NULL;
	json_t *a = features_json(m);

	json_object_set_new(a, "pid", json_integer(getpid()));
	json_object_set_new(a, "config",
			    json_string(m->cfg->source ? m->cfg->source : "(defaults)"));
	if (f && f->previous)
		json_object_set_new(a, "previous", previous_run_json(f));
	if (f && f->previous && !f->tail.clean)
		log_warn("the previous run did not stop cleanly: its stream ends at sequence %llu",
			 (unsigned long long)f->tail.sequence);
	emit_health(m, "state", "start", "agent-start", a);
	if (f && f->torn_bytes)
		report_torn_line(m, f);
}

static uint64_t sink_file_dropped(struct manager *m)
{
	struct file_sink_stats fss = {0};

	if (m->sinks.file)
		file_sink_stats(m->sinks.file, &fss);
	return fss.dropped;
}

static bool lost_process_event(int drop)
{
	return drop == VGL_DROP_RB_FULL + VGL_MSG_EXIT || drop == VGL_DROP_RB_FULL + VGL_MSG_FORK ||
	       drop == VGL_DROP_RB_FULL + VGL_MSG_EXEC;
}

static void check_drops(struct manager *m)
{
	uint64_t drops[VGL_DROP_NR], before[VGL_DROP_NR], sink_dropped = sink_file_dropped(m);
	uint64_t sink_before = m->sink_drops_reported;
	json_t *delta = json_object();
	bool any = false;

	memcpy(before, m->drops_reported, sizeof(before));
	probes_drops(m->probes, drops);
	for (int i = 0; i < VGL_DROP_NR; i++) {
		if (drops[i] == m->drops_reported[i] || !drop_names[i])
			continue;
		json_object_set_new(delta, drop_names[i],
				    json_integer(drops[i] - m->drops_reported[i]));
		m->drops_reported[i] = drops[i];
		m->resync_wanted |= lost_process_event(i);
		any = true;
	}
	if (sink_dropped != m->sink_drops_reported) {
		json_object_set_new(delta, "sink_file",
				    json_integer(sink_dropped - m->sink_drops_reported));
		m->sink_drops_reported = sink_dropped;
		any = true;
	}
	if (!any) {
		json_decref(delta);
		return;
	}
	emit_health(m, "metric", "info", "drop", json_pack("{s:o}", "lost", delta));
	/* the report was itself dropped (the disk is still full): all of it again next tick */
	if (sink_file_dropped(m) != sink_dropped) {
		memcpy(m->drops_reported, before, sizeof(before));
		m->sink_drops_reported = sink_before;
	}
}

/*
 * Lost exits leave dead processes cached (and a reused pid mis-attributed):
 * after lost process events or a full cache, at most every 5 s, and every
 * 60 s while above 3/4 of the cap, check the cache against /proc.
 */
static void maybe_resync(struct manager *m, uint64_t now)
{
	struct proc_cache_stats st;
	bool urgent, high;
	unsigned n;

	proc_cache_stats(m->pc, &st);
	urgent = m->resync_wanted || st.refused != m->refused_at_resync;
	high = st.entries >= st.max / 4 * 3;
	if (!(urgent && now - m->last_resync_ns >= 5000000000ull) &&
	    !(high && now - m->last_resync_ns >= 60000000000ull))
		return;
	n = proc_cache_resync(m->pc);
	proc_cache_stats(m->pc, &st);
	m->last_resync_ns = now;
	m->refused_at_resync = st.refused;
	m->resync_wanted = false;
	if (n)
		emit_health(m, "metric", "info", "process-cache-resync",
			    json_pack("{s:{s:i, s:I, s:s}}", "process_cache", "dropped", n,
				      "entries", (json_int_t)st.entries, "after",
				      urgent ? "lost events or a full cache" : "high water"));
}

/* Once a tick at most: a flood of keys evicting pending sequences is itself seen. */
static void check_evictions(struct manager *m)
{
	json_t *by_rule = detect_evictions(m->detect);

	if (by_rule)
		emit_health(m, "metric", "info", "sequence-evicted",
			    json_pack("{s:{s:o}}", "rules", "sequences_evicted_by_rule", by_rule));
}

static void on_tick(struct manager *m)
{
	uint64_t now = clock_ns(CLOCK_BOOTTIME);

	check_drops(m);
	check_evictions(m);
	maybe_resync(m, now);
	if (now - m->last_heartbeat_ns >= m->cfg->heartbeat_ms * 1000000ull) {
		json_t *a = counters_json(m);

		json_object_set_new(a, "uptime_s",
				    json_integer((now - m->started_boot_ns) / 1000000000ull));
		emit_health(m, "metric", "info", "heartbeat", a);
		m->last_heartbeat_ns = now;
		ecs_sync_clock(m->ecs);
	}
	proc_cache_expire(m->pc, now, m->cfg->exit_grace_ms * 1000000ull);
	respond_tick(m->respond);
	sniff_tick(m->sniff);
	probes_seccomp_check(m->probes, respond_any_confined(m->respond));
	probes_watch_gpu_drivers(m->probes);
	if (m->cfg->metrics_file[0] &&
	    now - m->last_metrics_ns >= m->cfg->metrics_interval_ms * 1000000ull) {
		json_t *c = counters_json(m);
		int r = metrics_write(m->cfg->metrics_file, c);

		if (r < 0 && !m->metrics_failed)
			log_warn_errno(r, "cannot write metrics to %s", m->cfg->metrics_file);
		m->metrics_failed = r < 0;
		m->last_metrics_ns = now;
		json_decref(c);
	}
	sinks_flush(&m->sinks);
}

static json_t *reload_rules(struct manager *m, const struct control_peer *peer);

struct recent_reply {
	json_t *lines;
	size_t bytes;
	bool more; /* cut at EVENTS_REPLY_BYTES */
};

/* Lines up to EVENTS_REPLY_BYTES (one at least): the rest comes with the next call. */
static bool add_line(void *ctx, const char *line, size_t len)
{
	struct recent_reply *rr = ctx;

	if (rr->bytes && rr->bytes + len > EVENTS_REPLY_BYTES) {
		rr->more = true;
		return false;
	}
	rr->bytes += len;
	json_array_append_new(rr->lines, json_stringn(line, len));
	return true;
}

/* `vigil events`: lines after cursor `after` (0: the last `max`), the next cursor, more to come. */
static json_t *recent_events(struct manager *m, json_t *req)
{
	json_int_t after = json_integer_value(json_object_get(req, "after"));
	json_int_t max = json_integer_value(json_object_get(req, "max"));
	struct recent_reply rr = {json_array(), 0, false};
	uint64_t missed, next;

	if (max <= 0 || max > 1000)
		max = 1000;
	if (!json_object_get(req, "after"))
		after = m->sinks.lines > (uint64_t)max ? (json_int_t)(m->sinks.lines - max) : 0;
	if (after < 0)
		after = 0;
	next = sinks_recent(&m->sinks, after, max, add_line, &rr, &missed);
	return json_pack("{s:b, s:o, s:I, s:I, s:b}", "ok", 1, "lines", rr.lines, "next",
			 (json_int_t)next, "missed", (json_int_t)missed, "more", rr.more);
}

static json_t *on_command(void *ctx, const char *cmd, json_t *req, const struct control_peer *peer)
{
	struct manager *m = ctx;
	json_t *r;

	if (!strcmp(cmd, "rules-reload"))
		return reload_rules(m, peer);
	if (!strcmp(cmd, "events"))
		return recent_events(m, req);
	if ((r = respond_command(m->respond, cmd, req, peer)))
		return r;
	if (strcmp(cmd, "status"))
		return json_pack("{s:b, s:s}", "ok", 0, "error", "unknown command");
	r = counters_json(m);
	json_object_set_new(r, "ok", json_true());
	json_object_set_new(r, "version", json_string(VIGIL_VERSION));
	json_object_set_new(r, "pid", json_integer(getpid()));
	json_object_set_new(
	    r, "uptime_s",
	    json_integer((clock_ns(CLOCK_BOOTTIME) - m->started_boot_ns) / 1000000000ull));
	json_object_set_new(r, "features", features_json(m));
	json_object_set_new(r, "events_file", json_string(m->cfg->events_file));
	json_object_set_new(r, "next_sequence", json_integer(ecs_next_sequence(m->ecs)));
	return r;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: vigild [--config FILE] [--stdout] [--socket PATH] [--state-dir DIR]\n"
	    "              [--events FILE] [--rules PATH]... [--playbooks PATH]...\n"
	    "              [--check] [--teardown] [--debug]\n"
	    "  --config FILE  configuration (default /etc/vigil/vigil.yaml if present)\n"
	    "  --stdout       also write the event stream to stdout\n"
	    "  --socket PATH  control socket (default /run/vigil/vigil.sock)\n"
	    "  --state-dir D  state directory (default /var/lib/vigil)\n"
	    "  --events FILE  events file (\"\" = none; default /var/log/vigil/events.jsonl)\n"
	    "  --rules PATH   rule file or directory (repeatable; replaces the defaults)\n"
	    "  --playbooks P  playbook file or directory (repeatable; replaces the defaults)\n"
	    "  --check        validate the configuration, rules and playbooks, and exit\n"
	    "  --teardown     undo every containment, unpin vigil's eBPF programs and maps,\n"
	    "                 and exit (vigild must be stopped; the package runs it on removal)\n"
	    "  --debug        log at debug level, libbpf's messages included\n");
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'}, {"stdout", no_argument, NULL, 'o'},
	    {"socket", required_argument, NULL, 's'}, {"state-dir", required_argument, NULL, 'd'},
	    {"events", required_argument, NULL, 'e'}, {"check", no_argument, NULL, 'k'},
	    {"teardown", no_argument, NULL, 'T'},     {"debug", no_argument, NULL, 'D'},
	    {"rules", required_argument, NULL, 'r'},  {"playbooks", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},	      {}};
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'o':
			o->stdout_stream = true;
			break;
		case 's':
			o->socket = optarg;
			break;
		case 'd':
			o->state_dir = optarg;
			break;
		case 'e':
			o->events = optarg;
			break;
		case 'k':
			o->check = true;
			break;
		case 'T':
			o->teardown = true;
			break;
		case 'D':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'r':
			if (strv_push(&o->rules, optarg) < 0)
				return -ENOMEM;
			break;
		case 'p':
			if (strv_push(&o->playbooks, optarg) < 0)
				return -ENOMEM;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vigild: unexpected argument \"%s\"\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
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

static int load_config(struct manager *m)
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

static void on_alert(void *ctx, const struct rule_meta *meta, const char *line, size_t len)
{
	struct manager *m = ctx;

	respond_alert(m->respond, meta, line, len);
}

static int setup(struct manager *m)
{
	char buf[128], cgroot[256];
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
		r = control_new(m->cfg->socket_path, NULL, on_command, m, &m->control);
	if (r < 0)
		return log_error_errno(r, "cannot create control socket %s", m->cfg->socket_path);
	return 0;
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
	probes_load_watches(m->probes, m->cfg);
	json_decref(reload_rules(m, NULL)); /* the reply is for the CLI only */
}

/* SIGHUP (peer NULL) or `vigil rules reload`: recorded in the stream either way. */
static json_t *reload_rules(struct manager *m, const struct control_peer *peer)
{
	char err[512] = "";
	int r = detect_reload(m->detect, m->cfg, err, sizeof(err));

	if (r == 0)
		r = respond_reload(m->respond, m->cfg, err, sizeof(err));
	json_t *st = detect_stats(m->detect);
	json_t *who = json_pack("{s:s}", "via", peer ? "cli" : "sighup");
	json_t *a = json_pack("{s:O, s:o}", "rules", st, "by", who);

	if (peer) {
		json_object_set_new(who, "uid", json_integer(peer->uid));
		json_object_set_new(who, "pid", json_integer(peer->pid));
	}
	if (r < 0) {
		log_error("rules reload failed, keeping the running rules: %s", err);
		json_object_set_new(a, "error", json_string(err));
	}
	emit_health(m, "state", "change", r < 0 ? "rules-reload-failed" : "rules-reload", a);
	if (r < 0) {
		json_decref(st);
		return json_pack("{s:b, s:s}", "ok", 0, "error", err);
	}
	a = json_pack("{s:b, s:O}", "ok", 1, "rules", json_object_get(st, "rules"));
	json_decref(st);
	return a;
}

static int run_loop(struct manager *m)
{
	struct itimerspec its = {{TICK_MS / 1000, 0}, {TICK_MS / 1000, 0}};
	struct epoll_event evs[5];
	_cleanup_close_ int ep = epoll_create1(EPOLL_CLOEXEC);
	_cleanup_close_ int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	_cleanup_close_ int sfd = -1;
	sigset_t mask;
	int fds[5];

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
	for (int i = 0; i < 5; i++) {
		struct epoll_event e = {.events = EPOLLIN, .data.fd = fds[i]};

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
			else if (read(tfd, &ticks, sizeof(ticks)) > 0)
				on_tick(m);
		}
		if (m->sinks.to_stdout)
			fflush(stdout);
	}
	return 0;
}

static void teardown(struct manager *m)
{
	if (m->probes && m->ecs) {
		probes_drain(m->probes); /* what is already in the buffer still counts */
		check_drops(m);
		emit_health(m, "state", "end", "agent-stop", counters_json(m));
	}
	sinks_flush(&m->sinks);
	m->control = control_free(m->control);
	m->probes = probes_free(m->probes);
	m->detect = detect_free(m->detect);
	m->respond = respond_free(m->respond);
	sinks_free_recent(&m->sinks);
	m->sniff = sniff_free(m->sniff);
	m->ecs = ecs_free(m->ecs);
	m->en = enrich_free(m->en);
	m->pc = proc_cache_free(m->pc);
	m->sinks.file = file_sink_close(m->sinks.file);
	m->cfg = config_free(m->cfg);
	strv_clear(&m->opt.rules);
	strv_clear(&m->opt.playbooks);
	if (m->lock_fd >= 0)
		close(m->lock_fd);
}

/* vigild --teardown: what the kernel still enforces for vigil, undone. */
static int undo_containment(struct manager *m)
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

int main(int argc, char **argv)
{
	struct manager m = {.lock_fd = -1};
	int r;

	log_set_prefix("vigild");
	/* a client, webhook or script that goes away costs an EPIPE, never the daemon */
	signal(SIGPIPE, SIG_IGN);
	if (parse_args(argc, argv, &m.opt) < 0)
		return 2;
	if (load_config(&m) < 0) {
		config_free(m.cfg);
		return 1;
	}
	if (m.opt.check) {
		r = detect_check(m.cfg, &m.opt.rules);
		if (r == 0)
			r = respond_check(m.cfg, &m.opt.playbooks);
		if (r == 0)
			printf("configuration OK (%s)\n",
			       m.cfg->source ? m.cfg->source : "defaults");
		config_free(m.cfg);
		strv_clear(&m.opt.rules);
		strv_clear(&m.opt.playbooks);
		return r < 0 ? 1 : 0;
	}
	if (geteuid() != 0) {
		log_error("must run as root: vigild loads eBPF programs (try: sudo vigild)");
		config_free(m.cfg);
		return 1;
	}
	if (m.opt.teardown) {
		r = undo_containment(&m);
		if (m.lock_fd >= 0)
			close(m.lock_fd);
		config_free(m.cfg);
		return r < 0 ? 1 : 0;
	}
	m.started_boot_ns = m.last_heartbeat_ns = clock_ns(CLOCK_BOOTTIME);
	r = setup(&m);
	if (r == 0) {
		const struct probes_info *pi = probes_info(m.probes);

		log_info("started: %s; BPF-LSM %s; fentry %s; %u probes attached, %u skipped",
			 pi->mechanisms, pi->lsm, pi->fentry, pi->attached, pi->skipped);
		emit_start(&m);
		sinks_flush(&m.sinks);
		/* loading parsed the kernel's BTF several times: hand that heap back */
		malloc_trim(0);
		r = run_loop(&m);
	}
	teardown(&m);
	return r < 0 ? 1 : 0;
}
