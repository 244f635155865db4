/* SPDX-License-Identifier: GPL-2.0 */
/*
 * common.bpf.h — maps and helpers every vigil BPF object shares.
 *
 * `events` and `drops` are defined in each object, but userspace creates
 * them once (process object) and hands the same fds to the others with
 * bpf_map__reuse_fd(), so all families write one ordered stream.
 */
#ifndef VIGIL_COMMON_BPF_H
#define VIGIL_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "vigil/abi.h"

#define VGL_MAX_COMPONENTS 48		/* < 64: path_buf's component slots */
#define VGL_MAX_STACK	   8		/* mounts crossed at one point: a stack, then its parent */
#define VGL_REC_BUF	   65536	/* record scratch per CPU */
#define VGL_OFF(x)	   ((x)&0x7fff) /* any write offset into it; writes are < 32 KiB */

#ifndef S_IFMT
#define S_IFMT	00170000
#define S_IFREG 0100000
#define S_IFCHR 0020000
#define S_IFDIR 0040000
#endif
#ifndef S_IFSOCK
#define S_IFSOCK 0140000
#endif

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VGL_DROP_NR);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/*
 * Per-CPU scratch: the record being built, and a path's components while
 * it is written into the record. Records are an array indexed by CPU rather than a per-CPU
 * array because per-CPU values are capped at 32 KiB; the programs using them
 * run with migration disabled.
 */
struct rec_buf {
	char b[VGL_REC_BUF];
};

struct path_buf {
	/* a path's components as path_gather() found them, leaf first (a power of 2: masks) */
	const unsigned char *name[64];
	__u32 len[64];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* set to the number of possible CPUs before load */
	__type(key, __u32);
	__type(value, struct rec_buf);
} recs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_buf);
} paths SEC(".maps");

struct vgl_heap {
	char *rec;
	struct path_buf *pb;
};

static __always_inline int heap_get(struct vgl_heap *hp)
{
	__u32 zero = 0, cpu = bpf_get_smp_processor_id();

	hp->rec = bpf_map_lookup_elem(&recs, &cpu);
	hp->pb = bpf_map_lookup_elem(&paths, &zero);
	return hp->rec && hp->pb;
}

/*
 * Forget what the verifier knows about a value by passing it through memory:
 * after a path walk, many exit states differ only in such values, and
 * forgetting them lets the states merge instead of multiplying.
 */
#define LAUNDER(v) asm volatile("" : "+m"(v) : : "memory")

/*
 * Two builds of each object that reads kernel structures. VGL_TYPED (the
 * default): a kernel pointer held as a number is made a typed one with
 * bpf_rdonly_cast() (6.2+), and its fields are plain loads (the JIT's
 * fault-handled loads) instead of one bpf_probe_read_kernel() call each;
 * the kfunc is rewritten into a move by the verifier: it costs nothing.
 * VGL_TYPED=0 (build/<obj>.compat.bpf.o): the same sources for kernels
 * without that kfunc (Ubuntu 22.04's 5.15; Debian 12's 6.1, where `make
 * test-kernels` runs it), every such field a probe read; vigild loads it
 * where the typed one is refused (sense/probes.c).
 *
 * VGL_CAST(p, type): p as a typed pointer. KREAD(p, a, b...): p->a->b of
 * such a pointer, a typed load, or a probe read chain in the compat build.
 * Pointers the verifier types itself (a tp_btf or fexit argument,
 * bpf_get_current_task_btf() and what is loaded through them) take `->`
 * in both builds; a pointer made by VGL_CAST is read only through KREAD.
 */
#ifndef VGL_TYPED
#define VGL_TYPED 1
#endif
#if VGL_TYPED
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define VGL_CAST(p, type) ((type *)bpf_rdonly_cast((p), bpf_core_type_id_kernel(type)))
#define KREAD(p, a, ...)  ((p)->___arrow(a, ##__VA_ARGS__))
#else
#define VGL_CAST(p, type) ((type *)(p))
#define KREAD(p, a, ...)  BPF_CORE_READ(p, a, ##__VA_ARGS__)
#endif

/*
 * Set before load where bpf_rdonly_cast() to void works (probed at start):
 * fd slots, struct paths and the names' bytes are then plain loads, else
 * probe reads. Always false in the compat build.
 */
const volatile __u8 raw_loads = 0;
#define RAW_LOADS (VGL_TYPED && raw_loads)

