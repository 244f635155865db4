/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sniff.h — what a model file really is, from its first bytes.
 *
 * Owns: format detection from a file's first 4 KiB (safetensors, GGUF,
 * pickle, PyTorch zip with data.pkl, zip, HDF5, NumPy, TFLite, ELF and the
 * compressors), whether that agrees with the extension, a small pool of
 * worker threads that read off the event loop, a bounded request queue
 * (overflow counted), a cache by inode+size+mtime and one result per file
 * version and process. Emitting events is the caller's business; so is
 * looking deeper: an inspector the caller sets runs in the worker on the
 * verified, open file (the model inventory reads headers and pickles there).
 *
 * A worker cannot be misdirected: the path is resolved with openat2 inside
 * the opener's root (/proc/PID/root, RESOLVE_IN_ROOT), through no symlink
 * and no magic link (the kernel resolved the event's path already: a
 * symlink now is a swap), to an O_PATH descriptor (opening nothing: no FIFO,
 * no device); it must be a regular file with the event's inode (and device,
 * where the filesystem reports the kernel's), on a local filesystem (NFS,
 * FUSE, SMB, 9p, Ceph… refused unless allowed) before it is reopened to
 * read. Nor wedged: a job running past the deadline (a hung mount) is
 * abandoned and counted at the next sniff_tick, and its worker replaced.
 *
 * Stage sense/: includes core/ only; does not write the stream, decide alerts or act.
 */
#ifndef VIGIL_SNIFF_H
#define VIGIL_SNIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNIFF_PATH_MAX 4096

struct sniff_job {
	/* request: the open event's identity */
	uint32_t pid, tid, uid, gid;
	uint64_t cgroup_id, ts_boot_ns, ino;
	uint32_t dev; /* kernel encoding: major << 20 | minor */
	uint32_t kind;
	bool host_root; /* not in a container: the path may be read as is once it exits */
	char path[SNIFF_PATH_MAX];
	/* result */
	const char *format;   /* static string, see sniff_format() */
	const char *expected; /* what the extension promises ("" when anything goes) */
	bool mismatch, pickle;
	uint64_t size;	  /* the file as read (or as cached) */
	int64_t mtime_ns; /* its st_mtim */
	void *detail;	  /* the inspector's result: the caller's to free (sniff_set_inspect) */
};

/*
 * Runs in a worker on the file the job names, opened read-only and checked,
 * when its format was read (not for a cached answer); may set job->detail.
 */
typedef void (*sniff_inspect_fn)(void *ctx, int fd, struct sniff_job *job);

struct sniff_stats {
	uint64_t requests, read, cached, skipped_fs, failed, queue_full;
	uint64_t refused;   /* not the file the event saw: symlink, other inode, not regular */
	uint64_t timed_out; /* jobs abandoned at the deadline (their workers replaced) */
	uint64_t stuck;	    /* abandoned workers still blocked */
};

#define SNIFF_DEADLINE_MS 5000

struct sniffer;

/* notify_fd: an eventfd the worker writes when results are ready. */
int sniff_new(struct sniffer **ret);
struct sniffer *sniff_free(struct sniffer *s);
/* Job deadline, and whether network/FUSE filesystems may be read (default: 5 s, no). */
void sniff_set_limits(struct sniffer *s, unsigned deadline_ms, bool network_fs);
/* Abandon jobs past their deadline and replace their workers (the event loop's tick). */
void sniff_tick(struct sniffer *s);
int sniff_fd(const struct sniffer *s);
/* First time this process opened this file? (marks it; call before building a job) */
bool sniff_first(struct sniffer *s, uint64_t ino, uint32_t pid);
/* Queue a file to look at (non-blocking; counted and dropped when full). */
void sniff_request(struct sniffer *s, const struct sniff_job *req);
/* Take one finished job (false when none); call after sniff_fd is readable. */
bool sniff_result(struct sniffer *s, struct sniff_job *ret);
void sniff_stats(struct sniffer *s, struct sniff_stats *ret);
/* Set before the first request; drop frees a detail no one took (at sniff_free). */
void sniff_set_inspect(struct sniffer *s, sniff_inspect_fn fn, void (*drop)(void *detail),
		       void *ctx);
/*
 * Wait at most timeout_ms until no job of process a or b is queued or being
 * read: the loop calls it before an exec by (or in a child of) a process whose
 * model is still being looked at, so the verdict reaches the stream first.
 * 0: none was pending; 1: there were, and they are done; -ETIMEDOUT.
 */
int sniff_wait_pids(struct sniffer *s, uint32_t a, uint32_t b, unsigned timeout_ms);

/* Pure helpers (unit-tested): format of the first bytes, and the verdict for an extension. */
const char *sniff_format(const unsigned char *buf, size_t n);
void sniff_judge(const char *ext, const char *format, struct sniff_job *job);

#endif
