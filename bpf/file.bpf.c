// SPDX-License-Identifier: GPL-2.0
/*
 * file.bpf.c — successful opens of watched files, and rename/unlink/
 * truncate/chmod of watched files.
 *
 * Exit-only syscall tracepoints: an enter probe would double the cost every
 * syscall pays once any syscall tracepoint is on. At exit the returned fd's
 * struct file gives the resolved path (cwd, dirfd, `..`, symlinks and bind
 * mounts already resolved by the kernel); the caller's own name and flags are
 * read back from the syscall's saved registers.
 *
 * Filtering happens here: most opens are decided by one hash lookup on the
 * file name's extension, or on the device major for character devices.
 */
#include "lib/common.bpf.h"
#include "lib/contain.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Set from config before load. */
/*
 * What every open reads first, in one 128-byte block (two cache lines the
 * prefetcher fetches as a pair): abi.h's VGL_GATE_BITS. In .bss, not
 * .rodata: a reload may add a whole-directory watch.
 */
volatile struct {
	__u32 nr_files;	     /* entries in `files`: skip the lookup when there are none */
	__u32 have_all_dirs; /* some dir watches (or awaits) the files directly in it */
	__u64 ext[VGL_GATE_BITS / 64];
	__u64 file[VGL_GATE_BITS / 64];
	__u64 dir[VGL_GATE_BITS / 64];
	__u64 name[2]; /* VGL_NAME_HASH of the names in `names`, its low 7 bits */
} gates __attribute__((aligned(128))) = {};
volatile __u32 nr_paths = 0;	   /* entries in `watch_paths`: name changes skip it when none */
const volatile __u8 dir_depth = 8; /* ancestors checked against `dirs` */
const volatile __u64 fold_ns = 0;  /* fold identical opens within this window (0: never) */
/* The fine bitmaps in front of the other maps (abi.h's VGL_*_SLOT): vigild sets a bit before its entry */
volatile __u64 ext_bits[VGL_EXT_BITS / 64] = {};
volatile __u64 name_bits[VGL_NAME_BITS / 64] = {};
volatile __u64 file_bits[VGL_INO_BITS / 64] = {};
volatile __u64 dir_bits[VGL_INO_BITS / 64] = {}; /* dirs with VGL_DIR_AMBIGUOUS or VGL_DIR_ALL */
volatile __u64 pending_bits[VGL_INO_BITS / 64] = {}; /* dirs with VGL_DIR_PENDING */
volatile __u64 major_bits[VGL_DEV_BITS / 64] = {};
volatile __u64 node_bits[VGL_DEV_BITS / 64] = {};
/* filesystems (VGL_DEV_SLOT of s_dev) holding a model dir: only their files walk up to one */
volatile __u64 walk_devs[VGL_DEV_BITS / 64] = {};

/* include/linux/fs.h: set on the struct file by the open that created its file (4.19+) */
#define FMODE_CREATED_ (1u << 20)

#define BIT(map, slot) (((map)[((slot) >> 6) & (sizeof(map) / 8 - 1)] >> ((slot)&63)) & 1)
/* slot's coarse bit in gates.which (BIT() keeps its low bits), then its fine bit in bits */
#define GATED(which, bits, slot) (BIT(gates.which, slot) && BIT(bits, slot))

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct vgl_fold_key);
	__type(value, struct vgl_fold_val);
} folds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct vgl_ext_key);
	__type(value, __u32); /* VGL_KIND_* */
} exts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct vgl_inode_key);
	__type(value, __u32); /* VGL_DIR_* */
} dirs SEC(".maps");

/* Well-known names, wherever they are (authorized_keys, crontab, environ…). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct vgl_name_key);
	__type(value, __u32); /* VGL_KIND_PERSIST or VGL_KIND_PROC_SECRET */
} names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct vgl_inode_key);
	__type(value, __u32); /* VGL_KIND_* */
} files SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__type(key, struct vgl_path_key);
	__type(value, __u32); /* VGL_KIND_* */
	__uint(map_flags, BPF_F_NO_PREALLOC);
} watch_paths SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32); /* major */
	__type(value, struct vgl_major_val);
} majors SEC(".maps"); /* GPU drivers only: every node of theirs is a GPU */

/*
 * watch.gpu_devices nodes by their full number (kernel dev_t, major << 20 |
 * minor): a node of some other driver (a test's stand-in with /dev/full's
 * 1:7) must not turn its neighbours (/dev/urandom, 1:9) into GPUs.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);   /* i_rdev */
	__type(value, __u32); /* VGL_KIND_* */
} gpu_nodes SEC(".maps");

/* The last VGL_NAME_TAIL bytes of a dentry name (bytes past its end are not cleared). */
static __always_inline __u32 name_tail(const struct qstr *name, char tail[VGL_NAME_TAIL])
{
	__u32 start = name->len > VGL_NAME_TAIL ? name->len - VGL_NAME_TAIL : 0;

	bpf_probe_read_kernel(tail, VGL_NAME_TAIL, name->name + start);
	return start;
}

/* Extension of a name from its tail: last '.' within its final VGL_NAME_TAIL bytes. */
static __always_inline int tail_ext(const char *tail, __u32 len, __u32 start,
				    struct vgl_ext_key *key)
{
	__u32 dot = VGL_NAME_TAIL;
	int i;

	if (len < 2)
		return 0;
	for (i = VGL_NAME_TAIL - 1; i >= 0; i--) {
		if (i >= (int)(len - start))
			continue;
		if (tail[i] == '.') {
			dot = i;
			break;
		}
	}
	if (dot == VGL_NAME_TAIL || (start == 0 && dot == 0))
		return 0;
	for (i = 0; i < VGL_EXT_LEN - 1; i++) {
		int j = dot + 1 + i;
		char c;

		if (j >= VGL_NAME_TAIL || j >= (int)(len - start))
			break;
		c = tail[j & (VGL_NAME_TAIL - 1)];
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		key->ext[i] = c;
	}
	return 1;
}

