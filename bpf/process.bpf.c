// SPDX-License-Identifier: GPL-2.0
/*
 * process.bpf.c — exec, fork and exit of processes (not threads).
 *
 * sched_* tracepoints: they are not syscall tracepoints, so they put
 * nothing on the syscall slow path. Also ptrace attach/seize and
 * process_vm_readv/writev (exit-only syscall tracepoints: the open probes
 * already put syscalls on the slow path, these add a dispatch for three
 * rare syscalls).
 */
#include "lib/common.bpf.h"
#include "lib/seccomp.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Set from config before load. */
const volatile __u32 args_max = 4096;

/* argv as the kernel laid it out (NUL-separated), at most args_max bytes. */
static __always_inline __u32 copy_args(struct vgl_exec *e, __u32 at, struct task_struct *task)
{
	struct mm_struct *mm = task->mm;
	unsigned long start = mm->arg_start, end = mm->arg_end;
	__u32 full = end > start ? end - start : 0;
	__u32 n = full;

	e->args_full_len = full;
	if (n > args_max) {
		n = args_max;
		e->sflags |= VGL_SF_ARGS_TRUNC;
		drop_count(VGL_DROP_TRUNC_ARGS);
	}
	/* masks keep the verifier's bounds: at < 32 KiB, n < 16 KiB, buffer 64 KiB */
	n &= VGL_ARGS_MAX - 1;
	if (bpf_probe_read_user(&((char *)e)[VGL_OFF(at)], n, (void *)start))
		return 0;
	return n;
}

static __always_inline bool is_socket(struct file *f)
{
	return f && (KREAD(VGL_CAST(f, struct file), f_inode, i_mode) & S_IFMT) == S_IFSOCK;
}

/* Are stdin, stdout of task (current, typed) sockets? (a shell whose stdin/stdout is a socket is a reverse shell) */
static __always_inline __u32 std_sockets(struct task_struct *task)
{
	struct fdtable *fdt = task->files->fdt;
	struct file *f[2] = {};

	if (fdt->max_fds < 2)
		return 0;
	kload128((__u64 *)f, fdt->fd); /* both slots in one read */
	return (is_socket(f[0]) ? VGL_SF_STDIN_SOCK : 0) |
	       (is_socket(f[1]) ? VGL_SF_STDOUT_SOCK : 0);
}

/*
 * A memfd (like every anonymous in-memory file) has a dentry of its own,
 * "memfd:NAME", that is its own parent: the path walk stops at once and
 * gives "/". Spell it as d_path() does, "/memfd:NAME", at rec[at]; returns
 * its length incl NUL.
 */
static __always_inline __u32 detached_put(char *rec, __u32 at, struct dentry *d, __u32 *flags)
{
	__u32 len = d->d_name.len & 255;

	rec[VGL_OFF(at)] = '/';
	bpf_probe_read_kernel(&rec[VGL_OFF(at + 1)], len, d->d_name.name);
	rec[VGL_OFF(at + 1 + len)] = 0;
	/* the kernel writes this prefix (mm/memfd.c): a user cannot name a detached dentry */
	if (len >= 6 && rec[VGL_OFF(at + 1)] == 'm' && rec[VGL_OFF(at + 2)] == 'e' &&
	    rec[VGL_OFF(at + 3)] == 'm' && rec[VGL_OFF(at + 4)] == 'f' &&
	    rec[VGL_OFF(at + 5)] == 'd' && rec[VGL_OFF(at + 6)] == ':')
		*flags |= VGL_SF_EXE_MEMFD;
	return len + 2;
}

/* path_put() of a typed struct path (two loads of it as numbers); trunc_flag into *flags. */
static __always_inline __u32 typed_path_put(const struct path *path, __u32 at, __u32 *flags,
					    __u32 trunc_flag)
{
	struct path p;
	__u32 r;

	kload128((__u64 *)&p, path);
	r = path_put(&p, at);
	if (r & WALK_TRUNC)
		*flags |= trunc_flag;
	return r & (2 * VGL_PATH_MAX - 1);
}

/*
 * The running image's path and what it is, at rec[at]: deleted when no name
 * links to it any more (unlinked after open, O_TMPFILE, every memfd), a
 * memfd when it never had a directory at all. Executing either leaves no
 * file behind. Returns the path's length incl NUL.
 */
