// SPDX-License-Identifier: GPL-2.0
/*
 * rule_seq.c — the bounded state of sequence and threshold rules: one state
 * per rule and key, LRU-evicted when the cap is reached (evictions counted
 * per rule), expired on event time so replay behaves like live.
 */
#include <string.h>

#include "detect/rule_eval_internal.h"

/* ---- sequence state ---- */

static void lru_unlink(struct rule_engine *e, int32_t i)
{
	struct seq_state *s = &e->pool[i];

	if (s->prev >= 0)
		e->pool[s->prev].next = s->next;
	else
		e->lru_head = s->next;
	if (s->next >= 0)
		e->pool[s->next].prev = s->prev;
	else
		e->lru_tail = s->prev;
}

static void lru_push(struct rule_engine *e, int32_t i)
{
	struct seq_state *s = &e->pool[i];

	s->prev = -1;
	s->next = e->lru_head;
	if (e->lru_head >= 0)
		e->pool[e->lru_head].prev = i;
	e->lru_head = i;
	if (e->lru_tail < 0)
		e->lru_tail = i;
}

static void state_drop(struct rule_engine *e, int32_t i)
{
	struct seq_state *s = &e->pool[i];
	int32_t *pp = &e->buckets[s->hash & e->bmask];

	while (*pp != i)
		pp = &e->pool[*pp].hnext;
	*pp = s->hnext;
	lru_unlink(e, i);
	s->live = false;
	s->hnext = e->free_head;
	e->free_head = i;
	e->st.seq_live--;
}

static uint64_t state_hash(uint32_t rule, const char *key)
{
	return str_hash(key, strlen(key)) ^ ((uint64_t)rule * 0x9e3779b97f4a7c15ull);
}

static int32_t state_find(struct rule_engine *e, uint32_t rule, const char *key)
{
	uint64_t h = state_hash(rule, key);

	for (int32_t i = e->buckets[h & e->bmask]; i >= 0; i = e->pool[i].hnext)
		if (e->pool[i].hash == h && e->pool[i].rule == rule && !strcmp(e->pool[i].key, key))
			return i;
	return -1;
}

static bool expired(const struct rule_engine *e, const struct seq_state *s, uint64_t now)
{
	return now > s->ts_first && now - s->ts_first > e->rs->rules[s->rule]->seq->within_ns;
}

/* Drop expired states from the old end, then take a free slot (evicting if full). */
static int32_t state_alloc(struct rule_engine *e, uint64_t now)
{
	int32_t i;

	while (e->lru_tail >= 0 && expired(e, &e->pool[e->lru_tail], now)) {
		state_drop(e, e->lru_tail);
		e->st.seq_expired++;
	}
	if (e->free_head < 0 && e->used < e->max) {
		e->pool[e->used].hnext = -1;
		e->free_head = e->used++;
	}
	if (e->free_head < 0) {
		if (e->evicted)
			e->evicted[e->pool[e->lru_tail].rule].total++;
		state_drop(e, e->lru_tail);
		e->st.seq_evicted++;
	}
	i = e->free_head;
	e->free_head = e->pool[i].hnext;
	e->st.seq_live++;
	return i;
}

static void state_start(struct rule_engine *e, const struct rule *r, const char *key,
			const struct rule_view *v)
{
	int32_t i = state_find(e, r->index, key);
	struct seq_state *s;
	const struct rval *id = view_first(v, F_EVENT_ID);

	if (i >= 0 && e->pool[i].step > 0 && !expired(e, &e->pool[i], v->ts_ns))
		return; /* a sequence under way keeps its progress */
	if (i < 0) {
		i = state_alloc(e, v->ts_ns);
		s = &e->pool[i];
		s->hash = state_hash(r->index, key);
		s->rule = r->index;
		re_copy_str(s->key, sizeof(s->key), key, strlen(key));
		s->hnext = e->buckets[s->hash & e->bmask];
		e->buckets[s->hash & e->bmask] = i;
		s->live = true;
		e->st.seq_started++;
	} else {
		lru_unlink(e, i);
	}
	s = &e->pool[i];
	s->step = 0;
	s->ts_first = v->ts_ns;
	re_copy_str(s->first_id, sizeof(s->first_id), id ? id->s.p : "", id ? id->s.n : 0);
	lru_push(e, i);
}