/* Extension of a dentry name. */
static __always_inline int name_ext(const struct qstr *name, struct vgl_ext_key *key)
{
	char tail[VGL_NAME_TAIL] = {};
	__u32 start;

	if (name->len < 2)
		return 0;
	start = name_tail(name, tail);
	return tail_ext(tail, name->len, start, key);
}

/* Python's site-packages .pth files are path files every interpreter start opens. */
static __always_inline int in_site_packages(struct dentry *dentry)
{
	char name[16] = {};
	struct qstr q = BPF_CORE_READ(dentry, d_parent, d_name);

	if (q.len != 13)
		return 0;
	static const char tail[] = "-packages";
	int i;

	bpf_probe_read_kernel(name, 13, q.name);
	if (!((name[0] == 's' && name[1] == 'i' && name[2] == 't' && name[3] == 'e') ||
	      (name[0] == 'd' && name[1] == 'i' && name[2] == 's' && name[3] == 't')))
		return 0;
	for (i = 0; i < 9; i++)
		if (name[4 + i] != tail[i])
			return 0;
	return 1;
}

static __always_inline int dentry_name_is(struct dentry *d, const char *want, __u32 n)
{
	struct qstr q = BPF_CORE_READ(d, d_name);
	char buf[8] = {};
	__u32 i;

	if (q.len != n || n > sizeof(buf))
		return 0;
	bpf_probe_read_kernel(buf, sizeof(buf), q.name);
	for (i = 0; i < sizeof(buf) && i < n; i++)
		if (buf[i] != want[i])
			return 0;
	return 1;
}

/* A unit file directly in .../systemd/system or .../systemd/user (etc, usr/lib, run, ~/.config). */
static __always_inline int in_unit_dir(struct dentry *dentry)
{
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);

	return (dentry_name_is(parent, "system", 6) || dentry_name_is(parent, "user", 4)) &&
	       dentry_name_is(BPF_CORE_READ(parent, d_parent), "systemd", 7);
}

/*
 * The tgid whose /proc/PID (or /proc/PID/task/TID) file this is, from the proc
 * inode's struct pid: right in any pid namespace, and 0 for the caller's own
 * process (/proc/self, /proc/thread-self) or anything that is not procfs.
 */
static __always_inline __u32 proc_target(struct file *f)
{
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	struct proc_inode *pi;
	struct hlist_node *first;
	struct task_struct *t;
	struct pid *pid;
	__u32 tgid;

	if (BPF_CORE_READ(inode, i_sb, s_magic) != 0x9fa0 /* PROC_SUPER_MAGIC */)
		return 0;
	pi = (void *)inode - bpf_core_field_offset(struct proc_inode, vfs_inode);
	pid = BPF_CORE_READ(pi, pid);
	if (!pid)
		return 0;
	first = BPF_CORE_READ(pid, tasks[PIDTYPE_PID].first);
	if (!first)
		return 0; /* the task has exited */
	t = (void *)first - bpf_core_field_offset(struct task_struct, pid_links);
	tgid = BPF_CORE_READ(t, tgid);
	return tgid == bpf_get_current_pid_tgid() >> 32 ? 0 : tgid;
}

/*
 * A well-known name (whole name up to VGL_NAME_TAIL bytes) behind a bitmap of
 * VGL_NAME_HASH(len, first, last): most names stop at one bit test.
 */
static __always_inline __u32 known_name(const char *tail, __u32 len, struct file *f)
{
	struct vgl_name_key k = {};
	__u32 h, *kind;
	int i;

	if (len < 3 || len > VGL_NAME_TAIL)
		return 0;
	h = VGL_NAME_HASH(len, tail[0], tail[(len - 1) & (VGL_NAME_TAIL - 1)]);
	if (!GATED(name, name_bits, h))
		return 0;
	for (i = 0; i < VGL_NAME_TAIL; i++)
		if (i < (int)len)
			k.name[i] = tail[i];
	kind = bpf_map_lookup_elem(&names, &k);
	if (!kind)
		return 0;
	if (*kind == VGL_KIND_PROC_SECRET)
		return proc_target(f) ? VGL_KIND_PROC_SECRET : 0;
	return *kind;
}

/* A character device by number: a GPU driver's major, or a configured node. */
static __always_inline __u32 dev_kind(__u32 rdev)
{
	__u32 major = rdev >> 20, *kind;
	struct vgl_major_val *mv;

	if (BIT(major_bits, major & (VGL_DEV_BITS - 1))) {
		mv = bpf_map_lookup_elem(&majors, &major);
		if (mv && (rdev & 0xfffff) >= mv->min_minor)
			return mv->kind;
	}
	if (!BIT(node_bits, VGL_DEV_SLOT(rdev)))
		return 0;
	kind = bpf_map_lookup_elem(&gpu_nodes, &rdev);
	return kind ? *kind : 0;
}

/* A watched extension's kind (the key's bit first), 0 if none. */
static __always_inline __u32 ext_kind(const struct vgl_ext_key *ek)
{
	const __u64 *w = (const __u64 *)ek->ext;
	__u32 *kind;

	if (!GATED(ext, ext_bits, VGL_EXT_SLOT(w[0], w[1])))
		return 0;
	kind = bpf_map_lookup_elem(&exts, ek);
	return kind ? *kind : 0;
}

union name_tail {
	__u64 w[2];
	char c[VGL_NAME_TAIL];
};

union ext_key {
	__u64 w[2];
	struct vgl_ext_key k;
};

#define BYTES(b) (0x0101010101010101ull * (__u8)(b))

/* High bit of each byte of w that is zero, exactly (no borrow between bytes). */
static __always_inline __u64 zero_bytes(__u64 w)
{
	return ~(((w & BYTES(0x7f)) + BYTES(0x7f)) | w) & BYTES(0x80);
}

