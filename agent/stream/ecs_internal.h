/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ecs_internal.h — stream: the ECS writer's state, shared by ecs.c (the
 * envelope, files, network, ptrace, state events) and ecs_process.c (the
 * process, its argv and ancestry, rendered once per process and cached).
 * Other modules use ecs.h.
 *
 * Stage stream/: includes core/ and sense/; does not decide (detect) or act.
 */
#ifndef VIGIL_ECS_INTERNAL_H
#define VIGIL_ECS_INTERNAL_H

#include <stdint.h>
#include <time.h>

#include "stream/ecs.h"
#include "stream/json_writer.h"

#define MAX_ANCESTORS 8

struct ecs_writer {
	time_t ts_sec; /* second whose "YYYY-MM-DDTHH:MM:SS." is in ts_prefix */
	char ts_prefix[32];
	size_t ts_len;
	char host_name[256];
	char run_id[17];
	uint64_t seq;
	int64_t boot_to_real_ns;
	struct proc_cache *pc;
	/*
	 * Two buffers: a kernel event's line is read by every rule that matches it
	 * while the response stage writes audit lines (agent lines) for the first
	 * alert, so agent lines must never reuse (or reallocate) the event's.
	 */
	struct jw ev, agent;
};

size_t ecs_format_time(struct ecs_writer *w, uint64_t boot_ns, char *buf);
void ecs_put_time(struct jw *j, const char *key, struct ecs_writer *w, uint64_t boot_ns);
void ecs_put_process(struct jw *j, struct ecs_writer *w, const struct vigil_event *ev);
void ecs_put_ancestry(struct jw *j, struct ecs_writer *w, const struct vigil_event *ev);

#endif
