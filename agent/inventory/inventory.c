// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/util.h"
#include "inventory/inventory.h"

struct inventory {
	struct inv_model **v;
	unsigned n, max;
	uint64_t evicted;
	bool dirty;
};

static const char *const digest_names[] = {
    [INV_DIGEST_NONE] = "pending",	[INV_DIGEST_NAME] = "name",
    [INV_DIGEST_VERIFIED] = "verified", [INV_DIGEST_HASHED] = "hashed",
    [INV_DIGEST_MISMATCH] = "mismatch",
};

const char *inventory_digest_name(enum inv_digest d)
{
	return (unsigned)d < ARRAY_SIZE(digest_names) ? digest_names[d] : "pending";
}

static enum inv_digest digest_of(const char *s)
{
	for (unsigned i = 0; s && i < ARRAY_SIZE(digest_names); i++)
		if (!strcmp(s, digest_names[i]))
			return i;
	return INV_DIGEST_NONE;
}

bool inv_is_sha256_hex(const char *s, size_t n)
{
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool inventory_name_digest(const char *path, char out[INV_SHA_HEX])
{
	const char *base = strrchr(path, '/');
	size_t dirlen;

	if (!base)
		return false;
	dirlen = base - path;
	base++;
	/* Ollama: models/blobs/sha256-<hex> */
	if (!strncmp(base, "sha256-", 7) && inv_is_sha256_hex(base + 7, strlen(base + 7))) {
		memcpy(out, base + 7, INV_SHA_HEX);
		return true;
	}
	/* Hugging Face: hub/models--ORG--NAME/blobs/<sha256> (LFS files only: the
	 * small ones are named by their 40-hex git blob SHA-1 and do not match) */
	if (dirlen >= 6 && !strncmp(base - 7, "/blobs/", 7) &&
	    inv_is_sha256_hex(base, strlen(base))) {
		memcpy(out, base, INV_SHA_HEX);
		return true;
	}
	return false;
}

int inventory_new(unsigned max_models, struct inventory **ret)
{
	struct inventory *inv = calloc(1, sizeof(*inv));

	if (!inv)
		return -ENOMEM;
	inv->max = max_models ? max_models : INV_MAX_DEFAULT;
	inv->v = calloc(inv->max, sizeof(*inv->v));
	if (!inv->v) {
		free(inv);
		return -ENOMEM;
	}
	*ret = inv;
	return 0;
}

static void model_free(struct inv_model *m)
{
	if (!m)
		return;
	for (unsigned i = 0; i < m->n_paths; i++)
		free(m->paths[i]);
	for (unsigned i = 0; i < m->n_workloads; i++) {
		free(m->workloads[i].exe);
		free(m->workloads[i].unit);
	}
	free(m);
}

struct inventory *inventory_free(struct inventory *inv)
{
	if (!inv)
		return NULL;
	for (unsigned i = 0; i < inv->n; i++)
		model_free(inv->v[i]);
	free(inv->v);
	free(inv);
	return NULL;
}

static bool key_eq(const struct inv_key *a, const struct inv_key *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns;
}

struct inv_model *inventory_find(struct inventory *inv, const struct inv_key *k)
{
	for (unsigned i = 0; i < inv->n; i++)
		if (key_eq(&inv->v[i]->key, k))
			return inv->v[i];
	return NULL;
}

/* Full: the least recently seen model makes room (counted). */
static void evict_one(struct inventory *inv)
{
	unsigned old = 0;

	for (unsigned i = 1; i < inv->n; i++)
		if (inv->v[i]->last_ns < inv->v[old]->last_ns)
			old = i;
	model_free(inv->v[old]);
	inv->v[old] = inv->v[--inv->n];
	inv->evicted++;
}

static struct inv_model *model_add(struct inventory *inv, const struct inv_key *k)
{
	struct inv_model *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	if (inv->n == inv->max)
		evict_one(inv);
	m->key = *k;
	inv->v[inv->n++] = m;
	return m;
}

static int add_path(struct inv_model *m, const char *path)
{
	for (unsigned i = 0; i < m->n_paths; i++)
		if (!strcmp(m->paths[i], path))
			return 0;
	if (m->n_paths == INV_PATHS_MAX)
		return 0; /* a file with more names: the first ones are enough to find it */
	if (!(m->paths[m->n_paths] = strdup(path)))
		return -ENOMEM;
	m->n_paths++;
	return 0;
}

/* The workload's slot (a new one if it is new; -1 when full and counted). */
static int workload_slot(struct inv_model *m, const char *exe, const char *unit, bool *is_new)
{
	struct inv_workload *w;

	*is_new = false;
	for (unsigned i = 0; i < m->n_workloads; i++)
		if (!strcmp(m->workloads[i].exe, exe) && !strcmp(m->workloads[i].unit, unit))
			return i;
	if (m->n_workloads == INV_WORKLOADS_MAX) {
		m->workloads_dropped++;
		return -1;
	}
	w = &m->workloads[m->n_workloads];
	w->exe = strdup(exe);
	w->unit = strdup(unit);
	if (!w->exe || !w->unit) {
		free(w->exe);
		free(w->unit);
		w->exe = w->unit = NULL;
		return -ENOMEM;
	}
	*is_new = true;
	return m->n_workloads++;
}

static void note_workload(struct inv_model *m, const struct inv_load *l, struct inv_change *chg)
{
	int i = workload_slot(m, l->exe ? l->exe : "", l->unit ? l->unit : "", &chg->new_workload);
	struct inv_workload *w;

	if (i < 0)
		return;
	w = &m->workloads[i];
	chg->workload = i;
	if (chg->new_workload)
		w->first_ns = l->now_ns;
	w->last_ns = l->now_ns;
	w->inference |= l->inference;
	w->loads++;
}

int inventory_record(struct inventory *inv, const struct inv_load *l, struct inv_model **ret,
		     struct inv_change *chg)
{
	struct inv_model *m = inventory_find(inv, &l->key);

	*chg = (struct inv_change){0};
	if (!m) {
		if (!(m = model_add(inv, &l->key)))
			return -ENOMEM;
		chg->new_model = true;
		m->first_ns = l->now_ns;
		snprintf(m->sum.format, sizeof(m->sum.format), "%s", l->format ? l->format : "");
		if (inventory_name_digest(l->path, m->named_sha256)) {
			memcpy(m->sha256, m->named_sha256, INV_SHA_HEX);
			m->digest = INV_DIGEST_NAME;
		}
	}
	if (l->sum)
		m->sum = *l->sum;
	m->last_ns = l->now_ns;
	m->loads++;
	if (add_path(m, l->path) < 0)
		return -ENOMEM;
	note_workload(m, l, chg);
	inv->dirty = true;
	*ret = m;
	return 0;
}

struct inv_model *inventory_hashed(struct inventory *inv, const struct inv_key *k,
				   const char *sha256)
{
	struct inv_model *m = inventory_find(inv, k);

	if (!m)
		return NULL;
	m->hash_queued = false;
	memcpy(m->sha256, sha256, INV_SHA_HEX);
	if (!m->named_sha256[0])
		m->digest = INV_DIGEST_HASHED;
	else
		m->digest =
		    strcmp(m->named_sha256, sha256) ? INV_DIGEST_MISMATCH : INV_DIGEST_VERIFIED;
	inv->dirty = true;
	return m;
}

unsigned inventory_count(const struct inventory *inv)
{
	return inv->n;
}

struct inv_model *inventory_at(struct inventory *inv, unsigned i)
{
	return i < inv->n ? inv->v[i] : NULL;
}

uint64_t inventory_evicted(const struct inventory *inv)
{
	return inv->evicted;
}

bool inventory_dirty(const struct inventory *inv)
{
	return inv->dirty;
}

/* ---- JSON ---- */

static json_t *summary_json(const struct inv_summary *s)
{
	json_t *o = json_pack("{s:s}", "format", s->format);
	json_t *h = json_object();

	if (s->arch[0])
		json_object_set_new(h, "architecture", json_string(s->arch));
	if (s->name[0])
		json_object_set_new(h, "name", json_string(s->name));
	if (s->quant[0])
		json_object_set_new(h, "quantization", json_string(s->quant));
	if (s->producer[0])
		json_object_set_new(h, "producer", json_string(s->producer));
	if (s->params)
		json_object_set_new(h, "parameters", json_integer(s->params));
	if (s->tensors)
		json_object_set_new(h, "tensors", json_integer(s->tensors));
	if (s->context_length)
		json_object_set_new(h, "context_length", json_integer(s->context_length));
	if (s->opset)
		json_object_set_new(h, "opset", json_integer(s->opset));
	json_object_set_new(o, "header", h);
	if (s->pickle) {
		json_t *c = json_array();

		for (unsigned i = 0; i < s->n_callables; i++)
			json_array_append_new(c, json_string(s->callables[i]));
		json_object_set_new(o, "pickle",
				    json_pack("{s:b, s:b, s:i, s:i, s:i, s:o}", "scanned",
					      s->scanned, "complete", s->scan_complete, "globals",
					      s->globals, "unknown", s->unknown, "dangerous",
					      s->dangerous, "callables", c));
	}
	return o;
}

static json_t *workload_json(const struct inv_workload *w)
{
	return json_pack("{s:s, s:s, s:b, s:I, s:I, s:I}", "executable", w->exe, "unit", w->unit,
			 "inference", w->inference, "loads", (json_int_t)w->loads, "first_seen_ns",
			 (json_int_t)w->first_ns, "last_seen_ns", (json_int_t)w->last_ns);
}

static json_t *model_json(const struct inv_model *m)
{
	json_t *o = summary_json(&m->sum);
	json_t *paths = json_array(), *wl = json_array();

	for (unsigned i = 0; i < m->n_paths; i++)
		json_array_append_new(paths, json_string(m->paths[i]));
	for (unsigned i = 0; i < m->n_workloads; i++)
		json_array_append_new(wl, workload_json(&m->workloads[i]));
	json_object_update_new(
	    o, json_pack("{s:I, s:I, s:I, s:I, s:o, s:s, s:s, s:s, s:o, s:I, s:I, s:I, s:I}", "dev",
			 (json_int_t)m->key.dev, "ino", (json_int_t)m->key.ino, "size",
			 (json_int_t)m->key.size, "mtime_ns", (json_int_t)m->key.mtime_ns, "paths",
			 paths, "sha256", m->sha256, "named_sha256", m->named_sha256, "digest",
			 inventory_digest_name(m->digest), "workloads", wl, "workloads_dropped",
			 (json_int_t)m->workloads_dropped, "loads", (json_int_t)m->loads,
			 "first_seen_ns", (json_int_t)m->first_ns, "last_seen_ns",
			 (json_int_t)m->last_ns));
	return o;
}

json_t *inventory_json(const struct inventory *inv)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < inv->n; i++)
		json_array_append_new(a, model_json(inv->v[i]));
	return json_pack("{s:i, s:o, s:I}", "version", 1, "models", a, "evicted",
			 (json_int_t)inv->evicted);
}

