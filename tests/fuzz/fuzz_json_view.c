// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: a replay line (json_view's streaming reader) must be
 * read or rejected, never crash; what reads is evaluated by the default
 * rules (rules/, loaded once from the repository root) and, when it alerts,
 * turned into ECS and Falco alert JSON. Lines not vigil's go through replay's
 * derivation first (derive.c), with vigild's default watch lists; its
 * process table is started afresh now and then so memory stays bounded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/alert.h"
#include "core/config.h"
#include "detect/derive.h"
#include "detect/json_view.h"
#include "detect/rules.h"

#define DERIVE_RENEW 4096 /* inputs per process table */

struct fuzz_ctx {
	struct rule_engine *e;
	struct vigil_config *cfg;
	struct derive *dv;
	uint64_t wanted[FIELD_WORDS];
	unsigned inputs;
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

	free(alert_ecs(c->w, (const char *)c->line, c->len, r, hit, NULL));
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
	    config_defaults(&fx->cfg) < 0 || (ruleset_fields(rs, fx->wanted), 0) ||
	    derive_new(fx->cfg, fx->wanted, &fx->dv) < 0 ||
	    rule_engine_new(rs, 64, on_alert, fx, &fx->e) < 0) {
		fprintf(stderr, "fuzz_json_view: cannot load rules/ (run from the repository root)\n");
		exit(1);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct derive_line dl;
	char err[256];

	fx->line = data;
	fx->len = size;
	if (++fx->inputs % DERIVE_RENEW == 0) {
		derive_free(fx->dv);
		if (derive_new(fx->cfg, fx->wanted, &fx->dv) < 0)
			abort();
	}
	if (json_view_fill(fx->jv, &fx->v, (const char *)data, size, err, sizeof(err)) == 0) {
		derive_fill(fx->dv, &fx->v, &dl);
		rule_engine_eval(fx->e, &fx->v);
	}
	return 0;
}
