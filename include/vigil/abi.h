/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * abi.h — the kernel↔user event ABI, included by bpf/ and agent/.
 *
 * Owns: the record layouts the BPF programs write into the `events` ring
 * buffer, the drop-counter indices, and the keys/values of the filter maps
 * userspace fills from config. Fixed-width types and fixed arrays only: no
 * pointers, bool or enums. Message type numbers are never reused; a record
 * layout only grows at its end and bumps VGL_ABI_VERSION.
 */
#ifndef VIGIL_ABI_H
#define VIGIL_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define VGL_ABI_VERSION 2

/* Message types (vgl_hdr.type). Never reuse a number. */
#define VGL_MSG_EXEC	1
#define VGL_MSG_EXIT	2
#define VGL_MSG_FORK	3
#define VGL_MSG_OPEN	4
#define VGL_MSG_FCHANGE 5
#define VGL_MSG_CONNECT 6
#define VGL_MSG_LISTEN	7
#define VGL_MSG_IOURING 8
#define VGL_MSG_PTRACE	9
#define VGL_MSG_SIGNAL	10
#define VGL_MSG_SECCOMP 11
#define VGL_MSG_MAX	12

/* Drop/loss counters (per-CPU array `drops`, one slot per index). */
#define VGL_DROP_RB_FULL	0 /* + msg type: ring buffer full, per type */
#define VGL_DROP_TRUNC_ARGS	(VGL_DROP_RB_FULL + VGL_MSG_MAX)
#define VGL_DROP_TRUNC_PATH	(VGL_DROP_TRUNC_ARGS + 1)
#define VGL_DROP_UDP_DEDUP_FULL (VGL_DROP_TRUNC_PATH + 1)
/* not losses, counted beside them: UDP sends folded, UDP connects that sent nothing */
#define VGL_DROP_UDP_FOLDED  (VGL_DROP_UDP_DEDUP_FULL + 1)
#define VGL_DROP_UDP_NO_DATA (VGL_DROP_UDP_FOLDED + 1)
#define VGL_DROP_NR	     (VGL_DROP_UDP_NO_DATA + 1)

#define VGL_COMM_LEN  16
#define VGL_PATH_MAX  4096  /* including the NUL */
#define VGL_ARGS_MAX  16384 /* power of two; config picks < this */
#define VGL_NAME_TAIL 16    /* bytes of a file name scanned for its extension */
#define VGL_EXT_LEN   16

/* Common header on every record. */
struct vgl_hdr {
	__u16 type;
	__u8 version;
	__u8 flags;  /* VGL_HF_* */
	__u32 size;  /* whole record, header included */
	__u64 ts_ns; /* CLOCK_BOOTTIME */
	__u32 pid;   /* tgid */
	__u32 tid;
	__u32 ppid; /* 0 = unknown (cgroup hooks have no task) */
	__u32 uid;  /* uid, gid, comm: 0 in fork records (the parent's until exec) */
	__u32 gid;
	__u32 _pad0;
	__u64 cgroup_id; /* cgroup v2 id of the task; 0 in fork and exit records */
	char comm[VGL_COMM_LEN];
};

#define VGL_HF_NO_TASK 0x01 /* pid/uid from helpers only, ppid unknown */

/* Flags on strings carried by records. */
#define VGL_SF_ARGS_TRUNC   0x01
#define VGL_SF_EXE_TRUNC    0x02
#define VGL_SF_CWD_TRUNC    0x04
#define VGL_SF_EXE_DELETED  0x08
#define VGL_SF_PATH_TRUNC   0x10
#define VGL_SF_PATH_DELETED 0x20
#define VGL_SF_OPENED_TRUNC 0x40
#define VGL_SF_PATH2_TRUNC  0x80
#define VGL_SF_STDIN_SOCK   0x100   /* exec: fd 0 is a socket (reverse shells) */
#define VGL_SF_STDOUT_SOCK  0x200   /* exec: fd 1 is a socket */
#define VGL_SF_DENIED	    0x400   /* open: the path is denied to the caller's cell */
#define VGL_SF_EXE_MEMFD    0x20000 /* exec: the image is a memfd (fileless) */

