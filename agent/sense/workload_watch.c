// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sense/workload_watch.h"
#include "core/util.h"

/*
 * The variables read, and what each means below it (sub NULL: the value
 * itself). From the projects' docs: huggingface_hub (HF_HOME/hub,
 * HF_HOME/token, stored_tokens; XDG_CACHE_HOME/huggingface), Ollama
 * (OLLAMA_MODELS), torch.hub (TORCH_HOME/hub), vLLM (assets and LoRA
 * caches), ModelScope. VLLM_* variables are named one by one: most are
 * not model paths (VLLM_RPC_BASE_PATH is /tmp), and a watch there is noise.
 */
static const struct env_source {
	const char *var;
	const char *sub;
	enum ww_kind kind;
} env_sources[] = {
    {"HF_HOME", "hub", WW_MODEL_DIR},
    {"HF_HOME", "token", WW_CREDENTIAL},
    {"HF_HOME", "stored_tokens", WW_CREDENTIAL},
    {"HF_HUB_CACHE", NULL, WW_MODEL_DIR},
    {"HUGGINGFACE_HUB_CACHE", NULL, WW_MODEL_DIR},
    {"TRANSFORMERS_CACHE", NULL, WW_MODEL_DIR},
    {"XDG_CACHE_HOME", "huggingface/hub", WW_MODEL_DIR},
    {"XDG_CACHE_HOME", "huggingface/token", WW_CREDENTIAL},
    {"XDG_CACHE_HOME", "torch/hub", WW_MODEL_DIR},
    {"HF_TOKEN_PATH", NULL, WW_CREDENTIAL},
    {"OLLAMA_MODELS", NULL, WW_MODEL_DIR},
    {"TORCH_HOME", "hub", WW_MODEL_DIR},
    {"VLLM_ASSETS_CACHE", NULL, WW_MODEL_DIR},
    {"VLLM_LORA_RESOLVER_CACHE_DIR", NULL, WW_MODEL_DIR},
    {"MODELSCOPE_CACHE", NULL, WW_MODEL_DIR},
};

/*
 * argv flags whose value is a model (a file or a directory: the path
 * decides). Only absolute values are paths: "--model org/name" is a hub id
 * and "python -m vllm..." a module.
 */
static const char *const model_flags[] = {
    "--model",	   "--model-path",	 "--model-dir",	  "--download-dir",
    "--tokenizer", "--model-repository", "--model-store", "-m",
};

/* Too broad to watch as a model dir, or not files at all. */
static const char *const refused_paths[] = {
    "/",     "/tmp", "/var/tmp", "/run", "/etc",   "/usr", "/home", "/root", "/var",
    "/boot", "/bin", "/sbin",	 "/lib", "/lib64", "/opt", "/srv",  "/mnt",  "/media",
};

struct ww_entry {
	char *path; /* NULL: a free slot */
	enum ww_kind kind;
	unsigned users;
	char reason[96];
};

struct ww_user {
	uint32_t pid;
	uint64_t start_ns;
	unsigned n;
	unsigned idx[WW_PER_WORKLOAD]; /* into entries */
};

struct workload_watch {
	char proc_root[256];
	unsigned max;
	struct ww_entry *e; /* max slots */
	struct ww_user *u;
	unsigned nu, cap_u;
	uint64_t refused;
	ww_change_fn fn;
	void *ctx;
};

const char *workload_watch_kind_name(enum ww_kind kind)
{
	switch (kind) {
	case WW_MODEL_DIR:
		return "model-dir";
	case WW_MODEL_FILE:
		return "model";
	case WW_CREDENTIAL:
		return "credential";
	}
	return "unknown";
}

static bool under(const char *path, const char *top)
{
	size_t n = strlen(top);

	return !strncmp(path, top, n) && (path[n] == '/' || !path[n]);
}

/*
 * A clean absolute path: printable UTF-8, no "." or ".." component, not too
 * long. UTF-8 by jansson's own check: what it refuses could not be shown
 * in `vigil status`, and the stream would show another name.
 */
static bool clean_value(const char *v, size_t n)
{
	json_t *utf8;

	if (!n || n >= WW_PATH_MAX || v[0] != '/')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return false;
	utf8 = json_stringn(v, n);
	if (!utf8)
		return false;
	json_decref(utf8);
	for (const char *c = v; c && *c;) {
		const char *end;
		size_t len;

		c += strspn(c, "/");
		end = strchr(c, '/');
		len = end ? (size_t)(end - c) : strlen(c);
		if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c = end;
	}
	return true;
}

