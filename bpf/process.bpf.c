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
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	unsigned long start = BPF_CORE_READ(mm, arg_start);
	unsigned long end = BPF_CORE_READ(mm, arg_end);
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

/* Is fd a socket? (a shell whose stdin/stdout is a socket is a reverse shell) */
static __always_inline bool fd_is_socket(int fd)
{
	struct file *f = fd_file(fd);
	umode_t mode;

	if (!f)
		return false;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	return (mode & S_IFMT) == S_IFSOCK;
}

/*
 * A memfd (like every anonymous in-memory file) has a dentry of its own,
 * "memfd:NAME", that is its own parent: the path walk stops at once and
 * gives "/". Spell it as d_path() does, "/memfd:NAME", into the scratch
 * the way path_resolve() leaves a path (ending at s[VGL_SCRATCH - 1]).
 */
static __always_inline __u32 detached_name(char *s, struct dentry *d, __u32 *flags)
{
	struct qstr name = BPF_CORE_READ(d, d_name);
	__u32 len = name.len & 255, off = VGL_SCRATCH - 2 - len;
	char head[6] = {};

	s[VGL_SCRATCH - 1] = 0;
	bpf_probe_read_kernel(&s[(off + 1) & (VGL_SCRATCH - 1)], len, name.name);
	s[off & (VGL_SCRATCH - 1)] = '/';
	/* the kernel writes this prefix (mm/memfd.c): a user cannot name a detached dentry */
	bpf_probe_read_kernel(head, sizeof(head), name.name);
	if (len >= 6 && head[0] == 'm' && head[1] == 'e' && head[2] == 'm' && head[3] == 'f' &&
	    head[4] == 'd' && head[5] == ':')
		*flags |= VGL_SF_EXE_MEMFD;
	return off;
}

/*
 * The running image's path and what it is: deleted when no name links to
 * it any more (unlinked after open, O_TMPFILE, every memfd), a memfd when
 * it never had a directory at all. Executing either leaves no file behind.
 */
static __always_inline __u32 exe_resolve(char *s, struct file *exe, __u32 *flags)
{
	struct dentry *d = BPF_CORE_READ(exe, f_path.dentry);

	if (!BPF_CORE_READ(exe, f_inode, i_nlink))
		*flags |= VGL_SF_EXE_DELETED;
	if (d && BPF_CORE_READ(d, d_parent) == d && d != BPF_CORE_READ(exe, f_path.mnt, mnt_root))
		return detached_name(s, d, flags);
	return path_resolve(s, &exe->f_path, flags, VGL_SF_EXE_TRUNC);
}

/* A process `vigil exec` confined runs its program now: from here on its calls count. */
static __always_inline void arm_confined(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct vgl_confined *c = bpf_map_lookup_elem(&vgl_confined, &tgid);

	if (c)
		c->armed = 1;
}

SEC("tracepoint/sched/sched_process_exec")
int handle_exec(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct vgl_heap heap_, *hp = &heap_;
	struct vgl_exec *e;
	struct file *exe;
	struct path pwd;
	__u32 at, off, len;

	arm_confined();
	if (!heap_get(hp))
		return 0;
	e = (struct vgl_exec *)hp->rec;
	hdr_fill(&e->h, VGL_MSG_EXEC);
	e->start_ns = task_start_ns(task);
	e->sflags = 0;
	e->loginuid = BPF_CORE_READ(task, loginuid.val);
	e->sid = BPF_CORE_READ(task, signal, pids[PIDTYPE_SID], numbers[0].nr);
	if (fd_is_socket(0))
		e->sflags |= VGL_SF_STDIN_SOCK;
	if (fd_is_socket(1))
		e->sflags |= VGL_SF_STDOUT_SOCK;
	at = sizeof(*e);

	exe = BPF_CORE_READ(task, mm, exe_file);
	off = exe_resolve(hp->path, exe, &e->sflags);
	len = path_copy(hp->rec, at, hp->path, off);
	e->exe_len = len;
	LAUNDER(e->exe_len);
	at = sizeof(*e) + (e->exe_len & (VGL_SCRATCH - 1));

	pwd = BPF_CORE_READ(task, fs, pwd);
	off = path_resolve(hp->path, &pwd, &e->sflags, VGL_SF_CWD_TRUNC);
	len = path_copy(hp->rec, at, hp->path, off);
	e->cwd_len = len;
	LAUNDER(e->cwd_len);
	at += e->cwd_len & (VGL_SCRATCH - 1);

	e->args_len = copy_args(e, at, task);
	rec_submit(e, at + e->args_len, VGL_MSG_EXEC);
	return 0;
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
 */
SEC("tracepoint/signal/signal_generate")
int handle_signal_generate(struct trace_event_raw_signal_generate *ctx)
{
	struct vgl_signal e = {};

	if (ctx->sig != 31 /* SIGSYS */ && (!agent_pid || (__u32)ctx->pid != agent_pid))
		return 0;
	if (from_agent())
		return 0;
	hdr_fill(&e.h, VGL_MSG_SIGNAL);
	e.target = ctx->pid;
	e.sig = ctx->sig;
	e.code = ctx->code;
	e.result = ctx->result;
	rec_submit(&e, sizeof(e), VGL_MSG_SIGNAL);
	return 0;
}

/* tp_btf gives both task pointers, so threads can be told from processes. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	struct vgl_fork e = {};

	if (child->pid != child->tgid)
		return 0;
	hdr_fill(&e.h, VGL_MSG_FORK);
	e.h.pid = child->tgid;
	e.h.tid = child->pid;
	e.h.ppid = parent->tgid;
	e.start_ns = child->start_boottime;
	rec_submit(&e, sizeof(e), VGL_MSG_FORK);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int handle_exit(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct vgl_exit e = {};

	/* Only the thread-group leader's exit ends the process. */
	if ((__u32)pid_tgid != pid_tgid >> 32)
		return 0;
	hdr_fill(&e.h, VGL_MSG_EXIT);
	e.start_ns = task_start_ns(task);
	e.exit_code = BPF_CORE_READ(task, exit_code);
	rec_submit(&e, sizeof(e), VGL_MSG_EXIT);
	return 0;
}