/* Index of the highest flagged byte of a zero_bytes() mask that is not 0. */
static __always_inline __u32 top_byte(__u64 m)
{
	__u32 b = ((m >> 7) * 0x0102040810204080ull) >> 56, i = 0; /* bit i: byte i */

	if (b & 0xf0)
		i += 4, b >>= 4;
	if (b & 0xc)
		i += 2, b >>= 2;
	return i + ((b >> 1) & 1);
}

/* ASCII upper case to lower case in each byte of w (other bytes, UTF-8 too, as they are). */
static __always_inline __u64 lower_bytes(__u64 w)
{
	__u64 h = w & BYTES(0x7f), ge_a = h + BYTES(0x80 - 'A'), gt_z = h + BYTES(0x7f - 'Z');

	return w | (((ge_a ^ gt_z) & ~w & BYTES(0x80)) >> 2);
}

/*
 * tail_ext() on the tail's two words, eight bytes a step: the name's last
 * '.' in its final VGL_NAME_TAIL bytes (not a leading one), the bytes after
 * it lower-cased and NUL padded into k. Every open with a name pays this.
 */
static __always_inline int tail_ext_words(const __u64 w[2], __u32 len, __u32 start, __u64 k[2])
{
	__u32 n = len - start, dot, s;
	__u64 v0 = w[0], v1 = w[1], d0, d1;

	if (len < 2 || n > VGL_NAME_TAIL)
		return 0;
	/* bytes past the name are stale: zero them (a zero byte is no '.') */
	if (n < 8)
		v0 &= (1ull << (n * 8)) - 1;
	if (n < 16)
		v1 &= n <= 8 ? 0 : (1ull << ((n - 8) * 8)) - 1;
	d0 = zero_bytes(v0 ^ BYTES('.'));
	d1 = zero_bytes(v1 ^ BYTES('.'));
	if (d1)
		dot = 8 + top_byte(d1);
	else if (d0)
		dot = top_byte(d0);
	else
		return 0;
	if (start == 0 && dot == 0)
		return 0;  /* a hidden file's leading dot */
	s = (dot + 1) * 8; /* bits to drop: the dot and what is before it */
	if (s >= 64) {
		k[0] = s == 64 ? v1 : s == 128 ? 0 : v1 >> ((s - 64) & 63);
		k[1] = 0;
	} else {
		k[0] = (v0 >> s) | (v1 << ((64 - s) & 63));
		k[1] = v1 >> s;
	}
	k[0] = lower_bytes(k[0]);
	k[1] = lower_bytes(k[1]);
	return 1;
}

#define FK(name)	 name
#define FREAD(p, a, ...) KREAD(p, a, ##__VA_ARGS__)
#include "lib/file_kind.bpf.h"
#undef FK
#undef FREAD
#if !VGL_TYPED
#define FK(name)	 name##_btf
#define FREAD(p, a, ...) ((p)->___arrow(a, ##__VA_ARGS__))
#include "lib/file_kind.bpf.h"
#undef FK
#undef FREAD
#define file_kind_arg	file_kind_btf /* the LSM hook's file: typed without a cast */
#define denied_open_arg denied_open_btf
#else
#define file_kind_arg	file_kind
#define denied_open_arg denied_open
#endif

/*
 * The caller's flags and name, read back from the syscall's registers (regs:
 * typed, plain loads, all three first: a load the compiler shared between a
 * register and the stack copy below is one the verifier refuses).
 */
static __always_inline __u64 open_flags(struct pt_regs *regs, __u16 sys, const void **uname)
{
	__u64 a1 = PT_REGS_PARM1_SYSCALL(regs), a2 = PT_REGS_PARM2_SYSCALL(regs);
	__u64 a3 = PT_REGS_PARM3_SYSCALL(regs), flags = 0;

	switch (sys) {
	case VGL_SYS_OPEN:
		*uname = (void *)a1;
		return a2;
	case VGL_SYS_OPENAT:
		*uname = (void *)a2;
		return a3;
	case VGL_SYS_OPENAT2:
		*uname = (void *)a2;
		bpf_probe_read_user(&flags, sizeof(flags), &((struct open_how *)a3)->flags);
		return flags;
	default: /* creat */
		*uname = (void *)a1;
		return 01 | 0100 | 01000; /* O_WRONLY | O_CREAT | O_TRUNC */
	}
}

/*
 * A re-open of the same file by the same process with the same flags within
 * fold_ns is counted, not sent; the next event for that key carries the count.
 */
static __always_inline int fold(struct inode *inode, __u64 flags, __u32 tgid, __u64 now,
				__u32 *folded)
{
	struct vgl_fold_key k = {};
	struct vgl_fold_val nv = {}, *v;

	k.ino = KREAD(inode, i_ino);
	k.dev = KREAD(inode, i_sb, s_dev);
	k.pid = tgid;
	k.flags = flags & (03 | 0100 | 01000);
	v = bpf_map_lookup_elem(&folds, &k);
	if (v && now - v->last_ns < fold_ns) {
		__sync_fetch_and_add(&v->folded, 1);
		return 1;
	}
	*folded = v ? v->folded : 0;
	nv.last_ns = now;
	bpf_map_update_elem(&folds, &k, &nv, BPF_ANY);
	return 0;
}

/* The struct path of the file at fptr, as numbers (two plain loads where raw_loads). */
static __always_inline void file_path(__u64 fptr, struct path *p)
{
	kload128((__u64 *)p, (void *)(fptr + bpf_core_field_offset(struct file, f_path)));
}

/* path_put() into a record's field: its length, VGL_SF_PATH_TRUNC into *sflags. */
static __always_inline __u16 path_field(const struct path *p, __u32 at, __u32 *sflags)
{
	__u32 r = path_put(p, at);

	if (r & WALK_TRUNC)
		*sflags |= VGL_SF_PATH_TRUNC;
	return r & (2 * VGL_PATH_MAX - 1);
}

