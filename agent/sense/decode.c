// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <seccomp.h>
#include <string.h>

#include "vigil/abi.h"
#include "sense/decode.h"
#include "core/util.h"

const char *vigil_action_name(enum vigil_action a)
{
	static const char *const names[] = {
	    [VA_NONE] = "none",
	    [VA_EXEC] = "exec",
	    [VA_EXIT] = "exit",
	    [VA_FORK] = "fork",
	    [VA_OPEN] = "open",
	    [VA_RENAME] = "rename",
	    [VA_UNLINK] = "unlink",
	    [VA_TRUNCATE] = "truncate",
	    [VA_CHMOD] = "chmod",
	    [VA_LINK] = "link",
	    [VA_SYMLINK] = "symlink",
	    [VA_CONNECT] = "connect",
	    [VA_LISTEN] = "listen",
	    [VA_IOURING] = "io_uring-setup",
	    [VA_PTRACE] = "ptrace",
	    [VA_MODEL_FORMAT] = "model-format",
	    [VA_SIGNAL] = "signal",
	    [VA_SECCOMP] = "seccomp",
	    [VA_MODEL_FINDING] = "model-finding",
	};
	return (unsigned)a < ARRAY_SIZE(names) && names[a] ? names[a] : "unknown";
}

/* A string of `len` bytes (NUL included) at data[off]; rejects out-of-bounds. */
static int take_str(const char *data, size_t size, size_t off, size_t len, struct vstr *out)
{
	if (len == 0) {
		out->p = "";
		out->n = 0;
		return 0;
	}
	if (off > size || len > size - off)
		return -EBADMSG;
	out->p = data + off;
	out->n = strnlen(out->p, len);
	return 0;
}

static void decode_hdr(const struct vgl_hdr *h, struct vigil_event *ev)
{
	ev->ts_boot_ns = h->ts_ns;
	ev->pid = h->pid;
	ev->tid = h->tid;
	ev->ppid = h->ppid;
	ev->uid = h->uid;
	ev->gid = h->gid;
	ev->cgroup_id = h->cgroup_id;
	ev->no_task = h->flags & VGL_HF_NO_TASK;
	memcpy(ev->comm, h->comm, VGL_COMM_LEN);
	ev->comm[VGL_COMM_LEN] = 0;
	ev->proc = NULL;
}

static int decode_exec(const char *data, size_t size, struct vigil_event *ev)
{
	const struct vgl_exec *e = (const void *)data;
	size_t at = sizeof(*e);

	ev->action = VA_EXEC;
	ev->exec.start_ns = e->start_ns;
	ev->exec.sflags = e->sflags;
	ev->exec.args_full_len = e->args_full_len;
	ev->exec.loginuid = e->loginuid;
	ev->exec.sid = e->sid;
	if (take_str(data, size, at, e->exe_len, &ev->exec.exe) < 0)
		return -EBADMSG;
	at += e->exe_len;
	if (take_str(data, size, at, e->cwd_len, &ev->exec.cwd) < 0)
		return -EBADMSG;
	at += e->cwd_len;
	if (at > size || e->args_len > size - at)
		return -EBADMSG;
	ev->exec.args.p = data + at;
	ev->exec.args.n = e->args_len;
	return 0;
}

static int decode_open(const char *data, size_t size, struct vigil_event *ev)
{
	const struct vgl_open *e = (const void *)data;

	ev->action = VA_OPEN;
	ev->open.ino = e->ino;
	ev->open.dev = e->dev;
	ev->open.rdev = e->rdev;
	ev->open.open_flags = e->open_flags;
	ev->open.fmode = e->fmode;
	ev->open.imode = e->imode;
	ev->open.sflags = e->sflags;
	ev->open.kind = e->kind;
	ev->open.syscall = e->syscall;
	ev->open.folded = e->folded;
	ev->open.target = e->kind == VGL_KIND_PROC_SECRET ? e->target : 0;
	ev->open.target_proc = NULL;
	if (take_str(data, size, sizeof(*e), e->path_len, &ev->open.path) < 0 ||
	    take_str(data, size, sizeof(*e) + e->path_len, e->opened_len, &ev->open.opened) < 0)
		return -EBADMSG;
	return 0;
}

