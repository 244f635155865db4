/* SPDX-License-Identifier: GPL-2.0 */
/*
 * manager.h — daemon: the manager that ties the stages together (probes →
 * decode → enrich → ecs → sinks → detect → respond), owned by vigild's main.
 * The struct is the daemon's own (health.c reads its counters); no other
 * stage includes this header.
 *
 * Stage daemon/: includes any stage (the top); does not detect or act: it wires the stages.
 */
#ifndef VIGIL_MANAGER_H
#define VIGIL_MANAGER_H

#include <stdbool.h>
#include <stdint.h>

#include "sense/cgroup.h"
#include "confine/contain.h"
#include "core/config.h"
#include "daemon/control.h"
#include "daemon/heap.h"
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

struct models;

#define BACKLOG_MAX (16u << 20)

struct vigild_options {
	const char *config;
	const char *socket;
	const char *state_dir;
	const char *events;
	bool stdout_stream, check, teardown;
	struct strv rules;     /* --rules, repeatable */
	struct strv playbooks; /* --playbooks, repeatable */
};

struct manager {
	struct vigild_options opt;
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
	struct workload_watch *ww;
	struct models *models; /* the model inventory (daemon/models.h) */
	struct ship *ship;     /* NULL: no output.nats */
	char boot_id[64];
	char host_name[256];
	uint64_t started_boot_ns, last_heartbeat_ns, last_metrics_ns;
	struct heap_trim heap; /* trims the heap once a burst is over (daemon/heap.h) */
	/* how long execs may still wait for model verdicts this tick (EXEC_WAIT_BUDGET_MS) */
	uint64_t exec_wait_left_ns, exec_waits_skipped;
	uint64_t by_action[VA__COUNT];
	uint64_t decode_errors, emitted;
	uint64_t drops_reported[VGL_DROP_NR];
	uint64_t sink_drops_reported;
	uint64_t last_resync_ns, refused_at_resync;
	bool resync_wanted; /* process events were lost: exits may be missing */
	int lock_fd;
	bool stop, metrics_failed;
	struct rcmd_guard *fleet_guard; /* fleet_cmd.c: signed remote commands (NULL: none) */
};

/* The config file (or the defaults) with the command line's overrides; 0 or -errno (logged). */
int manager_load_config(struct manager *m);
/* Set up every stage, report agent-start, serve until SIGTERM/SIGINT; 0 or -errno. */
int manager_run(struct manager *m);
/* Stop and free every stage (also after a failed setup). */
void manager_teardown(struct manager *m);
/* vigild --teardown: undo every containment, unpin the programs. */
int manager_undo_containment(struct manager *m);
/* The ECS line being built in m->ecs's agent buffer, to the sinks. */
void manager_emit_line(struct manager *m);

#endif