static __always_inline __u32 exe_put(char *rec, __u32 at, struct file *exe, __u32 *flags)
{
	struct dentry *d = exe->f_path.dentry;

	if (!exe->f_inode->i_nlink)
		*flags |= VGL_SF_EXE_DELETED;
	if (d && d->d_parent == d && d != exe->f_path.mnt->mnt_root)
		return detached_put(rec, at, d, flags);
	return typed_path_put(&exe->f_path, at, flags, VGL_SF_EXE_TRUNC);
}

/* A process `vigil exec` confined runs its program now: from here on its calls count. */
static __always_inline void arm_confined(struct task_struct *task)
{
	__u32 tgid;
	struct vgl_confined *c;

	if (!confined_maybe())
		return;
	tgid = task->tgid;
	c = bpf_map_lookup_elem(&vgl_confined, &tgid);
	if (c)
		c->armed = 1;
}

/*
 * One exec record: the task (current) and the file it runs, both typed
 * pointers, so every field is a plain load; helper calls are left for the
 * clock, argv and the ring (each call and return ~25 ns on the test VM,
 * bench/helper_cost.py: the task is passed down, not asked for again).
 */
static __always_inline int exec_report(struct task_struct *task, struct file *exe)
{
	struct vgl_heap heap_, *hp = &heap_;
	struct vgl_exec *e;
	__u32 at;

	arm_confined(task);
	if (!heap_get(hp))
		return 0;
	e = (struct vgl_exec *)hp->rec;
	hdr_fill_task(&e->h, VGL_MSG_EXEC, task, bpf_ktime_get_boot_ns());
	e->start_ns = task_start_ns(task);
	e->sflags = std_sockets(task);
	e->loginuid = task->loginuid.val;
	e->sid = task->signal->pids[PIDTYPE_SID]->numbers[0].nr;
	at = sizeof(*e);

	e->exe_len = exe_put(hp->rec, at, exe, &e->sflags);
	LAUNDER(e->exe_len);
	at = sizeof(*e) + (e->exe_len & (2 * VGL_PATH_MAX - 1));

	e->cwd_len = typed_path_put(&task->fs->pwd, at, &e->sflags, VGL_SF_CWD_TRUNC);
	LAUNDER(e->cwd_len);
	at += e->cwd_len & (2 * VGL_PATH_MAX - 1);

	e->args_len = copy_args(e, at, task);
	rec_submit(e, at + e->args_len, VGL_MSG_EXEC);
	return 0;
}

/*
 * tp_btf: the tracepoint's own arguments, no perf record built first; the
 * image is bprm->file (what mm->exe_file was just set to).
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec_btf, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return exec_report(p, bprm->file);
}

/* The fallback where tp_btf does not attach: the classic tracepoint. */
SEC("tracepoint/sched/sched_process_exec")
int handle_exec(void *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();

	return exec_report(task, VGL_CAST(task->mm->exe_file, struct file));
}

/* A ring's own opens are not seen by the syscall probes: report the ring. */
SEC("tracepoint/io_uring/io_uring_create")
int handle_io_uring_create(struct trace_event_raw_io_uring_create *ctx)
{
	struct vgl_iouring e = {};

	if (from_agent())
		return 0;
	hdr_fill(&e.h, VGL_MSG_IOURING);
	e.sq_entries = ctx->sq_entries;
	e.cq_entries = ctx->cq_entries;
	e.flags = ctx->flags;
	e.fd = ctx->fd;
	rec_submit(&e, sizeof(e), VGL_MSG_IOURING);
	return 0;
}

#define PTRACE_ATTACH_ 16
#define PTRACE_SEIZE_  0x4206

struct ptrace_key {
	__u32 pid, target, request;
};

/* (caller, target, request) → last report: a profiler reading memory 100 times a second is one event a second */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ptrace_key);
	__type(value, __u64);
} ptrace_seen SEC(".maps");

static __always_inline int report_ptrace(__u32 target, __u32 request, long ret)
{
	struct ptrace_key k = {
	    .pid = bpf_get_current_pid_tgid() >> 32, .target = target, .request = request};
	__u64 now = bpf_ktime_get_boot_ns(), *last = bpf_map_lookup_elem(&ptrace_seen, &k);
	struct vgl_ptrace e = {};

	if (from_agent())
		return 0;
	if (last && now - *last < 1000000000ull)
		return 0;
	bpf_map_update_elem(&ptrace_seen, &k, &now, BPF_ANY);
	hdr_fill(&e.h, VGL_MSG_PTRACE);
	e.target = target;
	e.request = request;
	e.ret = ret;
	rec_submit(&e, sizeof(e), VGL_MSG_PTRACE);
	return 0;
}

