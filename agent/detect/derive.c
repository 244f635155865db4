// SPDX-License-Identifier: GPL-2.0
/*
 * Re-deriving vigil's fields on another collector's ECS lines (derive.h).
 * Three values throughout: a fact is known true, known false, or unknown;
 * only the first two become field values, the third an unknown field.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/derive.h"
#include "stream/ecs.h"
#include "sense/enrich.h"
#include "sense/proc_cache.h"

#define PROCS_MAX     (1u << 20) /* processes remembered; past it new ones are dropped (counted) */
#define ANCESTORS_MAX 32

enum tri { NO, YES, UNSURE };

/* A process seen in the stream: what its exec line (or first line) said. */
struct dproc {
	char *name, *exe, *args, *entity, *parent; /* parent: key of the parent, or NULL */
	size_t args_len;
	int64_t pid;
	enum tri inference, tree;
	bool gpu;
};

struct slot {
	char *key; /* entity id, or "pid:N" */
	uint32_t idx;
};

struct derive {
	const struct vigil_config *cfg;
	struct enricher *en;
	uint64_t wanted[FIELD_WORDS];
	struct dproc *procs;
	uint32_t nprocs, cap;
	struct slot *tab;
	uint32_t mask, used;
	struct derive_stats st;
};

/* The line being completed. */
struct dctx {
	struct derive *d;
	struct rule_view *v;
	struct derive_line *out;
	uint64_t known[FIELD_WORDS]; /* decided, with or without a value */
};

int derive_new(const struct vigil_config *cfg, const uint64_t *wanted, struct derive **ret)
{
	struct derive *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	d->cfg = cfg;
	memcpy(d->wanted, wanted, sizeof(d->wanted));
	d->mask = 1023;
	d->tab = calloc(d->mask + 1, sizeof(*d->tab));
	r = d->tab ? enrich_new(cfg, NULL, &d->en) : -ENOMEM;
	if (r < 0)
		return derive_free(d), r;
	*ret = d;
	return 0;
}

struct derive *derive_free(struct derive *d)
{
	if (!d)
		return NULL;
	for (uint32_t i = 0; i < d->nprocs; i++) {
		struct dproc *p = &d->procs[i];

		free(p->name);
		free(p->exe);
		free(p->args);
		free(p->entity);
		free(p->parent);
	}
	for (uint32_t i = 0; i <= d->mask; i++)
		free(d->tab[i].key);
	free(d->procs);
	free(d->tab);
	enrich_free(d->en);
	free(d);
	return NULL;
}

const struct derive_stats *derive_stats(const struct derive *d)
{
	return &d->st;
}

/* ---- the process table ---- */

static uint32_t key_hash(const char *k)
{
	uint32_t h = 2166136261u;

	for (; *k; k++)
		h = (h ^ (uint8_t)*k) * 16777619u;
	return h;
}

static struct slot *tab_slot(struct slot *tab, uint32_t mask, const char *key)
{
	uint32_t h = key_hash(key) & mask;

	while (tab[h].key && strcmp(tab[h].key, key))
		h = (h + 1) & mask;
	return &tab[h];
}

static int tab_grow(struct derive *d)
{
	uint32_t mask = d->mask * 2 + 1;
	struct slot *tab = calloc(mask + 1, sizeof(*tab));

	if (!tab)
		return -ENOMEM;
	for (uint32_t i = 0; i <= d->mask; i++)
		if (d->tab[i].key)
			*tab_slot(tab, mask, d->tab[i].key) = d->tab[i];
	free(d->tab);
	d->tab = tab;
	d->mask = mask;
	return 0;
}

static struct dproc *proc_find(struct derive *d, const char *key)
{
	struct slot *s = key ? tab_slot(d->tab, d->mask, key) : NULL;

	return s && s->key ? &d->procs[s->idx] : NULL;
}

/* Point key at process idx (a later exec with the same pid takes the pid key over). */
static void tab_put(struct derive *d, const char *key, uint32_t idx)
{
	struct slot *s;

	if ((d->used + 1) * 4 > (d->mask + 1) * 3 && tab_grow(d) < 0)
		return;
	s = tab_slot(d->tab, d->mask, key);
	if (!s->key) {
		if (!(s->key = strdup(key)))
			return;
		d->used++;
	}
	s->idx = idx;
}