static bool refused_path(const char *real)
{
	if (under(real, "/proc") || under(real, "/sys") || under(real, "/dev"))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(refused_paths); i++)
		if (!strcmp(real, refused_paths[i]))
			return true;
	return false;
}

/* Kernel interfaces, not files: nothing there is a model or a token. */
static bool pseudo_fs(int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) < 0)
		return true;
	switch ((unsigned long)sf.f_type) {
	case PROC_SUPER_MAGIC:
	case SYSFS_MAGIC:
	case DEVPTS_SUPER_MAGIC:
	case CGROUP_SUPER_MAGIC:
	case CGROUP2_SUPER_MAGIC:
	case BPF_FS_MAGIC:
	case DEBUGFS_MAGIC:
	case SECURITYFS_MAGIC:
	case TRACEFS_MAGIC:
		return true;
	}
	return false;
}

struct derive {
	struct ww_found *out;
	unsigned n, max, refused;
	int root_fd;	     /* the workload's root (/proc/PID/root): its paths are its own */
	char root[PATH_MAX]; /* that root as vigild sees it ("/" outside containers) */
	struct stat root_st;
};

/* The path vigild sees for fd; *inner: the same path as the workload sees it. */
static int host_path(const struct derive *d, int fd, char *out, size_t len, const char **inner)
{
	char link[64];
	size_t rl = strcmp(d->root, "/") ? strlen(d->root) : 0;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, out, len - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n >= len - 1)
		return -ENAMETOOLONG;
	out[n] = 0;
	*inner = out;
	if (rl && !strncmp(out, d->root, rl) && (out[rl] == '/' || !out[rl]))
		*inner = out[rl] ? out + rl : "/";
	return 0;
}

/*
 * value (+ "/" sub) resolved inside the workload's own root (a container's
 * HF_HOME is a path in the container: openat2 RESOLVE_IN_ROOT keeps its
 * absolute symlinks there too) to an existing path of the right type, in
 * f->path as vigild (and the open events) see it. WW_MODEL_FILE from argv
 * means "either": a directory becomes a model dir.
 */
static int resolve(const struct derive *d, const char *value, size_t n, const char *sub,
		   enum ww_kind want, struct ww_found *f)
{
	char joined[WW_PATH_MAX + 64], real[PATH_MAX];
	struct open_how how = {.flags = O_PATH | O_CLOEXEC,
			       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	_cleanup_close_ int fd = -1;
	const char *inner;
	struct stat st;
	int r;

