// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/alert.h"
#include "vigil/json_view.h"
#include "vigil/replay.h"

#define MAX_LINE (16u << 20)

struct replay {
	const struct replay_opts *o;
	struct ecs_writer *w;
	FILE *out;
	const char *line;
	size_t len;
	struct replay_stats *st;
};

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
}

static bool is_alert(const struct rule_view *v)
{
	const struct rval *k = view_first(v, F_EVENT_KIND);

	return k && k->s.n == 5 && !memcmp(k->s.p, "alert", 5);
}

int replay_run(struct ruleset *rs, const struct replay_opts *o, FILE *in, const char *name,
	       FILE *out, FILE *err, struct replay_stats *st)
{
	struct replay rp = {.o = o, .out = out, .st = st};
	struct rule_engine *eng = NULL;
	struct json_view *jv = NULL;
	struct rule_view v;
	char *line = NULL, msg[256];
	size_t cap = 0;
	ssize_t n;
	int r;

	memset(st, 0, sizeof(*st));
	setvbuf(in, NULL, _IOFBF, 1 << 20); /* fewer, larger reads */
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
	while (r == 0 && (n = getline(&line, &cap, in)) >= 0) {
		st->lines++;
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		if (!n)
			continue;
		if ((size_t)n > MAX_LINE) {
			fprintf(err, "%s:%llu: line longer than 16 MiB, skipped\n", name,
				(unsigned long long)st->lines);
			st->malformed++;
			continue;
		}
		if (json_view_fill(jv, &v, line, n, msg, sizeof(msg)) < 0) {
			fprintf(err, "%s:%llu: %s, skipped\n", name, (unsigned long long)st->lines,
				msg);
			st->malformed++;
			continue;
		}
		if (is_alert(&v)) {
			st->skipped_alerts++;
			continue;
		}
		st->events++;
		rp.line = line;
		rp.len = n;
		rule_engine_eval(eng, &v);
	}
	if (r == 0 && ferror(in))
		r = -errno ?: -EIO;
	free(line);
	rule_engine_free(eng);
	ecs_free(rp.w);
	json_view_free(jv);
	view_fini(&v);
	fflush(out);
	return r;
}