/*
 * What open_report() is told of an open (by pointer: a global function
 * takes at most five arguments). The caller has the current task and its
 * syscall registers at hand; asked for again out of line, each would be one
 * more helper call (~25 ns on the test VM, bench/helper_cost.py).
 */
struct open_call {
	__u64 fptr;  /* the struct file, as a number */
	__u64 task;  /* the current task, as a number */
	__u64 flags; /* the caller's open flags */
	__u64 uname; /* the caller's name, in user memory */
	__u32 sys, kind, denied, _pad;
};

#if VGL_TYPED
#define OPEN_TASK(c) VGL_CAST((void *)(c)->task, struct task_struct)
#else
#define OPEN_TASK(c) bpf_get_current_task_btf() /* no cast to a typed pointer here */
#endif

/*
 * Report the open *c describes (made by syscall c->sys), watched as
 * c->kind or denied. Out of line, a global function: the verifier checks
 * it once, and the gates in front of it stay a short straight run.
 */
__noinline int open_report(const struct open_call *c)
{
	struct vgl_heap heap_, *hp = &heap_;
	struct task_struct *task;
	struct vgl_open *e;
	struct inode *inode;
	__u32 at, folded = 0;
	struct file *f;
	struct path fp;
	__u64 now;

	if (!c || !c->fptr)
		return 0;
	task = OPEN_TASK(c);
	f = VGL_CAST((void *)c->fptr, struct file);
	inode = KREAD(f, f_inode);
	now = bpf_ktime_get_boot_ns(); /* one clock read for the fold and the record */
	if (fold_ns && !c->denied && fold(inode, c->flags, task->tgid, now, &folded))
		return 0;
	if (!heap_get(hp))
		return 0;
	e = (struct vgl_open *)hp->rec;
	hdr_fill_task(&e->h, VGL_MSG_OPEN, task, now);
	e->kind = c->kind;
	e->syscall = c->sys;
	e->sflags = c->denied;
	e->ino = KREAD(inode, i_ino);
	e->dev = KREAD(inode, i_sb, s_dev);
	e->rdev = KREAD(inode, i_rdev);
	e->imode = KREAD(inode, i_mode);
	e->fmode = KREAD(f, f_mode);
	e->open_flags = c->flags;
	e->folded = folded;
	e->target = c->kind == VGL_KIND_PROC_SECRET ? proc_target(f) : 0;
	e->_pad0 = 0;

	at = sizeof(*e);
	file_path(c->fptr, &fp);
	e->path_len = path_field(&fp, at, &e->sflags);
	at += e->path_len;
	e->opened_len = ustr_copy(hp->rec, at, (const void *)c->uname);
	if (e->sflags & VGL_SF_PATH_TRUNC)
		drop_count(VGL_DROP_TRUNC_PATH);
	rec_submit(e, at + e->opened_len, VGL_MSG_OPEN);
	return 0;
}

/* open_report() of the file at fptr, opened by task (current, typed) with syscall sys. */
static __always_inline int report_open(struct task_struct *task, __u64 fptr, __u16 sys, __u32 kind,
				       __u32 denied)
{
	struct open_call c = {
	    .fptr = fptr, .task = (__u64)task, .sys = sys, .kind = kind, .denied = denied};
	const void *uname = NULL;

	c.flags = open_flags(task_regs(task), sys, &uname);
	c.uname = (__u64)uname;
	return open_report(&c);
}

/*
 * The struct file behind fd in task (typed: the current one) as a typed
 * pointer (*fptr: its address as a number), or NULL.
 */
static __always_inline struct file *fd_file_typed(struct task_struct *task, int fd, __u64 *fptr)
{
	struct fdtable *fdt = task->files->fdt;
	struct file **fds;

	if (fd < 0 || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	fds = fdt->fd;
	*fptr = kload64(&fds[fd]);
	return *fptr ? VGL_CAST((void *)(*fptr), struct file) : NULL;
}

/*
 * Without BPF-LSM the open has happened by the time we see it: the caller is
 * killed before it returns to user space, so it never uses the descriptor.
 * vigild's own opens are left out only once something matched: the check
 * is a helper call, the gates are not.
 */
static __always_inline int on_open_exit(long ret, __u16 sys)
{
	struct task_struct *task;
	struct file *f;
	__u32 denied, kind;
	__u64 fptr;

	if (ret < 0)
		return 0;
	task = bpf_get_current_task_btf();
	f = fd_file_typed(task, ret, &fptr);
	if (!f)
		return 0;
	kind = file_kind(f);
	denied = denied_open(f);
	if ((!kind && !denied) || task_is_agent(task))
		return 0;
	if (denied)
		bpf_send_signal(9);
	return report_open(task, fptr, sys, kind, denied);
}

/*
 * BPF-LSM variant (experimental: loaded only where the start-up probe showed
 * that LSM programs load and attach; this project's test kernel refuses
 * them). It sees the file before the fd is installed and costs no syscall
 * tracepoint; the open tracepoints below are then left unloaded.
 */
static __always_inline __u16 current_open_syscall(void)
{
#if defined(__TARGET_ARCH_x86)
	switch (BPF_CORE_READ(current_regs(), orig_ax)) {
	case 2:
		return VGL_SYS_OPEN;
	case 85:
		return VGL_SYS_CREAT;
	case 437:
		return VGL_SYS_OPENAT2;
	case 257:
		return VGL_SYS_OPENAT;
	default:
		return 0; /* exec, io_uring, kernel-internal opens: not a caller's name */
	}
#else
	return VGL_SYS_OPENAT;
#endif
}

SEC("lsm/file_open")
int BPF_PROG(lsm_file_open, struct file *file, int prev)
{
	__u32 denied;
	__u16 sys;

	__u32 kind;
	__u64 fptr;

	if (prev)
		return prev; /* another LSM already refused */
	kind = file_kind_arg(file);
	denied = denied_open_arg(file);
	if ((!kind && !denied) || from_agent())
		return 0; /* vigild is in no cell: nothing to deny, nothing to report */
	sys = current_open_syscall();
	/* the out-of-line half takes the file as a number: the argument's value */
	bpf_probe_read_kernel(&fptr, sizeof(fptr), ctx);
	if (sys || denied)
		report_open(bpf_get_current_task_btf(), fptr, sys ? sys : VGL_SYS_OPENAT, kind,
			    denied);
	return denied ? -1 /* EPERM */ : 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return on_open_exit(ctx->ret, VGL_SYS_OPENAT);
}

SEC("tracepoint/syscalls/sys_exit_open")
int exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return on_open_exit(ctx->ret, VGL_SYS_OPEN);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return on_open_exit(ctx->ret, VGL_SYS_OPENAT2);
}