	if (!clean_value(value, n))
		return -EINVAL;
	if (d->root_fd < 0)
		return -ENOENT; /* gone already */
	snprintf(joined, sizeof(joined), "%.*s%s%s", (int)n, value, sub ? "/" : "", sub ? sub : "");
	fd = syscall(SYS_openat2, d->root_fd, joined, &how, sizeof(how));
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	r = host_path(d, fd, real, sizeof(real), &inner);
	if (r < 0)
		return r;
	if (strlen(real) >= sizeof(f->path) || refused_path(real) || refused_path(inner) ||
	    pseudo_fs(fd) || (st.st_dev == d->root_st.st_dev && st.st_ino == d->root_st.st_ino))
		return -EPERM;
	if (want == WW_MODEL_FILE && S_ISDIR(st.st_mode))
		want = WW_MODEL_DIR;
	if (want == WW_MODEL_DIR ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
		return -ENOTDIR;
	snprintf(f->path, sizeof(f->path), "%s", real);
	f->kind = want;
	return 0;
}

static void found(struct derive *d, const char *source, const char *value, size_t n,
		  const char *sub, enum ww_kind kind)
{
	struct ww_found *f;
	int r;

	if (d->n >= d->max) {
		d->refused++;
		return;
	}
	f = &d->out[d->n];
	r = resolve(d, value, n, sub, kind, f);
	if (r < 0) {
		/* HF_HOME/stored_tokens not there (yet) is normal: hostile or too broad values count */
		if (r != -ENOENT)
			d->refused++;
		return;
	}
	for (unsigned i = 0; i < d->n; i++)
		if (!strcmp(d->out[i].path, f->path))
			return; /* HF_HOME/hub and HF_HUB_CACHE may name one dir */
	snprintf(f->source, sizeof(f->source), "%s", source);
	d->n++;
}

/* One "NAME=value" of the environment: only the listed names are looked at. */
static void env_entry(struct derive *d, const char *s, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(env_sources); i++) {
		const struct env_source *es = &env_sources[i];
		size_t vl = strlen(es->var);

		if (len > vl && s[vl] == '=' && !memcmp(s, es->var, vl))
			found(d, es->var, s + vl + 1, len - vl - 1, es->sub, es->kind);
	}
}

static void derive_env(struct derive *d, const char *proc_root, uint32_t pid)
{
	char path[512];
	_cleanup_free_ char *buf = malloc(WW_ENVIRON_MAX);
	_cleanup_close_ int fd = -1;
	ssize_t n = 0, r;

	snprintf(path, sizeof(path), "%s/%u/environ", proc_root, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (!buf || fd < 0)
		return;
	while (n < (ssize_t)WW_ENVIRON_MAX && (r = read(fd, buf + n, WW_ENVIRON_MAX - n)) > 0)
		n += r;
	for (ssize_t at = 0; at < n;) {
		const char *s = buf + at;
		size_t len = strnlen(s, n - at);

		env_entry(d, s, len);
		at += len + 1;
	}
	/* the rest of the environment holds the secrets (HF_TOKEN=...): gone at once */
	explicit_bzero(buf, n > 0 ? (size_t)n : 0);
}

static void derive_args(struct derive *d, const struct proc *p)
{
	const char *prev = NULL;

	for (size_t at = 0; p->args && at < p->args_len;) {
		const char *a = p->args + at;
		size_t len = strnlen(a, p->args_len - at);

		for (size_t i = 0; i < ARRAY_SIZE(model_flags); i++) {
			size_t fl = strlen(model_flags[i]);

			if (prev && !strcmp(prev, model_flags[i]) && a[0] == '/')
				found(d, model_flags[i], a, len, NULL, WW_MODEL_FILE);
			else if (len > fl + 1 && a[fl] == '=' && a[fl + 1] == '/' &&
				 !memcmp(a, model_flags[i], fl))
				found(d, model_flags[i], a + fl + 1, len - fl - 1, NULL,
				      WW_MODEL_FILE);
		}
		/* `vllm serve /models/x`: the model is positional */
		if (prev && !strcmp(prev, "serve") && a[0] == '/')
			found(d, "serve", a, len, NULL, WW_MODEL_FILE);
		prev = a; /* NUL-terminated: a next argument follows it */
		at += len + 1;
	}
}

unsigned workload_watch_derive(const char *proc_root, const struct proc *p, struct ww_found *out,
			       unsigned max, unsigned *refused)
{
	struct derive d = {.out = out, .max = max, .root_fd = -1};
	const char *unused;
	char path[300];

	snprintf(path, sizeof(path), "%s/%u/root", proc_root, p->pid);
	d.root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (d.root_fd >= 0 && (fstat(d.root_fd, &d.root_st) < 0 ||
			       host_path(&d, d.root_fd, d.root, sizeof(d.root), &unused) < 0))
		snprintf(d.root, sizeof(d.root), "/");
	derive_env(&d, proc_root, p->pid);
	derive_args(&d, p);
	if (d.root_fd >= 0)
		close(d.root_fd);
	*refused = d.refused;
	return d.n;
}

int workload_watch_new(const char *proc_root, unsigned max, ww_change_fn fn, void *ctx,
		       struct workload_watch **ret)
{
	struct workload_watch *ww = calloc(1, sizeof(*ww));

	if (!ww)
		return -ENOMEM;
	ww->e = calloc(max ? max : 1, sizeof(*ww->e));
	if (!ww->e) {
		free(ww);
		return -ENOMEM;
	}
	snprintf(ww->proc_root, sizeof(ww->proc_root), "%s", proc_root);
	ww->max = max;
	ww->fn = fn;
	ww->ctx = ctx;
	*ret = ww;
	return 0;
}

struct workload_watch *workload_watch_free(struct workload_watch *ww)
{
	if (!ww)
		return NULL;
	for (unsigned i = 0; i < ww->max; i++)
		free(ww->e[i].path);
	free(ww->e);
	free(ww->u);
	free(ww);
	return NULL;
}

static struct ww_user *user_of(struct workload_watch *ww, uint32_t pid)
{
	for (unsigned i = 0; i < ww->nu; i++)
		if (ww->u[i].pid == pid)
			return &ww->u[i];
	return NULL;
}

/* The slot for f's path, taken (and the watch added) on first use; -1: refused. */
static int take(struct workload_watch *ww, const struct ww_found *f, const struct proc *p)
{
	int free_slot = -1;
	struct ww_entry *e;

	for (unsigned i = 0; i < ww->max; i++) {
		if (ww->e[i].path && !strcmp(ww->e[i].path, f->path)) {
			ww->e[i].users++;
			return i;
		}
		if (!ww->e[i].path && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return -1;
	e = &ww->e[free_slot];
	snprintf(e->reason, sizeof(e->reason), "%s of pid %u (%s)", f->source, p->pid, p->name);
	if (ww->fn(ww->ctx, true, f->path, f->kind, e->reason) < 0)
		return -1;
	e->path = strdup(f->path);
	if (!e->path) {
		ww->fn(ww->ctx, false, f->path, f->kind, e->reason);
		return -1;
	}
	e->kind = f->kind;
	e->users = 1;
	return free_slot;
}

static void give_back(struct workload_watch *ww, const struct ww_user *u)
{
	for (unsigned i = 0; i < u->n; i++) {
		struct ww_entry *e = &ww->e[u->idx[i]];

		if (--e->users)
			continue;
		ww->fn(ww->ctx, false, e->path, e->kind, e->reason);
		free(e->path);
		e->path = NULL;
	}
}

static void drop_user(struct workload_watch *ww, struct ww_user *u)
{
	give_back(ww, u);
	*u = ww->u[--ww->nu];
}

static struct ww_user *new_user(struct workload_watch *ww)
{
	if (ww->nu == ww->cap_u) {
		unsigned cap = ww->cap_u ? ww->cap_u * 2 : 8;
		struct ww_user *n = reallocarray(ww->u, cap, sizeof(*n));

		if (!n)
			return NULL;
		ww->u = n;
		ww->cap_u = cap;
	}
	return &ww->u[ww->nu++];
}

/* The new image's paths are taken before the old ones are given back: no gap for a shared one. */
void workload_watch_add(struct workload_watch *ww, const struct proc *p)
{
	struct ww_found found[WW_PER_WORKLOAD];
	struct ww_user fresh = {.pid = p->pid, .start_ns = p->start_ns}, *old, *u;
	unsigned refused,
	    n = workload_watch_derive(ww->proc_root, p, found, WW_PER_WORKLOAD, &refused);

	ww->refused += refused;
	for (unsigned i = 0; i < n; i++) {
		int slot = take(ww, &found[i], p);

		if (slot < 0)
			ww->refused++;
		else
			fresh.idx[fresh.n++] = slot;
	}
	old = user_of(ww, p->pid);
	if (old)
		drop_user(ww, old);
	if (!fresh.n)
		return;
	u = new_user(ww);
	if (!u) {
		give_back(ww, &fresh);
		ww->refused += fresh.n;
		return;
	}
	*u = fresh;
}

void workload_watch_event(struct workload_watch *ww, const struct vigil_event *ev)
{
	struct ww_user *u;

	if (ev->action != VA_EXEC && ev->action != VA_EXIT)
		return;
	if (ev->action == VA_EXEC && ev->proc && (ev->proc->flags & PROC_INFERENCE)) {
		workload_watch_add(ww, ev->proc);
		return;
	}
	u = user_of(ww, ev->pid);
	if (u)
		drop_user(ww, u);
}

void workload_watch_expire(struct workload_watch *ww, struct proc_cache *pc)
{
	uint64_t tick = proc_cache_ns_per_tick(pc);

	for (unsigned i = 0; i < ww->nu;) {
		struct ww_user *u = &ww->u[i];
		struct proc *p = proc_cache_get(pc, u->pid);

		if (!p || (p->flags & PROC_EXITED) || p->start_ns / tick != u->start_ns / tick)
			drop_user(ww, u); /* moves the last user here: look at i again */
		else
			i++;
	}
}

json_t *workload_watch_json(const struct workload_watch *ww)
{
	json_t *active = json_array();

	for (unsigned i = 0; i < ww->max; i++) {
		const struct ww_entry *e = &ww->e[i];

		if (e->path)
			json_array_append_new(active,
					      json_pack("{s:s, s:s, s:s, s:i}", "path", e->path,
							"kind", workload_watch_kind_name(e->kind),
							"reason", e->reason, "users", e->users));
	}
	return json_pack("{s:o, s:I, s:i}", "active", active, "refused", (json_int_t)ww->refused,
			 "max", ww->max);
}
