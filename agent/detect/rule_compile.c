// SPDX-License-Identifier: GPL-2.0
/*
 * The rule compiler: reader (files → lists, macros, rules, each with its
 * source node), compiler (condition text → struct pnode) and selection.
 * Errors name the file:line:col of the offending token, even inside a
 * macro or a folded multi-line condition.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/fileio.h"
#include "core/log.h"
#include "detect/rule_prog.h"
#include "core/util.h"
#include "core/ytree.h"

#define MAX_FILES      1024
#define MAX_LIST_ITEMS 100000
#define MAX_EXPAND     64 /* macro / list nesting */

struct named { /* a list or macro as read: its node and the file it is in */
	const char *name;
	const struct ydoc *doc;
	const struct ynode *item, *body; /* item: the mapping; body: items / condition */
	const struct ynode *more[16];	 /* lists: items appended by later files */
	const struct ydoc *more_doc[16];
	unsigned nmore;
	bool busy; /* being expanded: a second visit is a cycle */
	bool used;
};

struct compiler {
	struct ydoc **docs;
	unsigned ndocs;
	struct named *lists, *macros, *rules;
	unsigned nlists, nmacros, nrules;
	struct rules_diag *diag;
	const struct ydoc *doc; /* of the condition being compiled */
	const struct ynode *node;
	unsigned depth;
};

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

#define node_error(c, doc, n, ...) \
	diag_report((c)->diag, true, doc, (n)->line, (n)->col, __VA_ARGS__)
#define node_warn(c, doc, n, ...) \
	diag_report((c)->diag, false, doc, (n)->line, (n)->col, __VA_ARGS__)

/* An error at byte off of the condition being compiled. */
__attribute__((format(printf, 3, 4))) static void cond_error(struct compiler *c, uint32_t off,
							     const char *fmt, ...)
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

static struct named *find_named(struct named *tab, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(tab[i].name, name))
			return &tab[i];
	return NULL;
}

