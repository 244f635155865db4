// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "detect/alert.h"
#include "detect/derive.h"
#include "detect/json_view.h"
#include "detect/replay.h"

#define MAX_LINE (16u << 20)

struct replay {
	const struct replay_opts *o;
	struct ecs_writer *w;
	struct rule_engine *eng;
	struct json_view *jv;
	struct rule_view v;
	FILE *out, *err;
	const char *line;
	size_t len;
	struct replay_stats *st;
	struct derive *dv;     /* NULL: lines are taken as written */
	struct derive_line dl; /* of the current line */
};

static json_t *names_json(const uint64_t *bits)
{
	json_t *a = json_array();

	for (int f = 0; a && f < F__COUNT; f++)
		if (field_bit(bits, f))
			json_array_append_new(a, json_string(field_defs[f].name));
	return a;
}

/* o[dotted path] = val, making the objects on the way (one that is not an object is replaced). */
static void set_path(json_t *o, const char *path, json_t *val)
{
	const char *dot;
	char key[64];

	while ((dot = strchr(path, '.'))) {
		json_t *next;

		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		next = json_object_get(o, key);
		if (!json_is_object(next)) {
			next = json_object();
			json_object_set_new(o, key, next);
		}
		o = next;
		path = dot + 1;
	}
	json_object_set_new(o, path, val);
}

/*
 * A foreign line's alert: the values replay derived, where vigil would have
 * written them, and the lists. event.action keeps the collector's word and
 * the ancestors stay in the message only (they are arrays of objects).
 */
static char *annotate(const struct replay *rp, const struct rule_view *v, char *line)
{
	json_t *o = json_loads(line, 0, NULL);
	char *out;

	if (!json_is_object(o))
		return json_decref(o), line;
	for (int f = 0; f < F__COUNT; f++) {
		const struct rval *r = view_first(v, f);
		json_t *val;

		if (!field_bit(rp->dl.derived, f) || f == F_EVENT_ACTION ||
		    (f >= F_ANC_PID && f <= F_ANC_EXE))
			continue;
		val = field_defs[f].multi ? json_array() : alert_value_json(r, field_defs[f].type);
		for (; field_defs[f].multi && r; r = view_next(v, r))
			json_array_append_new(val, alert_value_json(r, field_defs[f].type));
		set_path(o, field_defs[f].name, val);
	}
	set_path(o, "vigil.derived", names_json(rp->dl.derived));
	set_path(o, "vigil.underived", names_json(rp->dl.unknown));
	out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!out)
		return line;
	free(line);
	return out;
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
		line = alert_ecs(rp->w, rp->line, rp->len, r, hit, NULL);
	}
	if (!line) {
		rp->st->alert_errors++;
		return;
	}
	if (rp->dl.foreign && !rp->o->falco)
		line = annotate(rp, v, line);
	if (rp->o->emit) {
		rp->o->emit(rp->o->emit_ctx, line, rp->line, rp->len);
	} else {
		fputs(line, rp->out);
		fputc('\n', rp->out);
	}
	free(line);
	rp->st->alerts++;
	if (rp->o->on_alert)
		rp->st->playbook_runs +=
		    rp->o->on_alert(rp->o->alert_ctx, rule_meta(r), v, rp->err);
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

void replay_feed(struct replay *rp, const char *line, size_t n, const char *name)
{
	struct replay_stats *st = rp->st;
	char msg[256];

	st->lines++;
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (!n)
		return;
	if (n > MAX_LINE) {
		fprintf(rp->err, "%s:%llu: line longer than 16 MiB, skipped\n", name,
			(unsigned long long)st->lines);
		st->malformed++;
		return;
	}
	if (json_view_fill(rp->jv, &rp->v, line, n, msg, sizeof(msg)) < 0) {
		fprintf(rp->err, "%s:%llu: %s, skipped\n", name, (unsigned long long)st->lines,
			msg);
		st->malformed++;
		return;
	}
	if (is_alert(&rp->v)) {
		st->skipped_alerts++;
		return;
	}
	st->events++;
	if (rp->dv) {
		derive_fill(rp->dv, &rp->v, &rp->dl);
		st->foreign += rp->dl.foreign;
	}
	rp->line = line;
	rp->len = n;
	rule_engine_eval(rp->eng, &rp->v);
}

