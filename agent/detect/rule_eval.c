// SPDX-License-Identifier: GPL-2.0
/*
 * rule_eval.c — the rule evaluator: compiled conditions against a struct
 * rule_view, rules picked by event.action, the alert message and output
 * fields, de-duplication of identical alerts. Sequence and threshold state
 * is rule_seq.c's.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <string.h>

#include "core/util.h"

#include "detect/rule_eval_internal.h"

/* ---- conditions ---- */

static bool mem_icontains(const char *h, size_t hn, const char *needle, size_t nn)
{
	if (nn > hn)
		return false;
	for (size_t i = 0; i + nn <= hn; i++) {
		size_t j = 0;

		while (j < nn && tolower((unsigned char)h[i + j]) == needle[j])
			j++;
		if (j == nn)
			return true;
	}
	return false;
}

static bool starts(const char *p, size_t n, const struct pstr *pre)
{
	return n >= pre->n && !memcmp(p, pre->p, pre->n);
}

/* Prefixes are sorted and none covers another: the greatest one <= s is the only candidate. */
static bool prefix_search(const struct pnode *t, const char *p, size_t n)
{
	size_t lo = 0, hi = t->n;

	if (t->n < SET_MIN_ITEMS) {
		for (unsigned i = 0; i < t->n; i++)
			if (starts(p, n, &t->strs[i]))
				return true;
		return false;
	}
	while (lo < hi) { /* first prefix > s */
		size_t mid = (lo + hi) / 2;
		const struct pstr *m = &t->strs[mid];
		int c = memcmp(m->p, p, m->n < n ? m->n : n);

		if (c < 0 || (c == 0 && m->n <= n))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && starts(p, n, &t->strs[lo - 1]);
}

static bool set_has(const struct strset *s, const char *p, size_t n)
{
	uint32_t h = str_hash(p, n) & s->mask;

	for (; s->slots[h].p; h = (h + 1) & s->mask)
		if (s->slots[h].n == n && !memcmp(s->slots[h].p, p, n))
			return true;
	return false;
}

static bool glob_match(const char *pattern, const char *p, size_t n)
{
	char buf[4096];

	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, p, n);
	buf[n] = 0;
	return fnmatch(pattern, buf, 0) == 0;
}

static bool str_test(const struct pnode *t, const char *p, size_t n)
{
	switch (t->op) {
	case OP_EQ:
		if (t->set.slots)
			return set_has(&t->set, p, n);
		for (unsigned i = 0; i < t->n; i++)
			if (t->strs[i].n == n && !memcmp(t->strs[i].p, p, n))
				return true;
		return false;
	case OP_STARTSWITH:
		return prefix_search(t, p, n);
	case OP_ENDSWITH:
		for (unsigned i = 0; i < t->n; i++)
			if (n >= t->strs[i].n &&
			    !memcmp(p + n - t->strs[i].n, t->strs[i].p, t->strs[i].n))
				return true;
		return false;
	case OP_CONTAINS:
		for (unsigned i = 0; i < t->n; i++)
			if (memmem(p, n, t->strs[i].p, t->strs[i].n))
				return true;
		return false;
	case OP_ICONTAINS:
		for (unsigned i = 0; i < t->n; i++)
			if (mem_icontains(p, n, t->strs[i].p, t->strs[i].n))
				return true;
		return false;
	case OP_GLOB:
		for (unsigned i = 0; i < t->n; i++)
			if (glob_match(t->strs[i].p, p, n))
				return true;
		return false;
	default:
		return false;
	}
}

static bool num_test(const struct pnode *t, int64_t x)
{
	switch (t->op) {
	case OP_LT:
		return x < t->nums[0];
	case OP_LE:
		return x <= t->nums[0];
	case OP_GT:
		return x > t->nums[0];
	case OP_GE:
		return x >= t->nums[0];
	default:
		for (unsigned i = 0; i < t->n; i++)
			if (t->nums[i] == x)
				return true;
		return false;
	}
}

static bool in_cidr(const struct cidr *c, const struct ipaddr *ip)
{
	unsigned full = c->bits / 8, rest = c->bits % 8;

	if (c->ip.v6 != ip->v6 || memcmp(c->ip.a, ip->a, full))
		return false;
	return !rest || ((c->ip.a[full] ^ ip->a[full]) & (0xff00 >> rest)) == 0;
}

