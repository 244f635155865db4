// SPDX-License-Identifier: GPL-2.0
/*
 * rules-bench RULES FILE [ROUNDS]: how fast the rule engine is, one core.
 *
 *   parse: recorded NDJSON lines → views (json_view), no rules
 *   eval:  rule evaluation alone, over views filled beforehand (the live
 *          daemon's case: it builds views from records, not from JSON)
 *   both:  parse + eval, what `vigil replay` does per line minus writing alerts
 *
 * Prints one markdown row per measurement, then peak RSS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "detect/json_view.h"
#include "detect/rules.h"
#include "core/util.h"

#define EVAL_VIEWS 64 /* views spread evenly over the input, evaluated round-robin */

struct lines {
	char **v;
	size_t *len;
	size_t n;
};

static void on_alert(void *ctx, const struct rule *r, const struct rule_view *v,
		     const struct rule_hit *hit)
{
	(*(uint64_t *)ctx)++;
}

static int read_lines(const char *path, struct lines *ls)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0, alloc = 0;
	ssize_t n;

	if (!f)
		return -1;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = 0;
		if (ls->n == alloc) {
			alloc = alloc ? 2 * alloc : 4096;
			ls->v = realloc(ls->v, alloc * sizeof(*ls->v));
			ls->len = realloc(ls->len, alloc * sizeof(*ls->len));
		}
		ls->v[ls->n] = strndup(line, n);
		ls->len[ls->n++] = n;
	}
	free(line);
	fclose(f);
	return 0;
}

static double secs(void)
{
	return clock_ns(CLOCK_MONOTONIC) / 1e9;
}

static void row(const char *what, uint64_t events, double s, uint64_t alerts)
{
	printf("| %s | %llu | %.2f | %.0f | %llu |\n", what, (unsigned long long)events, s,
	       events / s, (unsigned long long)alerts);
}

int main(int argc, char **argv)
{
	const char *paths[1];
	struct rules_diag diag = {0};
	struct ruleset *rs = NULL;
	struct rule_engine *e = NULL;
	struct json_view *jv = NULL;
	struct rule_view *views, v;
	struct lines ls = {0};
	uint64_t alerts = 0, done = 0;
	unsigned rounds = argc > 3 ? atoi(argv[3]) : 5, nviews = 0;
	char err[256];
	struct rusage ru;
	double t;

	if (argc < 3) {
		fprintf(stderr, "usage: rules-bench RULES FILE [ROUNDS]\n");
		return 2;
	}
	paths[0] = argv[1];
	if (read_lines(argv[2], &ls) < 0 || !ls.n || ruleset_load(paths, 1, NULL, &diag, &rs) < 0 ||
	    rule_engine_new(rs, 10000, on_alert, &alerts, &e) < 0 || json_view_new(&jv) < 0 ||
	    view_init(&v, 1 << 20) < 0) {
		fprintf(stderr, "rules-bench: cannot load %s or %s\n", argv[1], argv[2]);
		return 1;
	}
	rule_engine_set_dedup(e, 10000000000ull);
	printf("%zu lines, %u rules, %u rounds\n\n", ls.n, ruleset_count(rs), rounds);
	printf("| stage | events | seconds | events/s | alerts |\n|---|---|---|---|---|\n");

	t = secs();
	for (unsigned r = 0; r < rounds; r++)
		for (size_t i = 0; i < ls.n; i++)
			done += json_view_fill(jv, &v, ls.v[i], ls.len[i], err, sizeof(err)) == 0;
	row("parse (json_view)", done, secs() - t, 0);

	views = calloc(EVAL_VIEWS, sizeof(*views));
	for (size_t k = 0; k < EVAL_VIEWS && k < ls.n; k++) {
		size_t i = k * ls.n / EVAL_VIEWS; /* the same mix of actions as the input */

		if (view_init(&views[nviews], 1 << 16) < 0)
			return 1;
		if (json_view_fill(jv, &views[nviews], ls.v[i], ls.len[i], err, sizeof(err)) == 0)
			nviews++;
		else
			view_fini(&views[nviews]);
	}
	done = 0;
	t = secs();
	for (unsigned r = 0; r < rounds; r++)
		for (size_t i = 0; i < ls.n; i++, done++)
			rule_engine_eval(e, &views[i % nviews]);
	row("rule evaluation only", done, secs() - t, alerts);

	alerts = done = 0;
	t = secs();
	for (unsigned r = 0; r < rounds; r++)
		for (size_t i = 0; i < ls.n; i++)
			if (json_view_fill(jv, &v, ls.v[i], ls.len[i], err, sizeof(err)) == 0) {
				rule_engine_eval(e, &v);
				done++;
			}
	row("parse + evaluation", done, secs() - t, alerts);

	getrusage(RUSAGE_SELF, &ru);
	printf("\npeak RSS %.1f MiB (includes the %zu input lines held in memory)\n",
	       ru.ru_maxrss / 1024.0, ls.n);
	return 0;
}
