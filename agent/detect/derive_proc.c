// SPDX-License-Identifier: GPL-2.0
/*
 * Re-deriving the process fields (derive.h): a table of the processes the
 * stream has shown, keyed by entity id (or "pid:N"), the ancestors from it,
 * and the inference selectors (enrich.c) over what each line says.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/derive_internal.h"
#include "sense/proc_cache.h"
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

/* ---- processes ---- */

/* A process's key: its entity id (field entity), else "pid:N" (field pid). */
static char *proc_key(const struct rule_view *v, enum field_id entity, enum field_id pid, char *buf,
		      size_t len)
{
	const struct rval *p = view_first(v, pid);

	if (dv_cstr(v, entity, buf, len))
		return buf;
	if (!p)
		return NULL;
	snprintf(buf, len, "pid:%lld", (long long)p->i);
	return buf;
}

static char *parent_key(const struct rule_view *v, char *buf, size_t len)
{
	return proc_key(v, F_PARENT_ENTITY, F_PARENT_PID, buf, len);
}

static char *self_key(const struct rule_view *v, char *buf, size_t len)
{
	return proc_key(v, F_PROC_ENTITY, F_PROC_PID, buf, len);
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

	return selectors(d, dv_cstr(v, parent ? F_PARENT_NAME : F_PROC_NAME, name, sizeof(name)),
			 dv_cstr(v, parent ? F_PARENT_EXE : F_PROC_EXE, exe, sizeof(exe)), args, n);
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
		dv_add_str(c, f, copy, strlen(s));
}

static void add_ancestor(struct dctx *c, int64_t pid, const char *entity, const char *name,
			 const char *exe)
{
	view_add_num(c->v, F_ANC_PID, pid);
	dv_derived(c, F_ANC_PID);
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
	dv_derived(c, F_ANC_PID);
	for (unsigned i = 0; i < 3; i++) {
		const struct rval *r = view_first(c->v, from[i]);

		if (r)
			dv_add_str(c, to[i], r->s.p, r->s.n);
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
	dv_derived(c, f);
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
		dv_add_str(c, F_PROC_CMDLINE, s, n - 1);
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

void dv_process(struct dctx *c)
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
			dv_add_str(c, F_PROC_ENTITY, s, strlen(key));
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
	if (self && v->action == AB_open && dv_str_is(view_first(v, F_V_FILE_KIND), "gpu-device"))
		self->gpu = true;
	put_tri(c, F_V_INFERENCE, inf);
	put_tri(c, F_V_INFERENCE_TREE, tree);
	put_tri(c, F_V_WL_WORKER, runtime_worker(v, tree));
	if (self && self->gpu)
		put_tri(c, F_V_GPU, YES);
}