static void copy_str(char *dst, size_t cap, const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	snprintf(dst, cap, "%s", s ? s : "");
}

static uint64_t get_u64(const json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v > 0 ? (uint64_t)v : 0;
}

static void summary_from(struct inv_summary *s, const json_t *o)
{
	const json_t *h = json_object_get(o, "header"), *p = json_object_get(o, "pickle");
	const json_t *c = json_object_get(p, "callables"), *v;
	size_t i;

	copy_str(s->format, sizeof(s->format), o, "format");
	copy_str(s->arch, sizeof(s->arch), h, "architecture");
	copy_str(s->name, sizeof(s->name), h, "name");
	copy_str(s->quant, sizeof(s->quant), h, "quantization");
	copy_str(s->producer, sizeof(s->producer), h, "producer");
	s->params = get_u64(h, "parameters");
	s->tensors = get_u64(h, "tensors");
	s->context_length = get_u64(h, "context_length");
	s->opset = get_u64(h, "opset");
	if (!p)
		return;
	s->pickle = true;
	s->scanned = json_is_true(json_object_get(p, "scanned"));
	s->scan_complete = json_is_true(json_object_get(p, "complete"));
	s->globals = get_u64(p, "globals");
	s->unknown = get_u64(p, "unknown");
	s->dangerous = get_u64(p, "dangerous");
	json_array_foreach (c, i, v) {
		if (s->n_callables == INV_CALLABLES_MAX || !json_is_string(v))
			break;
		snprintf(s->callables[s->n_callables++], sizeof(s->callables[0]), "%s",
			 json_string_value(v));
	}
}

