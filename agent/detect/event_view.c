// SPDX-License-Identifier: GPL-2.0
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/abi.h"
#include "detect/event_view.h"
#include "stream/redact.h"
#include "core/util.h"

#define MAX_ANCESTORS 8

static void add_csv(struct rule_view *v, enum field_id f, const char *csv)
{
	while (*csv) {
		size_t n = strcspn(csv, ",");

		view_add_str(v, f, csv, n);
		csv += n + (csv[n] == ',');
	}
}

static void add_cstr(struct rule_view *v, enum field_id f, const char *s)
{
	if (s)
		view_add_str(v, f, s, strlen(s));
}

static void add_vstr(struct rule_view *v, enum field_id f, struct vstr s)
{
	if (s.p)
		view_add_str(v, f, s.p, s.n);
}

static void add_fmt_u(struct rule_view *v, enum field_id f, unsigned long long x)
{
	char buf[24], *d = u64_digits(buf + sizeof(buf), x);
	size_t n = buf + sizeof(buf) - d;
	char *s = view_stash(v, d, n);

	if (s)
		view_add_str(v, f, s, n);
}

/* p->args with secrets replaced (as ecs.c writes them), then the joined command line. */
static void build_rule_args(struct proc *p)
{
	size_t cap = 2 * (p->args_len + 16 * sizeof(REDACTED)) + 2, o = 0;
	char *buf = malloc(cap);
	bool next_secret = false;

	if (!buf)
		return;
	for (size_t off = 0; off < p->args_len;) {
		size_t l = strnlen(p->args + off, p->args_len - off);
		struct redaction r;

		if (o + l + sizeof(REDACTED) + 1 > cap / 2)
			break;
		if (redact_arg(p->args + off, l, &next_secret, &r)) {
			memcpy(buf + o, p->args + off, r.keep);
			memcpy(buf + o + r.keep, REDACTED, strlen(REDACTED));
			memcpy(buf + o + r.keep + strlen(REDACTED), p->args + off + r.resume,
			       l - r.resume);
			o += r.keep + strlen(REDACTED) + l - r.resume;
		} else {
			memcpy(buf + o, p->args + off, l);
			o += l;
		}
		buf[o++] = 0;
		off += l + 1;
	}
	p->rule_args.len = o;
	memcpy(buf + o, buf, o); /* command line: the same, NULs turned to spaces */
	for (size_t i = o; i < 2 * o; i++)
		if (!buf[i])
			buf[i] = ' ';
	if (o)
		buf[2 * o - 1] = 0;
	p->rule_args.s = buf;
}

static void add_args(struct rule_view *v, const struct proc *cp, enum field_id args,
		     enum field_id cmdline, enum field_id argc)
{
	struct proc *p = (struct proc *)cp; /* the cache is ours to fill */
	size_t n = 0;

	if (!p->args_len)
		return;
	if (!p->rule_args.s)
		build_rule_args(p);
	if (!p->rule_args.s)
		return;
	for (size_t off = 0; off < p->rule_args.len; n++) {
		size_t l = strlen(p->rule_args.s + off);

		view_add_str(v, args, p->rule_args.s + off, l);
		off += l + 1;
	}
	if (p->rule_args.len)
		view_add_str(v, cmdline, p->rule_args.s + p->rule_args.len, p->rule_args.len - 1);
	if (argc != F__COUNT)
		view_add_num(v, argc, n);
}

