// SPDX-License-Identifier: GPL-2.0
/*
 * ecs_process.c — the process part of an event: identity, argv (redacted),
 * parent and ancestors, each rendered once per process and reused.
 */
#include <string.h>

#include "vigil/abi.h"
#include "stream/redact.h"
#include "core/util.h"

#include "stream/ecs_internal.h"

/* One argument as JSON string content, its secret part (if any) replaced. */
static void put_arg_content(struct jw *j, const char *arg, size_t l, bool *next_secret)
{
	struct redaction r;

	if (!redact_arg(arg, l, next_secret, &r)) {
		jw_escape(j, arg, l);
		return;
	}
	jw_escape(j, arg, r.keep);
	jw_raw(j, REDACTED, strlen(REDACTED));
	jw_escape(j, arg + r.resume, l - r.resume);
}

/* argv (NUL-separated) as process.args, args_count and command_line, secrets redacted. */
static void put_args(struct jw *j, const char *args, size_t n)
{
	static const char cmd_key[] = ",\"command_line\":\"";
	bool next_secret = false;
	size_t off, count = 0;

	jw_arr_open(j, "args");
	for (off = 0; off < n; count++) {
		size_t l = strnlen(args + off, n - off);

		jw_raw(j, count ? ",\"" : "\"", count ? 2 : 1);
		put_arg_content(j, args + off, l, &next_secret);
		jw_raw(j, "\"", 1);
		off += l + 1;
	}
	jw_arr_close(j);
	jw_u64(j, "args_count", count);
	/* command_line: the same arguments joined by spaces */
	jw_raw(j, cmd_key, sizeof(cmd_key) - 1);
	next_secret = false;
	for (off = 0; off < n;) {
		size_t l = strnlen(args + off, n - off);

		if (off)
			jw_raw(j, " ", 1);
		put_arg_content(j, args + off, l, &next_secret);
		off += l + 1;
	}
	jw_raw(j, "\"", 1);
}

/*
 * What a process renders to never changes while it lives (argv, identity,
 * ancestry): build such JSON members once, keep them with the process, and
 * copy them into later events.
 */
typedef void (*frag_fn)(struct jw *j, struct ecs_writer *w, const struct proc *p);

static void put_cached(struct jw *j, struct ecs_writer *w, const struct proc *cp,
		       struct json_frag *f, frag_fn build)
{
	if (!f->s) {
		struct jw tmp;

		if (jw_init(&tmp, 512) < 0)
			return;
		build(&tmp, w, cp);
		if (tmp.oom) {
			jw_free(&tmp);
			return;
		}
		f->s = tmp.buf; /* the proc owns it now */
		f->len = tmp.len;
		f->lossy = tmp.lossy;
	}
	if (!f->len)
		return;
	if (j->need_comma[j->depth])
		jw_raw(j, ",", 1);
	j->need_comma[j->depth] = true;
	jw_raw(j, f->s, f->len);
	if (f->lossy)
		j->lossy = true;
}

static void build_args(struct jw *j, struct ecs_writer *w, const struct proc *p)
{
	put_args(j, p->args, p->args_len);
}

/* pid, entity_id, name, executable, [args…], start */
static void put_identity(struct jw *j, struct ecs_writer *w, struct proc *p, bool with_args)
{
	jw_u64(j, "pid", p->pid);
	jw_str(j, "entity_id", proc_cache_entity_id(w->pc, p));
	jw_str(j, "name", p->name);
	if (p->exe)
		jw_str(j, "executable", p->exe);
	if (with_args && p->args_len)
		put_cached(j, w, p, &p->args_json, build_args);
	if (p->start_ns) {
		if (!p->start_str[0])
			ecs_format_time(w, p->start_ns, p->start_str);
		jw_str(j, "start", p->start_str);
	}
}

static void build_brief(struct jw *j, struct ecs_writer *w, const struct proc *cp)
{
	put_identity(j, w, (struct proc *)cp, true); /* cache fills only */
}

/* full: with argv (every process but the one an exec event describes) */
static void put_proc_brief(struct jw *j, struct ecs_writer *w, const struct proc *cp, bool full)
{
	struct proc *p = (struct proc *)cp;

	if (full)
		put_cached(j, w, p, &p->brief_json, build_brief);
	else
		put_identity(j, w, p, false);
}

