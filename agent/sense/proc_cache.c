// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sense/proc_cache.h"
#include "core/util.h"

#define NBUCKETS 16384
#define NCGROUPS 1024 /* cgroup id → container info, direct-mapped */

/* What /proc/PID/cgroup said for a cgroup id: read once per cgroup, not per exec. */
struct cgroup_entry {
	uint64_t id;
	struct container_info container;
	char *path;
};

struct proc_cache {
	char *proc_root;
	char boot_id[64];
	uint64_t ns_per_tick;
	struct proc *buckets[NBUCKETS];
	struct cgroup_entry cgroups[NCGROUPS];
	EVP_MD_CTX *md;
	unsigned max;
	struct proc_cache_stats st;
};

int proc_cache_new(const char *proc_root, const char *boot_id, struct proc_cache **ret)
{
	struct proc_cache *pc = calloc(1, sizeof(*pc));
	long hz = sysconf(_SC_CLK_TCK);

	if (!pc)
		return -ENOMEM;
	pc->proc_root = strdup(proc_root);
	if (!pc->proc_root) {
		free(pc);
		return -ENOMEM;
	}
	snprintf(pc->boot_id, sizeof(pc->boot_id), "%s", boot_id);
	pc->md = EVP_MD_CTX_new();
	if (!pc->md) {
		free(pc->proc_root);
		free(pc);
		return -ENOMEM;
	}
	pc->ns_per_tick = 1000000000ull / (hz > 0 ? hz : 100);
	proc_cache_set_max(pc, PROC_CACHE_MAX_DEFAULT);
	*ret = pc;
	return 0;
}

void proc_drop_json(struct proc *p)
{
	free(p->args_json.s);
	free(p->brief_json.s);
	free(p->anc_json.s);
	free(p->rule_args.s);
	memset(&p->rule_args, 0, sizeof(p->rule_args));
	memset(&p->args_json, 0, sizeof(p->args_json));
	memset(&p->brief_json, 0, sizeof(p->brief_json));
	memset(&p->anc_json, 0, sizeof(p->anc_json));
}

static void proc_free(struct proc *p)
{
	free(p->exe);
	free(p->args);
	proc_drop_json(p);
	free(p->cgroup);
	free(p);
}

struct proc_cache *proc_cache_free(struct proc_cache *pc)
{
	if (!pc)
		return NULL;
	for (size_t i = 0; i < NBUCKETS; i++)
		while (pc->buckets[i]) {
			struct proc *p = pc->buckets[i];

			pc->buckets[i] = p->next;
			proc_free(p);
		}
	for (size_t i = 0; i < NCGROUPS; i++)
		free(pc->cgroups[i].path);
	EVP_MD_CTX_free(pc->md);
	free(pc->proc_root);
	free(pc);
	return NULL;
}

static void entity_id(EVP_MD_CTX *md, const char *boot_id, uint32_t pid, uint64_t start_ticks,
		      char out[33])
{
	unsigned char dg[EVP_MAX_MD_SIZE];
	unsigned int dglen = 0;
	char in[128];
	int n =
	    snprintf(in, sizeof(in), "%s:%u:%llu", boot_id, pid, (unsigned long long)start_ticks);

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, in, n);
	EVP_DigestFinal_ex(md, dg, &dglen);
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", dg[i]);
}

/* Computed when first written out: most forks never are. */
const char *proc_cache_entity_id(struct proc_cache *pc, const struct proc *cp)
{
	struct proc *p = (struct proc *)cp; /* a cache fill, not a change of the process */

	if (!p->entity_id[0])
		entity_id(pc->md, pc->boot_id, p->pid, p->start_ns / pc->ns_per_tick, p->entity_id);
	return p->entity_id;
}

/* Entity ids use clock ticks: the precision /proc gives for processes seeded at start. */
static void set_identity(struct proc_cache *pc, struct proc *p, uint32_t pid, uint64_t start_ns)
{
	p->pid = pid;
	p->start_ns = start_ns;
	p->entity_id[0] = 0;
}

struct proc *proc_cache_get(struct proc_cache *pc, uint32_t pid)
{
	struct proc *p;