/* exec: data = exe NUL cwd NUL args (NUL-separated, args_len bytes) */
struct vgl_exec {
	struct vgl_hdr h;
	__u64 start_ns;	     /* process start, CLOCK_BOOTTIME */
	__u32 sflags;	     /* VGL_SF_* */
	__u16 exe_len;	     /* incl NUL */
	__u16 cwd_len;	     /* incl NUL */
	__u32 args_len;	     /* bytes of args in data */
	__u32 args_full_len; /* mm arg_end - arg_start */
	__u32 loginuid;
	__u32 sid; /* session leader's pid (global namespace) */
	char data[];
};

struct vgl_exit {
	struct vgl_hdr h;
	__u64 start_ns;
	__u32 exit_code; /* raw wait status: code << 8 | signal */
	__u32 _pad0;
};

struct vgl_fork {
	struct vgl_hdr h; /* pid = child, ppid = parent */
	__u64 start_ns;	  /* child's start */
};

/* File kinds (map values and vgl_open.kind). */
#define VGL_KIND_MODEL		 1
#define VGL_KIND_MODEL_AMBIGUOUS 2 /* ambiguous extension: watched under model dirs only */
#define VGL_KIND_GPU		 3
#define VGL_KIND_CREDENTIAL	 4
#define VGL_KIND_CONFIG		 5 /* extra paths from config */
#define VGL_KIND_MODEL_PTH	 6 /* .pth: a model, except Python's site-packages path files */
#define VGL_KIND_PERSIST	 7 /* a well-known persistence file name, anywhere (vgl_names) */
#define VGL_KIND_PROC_SECRET	 8 /* /proc/PID/environ|mem|maps of another process */
#define VGL_KIND_UNIT		 9 /* exts only: .service and .timer names count in a systemd unit dir */
#define VGL_KIND_PENDING	 10 /* created in a VGL_DIR_PENDING dir: userspace re-resolves */
#define VGL_KIND_UNRESOLVED	 11 /* change: a name with //, /./ or /../; userspace decides */

/* Which syscall produced an open/change record. */
#define VGL_SYS_OPEN	  1
#define VGL_SYS_OPENAT	  2
#define VGL_SYS_OPENAT2	  3
#define VGL_SYS_CREAT	  4
#define VGL_SYS_UNLINK	  10
#define VGL_SYS_UNLINKAT  11
#define VGL_SYS_RENAME	  12
#define VGL_SYS_RENAMEAT  13
#define VGL_SYS_RENAMEAT2 14
#define VGL_SYS_TRUNCATE  15
#define VGL_SYS_FTRUNCATE 16
#define VGL_SYS_CHMOD	  17
#define VGL_SYS_FCHMOD	  18
#define VGL_SYS_FCHMODAT  19
#define VGL_SYS_LINK	  20
#define VGL_SYS_LINKAT	  21
#define VGL_SYS_SYMLINK	  22
#define VGL_SYS_SYMLINKAT 23
#define VGL_SYS_FCHMODAT2 24

/* open: data = resolved path NUL opened-name NUL */
struct vgl_open {
	struct vgl_hdr h;
	__u64 ino;
	__u32 dev;	  /* kernel dev_t: major << 20 | minor */
	__u32 rdev;	  /* for device nodes */
	__u64 open_flags; /* flags the caller passed (O_CREAT/O_TRUNC survive here) */
	__u32 fmode;	  /* file->f_mode */
	__u32 imode;	  /* inode->i_mode */
	__u32 sflags;
	__u16 kind;
	__u16 syscall;
	__u16 path_len;	  /* incl NUL */
	__u16 opened_len; /* incl NUL, 1 = not available */
	__u32 folded;	  /* identical opens suppressed since the previous event */
	__u32 target;	  /* VGL_KIND_PROC_SECRET: the tgid whose /proc file was opened */
	__u32 _pad0;
	char data[];
};

