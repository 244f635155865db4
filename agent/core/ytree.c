// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "core/fileio.h"
#include "core/util.h"
#include "core/ytree.h"

#define MAX_FILE  (16u << 20)
#define MAX_NODES 200000 /* bounds alias expansion ("billion laughs") */

struct builder {
	yaml_document_t *doc;
	const char *name;
	unsigned nodes;
	char *err;
	size_t errlen;
};

static void ynode_free(struct ynode *n)
{
	if (!n)
		return;
	for (unsigned i = 0; i < n->nkids; i++)
		ynode_free(n->kids[i]);
	free(n->kids);
	free(n->value);
	free(n);
}

static struct ynode *build(struct builder *b, yaml_node_t *yn, unsigned depth);

static int build_kids(struct builder *b, struct ynode *n, yaml_node_t *yn, unsigned depth)
{
	unsigned cap = yn->type == YAML_SEQUENCE_NODE
			   ? yn->data.sequence.items.top - yn->data.sequence.items.start
			   : 2 * (yn->data.mapping.pairs.top - yn->data.mapping.pairs.start);

	n->kids = calloc(cap ? cap : 1, sizeof(*n->kids));
	if (!n->kids)
		return -ENOMEM;
	for (unsigned i = 0; i < cap; i++) {
		int id;
		yaml_node_t *kid;

		if (yn->type == YAML_SEQUENCE_NODE)
			id = yn->data.sequence.items.start[i];
		else if (i % 2 == 0)
			id = yn->data.mapping.pairs.start[i / 2].key;
		else
			id = yn->data.mapping.pairs.start[i / 2].value;
		kid = yaml_document_get_node(b->doc, id);
		n->kids[i] = kid ? build(b, kid, depth + 1) : NULL;
		if (!n->kids[i])
			return -EINVAL;
		n->nkids++;
	}
	return 0;
}

static bool dup_key(const struct ynode *map, const struct ynode *key, unsigned upto)
{
	for (unsigned i = 0; i < upto; i += 2)
		if (map->kids[i]->kind == Y_SCALAR && !strcmp(map->kids[i]->value, key->value))
			return true;
	return false;
}

static int check_keys(struct builder *b, const struct ynode *n)
{
	for (unsigned i = 0; i < n->nkids; i += 2) {
		const struct ynode *k = n->kids[i];

		if (k->kind != Y_SCALAR) {
			snprintf(b->err, b->errlen, "%s:%u:%u: mapping keys must be plain words",
				 b->name, k->line, k->col);
			return -EINVAL;
		}
		if (dup_key(n, k, i)) {
			snprintf(b->err, b->errlen, "%s:%u:%u: duplicate key '%s'", b->name,
				 k->line, k->col, k->value);
			return -EINVAL;
		}
	}
	return 0;
}

static struct ynode *build(struct builder *b, yaml_node_t *yn, unsigned depth)
{
	struct ynode *n;

	if (++b->nodes > MAX_NODES || depth > 64) {
		if (!b->err[0])
			snprintf(b->err, b->errlen, "%s:%zu:%zu: document too large or too deep",
				 b->name, yn->start_mark.line + 1, yn->start_mark.column + 1);
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->line = yn->start_mark.line + 1;
	n->col = yn->start_mark.column + 1;
	n->index = yn->start_mark.index;
	if (yn->type == YAML_SCALAR_NODE) {
		n->kind = Y_SCALAR;
		n->quoted = yn->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
		n->value = strndup((const char *)yn->data.scalar.value, yn->data.scalar.length);
		if (n->value && strlen(n->value) == yn->data.scalar.length)
			return n;
		snprintf(b->err, b->errlen, "%s:%u:%u: NUL byte in a value", b->name, n->line,
			 n->col);
	} else {
		n->kind = yn->type == YAML_SEQUENCE_NODE ? Y_SEQ : Y_MAP;
		if (build_kids(b, n, yn, depth) == 0 && (n->kind == Y_SEQ || check_keys(b, n) == 0))
			return n;
	}
	ynode_free(n);
	return NULL;
}

int ydoc_parse(const char *name, const char *text, size_t len, struct ydoc **ret, char *err,
	       size_t errlen)
{
	struct ydoc *d = calloc(1, sizeof(*d));
	struct builder b = {.name = name, .err = err, .errlen = errlen};
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	int r = 0;

	err[0] = 0;
	if (!d || !(d->path = strdup(name)) || !(d->text = malloc(len + 1)) ||
	    !yaml_parser_initialize(&parser)) {
		ydoc_free(d);
		return -ENOMEM;
	}
	memcpy(d->text, text, len);
	d->text[len] = 0;
	d->len = len;
	yaml_parser_set_input_string(&parser, (const unsigned char *)d->text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%zu:%zu: %s", name, parser.problem_mark.line + 1,
			 parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "YAML syntax error");
		yaml_parser_delete(&parser);
		ydoc_free(d);
		return -EINVAL;
	}
	b.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root && !(root->type == YAML_SCALAR_NODE && !root->data.scalar.length)) {
		d->root = build(&b, root, 0);
		if (!d->root)
			r = err[0] ? -EINVAL : -ENOMEM;
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (r < 0) {
		ydoc_free(d);
		return r;
	}
	*ret = d;
	return 0;
}

int ydoc_load(const char *path, struct ydoc **ret, char *err, size_t errlen)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r = read_trusted_file(path, MAX_FILE, &buf, &len, err, errlen); /* run as root */

	return r < 0 ? r : ydoc_parse(path, buf, len, ret, err, errlen);
}

struct ydoc *ydoc_free(struct ydoc *d)
{
	if (d) {
		ynode_free(d->root);
		free(d->text);
		free(d->path);
		free(d);
	}
	return NULL;
}

struct ynode *ymap_get(const struct ynode *map, const char *key)
{
	if (!map || map->kind != Y_MAP)
		return NULL;
	for (unsigned i = 0; i + 1 < map->nkids; i += 2)
		if (!strcmp(map->kids[i]->value, key))
			return map->kids[i + 1];
	return NULL;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Folding, block indentation and quoting only change whitespace (and
 * quotes/escapes) between a scalar's source and its value, so walk both in
 * step, treating any run of whitespace as one.
 */
void ynode_pos_at(const struct ydoc *d, const struct ynode *n, size_t off, unsigned *line,
		  unsigned *col)
{
	const char *v = n->value, *s = d->text + n->index, *end = d->text + d->len;
	size_t vi = 0;

	if (*s == '|' || *s == '>') /* block scalar: content starts on the next line */
		while (s < end && *s != '\n')
			s++;
	else if (*s == '"' || *s == '\'')
		s++;
	while (s < end && is_space(*s))
		s++;
	while (vi < off && v[vi] && s < end) {
		if (is_space(v[vi])) {
			while (v[vi] && is_space(v[vi]))
				vi++;
			while (s < end && is_space(*s))
				s++;
			continue;
		}
		if (is_space(*s)) { /* a line break the value folded away */
			while (s < end && is_space(*s))
				s++;
			continue;
		}
		if (*s == '\\' && n->quoted)
			s++;
		s++;
		vi++;
	}
	*line = 1;
	*col = 1;
	for (const char *p = d->text; p < s && p < end; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}