static struct dproc *proc_add(struct derive *d)
{
	struct dproc *p;

	if (d->nprocs >= PROCS_MAX) {
		d->st.procs_dropped++;
		return NULL;
	}
	if (d->nprocs == d->cap) {
		uint32_t cap = d->cap ? d->cap * 2 : 256;
		void *n = realloc(d->procs, cap * sizeof(*d->procs));

		if (!n)
			return NULL;
		d->procs = n;
		d->cap = cap;
	}
	p = &d->procs[d->nprocs++];
	memset(p, 0, sizeof(*p));
	return p;
}

/* ---- small helpers over the view ---- */

static bool str_is(const struct rval *r, const char *s)
{
	size_t n = strlen(s);

	return r && r->s.n == n && !memcmp(r->s.p, s, n);
}

static bool has_value(const struct rule_view *v, enum field_id f, const char *s)
{
	for (const struct rval *r = view_first(v, f); r; r = view_next(v, r))
		if (str_is(r, s))
			return true;
	return false;
}

static bool str_has(const struct rval *r, const char *needle)
{
	return r && memmem(r->s.p, r->s.n, needle, strlen(needle));
}

/* A NUL-terminated copy of field f's first string (truncated to len), or NULL. */
static char *cstr(const struct rule_view *v, enum field_id f, char *buf, size_t len)
{
	const struct rval *r = view_first(v, f);
	size_t n;

	if (!r)
		return NULL;
	n = r->s.n < len - 1 ? r->s.n : len - 1;
	memcpy(buf, r->s.p, n);
	buf[n] = 0;
	return buf;
}

static void derived(struct dctx *c, enum field_id f)
{
	field_set(c->out->derived, f);
	field_set(c->known, f);
}

static void add_derived_str(struct dctx *c, enum field_id f, const char *s, size_t n)
{
	view_add_str(c->v, f, s, n);
	derived(c, f);
}

/* ---- event.action ---- */

static enum action_bit action_from_words(const struct rule_view *v)
{
	const struct rval *a = view_first(v, F_EVENT_ACTION);
	bool file = has_value(v, F_EVENT_CATEGORY, "file");

	if (str_has(a, "renam") || str_has(a, "moved") ||
	    (file && has_value(v, F_EVENT_TYPE, "rename")))
		return AB_rename;
	if (str_has(a, "permission") || str_has(a, "chmod"))
		return AB_chmod;
	if (has_value(v, F_EVENT_CATEGORY, "process")) {
		if (has_value(v, F_EVENT_TYPE, "start"))
			return AB_exec;
		if (has_value(v, F_EVENT_TYPE, "end"))
			return AB_exit;
	}
	if (file) {
		if (has_value(v, F_EVENT_TYPE, "deletion"))
			return AB_unlink;
		if (has_value(v, F_EVENT_TYPE, "creation") ||
		    has_value(v, F_EVENT_TYPE, "change") || has_value(v, F_EVENT_TYPE, "access"))
			return AB_open;
	}
	if (has_value(v, F_EVENT_CATEGORY, "network") &&
	    !str_is(view_first(v, F_NET_DIRECTION), "ingress") &&
	    (has_value(v, F_EVENT_TYPE, "start") || has_value(v, F_EVENT_TYPE, "connection")))
		return AB_connect;
	return AB_OTHER;
}

static const char *const action_names[] = {
#define ACTION_NAME(a, name) name,
    VIGIL_ACTIONS(ACTION_NAME)
#undef ACTION_NAME
};

static void derive_action(struct dctx *c)
{
	struct rule_view *v = c->v;
	enum action_bit a;
	struct rval *r;

	if (v->action != AB_OTHER)
		return;
	a = action_from_words(v);
	if (a == AB_OTHER) {
		c->d->st.action_unknown++;
		field_set(c->out->unknown, F_EVENT_ACTION);
		return;
	}
	c->d->st.action_derived++;
	v->action = a;
	r = v->head[F_EVENT_ACTION] ? &v->vals[v->head[F_EVENT_ACTION]] : NULL;
	if (r) { /* rules and messages speak vigil's action names */
		r->s.p = action_names[a];
		r->s.n = strlen(action_names[a]);
		derived(c, F_EVENT_ACTION);
	} else {
		add_derived_str(c, F_EVENT_ACTION, action_names[a], strlen(action_names[a]));
	}
	if (a == AB_connect && !view_first(v, F_NET_DIRECTION))
		add_derived_str(c, F_NET_DIRECTION, "egress", 6);
}

