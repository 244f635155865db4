// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/util.h"
#include "core/ytree.h"
#include "inventory/approvals.h"
#include "inventory/inventory.h"

#define FILE_MAX    (4u << 20)
#define ENTRIES_MAX 65536
#define WL_MAX	    64

struct approved {
	char sha256[65];
	char *name;
	char **workloads;
	unsigned n_workloads;
};

struct approvals {
	struct approved *v;
	unsigned n, cap;
};

int approvals_new(struct approvals **ret)
{
	*ret = calloc(1, sizeof(**ret));
	return *ret ? 0 : -ENOMEM;
}

struct approvals *approvals_free(struct approvals *a)
{
	if (!a)
		return NULL;
	for (unsigned i = 0; i < a->n; i++) {
		free(a->v[i].name);
		for (unsigned k = 0; k < a->v[i].n_workloads; k++)
			free(a->v[i].workloads[k]);
		free(a->v[i].workloads);
	}
	free(a->v);
	free(a);
	return NULL;
}

unsigned approvals_count(const struct approvals *a)
{
	return a ? a->n : 0;
}

static int bad(char *err, size_t errlen, const char *name, const struct ynode *n, const char *what)
{
	snprintf(err, errlen, "%s:%u:%u: %s", name, n ? n->line : 1, n ? n->col : 1, what);
	return -EINVAL;
}

static bool known_key(const char *k)
{
	return !strcmp(k, "sha256") || !strcmp(k, "name") || !strcmp(k, "workloads");
}

static int add_workloads(struct approved *e, const char *name, const struct ynode *seq, char *err,
			 size_t errlen)
{
	if (seq->kind != Y_SEQ || seq->nkids > WL_MAX)
		return bad(err, errlen, name, seq, "workloads: a list of at most 64 names");
	e->workloads = calloc(seq->nkids ? seq->nkids : 1, sizeof(char *));
	if (!e->workloads)
		return -ENOMEM;
	for (unsigned i = 0; i < seq->nkids; i++) {
		if (seq->kids[i]->kind != Y_SCALAR || !seq->kids[i]->value[0])
			return bad(err, errlen, name, seq->kids[i],
				   "workloads: an executable path, a unit or container:<id>");
		if (!(e->workloads[e->n_workloads] = strdup(seq->kids[i]->value)))
			return -ENOMEM;
		e->n_workloads++;
	}
	return 0;
}

static int add_entry(struct approvals *a, const char *name, const struct ynode *m, char *err,
		     size_t errlen)
{
	const struct ynode *sha = ymap_get(m, "sha256"), *nm = ymap_get(m, "name");
	const struct ynode *wl = ymap_get(m, "workloads");
	struct approved *e;

	if (m->kind != Y_MAP)
		return bad(err, errlen, name, m, "each model is a mapping with sha256");
	for (unsigned i = 0; i < m->nkids; i += 2)
		if (!known_key(m->kids[i]->value))
			return bad(err, errlen, name, m->kids[i],
				   "unknown key (sha256, name, workloads)");
	if (!sha || sha->kind != Y_SCALAR || !inv_is_sha256_hex(sha->value, strlen(sha->value)))
		return bad(err, errlen, name, sha ? sha : m, "sha256: 64 lower-case hex digits");
	if (a->n == ENTRIES_MAX)
		return bad(err, errlen, name, m, "more than 65536 approved models");
	if (a->n == a->cap) {
		unsigned cap = a->cap ? a->cap * 2 : 16;
		struct approved *v = realloc(a->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	e = &a->v[a->n++];
	*e = (struct approved){0};
	memcpy(e->sha256, sha->value, 65);
	if (nm && nm->kind == Y_SCALAR && !(e->name = strdup(nm->value)))
		return -ENOMEM;
	return wl ? add_workloads(e, name, wl, err, errlen) : 0;
}

int approvals_parse(struct approvals *a, const char *name, const char *text, size_t len, char *err,
		    size_t errlen)
{
	struct ydoc *d = NULL;
	const struct ynode *models;
	int r = ydoc_parse(name, text, len, &d, err, errlen);

	if (r < 0)
		return r;
	if (!d->root) {
		ydoc_free(d);
		return 0; /* an empty file approves nothing */
	}
	models = d->root->kind == Y_MAP ? ymap_get(d->root, "models") : NULL;
	if (!models || models->kind != Y_SEQ)
		r = bad(err, errlen, name, d->root, "expected a mapping with a models: list");
	for (unsigned i = 0; r == 0 && i < models->nkids; i++)
		r = add_entry(a, name, models->kids[i], err, errlen);
	ydoc_free(d);
	return r;
}

static int by_name(const struct dirent **x, const struct dirent **y)
{
	return strcmp((*x)->d_name, (*y)->d_name);
}

static int yaml_only(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return e->d_name[0] != '.' && ((n > 5 && !strcmp(e->d_name + n - 5, ".yaml")) ||
				       (n > 4 && !strcmp(e->d_name + n - 4, ".yml")));
}

static int load_file(struct approvals *a, const char *path, char *err, size_t errlen)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = read_trusted_file(path, FILE_MAX, &text, &len, err, errlen);

	return r < 0 ? r : approvals_parse(a, path, text, len, err, errlen);
}

int approvals_load(const char *dir, struct approvals **ret, char *err, size_t errlen)
{
	struct approvals *a;
	struct dirent **list = NULL;
	int n, r = approvals_new(&a);

	if (r < 0)
		return r;
	n = scandir(dir, &list, yaml_only, by_name);
	if (n < 0 && errno != ENOENT) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
	}
	for (int i = 0; i < n; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		if (r == 0)
			r = load_file(a, path, err, errlen);
		free(list[i]);
	}
	free(list);
	if (r < 0) {
		approvals_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

static const struct approved *find(const struct approvals *a, const char *sha256)
{
	for (unsigned i = 0; a && i < a->n; i++)
		if (!strcmp(a->v[i].sha256, sha256))
			return &a->v[i];
	return NULL;
}

enum approval approvals_check(const struct approvals *a, const char *sha256, const char *exe,
			      const char *unit)
{
	const struct approved *e;
	bool any_digest = false;

	if (!approvals_count(a))
		return APPROVAL_OFF;
	/* several entries may name one digest (files from several teams) */
	for (unsigned i = 0; i < a->n; i++) {
		e = &a->v[i];
		if (strcmp(e->sha256, sha256))
			continue;
		any_digest = true;
		if (!e->n_workloads)
			return APPROVAL_OK;
		for (unsigned k = 0; k < e->n_workloads; k++)
			if ((exe && !strcmp(e->workloads[k], exe)) ||
			    (unit && unit[0] && !strcmp(e->workloads[k], unit)))
				return APPROVAL_OK;
	}
	return any_digest ? APPROVAL_WRONG_WORKLOAD : APPROVAL_UNKNOWN_DIGEST;
}

const char *approvals_name(const struct approvals *a, const char *sha256)
{
	const struct approved *e = find(a, sha256);

	return e ? e->name : NULL;
}

const char *approval_name(enum approval v)
{
	switch (v) {
	case APPROVAL_OK:
		return "approved";
	case APPROVAL_UNKNOWN_DIGEST:
		return "unknown-digest";
	case APPROVAL_WRONG_WORKLOAD:
		return "workload-not-approved";
	default:
		return "off";
	}
}
