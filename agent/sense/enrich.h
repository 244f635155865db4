/* SPDX-License-Identifier: GPL-2.0 */
/*
 * enrich.h — attach process context to a decoded event.
 *
 * Owns: applying exec/fork/exit to the process cache, the workload tags
 * (inference by executable / command line / cgroup selectors from config,
 * launchers excepted; GPU once a process opens a GPU device node) and
 * ev->proc. Does not format anything (ecs.c) or touch the kernel.
 *
 * Stage sense/: includes core/ only; does not write the stream, decide alerts or act.
 */
#ifndef VIGIL_ENRICH_H
#define VIGIL_ENRICH_H

#include "core/config.h"
#include "sense/event.h"
#include "sense/proc_cache.h"

struct enricher;

int enrich_new(const struct vigil_config *cfg, struct proc_cache *pc, struct enricher **ret);
struct enricher *enrich_free(struct enricher *en);
/* Returns false for events that only update state (fork) and are not emitted. */
bool enrich_event(struct enricher *en, struct vigil_event *ev);
/* Does p match the inference selectors, and is it no launcher (config
 * workloads.inference.launchers) that merely starts the workload? (exposed for tests) */
bool enrich_is_inference(const struct enricher *en, const struct proc *p);

#endif