/*
 * rename/unlink/truncate/chmod/link/symlink: data = base NUL path NUL path2
 * NUL base2 NUL. For fd-based calls `path` is already resolved and base is
 * empty. For name-based calls path/path2 are the caller's names and base the
 * absolute directory they are relative to (cwd or dirfd); userspace joins
 * them. rename and link: path is the old name, path2 the new one; symlink:
 * path is the link's target text (base empty), path2 the link created.
 */
struct vgl_fchange {
	struct vgl_hdr h;
	__u64 ino;
	__u32 dev;
	__u32 mode;   /* chmod: new mode */
	__u64 length; /* truncate: new length */
	__u32 sflags;
	__u16 kind;
	__u16 syscall;
	__u16 base_len;
	__u16 path_len;
	__u16 path2_len;
	__u16 base2_len; /* renameat: second dirfd's base follows path2 */
	char data[];
};

#define VGL_VIA_TCP_STATE 1
#define VGL_VIA_CONNECT	  2
#define VGL_VIA_SENDMSG	  3

struct vgl_connect {
	struct vgl_hdr h;
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u16 family;	/* AF_INET / AF_INET6 */
	__u16 protocol; /* IPPROTO_TCP / IPPROTO_UDP */
	__s32 error;	/* 0 ok, positive errno on failure, -1 unknown */
	__u8 via;
	__u8 _pad0[3];
	__u64 cookie;
};

/*
 * io_uring_setup: file opens through io_uring bypass the syscall probes, so
 * a process creating a ring is itself reported (the gap made visible).
 */
struct vgl_iouring {
	struct vgl_hdr h;
	__u32 sq_entries;
	__u32 cq_entries;
	__u32 flags;
	__s32 fd;
};

/* Filter maps. */
struct vgl_ext_key {
	char ext[VGL_EXT_LEN]; /* lower-case, without the dot, NUL padded */
};

/*
 * Well-known file names (vgl_names), looked up only when the name's bits
 * are set, its coarse one in file.bpf.c's gate block (the low bits of the
 * hash) and then this one: an ordinary open pays a multiply, a shift and a
 * load, no lookup.
 */
#define VGL_NAME_BITS 4096
#define VGL_NAME_HASH(len, first, last)                              \
	((((unsigned)(len) | (unsigned)(unsigned char)(first) << 8 | \
	   (unsigned)(unsigned char)(last) << 16) *                  \
	  0x9e3779b1u) >>                                            \
	 20)
struct vgl_name_key {
	char name[VGL_NAME_TAIL]; /* the whole name (at most VGL_NAME_TAIL bytes), NUL padded */
};

struct vgl_inode_key {
	__u64 ino;
	__u32 dev; /* kernel encoding */
	__u32 _pad0;
};

/*
 * Bitmaps in file.bpf.c's .bss in front of the watch maps: a clear bit is
 * "not watched" for a shift and a load, a set one "look it up". vigild sets
 * a bit before the entry it stands for appears and rebuilds the bitmaps
 * (clearing stale bits) after a reload. Same hashes here and in the kernel.
 */
#define VGL_INO_BITS 65536 /* inodes of `files` and of `dirs` (a bitmap each) */
/*
 * By the inode number alone: the filesystem's number is one more cache line
 * (the super_block), read only behind a set bit, for the lookup's key.
 */
#define VGL_INO_SLOT(ino) ((__u32)(((__u64)(ino)*0x9e3779b97f4a7c15ull) >> 48) & (VGL_INO_BITS - 1))
/* The deny bitmap's slot (vgl_cstate, pinned: its hash outlives a vigild upgrade, so it stays). */
#define VGL_DENY_SLOT(ino, dev)                                                           \
	((__u32)((((__u64)(ino) ^ ((__u64)(dev) << 40)) * 0x9e3779b97f4a7c15ull) >> 48) & \
	 (VGL_INO_BITS - 1))
#define VGL_EXT_BITS 4096 /* `exts`: the key's two words */
#define VGL_EXT_SLOT(w0, w1)                                                                    \
	((__u32)((((__u64)(w0)*0x9e3779b97f4a7c15ull) ^ ((__u64)(w1)*0xc2b2ae3d27d4eb4full)) >> \
		 52) &                                                                          \
	 (VGL_EXT_BITS - 1))
