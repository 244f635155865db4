/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rule_prog.h — the compiled form of rules, shared by the compiler
 * (rule_compile.c, which builds it) and the evaluator (rule_eval.c, which
 * only reads it). Nothing here is parsed again at run time: fields are ids,
 * values are typed, string lists are hash sets or sorted prefix tables.
 *
 * Stage detect/: includes core/, sense/, stream/; does not act: no signals, cells, webhooks.
 */
#ifndef VIGIL_RULE_PROG_H
#define VIGIL_RULE_PROG_H

#include "detect/cond.h"
#include "detect/rules.h"

#define SEQ_MAX_STEPS	 8
#define SET_MIN_ITEMS	 8 /* from this many values, = / in use a hash set */
#define SEQ_KEY_MAX	 80
#define SEQ_DISTINCT_MAX 8 /* threshold with distinct: count at most this */

struct pstr {
	char *p; /* owned, NUL-terminated */
	uint32_t n;
};

struct cidr {
	struct ipaddr ip;
	uint8_t bits;
};

struct strset {
	struct pstr *slots; /* open addressing; p == NULL: empty */
	uint32_t mask;
};

/* P_ACTION: an event.action test turned into a bit mask (cheapest test first). */
enum pkind { P_AND, P_OR, P_NOT, P_TEST, P_EXISTS, P_CONST, P_ACTION };

struct pnode {
	enum pkind kind;
	enum cond_op op;
	enum field_id field;
	bool negate;	     /* "!=": true when no value equals */
	bool bval;	     /* P_CONST, or the value of a boolean test */
	struct pnode *a, *b; /* as compiled: binary and/or, not */
	struct pnode **kids; /* after optimize: and/or chains flattened */
	unsigned nkids;
	uint32_t mask; /* P_ACTION: 1 << enum action_bit */
	unsigned n;
	struct pstr *strs;  /* string values (lower-cased for icontains) */
	struct strset set;  /* = / in with many strings */
	int64_t *nums;	    /* number values */
	struct cidr *cidrs; /* address values */
};

struct tmpl_part {
	int field; /* -1: literal */
	struct pstr lit;
};

enum seq_by { BY_TREE, BY_PROCESS, BY_FIELD };

struct seq_def {
	enum seq_by by;
	enum field_id key_field; /* BY_FIELD */
	char by_name[48];
	uint64_t within_ns;
	unsigned nsteps;
	struct pnode *steps[SEQ_MAX_STEPS];
	/* threshold rules: one step, fires on the count-th match (of distinct values) */
	unsigned count;
	int distinct; /* enum field_id, -1: every match counts */
};

struct rule {
	struct rule_meta meta; /* points into the owned strings below */
	char *id, *name, *desc, *ruleset, *file;
	char **tags;
	struct pnode *cond; /* NULL for sequences */
	struct seq_def *seq;
	struct tmpl_part *out;
	unsigned nout;
	unsigned index;
};

/* One condition to try for an event.action: a rule, or one sequence step. */
struct rule_entry {
	struct rule *r;
	const struct pnode *cond;
	int step; /* -1: not a sequence */
};

struct ruleset {
	struct rule **rules;
	unsigned n, nfiles;
	struct rule_entry *by_action[AB__COUNT];
	unsigned nby[AB__COUNT];
};

bool pnode_eval(const struct pnode *n, const struct rule_view *v);
uint64_t str_hash(const char *p, size_t n);

#endif