/* Exit-only, arguments read back from the saved registers (as file.bpf.c does). */
SEC("tracepoint/syscalls/sys_exit_ptrace")
int handle_ptrace_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = current_regs();
	long req = PT_REGS_PARM1_CORE_SYSCALL(regs);

	if (req != PTRACE_ATTACH_ && req != PTRACE_SEIZE_)
		return 0;
	return report_ptrace(PT_REGS_PARM2_CORE_SYSCALL(regs), req, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_process_vm_readv")
int handle_vm_readv_exit(struct trace_event_raw_sys_exit *ctx)
{
	return report_ptrace(PT_REGS_PARM1_CORE_SYSCALL(current_regs()), VGL_PTRACE_VM_READV,
			     ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_process_vm_writev")
int handle_vm_writev_exit(struct trace_event_raw_sys_exit *ctx)
{
	return report_ptrace(PT_REGS_PARM1_CORE_SYSCALL(current_regs()), VGL_PTRACE_VM_WRITEV,
			     ctx->ret);
}

/* ---- seccomp violations of processes confined by `vigil exec` ---- */

struct sc_seen_key {
	__u32 tgid, key;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct sc_seen_key);
	__type(value, __u64); /* when last reported */
} sc_seen SEC(".maps");

#define SC_REPORT_NS 1000000000ull

static __always_inline int sc_bit(const __u64 *words, __u32 key)
{
	__u32 w = key / 64;

	if (w >= VGL_SC_WORDS)
		return 0;
	return (words[w] >> (key % 64)) & 1;
}

/*
 * Attached by vigild only while some process is confined (zero cost
 * otherwise). At syscall exit: a call the filter refused never reaches
 * sys_enter, but does reach sys_exit with its original number. The
 * profile's own verdict for that number decides: no audit subsystem
 * needed, and complain mode (allowed, logged) is seen too.
 */
SEC("tp_btf/sys_exit")
int BPF_PROG(seccomp_check, struct pt_regs *regs, long ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, key, verdict;
	struct vgl_confined *root;
	long id;
	struct sc_seen_key sk;
	struct vgl_sc_verdicts *v;
	struct vgl_seccomp e = {};
	__u64 now, *last;
	int compat = 0;

	root = bpf_map_lookup_elem(&vgl_confined, &tgid);
	if (!root || !root->armed)
		return 0;
#if defined(__TARGET_ARCH_x86)
	id = BPF_CORE_READ(regs, orig_ax);
#elif defined(__TARGET_ARCH_arm64)
	id = BPF_CORE_READ(regs, syscallno);
#else
	return 0;
#endif
	if (id < 0 || id >= 512)
		return 0;
	v = bpf_map_lookup_elem(&vgl_verdicts, &root->root);
	if (!v)
		return 0;
#if defined(__TARGET_ARCH_x86)
	compat = ((struct task_struct *)bpf_get_current_task_btf())->thread_info.status & 0x0002;
#endif
	key = id + (compat ? 512 : 0);
	verdict = sc_bit(v->deny, key) ? VGL_SC_DENIED : sc_bit(v->logged, key) ? VGL_SC_LOGGED : 0;
	if (!verdict)
		return 0;
	sk.tgid = tgid;
	sk.key = key;
	now = bpf_ktime_get_boot_ns();
	last = bpf_map_lookup_elem(&sc_seen, &sk);
	if (last && now - *last < SC_REPORT_NS)
		return 0;
	bpf_map_update_elem(&sc_seen, &sk, &now, BPF_ANY);
	hdr_fill(&e.h, VGL_MSG_SECCOMP);
	e.nr = id;
	e.compat = compat != 0;
	e.verdict = verdict;
	e.profile = root->root;
	rec_submit(&e, sizeof(e), VGL_MSG_SECCOMP);
	return 0;
}

/*
 * Someone signals the agent (stopping or killing the sensor is an attack
 * step); and any SIGSYS: a seccomp filter trapped or killed a process.
 * What vigild raises itself (its own SIGPIPE, a worker it wakes) is neither.
 * target: the tid signalled, as the classic tracepoint's pid field.
 */
static __always_inline int signal_report(int sig, __u32 target, int code, int result)
{
	struct vgl_signal e = {};

	if (sig != 31 /* SIGSYS */ && (!agent_pid || target != agent_pid))
		return 0;
	if (from_agent())
		return 0;
	hdr_fill(&e.h, VGL_MSG_SIGNAL);
	e.target = target;
	e.sig = sig;
	e.code = code;
	e.result = result;
	rec_submit(&e, sizeof(e), VGL_MSG_SIGNAL);
	return 0;
}

#define SEND_SIG_NOINFO_ 0 /* include/linux/sched/signal.h: no siginfo, SI_USER */
#define SEND_SIG_PRIV_	 1 /* the kernel's own, SI_KERNEL */
#define SI_KERNEL_	 0x80

/* Every signal sent (a SIGCHLD per exit): one compare before anything is read. */
SEC("tp_btf/signal_generate")
int BPF_PROG(signal_btf, int sig, struct kernel_siginfo *info, struct task_struct *task, int group,
	     int result)
{
	unsigned long i = (unsigned long)info;
	int code = 0;

	if (sig != 31 && (!agent_pid || task->pid != agent_pid))
		return 0;
	if (i == SEND_SIG_PRIV_)
		code = SI_KERNEL_;
	else if (i != SEND_SIG_NOINFO_)
		code = KREAD(VGL_CAST(info, struct kernel_siginfo), si_code);
	return signal_report(sig, task->pid, code, result);
}

SEC("tracepoint/signal/signal_generate")
int handle_signal_generate(struct trace_event_raw_signal_generate *ctx)
{
	return signal_report(ctx->sig, ctx->pid, ctx->code, ctx->result);
}

/*
 * tp_btf gives both task pointers, so threads can be told from processes.
 * The header is the child's ids, stamped with its start: copy_process() read
 * the clock just before this, so the record needs no clock read of its own.
 * Its creds, cgroup and comm are the parent's until it execs, which vigild
 * has: a fork record carries no uid, gid, cgroup or comm (0).
 */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	struct vgl_fork *e;

	if (child->pid != child->tgid || !(e = REC_RESERVE(struct vgl_fork, VGL_MSG_FORK)))
		return 0;
	e->start_ns = child->start_boottime;
	hdr_fill_ids(&e->h, VGL_MSG_FORK, child, e->start_ns);
	e->h.ppid = parent->tgid; /* the image it runs is the caller's (CLONE_PARENT aside) */
	rec_commit(e, sizeof(*e));
	return 0;
}

/*
 * Only the thread-group leader's exit ends the process (task: current,
 * typed). No cgroup id (0): vigild has the process's from its exec or a
 * later record, and an exit is not the place a move to another cgroup is
 * learnt from.
 */
static __always_inline int exit_report(struct task_struct *task)
{
	struct vgl_exit *e;

	if (task->pid != task->tgid || !(e = REC_RESERVE(struct vgl_exit, VGL_MSG_EXIT)))
		return 0;
	hdr_fill_ids(&e->h, VGL_MSG_EXIT, task, bpf_ktime_get_boot_ns());
	hdr_fill_who(&e->h, task);
	e->start_ns = task_start_ns(task);
	e->exit_code = task->exit_code;
	rec_commit(e, sizeof(*e));
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(exit_btf, struct task_struct *p)
{
	return exit_report(p);
}

SEC("tracepoint/sched/sched_process_exit")
int handle_exit(void *ctx)
{
	return exit_report(bpf_get_current_task_btf());
}

/*
 * fexit variants of the ptrace exit tracepoints (experimental, as in
 * file.bpf.c: loaded only where fentry/fexit programs load; verified here
 * retargeted to tp_btf/sys_exit by tests/unit/test_probe_select.c). Taken
 * whole or not at all, like the tracepoints they replace.
 */
VGL_FEXIT_SYSCALL(fx_ptrace, ptrace)
{
	long req = PT_REGS_PARM1_CORE_SYSCALL(current_regs());

	if (req != PTRACE_ATTACH_ && req != PTRACE_SEIZE_)
		return 0;
	return report_ptrace(PT_REGS_PARM2_CORE_SYSCALL(current_regs()), req, ret);
}

VGL_FEXIT_SYSCALL(fx_vm_readv, process_vm_readv)
{
	return report_ptrace(PT_REGS_PARM1_CORE_SYSCALL(current_regs()), VGL_PTRACE_VM_READV, ret);
}

VGL_FEXIT_SYSCALL(fx_vm_writev, process_vm_writev)
{
	return report_ptrace(PT_REGS_PARM1_CORE_SYSCALL(current_regs()), VGL_PTRACE_VM_WRITEV, ret);
}