/*
 * The first level of the open gates: one 128-byte block at the start of
 * file.bpf.c's .bss (`gates` there), a coarse bit per ext/file/dir slot
 * (its low 8 bits) and per name hash (its low 7 bits), set with the fine
 * bit. Where an open comes right after an exec, every line it reads is a
 * cache miss (~100 ns on the test VM): an unwatched open then reads this
 * block, not four 512 B-8 KiB bitmaps of their own.
 */
#define VGL_GATE_BITS	   256
#define VGL_DEV_BITS	   4096 /* `majors` by major, `gpu_nodes` by a hash of the kernel dev_t */
#define VGL_DEV_SLOT(rdev) ((__u32)(((__u32)(rdev)*0x9e3779b1u) >> 20) & (VGL_DEV_BITS - 1))

/* Repeated identical opens (process, file, flags) within the fold window. */
struct vgl_fold_key {
	__u64 ino;
	__u32 pid;
	__u32 dev;
	__u32 flags; /* access mode | O_CREAT | O_TRUNC */
	__u32 _pad0;
};

struct vgl_fold_val {
	__u64 last_ns;
	__u32 folded;
	__u32 _pad0;
};

struct vgl_major_val {
	__u32 min_minor; /* only minors >= this (DRM render nodes start at 128) */
	__u32 kind;
};

/* Value of `dirs` entries: how a watched directory widens the filter. */
#define VGL_DIR_AMBIGUOUS 1 /* ambiguous model extensions count here */
#define VGL_DIR_ALL	  2 /* every file directly in it counts */
#define VGL_DIR_PENDING	  4 /* a configured watch directly in it does not exist yet */
#define VGL_DIR_PARENT	  8 /* holds a watched file: names in it are looked up in `watch_paths` */

/*
 * `watch_paths` (an LPM trie): watched files and directories by path, for
 * the name-based changes (rename, unlink, chmod, link, symlink) whose object
 * is gone or not yet there when the probe runs. A directory is the prefix
 * "dir/" (everything under it), a file "path\0" (the NUL makes it exact).
 * Paths longer than VGL_PATH_KEY match only by their first bytes.
 */
#define VGL_PATH_KEY 256 /* the trie's limit on key data */
struct vgl_path_key {
	__u32 prefixlen; /* bits of path that must match */
	char path[VGL_PATH_KEY];
};

/*
 * ptrace(PTRACE_ATTACH/SEIZE) or process_vm_readv/writev of another process:
 * how memory of a running model server is read. Once a second per
 * (caller, target, request) at most.
 */
#define VGL_PTRACE_VM_READV  0x10000 /* request values beyond ptrace's own */
#define VGL_PTRACE_VM_WRITEV 0x10001
struct vgl_ptrace {
	struct vgl_hdr h;
	__u32 target;  /* pid as the caller named it */
	__u32 request; /* PTRACE_ATTACH, PTRACE_SEIZE or VGL_PTRACE_VM_* */
	__s64 ret;     /* the syscall's return value */
};

/* A signal sent to vigild itself (header: the sender). */
struct vgl_signal {
	struct vgl_hdr h;
	__u32 target;
	__s32 sig;
	__s32 code;   /* si_code: SI_USER, SI_KERNEL… */
	__s32 result; /* TRACE_SIGNAL_* */
};

/*
 * A process confined by `vigil exec` made a syscall its profile denies (or,
 * in complain mode, logs). Checked in the kernel against the profile's
 * verdicts (seccomp.bpf.h); at most one per process, syscall and second.
 */
struct vgl_seccomp {
	struct vgl_hdr h;
	__u32 nr;
	__u8 compat;  /* a 32-bit (compat) call */
	__u8 verdict; /* VGL_SC_DENIED or VGL_SC_LOGGED */
	__u16 _pad;
	__u32 profile; /* the confined root's tgid */
	__u32 _pad2;
};

/* vgl_confined value: armed once the confined program is exec'd (vigil's own calls before do not count) */
struct vgl_confined {
	__u32 root;
	__u32 armed;
};

