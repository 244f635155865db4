// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/*
 * Is path, and every directory above it, root-owned and writable by no one
 * else? Then only root could have put this file there. The path is the one
 * the kernel resolved at exec (no symlinks); a symlink on the way fails.
 */
static bool root_only(const char *path, struct stat *st, bool dir)
{
	if (lstat(path, st) || st->st_uid != 0 || (st->st_mode & (S_IWGRP | S_IWOTH)))
		return false;
	return dir ? S_ISDIR(st->st_mode) : S_ISREG(st->st_mode);
}

static bool root_owned_path(const char *path, struct stat *ret)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (path[0] != '/' || n >= sizeof(buf) || !root_only("/", ret, true))
		return false;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) { /* "/usr", "/usr/bin", then "/usr/bin/x" */
		if (buf[i] != '/' && buf[i])
			continue;
		buf[i] = 0;
		if (!root_only(buf, ret, i < n))
			return false;
		buf[i] = path[i];
	}
	return true;
}

/*
 * The executable counts only if the file the process runs is the root-owned
 * file at that path here: /proc/PID/exe is what it runs, whatever mount
 * namespace it lives in, so a user's bind mount over /usr/bin/ollama in a
 * namespace of its own, or a container's own /usr/bin, is not taken for the
 * host's file. A process already gone cannot be checked and is not trusted.
 * Checked once per exec that already matched a name (server starts, not
 * every event); forks inherit the verdict with the tag.
 */
static bool exe_verified(const struct enricher *en, const struct proc *p)
{
	char link[PATH_MAX];
	struct stat run, at;

	if (!p->exe || (p->flags & PROC_EXE_DELETED))
		return false;
	snprintf(link, sizeof(link), "%s/%u/exe", proc_cache_root(en->pc), p->pid);
	if (stat(link, &run) || !root_owned_path(p->exe, &at))
		return false;
	return run.st_dev == at.st_dev && run.st_ino == at.st_ino;
}

/* The systemd unit of a v2 cgroup path: its first "*.service" component. Under
 * user.slice that is user@UID.service, the user's manager, never a system unit. */
static bool unit_matches(const struct strv *units, const char *cgroup)
{
	char unit[256];

	for (const char *s = cgroup; s && *s;) {
		const char *e = strchr(++s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (n > 8 && n < sizeof(unit) && !memcmp(s + n - 8, ".service", 8)) {
			memcpy(unit, s, n);
			unit[n] = 0;
			return match_any_glob(units, unit);
		}
		s += n;
	}
	return false;
}

static bool argv_matches(const struct strv *needles, const struct proc *p)
{
	char cmdline[PROC_ARGS_MAX + 1];

	if (!p->args_len || !needles->n)
		return false;
	/* argv is NUL-separated: search it as one space-joined line */
	memcpy(cmdline, p->args, p->args_len);
	cmdline[p->args_len] = 0;
	for (size_t i = 0; i < p->args_len; i++)
		if (!cmdline[i])
			cmdline[i] = ' ';
	for (unsigned i = 0; i < needles->n; i++)
		if (strstr(cmdline, needles->v[i]))
			return true;
	return false;
}

/*
 * The one place that decides whether p is a recognised inference workload,
 * and how strongly. A cgroup or unit selector is set up by root; a name on
 * a root-owned executable is an exe match; the same name on a user's file,
 * in /tmp, or on comm alone (a script run by its interpreter) is comm; a
 * command-line substring is argv. `python3 -m vllm` runs /usr/bin/python3
 * (no selector name), so it is argv unless its cgroup or unit matches.
 * A cgroup or unit matches every process in it: only the first one (whose
 * parent is outside the workload) is the workload, what it starts is its tree.
 */
enum workload_match enrich_workload_match(const struct enricher *en, const struct proc *p)
{
	const struct vigil_config *c = en->cfg;
	const char *base = p->exe ? strrchr(p->exe, '/') : NULL;
	const struct proc *parent =
	    en->pc ? proc_cache_get(en->pc, p->ppid) : NULL; /* replay has none */
	bool in_tree = parent && (parent->flags & (PROC_INFERENCE | PROC_INFERENCE_TREE));
	bool exe_named;

	base = base ? base + 1 : p->exe;
	if (is_launcher(c, p, base))
		return WL_NONE;
	if (!in_tree && match_any_glob(&c->inference_cgroups, p->cgroup))
		return WL_CGROUP;
	if (!in_tree && unit_matches(&c->inference_units, p->cgroup))
		return WL_UNIT;
	exe_named = match_any_glob(&c->inference_executables, p->exe) ||
		    match_any_glob(&c->inference_executables, base);
	if (exe_named && exe_verified(en, p))
		return WL_EXE;
	if (exe_named || match_any_glob(&c->inference_executables, p->name))
		return WL_COMM;
	return argv_matches(&c->inference_command_lines, p) ? WL_ARGV : WL_NONE;
}

/* argv[i] after interpreter options (-s, -E, -X opt, -W…) is "-c": the index of the code */
static int code_arg(const char *const *argv, int argc)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c"))
			return i + 1 < argc ? i + 1 : -1;
		if (argv[i][0] != '-')
			return -1;
		if (!strcmp(argv[i], "-X") || !strcmp(argv[i], "-W"))
			i++;
	}
	return -1;
}

