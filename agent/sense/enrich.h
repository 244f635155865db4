/* SPDX-License-Identifier: GPL-2.0 */
/*
 * enrich.h — attach process context to a decoded event.
 *
 * Owns: applying exec/fork/exit to the process cache, the workload tags
 * (inference by executable / command line / cgroup / unit selectors from
 * config, launchers excepted, with how strongly each matched: a root-owned
 * executable, cgroup or unit is strong, a name or argv is weak; GPU once a
 * process opens a GPU device node; multiprocessing's exact helper argv) and
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
/*
 * Does p match the inference selectors, and how strongly (enum
 * workload_match; WL_NONE for a launcher, config workloads.inference.launchers,
 * that merely starts the workload)? The one place this is decided.
 */
enum workload_match enrich_workload_match(const struct enricher *en, const struct proc *p);
/* Is p's argv exactly what CPython builds for a multiprocessing helper? (Trust is the caller's.) */
bool enrich_is_runtime_worker_argv(const struct proc *p);
/* Tag p from it: PROC_INFERENCE, p->match, PROC_RUNTIME_WORKER (exec, and the /proc seed). */
void enrich_tag(const struct enricher *en, struct proc *p);

#endif