#define VGL_SC_DENIED 1
#define VGL_SC_LOGGED 2
#define VGL_SC_WORDS  16 /* 1024 bits: native numbers, then compat + 512 */

struct vgl_sc_verdicts {
	__u64 deny[VGL_SC_WORDS];
	__u64 logged[VGL_SC_WORDS];
};

_Static_assert(sizeof(struct vgl_signal) == 80, "vgl_signal layout");
_Static_assert(sizeof(struct vgl_seccomp) == 80, "vgl_seccomp layout");
_Static_assert(sizeof(struct vgl_hdr) == 64, "vgl_hdr layout");
_Static_assert(sizeof(struct vgl_ptrace) == 80, "vgl_ptrace layout");
_Static_assert(sizeof(struct vgl_exec) == 64 + 32, "vgl_exec layout");
_Static_assert(sizeof(struct vgl_open) == 64 + 56, "vgl_open layout");
_Static_assert(sizeof(struct vgl_fchange) == 64 + 40, "vgl_fchange layout");
_Static_assert(sizeof(struct vgl_connect) == 64 + 56, "vgl_connect layout");
_Static_assert(sizeof(struct vgl_iouring) == 64 + 16, "vgl_iouring layout");

/*
 * Containment (contain.bpf.h). A cell is either a cgroup v2 id (vgl_cells)
 * or a set of processes (vgl_tasks, by tgid; children join at fork). Isolated
 * cells may not connect or send; allowlisted cgroups only to their policy's
 * CIDR+port entries (an LPM trie keyed by policy, then the v4-mapped/v6
 * address). vgl_cell.id names the cell in deny-path keys: the cgroup id, or
 * VGL_TASKSET_BIT | set number.
 */
#define VGL_TASKSET_BIT	   (1ull << 63)
#define VGL_TASKS_MAX	   65536
#define VGL_CELLS_MAX	   1024
#define VGL_DENY_MAX	   4096
#define VGL_ALLOW_MAX	   16384
#define VGL_CELL_DEPTH	   16 /* cgroup levels searched for a contained ancestor */
#define VGL_CELL_ISOLATE   0x1u
#define VGL_CELL_ALLOWLIST 0x2u
#define VGL_CELL_ALLOW_LO  0x4u /* isolation lets loopback through */
#define VGL_ALLOW_PORTS	   8

struct vgl_cell {
	__u32 flags;
	__u32 policy;
	__u64 id;
};

/* vgl_cstate slots: zero means there is nothing of that kind to look up */
#define VGL_CSTATE_CELLS 0 /* entries in vgl_cells */
#define VGL_CSTATE_DENY	 1 /* entries in vgl_deny */
#define VGL_CSTATE_TASKS 2 /* live process sets */
#define VGL_CSTATE_NR	 3
/*
 * Not a count: nonzero while vgl_confined may hold an entry. `vigil exec`
 * sets it after adding its process; vigild clears it when it finds the map
 * empty and sets it again if an entry appeared meanwhile (the next tick
 * repairs anything else). Fork, exit and exec look vgl_confined up only
 * behind it.
 */
#define VGL_CSTATE_CONFINED 3
/*
 * From this slot on vgl_cstate is a bitmap of the denied files'
 * VGL_DENY_SLOT(ino, dev), a bit set before its vgl_deny entry is added: an
 * open whose bit is clear costs no cell lookup. Cleared when no deny is left.
 */
#define VGL_CSTATE_DENY_BITS 16
#define VGL_CSTATE_SIZE	     (VGL_CSTATE_DENY_BITS + VGL_INO_BITS / 32)

struct vgl_deny_key {
	__u64 cell;
	__u64 ino;
	__u32 dev;
	__u32 _pad;
};

struct vgl_allow_key {
	__u32 prefixlen; /* 32 (policy) + address bits */
	__u32 policy;
	__u8 addr[16];
};

struct vgl_allow_val {
	__u16 ports[VGL_ALLOW_PORTS];
	__u32 nports; /* 0: any port */
};

/* `vigil seccomp record`: syscall numbers counted (native, then compat) */
#define VGL_REC_SYSCALLS 1024

#endif /* VIGIL_ABI_H */
