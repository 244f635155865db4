// SPDX-License-Identifier: GPL-2.0
/*
 * rule_read.c — the rule loader's first phase: files and directories into
 * YAML documents, their items into the name tables (a later one overrides),
 * values (lists, numbers, CIDRs); severities and the diagnostics all phases
 * report through, with file:line:col.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fileio.h"
#include "core/log.h"
#include "core/util.h"

#include "detect/rule_internal.h"

static const char *const severity_names[] = {"info", "low", "medium", "high", "critical"};

const char *severity_name(enum severity s)
{
	return severity_names[s];
}

int severity_score(enum severity s)
{
	static const int score[] = {1, 21, 47, 73, 99};

	return score[s];
}

int severity_parse(const char *s, enum severity *ret)
{
	static const struct {
		const char *name;
		enum severity sev;
	} falco[] = {{"emergency", SEV_CRITICAL}, {"alert", SEV_CRITICAL},
		     {"error", SEV_HIGH},	  {"warning", SEV_MEDIUM},
		     {"notice", SEV_LOW},	  {"informational", SEV_INFO},
		     {"debug", SEV_INFO}};

	for (unsigned i = 0; i < ARRAY_SIZE(severity_names); i++)
		if (!strcasecmp(s, severity_names[i])) {
			*ret = i;
			return 0;
		}
	for (unsigned i = 0; i < ARRAY_SIZE(falco); i++)
		if (!strcasecmp(s, falco[i].name)) {
			*ret = falco[i].sev;
			return 0;
		}
	return -EINVAL;
}

void diag_report(struct rules_diag *d, bool error, const struct ydoc *doc, unsigned line,
		 unsigned col, const char *fmt, ...)
{
	char msg[512], out[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (doc)
		snprintf(out, sizeof(out), "%s:%u:%u: %s%s", doc->path, line, col,
			 error ? "" : "warning: ", msg);
	else /* whole-file problems: msg starts with the path */
		snprintf(out, sizeof(out), "%s%s", error ? "" : "warning: ", msg);
	if (error)
		d->errors++;
	else
		d->warnings++;
	if (d->fn)
		d->fn(d->ctx, error, out);
}

void diag_log(void *ctx, bool error, const char *line)
{
	struct diag_first *f = ctx;

	if (error && f && f->buf && !f->buf[0])
		snprintf(f->buf, f->len, "%s", line);
	log_msg(error ? LOG_LVL_ERROR : LOG_LVL_WARN, 0, "%s", line);
}

/* An error at byte off of the condition being compiled. */
void rc_cond_error(struct compiler *c, uint32_t off, const char *fmt, ...)
{
	char msg[512];
	unsigned line, col;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ynode_pos_at(c->doc, c->node, off, &line, &col);
	diag_report(c->diag, true, c->doc, line, col, "%s", msg);
}

/* ---- files ---- */

static bool is_rule_file(const char *name)
{
	return name[0] != '.' && (str_has_suffix(name, ".yaml") || str_has_suffix(name, ".yml"));
}

static int cmp_base(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	const char *bx = strrchr(x, '/'), *by = strrchr(y, '/');

	return strcmp(bx ? bx + 1 : x, by ? by + 1 : y);
}

/* Add path to files, replacing an earlier file of the same name. */
static int add_file(struct strv *files, const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	for (unsigned i = 0; i < files->n; i++) {
		const char *b = strrchr(files->v[i], '/');

		if (!strcmp(b ? b + 1 : files->v[i], base)) {
			char *dup = strdup(path);

			if (!dup)
				return -ENOMEM;
			free(files->v[i]);
			files->v[i] = dup;
			return 0;
		}
	}
	if (files->n >= MAX_FILES)
		return -E2BIG;
	return strv_push(files, path);
}

static int add_dir(struct strv *files, const char *dir)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort), r = 0;

	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		char path[4096];

		if (r == 0 && is_rule_file(ents[i]->d_name)) {
			size_t dl = strlen(dir);

			while (dl > 1 && dir[dl - 1] == '/')
				dl--;
			snprintf(path, sizeof(path), "%.*s/%s", (int)dl, dir, ents[i]->d_name);
			r = add_file(files, path);
		}
		free(ents[i]);
	}
	free(ents);
	return r;
}

