/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cond.h — the condition language: lexer and parser to a syntax tree.
 *
 * Owns: tokens, precedence (not > and > or), operator names and the tree
 * with each node's byte offset in the condition text, so the caller can
 * turn an error into file:line:col. Knows nothing of fields, macros or
 * lists: resolving names and types is rules.c's compiler.
 *
 *   expr    := and ("or" and)*
 *   and     := unary ("and" unary)*
 *   unary   := "not" unary | "(" expr ")" | NAME [test]
 *   test    := CMP value | "in" (values | NAME) | STROP (value | values) | "exists"
 *   values  := "(" value ("," value)* ")"
 *   CMP     := = != < <= > >=
 *   STROP   := startswith endswith contains icontains glob
 * A bare NAME is a macro (or a boolean field, meaning "= true").
 *
 * Stage detect/: includes core/, sense/, stream/; does not act: no signals, cells, webhooks.
 */
#ifndef VIGIL_COND_H
#define VIGIL_COND_H

#include <stdbool.h>
#include <stdint.h>

enum cond_op {
	OP_EQ,
	OP_NE,
	OP_LT,
	OP_LE,
	OP_GT,
	OP_GE,
	OP_IN,
	OP_STARTSWITH,
	OP_ENDSWITH,
	OP_CONTAINS,
	OP_ICONTAINS,
	OP_GLOB,
	OP_EXISTS,
};

enum cnode_kind { CN_AND, CN_OR, CN_NOT, CN_TEST, CN_NAME };

struct cond_val {
	char *s;
	uint32_t off;
	bool quoted; /* a quoted value is never a list name */
};

struct cnode {
	enum cnode_kind kind;
	uint32_t off; /* byte offset of the node's first token */
	struct cnode *a, *b;
	char *name; /* CN_TEST: field; CN_NAME: macro or boolean field */
	enum cond_op op;
	struct cond_val *vals;
	unsigned nvals;
	bool paren; /* values were written as a ( … ) list */
};

struct cond_error {
	uint32_t off;
	char msg[160];
};

int cond_parse(const char *text, struct cnode **ret, struct cond_error *err);
struct cnode *cnode_free(struct cnode *n);
const char *cond_op_name(enum cond_op op);

#endif