SEC("tracepoint/syscalls/sys_exit_creat")
int exit_creat(struct trace_event_raw_sys_exit *ctx)
{
	return on_open_exit(ctx->ret, VGL_SYS_CREAT);
}

/*
 * Name-based changes. The file is gone or renamed by exit time, so filter on
 * the caller's name: a watched extension (ambiguous ones too; userspace
 * drops those outside model dirs), then the watched paths. Names relative to
 * a dirfd or the cwd get that directory resolved as `base`.
 */
static __always_inline __u32 ustr_is_watched(const char *s, __u32 len)
{
	struct vgl_ext_key ek = {};
	struct qstr q;

	if (len < 2)
		return 0;
	q.name = (const unsigned char *)s;
	q.len = len - 1;
	/* name_ext reads through bpf_probe_read_kernel: s is in our heap, fine */
	if (!name_ext(&q, &ek))
		return 0;
	return bpf_map_lookup_elem(&exts, &ek) ? VGL_KIND_MODEL : 0;
}

#define NO_BASE -1 /* a name resolved against nothing here (a symlink's target text) */

/* The directory a relative name is resolved against: dirfd's, or the cwd. */
static __always_inline int dir_of(long dirfd, struct path *p)
{
	struct file *f;

	/* an int in a 64-bit register: the upper half is not defined */
	dirfd = (int)dirfd;
	if (dirfd == -100 /* AT_FDCWD */) {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();

		*p = BPF_CORE_READ(task, fs, pwd);
		return 1;
	}
	f = fd_file(dirfd);
	if (!f)
		return 0;
	*p = BPF_CORE_READ(f, f_path);
	return 1;
}

/* dirfd's directory (or the cwd) as a path at rec[at]: its length incl NUL, 1 if none. */
static __always_inline __u32 walk_base(long dirfd, __u32 at)
{
	struct path p;

	struct vgl_heap heap_, *hp = &heap_;

	if (!dir_of(dirfd, &p)) {
		if (heap_get(hp))
			hp->rec[VGL_OFF(at)] = 0;
		return 1;
	}
	return path_put(&p, at);
}

static __always_inline __u32 base_copy(struct vgl_heap *hp, __u32 at, long dirfd, const char *name,
				       __u32 *sflags)
{
	__u32 r;

	if (name[0] == '/') {
		hp->rec[VGL_OFF(at)] = 0;
		return 1;
	}
	r = walk_base(dirfd, at);
	if (r & WALK_TRUNC)
		*sflags |= VGL_SF_PATH_TRUNC;
	r &= VGL_PATH_MAX * 2 - 1;
	return r ? r : 1;
}

/*
 * The trie key is built in the record buffer past the record (which ends
 * below 5 * VGL_PATH_MAX): a 260-byte key does not fit the BPF stack.
 */
#define KEY_AT	 (6 * VGL_PATH_MAX)
#define KEY_C(i) hp->rec[(KEY_AT + 4 + ((i) & (2 * VGL_PATH_KEY - 1))) & (VGL_REC_BUF - 1)]

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* High bit of each byte of w that equals c (a byte just above one that does may be flagged too). */
static __always_inline __u64 bytes_eq(__u64 w, __u64 c)
{
	__u64 x = w ^ (c * ONES);

	return (x - ONES) & ~x & HIGHS;
}

/*
 * Could the key hold `//`, `/.`? Eight bytes a step: every absolute name
 * pays this, the exact scan below only names with such a pair (hidden
 * files, mostly). Bytes past n are stale: they can only add a false "maybe".
 */
static __always_inline int key_maybe_dotted(struct vgl_heap *hp, __u32 n)
{
	int i;

	for (i = 0; i < VGL_PATH_KEY / 8; i++) {
		__u64 w, w1;

		if (i * 8 >= n)
			return 0;
		w = *(__u64 *)&KEY_C(i * 8);
		w1 = *(__u64 *)&KEY_C(i * 8 + 1);
		if (bytes_eq(w, '/') & (bytes_eq(w1, '.') | bytes_eq(w1, '/')))
			return 1;
	}
	return 0;
}

/* `//`, `/./` or `/../` in the key: a prefix match would be wrong, userspace canonicalises. */
static __always_inline int key_not_canonical(struct vgl_heap *hp, __u32 n)
{
	int i;

	if (!key_maybe_dotted(hp, n))
		return 0;

	for (i = 0; i < VGL_PATH_KEY; i++) {
		char c1, c2;

		if (i >= n)
			return 0;
		if (KEY_C(i) != '/')
			continue;
		c1 = KEY_C(i + 1);
		if (c1 == '/')
			return 1;
		if (c1 != '.')
			continue;
		c2 = KEY_C(i + 2);
		if (c2 == '/' || c2 == 0 ||
		    (c2 == '.' && (KEY_C(i + 3) == '/' || KEY_C(i + 3) == 0)))
			return 1;
	}
	return 0;
}

/*
 * The key's first n bytes (NUL included if it fits) against the trie. A
 * global function too: the canonical-form scan, inlined at every name a
 * change filters, is what took exit_renameat past the verifier's limit.
 */
