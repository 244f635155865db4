// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: rule files (YAML reader, condition lexer/parser,
 * compiler) must reject or accept, never crash, leak or loop; what loads is
 * also evaluated, sequences included, against a few fixed events.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detect/json_view.h"
#include "detect/rules.h"

static const char *const events[] = {
    "{\"@timestamp\":\"2026-11-28T10:00:00Z\",\"event\":{\"action\":\"exec\",\"id\":\"a-1\"},"
    "\"process\":{\"pid\":1,\"name\":\"sh\",\"entity_id\":\"E1\",\"args\":[\"sh\",\"-c\"],"
    "\"session_leader\":{\"pid\":1}},\"vigil\":{\"process\":{\"ancestors\":[{\"entity_id\":"
    "\"E0\",\"name\":\"python3\"}]},\"workload\":{\"inference_tree\":true}}}",
    "{\"@timestamp\":\"2026-11-28T10:00:01Z\",\"event\":{\"action\":\"open\"},\"process\":"
    "{\"entity_id\":\"E0\"},\"file\":{\"path\":\"/m/x.pkl\",\"extension\":\"pkl\"},"
    "\"vigil\":{\"file\":{\"kind\":\"model\",\"access\":[\"read\"]}}}",
    "{\"@timestamp\":\"2026-11-28T10:00:02Z\",\"event\":{\"action\":\"connect\"},"
    "\"destination\":{\"ip\":\"fd00:ec2::254\",\"port\":80},\"process\":{\"entity_id\":\"E1\"}}",
};

static void on_alert(void *ctx, const struct rule *r, const struct rule_view *v,
		     const struct rule_hit *hit)
{
	(*(unsigned *)ctx)++;
}

static void evaluate(struct ruleset *rs)
{
	struct rule_engine *e = NULL;
	struct json_view *jv = NULL;
	struct rule_view v;
	unsigned alerts = 0;
	char err[128];

	if (view_init(&v, 4096) < 0 || json_view_new(&jv) < 0 ||
	    rule_engine_new(rs, 16, on_alert, &alerts, &e) < 0) {
		ruleset_free(rs);
		goto out;
	}
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
			if (json_view_fill(jv, &v, events[i], strlen(events[i]), err, sizeof(err)) == 0)
				rule_engine_eval(e, &v);
out:
	rule_engine_free(e);
	json_view_free(jv);
	view_fini(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/vigil-fuzz-rules-XXXXXX";
	struct rules_diag diag = {0};
	struct ruleset *rs = NULL;
	const char *p = path;
	int fd = mkstemp(path);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size &&
	    ruleset_load(&p, 1, NULL, &diag, &rs) == 0)
		evaluate(rs);
	close(fd);
	unlink(path);
	return 0;
}
