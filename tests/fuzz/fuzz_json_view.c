// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: a replay line (json_view's streaming reader) must be
 * read or rejected, never crash; what reads is evaluated by the default
 * rules (rules/, loaded once from the repository root) and, when it alerts,
 * turned into ECS and Falco alert JSON.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/alert.h"
#include "detect/json_view.h"
#include "detect/rules.h"

struct fuzz_ctx {
	struct rule_engine *e;
	struct json_view *jv;
	struct ecs_writer *w;
	struct rule_view v;
	const uint8_t *line;
	size_t len;
};

static struct fuzz_ctx *fx;

static void on_alert(void *ctx, const struct rule *r, const struct rule_view *v,
		     const struct rule_hit *hit)
{
	struct fuzz_ctx *c = ctx;

	free(alert_ecs(c->w, (const char *)c->line, c->len, r, hit));
	free(alert_falco("fuzz", r, v, hit));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *paths[] = {"rules"};
	struct rules_diag diag = {0};
	struct ruleset *rs = NULL;

	fx = calloc(1, sizeof(*fx));
	if (!fx || ruleset_load(paths, 1, NULL, &diag, &rs) < 0 || view_init(&fx->v, 1 << 16) < 0 ||
	    json_view_new(&fx->jv) < 0 || ecs_new("fuzz", "fuzz", NULL, &fx->w) < 0 ||
	    rule_engine_new(rs, 64, on_alert, fx, &fx->e) < 0) {
		fprintf(stderr, "fuzz_json_view: cannot load rules/ (run from the repository root)\n");
		exit(1);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];

	fx->line = data;
	fx->len = size;
	if (json_view_fill(fx->jv, &fx->v, (const char *)data, size, err, sizeof(err)) == 0)
		rule_engine_eval(fx->e, &fx->v);
	return 0;
}