static void add_process(struct rule_view *v, const struct vigil_event *ev, struct proc_cache *pc)
{
	const struct proc *p = ev->proc, *parent = p ? proc_cache_get(pc, p->ppid) : NULL;

	if (p) {
		add_cstr(v, F_PROC_ENTITY, proc_cache_entity_id(pc, p));
		add_cstr(v, F_PROC_NAME, p->name);
		add_cstr(v, F_PROC_EXE, p->exe);
		add_args(v, p, F_PROC_ARGS, F_PROC_CMDLINE, F_PROC_ARGC);
	} else {
		add_cstr(v, F_PROC_NAME, ev->comm);
	}
	view_add_num(v, F_PROC_PID, ev->pid);
	if (p && p->sid)
		view_add_num(v, F_PROC_SID, p->sid);
	if (ev->tid != ev->pid)
		view_add_num(v, F_PROC_TID, ev->tid);
	if (ev->action == VA_EXEC) {
		add_vstr(v, F_PROC_CWD, ev->exec.cwd);
		if (ev->exec.sflags & VGL_SF_STDIN_SOCK)
			view_add_bool(v, F_V_STDIN_SOCK, true);
		if (ev->exec.sflags & VGL_SF_STDOUT_SOCK)
			view_add_bool(v, F_V_STDOUT_SOCK, true);
	}
	if (ev->action == VA_EXIT)
		view_add_num(v, F_PROC_EXIT_CODE,
			     ev->exit.signal ? 128 + ev->exit.signal : ev->exit.code);
	add_fmt_u(v, F_USER_ID, ev->uid);
	v->head[F_PROC_UID] = v->head[F_USER_ID]; /* same value, one slot */
	v->tail[F_PROC_UID] = v->tail[F_USER_ID];
	add_fmt_u(v, F_GROUP_ID, ev->gid);
	if (parent) {
		view_add_num(v, F_PARENT_PID, parent->pid);
		add_cstr(v, F_PARENT_ENTITY, proc_cache_entity_id(pc, parent));
		add_cstr(v, F_PARENT_NAME, parent->name);
		add_cstr(v, F_PARENT_EXE, parent->exe);
		add_args(v, parent, F_PARENT_ARGS, F_PARENT_CMDLINE, F__COUNT);
	} else if (ev->ppid) {
		view_add_num(v, F_PARENT_PID, ev->ppid);
	}
}

static void add_context(struct rule_view *v, const struct proc *p, struct proc_cache *pc)
{
	const struct proc *anc[MAX_ANCESTORS];
	unsigned n = proc_cache_ancestors(pc, p, anc, MAX_ANCESTORS);

	for (unsigned i = 0; i < n; i++) {
		view_add_num(v, F_ANC_PID, anc[i]->pid);
		add_cstr(v, F_ANC_ENTITY, proc_cache_entity_id(pc, anc[i]));
		add_cstr(v, F_ANC_NAME, anc[i]->name);
		add_cstr(v, F_ANC_EXE, anc[i]->exe);
	}
	if (p->container.id[0]) {
		add_cstr(v, F_CONTAINER_ID, p->container.id);
		add_cstr(v, F_CONTAINER_RUNTIME, p->container.runtime);
	}
	if (p->container.pod_uid[0])
		add_cstr(v, F_POD_UID, p->container.pod_uid);
	if (p->cgroup && p->cgroup[0])
		add_cstr(v, F_V_CGROUP, p->cgroup);
	if (p->flags & PROC_ARGS_TRUNC)
		view_add_bool(v, F_V_ARGS_TRUNC, true);
	if (p->flags & PROC_EXE_DELETED)
		view_add_bool(v, F_V_EXE_DELETED, true);
	if (p->flags & PROC_EXE_MEMFD)
		view_add_bool(v, F_V_EXE_MEMFD, true);
	if (p->flags & (PROC_INFERENCE | PROC_INFERENCE_TREE | PROC_GPU)) {
		view_add_bool(v, F_V_INFERENCE, p->flags & PROC_INFERENCE);
		view_add_bool(v, F_V_INFERENCE_TREE,
			      p->flags & (PROC_INFERENCE | PROC_INFERENCE_TREE));
		view_add_bool(v, F_V_GPU, p->flags & PROC_GPU);
		if (p->match)
			add_cstr(v, F_V_WL_MATCH, workload_match_name(p->match));
		view_add_bool(v, F_V_WL_WORKER, p->flags & PROC_RUNTIME_WORKER);
	}
}

static void add_path(struct rule_view *v, struct vstr path, uint64_t ino)
{
	struct vstr name, dir, ext;

	ecs_path_parts(path, &name, &dir, &ext);
	add_vstr(v, F_FILE_PATH, path);
	add_vstr(v, F_FILE_NAME, name);
	add_vstr(v, F_FILE_DIR, dir);
	add_vstr(v, F_FILE_EXT, ext);
	if (ino)
		add_fmt_u(v, F_FILE_INODE, ino);
}