/* ---- files ---- */

static bool glob_any(const struct strv *globs, const char *s)
{
	for (unsigned i = 0; i < globs->n; i++)
		if (!fnmatch(globs->v[i], s, 0))
			return true;
	return false;
}

/* Is path one of dirs, or below one? (globs, as watch.* are written) */
static bool under_any(const struct strv *dirs, const char *path)
{
	char pat[4096];

	for (unsigned i = 0; i < dirs->n; i++) {
		snprintf(pat, sizeof(pat), "%s/*", dirs->v[i]);
		if (!fnmatch(dirs->v[i], path, 0) || !fnmatch(pat, path, 0))
			return true;
	}
	return false;
}

/* vigil.file.kind as vigild's watches would have said it (probes.c, file.bpf.c), or NULL. */
static const char *file_kind(const struct vigil_config *cfg, const char *path, const char *ext)
{
	if (glob_any(&cfg->gpu_devices, path))
		return "gpu-device";
	if (glob_any(&cfg->credential_files, path))
		return "credential";
	if (ext && strv_contains(&cfg->model_extensions, ext)) {
		/* Python's .pth path files: not models (file.bpf.c in_site_packages) */
		if (!strcmp(ext, "pth") &&
		    (strstr(path, "/site-packages/") || strstr(path, "/dist-packages/")))
			return NULL;
		return "model";
	}
	if (ext && strv_contains(&cfg->ambiguous_extensions, ext) &&
	    under_any(&cfg->model_dirs, path))
		return "model";
	if (under_any(&cfg->watch_paths, path))
		return "watched";
	return NULL;
}

static void derive_path_parts(struct dctx *c, const struct rval *path)
{
	struct vstr p = {.p = path->s.p, .n = path->s.n}, name, dir, ext;

	ecs_path_parts(p, &name, &dir, &ext);
	if (!view_first(c->v, F_FILE_NAME))
		add_derived_str(c, F_FILE_NAME, name.p, name.n);
	if (dir.p && !view_first(c->v, F_FILE_DIR))
		add_derived_str(c, F_FILE_DIR, dir.p, dir.n);
	if (ext.p && !view_first(c->v, F_FILE_EXT))
		add_derived_str(c, F_FILE_EXT, ext.p, ext.n);
}

static void derive_access(struct dctx *c)
{
	struct rule_view *v = c->v;

	if (v->action != AB_open || view_first(v, F_V_FILE_ACCESS))
		return;
	if (has_value(v, F_EVENT_TYPE, "creation")) {
		add_derived_str(c, F_V_FILE_ACCESS, "write", 5);
		add_derived_str(c, F_V_FILE_ACCESS, "create", 6);
	} else if (has_value(v, F_EVENT_TYPE, "change")) {
		add_derived_str(c, F_V_FILE_ACCESS, "write", 5);
	} else if (has_value(v, F_EVENT_TYPE, "access")) {
		add_derived_str(c, F_V_FILE_ACCESS, "read", 4);
	}
}

static void derive_file(struct dctx *c)
{
	const struct rval *path = view_first(c->v, F_FILE_PATH);
	char pbuf[4096], ebuf[64];
	const char *kind;

	if (!path)
		return;
	derive_path_parts(c, path);
	derive_access(c);
	/* ECS file.path is the file as it is after the event: for a rename, where it went */
	if (c->v->action == AB_rename && !view_first(c->v, F_V_FILE_NEW_PATH))
		add_derived_str(c, F_V_FILE_NEW_PATH, path->s.p, path->s.n);
	if (view_first(c->v, F_V_FILE_KIND))
		return;
	kind = file_kind(c->d->cfg, cstr(c->v, F_FILE_PATH, pbuf, sizeof(pbuf)),
			 cstr(c->v, F_FILE_EXT, ebuf, sizeof(ebuf)));
	if (kind)
		add_derived_str(c, F_V_FILE_KIND, kind, strlen(kind));
	else
		field_set(c->known, F_V_FILE_KIND); /* nothing vigild watches */
}