static bool ip_test(const struct pnode *t, const struct ipaddr *ip)
{
	for (unsigned i = 0; i < t->n; i++)
		if (in_cidr(&t->cidrs[i], ip))
			return true;
	return false;
}

static bool value_test(const struct pnode *t, const struct rval *v)
{
	switch (field_defs[t->field].type) {
	case FT_NUM:
		return num_test(t, v->i);
	case FT_IP:
		return ip_test(t, &v->ip);
	case FT_BOOL:
		return v->b == t->bval;
	default:
		return str_test(t, v->s.p, v->s.n);
	}
}

/* A missing field fails every test ("!=" included); several values: any one. */
static bool test_eval(const struct pnode *t, const struct rule_view *v)
{
	const struct rval *r = view_first(v, t->field);

	if (!r)
		return false;
	for (; r; r = view_next(v, r))
		if (value_test(t, r))
			return !t->negate;
	return t->negate;
}

/* Most frequent kinds first: a chain of ifs predicts better than a jump table here. */
bool pnode_eval(const struct pnode *n, const struct rule_view *v)
{
	if (n->kind == P_TEST)
		return test_eval(n, v);
	if (n->kind == P_ACTION)
		return (n->mask >> v->action) & 1;
	if (n->kind == P_AND) {
		for (unsigned i = 0; i < n->nkids; i++)
			if (!pnode_eval(n->kids[i], v))
				return false;
		return true;
	}
	if (n->kind == P_OR) {
		for (unsigned i = 0; i < n->nkids; i++)
			if (pnode_eval(n->kids[i], v))
				return true;
		return false;
	}
	if (n->kind == P_NOT)
		return !pnode_eval(n->a, v);
	if (n->kind == P_EXISTS)
		return v->head[n->field] != 0;
	return n->bval;
}

/*
 * Kleene's three values, for views with unknown fields (replay of another
 * collector's stream): a test on an unknown field is neither true nor
 * false, "not" keeps it unknown, "and" is false if any part is false, "or"
 * true if any part is true. So a missing exemption (`not
 * vigil.workload.inference_tree`) cannot make a rule fire; it leaves it
 * undecided. Live views have no unknown field and never come here.
 */
enum tri { TRI_FALSE, TRI_TRUE, TRI_UNKNOWN };

static enum tri pnode_eval3(const struct pnode *n, const struct rule_view *v)
{
	enum tri r, k;

	switch (n->kind) {
	case P_TEST:
	case P_EXISTS:
		return view_is_unknown(v, n->field) ? TRI_UNKNOWN : (enum tri)pnode_eval(n, v);
	case P_AND:
	case P_OR:
		r = n->kind == P_AND ? TRI_TRUE : TRI_FALSE;
		for (unsigned i = 0; i < n->nkids; i++) {
			k = pnode_eval3(n->kids[i], v);
			if (k == TRI_UNKNOWN)
				r = TRI_UNKNOWN;
			else if ((k == TRI_TRUE) == (n->kind == P_OR))
				return k;
		}
		return r;
	case P_NOT:
		k = pnode_eval3(n->a, v);
		return k == TRI_UNKNOWN ? k : k == TRI_TRUE ? TRI_FALSE : TRI_TRUE;
	default:
		return (enum tri)pnode_eval(n, v);
	}
}

/*
 * Can n be true (*t) or false (*f) for some event on which the fields in
 * unknown are never known? Other tests are taken as free to be either (their
 * correlations are ignored: this errs towards "can").
 */
static void can_be(const struct pnode *n, const uint64_t *unknown, uint64_t *used, bool *t, bool *f)
{
	bool kt, kf;

	switch (n->kind) {
	case P_TEST:
	case P_EXISTS:
		*t = *f = !((unknown[n->field / 64] >> (n->field % 64)) & 1);
		if (!*t)
			used[n->field / 64] |= 1ull << (n->field % 64);
		return;
	case P_AND:
	case P_OR:
		*t = n->kind == P_AND; /* and: true if every part can be, false if any; or: dual */
		*f = n->kind == P_OR;
		for (unsigned i = 0; i < n->nkids; i++) {
			can_be(n->kids[i], unknown, used, &kt, &kf);
			if (n->kind == P_AND) {
				*t = *t && kt;
				*f = *f || kf;
			} else {
				*t = *t || kt;
				*f = *f && kf;
			}
		}
		return;
	case P_NOT:
		can_be(n->a, unknown, used, f, t);
		return;
	case P_CONST:
		*t = n->bval;
		*f = !n->bval;
		return;
	default:
		*t = *f = true;
	}
}

