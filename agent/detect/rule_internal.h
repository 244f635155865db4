/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rule_internal.h — detect: what the rule loader's phases share, as Falco
 * splits its loader: rule_read.c (files → lists, macros and rules, each
 * with its source node; values), rule_compile.c (condition text → struct
 * pnode, exceptions, analysis, the optimizer), rule_build.c (one rule from
 * its item: output, tags, severity, sequence, threshold) and rule_select.c
 * (enable/disable/severity, the index by event.action, ruleset_load). Not
 * for other modules: they use rules.h.
 *
 * Stage detect/: includes core/, sense/, stream/; does not act: no signals, cells, webhooks.
 */
#ifndef VIGIL_RULE_INTERNAL_H
#define VIGIL_RULE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ytree.h"
#include "detect/rule_prog.h"

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

#define node_error(c, doc, n, ...) \
	diag_report((c)->diag, true, doc, (n)->line, (n)->col, __VA_ARGS__)
#define node_warn(c, doc, n, ...) \
	diag_report((c)->diag, false, doc, (n)->line, (n)->col, __VA_ARGS__)

/* The event.action values a condition can match (a bit mask of enum action_bit). */
uint32_t rc_actions_of(const struct pnode *n);
bool rc_add_value(struct compiler *c, struct pnode *n, const struct cond_val *v);
/* Condition text (a YAML scalar of d) → a tree; NULL after reporting the error. */
struct pnode *rc_compile_cond(struct compiler *c, const struct ydoc *d, const struct ynode *text);
/* And-not each of the exceptions ex onto *cond. */
bool rc_compile_exceptions(struct compiler *c, const struct ydoc *d, const struct ynode *ex,
			   struct pnode **cond);
/* Flat and/or chains, event.action tests as one bit mask; NULL on no memory (n is freed). */
struct pnode *rc_optimize(struct pnode *n);
/* A field's id, or -1 after reporting it unknown (with a "did you mean") at off. */
int rc_resolve_field(struct compiler *c, const char *name, uint32_t off);
int rc_build_set(struct pnode *n);
struct rule *rc_compile_rule(struct compiler *c, const struct named *it);
struct named *rc_find_named(struct named *tab, unsigned n, const char *name);
bool rc_flag(struct compiler *c, const struct ydoc *d, const struct ynode *m, const char *key,
	     bool def);
bool rc_parse_num(const char *s, int64_t *ret);
void rc_pnode_free(struct pnode *n);
int rc_read_doc(struct compiler *c, const struct ydoc *d);
bool rc_read_enabled(struct compiler *c, const struct ydoc *d, const struct ynode *m);
void rc_reduce_prefixes(struct pnode *n);
struct rule *rc_rule_free(struct rule *r);
const struct ynode *rc_scalar(struct compiler *c, const struct ydoc *d, const struct ynode *m,
			      const char *key, bool required);
/* An error at byte off of the condition being compiled. */
__attribute__((format(printf, 3, 4))) void rc_cond_error(struct compiler *c, uint32_t off,
							 const char *fmt, ...);

#endif
