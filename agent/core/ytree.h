/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ytree.h — a YAML document (libyaml) as a small tree that remembers where
 * every node came from, for rule and playbook files.
 *
 * Owns: reading a file (refusing world-writable ones and anything over
 * 16 MiB), the node tree (scalars, sequences, mappings with positions),
 * duplicate-key and alias rejection, and mapping an offset inside a
 * scalar's value back to the file's line and column (folded and quoted
 * scalars included), so errors deep inside a condition say file:line:col.
 *
 * Stage core/: includes no other stage; does not know events, rules or the kernel side.
 */
#ifndef VIGIL_YTREE_H
#define VIGIL_YTREE_H

#include <stdbool.h>
#include <stddef.h>

enum ynode_kind { Y_SCALAR, Y_SEQ, Y_MAP };

struct ynode {
	enum ynode_kind kind;
	unsigned line, col;  /* 1-based */
	size_t index;	     /* byte offset of the node in the file */
	bool quoted;	     /* scalar written in quotes or as a block */
	char *value;	     /* Y_SCALAR */
	struct ynode **kids; /* Y_SEQ: items; Y_MAP: key, value, key, value… */
	unsigned nkids;
};

struct ydoc {
	char *path;
	char *text; /* the file's bytes, for offset → line:col */
	size_t len;
	struct ynode *root; /* NULL for an empty file */
};

/* Parse path; on error returns -errno and writes "path:line:col: message". */
int ydoc_load(const char *path, struct ydoc **ret, char *err, size_t errlen);
/* Same, from memory (fuzzing, tests); name is used in messages. */
int ydoc_parse(const char *name, const char *text, size_t len, struct ydoc **ret, char *err,
	       size_t errlen);
struct ydoc *ydoc_free(struct ydoc *d);
/* Value of key in a mapping, or NULL. */
struct ynode *ymap_get(const struct ynode *map, const char *key);
/* Line and column of byte `off` of scalar n's value. */
void ynode_pos_at(const struct ydoc *d, const struct ynode *n, size_t off, unsigned *line,
		  unsigned *col);

#endif
