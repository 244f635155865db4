/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sniff.h — what a model file really is, from its first bytes.
 *
 * Owns: format detection from a file's first 4 KiB (safetensors, GGUF,
 * pickle, PyTorch zip with data.pkl, zip, HDF5, NumPy, TFLite, ELF and the
 * compressors), whether that agrees with the extension, a worker thread
 * that reads off the event loop (opening /proc/PID/root/PATH so container
 * paths resolve in the opener's mount namespace, checking the inode is the
 * one opened, never reading NFS/FUSE/SMB/9p/Ceph), a bounded request queue
 * (overflow counted), a cache by inode+size+mtime and one result per file
 * version and process. Emitting events is the caller's business.
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
	uint32_t kind;
	bool host_root; /* not in a container: the path may be read as is once it exits */
	char path[SNIFF_PATH_MAX];
	/* result */
	const char *format;   /* static string, see sniff_format() */
	const char *expected; /* what the extension promises ("" when anything goes) */
	bool mismatch, pickle;
};

struct sniff_stats {
	uint64_t requests, read, cached, skipped_fs, failed, queue_full;
};

struct sniffer;

/* notify_fd: an eventfd the worker writes when results are ready. */
int sniff_new(struct sniffer **ret);
struct sniffer *sniff_free(struct sniffer *s);
int sniff_fd(const struct sniffer *s);
/* First time this process opened this file? (marks it; call before building a job) */
bool sniff_first(struct sniffer *s, uint64_t ino, uint32_t pid);
/* Queue a file to look at (non-blocking; counted and dropped when full). */
void sniff_request(struct sniffer *s, const struct sniff_job *req);
/* Take one finished job (false when none); call after sniff_fd is readable. */
bool sniff_result(struct sniffer *s, struct sniff_job *ret);
void sniff_stats(struct sniffer *s, struct sniff_stats *ret);

/* Pure helpers (unit-tested): format of the first bytes, and the verdict for an extension. */
const char *sniff_format(const unsigned char *buf, size_t n);
void sniff_judge(const char *ext, const char *format, struct sniff_job *job);

#endif
