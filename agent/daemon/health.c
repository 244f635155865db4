// SPDX-License-Identifier: GPL-2.0
/*
 * health.c — what vigild says about itself: the counters of vigil status and
 * the heartbeat, the features in use, drops by cause turned into drop events,
 * the process cache's resync, agent-start with what the previous run left.
 */
#include <string.h>

#include "core/log.h"
#include "daemon/health.h"
#include "daemon/manager.h"
#include "daemon/models.h"

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

json_t *health_counters_json(struct manager *m)
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
	for (int i = VA_EXEC; i < VA__COUNT; i++)
		if (i != VA_FORK)
			json_object_set_new(a, vigil_action_name(i), json_integer(m->by_action[i]));
	json_object_set_new(
	    o, "events",
	    json_pack("{s:I, s:o}", "emitted", (json_int_t)m->emitted, "by_action", a));
	json_object_set_new(o, "drops", d);
	json_object_set_new(o, "inventory", models_stats(m));
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
	if (m->ship)
		json_object_set_new(o, "nats", ship_stats_json(m->ship));
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
		json_object_set_new(json_object_get(o, "model_sniff"), "exec_waits_skipped",
				    json_integer(m->exec_waits_skipped));
	}
	return o;
}

void health_emit(struct manager *m, const char *kind, const char *type, const char *action,
		 json_t *vigil_agent)
{
	struct jw *j = ecs_begin(m->ecs, 0, kind, "host", type, action);

	j = ecs_vigil(m->ecs);
	jw_json(j, "agent", vigil_agent);
	json_decref(vigil_agent);
	manager_emit_line(m);
}

json_t *health_features_json(struct manager *m)
{
	const struct probes_info *pi = probes_info(m->probes);
	const char *contain = respond_containment(m->respond);
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:i, s:i, s:{s:i, s:i, s:i, s:i}, s:s}", "mechanisms",
		      pi->mechanisms, "lsm", pi->lsm, "fentry", pi->fentry, "probes_attached",
		      pi->attached, "probes_skipped", pi->skipped, "watch", "extensions",
		      pi->watched_exts, "dirs", pi->watched_dirs, "files", pi->watched_files,
		      "gpu_majors", pi->gpu_majors, "cgroup_root", pi->cgroup_root);
	json_object_set_new(json_object_get(o, "watch"), "pending",
			    json_integer(pi->watched_pending));
	json_object_set_new(o, "typed_loads", json_string(pi->typed_loads));
	json_object_set_new(o, "raw_loads", json_string(pi->raw_loads));
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
	health_emit(m, "state", "change", "events-truncated",
		    json_pack("{s:{s:s, s:I, s:I, s:b}}", "truncated", "file", m->cfg->events_file,
			      "bytes", (json_int_t)f->torn_bytes, "at_offset",
			      (json_int_t)f->torn_at, "kept", f->torn_kept));
}

void health_emit_start(struct manager *m)
{
	const struct file_sink_found *f = m->sinks.file ? file_sink_found(m->sinks.file) : NULL;
	json_t *a = health_features_json(m);

	json_object_set_new(a, "pid", json_integer(getpid()));
	json_object_set_new(a, "config",
			    json_string(m->cfg->source ? m->cfg->source : "(defaults)"));
	if (f && f->previous)
		json_object_set_new(a, "previous", previous_run_json(f));
	if (f && f->previous && !f->tail.clean)
		log_warn("the previous run did not stop cleanly: its stream ends at sequence %llu",
			 (unsigned long long)f->tail.sequence);
	health_emit(m, "state", "start", "agent-start", a);
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

void health_check_drops(struct manager *m)
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
	health_emit(m, "metric", "info", "drop", json_pack("{s:o}", "lost", delta));
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
void health_maybe_resync(struct manager *m, uint64_t now)
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
		health_emit(m, "metric", "info", "process-cache-resync",
			    json_pack("{s:{s:i, s:I, s:s}}", "process_cache", "dropped", n,
				      "entries", (json_int_t)st.entries, "after",
				      urgent ? "lost events or a full cache" : "high water"));
}

/* Once a tick at most: a flood of keys evicting pending sequences is itself seen. */
void health_check_evictions(struct manager *m)
{
	json_t *by_rule = detect_evictions(m->detect);

	if (by_rule)
		health_emit(m, "metric", "info", "sequence-evicted",
			    json_pack("{s:{s:o}}", "rules", "sequences_evicted_by_rule", by_rule));
}

void health_check_ship(struct manager *m)
{
	json_t *gap;

	ship_dispatch(m->ship);
	while ((gap = ship_take_gap(m->ship)))
		health_emit(m, "state", "change", "fleet-gap", json_pack("{s:o}", "nats_gap", gap));
}