__noinline __u32 key_check(__u32 n)
{
	struct vgl_heap heap_, *hp = &heap_;
	struct vgl_path_key *k;
	__u32 *kind;

	if (!heap_get(hp))
		return 0;
	k = (void *)&hp->rec[KEY_AT];
	if (n > VGL_PATH_KEY)
		n = VGL_PATH_KEY;
	if (key_not_canonical(hp, n))
		return VGL_KIND_UNRESOLVED; /* "/etc/cron.d/../x" must not match "/etc/cron.d/" */
	k->prefixlen = n * 8;
	kind = bpf_map_lookup_elem(&watch_paths, k);
	return kind ? *kind : 0;
}

static __always_inline __u32 key_lookup(struct vgl_heap *hp, __u32 n)
{
	return key_check(n);
}

/* Is there a '/' in the name (its first VGL_PATH_KEY bytes; longer ones count as yes)? */
static __always_inline int has_slash(struct vgl_heap *hp, __u32 at, __u32 len)
{
	int i;

	if (len > VGL_PATH_KEY)
		return 1;
	for (i = 0; i < VGL_PATH_KEY; i++) {
		if (i >= len)
			return 0;
		if (hp->rec[(at + i) & (VGL_REC_BUF - 1)] == '/')
			return 1;
	}
	return 0;
}

/*
 * The dirs-map flags of the directory a plain name is in. Every unwatched
 * unlink by a plain name pays this: the cwd through the BTF task pointer
 * (plain loads, no helper call per field).
 */
static __always_inline __u32 dirfd_flags(long dirfd)
{
	struct vgl_inode_key k = {};
	struct inode *inode;
	__u32 *v;

	if ((int)dirfd == -100 /* AT_FDCWD */) {
		struct task_struct *task = bpf_get_current_task_btf();

		inode = task->fs->pwd.dentry->d_inode;
		k.ino = inode->i_ino;
		k.dev = inode->i_sb->s_dev;
	} else {
		struct file *f = fd_file(dirfd);

		if (!f)
			return 0;
		f = VGL_CAST(f, struct file);
		inode = KREAD(f, f_inode);
		k.ino = KREAD(inode, i_ino);
		k.dev = KREAD(inode, i_sb, s_dev);
	}
	v = bpf_map_lookup_elem(&dirs, &k);
	return v ? *v : 0;
}

/* Key := the absolute name at `at` (len incl NUL). */
static __always_inline __u32 key_abs(struct vgl_heap *hp, __u32 at, __u32 len)
{
	__u32 n = len > VGL_PATH_KEY ? VGL_PATH_KEY : len;

	bpf_probe_read_kernel(&KEY_C(0), n & (2 * VGL_PATH_KEY - 1), &hp->rec[VGL_OFF(at)]);
	return len;
}

/* Key := the path of dirfd's directory '/' name: the join userspace makes, enough of it to look up. */
__noinline __u32 key_join(long dirfd, __u32 at, __u32 len)
{
	struct vgl_heap heap_, *hp = &heap_;
	__u32 blen, room;
	struct path dir;

	if (!heap_get(hp) || !dir_of(dirfd, &dir))
		return 0;
	/* the directory's path is written where the key's bytes start */
	blen = (path_put(&dir, KEY_AT + 4) & (2 * VGL_PATH_MAX - 1)) - 1; /* without its NUL */
	if (blen == 1)
		blen = 0; /* "/": the name's own slash follows */
	if (blen > VGL_PATH_KEY)
		blen = VGL_PATH_KEY;
	KEY_C(blen) = '/';
	room = 0;
	if (blen < VGL_PATH_KEY - 1)
		room = VGL_PATH_KEY - 1 - blen;
	if (room > len)
		room = len;
	asm volatile("" : "+r"(room)); /* hide the bound: the mask below is then kept */
	room &= VGL_PATH_KEY - 1;
	bpf_probe_read_kernel(&KEY_C(blen + 1), room, &hp->rec[VGL_OFF(at)]);
	return blen + 1 + len;
}

/*
 * Kind of a caller's name (at `at`, len incl NUL) relative to dirfd, 0 if
 * unwatched. Cheapest first: the extension; an absolute name is one trie
 * lookup; a plain name costs a lookup of its directory's inode, and only
 * where that directory holds watched files a path walk to look it up by
 * path. A relative name with a '/' is walked and looked up.
 */
static __always_inline __u32 name_kind(struct vgl_heap *hp, __u32 at, __u32 len, long dirfd)
{
	__u32 flags;
	__u32 kind = ustr_is_watched(&hp->rec[VGL_OFF(at)], len);

	if (kind || !nr_paths || len < 2)
		return kind;
	if (hp->rec[VGL_OFF(at)] == '/')
		return key_lookup(hp, key_abs(hp, at, len));
	if (dirfd == NO_BASE)
		return 0;
	if (!has_slash(hp, at, len)) {
		flags = dirfd_flags(dirfd);
		if (flags & VGL_DIR_ALL)
			return VGL_KIND_CONFIG;
		if (!(flags & VGL_DIR_PARENT))
			return 0;
	}
	len = key_join(dirfd, at, len);
	return len ? key_lookup(hp, len) : 0;
}

/* A resolved kind beats "userspace decides". */
static __always_inline __u32 best_kind(__u32 a, __u32 b)
{
	return a && a != VGL_KIND_UNRESOLVED ? a : b ? b : a;
}

