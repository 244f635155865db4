/* SPDX-License-Identifier: GPL-2.0 */
/*
 * proc_cache.h — what vigil knows about each live process.
 *
 * Owns: the pid → struct proc table, seeding from /proc at start, updates
 * from exec/fork/exit events, reading /proc on a miss (counted), ancestry,
 * entity ids (stable across PID reuse: derived from boot id, pid and start
 * time, so a restarted agent gives the same id), expiry of exited
 * processes after a grace period, a cap on entries (new ones refused when
 * full, counted) and the resync from /proc that forgets processes whose
 * exit event was lost. Does not decide workload tags (enrich.c), nor when
 * to resync (the daemon: after ring-buffer drops, or when crowded).
 *
 * Stage sense/: includes core/ only; does not write the stream, decide alerts or act.
 */
#ifndef VIGIL_PROC_CACHE_H
#define VIGIL_PROC_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "sense/cgroup.h"

#define PROC_ARGS_MAX 4096 /* bytes of argv kept per cached process */

enum proc_flags {
	PROC_INFERENCE = 1 << 0,      /* matched an inference workload selector */
	PROC_INFERENCE_TREE = 1 << 1, /* an ancestor is an inference workload */
	PROC_GPU = 1 << 2,	      /* opened a GPU device node */
	PROC_EXITED = 1 << 3,
	PROC_ARGS_TRUNC = 1 << 4,
	PROC_FROM_PROCFS = 1 << 5, /* learned from /proc, not from an exec event */
	PROC_EXE_DELETED = 1 << 6,
	PROC_EXE_MEMFD = 1 << 12, /* runs from a memfd: no file anywhere (fileless) */
	PROC_RUNTIME_WORKER =
	    1 << 7, /* a multiprocessing helper of a trusted workload (enrich.c) */
};

/*
 * How the workload a process is, or descends from, was recognised; weakest
 * first. argv and comm are what anyone can type; a root-owned executable,
 * a cgroup and a systemd unit need root to forge. Rules grant trust only to
 * the strong ones (WORKLOAD_MATCH_STRONG and above).
 */
enum workload_match {
	WL_NONE,
	WL_ARGV,   /* a command_lines substring in argv */
	WL_COMM,   /* an executables name, but the file is not root-owned and safe */
	WL_EXE,	   /* an executables name on a root-owned, not g/o-writable path */
	WL_CGROUP, /* a cgroups glob on the v2 path */
	WL_UNIT,   /* a units glob on the systemd unit of the v2 path */
};
#define WORKLOAD_MATCH_STRONG WL_EXE
/* "argv", "comm", "exe", "cgroup", "unit" ("none"): vigil.workload.match */
const char *workload_match_name(unsigned m);

struct proc {
	uint32_t pid, ppid;
	uint32_t sid; /* session leader (0: unknown) */
	uint32_t uid, gid;
	uint64_t start_ns; /* CLOCK_BOOTTIME */
	uint64_t exit_ns;
	uint64_t cgroup_id;
	uint32_t flags;
	uint8_t match;	    /* enum workload_match: own, or the strongest of its workload tree */
	char entity_id[33]; /* "" until proc_cache_entity_id() fills it */
	char name[17];
	char *exe;
	char *args; /* NUL-separated */
	size_t args_len;
	char *cgroup; /* v2 path */
	struct container_info container;
	/* serialisation caches (ecs.c): filled on first use, dropped with args */
	struct json_frag {
		char *s;
		size_t len;
		bool lossy;
	} args_json,	/* "args":[...],"args_count":N,"command_line":"..." */
	    brief_json, /* pid, entity_id, name, executable, args…, start */
	    anc_json,	/* "ancestors":[...] */
	    rule_args;	/* for rules (event_view.c): redacted argv, NUL-separated, then
			   the command line; len = bytes of the argv part */
	char start_str[40];
	struct proc *next; /* hash chain */
};

struct proc_cache_stats {
	uint64_t entries, misses, loaded, evicted, cgroup_reads;
	uint64_t max, refused;		  /* the cap, and entries not made because of it */
	uint64_t resyncs, resync_dropped; /* sweeps against /proc, and lost exits they found */
};

struct proc_cache;

/* proc_root is "/proc" except in tests. */
int proc_cache_new(const char *proc_root, const char *boot_id, struct proc_cache **ret);
struct proc_cache *proc_cache_free(struct proc_cache *pc);
int proc_cache_seed(struct proc_cache *pc);
struct proc *proc_cache_get(struct proc_cache *pc, uint32_t pid);
/* get, or read /proc/PID on a miss (counted); NULL if the process is gone */
struct proc *proc_cache_get_or_load(struct proc_cache *pc, uint32_t pid);
struct proc *proc_cache_exec(struct proc_cache *pc, uint32_t pid, uint32_t ppid, uint64_t start_ns,
			     uint64_t cgroup_id, const char *comm, const char *exe, size_t exe_len,
			     const char *args, size_t args_len, bool args_trunc);
/* Container/cgroup info for cgroup_id: cached per cgroup, /proc read on a new one. */
void proc_cache_set_cgroup(struct proc_cache *pc, struct proc *p, uint64_t cgroup_id);
const char *proc_cache_entity_id(struct proc_cache *pc, const struct proc *p);
struct proc *proc_cache_fork(struct proc_cache *pc, uint32_t pid, uint32_t ppid, uint64_t start_ns);
void proc_cache_exit(struct proc_cache *pc, uint32_t pid, uint64_t ts_ns);
/* drop processes that exited more than grace_ns before now_ns */
void proc_cache_expire(struct proc_cache *pc, uint64_t now_ns, uint64_t grace_ns);
/* At most max entries (default PROC_CACHE_MAX_DEFAULT, config.h); past it new ones are refused. */
void proc_cache_set_max(struct proc_cache *pc, unsigned max);
/*
 * Drop the processes cached as running that /proc no longer has, or has
 * with another start time (PID reused): their exit event was lost. One
 * read of /proc/PID/stat per such entry. Returns how many were dropped.
 */
unsigned proc_cache_resync(struct proc_cache *pc);
/* parent chain, nearest first; returns how many were found (<= max) */
unsigned proc_cache_ancestors(struct proc_cache *pc, const struct proc *p, const struct proc **out,
			      unsigned max);
/* (Re)read /proc/PID/cgroup into p (container id, v2 path). */
void proc_cache_read_cgroup(struct proc_cache *pc, struct proc *p);
void proc_cache_stats(const struct proc_cache *pc, struct proc_cache_stats *ret);
/* The /proc this cache reads ("/proc" except in tests). */
const char *proc_cache_root(const struct proc_cache *pc);
/* Nanoseconds per clock tick: /proc/PID/stat's start time × this = start_ns. */
uint64_t proc_cache_ns_per_tick(const struct proc_cache *pc);
/* Call fn for every cached process. */
void proc_cache_foreach(struct proc_cache *pc, void (*fn)(struct proc *p, void *ctx), void *ctx);
/* Forget the cached JSON of p (its argv or identity changed). */
void proc_drop_json(struct proc *p);

#endif