static void field_counts(FILE *err, const char *what, const uint64_t *n)
{
	const char *sep = "";

	fprintf(err, "%s", what);
	for (int f = 0; f < F__COUNT; f++)
		if (n[f]) {
			fprintf(err, "%s %s %llu", sep, field_defs[f].name,
				(unsigned long long)n[f]);
			sep = ",";
		}
	fprintf(err, "%s\n", *sep ? "" : " none");
}

static void undecided_one(void *ctx, const struct rule *r, uint64_t n)
{
	fprintf(ctx, " %s %llu", rule_meta(r)->id, (unsigned long long)n);
}

/* What replay had to make up, and what it could not, on other collectors' lines. */
static void derive_summary(struct replay *rp, struct rule_engine *eng)
{
	const struct derive_stats *ds = derive_stats(rp->dv);
	struct rule_engine_stats es;

	if (!ds->foreign)
		return;
	rule_engine_stats(eng, &es);
	rp->st->undecided = es.undecided;
	fprintf(rp->err,
		"replay: %llu events from another collector: event.action derived on %llu, not "
		"derivable on %llu\n",
		(unsigned long long)ds->foreign, (unsigned long long)ds->action_derived,
		(unsigned long long)ds->action_unknown);
	field_counts(rp->err, "replay: derived (lines):", ds->derived);
	field_counts(rp->err, "replay: underived, unknown to the rules (lines):", ds->unknown);
	fprintf(rp->err, "replay: undecided (an underived field decides it; not fired):");
	rule_engine_undecided(eng, undecided_one, rp->err);
	fprintf(rp->err, "%s\n", es.undecided ? "" : " none");
	if (ds->procs_dropped)
		fprintf(rp->err, "replay: %llu processes not remembered (table full)\n",
			(unsigned long long)ds->procs_dropped);
}

int replay_new(struct ruleset *rs, const struct replay_opts *o, FILE *out, FILE *err,
	       struct replay_stats *st, struct replay **ret)
{
	struct replay *rp = calloc(1, sizeof(*rp));
	int r;

	if (!rp) {
		ruleset_free(rs);
		return -ENOMEM;
	}
	*rp = (struct replay){.o = o, .out = out, .err = err, .st = st};
	memset(st, 0, sizeof(*st));
	r = view_init(&rp->v, 1 << 20);
	if (r == 0)
		r = json_view_new(&rp->jv);
	if (r == 0)
		r = ecs_new(o->host_name, "replay", NULL, &rp->w);
	if (r == 0 && o->cfg) {
		uint64_t wanted[FIELD_WORDS];

		ruleset_fields(rs, wanted);
		r = derive_new(o->cfg, wanted, &rp->dv);
	}
	if (r == 0)
		r = rule_engine_new(rs, o->max_sequences, on_alert, rp, &rp->eng);
	if (!rp->eng)
		ruleset_free(rs); /* the engine owns it once it exists */
	if (r == 0)
		rule_engine_set_dedup(rp->eng, o->dedup_ms * 1000000ull);
	if (r < 0) {
		replay_free(rp);
		return r;
	}
	*ret = rp;
	return 0;
}

struct replay *replay_free(struct replay *rp)
{
	if (!rp)
		return NULL;
	derive_free(rp->dv);
	rule_engine_free(rp->eng);
	ecs_free(rp->w);
	json_view_free(rp->jv);
	view_fini(&rp->v);
	fflush(rp->out);
	free(rp);
	return NULL;
}

int replay_run(struct ruleset *rs, const struct replay_opts *o, FILE *in, const char *name,
	       FILE *out, FILE *err, struct replay_stats *st)
{
	struct replay *rp;
	struct lines ls;
	const char *line;
	size_t n;
	int r;

	setvbuf(in, NULL, _IOFBF, 1 << 20); /* fewer, larger reads when not mapped */
	r = replay_new(rs, o, out, err, st, &rp);
	if (r < 0)
		return r;
	lines_open(&ls, in);
	while (lines_next(&ls, &line, &n))
		replay_feed(rp, line, n, name);
	if (!ls.map && ferror(in))
		r = -errno ?: -EIO;
	lines_close(&ls);
	if (r == 0 && rp->dv)
		derive_summary(rp, rp->eng);
	replay_free(rp);
	return r;
}