int yaml_collect_files(const char *const *paths, unsigned npaths, struct strv *files,
		       struct rules_diag *diag)
{
	for (unsigned i = 0; i < npaths; i++) {
		char err[1024];
		struct stat st;
		int r;

		if (stat(paths[i], &st) < 0) {
			diag_report(diag, true, NULL, 0, 0, "%s: %s", paths[i], strerror(errno));
			continue;
		}
		/* a directory others can write: anyone could drop a file in (or replace one) */
		if (S_ISDIR(st.st_mode) && path_check_trusted(paths[i], err, sizeof(err)) < 0) {
			diag_report(diag, true, NULL, 0, 0, "%s", err);
			continue;
		}
		r = S_ISDIR(st.st_mode) ? add_dir(files, paths[i]) : add_file(files, paths[i]);
		if (r < 0)
			diag_report(diag, true, NULL, 0, 0, "%s: %s", paths[i], strerror(-r));
	}
	if (files->n) /* qsort wants a valid pointer even for nothing */
		qsort(files->v, files->n, sizeof(char *), cmp_base);
	return diag->errors ? -EINVAL : 0;
}

int yaml_load_files(const char *const *paths, unsigned npaths, struct rules_diag *diag,
		    int (*each)(void *ctx, struct ydoc *doc), void *ctx, unsigned *nfiles)
{
	struct strv files = {0};
	int r = yaml_collect_files(paths, npaths, &files, diag);

	for (unsigned i = 0; r == 0 && i < files.n; i++) {
		char err[1024];
		struct ydoc *doc = NULL;

		if (ydoc_load(files.v[i], &doc, err, sizeof(err)) < 0) {
			diag->errors++;
			if (diag->fn)
				diag->fn(diag->ctx, true, err);
			continue;
		}
		r = each(ctx, doc);
	}
	*nfiles = files.n;
	strv_clear(&files);
	return r;
}

static const char *closest_key(const char *key, const char *const *keys)
{
	for (; *keys; keys++)
		if (str_edit_distance(key, strlen(key), *keys) <= 2)
			return *keys;
	return NULL;
}

bool yaml_check_keys(struct rules_diag *diag, const struct ydoc *d, const struct ynode *m,
		     const char *const *keys)
{
	bool ok = true;

	for (unsigned i = 0; i + 1 < m->nkids; i += 2) {
		const struct ynode *kn = m->kids[i];
		const char *k = kn->value ? kn->value : "?", *const * p, *hint;

		for (p = keys; *p && strcmp(*p, k); p++)
			;
		if (*p)
			continue;
		hint = closest_key(k, keys);
		if (hint)
			diag_report(diag, true, d, kn->line, kn->col,
				    "unknown key '%s' (did you mean '%s'?)", k, hint);
		else
			diag_report(diag, true, d, kn->line, kn->col, "unknown key '%s'", k);
		ok = false;
	}
	return ok;
}

/* ---- reader: items into the name tables (a later one overrides) ---- */

struct named *rc_find_named(struct named *tab, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(tab[i].name, name))
			return &tab[i];
	return NULL;
}

static int put_named(struct named **tab, unsigned *n, const struct named *it)
{
	struct named *old = rc_find_named(*tab, *n, it->name), *nt;

	if (old) {
		*old = *it;
		return 0;
	}
	nt = realloc(*tab, (*n + 1) * sizeof(*nt));
	if (!nt)
		return -ENOMEM;
	*tab = nt;
	nt[(*n)++] = *it;
	return 0;
}

static const char *const rule_keys[] = {
    "rule",	"id",	    "desc", "condition",  "sequence", "threshold", "output",
    "severity", "priority", "tags", "exceptions", "enabled",  "source",	   NULL};
static const char *const list_keys[] = {"list", "items", "append", NULL};
static const char *const macro_keys[] = {"macro", "condition", NULL};

static bool check_keys(struct compiler *c, const struct ydoc *d, const struct ynode *m,
		       const char *const *keys)
{
	return yaml_check_keys(c->diag, d, m, keys);
}

const struct ynode *rc_scalar(struct compiler *c, const struct ydoc *d, const struct ynode *m,
			      const char *key, bool required)
{
	const struct ynode *n = ymap_get(m, key);

	if (!n) {
		if (required)
			node_error(c, d, m, "missing '%s'", key);
		return NULL;
	}
	if (n->kind != Y_SCALAR) {
		node_error(c, d, n, "'%s' must be a single value", key);
		return NULL;
	}
	return n;
}

/* An optional true/false key; def when absent, false (with an error) when malformed. */
bool rc_flag(struct compiler *c, const struct ydoc *d, const struct ynode *m, const char *key,
	     bool def)
{
	const struct ynode *n = rc_scalar(c, d, m, key, false);
	bool v = def;

	if (n && parse_bool(n->value, &v)) {
		node_error(c, d, n, "'%s' is true or false, not '%s'", key, n->value);
		return false;
	}
	return v;
}

