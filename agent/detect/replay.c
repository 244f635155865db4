// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "detect/alert.h"
#include "detect/json_view.h"
#include "respond/playbook.h"
#include "detect/replay.h"

#define MAX_LINE (16u << 20)

struct replay {
	const struct replay_opts *o;
	struct ecs_writer *w;
	FILE *out, *err;
	const char *line;
	size_t len;
	struct replay_stats *st;
};

static int64_t num_of(const struct rule_view *v, enum field_id f)
{
	const struct rval *x = view_first(v, f);

	return x ? x->i : 0;
}

/* What the playbooks would do for this alert, on err: nothing is done in a replay. */
static void dry_run(struct replay *rp, const struct rule *r, const struct rule_view *v)
{
	const struct rule_meta *m = rule_meta(r);
	struct pb_alert a = {m->id, m->name, m->tags, m->ntags, m->severity};
	const struct rval *ent = view_first(v, F_PROC_ENTITY);
	char key[128];

	snprintf(key, sizeof(key), "%.*s", ent ? (int)ent->s.n : 1, ent ? ent->s.p : "-");
	for (unsigned i = 0; i < rp->o->playbooks->npbs; i++) {
		struct playbook *pb = &rp->o->playbooks->pbs[i];
		enum pb_gate g;

		if (!playbook_matches(pb, &a))
			continue;
		g = playbook_admit(pb, key, v->ts_ns / 1000000);
		fprintf(rp->err, "dry-run: playbook %s for %s (pid %lld)%s", pb->name, m->id,
			(long long)num_of(v, F_PROC_PID),
			g == PB_DEDUPLICATED   ? ": de-duplicated\n"
			: g == PB_RATE_LIMITED ? ": rate-limited\n"
					       : ":");
		if (g != PB_RUN)
			continue;
		rp->st->playbook_runs++;
		for (unsigned j = 0; j < pb->nsteps; j++) {
			const struct pb_step *st = &pb->steps[j];
			bool parent = st->target == PB_T_PARENT || st->target == PB_T_PARENT_TREE;

			fprintf(rp->err, " %s %s %lld%s", pb_action_name(st->action),
				pb_target_name(st->target),
				(long long)num_of(v, parent ? F_PARENT_PID : F_PROC_PID),
				j + 1 < pb->nsteps ? "," : "\n");
		}
	}
}

static void on_alert(void *ctx, const struct rule *r, const struct rule_view *v,
		     const struct rule_hit *hit)
{
	struct replay *rp = ctx;
	const struct rval *host = view_first(v, F_HOST_NAME);
	char hbuf[256];
	char *line;

	if (rp->o->falco) {
		snprintf(hbuf, sizeof(hbuf), "%.*s", host ? (int)host->s.n : 0,
			 host ? host->s.p : "");
		line = alert_falco(host ? hbuf : rp->o->host_name, r, v, hit);
	} else {
		line = alert_ecs(rp->w, rp->line, rp->len, r, hit);
	}
	if (!line) {
		rp->st->alert_errors++;
		return;
	}
	fputs(line, rp->out);
	fputc('\n', rp->out);
	free(line);
	rp->st->alerts++;
	if (rp->o->playbooks)
		dry_run(rp, r, v);
}

static bool is_alert(const struct rule_view *v)
{
	const struct rval *k = view_first(v, F_EVENT_KIND);

	return k && k->s.n == 5 && !memcmp(k->s.p, "alert", 5);
}

/* Lines of the input: mapped when it is a regular file (no copies), else getline. */
struct lines {
	FILE *in;
	char *buf;
	size_t cap;
	const char *map;
	size_t map_len, pos, dropped; /* map: bytes already handed back */
};

#define DROP_CHUNK (8u << 20)

static void lines_open(struct lines *l, FILE *in)
{
	struct stat st;
	void *m;

	memset(l, 0, sizeof(*l));
	l->in = in;
	if (fstat(fileno(in), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0)
		return;
	m = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fileno(in), 0);
	if (m == MAP_FAILED)
		return;
	madvise(m, st.st_size, MADV_SEQUENTIAL);
	l->map = m;
	l->map_len = st.st_size;
}

static bool lines_next(struct lines *l, const char **p, size_t *n)
{
	ssize_t got;

	if (l->map) {
		const char *s = l->map + l->pos, *nl;

		if (l->pos >= l->map_len)
			return false;
		if (l->pos - l->dropped >= 2 * DROP_CHUNK) { /* lines behind us: keep RSS flat */
			madvise((void *)(l->map + l->dropped), DROP_CHUNK, MADV_DONTNEED);
			l->dropped += DROP_CHUNK;
		}
		nl = memchr(s, '\n', l->map_len - l->pos);
		*p = s;
		*n = nl ? (size_t)(nl - s) : l->map_len - l->pos;
		l->pos += *n + (nl != NULL);
		return true;
	}
	got = getline(&l->buf, &l->cap, l->in);
	if (got < 0)
		return false;
	*p = l->buf;
	*n = got;
	return true;
}

static void lines_close(struct lines *l)
{
	if (l->map)
		munmap((void *)l->map, l->map_len);
	free(l->buf);
}

/* One input line through the rules; malformed and alert lines are counted and skipped. */
static void replay_line(struct replay *rp, struct json_view *jv, struct rule_view *v,
			struct rule_engine *eng, const char *line, size_t n, const char *name,
			FILE *err)
{
	struct replay_stats *st = rp->st;
	char msg[256];

	st->lines++;
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (!n)
		return;
	if (n > MAX_LINE) {
		fprintf(err, "%s:%llu: line longer than 16 MiB, skipped\n", name,
			(unsigned long long)st->lines);
		st->malformed++;
		return;
	}
	if (json_view_fill(jv, v, line, n, msg, sizeof(msg)) < 0) {
		fprintf(err, "%s:%llu: %s, skipped\n", name, (unsigned long long)st->lines, msg);
		st->malformed++;
		return;
	}
	if (is_alert(v)) {
		st->skipped_alerts++;
		return;
	}
	st->events++;
	rp->line = line;
	rp->len = n;
	rule_engine_eval(eng, v);
}

int replay_run(struct ruleset *rs, const struct replay_opts *o, FILE *in, const char *name,
	       FILE *out, FILE *err, struct replay_stats *st)
{
	struct replay rp = {.o = o, .out = out, .err = err, .st = st};
	struct rule_engine *eng = NULL;
	struct json_view *jv = NULL;
	struct rule_view v;
	struct lines ls;
	const char *line;
	size_t n;
	int r;

	memset(st, 0, sizeof(*st));
	setvbuf(in, NULL, _IOFBF, 1 << 20); /* fewer, larger reads when not mapped */
	lines_open(&ls, in);
	r = view_init(&v, 1 << 20);
	if (r == 0)
		r = json_view_new(&jv);
	if (r == 0)
		r = ecs_new(o->host_name, "replay", NULL, &rp.w);
	if (r == 0)
		r = rule_engine_new(rs, o->max_sequences, on_alert, &rp, &eng);
	if (!eng)
		ruleset_free(rs); /* the engine owns it once it exists */
	if (r == 0)
		rule_engine_set_dedup(eng, o->dedup_ms * 1000000ull);
	while (r == 0 && lines_next(&ls, &line, &n))
		replay_line(&rp, jv, &v, eng, line, n, name, err);
	if (r == 0 && !ls.map && ferror(in))
		r = -errno ?: -EIO;
	lines_close(&ls);
	rule_engine_free(eng);
	ecs_free(rp.w);
	json_view_free(jv);
	view_fini(&v);
	fflush(out);
	return r;
}
