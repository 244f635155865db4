/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ecs.h — the event stream's JSON (the SIEM contract, see README "Event schema").
 *
 * Owns: ECS field names and values, event.id and event.sequence, wall-clock
 * conversion of kernel timestamps, and the rule that the `vigil` object is
 * the last member of every line (the file sink appends its hash chain
 * there). Two reusable buffers, no allocation per event: one for kernel
 * events, one for agent lines, so an event's line outlives the audit lines
 * written while its alerts are answered.
 *
 * Stage stream/: includes core/ and sense/; does not decide (detect) or act.
 */
#ifndef VIGIL_ECS_H
#define VIGIL_ECS_H

#include <stddef.h>
#include <stdint.h>

#include "sense/event.h"
#include "stream/json_writer.h"
#include "sense/proc_cache.h"

#define ECS_VERSION "9.4.0"

struct ecs_writer;

int ecs_new(const char *host_name, const char *boot_id, struct proc_cache *pc,
	    struct ecs_writer **ret);
struct ecs_writer *ecs_free(struct ecs_writer *w);
/* Re-read CLOCK_REALTIME - CLOCK_BOOTTIME (after clock steps). */
void ecs_sync_clock(struct ecs_writer *w);
uint64_t ecs_next_sequence(const struct ecs_writer *w);

/* event.id of the line just written ("RUNID-SEQ"). */
size_t ecs_last_event_id(const struct ecs_writer *w, char *buf, size_t len);
/* Take the next event.sequence for a line built elsewhere (alerts); writes its event.id. */
uint64_t ecs_claim_id(struct ecs_writer *w, char *id, size_t len);
const char *ecs_host_name(const struct ecs_writer *w);
uint64_t ecs_realtime_ns(const struct ecs_writer *w, uint64_t boot_ns);

/* What the stream says about an event, for other consumers (rules). */
struct action_meta {
	const char *category, *type; /* comma-separated lists */
};
struct action_meta ecs_action_meta(const struct vigil_event *ev);
const char *ecs_open_type(const struct vigil_event *ev);
const char *ecs_net_outcome(const struct vigil_event *ev);
const char *ecs_file_kind_name(uint32_t kind);
/* "SIGTERM"; returns the length */
/* The name a signal event gives its target: vigild, or the process a SIGSYS hit. */
const char *ecs_signal_target_name(const struct vigil_event *ev);
size_t ecs_signal_name(int sig, char *buf, size_t len);
/* attach, seize, process_vm_readv, process_vm_writev */
const char *ecs_ptrace_request_name(uint32_t request);
/* name, directory and extension of a path, as file.* shows them (NULL p: none) */
void ecs_path_parts(struct vstr path, struct vstr *name, struct vstr *dir, struct vstr *ext);

/*
 * A kernel event. The line (no '\n') is valid until the next ecs_format_event,
 * whatever agent lines (ecs_begin … ecs_end) are written meanwhile.
 */
void ecs_format_event(struct ecs_writer *w, const struct vigil_event *ev, const char **line,
		      size_t *len);

/*
 * Agent events (state/metric): ecs_begin writes the envelope and returns the
 * writer for ECS members; ecs_vigil opens the `vigil` object; ecs_end closes.
 * ts_boot_ns 0 = now. The line is valid until the next ecs_begin.
 */
struct jw *ecs_begin(struct ecs_writer *w, uint64_t ts_boot_ns, const char *kind,
		     const char *category, const char *type, const char *action);
/* The same, now, with event.outcome (success, failure, unknown). */
struct jw *ecs_begin_outcome(struct ecs_writer *w, const char *kind, const char *category,
			     const char *type, const char *action, const char *outcome);
struct jw *ecs_vigil(struct ecs_writer *w);
void ecs_end(struct ecs_writer *w, const char **line, size_t *len);
/*
 * A watch vigil added or removed on its own (action "watch-added" or
 * "watch-removed"): vigil.watch.path, .kind, .reason. A whole agent line.
 */
void ecs_watch_change(struct ecs_writer *w, const char *action, const char *path, const char *kind,
		      const char *reason, const char **line, size_t *len);

#endif
