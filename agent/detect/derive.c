// SPDX-License-Identifier: GPL-2.0
/*
 * Re-deriving vigil's fields on another collector's ECS lines (derive.h):
 * the line's own facts (event.action, files) and which vigil.* fields stay
 * unknown; the processes are derive_proc.c's.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/derive_internal.h"
#include "stream/ecs.h"

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

/* ---- small helpers over the view ---- */

bool dv_str_is(const struct rval *r, const char *s)
{
	size_t n = strlen(s);

	return r && r->s.n == n && !memcmp(r->s.p, s, n);
}

static bool has_value(const struct rule_view *v, enum field_id f, const char *s)
{
	for (const struct rval *r = view_first(v, f); r; r = view_next(v, r))
		if (dv_str_is(r, s))
			return true;
	return false;
}

static bool str_has(const struct rval *r, const char *needle)
{
	return r && memmem(r->s.p, r->s.n, needle, strlen(needle));
}

/* A NUL-terminated copy of field f's first string (truncated to len), or NULL. */
char *dv_cstr(const struct rule_view *v, enum field_id f, char *buf, size_t len)
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

void dv_derived(struct dctx *c, enum field_id f)
{
	field_set(c->out->derived, f);
	field_set(c->known, f);
}

void dv_add_str(struct dctx *c, enum field_id f, const char *s, size_t n)
{
	view_add_str(c->v, f, s, n);
	dv_derived(c, f);
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
	    !dv_str_is(view_first(v, F_NET_DIRECTION), "ingress") &&
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
		dv_derived(c, F_EVENT_ACTION);
	} else {
		dv_add_str(c, F_EVENT_ACTION, action_names[a], strlen(action_names[a]));
	}
	if (a == AB_connect && !view_first(v, F_NET_DIRECTION))
		dv_add_str(c, F_NET_DIRECTION, "egress", 6);
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
		dv_add_str(c, F_FILE_NAME, name.p, name.n);
	if (dir.p && !view_first(c->v, F_FILE_DIR))
		dv_add_str(c, F_FILE_DIR, dir.p, dir.n);
	if (ext.p && !view_first(c->v, F_FILE_EXT))
		dv_add_str(c, F_FILE_EXT, ext.p, ext.n);
}

static void derive_access(struct dctx *c)
{
	struct rule_view *v = c->v;

	if (v->action != AB_open || view_first(v, F_V_FILE_ACCESS))
		return;
	if (has_value(v, F_EVENT_TYPE, "creation")) {
		dv_add_str(c, F_V_FILE_ACCESS, "write", 5);
		dv_add_str(c, F_V_FILE_ACCESS, "create", 6);
	} else if (has_value(v, F_EVENT_TYPE, "change")) {
		dv_add_str(c, F_V_FILE_ACCESS, "write", 5);
	} else if (has_value(v, F_EVENT_TYPE, "access")) {
		dv_add_str(c, F_V_FILE_ACCESS, "read", 4);
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
		dv_add_str(c, F_V_FILE_NEW_PATH, path->s.p, path->s.n);
	if (view_first(c->v, F_V_FILE_KIND))
		return;
	kind = file_kind(c->d->cfg, dv_cstr(c->v, F_FILE_PATH, pbuf, sizeof(pbuf)),
			 dv_cstr(c->v, F_FILE_EXT, ebuf, sizeof(ebuf)));
	if (kind)
		dv_add_str(c, F_V_FILE_KIND, kind, strlen(kind));
	else
		field_set(c->known, F_V_FILE_KIND); /* nothing vigild watches */
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
	return dv_str_is(view_first(v, F_AGENT_TYPE), "vigil") ||
	       dv_str_is(view_first(v, F_EVENT_MODULE), "vigil");
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
	dv_process(&c);
	mark_unknown(&c);
	for (int f = 0; f < F__COUNT; f++) {
		d->st.derived[f] += field_bit(ret->derived, f);
		d->st.unknown[f] += field_bit(ret->unknown, f);
	}
}