static __always_inline int on_name_change(long ret, __u16 sys, long dirfd, const void *uname,
					  long dirfd2, const void *uname2)
{
	struct vgl_heap heap_, *hp = &heap_;
	struct vgl_fchange *e;
	__u32 at, kind, kind2 = 0, pstart, p2start;
	char first;

	if (ret != 0 || from_agent())
		return 0;
	if (!heap_get(hp))
		return 0;
	e = (struct vgl_fchange *)hp->rec;
	e->sflags = 0;
	/* names first (after a base-sized gap is not possible: lay out base, path, path2) */
	at = sizeof(*e) + VGL_PATH_MAX;
	e->path_len = ustr_copy(hp->rec, at, uname);
	kind = name_kind(hp, at, e->path_len, dirfd);
	pstart = at;
	at += e->path_len;
	e->path2_len = 0;
	if (uname2) {
		e->path2_len = ustr_copy(hp->rec, at, uname2);
		kind2 = name_kind(hp, at, e->path2_len, dirfd2);
	}
	if (!kind && !kind2)
		return 0;
	p2start = at;
	at += e->path2_len;
	e->base2_len = 0;
	if (uname2) {
		bpf_probe_read_kernel(&first, 1, &hp->rec[p2start & (VGL_REC_BUF - 1)]);
		e->base2_len = base_copy(hp, at, dirfd2, &first, &e->sflags);
		at += e->base2_len;
	}
	bpf_probe_read_kernel(&first, 1, &hp->rec[pstart & (VGL_REC_BUF - 1)]);
	e->base_len = base_copy(hp, sizeof(*e), dirfd, &first, &e->sflags);
	/* userspace finds: base at data[0], path at data[VGL_PATH_MAX], path2 and base2 after it */
	hdr_fill(&e->h, VGL_MSG_FCHANGE);
	e->kind = best_kind(kind, kind2);
	e->syscall = sys;
	e->ino = 0;
	e->dev = 0;
	rec_submit(e, at, VGL_MSG_FCHANGE);
	return 0;
}

/*
 * A name-change program's syscall arguments: plain loads from its `regs`
 * (current_regs(): no helper call for them), not a probe read each (~37 ns).
 */
#define ARG(n) PT_REGS_PARM##n##_SYSCALL(regs)

SEC("tracepoint/syscalls/sys_exit_unlink")
int exit_unlink(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = current_regs();

	return on_name_change(ctx->ret, VGL_SYS_UNLINK, -100, (void *)ARG(1), 0, NULL);
}

SEC("tracepoint/syscalls/sys_exit_unlinkat")
int exit_unlinkat(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = current_regs();

	return on_name_change(ctx->ret, VGL_SYS_UNLINKAT, ARG(1), (void *)ARG(2), 0, NULL);
}

SEC("tracepoint/syscalls/sys_exit_rename")
int exit_rename(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = current_regs();

	return on_name_change(ctx->ret, VGL_SYS_RENAME, -100, (void *)ARG(1), -100, (void *)ARG(2));
}

SEC("tracepoint/syscalls/sys_exit_renameat")
int exit_renameat(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = current_regs();

	return on_name_change(ctx->ret, VGL_SYS_RENAMEAT, ARG(1), (void *)ARG(2), ARG(3),
			      (void *)ARG(4));
}

SEC("tracepoint/syscalls/sys_exit_renameat2")
int exit_renameat2(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = current_regs();

	return on_name_change(ctx->ret, VGL_SYS_RENAMEAT2, ARG(1), (void *)ARG(2), ARG(3),
			      (void *)ARG(4));
}

SEC("tracepoint/syscalls/sys_exit_truncate")
int exit_truncate(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = current_regs();

	return on_name_change(ctx->ret, VGL_SYS_TRUNCATE, -100, (void *)ARG(1), 0, NULL);
}

SEC("tracepoint/syscalls/sys_exit_chmod")
int exit_chmod(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = current_regs();

	return on_name_change(ctx->ret, VGL_SYS_CHMOD, -100, (void *)ARG(1), 0, NULL);
}

SEC("tracepoint/syscalls/sys_exit_fchmodat")
int exit_fchmodat(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = current_regs();

	return on_name_change(ctx->ret, VGL_SYS_FCHMODAT, ARG(1), (void *)ARG(2), 0, NULL);
}

/* Linux 6.6+ (chmod(1) of coreutils 9.5 calls it); skipped where the kernel lacks it. */
SEC("tracepoint/syscalls/sys_exit_fchmodat2")
int exit_fchmodat2(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = current_regs();

	return on_name_change(ctx->ret, VGL_SYS_FCHMODAT2, ARG(1), (void *)ARG(2), 0, NULL);
}

/* Hard links: old name, new name (how a file is planted without a write there). */
SEC("tracepoint/syscalls/sys_exit_link")
int exit_link(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = current_regs();

	return on_name_change(ctx->ret, VGL_SYS_LINK, -100, (void *)ARG(1), -100, (void *)ARG(2));
}

SEC("tracepoint/syscalls/sys_exit_linkat")
int exit_linkat(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = current_regs();

	return on_name_change(ctx->ret, VGL_SYS_LINKAT, ARG(1), (void *)ARG(2), ARG(3),
			      (void *)ARG(4));
}

/*
 * Symlinks (how systemd units are enabled): the target is text, resolved
 * against nothing now; an absolute one into a watched path counts, so does
 * the link's own name.
 */
SEC("tracepoint/syscalls/sys_exit_symlink")
int exit_symlink(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = current_regs();

	return on_name_change(ctx->ret, VGL_SYS_SYMLINK, NO_BASE, (void *)ARG(1), -100,
			      (void *)ARG(2));
}

SEC("tracepoint/syscalls/sys_exit_symlinkat")
int exit_symlinkat(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = current_regs();

	return on_name_change(ctx->ret, VGL_SYS_SYMLINKAT, NO_BASE, (void *)ARG(1), ARG(2),
			      (void *)ARG(3));
}

