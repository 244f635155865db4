/* SPDX-License-Identifier: GPL-2.0 */
/*
 * event.h — the one canonical in-memory event that flows decode → enrich →
 * sinks. Strings point into the ring-buffer record or the decoder's own
 * buffers (no allocation per event); they are valid until the next decode.
 *
 * Stage sense/: includes core/ only; does not write the stream, decide alerts or act.
 */
#ifndef VIGIL_EVENT_H
#define VIGIL_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct proc;

enum vigil_action {
	VA_NONE = 0,
	VA_EXEC,
	VA_EXIT,
	VA_FORK,
	VA_OPEN,
	VA_RENAME,
	VA_UNLINK,
	VA_TRUNCATE,
	VA_CHMOD,
	VA_LINK,    /* hard link: change.path the new name, change.target the old */
	VA_SYMLINK, /* change.path the link, change.target what it points to */
	VA_CONNECT,
	VA_LISTEN,
	VA_IOURING,
	VA_PTRACE,
	VA_MODEL_FORMAT, /* from sniff.c, not the kernel */
	VA_SIGNAL,	 /* a signal to vigild, or a SIGSYS to anyone */
	VA_SECCOMP,	 /* a confined process called what its profile denies or logs */
	VA_MODEL_FINDING, /* from the inventory: a pickle callable, a tampered blob, an unapproved model */
	VA__COUNT
};

#define MODEL_CALLABLES_MAX 8

struct vstr {
	const char *p;
	size_t n; /* without NUL */
};

struct vigil_event {
	enum vigil_action action;
	uint64_t ts_boot_ns;
	uint32_t pid, tid, ppid, uid, gid;
	uint64_t cgroup_id;
	char comm[17];
	bool no_task; /* from a cgroup hook: ppid unknown */
	union {
		struct {
			uint64_t start_ns;
			struct vstr exe, cwd, args; /* args: NUL-separated */
			uint32_t args_full_len;
			uint32_t sflags;
			uint32_t loginuid;
			uint32_t sid;
		} exec;
		struct {
			uint64_t start_ns;
			int code; /* exit status, valid if !signal */
			int signal;
			bool core;
		} exit;
		struct {
			uint64_t start_ns;
		} fork;
		struct {
			struct vstr path, opened;
			uint64_t open_flags, ino;
			uint32_t fmode, imode, rdev, dev, sflags, kind;
			uint32_t folded; /* identical opens folded into this one */
			uint16_t syscall;
			uint32_t target;		/* kind proc-secret: whose /proc file */
			const struct proc *target_proc; /* enrich.c */
		} open;
		struct {
			struct vstr path,
			    target; /* target: rename destination, link/symlink target */
			uint64_t ino, length;
			uint32_t dev, mode, sflags, kind;
			uint16_t syscall;
		} change;
		struct {
			uint32_t sq_entries, cq_entries, flags;
		} iouring;
		struct {
			uint32_t target, request;
			int64_t ret;
			const struct proc *target_proc; /* enrich.c */
		} ptrace;
		struct {
			uint32_t target;
			int sig, code;
		} signal;
		struct {
			uint32_t nr, profile;
			bool compat, denied; /* denied, or logged (complain mode / SCMP_ACT_LOG) */
			char name[48];	     /* the syscall's name ("" if unknown) */
		} seccomp;
		struct {
			struct vstr path;
			uint32_t kind;
			const char *format, *expected;
			bool mismatch, pickle;
		} sniff;
		struct {
			struct vstr path;
			const char *finding; /* "pickle-callable", "tampered", "unapproved" */
			const char *format, *sha256, *digest_source;
			const char *named_sha256; /* tampered: the digest the name promises */
			const char *callables[MODEL_CALLABLES_MAX]; /* dangerous imports */
			unsigned n_callables;
		} model;
		struct {
			uint8_t saddr[16], daddr[16];
			uint16_t sport, dport, family, protocol;
			int32_t error; /* 0 ok, >0 errno, -1 unknown */
			uint8_t via;
		} net;
	};
	/* enrichment (enrich.c) */
	const struct proc *proc;
};

const char *vigil_action_name(enum vigil_action a);

#endif
