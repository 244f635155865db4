/* SPDX-License-Identifier: GPL-2.0 */
/*
 * workload_watch.h — model and credential paths inference workloads name
 * themselves (enrich stage, after enrich.c has recognised the workload).
 *
 * Owns: reading a recognised workload's /proc/PID/environ once, keeping
 * ONLY the variables listed in workload_watch.c (never any other value;
 * HF_TOKEN_PATH is a path, the token itself is never read), its argv's
 * --model-like flags; deriving the directories and files they mean
 * (HF_HOME/hub, HF_HOME/token, OLLAMA_MODELS, TORCH_HOME/hub, ...);
 * refusing what is not a clean, existing absolute path or is too broad to
 * watch ("/", /proc, /tmp, ...); refcounting each path by the workloads
 * that use it, within a bound (the rest is counted as refused).
 * Does not touch the kernel maps nor write events: the change callback
 * (vigild: probes.c and ecs.c) does both.
 *
 * Stage sense/: includes core/ only; does not write the stream, decide alerts or act.
 */
#ifndef VIGIL_WORKLOAD_WATCH_H
#define VIGIL_WORKLOAD_WATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "sense/event.h"
#include "sense/proc_cache.h"

#define WW_MAX_DEFAULT	256	     /* distinct paths watched for workloads at most */
#define WW_PER_WORKLOAD 16	     /* paths one workload may add */
#define WW_PATH_MAX	1024	     /* longer values are refused */
#define WW_ENVIRON_MAX	(256u << 10) /* /proc/PID/environ read up to this */

enum ww_kind { WW_MODEL_DIR, WW_MODEL_FILE, WW_CREDENTIAL };

/* One path a workload names, and why (e.g. "HF_HOME", "--model"). */
struct ww_found {
	char path[WW_PATH_MAX];
	enum ww_kind kind;
	char source[32];
};

/*
 * A path added (added true) or dropped: the callback applies it and says
 * so. A negative return on an add refuses the path (counted, not kept).
 */
typedef int (*ww_change_fn)(void *ctx, bool added, const char *path, enum ww_kind kind,
			    const char *reason);

struct workload_watch;

/* proc_root is "/proc" except in tests; max is the bound on distinct paths. */
int workload_watch_new(const char *proc_root, unsigned max, ww_change_fn fn, void *ctx,
		       struct workload_watch **ret);
struct workload_watch *workload_watch_free(struct workload_watch *ww);
/* An enriched exec (the workload's paths taken or given back) or exit (given back). */
void workload_watch_event(struct workload_watch *ww, const struct vigil_event *ev);
/* p is an inference workload (seen at start, or exec'd): watch what it names. */
void workload_watch_add(struct workload_watch *ww, const struct proc *p);
/* Give back what processes no longer in the cache held (their exit was lost). */
void workload_watch_expire(struct workload_watch *ww, struct proc_cache *pc);
/* For `vigil status`: {"active": [{path, kind, reason, users}], "refused": N, "max": N}. */
json_t *workload_watch_json(const struct workload_watch *ww);
const char *workload_watch_kind_name(enum ww_kind kind);
/*
 * What p's environment (proc_root/PID/environ) and argv name, cleaned and
 * checked: at most max entries in out; *refused counts the values that
 * were refused. Returns how many were found (exposed for tests).
 */
unsigned workload_watch_derive(const char *proc_root, const struct proc *p, struct ww_found *out,
			       unsigned max, unsigned *refused);

#endif
