// SPDX-License-Identifier: GPL-2.0
/*
 * Alert rendering (alert.c): the Falco-compatible JSON an alert becomes —
 * rule, priority from the severity, the output with its fields filled,
 * output_fields typed (numbers, booleans, addresses, lists) — and field
 * values that are not UTF-8 staying valid JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detect/alert.h"
#include "detect/json_view.h"
#include "detect/rules.h"

static const char rules[] =
    "- rule: Shell under a server\n"
    "  id: T-1\n"
    "  severity: high\n"
    "  tags: [T1059]\n"
    "  condition: event.action = exec and process.name = bash\n"
    "  output: shell %process.executable pid %process.pid to %destination.ip\n";

#define EXEC                                                                                    \
	"{\"@timestamp\":\"2026-11-28T10:00:00.000000000Z\",\"host\":{\"name\":\"gpu-1\"},"     \
	"\"event\":{\"action\":\"exec\",\"id\":\"e-1\"},\"destination\":{\"ip\":\"10.0.0.9\"}," \
	"\"process\":{\"pid\":42,\"name\":\"bash\",\"executable\":\"/usr/bin/bash\",\"args\":"  \
	"[\"bash\",\"-c\",\"id\"],\"entity_id\":\"E42\"},\"vigil\":{\"workload\":{\"inference_" \
	"tree\""                                                                                \
	":true}}}"

struct got {
	char *falco;
};

static void on_alert(void *ctx, const struct rule *r, const struct rule_view *v,
		     const struct rule_hit *hit)
{
	struct got *g = ctx;

	free(g->falco);
	g->falco = alert_falco("fallback-host", r, v, hit);
}

static json_t *render(const char *event)
{
	char path[] = "/tmp/vigil-alert-XXXXXX", err[256];
	int fd = mkstemp(path);
	const char *paths[] = {path};
	struct rules_diag diag = {0};
	struct ruleset *rs = NULL;
	struct rule_engine *e = NULL;
	struct json_view *jv = NULL;
	struct rule_view v;
	struct got g = {0};
	json_t *o;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, rules, sizeof(rules) - 1), (ssize_t)(sizeof(rules) - 1));
	close(fd);
	/* ruleset_load refuses files others can write: mkstemp's 0600 is fine */
	assert_int_equal(ruleset_load(paths, 1, NULL, &diag, &rs), 0);
	unlink(path);
	assert_int_equal(view_init(&v, 1 << 16), 0);
	assert_int_equal(json_view_new(&jv), 0);
	assert_int_equal(rule_engine_new(rs, 16, on_alert, &g, &e), 0);
	assert_int_equal(json_view_fill(jv, &v, event, strlen(event), err, sizeof(err)), 0);
	rule_engine_eval(e, &v);
	rule_engine_free(e);
	json_view_free(jv);
	view_fini(&v);
	assert_non_null(g.falco);
	o = json_loads(g.falco, 0, NULL);
	free(g.falco);
	assert_non_null(o);
	return o;
}

static void test_alert_falco_fields_priority_and_output(void **state)
{
	json_t *o = render(EXEC), *f;

	assert_string_equal(json_string_value(json_object_get(o, "rule")), "Shell under a server");
	assert_string_equal(json_string_value(json_object_get(o, "priority")), "Error");
	assert_string_equal(json_string_value(json_object_get(o, "output")),
			    "shell /usr/bin/bash pid 42 to 10.0.0.9");
	/* the caller says whose host (the event's host.name in replay) */
	assert_string_equal(json_string_value(json_object_get(o, "hostname")), "fallback-host");
	f = json_object_get(o, "output_fields");
	assert_true(json_is_integer(json_object_get(f, "process.pid")));
	assert_int_equal(json_integer_value(json_object_get(f, "process.pid")), 42);
	assert_string_equal(json_string_value(json_object_get(f, "destination.ip")), "10.0.0.9");
	json_decref(o);
}

static void test_alert_value_json_keeps_invalid_utf8_valid_json(void **state)
{
	static const char bytes[] = "bad\xff\xfename";
	struct rval r = {.s = {.p = bytes, .n = sizeof(bytes) - 1}};
	json_t *v = alert_value_json(&r, FT_STR), *back;
	char *s;

	assert_non_null(v);
	s = json_dumps(v, JSON_ENCODE_ANY);
	assert_non_null(s);
	assert_string_equal(s, "\"bad\xef\xbf\xbd\xef\xbf\xbdname\""); /* U+FFFD twice */
	back = json_loads(s, JSON_DECODE_ANY, NULL);
	assert_non_null(back);
	json_decref(back);
	free(s);
	json_decref(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alert_falco_fields_priority_and_output),
	    cmocka_unit_test(test_alert_value_json_keeps_invalid_utf8_valid_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