/* fd-based changes: the file is still open, filter and resolve like an open. */
static __always_inline int on_fd_change(long ret, __u16 sys, int fd)
{
	struct vgl_heap heap_, *hp = &heap_;
	struct vgl_fchange *e;
	struct inode *inode;
	struct file *f;
	struct path fp;
	__u32 kind;
	__u64 fptr;

	if (ret != 0 || from_agent())
		return 0;
	f = fd_file_typed(bpf_get_current_task_btf(), fd, &fptr);
	if (!f)
		return 0;
	kind = file_kind(f);
	if (!kind || kind == VGL_KIND_PENDING)
		return 0;
	inode = KREAD(f, f_inode);
	if (!heap_get(hp))
		return 0;
	e = (struct vgl_fchange *)hp->rec;
	hdr_fill(&e->h, VGL_MSG_FCHANGE);
	e->sflags = 0;
	e->kind = kind;
	e->syscall = sys;
	e->ino = BPF_CORE_READ(inode, i_ino);
	e->dev = inode_dev(inode);
	e->mode = BPF_CORE_READ(inode, i_mode);
	e->length = BPF_CORE_READ(inode, i_size);
	hp->rec[sizeof(*e)] = 0;
	e->base_len = 1;
	file_path(fptr, &fp);
	e->path_len = path_field(&fp, sizeof(*e) + VGL_PATH_MAX, &e->sflags);
	e->path2_len = 0;
	e->base2_len = 0;
	rec_submit(e, sizeof(*e) + VGL_PATH_MAX + e->path_len, VGL_MSG_FCHANGE);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_ftruncate")
int exit_ftruncate(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = current_regs();

	return on_fd_change(ctx->ret, VGL_SYS_FTRUNCATE, ARG(1));
}

SEC("tracepoint/syscalls/sys_exit_fchmod")
int exit_fchmod(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = current_regs();

	return on_fd_change(ctx->ret, VGL_SYS_FCHMOD, ARG(1));
}

/*
 * fexit variants of the exit tracepoints above (experimental: loaded only
 * where the start-up probe showed that fentry/fexit programs load and attach;
 * this project's test kernel refuses them, tests/unit/test_probe_select.c
 * loads these same bodies retargeted to tp_btf/sys_exit, whose arguments are
 * the same two). vigild takes one family whole: all of its fexit programs,
 * or all of its tracepoints, never a mix. With opens on BPF-LSM or fexit,
 * and the name changes and ptrace (process.bpf.c) on fexit, no syscall
 * tracepoint is attached and read/close pay nothing.
 */
VGL_FEXIT_SYSCALL(fx_openat, openat)
{
	return on_open_exit(ret, VGL_SYS_OPENAT);
}

VGL_FEXIT_SYSCALL(fx_open, open)
{
	return on_open_exit(ret, VGL_SYS_OPEN);
}

VGL_FEXIT_SYSCALL(fx_openat2, openat2)
{
	return on_open_exit(ret, VGL_SYS_OPENAT2);
}

VGL_FEXIT_SYSCALL(fx_creat, creat)
{
	return on_open_exit(ret, VGL_SYS_CREAT);
}

VGL_FEXIT_SYSCALL(fx_unlink, unlink)
{
	return on_name_change(ret, VGL_SYS_UNLINK, -100, (void *)ARG(1), 0, NULL);
}

VGL_FEXIT_SYSCALL(fx_unlinkat, unlinkat)
{
	return on_name_change(ret, VGL_SYS_UNLINKAT, ARG(1), (void *)ARG(2), 0, NULL);
}

VGL_FEXIT_SYSCALL(fx_rename, rename)
{
	return on_name_change(ret, VGL_SYS_RENAME, -100, (void *)ARG(1), -100, (void *)ARG(2));
}

VGL_FEXIT_SYSCALL(fx_renameat, renameat)
{
	return on_name_change(ret, VGL_SYS_RENAMEAT, ARG(1), (void *)ARG(2), ARG(3),
			      (void *)ARG(4));
}

VGL_FEXIT_SYSCALL(fx_renameat2, renameat2)
{
	return on_name_change(ret, VGL_SYS_RENAMEAT2, ARG(1), (void *)ARG(2), ARG(3),
			      (void *)ARG(4));
}

VGL_FEXIT_SYSCALL(fx_truncate, truncate)
{
	return on_name_change(ret, VGL_SYS_TRUNCATE, -100, (void *)ARG(1), 0, NULL);
}

VGL_FEXIT_SYSCALL(fx_chmod, chmod)
{
	return on_name_change(ret, VGL_SYS_CHMOD, -100, (void *)ARG(1), 0, NULL);
}

VGL_FEXIT_SYSCALL(fx_fchmodat, fchmodat)
{
	return on_name_change(ret, VGL_SYS_FCHMODAT, ARG(1), (void *)ARG(2), 0, NULL);
}

VGL_FEXIT_SYSCALL(fx_fchmodat2, fchmodat2)
{
	return on_name_change(ret, VGL_SYS_FCHMODAT2, ARG(1), (void *)ARG(2), 0, NULL);
}

VGL_FEXIT_SYSCALL(fx_link, link)
{
	return on_name_change(ret, VGL_SYS_LINK, -100, (void *)ARG(1), -100, (void *)ARG(2));
}

VGL_FEXIT_SYSCALL(fx_linkat, linkat)
{
	return on_name_change(ret, VGL_SYS_LINKAT, ARG(1), (void *)ARG(2), ARG(3), (void *)ARG(4));
}

VGL_FEXIT_SYSCALL(fx_symlink, symlink)
{
	return on_name_change(ret, VGL_SYS_SYMLINK, NO_BASE, (void *)ARG(1), -100, (void *)ARG(2));
}

VGL_FEXIT_SYSCALL(fx_symlinkat, symlinkat)
{
	return on_name_change(ret, VGL_SYS_SYMLINKAT, NO_BASE, (void *)ARG(1), ARG(2),
			      (void *)ARG(3));
}

VGL_FEXIT_SYSCALL(fx_ftruncate, ftruncate)
{
	return on_fd_change(ret, VGL_SYS_FTRUNCATE, ARG(1));
}

VGL_FEXIT_SYSCALL(fx_fchmod, fchmod)
{
	return on_fd_change(ret, VGL_SYS_FCHMOD, ARG(1));
}
