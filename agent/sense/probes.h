/* SPDX-License-Identifier: GPL-2.0 */
/*
 * probes.h — the kernel side, seen from userspace.
 *
 * Owns: the BPF skeletons (process, file, net), feature probing (BPF-LSM,
 * fentry: tried by really loading and attaching), filling the filter maps
 * from config (extensions, model dirs, credential files, GPU majors), the
 * shared ring buffer, and the drop counters. Nothing else touches libbpf.
 *
 * Stage sense/: includes core/ only; does not write the stream, decide alerts or act.
 */
#ifndef VIGIL_PROBES_H
#define VIGIL_PROBES_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/abi.h"
#include "core/config.h"

struct probes;

typedef int (*probes_sample_fn)(void *ctx, void *data, size_t size);

struct probes_info {
	char mechanisms[256]; /* e.g. "tracepoints,tp_btf,cgroup_sock_addr" */
	char lsm[64];	      /* "available" / "unavailable (Operation not permitted)" */
	char fentry[64];
	char typed_loads[64]; /* bpf_rdonly_cast: the typed build of the objects, else compat */
	char raw_loads[64];   /* bpf_rdonly_cast to void: names and fd slots as plain loads */
	unsigned attached, skipped; /* programs */
	unsigned watched_exts, watched_dirs, watched_files, gpu_majors;
	unsigned watched_pending; /* configured paths not there yet (probes_pending_fd) */
	char cgroup_root[256];
	bool open_via_lsm; /* deny-path answers EPERM; otherwise kill-on-open */
};

/* contain_fds: the containment maps (see contain.h) or NULL. */
int probes_new(const struct vigil_config *cfg, const int contain_fds[7], probes_sample_fn fn,
	       void *ctx, struct probes **ret);
struct probes *probes_free(struct probes *p);
/*
 * Re-resolve watch globs into the maps (SIGHUP): new entries are added before
 * stale ones are removed, so what stays watched is never unwatched meanwhile.
 */
int probes_load_watches(struct probes *p, const struct vigil_config *cfg);
/*
 * Configured paths that do not exist yet wait on their nearest existing
 * ancestor: this fd (inotify) is readable when something appears there, and
 * a creating open directly in it comes as an open of kind VGL_KIND_PENDING.
 * Either way the owner reloads the watches; probes_promoted then lists the
 * pending paths that are there now (watched from then on).
 */
int probes_pending_fd(const struct probes *p);
bool probes_pending_changed(struct probes *p); /* drains the fd */
const struct strv *probes_promoted(const struct probes *p);
/* Is path (n bytes) one of the configured paths still awaited? */
bool probes_awaits(const struct probes *p, const char *path, size_t n);
/* The kind a file has now (files map, or a VGL_DIR_ALL parent); 0: not watched. */
uint32_t probes_watched_kind(struct probes *p, uint64_t ino, uint32_t dev, const char *path);
/*
 * A watch that is no config's (a workload's model dir or token): a model
 * dir (dir) or a file of VGL_KIND_* kind, added to the live maps at once
 * and kept by every reload until probes_extra_del, which restages the
 * maps so that what config also watches stays watched.
 */
int probes_extra_add(struct probes *p, const char *path, bool dir, uint32_t kind);
int probes_extra_del(struct probes *p, const char *path);
/*
 * Watch GPU drivers that registered a major since (devices.h): nvidia-uvm is
 * often loaded by the first CUDA program, after vigild. Called on the tick.
 */
void probes_watch_gpu_drivers(struct probes *p);
int probes_drain(struct probes *p);
/* Attach (on) or detach the syscall check for processes confined by `vigil exec`. */
int probes_seccomp_check(struct probes *p, bool on);
int probes_epoll_fd(struct probes *p);
/* Sum of the per-CPU drop counters, indexed by VGL_DROP_*. */
void probes_drops(struct probes *p, uint64_t out[VGL_DROP_NR]);
const struct probes_info *probes_info(const struct probes *p);

/* VGL_KIND_* of a canonical absolute path in the watched paths, 0 if none. */
uint32_t probes_path_kind(const struct probes *p, const char *path);

#endif