	for (p = pc->buckets[pid % NBUCKETS]; p; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

static struct proc *insert(struct proc_cache *pc, uint32_t pid)
{
	struct proc *p = proc_cache_get(pc, pid);

	if (p) { /* PID reuse or re-exec: start over, keep the slot */
		free(p->exe);
		free(p->args);
		proc_drop_json(p);
		free(p->cgroup);
		struct proc *next = p->next;
		memset(p, 0, sizeof(*p));
		p->next = next;
		return p;
	}
	if (pc->st.entries >= pc->max) { /* full: lost exits, or a flood; the tick resyncs */
		pc->st.refused++;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->next = pc->buckets[pid % NBUCKETS];
	pc->buckets[pid % NBUCKETS] = p;
	pc->st.entries++;
	return p;
}

static char *dup_bytes(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

static void set_args(struct proc *p, const char *args, size_t len, bool trunc)
{
	while (len && args[len - 1] == 0)
		len--; /* trailing NULs: the kernel's argv ends in one */
	if (len > PROC_ARGS_MAX) {
		len = PROC_ARGS_MAX;
		trunc = true;
	}
	free(p->args);
	proc_drop_json(p);
	p->args = dup_bytes(args, len);
	p->args_len = p->args ? len : 0;
	if (trunc)
		p->flags |= PROC_ARGS_TRUNC;
}

/* Inherit tags from the parent: an inference server's children are its tree. */
static void inherit(struct proc_cache *pc, struct proc *p)
{
	struct proc *parent = proc_cache_get(pc, p->ppid);

	if (parent && (parent->flags & (PROC_INFERENCE | PROC_INFERENCE_TREE))) {
		p->flags |= PROC_INFERENCE_TREE;
		if (parent->match > p->match)
			p->match = parent->match;
	}
}

void proc_cache_read_cgroup(struct proc_cache *pc, struct proc *p)
{
	char path[PATH_MAX], text[8192], v2[4096];

	snprintf(path, sizeof(path), "%s/%u/cgroup", pc->proc_root, p->pid);
	if (read_file(path, text, sizeof(text)) < 0)
		return;
	cgroup_parse_proc(text, &p->container, v2, sizeof(v2));
	free(p->cgroup);
	p->cgroup = strdup(v2);
}

void proc_cache_set_cgroup(struct proc_cache *pc, struct proc *p, uint64_t cgroup_id)
{
	struct cgroup_entry *ce = &pc->cgroups[cgroup_id % NCGROUPS];

	p->cgroup_id = cgroup_id;
	if (!cgroup_id || ce->id != cgroup_id) {
		proc_cache_read_cgroup(pc, p); /* first process seen in this cgroup */
		pc->st.cgroup_reads++;
		if (!cgroup_id || !p->cgroup)
			return;
		free(ce->path);
		ce->id = cgroup_id;
		ce->container = p->container;
		ce->path = strdup(p->cgroup);
		return;
	}
	p->container = ce->container;
	free(p->cgroup);
	p->cgroup = ce->path ? strdup(ce->path) : NULL;
}

struct proc *proc_cache_exec(struct proc_cache *pc, uint32_t pid, uint32_t ppid, uint64_t start_ns,
			     uint64_t cgroup_id, const char *comm, const char *exe, size_t exe_len,
			     const char *args, size_t args_len, bool args_trunc)
{
	struct proc *old = proc_cache_get(pc, pid);
	uint32_t keep = 0;
	uint8_t keep_match = 0;
	struct proc *p;

	/*
	 * exec keeps the process (same pid and start): keep its GPU tag, and a
	 * workload that execs another program (a payload's execve("/bin/sh"))
	 * is still in the workload's tree; enrich.c decides whether the new
	 * image is the workload itself.
	 */
	if (old && old->start_ns / pc->ns_per_tick == start_ns / pc->ns_per_tick) {
		keep = old->flags & PROC_GPU;
		if (old->flags & (PROC_INFERENCE | PROC_INFERENCE_TREE)) {
			keep |= PROC_INFERENCE_TREE;
			keep_match = old->match;
		}
	}
	p = insert(pc, pid);
	if (!p)
		return NULL;
	set_identity(pc, p, pid, start_ns);
	p->ppid = ppid;
	p->flags = keep;
	p->match = keep_match;
	snprintf(p->name, sizeof(p->name), "%.16s", comm);
	p->exe = dup_bytes(exe, exe_len);
	set_args(p, args, args_len, args_trunc);
	proc_cache_set_cgroup(pc, p, cgroup_id);
	inherit(pc, p);
	return p;
}

struct proc *proc_cache_fork(struct proc_cache *pc, uint32_t pid, uint32_t ppid, uint64_t start_ns)
{
	struct proc *parent = proc_cache_get(pc, ppid);
	struct proc *p = insert(pc, pid);

	if (!p)
		return NULL;
	set_identity(pc, p, pid, start_ns);
	p->ppid = ppid;
	if (parent) { /* a fork runs the parent's image until it execs */
		memcpy(p->name, parent->name, sizeof(p->name));
		p->sid = parent->sid;
		p->uid = parent->uid;
		p->gid = parent->gid;
		p->cgroup_id = parent->cgroup_id;
		p->exe = parent->exe ? strdup(parent->exe) : NULL;
		p->args = parent->args ? dup_bytes(parent->args, parent->args_len) : NULL;
		p->args_len = p->args ? parent->args_len : 0;
		p->cgroup = parent->cgroup ? strdup(parent->cgroup) : NULL;
		p->container = parent->container;
		p->flags = parent->flags &
			   (PROC_INFERENCE | PROC_INFERENCE_TREE | PROC_GPU | PROC_ARGS_TRUNC);
		p->match = parent->match;
	}
	inherit(pc, p);
	return p;
}

void proc_cache_exit(struct proc_cache *pc, uint32_t pid, uint64_t ts_ns)
{
	struct proc *p = proc_cache_get(pc, pid);

	if (p) {
		p->flags |= PROC_EXITED;
		p->exit_ns = ts_ns;
	}
}

/* Free every entry drop() says to; returns how many. */
static unsigned sweep(struct proc_cache *pc,
		      bool (*drop)(struct proc_cache *pc, struct proc *p, void *ctx), void *ctx)
{
	unsigned n = 0;

	for (size_t i = 0; i < NBUCKETS; i++) {
		struct proc **pp = &pc->buckets[i];

		while (*pp) {
			struct proc *p = *pp;

			if (drop(pc, p, ctx)) {
				*pp = p->next;
				proc_free(p);
				pc->st.entries--;
				n++;
			} else {
				pp = &p->next;
			}
		}
	}
	return n;
}

struct expiry {
	uint64_t now_ns, grace_ns;
};

static bool exited_long_ago(struct proc_cache *pc, struct proc *p, void *ctx)
{
	const struct expiry *x = ctx;

	return (p->flags & PROC_EXITED) && p->exit_ns + x->grace_ns <= x->now_ns;
}

void proc_cache_expire(struct proc_cache *pc, uint64_t now_ns, uint64_t grace_ns)
{
	struct expiry x = {now_ns, grace_ns};

	pc->st.evicted += sweep(pc, exited_long_ago, &x);
}

/* /proc/PID/stat: comm may hold spaces and ')', so parse from the last ')'. */
static int parse_stat(const char *text, char *comm, size_t clen, uint32_t *ppid, uint32_t *sid,
		      uint64_t *start_ticks)
{
	const char *l = strchr(text, '('), *r = strrchr(text, ')');
	unsigned long long v[20];
	int ppid_i;

	if (!l || !r || r < l)
		return -EINVAL;
	snprintf(comm, clen, "%.*s", (int)(r - l - 1), l + 1);
	/* after ')': state(3) ppid(4) ... starttime(22) */
	if (sscanf(r + 2,
		   "%*c %d %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu "
		   "%llu %llu %llu %llu",
		   &ppid_i, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9],
		   &v[10], &v[11], &v[12], &v[13], &v[14], &v[15], &v[16], &v[17]) != 19)
		return -EINVAL;
	*ppid = ppid_i;
	*sid = v[1]; /* pgrp(5) session(6) */
	*start_ticks = v[17];
	return 0;
}

static void parse_status_ids(const char *text, uint32_t *uid, uint32_t *gid)
{
	const char *u = strstr(text, "\nUid:"), *g = strstr(text, "\nGid:");

	if (u)
		*uid = strtoul(u + 5, NULL, 10);
	if (g)
		*gid = strtoul(g + 5, NULL, 10);
}

static struct proc *load(struct proc_cache *pc, uint32_t pid)
{
	char path[PATH_MAX], text[8192], comm[64], exe[PATH_MAX];
	uint64_t ticks;
	uint32_t ppid, sid;
	ssize_t n;
	struct proc *p;

	snprintf(path, sizeof(path), "%s/%u/stat", pc->proc_root, pid);
	if (read_file(path, text, sizeof(text)) < 0 ||
	    parse_stat(text, comm, sizeof(comm), &ppid, &sid, &ticks) < 0)
		return NULL;
	p = insert(pc, pid);
	if (!p)
		return NULL;
	set_identity(pc, p, pid, ticks * pc->ns_per_tick);
	p->ppid = ppid;
	p->sid = sid;
	p->flags = PROC_FROM_PROCFS;
	snprintf(p->name, sizeof(p->name), "%.16s", comm);
	snprintf(path, sizeof(path), "%s/%u/exe", pc->proc_root, pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		if (str_has_suffix(exe, " (deleted)")) {
			exe[n - 10] = 0;
			p->flags |= PROC_EXE_DELETED;
		}
		if (!strncmp(exe, "/memfd:", 7) && (p->flags & PROC_EXE_DELETED))
			p->flags |= PROC_EXE_MEMFD;
		p->exe = strdup(exe);
	}
	snprintf(path, sizeof(path), "%s/%u/cmdline", pc->proc_root, pid);
	n = read_file(path, text, sizeof(text));
	if (n > 0)
		set_args(p, text, n, (size_t)n >= sizeof(text) - 1);
	snprintf(path, sizeof(path), "%s/%u/status", pc->proc_root, pid);
	if (read_file(path, text, sizeof(text)) > 0)
		parse_status_ids(text, &p->uid, &p->gid);
	proc_cache_read_cgroup(pc, p);
	pc->st.loaded++;
	return p;
}

/* Cached as running, but /proc has no such process, or one that started at another time. */
static bool exit_lost(struct proc_cache *pc, struct proc *p, void *ctx)
{
	char path[PATH_MAX], text[1024], comm[64];
	uint32_t ppid, sid;
	uint64_t ticks;

	if (p->flags & PROC_EXITED)
		return false; /* its exit was seen: expiry's business */
	snprintf(path, sizeof(path), "%s/%u/stat", pc->proc_root, p->pid);
	if (read_file(path, text, sizeof(text)) < 0 ||
	    parse_stat(text, comm, sizeof(comm), &ppid, &sid, &ticks) < 0)
		return true;
	return ticks != p->start_ns / pc->ns_per_tick;
}

unsigned proc_cache_resync(struct proc_cache *pc)
{
	unsigned n = sweep(pc, exit_lost, NULL);

	pc->st.resyncs++;
	pc->st.resync_dropped += n;
	return n;
}

void proc_cache_set_max(struct proc_cache *pc, unsigned max)
{
	pc->max = max ? max : 1;
	pc->st.max = pc->max;
}

struct proc *proc_cache_get_or_load(struct proc_cache *pc, uint32_t pid)
{
	struct proc *p = proc_cache_get(pc, pid);

	if (p || pid == 0)
		return p;
	pc->st.misses++;
	p = load(pc, pid);
	if (p)
		inherit(pc, p);
	return p;
}

int proc_cache_seed(struct proc_cache *pc)
{
	DIR *d = opendir(pc->proc_root);
	struct dirent *de;
	unsigned n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);

		if (*end || !isdigit((unsigned char)de->d_name[0]))
			continue;
		if (load(pc, pid))
			n++;
	}
	closedir(d);
	pc->st.loaded = 0; /* seeding is not a miss */
	return n;
}

unsigned proc_cache_ancestors(struct proc_cache *pc, const struct proc *p, const struct proc **out,
			      unsigned max)
{
	unsigned n = 0;

	while (p && n < max && p->ppid && p->ppid != p->pid) {
		p = proc_cache_get(pc, p->ppid);
		if (!p)
			break;
		out[n++] = p;
	}
	return n;
}

void proc_cache_foreach(struct proc_cache *pc, void (*fn)(struct proc *p, void *ctx), void *ctx)
{
	for (size_t i = 0; i < NBUCKETS; i++)
		for (struct proc *p = pc->buckets[i]; p; p = p->next)
			fn(p, ctx);
}

const char *workload_match_name(unsigned m)
{
	static const char *const names[] = {[WL_ARGV] = "argv",
					    [WL_COMM] = "comm",
					    [WL_EXE] = "exe",
					    [WL_CGROUP] = "cgroup",
					    [WL_UNIT] = "unit"};

	return m < ARRAY_SIZE(names) && names[m] ? names[m] : "none";
}

const char *proc_cache_root(const struct proc_cache *pc)
{
	return pc->proc_root;
}

uint64_t proc_cache_ns_per_tick(const struct proc_cache *pc)
{
	return pc->ns_per_tick;
}

void proc_cache_stats(const struct proc_cache *pc, struct proc_cache_stats *ret)
{
	*ret = pc->st;
}