static void add_open(struct rule_view *v, const struct vigil_event *ev)
{
	uint64_t fl = ev->open.open_flags;
	struct vstr op = ev->open.opened, path = ev->open.path;

	add_path(v, path, ev->open.ino);
	add_cstr(v, F_V_FILE_KIND, ecs_file_kind_name(ev->open.kind));
	if (op.n && (op.n != path.n || memcmp(op.p, path.p, path.n)))
		add_vstr(v, F_V_FILE_OPENED, op);
	if ((fl & O_ACCMODE) == O_RDONLY || (fl & O_ACCMODE) == O_RDWR)
		add_cstr(v, F_V_FILE_ACCESS, "read");
	if ((fl & O_ACCMODE) == O_WRONLY || (fl & O_ACCMODE) == O_RDWR)
		add_cstr(v, F_V_FILE_ACCESS, "write");
	if (fl & O_CREAT)
		add_cstr(v, F_V_FILE_ACCESS, "create");
	if (fl & O_TRUNC)
		add_cstr(v, F_V_FILE_ACCESS, "truncate");
	if (ev->open.folded)
		view_add_num(v, F_V_COUNT, ev->open.folded + 1ll);
}

static void add_net(struct rule_view *v, const struct vigil_event *ev)
{
	struct ipaddr d = {.v6 = ev->net.family == 10}, s = d;
	size_t alen = d.v6 ? 16 : 4;
	bool tcp = ev->net.protocol == 6;

	memcpy(d.a, ev->net.daddr, alen);
	memcpy(s.a, ev->net.saddr, alen);
	if (ev->action == VA_CONNECT) {
		view_add_ip(v, F_DST_IP, &d);
		if (ev->net.dport)
			view_add_num(v, F_DST_PORT, ev->net.dport);
		add_cstr(v, F_NET_DIRECTION, "egress");
		add_cstr(v, F_EVENT_OUTCOME, ecs_net_outcome(ev));
		if (ev->net.error > 0)
			view_add_num(v, F_V_NET_ERRNO, ev->net.error);
		add_cstr(v, F_V_NET_VIA,
			 ev->net.via == VGL_VIA_SENDMSG	  ? "sendmsg"
			 : ev->net.via == VGL_VIA_CONNECT ? "connect"
							  : "tcp");
	}
	view_add_ip(v, F_SRC_IP, &s);
	if (ev->net.sport)
		view_add_num(v, F_SRC_PORT, ev->net.sport);
	add_cstr(v, F_NET_TRANSPORT, tcp ? "tcp" : "udp");
	add_cstr(v, F_NET_TYPE, d.v6 ? "ipv6" : "ipv4");
}

/* vigil.target.*: a ptrace target or the process whose /proc file was opened. */
static void add_target_proc(struct rule_view *v, struct proc_cache *pc, uint32_t pid,
			    const struct proc *t)
{
	view_add_num(v, F_V_TARGET_PID, pid);
	if (!t)
		return;
	add_cstr(v, F_V_TARGET_ENTITY, proc_cache_entity_id(pc, t));
	add_cstr(v, F_V_TARGET_NAME, t->name);
	add_cstr(v, F_V_TARGET_EXE, t->exe);
	view_add_bool(v, F_V_TARGET_INFERENCE, t->flags & (PROC_INFERENCE | PROC_INFERENCE_TREE));
}

static void add_target(struct rule_view *v, const struct vigil_event *ev, struct proc_cache *pc)
{
	add_cstr(v, F_V_PTRACE_REQUEST, ecs_ptrace_request_name(ev->ptrace.request));
	add_cstr(v, F_EVENT_OUTCOME, ev->ptrace.ret < 0 ? "failure" : "success");
	add_target_proc(v, pc, ev->ptrace.target, ev->ptrace.target_proc);
}

enum action_bit event_view_action(enum vigil_action a)
{
	switch (a) {
	case VA_EXEC:
		return AB_exec;
	case VA_EXIT:
		return AB_exit;
	case VA_OPEN:
		return AB_open;
	case VA_RENAME:
		return AB_rename;
	case VA_UNLINK:
		return AB_unlink;
	case VA_TRUNCATE:
		return AB_truncate;
	case VA_CHMOD:
		return AB_chmod;
	case VA_LINK:
		return AB_link;
	case VA_SYMLINK:
		return AB_symlink;
	case VA_CONNECT:
		return AB_connect;
	case VA_LISTEN:
		return AB_listen;
	case VA_PTRACE:
		return AB_ptrace;
	case VA_MODEL_FORMAT:
		return AB_model_format;
	case VA_SIGNAL:
		return AB_signal;
	case VA_SECCOMP:
		return AB_seccomp;
	case VA_MODEL_FINDING:
		return AB_model_finding;
	default:
		return AB_OTHER; /* io_uring-setup: matched by name */
	}
}