/* ---- processes ---- */

/* The parent's key: its entity id, else "pid:N". */
static char *parent_key(const struct rule_view *v, char *buf, size_t len)
{
	const struct rval *pp = view_first(v, F_PARENT_PID);

	if (cstr(v, F_PARENT_ENTITY, buf, len))
		return buf;
	if (!pp)
		return NULL;
	snprintf(buf, len, "pid:%lld", (long long)pp->i);
	return buf;
}

static char *self_key(const struct rule_view *v, char *buf, size_t len)
{
	const struct rval *pid = view_first(v, F_PROC_PID);

	if (cstr(v, F_PROC_ENTITY, buf, len))
		return buf;
	if (!pid)
		return NULL;
	snprintf(buf, len, "pid:%lld", (long long)pid->i);
	return buf;
}

/* argv NUL-separated (or the command line as one argument) into buf; its length. */
static size_t join_args(const struct rule_view *v, enum field_id args, enum field_id cmdline,
			char *buf, size_t len)
{
	size_t o = 0;

	for (const struct rval *r = view_first(v, args); r; r = view_next(v, r)) {
		if (o + r->s.n + 1 > len)
			break;
		memcpy(buf + o, r->s.p, r->s.n);
		o += r->s.n;
		buf[o++] = 0;
	}
	if (!o && view_first(v, cmdline)) {
		const struct rval *r = view_first(v, cmdline);

		o = r->s.n < len - 1 ? r->s.n : len - 1;
		memcpy(buf, r->s.p, o);
		buf[o++] = 0;
	}
	return o;
}

/*
 * The inference selectors (enrich.c) over what a line says of a process.
 * Without argv a command-line selector, and with cgroup selectors (no
 * collector writes the v2 path vigil matches) any process, cannot be
 * ruled out: unknown.
 */
static enum tri selectors(struct derive *d, const char *name, const char *exe, const char *args,
			  size_t args_len)
{
	struct proc p = {0};

	if (!name && !exe && !args_len)
		return UNSURE;
	snprintf(p.name, sizeof(p.name), "%s", name ? name : "");
	p.exe = (char *)exe;
	p.args = (char *)args;
	p.args_len = args_len;
	if (enrich_workload_match(d->en, &p) != WL_NONE) /* any match: no file here to verify */
		return YES;
	if (d->cfg->inference_cgroups.n)
		return UNSURE;
	return args_len || !d->cfg->inference_command_lines.n ? NO : UNSURE;
}

static enum tri line_selectors(struct derive *d, const struct rule_view *v, bool parent)
{
	char name[17], exe[4096], args[PROC_ARGS_MAX];
	size_t n = join_args(v, parent ? F_PARENT_ARGS : F_PROC_ARGS,
			     parent ? F_PARENT_CMDLINE : F_PROC_CMDLINE, args, sizeof(args));

	return selectors(d, cstr(v, parent ? F_PARENT_NAME : F_PROC_NAME, name, sizeof(name)),
			 cstr(v, parent ? F_PARENT_EXE : F_PROC_EXE, exe, sizeof(exe)), args, n);
}

static enum tri tri_or(enum tri a, enum tri b)
{
	return a == YES || b == YES ? YES : a == NO && b == NO ? NO : UNSURE;
}

/*
 * The strings are copied into the view: they are the process table's, and
 * remember() frees them when the same process (a pid cycle in hostile
 * input: its own ancestor) execs on this very line, before the rules read them.
 */
static void add_ancestor_str(struct dctx *c, enum field_id f, const char *s)
{
	char *copy = s ? view_stash(c->v, s, strlen(s)) : NULL;

	if (copy)
		add_derived_str(c, f, copy, strlen(s));
}

static void add_ancestor(struct dctx *c, int64_t pid, const char *entity, const char *name,
			 const char *exe)
{
	view_add_num(c->v, F_ANC_PID, pid);
	derived(c, F_ANC_PID);
	add_ancestor_str(c, F_ANC_ENTITY, entity);
	add_ancestor_str(c, F_ANC_NAME, name);
	add_ancestor_str(c, F_ANC_EXE, exe);
}