/* The key an event gives a sequence: "" when the event has none. */
static void event_key(const struct seq_def *sq, const struct rule_view *v, char *key, size_t len)
{
	enum field_id f = sq->by == BY_FIELD ? sq->key_field : F_PROC_ENTITY;
	const struct rval *r = view_first(v, f);

	size_t o = 0;

	key[0] = 0;
	if (r)
		re_put_value(key, len, &o, r, field_defs[f].type);
}

static void state_advance(struct rule_engine *e, const struct rule *r, int32_t i, unsigned step,
			  const struct rule_view *v)
{
	struct seq_state *s = &e->pool[i];

	if (step + 1 < r->seq->nsteps) {
		s->step = step;
		lru_unlink(e, i);
		lru_push(e, i);
		return;
	}
	struct seq_match m = {.by = r->seq->by_name,
			      .key = s->key,
			      .steps = r->seq->nsteps,
			      .first_ts_ns = s->ts_first,
			      .first_event_id = s->first_id};

	re_fire(e, r, v, &m);
	state_drop(e, i);
}

/* Candidate keys for a later step: the event's own, and for trees its ancestors'. */
static bool try_advance(struct rule_engine *e, const struct rule *r, unsigned step, const char *key,
			const struct rule_view *v)
{
	int32_t i = key[0] ? state_find(e, r->index, key) : -1;

	if (i < 0 || e->pool[i].step != step - 1)
		return false;
	if (expired(e, &e->pool[i], v->ts_ns)) {
		state_drop(e, i);
		e->st.seq_expired++;
		return false;
	}
	state_advance(e, r, i, step, v);
	return true;
}

/* A threshold rule matched: count it (distinct values only, if asked) for its key. */
static void threshold_step(struct rule_engine *e, const struct rule *r, const char *key,
			   const struct rule_view *v)
{
	const struct seq_def *sq = r->seq;
	struct seq_state *s;
	int32_t i = state_find(e, r->index, key);

	if (i < 0 || expired(e, &e->pool[i], v->ts_ns)) {
		state_start(e, r, key, v); /* count 0, fresh window */
		i = state_find(e, r->index, key);
	}
	s = &e->pool[i];
	if (sq->distinct >= 0) {
		const struct rval *d = view_first(v, sq->distinct);
		char buf[SEQ_KEY_MAX];
		size_t n = 0;
		uint64_t h;

		if (!d)
			return;
		re_put_value(buf, sizeof(buf), &n, d, field_defs[sq->distinct].type);
		h = str_hash(buf, n) | 1; /* 0 marks a free slot */
		for (unsigned k = 0; k < s->step; k++)
			if (s->seen[k] == h)
				return;
		s->seen[s->step] = h;
	}
	if (++s->step < sq->count)
		return;
	struct seq_match m = {.by = sq->by_name,
			      .key = s->key,
			      .steps = s->step,
			      .first_ts_ns = s->ts_first,
			      .first_event_id = s->first_id};

	re_fire(e, r, v, &m);
	state_drop(e, i);
}

void re_seq_step(struct rule_engine *e, const struct rule *r, unsigned step,
		 const struct rule_view *v)
{
	char key[SEQ_KEY_MAX];

	event_key(r->seq, v, key, sizeof(key));
	if (r->seq->count) {
		if (key[0])
			threshold_step(e, r, key, v);
		return;
	}
	if (step == 0) {
		if (key[0])
			state_start(e, r, key, v);
		return;
	}
	if (try_advance(e, r, step, key, v) || r->seq->by != BY_TREE)
		return;
	for (const struct rval *a = view_first(v, F_ANC_ENTITY); a; a = view_next(v, a)) {
		re_copy_str(key, sizeof(key), a->s.p, a->s.n);
		if (try_advance(e, r, step, key, v))
			return;
	}
}