/* A model finding (inventory): the model's path and digest, what was found. */
static void add_model(struct rule_view *v, const struct vigil_event *ev)
{
	add_path(v, ev->model.path, 0);
	add_cstr(v, F_V_FILE_KIND, "model");
	if (ev->model.sha256[0])
		add_cstr(v, F_FILE_SHA256, ev->model.sha256);
	add_cstr(v, F_V_MODEL_FINDING, ev->model.finding);
	add_cstr(v, F_V_MODEL_FORMAT, ev->model.format);
	if (ev->model.digest_source[0])
		add_cstr(v, F_V_MODEL_DIGEST_SOURCE, ev->model.digest_source);
	if (ev->model.named_sha256[0])
		add_cstr(v, F_V_MODEL_NAMED_SHA256, ev->model.named_sha256);
	for (unsigned i = 0; i < ev->model.n_callables; i++)
		add_cstr(v, F_V_MODEL_CALLABLES, ev->model.callables[i]);
}

void event_view_fill(struct rule_view *v, const struct vigil_event *ev, struct proc_cache *pc,
		     const struct ecs_writer *w)
{
	struct action_meta m = ecs_action_meta(ev);
	const char *action = vigil_action_name(ev->action);
	char id[48];
	size_t idn = ecs_last_event_id(w, id, sizeof(id));
	char *ids;

	view_reset(v);
	v->ts_ns = ecs_realtime_ns(w, ev->ts_boot_ns);
	v->action = event_view_action(ev->action);
	add_cstr(v, F_EVENT_ACTION, action);
	add_cstr(v, F_EVENT_KIND, "event");
	add_csv(v, F_EVENT_CATEGORY, m.category);
	add_csv(v, F_EVENT_TYPE, m.type);
	if ((ids = view_stash(v, id, idn)))
		view_add_str(v, F_EVENT_ID, ids, idn);
	add_cstr(v, F_HOST_NAME, ecs_host_name(w));
	add_process(v, ev, pc);
	if (ev->proc)
		add_context(v, ev->proc, pc);
	if (ev->action == VA_OPEN) {
		add_open(v, ev);
		if (ev->open.target)
			add_target_proc(v, pc, ev->open.target, ev->open.target_proc);
	} else if (ev->action >= VA_RENAME && ev->action <= VA_SYMLINK) {
		add_path(v, ev->change.path, 0);
		add_cstr(v, F_V_FILE_KIND, ecs_file_kind_name(ev->change.kind));
		add_vstr(v, ev->action == VA_RENAME ? F_V_FILE_NEW_PATH : F_FILE_TARGET_PATH,
			 ev->change.target);
	} else if (ev->action == VA_CONNECT || ev->action == VA_LISTEN) {
		add_net(v, ev);
	} else if (ev->action == VA_EXIT && ev->exit.signal) {
		view_add_num(v, F_V_EXIT_SIGNAL, ev->exit.signal);
	} else if (ev->action == VA_PTRACE) {
		add_target(v, ev, pc);
	} else if (ev->action == VA_SIGNAL) {
		char name[24];
		size_t n = ecs_signal_name(ev->signal.sig, name, sizeof(name));
		char *s = view_stash(v, name, n);

		view_add_num(v, F_V_TARGET_PID, ev->signal.target);
		add_cstr(v, F_V_TARGET_NAME, ecs_signal_target_name(ev));
		view_add_num(v, F_V_SIGNAL, ev->signal.sig);
		if (s)
			view_add_str(v, F_V_SIGNAL_NAME, s, n);
	} else if (ev->action == VA_SECCOMP) {
		add_cstr(v, F_V_SECCOMP_SYSCALL, ev->seccomp.name);
		add_cstr(v, F_V_SECCOMP_VERDICT, ev->seccomp.denied ? "denied" : "logged");
	} else if (ev->action == VA_MODEL_FORMAT) {
		add_path(v, ev->sniff.path, 0);
		add_cstr(v, F_V_FILE_KIND, ecs_file_kind_name(ev->sniff.kind));
		add_cstr(v, F_V_FILE_FORMAT, ev->sniff.format);
		if (ev->sniff.expected[0])
			add_cstr(v, F_V_FILE_EXPECTED, ev->sniff.expected);
		view_add_bool(v, F_V_FILE_MISMATCH, ev->sniff.mismatch);
		view_add_bool(v, F_V_FILE_PICKLE, ev->sniff.pickle);
	} else if (ev->action == VA_MODEL_FINDING) {
		add_model(v, ev);
	}
}