bool rule_can_fire_without(const struct rule *r, const uint64_t *unknown, uint64_t *used)
{
	bool t = true, f, st;

	if (r->cond)
		can_be(r->cond, unknown, used, &t, &f);
	for (unsigned i = 0; r->seq && i < r->seq->nsteps; i++) {
		can_be(r->seq->steps[i], unknown, used, &st, &f);
		t = t && st;
	}
	return t;
}

void ruleset_fields(const struct ruleset *rs, uint64_t *ret)
{
	uint64_t all[(F__COUNT + 63) / 64];

	memset(all, 0xff, sizeof(all));
	memset(ret, 0, sizeof(all));
	for (unsigned i = 0; i < rs->n; i++)
		rule_can_fire_without(rs->rules[i], all, ret);
}

/* ---- output ---- */

/* Append p[0..n) to buf (len bytes, kept NUL-terminated), cutting at the end. */
static void put(char *buf, size_t len, size_t *o, const char *p, size_t n)
{
	if (*o + 1 >= len)
		return;
	if (n > len - 1 - *o)
		n = len - 1 - *o;
	memcpy(buf + *o, p, n);
	*o += n;
	buf[*o] = 0;
}

/* buf = p[0..n), cut to len - 1 bytes. */
void re_copy_str(char *buf, size_t len, const char *p, size_t n)
{
	size_t o = 0;

	buf[0] = 0;
	put(buf, len, &o, p, n);
}

static void put_int(char *buf, size_t len, size_t *o, int64_t x)
{
	char tmp[24], *e = tmp + sizeof(tmp);
	char *c = u64_digits(e, x < 0 ? -(uint64_t)x : (uint64_t)x);

	if (x < 0)
		*--c = '-';
	put(buf, len, o, c, e - c);
}

void re_put_value(char *buf, size_t len, size_t *o, const struct rval *r, enum field_type t)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	switch (t) {
	case FT_NUM:
		put_int(buf, len, o, r->i);
		break;
	case FT_BOOL:
		put(buf, len, o, r->b ? "true" : "false", r->b ? 4 : 5);
		break;
	case FT_IP:
		inet_ntop(r->ip.v6 ? AF_INET6 : AF_INET, r->ip.a, ip, sizeof(ip));
		put(buf, len, o, ip, strlen(ip));
		break;
	default:
		put(buf, len, o, r->s.p, r->s.n);
	}
}

size_t rule_render(const struct rule *rl, const struct rule_view *v, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < rl->nout; i++) {
		const struct tmpl_part *p = &rl->out[i];
		const struct rval *r;

		if (p->field < 0) {
			put(buf, len, &o, p->lit.p, p->lit.n);
			continue;
		}
		r = view_first(v, p->field);
		if (!r)
			put(buf, len, &o, "<NA>", 4);
		for (; r; r = view_next(v, r)) {
			re_put_value(buf, len, &o, r, field_defs[p->field].type);
			if (r->next)
				put(buf, len, &o, " ", 1);
		}
	}
	return o;
}

void rule_output_fields(const struct rule *r, void (*fn)(void *ctx, enum field_id f), void *ctx)
{
	for (unsigned i = 0; i < r->nout; i++)
		if (r->out[i].field >= 0)
			fn(ctx, r->out[i].field);
}

/* ---- alerts ---- */

void re_fire(struct rule_engine *e, const struct rule *r, const struct rule_view *v,
	     const struct seq_match *seq)
{
	struct rule_hit hit = {.message = e->msg, .seq = seq};
	const struct rval *ent = view_first(v, F_PROC_ENTITY);
	size_t n = rule_render(r, v, e->msg, sizeof(e->msg));

	e->st.matches++;
	if (e->dedup_ns) {
		uint64_t h = str_hash(e->msg, n) ^ str_hash(r->id, strlen(r->id)) ^
			     (ent ? str_hash(ent->s.p, ent->s.n) : 0);
		struct dedup_slot *d = &e->dedup[h % DEDUP_SLOTS];

		if (d->hash == h && v->ts_ns >= d->last_ns && v->ts_ns - d->last_ns < e->dedup_ns) {
			d->held++;
			e->st.suppressed++;
			return;
		}
		hit.suppressed = d->hash == h ? d->held : 0;
		*d = (struct dedup_slot){.hash = h, .last_ns = v->ts_ns};
	}
	e->fn(e->ctx, r, v, &hit);
}