/* process.parent.* as the one ancestor known (the strings stay in the line). */
static void add_parent_fields(struct dctx *c, const struct rval *ppid)
{
	static const enum field_id from[] = {F_PARENT_ENTITY, F_PARENT_NAME, F_PARENT_EXE},
				   to[] = {F_ANC_ENTITY, F_ANC_NAME, F_ANC_EXE};

	view_add_num(c->v, F_ANC_PID, ppid ? ppid->i : 0);
	derived(c, F_ANC_PID);
	for (unsigned i = 0; i < 3; i++) {
		const struct rval *r = view_first(c->v, from[i]);

		if (r)
			add_derived_str(c, to[i], r->s.p, r->s.n);
	}
}

/* The parent's tree state, and the ancestors, from the table or from process.parent.*. */
static enum tri parent_tree(struct dctx *c, struct dproc *pp)
{
	const struct rval *ppid = view_first(c->v, F_PARENT_PID);
	bool have_anc = view_first(c->v, F_ANC_PID) != NULL;
	enum tri t;

	if (pp) {
		struct dproc *x = pp;

		for (unsigned depth = 0; !have_anc && x && depth < ANCESTORS_MAX; depth++) {
			add_ancestor(c, x->pid, x->entity, x->name, x->exe);
			x = proc_find(c->d, x->parent);
		}
		/* the line's own process.parent.* can only add what the table missed */
		if ((view_first(c->v, F_PARENT_NAME) || view_first(c->v, F_PARENT_EXE)) &&
		    line_selectors(c->d, c->v, true) == YES)
			return YES;
		return pp->tree;
	}
	if (!ppid && !view_first(c->v, F_PARENT_NAME) && !view_first(c->v, F_PARENT_EXE))
		return UNSURE;
	if (!have_anc)
		add_parent_fields(c, ppid);
	t = line_selectors(c->d, c->v, true);
	if (t == YES)
		return YES;
	/* init (collectors report host pids) is no workload and has no ancestor;
	 * any other parent's own ancestors are unseen */
	return ppid && ppid->i <= 1 ? NO : UNSURE;
}

static char *dup_field(const struct rule_view *v, enum field_id f)
{
	const struct rval *r = view_first(v, f);

	return r ? strndup(r->s.p, r->s.n) : NULL;
}

/* Remember the process of this line (an exec replaces what was known of its image). */
static struct dproc *remember(struct dctx *c, const char *key, struct dproc *self,
			      enum tri inference, enum tri tree)
{
	struct derive *d = c->d;
	const struct rule_view *v = c->v;
	char pk[128], args[PROC_ARGS_MAX];
	const char *pkey = parent_key(v, pk, sizeof(pk));
	const struct rval *pid = view_first(v, F_PROC_PID);

	if (self && v->action != AB_exec) {
		if (self->inference == UNSURE)
			self->inference = inference;
		if (self->tree == UNSURE)
			self->tree = tree;
		return self;
	}
	if (self && self->tree == YES)
		tree = YES; /* exec'd from within the workload's tree: still in it (proc_cache.c) */
	if (!self && !(self = proc_add(d)))
		return NULL;
	free(self->name);
	free(self->exe);
	free(self->args);
	free(self->entity);
	free(self->parent);
	self->name = dup_field(v, F_PROC_NAME);
	self->exe = dup_field(v, F_PROC_EXE);
	self->args_len = join_args(v, F_PROC_ARGS, F_PROC_CMDLINE, args, sizeof(args));
	self->args = self->args_len ? malloc(self->args_len) : NULL;
	if (self->args)
		memcpy(self->args, args, self->args_len);
	else
		self->args_len = 0;
	self->entity = strdup(key); /* the entity id, or "pid:N" the line's entity was given */
	self->parent = pkey ? strdup(pkey) : NULL;
	self->pid = pid ? pid->i : 0;
	self->inference = inference;
	self->tree = tree;
	tab_put(d, key, self - d->procs);
	if (pid && self->entity) { /* children that only name the parent's pid find it too */
		snprintf(pk, sizeof(pk), "pid:%lld", (long long)pid->i);
		tab_put(d, pk, self - d->procs);
	}
	return self;
}

static void put_tri(struct dctx *c, enum field_id f, enum tri t)
{
	if (view_first(c->v, f))
		return;
	if (t == UNSURE)
		return;
	view_add_bool(c->v, f, t == YES);
	derived(c, f);
}