#if VGL_TYPED
#define RAW_PTR(p) bpf_rdonly_cast((void *)(p), 0)
#else
#define RAW_PTR(p) ((void *)(p)) /* never dereferenced: RAW_LOADS is 0 */
#endif

/* 8 bytes at kernel address p: a plain load where raw_loads, else a probe read. */
static __always_inline __u64 kload64(const void *p)
{
	__u64 v = 0;

	if (RAW_LOADS)
		return *(const __u64 *)RAW_PTR(p);
	bpf_probe_read_kernel(&v, sizeof(v), p);
	return v;
}

/* 16 bytes at kernel address p, the same way. */
static __always_inline void kload128(__u64 w[2], const void *p)
{
	const __u64 *q;

	if (!RAW_LOADS) {
		bpf_probe_read_kernel(w, 16, p);
		return;
	}
	q = RAW_PTR(p);
	w[0] = q[0];
	w[1] = q[1];
}

static __always_inline void drop_count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&drops, &idx);

	if (v)
		*v += 1;
}

/*
 * vigild's own tgid (set before load). What the sensor does itself (the
 * sniffer reading a model, its /proc and device lookups, its webhooks'
 * connects) is not the host's activity: reported, it made the rules name the
 * sensor, and a kill playbook then asked to kill it. Its threads share the
 * tgid; the scripts it spawns are processes of their own and stay seen.
 * Checked first, before any other work, in every program that reports what
 * the current task did.
 */
const volatile __u32 agent_pid = 0;

static __always_inline int from_agent(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == agent_pid;
}

/* from_agent() where the current task (typed) is at hand: a load, not a helper call. */
static __always_inline int task_is_agent(struct task_struct *current_task)
{
	return current_task->tgid == agent_pid;
}

/* Fill the header from helpers every program type has (cgroup hooks included). */
static __always_inline void hdr_fill_current(struct vgl_hdr *h, __u16 type)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();

	h->type = type;
	h->version = VGL_ABI_VERSION;
	h->flags = 0;
	h->ts_ns = bpf_ktime_get_boot_ns();
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->ppid = 0;
	h->uid = (__u32)uid_gid;
	h->gid = uid_gid >> 32;
	h->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/*
 * The header from a task (typed), parent included (tracing programs): what
 * the helpers above compute is read here as typed loads of the task (a kuid
 * is the init namespace's uid, which is what the helper reports). In three
 * parts, for records whose reader needs less: where a task has just forked
 * or is exiting, each line read is likely a cache miss (the cgroup id is
 * three dependent ones).
 */
static __always_inline void hdr_fill_ids(struct vgl_hdr *h, __u16 type, struct task_struct *t,
					 __u64 ts_ns)
{
	h->type = type;
	h->version = VGL_ABI_VERSION;
	h->flags = 0;
	h->ts_ns = ts_ns;
	h->pid = t->tgid;
	h->tid = t->pid;
	h->ppid = t->real_parent->tgid;
}

/* Who: the credentials and the name. */
static __always_inline void hdr_fill_who(struct vgl_hdr *h, struct task_struct *t)
{
	const struct cred *cred = t->cred;

	h->uid = cred->uid.val;
	h->gid = cred->gid.val;
	__builtin_memcpy(h->comm, t->comm, sizeof(h->comm));
}

/* All of it: the ids, who, and the cgroup. hdr_fill(): the current task, now. */
static __always_inline void hdr_fill_task(struct vgl_hdr *h, __u16 type, struct task_struct *t,
					  __u64 ts_ns)
{
	hdr_fill_ids(h, type, t, ts_ns);
	hdr_fill_who(h, t);
	h->cgroup_id = t->cgroups->dfl_cgrp->kn->id; /* what bpf_get_current_cgroup_id() reads */
}

static __always_inline void hdr_fill(struct vgl_hdr *h, __u16 type)
{
	hdr_fill_task(h, type, bpf_get_current_task_btf(), bpf_ktime_get_boot_ns());
}

/*
 * Wake the agent when this much is waiting (set before load; 0 = every
 * record). Below it the agent drains on its own short timer: a wakeup per
 * event would cost more than the event.
 */
const volatile __u64 wakeup_bytes = 0;

#define VGL_RB_CHECK_EVERY 16 /* records between two looks at the ring's fill, per CPU */