/* after prefix, s holds only chars from allowed and ends in the one ")" */
static bool call_of(const char *s, const char *prefix, const char *allowed)
{
	size_t n = strlen(prefix), len = strlen(s);

	if (strncmp(s, prefix, n) || len <= n || s[len - 1] != ')')
		return false;
	return strspn(s + n, allowed) == len - n - 1;
}

/*
 * multiprocessing's own helpers: `python -c "from multiprocessing.spawn
 * import spawn_main; spawn_main(tracker_fd=5, pipe_handle=7)"
 * --multiprocessing-fork`, the resource tracker's main(N), the
 * forkserver's main(…). "from multiprocessing" anywhere in a command line
 * is what a payload types to pass as one; this is the exact argv CPython
 * builds, its arguments without a call, a quote (but the forkserver's
 * literal lists) or a second statement. Only a trusted workload's child is one.
 */
bool enrich_is_runtime_worker_argv(const struct proc *p)
{
	const char *argv[16];
	int argc = 0, code;

	for (size_t i = 0; i < p->args_len && argc < 16; i += strlen(p->args + i) + 1)
		argv[argc++] = p->args + i;
	if (argc < 3 || (code = code_arg(argv, argc)) < 0)
		return false;
	if (code == argc - 2 && !strcmp(argv[argc - 1], "--multiprocessing-fork"))
		return call_of(argv[code],
			       "from multiprocessing.spawn import spawn_main; spawn_main(",
			       "abcdefghijklmnopqrstuvwxyz_=, 0123456789");
	if (code != argc - 1)
		return false;
	return call_of(argv[code], "from multiprocessing.resource_tracker import main;main(",
		       "0123456789") ||
	       call_of(argv[code], "from multiprocessing.forkserver import main; main(",
		       "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_=, "
		       "'\"[]{}:*./-+@~%");
}

void enrich_tag(const struct enricher *en, struct proc *p)
{
	enum workload_match m = enrich_workload_match(en, p);

	if (m != WL_NONE)
		p->flags |= PROC_INFERENCE;
	if (m > p->match)
		p->match = m;
	if (!(p->flags & (PROC_INFERENCE | PROC_INFERENCE_TREE)))
		p->match = WL_NONE;
	if ((p->flags & PROC_INFERENCE_TREE) && p->match >= WORKLOAD_MATCH_STRONG &&
	    enrich_is_runtime_worker_argv(p))
		p->flags |= PROC_RUNTIME_WORKER;
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
	enrich_tag(en, p);
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
