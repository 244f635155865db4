/* SPDX-License-Identifier: GPL-2.0 */
/*
 * derive_internal.h — detect: what derive.c (the line: vigil's own or
 * foreign, event.action, files, which fields stay unknown) and
 * derive_proc.c (the process table over the lines seen, ancestors, the
 * workload selectors) share. Not for other modules: they use derive.h.
 * Three values throughout: a fact is known true, known false, or unknown;
 * only the first two become field values, the third an unknown field.
 *
 * Stage detect/: includes core/, sense/, stream/; does not act: no signals, cells, webhooks.
 */
#ifndef VIGIL_DERIVE_INTERNAL_H
#define VIGIL_DERIVE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect/derive.h"
#include "sense/enrich.h"

#define PROCS_MAX     (1u << 20) /* processes remembered; past it new ones are dropped (counted) */
#define ANCESTORS_MAX 32

enum tri { NO, YES, UNSURE };

/* A process seen in the stream: what its exec line (or first line) said. */
struct dproc {
	char *name, *exe, *args, *entity, *parent; /* parent: key of the parent, or NULL */
	size_t args_len;
	int64_t pid;
	enum tri inference, tree;
	bool gpu;
};

struct slot {
	char *key; /* entity id, or "pid:N" */
	uint32_t idx;
};

struct derive {
	const struct vigil_config *cfg;
	struct enricher *en;
	uint64_t wanted[FIELD_WORDS];
	struct dproc *procs;
	uint32_t nprocs, cap;
	struct slot *tab;
	uint32_t mask, used;
	struct derive_stats st;
};

/* The line being completed. */
struct dctx {
	struct derive *d;
	struct rule_view *v;
	struct derive_line *out;
	uint64_t known[FIELD_WORDS]; /* decided, with or without a value */
};

/* Is r the string s? */
bool dv_str_is(const struct rval *r, const char *s);
/* A NUL-terminated copy of field f's first string (truncated to len), or NULL. */
char *dv_cstr(const struct rule_view *v, enum field_id f, char *buf, size_t len);
/* f was given a value (or decided) on this line. */
void dv_derived(struct dctx *c, enum field_id f);
/* Add s as f's value, derived. */
void dv_add_str(struct dctx *c, enum field_id f, const char *s, size_t n);
/* The process tree, process.command_line, the exe flags and the workload fields. */
void dv_process(struct dctx *c);

#endif