static int read_list(struct compiler *c, const struct ydoc *d, const struct ynode *m)
{
	const struct ynode *items = ymap_get(m, "items");
	struct named it = {.name = ymap_get(m, "list")->value, .doc = d, .item = m, .body = items};
	struct named *old = rc_find_named(c->lists, c->nlists, it.name);

	if (!check_keys(c, d, m, list_keys))
		return 0;
	if (!items || items->kind != Y_SEQ) {
		node_error(c, d, items ? items : m, "list '%s' needs 'items' as a sequence",
			   it.name);
		return 0;
	}
	if (rc_flag(c, d, m, "append", false)) {
		if (!old || old->nmore >= ARRAY_SIZE(old->more)) {
			node_error(c, d, m,
				   old ? "too many appends to list '%s'"
				       : "append to undefined list '%s'",
				   it.name);
			return 0;
		}
		old->more_doc[old->nmore] = d;
		old->more[old->nmore++] = items;
		return 0;
	}
	return put_named(&c->lists, &c->nlists, &it);
}

static int read_item(struct compiler *c, const struct ydoc *d, const struct ynode *m)
{
	const struct ynode *n;
	struct named it = {.doc = d, .item = m};

	if (m->kind != Y_MAP) {
		node_error(c, d, m, "expected a mapping with 'rule', 'macro' or 'list'");
		return 0;
	}
	if ((n = rc_scalar(c, d, m, "list", false)))
		return read_list(c, d, m);
	if ((n = rc_scalar(c, d, m, "macro", false))) {
		it.name = n->value;
		if (!check_keys(c, d, m, macro_keys))
			return 0;
		it.body = rc_scalar(c, d, m, "condition", true);
		return it.body ? put_named(&c->macros, &c->nmacros, &it) : 0;
	}
	if ((n = rc_scalar(c, d, m, "rule", false))) {
		const struct ynode *id = rc_scalar(c, d, m, "id", true);

		if (!check_keys(c, d, m, rule_keys) || !id)
			return 0;
		it.name = id->value; /* a later rule with the same id overrides */
		return put_named(&c->rules, &c->nrules, &it);
	}
	if (ymap_get(m, "required_engine_version") || ymap_get(m, "required_plugin_versions")) {
		node_warn(c, d, m, "Falco engine/plugin requirements are ignored");
		return 0;
	}
	node_error(c, d, m, "expected a mapping with 'rule', 'macro' or 'list'");
	return 0;
}

int rc_read_doc(struct compiler *c, const struct ydoc *d)
{
	const struct ynode *root = d->root;

	if (!root)
		return 0;
	if (root->kind != Y_SEQ) {
		node_error(c, d, root,
			   "a rules file is a sequence of '- rule:', '- macro:' and "
			   "'- list:' items");
		return 0;
	}
	for (unsigned i = 0; i < root->nkids; i++)
		if (read_item(c, d, root->kids[i]) < 0)
			return -ENOMEM;
	return 0;
}

/* ---- values ---- */

void rc_pnode_free(struct pnode *n)
{
	if (!n)
		return;
	rc_pnode_free(n->a);
	rc_pnode_free(n->b);
	for (unsigned i = 0; i < n->nkids; i++)
		rc_pnode_free(n->kids[i]);
	free(n->kids);
	for (unsigned i = 0; i < n->n; i++)
		free(n->strs ? n->strs[i].p : NULL);
	free(n->strs);
	free(n->set.slots);
	free(n->nums);
	free(n->cidrs);
	free(n);
}

/* Word at a time (multiply-mix): it hashes every set lookup and alert message. */
uint64_t str_hash(const char *p, size_t n)
{
	uint64_t h = 0x243f6a8885a308d3ull ^ (n * 0x9e3779b97f4a7c15ull), w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	if (n) { /* byte by byte: a short memcpy into w stalls on store forwarding */
		w = 0;
		for (size_t i = 0; i < n; i++)
			w |= (uint64_t)(uint8_t)p[i] << (8 * i);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	return h;
}

int rc_build_set(struct pnode *n)
{
	uint32_t cap = 16;

	while (cap < 2 * n->n)
		cap <<= 1;
	n->set.slots = calloc(cap, sizeof(*n->set.slots));
	if (!n->set.slots)
		return -ENOMEM;
	n->set.mask = cap - 1;
	for (unsigned i = 0; i < n->n; i++) {
		uint32_t h = str_hash(n->strs[i].p, n->strs[i].n) & n->set.mask;

		while (n->set.slots[h].p)
			h = (h + 1) & n->set.mask;
		n->set.slots[h] = n->strs[i]; /* shares the strings */
	}
	return 0;
}

static int cmp_pstr(const void *a, const void *b)
{
	const struct pstr *x = a, *y = b;
	int r = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);

	return r ? r : (int)x->n - (int)y->n;
}