/* Per CPU: records since the ring's fill was last looked at, and what it was then. */
struct rb_check {
	__u32 unchecked;
	__u32 _pad;
	__u64 last_avail;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rb_check);
} rb_checks SEC(".maps");

/*
 * BPF_RB_FORCE_WAKEUP for the record that takes the ring past wakeup_bytes,
 * else BPF_RB_NO_WAKEUP. A wakeup is an irq_work, a self-IPI, which in a VM
 * is an exit to the hypervisor (~30 % of an open loop's time once the agent
 * lagged by wakeup_bytes, measured with perf): only the crossing wakes, the
 * agent's drain timer covers the rest. The fill is looked at every
 * VGL_RB_CHECK_EVERY records on a CPU, not every record: the query is a
 * helper call and a read of the consumer's cache line.
 */
static __always_inline __u64 rb_wakeup(__u64 size)
{
	__u32 zero = 0;
	struct rb_check *c = bpf_map_lookup_elem(&rb_checks, &zero);
	__u64 avail, was;

	if (!wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	if (!c || ++c->unchecked < VGL_RB_CHECK_EVERY)
		return BPF_RB_NO_WAKEUP;
	c->unchecked = 0;
	avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + size;
	was = c->last_avail;
	c->last_avail = avail;
	return was < wakeup_bytes && avail >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* Submit the first `size` bytes of a record; counts a full buffer. */
static __always_inline void rec_submit(void *rec, __u64 size, __u16 type)
{
	size &= VGL_REC_BUF - 1;
	((struct vgl_hdr *)rec)->size = size;
	if (bpf_ringbuf_output(&events, rec, size, rb_wakeup(size)))
		drop_count(VGL_DROP_RB_FULL + type);
}

/*
 * A record of fixed size built in the ring itself: reserved, filled in
 * place, committed, with no copy from the stack (bench/helper_cost.py: a
 * reserve and submit ~35 ns on the test VM, an output of the same size
 * ~60-90). The ring's memory holds an older record: the record is zeroed
 * first, as a stack record is. NULL, counted as a drop, when the ring is full.
 */
#define REC_RESERVE(type_, msg)                                             \
	({                                                                  \
		type_ *r_ = bpf_ringbuf_reserve(&events, sizeof(type_), 0); \
		if (r_)                                                     \
			__builtin_memset(r_, 0, sizeof(type_));             \
		else                                                        \
			drop_count(VGL_DROP_RB_FULL + (msg));               \
		r_;                                                         \
	})

/* Commit a REC_RESERVE() record of `size` bytes (its type's size). */
static __always_inline void rec_commit(void *rec, __u32 size)
{
	((struct vgl_hdr *)rec)->size = size;
	bpf_ringbuf_submit(rec, rb_wakeup(size));
}

/* Process start time in CLOCK_BOOTTIME ns (what /proc/PID/stat counts). */
static __always_inline __u64 task_start_ns(struct task_struct *task)
{
	struct task_struct *leader = VGL_CAST(task, struct task_struct)->group_leader;

	if (bpf_core_field_exists(leader->start_boottime))
		return leader->start_boottime;
	return 0;
}

/*
 * A path's components, leaf first, into pb->name/len, with no copy, only
 * typed loads. Mount points are crossed the way d_path does, stacked mounts
 * included, so bind mounts and symlinked names come out as the real
 * location; sets trunc_flag in *flags when components had to be left out
 * (more than VGL_PATH_MAX bytes, VGL_MAX_COMPONENTS levels or VGL_MAX_STACK
 * mounts at one point). Returns the number of components; *total is the
 * path's length with its NUL, so that path_emit() can write it left to
 * right into the record itself.
 */
static __always_inline __u32 path_gather(struct path_buf *pb, struct dentry *dentry,
					 struct vfsmount *vfsmnt, __u32 *total, __u32 *flags,
					 __u32 trunc_flag)
{
	struct mount *mnt = VGL_CAST(container_of(vfsmnt, struct mount, mnt), struct mount);
	struct mount *mnt_parent = KREAD(mnt, mnt_parent);
	__u32 n, size = 1;

	dentry = VGL_CAST(dentry, struct dentry);
	/*
	 * Each iteration first crosses every mount whose root it stands on, as
	 * prepend_path() in fs/d_path.c does: the mountpoint of a mount stacked
	 * on another (/dev/shm, a k8s emptyDir over the runtime's) is the lower
	 * mount's root, so one crossing is not enough. The crossings are an
	 * inner loop that falls through to the name step rather than a
	 * "continue" of this one: a path that skips the name step would fork
	 * the verifier's states per level.
	 */
	for (n = 0; n < VGL_MAX_COMPONENTS; n++) {
		struct dentry *mnt_root;
		struct dentry *parent;
		__u32 len;
		int j;

		for (j = 0; j < VGL_MAX_STACK; j++) {
			mnt_root = KREAD(mnt, mnt.mnt_root);
			if (dentry != mnt_root || mnt == mnt_parent)
				break;
			dentry = KREAD(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			mnt_parent = KREAD(mnt, mnt_parent);
		}
		if (j == VGL_MAX_STACK) {
			mnt_root = KREAD(mnt, mnt.mnt_root);
			if (dentry == mnt_root && mnt != mnt_parent) {
				*flags |= trunc_flag; /* more layers than we cross */
				break;
			}
		}
		if (dentry == mnt_root)
			break; /* global root */
		parent = KREAD(dentry, d_parent);
		if (dentry == parent)
			break; /* root of a detached tree */
		len = KREAD(dentry, d_name.len) & 255;
		if (size + len + 1 > VGL_PATH_MAX) {
			*flags |= trunc_flag;
			break;
		}
		pb->name[n] = KREAD(dentry, d_name.name);
		pb->len[n] = len;
		size += len + 1;
		dentry = parent;
	}
	if (n == VGL_MAX_COMPONENTS)
		*flags |= trunc_flag; /* deeper than we walk: no root reached */
	*total = n ? size : 2;	      /* "/" */
	return n;
}

#define VGL_NAME_WORDS 8 /* names up to 64 bytes (hex digests) are plain loads */

/*
 * One name of len bytes to rec[at]. Where raw_loads: plain 8-byte loads and
 * stores, as many as the name needs (most components are a word or two);
 * the bytes past the name land where the next component or the NUL is
 * written after it. Longer names, or no raw loads: one helper call.
 */
static __always_inline void name_put(char *rec, __u32 at, const unsigned char *name, __u32 len,
				     int raw)
{
	int k;

	if (!raw || len > VGL_NAME_WORDS * 8) {
		bpf_probe_read_kernel(&rec[VGL_OFF(at)], len & 255, name);
		return;
	}
	for (k = 0; k < VGL_NAME_WORDS && k * 8 < len; k++)
		*(__u64 *)&rec[VGL_OFF(at + k * 8)] = *(const __u64 *)RAW_PTR(name + k * 8);
}

/*
 * Write the path (dentry, vfsmnt) at rec[at], NUL-terminated; returns its
 * length incl the NUL. Gathered first, then written root first, left to
 * right: a component's stores run past its end only into the space of what
 * follows it. Sets trunc_flag in *flags as path_gather() does.
 */
static __always_inline __u32 path_emit(char *rec, __u32 at, struct path_buf *pb,
				       struct dentry *dentry, struct vfsmount *vfsmnt, __u32 *flags,
				       __u32 trunc_flag, int raw)
{
	__u32 total, n = path_gather(pb, dentry, vfsmnt, &total, flags, trunc_flag);
	__u32 pos = at;
	int i;

	LAUNDER(n); /* the walk's exits differ in these: forgotten, they merge */
	LAUNDER(total);
	if (total + VGL_NAME_WORDS * 8 > VGL_PATH_MAX)
		raw = 0; /* word stores would run past the path's VGL_PATH_MAX bytes */

	for (i = 0; i < VGL_MAX_COMPONENTS; i++) {
		__u32 c = (n - 1 - i) & 63, len;

		if (i >= (int)n)
			break;
		len = pb->len[c] & 255;
		LAUNDER(pos); /* one state per level, not one per length seen */
		rec[VGL_OFF(pos)] = '/';
		name_put(rec, pos + 1, pb->name[c], len, raw);
		pos += len + 1;
	}
	if (!n)
		rec[VGL_OFF(pos++)] = '/';
	rec[VGL_OFF(pos)] = 0;
	return total;
}

#define WALK_TRUNC (1u << 16) /* in a walk's result: the path was truncated */

/*
 * The path *p (dentry, mnt: any memory, kernel pointers as numbers) written
 * at rec[at] (path_emit()); returns its length incl NUL, with WALK_TRUNC
 * set if it was truncated. A global function: the verifier checks the walk
 * once, not once per place a path is written (an open, a name change's
 * two names, an fd's change), which together would exceed its limit.
 */
__noinline __u32 path_put(const struct path *p, __u32 at)
{
	struct vgl_heap heap_, *hp = &heap_;
	__u32 sflags = 0, len;

	if (!p || !heap_get(hp))
		return 0;
	len = path_emit(hp->rec, at, hp->pb, p->dentry, p->mnt, &sflags, 1, RAW_LOADS);
	return len | (sflags ? WALK_TRUNC : 0);
}

/* Read a user string into rec at `at`, at most VGL_PATH_MAX bytes incl NUL; returns its length. */
static __always_inline __u32 ustr_copy(char *rec, __u32 at, const void *ustr)
{
	long n = bpf_probe_read_user_str(&rec[VGL_OFF(at)], VGL_PATH_MAX, ustr);

	if (n <= 0) {
		rec[VGL_OFF(at)] = 0;
		return 1;
	}
	return n;
}

/* The struct file behind fd in the current task, or NULL. */
static __always_inline struct file *fd_file(int fd)
{
	/* a BTF task pointer: plain loads instead of a helper call per field */
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	struct file **fds;
	struct file *f = NULL;

	if (fd < 0 || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	fds = fdt->fd;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* Kernel dev_t of the filesystem holding inode. */
static __always_inline __u32 inode_dev(struct inode *inode)
{
	return BPF_CORE_READ(inode, i_sb, s_dev);
}

/*
 * Where task_pt_regs() finds a task's syscall registers: its kernel stack
 * plus a constant of the kernel's build (THREAD_SIZE less the registers).
 * bpf_task_pt_regs() tells it once: regs_off; from then on a task's
 * registers are a load and an add, not a helper call (~23 ns on the test
 * VM, bench/helper_cost.py). The helper's pointer becomes a number the
 * verifier lets us subtract by a trip through memory, this CPU's own
 * (regs_probe): CPUs that learn it at once each compute it from their own
 * task's two values, and all store the same constant.
 */
struct regs_probe {
	__u64 regs, stack;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct regs_probe);
} regs_probe SEC(".maps");

volatile __u64 regs_off = 0;

/* Syscall argument registers of task (current, typed; valid at sys_exit). */
static __always_inline struct pt_regs *task_regs(struct task_struct *task)
{
#if VGL_TYPED
	__u64 stack = (__u64)task->stack;
	struct regs_probe *rp;
	__u32 zero = 0;

	if (!regs_off) {
		rp = bpf_map_lookup_elem(&regs_probe, &zero);
		if (!rp)
			return (struct pt_regs *)bpf_task_pt_regs(task);
		rp->regs = (__u64)bpf_task_pt_regs(task);
		rp->stack = stack;
		regs_off =
		    *(volatile __u64 *)&rp->regs - *(volatile __u64 *)&rp->stack; /* as numbers */
	}
	return VGL_CAST((void *)(stack + regs_off), struct pt_regs);
#else
	return (struct pt_regs *)bpf_task_pt_regs(task);
#endif
}

/* Syscall argument registers of the current task (valid at sys_exit). */
static __always_inline struct pt_regs *current_regs(void)
{
	return task_regs(bpf_get_current_task_btf());
}

/*
 * An fexit program on a syscall's wrapper (what the syscall table calls):
 * the syscall's saved registers and its return value, as at the exit
 * tracepoint, but only that syscall pays, not every syscall of every task.
 * Loaded only where the start-up probe found fentry/fexit (sense/probes.c);
 * a kernel without one of these syscalls has no such function in its BTF,
 * and vigild then leaves that program unloaded.
 */
#if defined(__TARGET_ARCH_x86)
#define VGL_SYSCALL_FN(name) "__x64_sys_" #name
#elif defined(__TARGET_ARCH_arm64)
#define VGL_SYSCALL_FN(name) "__arm64_sys_" #name
#else
#error "fexit programs on syscall wrappers: add this architecture's wrapper prefix"
#endif
#define VGL_FEXIT_SYSCALL(prog, name)      \
	SEC("fexit/" VGL_SYSCALL_FN(name)) \
	int BPF_PROG(prog, const struct pt_regs *regs, long ret)

#endif /* VIGIL_COMMON_BPF_H */