/* ---- engine ---- */

/* Per-rule eviction counts for the current ruleset (none if out of memory: the total stays). */
static void evicted_reset(struct rule_engine *e)
{
	free(e->evicted);
	e->evicted = calloc(e->rs->n ? e->rs->n : 1, sizeof(*e->evicted));
}

static void states_reset(struct rule_engine *e)
{
	memset(e->buckets, 0xff, (e->bmask + 1) * sizeof(*e->buckets));
	e->used = 0;
	e->free_head = e->lru_head = e->lru_tail = -1;
	e->st.seq_live = 0;
}

int rule_engine_new(struct ruleset *rs, unsigned state_max, alert_fn fn, void *ctx,
		    struct rule_engine **ret)
{
	struct rule_engine *e = calloc(1, sizeof(*e));
	uint32_t nb = 64;

	if (!e)
		return -ENOMEM;
	if (state_max < 16)
		state_max = 16;
	while (nb < state_max)
		nb <<= 1;
	e->pool = calloc(state_max, sizeof(*e->pool)); /* pages are touched only as used */
	e->buckets = malloc(nb * sizeof(*e->buckets));
	if (!e->pool || !e->buckets) {
		free(e->pool);
		free(e->buckets);
		free(e);
		return -ENOMEM;
	}
	e->bmask = nb - 1;
	e->max = state_max;
	e->rs = rs;
	e->fn = fn;
	e->ctx = ctx;
	states_reset(e);
	evicted_reset(e);
	*ret = e;
	return 0;
}

void rule_engine_set_dedup(struct rule_engine *e, uint64_t window_ns)
{
	if (!e->dedup && window_ns)
		e->dedup = calloc(DEDUP_SLOTS, sizeof(*e->dedup));
	e->dedup_ns = e->dedup ? window_ns : 0;
}

struct rule_engine *rule_engine_free(struct rule_engine *e)
{
	if (e) {
		free(e->dedup);
		free(e->evicted);
		ruleset_free(e->rs);
		free(e->pool);
		free(e->buckets);
		free(e);
	}
	return NULL;
}

struct ruleset *rule_engine_swap(struct rule_engine *e, struct ruleset *rs)
{
	struct ruleset *old = e->rs;

	e->rs = rs;
	states_reset(e); /* rule indexes changed */
	evicted_reset(e);
	return old;
}

const struct ruleset *rule_engine_ruleset(const struct rule_engine *e)
{
	return e->rs;
}

bool rule_engine_wants(const struct rule_engine *e, enum action_bit a)
{
	return e->rs->nby[a] != 0;
}

void rule_engine_eval(struct rule_engine *e, const struct rule_view *v)
{
	const struct ruleset *rs = e->rs;
	const struct rule_entry *ent = rs->by_action[v->action];
	unsigned n = rs->nby[v->action];

	e->st.events++;
	for (unsigned i = 0; i < n; i++) {
		if (v->has_unknown) {
			enum tri t = pnode_eval3(ent[i].cond, v);

			if (t == TRI_UNKNOWN) {
				e->st.undecided++;
				if (e->evicted)
					e->evicted[ent[i].r->index].undecided++;
			}
			if (t != TRI_TRUE)
				continue;
		} else if (!pnode_eval(ent[i].cond, v)) {
			continue;
		}
		if (ent[i].step >= 0) {
			re_seq_step(e, ent[i].r, ent[i].step, v);
			continue;
		}
		re_fire(e, ent[i].r, v, NULL);
	}
}

void rule_engine_stats(const struct rule_engine *e, struct rule_engine_stats *ret)
{
	*ret = e->st;
}

void rule_engine_evictions(struct rule_engine *e, bool unreported_only, eviction_fn fn, void *ctx)
{
	for (unsigned i = 0; e->evicted && i < e->rs->n; i++) {
		struct rule_evicted *x = &e->evicted[i];

		if (x->total == (unreported_only ? x->reported : 0))
			continue;
		fn(ctx, e->rs->rules[i], x->total - (unreported_only ? x->reported : 0), x->total);
		if (unreported_only)
			x->reported = x->total;
	}
}

void rule_engine_undecided(const struct rule_engine *e, undecided_fn fn, void *ctx)
{
	for (unsigned i = 0; e->evicted && i < e->rs->n; i++)
		if (e->evicted[i].undecided)
			fn(ctx, e->rs->rules[i], e->evicted[i].undecided);
}