void ecs_put_process(struct jw *j, struct ecs_writer *w, const struct vigil_event *ev)
{
	const struct proc *p = ev->proc;
	const struct proc *parent = p ? proc_cache_get(w->pc, p->ppid) : NULL;
	char id[16];

	jw_obj_open(j, "process");
	if (p) {
		put_proc_brief(j, w, p, ev->action != VA_EXEC);
	} else {
		jw_u64(j, "pid", ev->pid);
		jw_str(j, "name", ev->comm);
	}
	if (ev->action == VA_EXEC) {
		put_args(j, ev->exec.args.p, ev->exec.args.n);
		jw_strn(j, "working_directory", ev->exec.cwd.p, ev->exec.cwd.n);
	}
	if (p && p->sid) {
		jw_obj_open(j, "session_leader");
		jw_u64(j, "pid", p->sid);
		jw_obj_close(j);
	}
	if (ev->tid != ev->pid) {
		jw_obj_open(j, "thread");
		jw_u64(j, "id", ev->tid);
		jw_obj_close(j);
	}
	if (ev->action == VA_EXIT) {
		jw_i64(j, "exit_code", ev->exit.signal ? 128 + ev->exit.signal : ev->exit.code);
		ecs_put_time(j, "end", w, ev->ts_boot_ns);
	}
	snprintf(id, sizeof(id), "%u", ev->uid);
	jw_obj_open(j, "user");
	jw_str(j, "id", id);
	jw_obj_close(j);
	if (parent || ev->ppid) {
		jw_obj_open(j, "parent");
		if (parent)
			put_proc_brief(j, w, parent, true);
		else
			jw_u64(j, "pid", ev->ppid);
		jw_obj_close(j);
	}
	jw_obj_close(j);
	jw_obj_open(j, "user");
	jw_str(j, "id", id);
	jw_obj_close(j);
	snprintf(id, sizeof(id), "%u", ev->gid);
	jw_obj_open(j, "group");
	jw_str(j, "id", id);
	jw_obj_close(j);
	if (p && p->container.id[0]) {
		jw_obj_open(j, "container");
		jw_str(j, "id", p->container.id);
		if (p->container.runtime)
			jw_str(j, "runtime", p->container.runtime);
		jw_obj_close(j);
	}
	if (p && p->container.pod_uid[0]) {
		jw_obj_open(j, "orchestrator");
		jw_str(j, "type", "kubernetes");
		jw_obj_open(j, "resource");
		jw_str(j, "type", "pod");
		jw_str(j, "id", p->container.pod_uid);
		jw_obj_close(j);
		jw_obj_close(j);
	}
}

static void build_ancestors(struct jw *j, struct ecs_writer *w, const struct proc *p)
{
	const struct proc *anc[MAX_ANCESTORS];
	unsigned n = proc_cache_ancestors(w->pc, p, anc, MAX_ANCESTORS);

	jw_arr_open(j, "ancestors");
	for (unsigned i = 0; i < n; i++) {
		jw_obj_open(j, NULL);
		jw_u64(j, "pid", anc[i]->pid);
		jw_str(j, "entity_id", proc_cache_entity_id(w->pc, anc[i]));
		jw_str(j, "name", anc[i]->name);
		if (anc[i]->exe)
			jw_str(j, "executable", anc[i]->exe);
		jw_obj_close(j);
	}
	jw_arr_close(j);
}

void ecs_put_ancestry(struct jw *j, struct ecs_writer *w, const struct vigil_event *ev)
{
	struct proc *p = (struct proc *)ev->proc;

	jw_obj_open(j, "process");
	if (ev->action == VA_EXEC && (ev->exec.sflags & VGL_SF_STDIN_SOCK))
		jw_bool(j, "stdin_socket", true);
	if (ev->action == VA_EXEC && (ev->exec.sflags & VGL_SF_STDOUT_SOCK))
		jw_bool(j, "stdout_socket", true);
	put_cached(j, w, p, &p->anc_json, build_ancestors);
	if (p->cgroup && p->cgroup[0])
		jw_str(j, "cgroup", p->cgroup);
	if (p->cgroup_id)
		jw_u64(j, "cgroup_id", p->cgroup_id);
	if (p->flags & PROC_ARGS_TRUNC)
		jw_bool(j, "args_truncated", true);
	if (p->flags & PROC_EXE_DELETED)
		jw_bool(j, "exe_deleted", true);
	if (p->flags & PROC_EXE_MEMFD)
		jw_bool(j, "exe_memfd", true);
	jw_obj_close(j);
	if (p->flags & (PROC_INFERENCE | PROC_INFERENCE_TREE | PROC_GPU)) {
		jw_obj_open(j, "workload");
		jw_bool(j, "inference", p->flags & PROC_INFERENCE);
		jw_bool(j, "inference_tree", p->flags & (PROC_INFERENCE | PROC_INFERENCE_TREE));
		jw_bool(j, "gpu", p->flags & PROC_GPU);
		if (p->match)
			jw_str(j, "match", workload_match_name(p->match));
		if (p->flags & PROC_RUNTIME_WORKER)
			jw_bool(j, "runtime_worker", true);
		jw_obj_close(j);
	}
}