static int workloads_from(struct inv_model *m, const json_t *a)
{
	const json_t *w;
	size_t i;

	json_array_foreach (a, i, w) {
		const char *exe = json_string_value(json_object_get(w, "executable"));
		const char *unit = json_string_value(json_object_get(w, "unit"));
		struct inv_workload *slot;
		bool is_new;
		int k;

		if (!exe || !unit)
			continue;
		k = workload_slot(m, exe, unit, &is_new);
		if (k == -ENOMEM)
			return k;
		if (k < 0)
			continue;
		slot = &m->workloads[k];
		slot->inference = json_is_true(json_object_get(w, "inference"));
		slot->loads = get_u64(w, "loads");
		slot->first_ns = get_u64(w, "first_seen_ns");
		slot->last_ns = get_u64(w, "last_seen_ns");
	}
	return 0;
}

static int model_from(struct inventory *inv, const json_t *o)
{
	struct inv_key k = {get_u64(o, "dev"), get_u64(o, "ino"), get_u64(o, "size"),
			    (int64_t)get_u64(o, "mtime_ns")};
	const json_t *v;
	struct inv_model *m;
	size_t i;

	if (!k.ino || inventory_find(inv, &k))
		return 0; /* not an entry, or one already read */
	if (!(m = model_add(inv, &k)))
		return -ENOMEM;
	summary_from(&m->sum, o);
	copy_str(m->sha256, sizeof(m->sha256), o, "sha256");
	copy_str(m->named_sha256, sizeof(m->named_sha256), o, "named_sha256");
	if (m->sha256[0] && !inv_is_sha256_hex(m->sha256, strlen(m->sha256)))
		m->sha256[0] = 0;
	if (m->named_sha256[0] && !inv_is_sha256_hex(m->named_sha256, strlen(m->named_sha256)))
		m->named_sha256[0] = 0;
	m->digest = m->sha256[0] ? digest_of(json_string_value(json_object_get(o, "digest")))
				 : INV_DIGEST_NONE;
	m->workloads_dropped = get_u64(o, "workloads_dropped");
	m->loads = get_u64(o, "loads");
	m->first_ns = get_u64(o, "first_seen_ns");
	m->last_ns = get_u64(o, "last_seen_ns");
	json_array_foreach (json_object_get(o, "paths"), i, v) {
		if (json_is_string(v) && add_path(m, json_string_value(v)) < 0)
			return -ENOMEM;
	}
	return workloads_from(m, json_object_get(o, "workloads"));
}

int inventory_from_json(struct inventory *inv, const json_t *doc)
{
	const json_t *o;
	size_t i;
	int r;

	if (json_integer_value(json_object_get(doc, "version")) != 1)
		return -EINVAL;
	inv->evicted = get_u64(doc, "evicted");
	json_array_foreach (json_object_get(doc, "models"), i, o) {
		if (json_is_object(o) && (r = model_from(inv, o)) < 0)
			return r;
	}
	return 0;
}

int inventory_save(struct inventory *inv, const char *path)
{
	_cleanup_(json_decrefp) json_t *doc = inventory_json(inv);
	_cleanup_free_ char *text = json_dumps(doc, JSON_COMPACT);
	int r;

	if (!text)
		return -ENOMEM;
	r = write_file_atomic(path, text, strlen(text), 0600);
	if (r == 0)
		inv->dirty = false;
	return r;
}

int inventory_load(struct inventory *inv, const char *path)
{
	_cleanup_(json_decrefp) json_t *doc = NULL;
	json_error_t jerr;
	FILE *f = fopen(path, "re");

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	doc = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	fclose(f);
	if (!doc)
		return -EBADMSG;
	return inventory_from_json(inv, doc);
}
