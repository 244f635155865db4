/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rule_eval_internal.h — detect: the engine's state, shared by rule_eval.c
 * (conditions, output, alerts, the engine) and rule_seq.c (the bounded state
 * of sequence and threshold rules). Other modules use rules.h. *
 * Stage detect/: includes core/, sense/, stream/; does not act: no signals, cells, webhooks.
 */
#ifndef VIGIL_RULE_EVAL_INTERNAL_H
#define VIGIL_RULE_EVAL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "detect/rule_prog.h"

#define EVENT_ID_MAX 48
#define DEDUP_SLOTS  4096
#define MESSAGE_MAX  4096

struct seq_state {
	uint64_t hash;
	uint64_t ts_first;
	uint32_t rule;
	uint32_t step;			 /* last step reached; threshold rules: matches counted */
	uint64_t seen[SEQ_DISTINCT_MAX]; /* threshold with distinct: value hashes counted */
	int32_t hnext, prev, next;
	char key[SEQ_KEY_MAX];
	char first_id[EVENT_ID_MAX];
	bool live;
};

struct rule_engine {
	struct ruleset *rs;
	alert_fn fn;
	void *ctx;
	struct seq_state *pool;
	unsigned max, used;
	int32_t *buckets; /* hash → first state index, -1 none */
	uint32_t bmask;
	int32_t free_head, lru_head, lru_tail; /* head = most recently touched */
	struct rule_engine_stats st;
	/* by rule index: flooding keys evicts others' pending sequences, so say whose */
	struct rule_evicted {
		uint64_t total, reported;
		uint64_t undecided; /* events on which its condition was unknown (replay) */
	} * evicted;
	uint64_t dedup_ns;
	struct dedup_slot {
		uint64_t hash, last_ns, held;
	} * dedup; /* by hash: a collision only ever lets an alert through */
	char msg[MESSAGE_MAX];
};

void re_copy_str(char *buf, size_t len, const char *p, size_t n);
void re_fire(struct rule_engine *e, const struct rule *r, const struct rule_view *v,
	     const struct seq_match *seq);
void re_put_value(char *buf, size_t len, size_t *o, const struct rval *r, enum field_type t);
void re_seq_step(struct rule_engine *e, const struct rule *r, unsigned step,
		 const struct rule_view *v);

#endif