static enum vigil_action change_action(uint16_t sys)
{
	switch (sys) {
	case VGL_SYS_UNLINK:
	case VGL_SYS_UNLINKAT:
		return VA_UNLINK;
	case VGL_SYS_RENAME:
	case VGL_SYS_RENAMEAT:
	case VGL_SYS_RENAMEAT2:
		return VA_RENAME;
	case VGL_SYS_TRUNCATE:
	case VGL_SYS_FTRUNCATE:
		return VA_TRUNCATE;
	case VGL_SYS_CHMOD:
	case VGL_SYS_FCHMOD:
	case VGL_SYS_FCHMODAT:
	case VGL_SYS_FCHMODAT2:
		return VA_CHMOD;
	case VGL_SYS_LINK:
	case VGL_SYS_LINKAT:
		return VA_LINK;
	case VGL_SYS_SYMLINK:
	case VGL_SYS_SYMLINKAT:
		return VA_SYMLINK;
	default:
		return VA_NONE;
	}
}

/*
 * Absolute, canonical paths from the caller's names and their bases. A link
 * is reported by the name it creates (change.path) and what it points to
 * (change.target); a symlink's relative target is relative to the link's
 * own directory.
 */
static void join_names(struct decoder *d, struct vigil_event *ev, struct vstr base,
		       struct vstr path, struct vstr base2, struct vstr path2)
{
	char *first = d->path[0], *second = d->path[1];
	size_t len = sizeof(d->path[0]);

	path_join_normalize(first, len, base.p, base.n, path.p, path.n);
	ev->change.path = (struct vstr){first, strlen(first)};
	ev->change.target = (struct vstr){"", 0};
	if (!path2.n)
		return;
	path_join_normalize(second, len, base2.p, base2.n, path2.p, path2.n);
	ev->change.target = (struct vstr){second, strlen(second)};
	if (ev->action != VA_LINK && ev->action != VA_SYMLINK)
		return;
	if (ev->action == VA_SYMLINK && path.n && path.p[0] != '/') {
		const char *slash = strrchr(second, '/');
		size_t dn = slash && slash != second ? (size_t)(slash - second) : 1;

		path_join_normalize(first, len, second, dn, path.p, path.n);
		ev->change.path.n = strlen(first);
	}
	ev->change.target = ev->change.path;
	ev->change.path = (struct vstr){second, strlen(second)};
}

/* Layout (abi.h): base at data[0], path at data[VGL_PATH_MAX], then path2, base2. */
static int decode_change(struct decoder *d, const char *data, size_t size, struct vigil_event *ev)
{
	const struct vgl_fchange *e = (const void *)data;
	size_t at = sizeof(*e);
	struct vstr base, path, path2 = {"", 0}, base2 = {"", 0};

	ev->action = change_action(e->syscall);
	if (ev->action == VA_NONE)
		return -EBADMSG;
	if (take_str(data, size, at, e->base_len, &base) < 0 ||
	    take_str(data, size, at + VGL_PATH_MAX, e->path_len, &path) < 0 ||
	    take_str(data, size, at + VGL_PATH_MAX + e->path_len, e->path2_len, &path2) < 0 ||
	    take_str(data, size, at + VGL_PATH_MAX + e->path_len + e->path2_len, e->base2_len,
		     &base2) < 0)
		return -EBADMSG;
	ev->change.ino = e->ino;
	ev->change.dev = e->dev;
	ev->change.mode = e->mode;
	ev->change.length = e->length;
	ev->change.sflags = e->sflags;
	ev->change.kind = e->kind;
	ev->change.syscall = e->syscall;
	join_names(d, ev, base, path, base2, path2);
	return 0;
}

static int decode_connect(const char *data, size_t size, struct vigil_event *ev, bool listen)
{
	const struct vgl_connect *e = (const void *)data;

	ev->action = listen ? VA_LISTEN : VA_CONNECT;
	memcpy(ev->net.saddr, e->saddr, 16);
	memcpy(ev->net.daddr, e->daddr, 16);
	ev->net.sport = e->sport;
	ev->net.dport = e->dport;
	ev->net.family = e->family;
	ev->net.protocol = e->protocol;
	ev->net.error = e->error;
	ev->net.via = e->via;
	return 0;
}

