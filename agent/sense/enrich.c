// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/abi.h"
#include "sense/enrich.h"
#include "core/util.h"

struct enricher {
	const struct vigil_config *cfg;
	struct proc_cache *pc;
};

int enrich_new(const struct vigil_config *cfg, struct proc_cache *pc, struct enricher **ret)
{
	struct enricher *en = calloc(1, sizeof(*en));

	if (!en)
		return -ENOMEM;
	en->cfg = cfg;
	en->pc = pc;
	*ret = en;
	return 0;
}

struct enricher *enrich_free(struct enricher *en)
{
	free(en);
	return NULL;
}

static bool match_any_glob(const struct strv *globs, const char *s)
{
	for (unsigned i = 0; s && i < globs->n; i++)
		if (!fnmatch(globs->v[i], s, 0))
			return true;
	return false;
}

/*
 * `sh -c "vllm serve …"`, `bash entrypoint.sh python -m vllm …`, tini, env,
 * a pyenv shim: their argv names the workload, yet they only start it. Were
 * they the workload, the wrapper would be "a shell under the workload" and
 * the default playbook would kill the server at launch. The workload is the
 * first non-launcher that matches; a shell the server spawns is still in its
 * tree by descent (proc_cache.c). By name or executable basename: a shim
 * script runs as "bash" with its own name as comm, and either way a
 * launcher only loses trust, it gains none.
 */
static bool is_launcher(const struct vigil_config *c, const struct proc *p, const char *base)
{
	return match_any_glob(&c->inference_launchers, p->name) ||
	       match_any_glob(&c->inference_launchers, base);
}

bool enrich_is_inference(const struct enricher *en, const struct proc *p)
{
	const struct vigil_config *c = en->cfg;
	const char *base = p->exe ? strrchr(p->exe, '/') : NULL;
	char cmdline[PROC_ARGS_MAX + 1];

	base = base ? base + 1 : p->exe;
	if (is_launcher(c, p, base))
		return false;
	if (match_any_glob(&c->inference_executables, p->exe) ||
	    match_any_glob(&c->inference_executables, base) ||
	    match_any_glob(&c->inference_executables, p->name))
		return true;
	if (match_any_glob(&c->inference_cgroups, p->cgroup))
		return true;
	if (!p->args_len || !c->inference_command_lines.n)
		return false;
	/* argv is NUL-separated: search it as one space-joined line */
	memcpy(cmdline, p->args, p->args_len);
	cmdline[p->args_len] = 0;
	for (size_t i = 0; i < p->args_len; i++)
		if (!cmdline[i])
			cmdline[i] = ' ';
	for (unsigned i = 0; i < c->inference_command_lines.n; i++)
		if (strstr(cmdline, c->inference_command_lines.v[i]))
			return true;
	return false;
}

static struct proc *on_exec(struct enricher *en, struct vigil_event *ev)
{
	struct proc *p = proc_cache_exec(
	    en->pc, ev->pid, ev->ppid, ev->exec.start_ns, ev->cgroup_id, ev->comm, ev->exec.exe.p,
	    ev->exec.exe.n, ev->exec.args.p, ev->exec.args.n, ev->exec.sflags & VGL_SF_ARGS_TRUNC);

	if (!p)
		return NULL;
	p->uid = ev->uid;
	p->gid = ev->gid;
	p->sid = ev->exec.sid;
	if (ev->exec.sflags & VGL_SF_EXE_DELETED)
		p->flags |= PROC_EXE_DELETED;
	if (ev->exec.sflags & VGL_SF_EXE_MEMFD)
		p->flags |= PROC_EXE_MEMFD;
	if (enrich_is_inference(en, p))
		p->flags |= PROC_INFERENCE;
	return p;
}

bool enrich_event(struct enricher *en, struct vigil_event *ev)
{
	struct proc *p;

	switch (ev->action) {
	case VA_EXEC:
		ev->proc = on_exec(en, ev);
		return true;
	case VA_FORK:
		proc_cache_fork(en->pc, ev->pid, ev->ppid, ev->fork.start_ns);
		return false;
	case VA_EXIT:
		p = proc_cache_get(en->pc, ev->pid);
		if (p)
			proc_cache_exit(en->pc, ev->pid, ev->ts_boot_ns);
		ev->proc = p;
		return true;
	default:
		break;
	}
	p = proc_cache_get_or_load(en->pc, ev->pid);
	if (p && ev->action == VA_OPEN && ev->open.kind == VGL_KIND_GPU)
		p->flags |= PROC_GPU;
	if (p && !ev->ppid)
		ev->ppid = p->ppid;
	if (p && ev->cgroup_id && ev->cgroup_id != p->cgroup_id)
		proc_cache_set_cgroup(en->pc, p, ev->cgroup_id); /* moved to another cgroup */
	if (ev->action == VA_PTRACE)
		ev->ptrace.target_proc = proc_cache_get_or_load(en->pc, ev->ptrace.target);
	if (ev->action == VA_OPEN && ev->open.target)
		ev->open.target_proc = proc_cache_get_or_load(en->pc, ev->open.target);
	ev->proc = p;
	return true;
}