/* process.command_line as vigil writes it: argv joined by spaces. */
static void derive_cmdline(struct dctx *c)
{
	struct rule_view *v = c->v;
	char buf[PROC_ARGS_MAX], *s;
	size_t n;

	if (view_first(v, F_PROC_CMDLINE) || !view_first(v, F_PROC_ARGS))
		return;
	n = join_args(v, F_PROC_ARGS, F_PROC_CMDLINE, buf, sizeof(buf));
	for (size_t i = 0; i + 1 < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	if (n && (s = view_stash(v, buf, n - 1)))
		add_derived_str(c, F_PROC_CMDLINE, s, n - 1);
}

/*
 * The kernel names a memfd image "/memfd:NAME (deleted)" and an unlinked one
 * "PATH (deleted)", and collectors copy that name: the exec line says which.
 */
static void derive_exe_flags(struct dctx *c)
{
	const struct rval *exe = view_first(c->v, F_PROC_EXE);
	static const char deleted[] = " (deleted)";
	bool memfd, gone;

	if (c->v->action != AB_exec || !exe)
		return;
	memfd = exe->s.n >= 7 && !memcmp(exe->s.p, "/memfd:", 7);
	gone = memfd ||
	       (exe->s.n >= sizeof(deleted) - 1 &&
		!memcmp(exe->s.p + exe->s.n - (sizeof(deleted) - 1), deleted, sizeof(deleted) - 1));
	put_tri(c, F_V_EXE_MEMFD, memfd ? YES : NO);
	put_tri(c, F_V_EXE_DELETED, gone ? YES : NO);
}

/*
 * A multiprocessing helper of a trusted workload: not one when its argv is
 * not CPython's, or nothing above it is a workload; whether the workload is
 * trusted (a root-owned file, its unit) no line can say.
 */
static enum tri runtime_worker(const struct rule_view *v, enum tri tree)
{
	char args[PROC_ARGS_MAX];
	struct proc p = {0};

	p.args_len = join_args(v, F_PROC_ARGS, F_PROC_CMDLINE, args, sizeof(args));
	p.args = args;
	if (!p.args_len)
		return tree == NO ? NO : UNSURE;
	if (!enrich_is_runtime_worker_argv(&p) || tree == NO)
		return NO;
	return UNSURE;
}

static void derive_process(struct dctx *c)
{
	struct derive *d = c->d;
	struct rule_view *v = c->v;
	char sk[128], pk[128];
	const char *key = self_key(v, sk, sizeof(sk));
	struct dproc *self = proc_find(d, key), *pp;
	enum tri inf, tree;

	derive_cmdline(c);
	derive_exe_flags(c);
	if (!key)
		return;
	/* no entity id (auditd): "pid:N" stands in, so sequences by process and tree still key */
	if (!view_first(v, F_PROC_ENTITY)) {
		char *s = view_stash(v, key, strlen(key));

		if (s)
			add_derived_str(c, F_PROC_ENTITY, s, strlen(key));
	}
	pp = proc_find(d, parent_key(v, pk, sizeof(pk)));
	if (self && pp == self)
		pp = NULL;
	/* what the exec line said holds until the next exec; a line can only add argv it lacked */
	inf = self && v->action != AB_exec ? self->inference : UNSURE;
	if (inf == UNSURE)
		inf = line_selectors(d, v, false);
	tree = tri_or(inf, parent_tree(c, pp));
	self = remember(c, key, self, inf, tree);
	if (self && v->action == AB_open && str_is(view_first(v, F_V_FILE_KIND), "gpu-device"))
		self->gpu = true;
	put_tri(c, F_V_INFERENCE, inf);
	put_tri(c, F_V_INFERENCE_TREE, tree);
	put_tri(c, F_V_WL_WORKER, runtime_worker(v, tree));
	if (self && self->gpu)
		put_tri(c, F_V_GPU, YES);
}

/* ---- which vigil.* fields a line of this action could carry ---- */

static bool field_applies(enum field_id f, enum action_bit a)
{
	bool file = a == AB_open || a == AB_rename || a == AB_unlink || a == AB_truncate ||
		    a == AB_chmod || a == AB_model_format || a == AB_model_finding;

	switch (f) {
	case F_V_FILE_FORMAT:
	case F_V_FILE_EXPECTED:
	case F_V_FILE_MISMATCH:
	case F_V_FILE_PICKLE:
		return a == AB_model_format;
	case F_V_FILE_ACCESS: /* how it was opened: open events only (ecs.c) */
		return a == AB_open;
	case F_V_FILE_KIND:
	case F_V_FILE_OPENED:
		return file;
	case F_V_FILE_NEW_PATH:
		return a == AB_rename;
	case F_V_NET_ERRNO:
	case F_V_NET_VIA:
		return a == AB_connect || a == AB_listen;
	case F_V_EXIT_SIGNAL:
		return a == AB_exit;
	case F_V_TARGET_PID:
	case F_V_TARGET_ENTITY:
	case F_V_TARGET_NAME:
	case F_V_TARGET_EXE:
	case F_V_TARGET_INFERENCE:
	case F_V_PTRACE_REQUEST:
		return a == AB_ptrace;
	case F_V_SIGNAL:
	case F_V_SIGNAL_NAME:
		return a == AB_signal;
	case F_V_SECCOMP_SYSCALL:
	case F_V_SECCOMP_VERDICT:
		return a == AB_seccomp;
	case F_V_MODEL_FINDING:
	case F_V_MODEL_FORMAT:
	case F_V_MODEL_DIGEST_SOURCE:
	case F_V_MODEL_NAMED_SHA256:
	case F_V_MODEL_CALLABLES:
		return a == AB_model_finding;
	default:
		return true;
	}
}

static bool is_vigil_field(enum field_id f)
{
	return !strncmp(field_defs[f].name, "vigil.", 6);
}

void derive_never(uint64_t *ret)
{
	static const enum field_id derivable[] = {
	    F_ANC_PID, F_ANC_ENTITY, F_ANC_NAME, F_ANC_EXE, F_V_INFERENCE, F_V_INFERENCE_TREE,
	    F_V_GPU, F_V_FILE_KIND, F_V_FILE_ACCESS, F_V_FILE_NEW_PATH, F_V_FILE_OPENED, F_V_COUNT,
	    F_V_EXE_MEMFD, F_V_EXE_DELETED, F_V_WL_WORKER,
	    /* never written, but only asked under a workload: "trusted_workload"
	     * is decided (false) wherever the tree is known to hold none */
	    F_V_WL_MATCH};

	memset(ret, 0, FIELD_WORDS * sizeof(*ret));
	for (int f = 0; f < F__COUNT; f++)
		if (is_vigil_field(f))
			field_set(ret, f);
	for (size_t i = 0; i < sizeof(derivable) / sizeof(*derivable); i++)
		ret[derivable[i] / 64] &= ~(1ull << (derivable[i] % 64));
}

static bool is_vigils_line(const struct rule_view *v)
{
	return str_is(view_first(v, F_AGENT_TYPE), "vigil") ||
	       str_is(view_first(v, F_EVENT_MODULE), "vigil");
}

/* A field the rules name, absent, and not decided: unknown to them. */
static void mark_unknown(struct dctx *c)
{
	struct rule_view *v = c->v;

	for (int f = 0; f < F__COUNT; f++) {
		/* absent natively means "no": a count of 1, the path as opened */
		if (!is_vigil_field(f) || f == F_V_COUNT || f == F_V_FILE_OPENED)
			continue;
		if (!field_bit(c->d->wanted, f) || v->head[f] || field_bit(c->known, f) ||
		    !field_applies(f, v->action))
			continue;
		view_set_unknown(v, f);
		field_set(c->out->unknown, f);
	}
}

void derive_fill(struct derive *d, struct rule_view *v, struct derive_line *ret)
{
	struct dctx c = {.d = d, .v = v, .out = ret};

	memset(ret, 0, sizeof(*ret));
	if (is_vigils_line(v))
		return;
	ret->foreign = true;
	d->st.foreign++;
	derive_action(&c);
	derive_file(&c);
	derive_process(&c);
	mark_unknown(&c);
	for (int f = 0; f < F__COUNT; f++) {
		d->st.derived[f] += field_bit(ret->derived, f);
		d->st.unknown[f] += field_bit(ret->unknown, f);
	}
}