/* Sort prefixes and drop those a shorter one already covers, for bsearch. */
void rc_reduce_prefixes(struct pnode *n)
{
	unsigned out = 0;

	if (!n->n)
		return;
	qsort(n->strs, n->n, sizeof(*n->strs), cmp_pstr);
	for (unsigned i = 0; i < n->n; i++) {
		if (out && n->strs[i].n >= n->strs[out - 1].n &&
		    !memcmp(n->strs[i].p, n->strs[out - 1].p, n->strs[out - 1].n)) {
			free(n->strs[i].p);
			continue;
		}
		n->strs[out++] = n->strs[i];
	}
	n->n = out;
}

static bool parse_cidr(const char *s, struct cidr *ret)
{
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	char *end;
	long bits;

	if (!ip_parse(s, alen, &ret->ip))
		return false;
	if (!slash) {
		ret->bits = ret->ip.v6 ? 128 : 32;
		return true;
	}
	bits = strtol(slash + 1, &end, 10);
	if (!slash[1] || *end || bits < 0 || bits > (ret->ip.v6 ? 128 : 32))
		return false;
	ret->bits = bits;
	return true;
}

bool rc_parse_num(const char *s, int64_t *ret)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (!*s || *end || errno)
		return false;
	*ret = v;
	return true;
}

/* One value, typed for field f; error at off. */
static bool add_typed(struct compiler *c, struct pnode *n, const char *s, uint32_t off)
{
	const struct field_def *fd = &field_defs[n->field];
	unsigned i = n->n;

	switch (fd->type) {
	case FT_NUM:
		n->nums = realloc(n->nums, (i + 1) * sizeof(*n->nums));
		if (n->nums && rc_parse_num(s, &n->nums[i]))
			break;
		rc_cond_error(c, off, "'%s' is not a number (%s is a number field)", s, fd->name);
		return false;
	case FT_IP:
		n->cidrs = realloc(n->cidrs, (i + 1) * sizeof(*n->cidrs));
		if (n->cidrs && parse_cidr(s, &n->cidrs[i]))
			break;
		rc_cond_error(c, off, "bad address or CIDR '%s' for %s", s, fd->name);
		return false;
	case FT_BOOL:
		if (parse_bool(s, &n->bval)) {
			rc_cond_error(c, off, "%s is true or false, not '%s'", fd->name, s);
			return false;
		}
		break;
	default:
		n->strs = realloc(n->strs, (i + 1) * sizeof(*n->strs));
		if (!n->strs || !(n->strs[i].p = strdup(s)))
			return false;
		n->strs[i].n = strlen(s);
		if (n->op == OP_ICONTAINS)
			for (char *p = n->strs[i].p; *p; p++)
				*p = tolower((unsigned char)*p);
	}
	n->n++;
	return true;
}

bool rc_add_value(struct compiler *c, struct pnode *n, const struct cond_val *v);

/* Items of a list: scalars, or names of other lists. */
static bool add_list(struct compiler *c, struct pnode *n, struct named *l, uint32_t off)
{
	const struct ydoc *saved_doc = c->doc;
	const struct ynode *saved_node = c->node;
	bool ok = true;

	if (l->busy || c->depth >= MAX_EXPAND) {
		rc_cond_error(c, off, "list '%s' refers to itself", l->name);
		return false;
	}
	l->busy = l->used = true;
	c->depth++;
	for (unsigned k = 0; ok && k <= l->nmore; k++) {
		const struct ynode *items = k ? l->more[k - 1] : l->body;
		const struct ydoc *doc = k ? l->more_doc[k - 1] : l->doc;

		for (unsigned i = 0; ok && i < items->nkids; i++) {
			const struct ynode *it = items->kids[i];
			struct cond_val v = {.s = it->value, .quoted = it->quoted};

			if (it->kind != Y_SCALAR) {
				node_error(c, doc, it, "list items must be single values");
				ok = false;
				break;
			}
			c->doc = doc;
			c->node = it;
			ok = rc_add_value(c, n, &v);
			if (n->n > MAX_LIST_ITEMS) {
				node_error(c, doc, it, "list '%s' too long", l->name);
				ok = false;
			}
		}
	}
	c->depth--;
	l->busy = false;
	c->doc = saved_doc;
	c->node = saved_node;
	return ok;
}

bool rc_add_value(struct compiler *c, struct pnode *n, const struct cond_val *v)
{
	struct named *l = v->quoted ? NULL : rc_find_named(c->lists, c->nlists, v->s);

	if (l)
		return add_list(c, n, l, v->off);
	return add_typed(c, n, v->s, v->off);
}