/* Smallest valid record of each type: checked once, before any field is read. */
static const size_t min_size[VGL_MSG_MAX] = {
    [VGL_MSG_EXEC] = sizeof(struct vgl_exec),	    [VGL_MSG_EXIT] = sizeof(struct vgl_exit),
    [VGL_MSG_FORK] = sizeof(struct vgl_fork),	    [VGL_MSG_OPEN] = sizeof(struct vgl_open),
    [VGL_MSG_FCHANGE] = sizeof(struct vgl_fchange), [VGL_MSG_CONNECT] = sizeof(struct vgl_connect),
    [VGL_MSG_LISTEN] = sizeof(struct vgl_connect),  [VGL_MSG_IOURING] = sizeof(struct vgl_iouring),
    [VGL_MSG_PTRACE] = sizeof(struct vgl_ptrace),   [VGL_MSG_SIGNAL] = sizeof(struct vgl_signal),
    [VGL_MSG_SECCOMP] = sizeof(struct vgl_seccomp),
};

int decode_record(struct decoder *d, const void *data, size_t size, struct vigil_event *ev)
{
	const struct vgl_hdr *h = data;

	if (size < sizeof(*h) || h->version != VGL_ABI_VERSION || h->size > size ||
	    h->type >= VGL_MSG_MAX || !min_size[h->type] || h->size < min_size[h->type])
		return -EBADMSG;
	size = h->size;
	decode_hdr(h, ev);
	switch (h->type) {
	case VGL_MSG_EXEC:
		return decode_exec(data, size, ev);
	case VGL_MSG_EXIT: {
		const struct vgl_exit *e = data;

		ev->action = VA_EXIT;
		ev->exit.start_ns = e->start_ns;
		ev->exit.signal = e->exit_code & 0x7f;
		ev->exit.core = e->exit_code & 0x80;
		ev->exit.code = (e->exit_code >> 8) & 0xff;
		return 0;
	}
	case VGL_MSG_FORK: {
		const struct vgl_fork *e = data;

		ev->action = VA_FORK;
		ev->fork.start_ns = e->start_ns;
		return 0;
	}
	case VGL_MSG_IOURING: {
		const struct vgl_iouring *e = data;

		ev->action = VA_IOURING;
		ev->iouring.sq_entries = e->sq_entries;
		ev->iouring.cq_entries = e->cq_entries;
		ev->iouring.flags = e->flags;
		return 0;
	}
	case VGL_MSG_PTRACE: {
		const struct vgl_ptrace *e = data;

		ev->action = VA_PTRACE;
		ev->ptrace.target = e->target;
		ev->ptrace.request = e->request;
		ev->ptrace.ret = e->ret;
		ev->ptrace.target_proc = NULL;
		return 0;
	}
	case VGL_MSG_SIGNAL: {
		const struct vgl_signal *e = data;

		ev->action = VA_SIGNAL;
		ev->signal.target = e->target;
		ev->signal.sig = e->sig;
		ev->signal.code = e->code;
		return 0;
	}
	case VGL_MSG_SECCOMP: {
		const struct vgl_seccomp *e = data;
		char *name = seccomp_syscall_resolve_num_arch(
		    e->compat ? SCMP_ARCH_X86 : seccomp_arch_native(), e->nr);

		ev->action = VA_SECCOMP;
		ev->seccomp.nr = e->nr;
		ev->seccomp.profile = e->profile;
		ev->seccomp.compat = e->compat;
		ev->seccomp.denied = e->verdict == VGL_SC_DENIED;
		snprintf(ev->seccomp.name, sizeof(ev->seccomp.name), "%s", name ? name : "");
		free(name);
		return 0;
	}
	case VGL_MSG_OPEN:
		return decode_open(data, size, ev);
	case VGL_MSG_FCHANGE:
		return decode_change(d, data, size, ev);
	case VGL_MSG_CONNECT:
	case VGL_MSG_LISTEN:
		return decode_connect(data, size, ev, h->type == VGL_MSG_LISTEN);
	default:
		return -EBADMSG;
	}
}