static int put_named(struct named **tab, unsigned *n, const struct named *it)
{
	struct named *old = find_named(*tab, *n, it->name), *nt;

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

static const struct ynode *scalar(struct compiler *c, const struct ydoc *d, const struct ynode *m,
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
static bool flag(struct compiler *c, const struct ydoc *d, const struct ynode *m, const char *key,
		 bool def)
{
	const struct ynode *n = scalar(c, d, m, key, false);
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
	struct named *old = find_named(c->lists, c->nlists, it.name);

	if (!check_keys(c, d, m, list_keys))
		return 0;
	if (!items || items->kind != Y_SEQ) {
		node_error(c, d, items ? items : m, "list '%s' needs 'items' as a sequence",
			   it.name);
		return 0;
	}
	if (flag(c, d, m, "append", false)) {
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
	if ((n = scalar(c, d, m, "list", false)))
		return read_list(c, d, m);
	if ((n = scalar(c, d, m, "macro", false))) {
		it.name = n->value;
		if (!check_keys(c, d, m, macro_keys))
			return 0;
		it.body = scalar(c, d, m, "condition", true);
		return it.body ? put_named(&c->macros, &c->nmacros, &it) : 0;
	}
	if ((n = scalar(c, d, m, "rule", false))) {
		const struct ynode *id = scalar(c, d, m, "id", true);

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

static int read_doc(struct compiler *c, const struct ydoc *d)
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

static void pnode_free(struct pnode *n)
{
	if (!n)
		return;
	pnode_free(n->a);
	pnode_free(n->b);
	for (unsigned i = 0; i < n->nkids; i++)
		pnode_free(n->kids[i]);
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

static int build_set(struct pnode *n)
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
static void reduce_prefixes(struct pnode *n)
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

static bool parse_num(const char *s, int64_t *ret)
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
		if (n->nums && parse_num(s, &n->nums[i]))
			break;
		cond_error(c, off, "'%s' is not a number (%s is a number field)", s, fd->name);
		return false;
	case FT_IP:
		n->cidrs = realloc(n->cidrs, (i + 1) * sizeof(*n->cidrs));
		if (n->cidrs && parse_cidr(s, &n->cidrs[i]))
			break;
		cond_error(c, off, "bad address or CIDR '%s' for %s", s, fd->name);
		return false;
	case FT_BOOL:
		if (parse_bool(s, &n->bval)) {
			cond_error(c, off, "%s is true or false, not '%s'", fd->name, s);
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

static bool add_value(struct compiler *c, struct pnode *n, const struct cond_val *v);

/* Items of a list: scalars, or names of other lists. */
static bool add_list(struct compiler *c, struct pnode *n, struct named *l, uint32_t off)
{
	const struct ydoc *saved_doc = c->doc;
	const struct ynode *saved_node = c->node;
	bool ok = true;

	if (l->busy || c->depth >= MAX_EXPAND) {
		cond_error(c, off, "list '%s' refers to itself", l->name);
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
			ok = add_value(c, n, &v);
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

static bool add_value(struct compiler *c, struct pnode *n, const struct cond_val *v)
{
	struct named *l = v->quoted ? NULL : find_named(c->lists, c->nlists, v->s);

	if (l)
		return add_list(c, n, l, v->off);
	return add_typed(c, n, v->s, v->off);
}

/* ---- conditions ---- */

static struct pnode *compile_node(struct compiler *c, const struct cnode *cn);

static bool op_fits(enum cond_op op, enum field_type t)
{
	switch (op) {
	case OP_LT:
	case OP_LE:
	case OP_GT:
	case OP_GE:
		return t == FT_NUM;
	case OP_STARTSWITH:
	case OP_ENDSWITH:
	case OP_CONTAINS:
	case OP_ICONTAINS:
	case OP_GLOB:
		return t == FT_STR;
	case OP_IN:
		return t != FT_BOOL;
	default:
		return true;
	}
}

static int resolve_field(struct compiler *c, const char *name, uint32_t off)
{
	int f = field_lookup(name, strlen(name));
	const char *hint;

	if (f >= 0)
		return f;
	hint = field_suggest(name, strlen(name));
	if (hint)
		cond_error(c, off, "unknown field '%s' (did you mean '%s'?)", name, hint);
	else
		cond_error(c, off, "unknown field or macro '%s'", name);
	return -1;
}

static bool check_test(struct compiler *c, const struct cnode *cn, struct pnode *n)
{
	const struct field_def *fd = &field_defs[n->field];

	if (!op_fits(cn->op, fd->type)) {
		cond_error(c, cn->off, "operator '%s' does not apply to %s field %s",
			   cond_op_name(cn->op), field_type_name(fd->type), fd->name);
		return false;
	}
	if (cn->op == OP_IN && !cn->paren &&
	    (cn->vals[0].quoted || !find_named(c->lists, c->nlists, cn->vals[0].s))) {
		cond_error(c, cn->vals[0].off,
			   "'in' takes ( values ) or a list name; '%s' is "
			   "not a list",
			   cn->vals[0].s);
		return false;
	}
	if (cn->paren && cn->op != OP_IN && cn->op != OP_STARTSWITH && cn->op != OP_ENDSWITH &&
	    cn->op != OP_CONTAINS && cn->op != OP_ICONTAINS && cn->op != OP_GLOB) {
		cond_error(c, cn->off, "operator '%s' takes a single value", cond_op_name(cn->op));
		return false;
	}
	return true;
}

static struct pnode *compile_test(struct compiler *c, const struct cnode *cn)
{
	struct pnode *n;
	int f = resolve_field(c, cn->name, cn->off);

	if (f < 0 || !(n = calloc(1, sizeof(*n))))
		return NULL;
	n->field = f;
	n->kind = cn->op == OP_EXISTS ? P_EXISTS : P_TEST;
	n->op = cn->op == OP_NE ? OP_EQ : cn->op == OP_IN ? OP_EQ : cn->op;
	n->negate = cn->op == OP_NE;
	if (n->kind == P_EXISTS)
		return n;
	if (!check_test(c, cn, n))
		goto fail;
	for (unsigned i = 0; i < cn->nvals; i++)
		if (!add_value(c, n, &cn->vals[i]))
			goto fail;
	if (field_defs[f].type == FT_STR && n->op == OP_STARTSWITH)
		reduce_prefixes(n);
	if (field_defs[f].type == FT_STR && n->op == OP_EQ && n->n >= SET_MIN_ITEMS &&
	    build_set(n) < 0)
		goto fail;
	if (field_defs[f].type == FT_BOOL && n->n != 1) {
		cond_error(c, cn->off, "a boolean field takes one value");
		goto fail;
	}
	return n;
fail:
	pnode_free(n);
	return NULL;
}

/* A bare name: a macro, or a boolean field meaning "= true". */
static struct pnode *compile_name(struct compiler *c, const struct cnode *cn)
{
	struct named *m = find_named(c->macros, c->nmacros, cn->name);
	const struct ydoc *saved_doc = c->doc;
	const struct ynode *saved_node = c->node;
	struct cnode *tree = NULL;
	struct cond_error perr;
	struct pnode *n = NULL;
	int f;

	if (!m) {
		f = field_lookup(cn->name, strlen(cn->name));
		if (f >= 0 && field_defs[f].type == FT_BOOL && (n = calloc(1, sizeof(*n)))) {
			n->kind = P_TEST;
			n->field = f;
			n->op = OP_EQ;
			n->bval = true;
			return n;
		}
		if (f >= 0)
			cond_error(c, cn->off, "field '%s' needs an operator", cn->name);
		else
			resolve_field(c, cn->name, cn->off);
		return NULL;
	}
	if (m->busy || c->depth >= MAX_EXPAND) {
		cond_error(c, cn->off, "macro '%s' refers to itself", cn->name);
		return NULL;
	}
	m->used = true;
	c->doc = m->doc;
	c->node = m->body;
	if (cond_parse(m->body->value, &tree, &perr) < 0) {
		cond_error(c, perr.off, "%s", perr.msg);
	} else {
		m->busy = true;
		c->depth++;
		n = compile_node(c, tree);
		c->depth--;
		m->busy = false;
	}
	cnode_free(tree);
	c->doc = saved_doc;
	c->node = saved_node;
	return n;
}

static struct pnode *compile_node(struct compiler *c, const struct cnode *cn)
{
	struct pnode *n;

	if (!cn)
		return NULL;
	if (cn->kind == CN_TEST)
		return compile_test(c, cn);
	if (cn->kind == CN_NAME)
		return compile_name(c, cn);
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->kind = cn->kind == CN_AND ? P_AND : cn->kind == CN_OR ? P_OR : P_NOT;
	n->a = compile_node(c, cn->a);
	n->b = cn->kind == CN_NOT ? NULL : compile_node(c, cn->b);
	if (!n->a || (cn->kind != CN_NOT && !n->b)) {
		pnode_free(n);
		return NULL;
	}
	return n;
}

static struct pnode *compile_cond(struct compiler *c, const struct ydoc *d,
				  const struct ynode *text)
{
	struct cnode *tree;
	struct cond_error perr;
	struct pnode *n;

	c->doc = d;
	c->node = text;
	c->depth = 0;
	if (cond_parse(text->value, &tree, &perr) < 0) {
		cond_error(c, perr.off, "%s", perr.msg);
		return NULL;
	}
	n = compile_node(c, tree);
	cnode_free(tree);
	return n;
}

/* ---- static analysis: which event.action values can a condition match? ---- */

static uint32_t actions_of(const struct pnode *n)
{
	uint32_t m = 0;

	switch (n->kind) {
	case P_AND:
		m = ACTIONS_ALL;
		for (unsigned i = 0; i < n->nkids; i++)
			m &= actions_of(n->kids[i]);
		return n->kids ? m : actions_of(n->a) & actions_of(n->b);
	case P_OR:
		for (unsigned i = 0; i < n->nkids; i++)
			m |= actions_of(n->kids[i]);
		return n->kids ? m : actions_of(n->a) | actions_of(n->b);
	case P_ACTION:
		return n->mask;
	case P_TEST:
		if (n->field != F_EVENT_ACTION || n->op != OP_EQ)
			return ACTIONS_ALL;
		for (unsigned i = 0; i < n->n; i++)
			m |= 1u << action_bit_of(n->strs[i].p, n->strs[i].n);
		return n->negate ? ACTIONS_ALL : m;
	case P_CONST:
		return n->bval ? ACTIONS_ALL : 0;
	default:
		return ACTIONS_ALL; /* not, exists: no narrowing */
	}
}

/* ---- optimizer: flat and/or chains, event.action as a bit mask ---- */

static int gather(struct pnode *n, enum pkind k, struct pnode ***kids, unsigned *nk)
{
	struct pnode **nv;

	if (n->kind == k && !n->kids) { /* a binary node of the chain: its children move up */
		struct pnode *a = n->a, *b = n->b;

		n->a = n->b = NULL;
		free(n);
		return gather(a, k, kids, nk) ?: gather(b, k, kids, nk);
	}
	nv = realloc(*kids, (*nk + 1) * sizeof(*nv));
	if (!nv) {
		pnode_free(n);
		return -ENOMEM;
	}
	*kids = nv;
	nv[(*nk)++] = n;
	return 0;
}

static bool action_mask(const struct pnode *n, uint32_t *ret)
{
	uint32_t m = 0;

	if (n->kind != P_TEST || n->field != F_EVENT_ACTION || n->op != OP_EQ || n->negate)
		return false;
	for (unsigned i = 0; i < n->n; i++) {
		enum action_bit b = action_bit_of(n->strs[i].p, n->strs[i].n);

		if (b == AB_OTHER) /* one bit for many names: keep comparing strings */
			return false;
		m |= 1u << b;
	}
	*ret = m;
	return true;
}

static struct pnode *optimize(struct pnode *n)
{
	struct pnode *chain, **kids = NULL;
	unsigned nk = 0, front = 0;
	uint32_t mask;

	if (!n)
		return NULL;
	if (n->kind == P_NOT) {
		n->a = optimize(n->a);
		return n->a ? n : (free(n), NULL);
	}
	if (action_mask(n, &mask)) {
		n->kind = P_ACTION;
		n->mask = mask;
		return n;
	}
	if (n->kind != P_AND && n->kind != P_OR)
		return n;
	chain = calloc(1, sizeof(*chain));
	if (!chain)
		return n;
	chain->kind = n->kind;
	if (gather(n, chain->kind, &kids, &nk) < 0) {
		free(chain);
		free(kids);
		return NULL;
	}
	for (unsigned i = 0; i < nk; i++) {
		kids[i] = optimize(kids[i]);
		if (kids[i] && kids[i]->kind == P_ACTION) { /* bit tests first */
			struct pnode *t = kids[front];

			kids[front++] = kids[i];
			kids[i] = t;
		}
	}
	chain->kids = kids;
	chain->nkids = nk;
	for (unsigned i = 0; i < nk; i++)
		if (!kids[i])
			return pnode_free(chain), NULL;
	return chain;
}

/* ---- rules ---- */

static struct rule *rule_free(struct rule *r)
{
	if (!r)
		return NULL;
	free(r->id);
	free(r->name);
	free(r->desc);
	free(r->ruleset);
	free(r->file);
	for (unsigned i = 0; r->tags && r->tags[i]; i++)
		free(r->tags[i]);
	free(r->tags);
	pnode_free(r->cond);
	if (r->seq)
		for (unsigned i = 0; i < r->seq->nsteps; i++)
			pnode_free(r->seq->steps[i]);
	free(r->seq);
	for (unsigned i = 0; i < r->nout; i++)
		free(r->out[i].lit.p);
	free(r->out);
	free(r);
	return NULL;
}

static bool out_field_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '.' || ch == '_' || ch == '@';
}

static bool add_part(struct rule *r, int field, const char *p, size_t n)
{
	struct tmpl_part *np = realloc(r->out, (r->nout + 1) * sizeof(*np));

	if (!np)
		return false;
	r->out = np;
	np[r->nout].field = field;
	np[r->nout].lit.p = field < 0 ? strndup(p, n) : NULL;
	np[r->nout].lit.n = n;
	r->nout++;
	return field >= 0 || np[r->nout - 1].lit.p;
}

/* "Shell %process.name under %process.parent.name" → literal and field parts. */
static bool compile_output(struct compiler *c, const struct ydoc *d, const struct ynode *out,
			   struct rule *r)
{
	const char *s = out->value, *lit = s;

	c->doc = d;
	c->node = out;
	while (*s) {
		size_t n = 0;
		int f;

		if (*s != '%' || !out_field_char(s[1])) {
			s++;
			continue;
		}
		while (out_field_char(s[1 + n]))
			n++;
		while (n && s[n] == '.') /* a full stop after the field */
			n--;
		f = field_lookup(s + 1, n);
		if (f < 0) {
			char name[128];

			snprintf(name, sizeof(name), "%.*s", (int)n, s + 1);
			resolve_field(c, name, s + 1 - out->value);
			return false;
		}
		if ((s > lit && !add_part(r, -1, lit, s - lit)) || !add_part(r, f, NULL, 0))
			return false;
		s += 1 + n;
		lit = s;
	}
	return s == lit || add_part(r, -1, lit, s - lit);
}

static bool read_tags(struct compiler *c, const struct ydoc *d, const struct ynode *m,
		      struct rule *r)
{
	const struct ynode *t = ymap_get(m, "tags");
	unsigned n = 0;

	if (!t) {
		r->tags = calloc(1, sizeof(char *));
		return r->tags;
	}
	if (t->kind != Y_SEQ) {
		node_error(c, d, t, "'tags' must be a list");
		return false;
	}
	r->tags = calloc(t->nkids + 1, sizeof(char *));
	if (!r->tags)
		return false;
	for (unsigned i = 0; i < t->nkids; i++) {
		if (t->kids[i]->kind != Y_SCALAR) {
			node_error(c, d, t->kids[i], "tags are single words");
			return false;
		}
		r->tags[n++] = strdup(t->kids[i]->value);
	}
	r->meta.ntags = n;
	return true;
}

static bool read_severity(struct compiler *c, const struct ydoc *d, const struct ynode *m,
			  struct rule *r)
{
	const struct ynode *s = scalar(c, d, m, "severity", false);

	if (!s)
		s = scalar(c, d, m, "priority", false);
	if (!s) {
		node_error(c, d, m, "missing 'severity' (info, low, medium, high or critical)");
		return false;
	}
	if (severity_parse(s->value, &r->meta.severity) < 0) {
		node_error(c, d, s, "unknown severity '%s' (info, low, medium, high or critical)",
			   s->value);
		return false;
	}
	return true;
}

static const char *const by_names[] = {"tree", "process"};

static bool read_by(struct compiler *c, const struct ydoc *d, const struct ynode *by,
		    struct seq_def *s)
{
	const char *v = by ? by->value : "tree";
	int f;

	snprintf(s->by_name, sizeof(s->by_name), "%s", v);
	for (unsigned i = 0; i < ARRAY_SIZE(by_names); i++)
		if (!strcmp(v, by_names[i])) {
			s->by = i;
			return true;
		}
	s->by = BY_FIELD;
	if (!strcmp(v, "session"))
		v = "process.session_leader.pid";
	else if (!strcmp(v, "container"))
		v = "container.id";
	else if (!strcmp(v, "user"))
		v = "user.id";
	f = field_lookup(v, strlen(v));
	if (f < 0 || field_defs[f].multi) {
		node_error(c, d, by,
			   "'by' is tree, process, session, container, user or a "
			   "single-valued field, not '%s'",
			   v);
		return false;
	}
	s->key_field = f;
	return true;
}

/* Keys of a sequence/threshold mapping, its 'by' and its 'within'. */
static bool read_window(struct compiler *c, const struct ydoc *d, const struct ynode *m,
			const char *what, const char *const *keys, struct rule *r)
{
	const struct ynode *within = ymap_get(m, "within");
	uint64_t ms;

	if (m->kind != Y_MAP) {
		node_error(c, d, m, "'%s' is a mapping (%s)", what, keys[0]);
		return false;
	}
	for (unsigned i = 0; i < m->nkids; i += 2) {
		const char *const *k;

		for (k = keys + 1; *k && strcmp(*k, m->kids[i]->value); k++)
			;
		if (!*k) {
			node_error(c, d, m->kids[i], "unknown key '%s' in %s (%s)",
				   m->kids[i]->value, what, keys[0]);
			return false;
		}
	}
	r->seq = calloc(1, sizeof(*r->seq));
	if (!r->seq || !read_by(c, d, ymap_get(m, "by"), r->seq))
		return false;
	r->seq->distinct = -1;
	if (!within || within->kind != Y_SCALAR || parse_duration_ms(within->value, &ms) < 0 ||
	    !ms) {
		node_error(c, d, within ? within : m,
			   "%s needs 'within' as a duration (e.g. 30s, 2m)", what);
		return false;
	}
	r->seq->within_ns = ms * 1000000ull;
	return true;
}

static bool compile_sequence(struct compiler *c, const struct ydoc *d, const struct ynode *sq,
			     struct rule *r)
{
	static const char *const keys[] = {"by, within, steps", "by", "within", "steps", NULL};
	const struct ynode *steps = ymap_get(sq, "steps");

	if (!read_window(c, d, sq, "sequence", keys, r))
		return false;
	if (!steps || steps->kind != Y_SEQ || steps->nkids < 2 || steps->nkids > SEQ_MAX_STEPS) {
		node_error(c, d, steps ? steps : sq, "sequence needs 'steps': 2 to %d conditions",
			   SEQ_MAX_STEPS);
		return false;
	}
	for (unsigned i = 0; i < steps->nkids; i++) {
		if (steps->kids[i]->kind != Y_SCALAR) {
			node_error(c, d, steps->kids[i], "a step is a condition");
			return false;
		}
		r->seq->steps[i] = compile_cond(c, d, steps->kids[i]);
		if (!r->seq->steps[i])
			return false;
		r->seq->nsteps++;
	}
	return true;
}

/* threshold: {by, within, count, distinct}: the rule's condition, count times in a window. */
static bool compile_threshold(struct compiler *c, const struct ydoc *d, const struct ynode *th,
			      struct rule *r)
{
	static const char *const keys[] = {
	    "by, within, count, distinct", "by", "within", "count", "distinct", NULL};
	const struct ynode *count = ymap_get(th, "count"), *distinct = ymap_get(th, "distinct");
	int64_t n;

	if (!read_window(c, d, th, "threshold", keys, r))
		return false;
	if (distinct) {
		r->seq->distinct = distinct->kind == Y_SCALAR
				       ? field_lookup(distinct->value, strlen(distinct->value))
				       : -1;
		if (r->seq->distinct < 0) {
			node_error(c, d, distinct, "'distinct' names a field");
			return false;
		}
	}
	if (!count || count->kind != Y_SCALAR || !parse_num(count->value, &n) || n < 2 ||
	    n > (distinct ? SEQ_DISTINCT_MAX : 1000000)) {
		node_error(c, d, count ? count : th, "threshold needs 'count': 2 to %d",
			   distinct ? SEQ_DISTINCT_MAX : 1000000);
		return false;
	}
	r->seq->count = n;
	r->seq->nsteps = 1;
	r->seq->steps[0] = r->cond; /* matched like a first step, counted per key */
	r->cond = NULL;
	return true;
}

/* exceptions: [{name, fields, comps, values}] → and not ((f1 c1 v1 and …) or …) */
static struct pnode *exception_tuple(struct compiler *c, const struct ynode *fields,
				     const struct ynode *comps, const struct ynode *tuple);

static bool compile_exceptions(struct compiler *c, const struct ydoc *d, const struct ynode *ex,
			       struct pnode **cond)
{
	if (ex->kind != Y_SEQ) {
		node_error(c, d, ex, "'exceptions' must be a list");
		return false;
	}
	c->doc = d;
	for (unsigned i = 0; i < ex->nkids; i++) {
		const struct ynode *e = ex->kids[i], *fields = ymap_get(e, "fields"),
				   *comps = ymap_get(e, "comps"), *values = ymap_get(e, "values");

		if (!fields || !values || values->kind != Y_SEQ) {
			node_error(c, d, e, "an exception needs 'fields' and 'values'");
			return false;
		}
		for (unsigned j = 0; j < values->nkids; j++) {
			struct pnode *t = exception_tuple(c, fields, comps, values->kids[j]), *nn,
				     *a;

			if (!t)
				return false;
			nn = calloc(1, sizeof(*nn));
			a = calloc(1, sizeof(*a));
			if (!nn || !a) {
				free(nn);
				free(a);
				pnode_free(t);
				return false;
			}
			nn->kind = P_NOT;
			nn->a = t;
			a->kind = P_AND;
			a->a = *cond;
			a->b = nn;
			*cond = a;
		}
	}
	return true;
}

static const struct ynode *nth_scalar(const struct ynode *n, unsigned i)
{
	if (n && n->kind == Y_SCALAR)
		return i == 0 ? n : NULL;
	return n && n->kind == Y_SEQ && i < n->nkids && n->kids[i]->kind == Y_SCALAR ? n->kids[i]
										     : NULL;
}

static struct pnode *exception_tuple(struct compiler *c, const struct ynode *fields,
				     const struct ynode *comps, const struct ynode *tuple)
{
	unsigned nf = fields->kind == Y_SEQ ? fields->nkids : 1;
	struct pnode *all = NULL;

	for (unsigned i = 0; i < nf; i++) {
		const struct ynode *f = nth_scalar(fields, i), *op = nth_scalar(comps, i),
				   *v = nth_scalar(tuple, i);
		char text[4096];
		struct cnode *cn;
		struct cond_error perr;
		struct pnode *t, *and;

		if (!f || !v) {
			node_error(c, c->doc, tuple,
				   "exception value must match 'fields' (%u "
				   "values)",
				   nf);
			return pnode_free(all), NULL;
		}
		/* reuse the condition compiler on "FIELD OP 'VALUE'" */
		snprintf(text, sizeof(text), "%s %s \"", f->value, op ? op->value : "=");
		for (const char *p = v->value; *p && strlen(text) < sizeof(text) - 4; p++) {
			size_t l = strlen(text);

			if (*p == '"' || *p == '\\')
				text[l++] = '\\';
			text[l++] = *p;
			text[l] = 0;
		}
		strcat(text, "\"");
		c->node = v;
		if (cond_parse(text, &cn, &perr) < 0) {
			node_error(c, c->doc, v, "exception: %s", perr.msg);
			return pnode_free(all), NULL;
		}
		t = compile_node(c, cn);
		cnode_free(cn);
		if (!t)
			return pnode_free(all), NULL;
		if (!all) {
			all = t;
			continue;
		}
		and = calloc(1, sizeof(*and));
		if (!and)
			return pnode_free(t), pnode_free(all), NULL;
		and->kind = P_AND;
		and->a = all;
		and->b = t;
		all = and;
	}
	return all;
}

static bool read_enabled(struct compiler *c, const struct ydoc *d, const struct ynode *m)
{
	return flag(c, d, m, "enabled", true);
}

static char *ruleset_name(const char *path)
{
	const char *b = strrchr(path, '/');
	char *s = strdup(b ? b + 1 : path), *dot;

	if (s && (dot = strrchr(s, '.')))
		*dot = 0;
	return s;
}

static struct rule *compile_rule(struct compiler *c, const struct named *it)
{
	const struct ydoc *d = it->doc;
	const struct ynode *m = it->item, *cond = ymap_get(m, "condition"),
			   *seq = ymap_get(m, "sequence"), *th = ymap_get(m, "threshold"),
			   *out = scalar(c, d, m, "output", false),
			   *desc = scalar(c, d, m, "desc", false), *ex = ymap_get(m, "exceptions");
	struct rule *r = calloc(1, sizeof(*r));
	unsigned errors = c->diag->errors;

	if (!r)
		return NULL;
	r->id = strdup(it->name);
	r->name = strdup(ymap_get(m, "rule")->value);
	r->desc = strdup(desc ? desc->value : "");
	r->ruleset = ruleset_name(d->path);
	r->file = strdup(d->path);
	if (!r->id || !r->name || !r->desc || !r->ruleset || !r->file || !read_tags(c, d, m, r) ||
	    !read_severity(c, d, m, r))
		return rule_free(r);
	if (!cond == !seq || (th && !cond)) {
		node_error(c, d, m,
			   "rule '%s' needs either 'condition' (optionally with 'threshold') "
			   "or 'sequence'",
			   r->name);
		return rule_free(r);
	}
	if (cond && cond->kind != Y_SCALAR) {
		node_error(c, d, cond, "'condition' must be text");
		return rule_free(r);
	}
	if (cond ? !(r->cond = compile_cond(c, d, cond)) : !compile_sequence(c, d, seq, r))
		return rule_free(r);
	if (th && !compile_threshold(c, d, th, r))
		return rule_free(r);
	if (ex &&
	    !compile_exceptions(c, d, ex, r->seq ? &r->seq->steps[r->seq->nsteps - 1] : &r->cond))
		return rule_free(r);
	if (out ? !compile_output(c, d, out, r) : !add_part(r, -1, r->name, strlen(r->name)))
		return rule_free(r);
	if (c->diag->errors != errors)
		return rule_free(r);
	if (r->cond && !(r->cond = optimize(r->cond)))
		return rule_free(r);
	for (unsigned i = 0; r->seq && i < r->seq->nsteps; i++)
		if (!(r->seq->steps[i] = optimize(r->seq->steps[i])))
			return rule_free(r);
	r->meta = (struct rule_meta){.id = r->id,
				     .name = r->name,
				     .desc = r->desc,
				     .ruleset = r->ruleset,
				     .file = r->file,
				     .line = m->line,
				     .severity = r->meta.severity,
				     .tags = (const char *const *)r->tags,
				     .ntags = r->meta.ntags};
	return r;
}

/* ---- selection and index ---- */

static bool selected_by(const struct rule *r, const struct strv *list)
{
	if (!list)
		return false;
	for (unsigned i = 0; i < list->n; i++) {
		const char *s = list->v[i];

		if (!strcmp(s, r->id) || !strcmp(s, r->name))
			return true;
		for (unsigned t = 0; t < r->meta.ntags; t++)
			if (!strcmp(s, r->tags[t]))
				return true;
	}
	return false;
}

static void apply_severity(struct compiler *c, struct rule *r, const struct strv *ov)
{
	for (unsigned i = 0; ov && i < ov->n; i++) {
		const char *eq = strchr(ov->v[i], '=');

		if (eq && (size_t)(eq - ov->v[i]) == strlen(r->id) &&
		    !strncmp(ov->v[i], r->id, eq - ov->v[i]) &&
		    severity_parse(eq + 1, &r->meta.severity) < 0)
			diag_report(c->diag, true, NULL, 0, 0,
				    "rules.severity: unknown severity in '%s'", ov->v[i]);
	}
}

static int index_entry(struct ruleset *rs, struct rule *r, const struct pnode *cond, int step,
		       struct compiler *c, const struct named *it)
{
	uint32_t acts = actions_of(cond);

	if (!acts)
		node_warn(c, it->doc, it->item,
			  "rule %s%s can never match (its event.action tests "
			  "exclude each other)",
			  r->id, step >= 0 ? " (a sequence step)" : "");
	for (int a = 0; a < AB__COUNT; a++) {
		struct rule_entry *e;

		if (!(acts & (1u << a)))
			continue;
		e = realloc(rs->by_action[a], (rs->nby[a] + 1) * sizeof(*e));
		if (!e)
			return -ENOMEM;
		rs->by_action[a] = e;
		e[rs->nby[a]++] = (struct rule_entry){.r = r, .cond = cond, .step = step};
	}
	return 0;
}

static int add_rule(struct ruleset *rs, struct rule *r, struct compiler *c, const struct named *it)
{
	struct rule **nr = realloc(rs->rules, (rs->n + 1) * sizeof(*nr));
	int err = 0;

	if (!nr)
		return -ENOMEM;
	rs->rules = nr;
	r->index = rs->n;
	nr[rs->n++] = r;
	if (!r->seq)
		return index_entry(rs, r, r->cond, -1, c, it);
	/* later steps first: an event that completes a step is not also a fresh start */
	for (int s = r->seq->nsteps - 1; s >= 0 && !err; s--)
		err = index_entry(rs, r, r->seq->steps[s], s, c, it);
	return err;
}

static void warn_unused(struct compiler *c)
{
	for (unsigned i = 0; i < c->nmacros; i++)
		if (!c->macros[i].used)
			node_warn(c, c->macros[i].doc, c->macros[i].item,
				  "macro '%s' is never used", c->macros[i].name);
}

static int compile_all(struct compiler *c, const struct rules_select *sel, struct ruleset *rs)
{
	for (unsigned i = 0; i < c->nrules; i++) {
		const struct named *it = &c->rules[i];
		struct rule *r;
		bool on = read_enabled(c, it->doc, it->item);

		r = compile_rule(c, it); /* disabled rules are checked too */
		if (!r)
			continue;
		on = (on && !selected_by(r, sel ? sel->disable : NULL)) ||
		     selected_by(r, sel ? sel->enable : NULL);
		apply_severity(c, r, sel ? sel->severity : NULL);
		if (!on) {
			rule_free(r);
			continue;
		}
		if (add_rule(rs, r, c, it) < 0)
			return -ENOMEM;
	}
	if (!c->diag->errors)
		warn_unused(c);
	return 0;
}

static void compiler_fini(struct compiler *c)
{
	for (unsigned i = 0; i < c->ndocs; i++)
		ydoc_free(c->docs[i]);
	free(c->docs);
	free(c->lists);
	free(c->macros);
	free(c->rules);
}

/* Each rule file's tree is kept until the compile ends: errors point into it. */
static int keep_doc(void *ctx, struct ydoc *doc)
{
	struct compiler *c = ctx;
	struct ydoc **nd = realloc(c->docs, (c->ndocs + 1) * sizeof(*nd));

	if (!nd) {
		ydoc_free(doc);
		return -ENOMEM;
	}
	c->docs = nd;
	c->docs[c->ndocs++] = doc;
	return read_doc(c, doc);
}

int ruleset_load(const char *const *paths, unsigned npaths, const struct rules_select *sel,
		 struct rules_diag *diag, struct ruleset **ret)
{
	struct compiler c = {.diag = diag};
	struct ruleset *rs = calloc(1, sizeof(*rs));
	unsigned nfiles = 0;
	int r = rs ? yaml_load_files(paths, npaths, diag, keep_doc, &c, &nfiles) : -ENOMEM;

	if (r == 0)
		r = compile_all(&c, sel, rs);
	if (rs)
		rs->nfiles = nfiles;
	compiler_fini(&c);
	if (r == 0 && diag->errors)
		r = -EINVAL;
	if (r < 0) {
		ruleset_free(rs);
		return r;
	}
	*ret = rs;
	return 0;
}

struct ruleset *ruleset_free(struct ruleset *rs)
{
	if (!rs)
		return NULL;
	for (unsigned i = 0; i < rs->n; i++)
		rule_free(rs->rules[i]);
	free(rs->rules);
	for (int a = 0; a < AB__COUNT; a++)
		free(rs->by_action[a]);
	free(rs);
	return NULL;
}

unsigned ruleset_count(const struct ruleset *rs)
{
	return rs->n;
}

const struct rule *ruleset_rule(const struct ruleset *rs, unsigned i)
{
	return i < rs->n ? rs->rules[i] : NULL;
}

unsigned ruleset_files(const struct ruleset *rs)
{
	return rs->nfiles;
}

const struct rule_meta *rule_meta(const struct rule *r)
{
	return &r->meta;
}
