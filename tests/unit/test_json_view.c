// SPDX-License-Identifier: GPL-2.0
/* Recorded NDJSON → rule view: paths, types, escapes, malformed lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "detect/json_view.h"

struct fx {
	struct json_view *jv;
	struct rule_view v;
	char err[256];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || json_view_new(&f->jv) < 0 || view_init(&f->v, 4096) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	json_view_free(f->jv);
	view_fini(&f->v);
	free(f);
	return 0;
}

static int fill(struct fx *f, const char *json)
{
	return json_view_fill(f->jv, &f->v, json, strlen(json), f->err, sizeof(f->err));
}

static void assert_str(const struct rule_view *v, const struct rval *r, const char *s)
{
	assert_non_null(r);
	assert_int_equal(r->s.n, strlen(s));
	assert_memory_equal(r->s.p, s, r->s.n);
}

static void test_json_view_paths_types_and_arrays(void **state)
{
	struct fx *f = *state;
	const struct rval *r;

	assert_int_equal(
	    fill(f,
		 "{\"@timestamp\":\"2026-11-28T10:00:01.5Z\",\"event\":{\"action\":\"connect\","
		 "\"category\":[\"network\"],\"type\":[\"connection\",\"start\"]},"
		 "\"destination\":{\"ip\":\"::ffff:10.0.0.1\",\"port\":443},\"unknown\":{\"x\":[1,"
		 "{\"y\":null}]},\"vigil\":{\"process\":{\"ancestors\":[{\"pid\":1,\"name\":\"a\"},"
		 "{\"pid\":2,\"name\":\"b\"}]},\"workload\":{\"gpu\":true}}}"),
	    0);
	assert_int_equal(f->v.action, AB_connect);
	assert_true(f->v.ts_ns % 1000000000ull == 500000000ull);
	r = view_first(&f->v, F_EVENT_TYPE);
	assert_str(&f->v, r, "connection");
	assert_str(&f->v, view_next(&f->v, r), "start");
	r = view_first(&f->v, F_DST_IP);
	assert_false(r->ip.v6);
	assert_int_equal(r->ip.a[0], 10);
	assert_int_equal(view_first(&f->v, F_DST_PORT)->i, 443);
	r = view_first(&f->v, F_ANC_NAME);
	assert_str(&f->v, r, "a");
	assert_str(&f->v, view_next(&f->v, r), "b");
	assert_int_equal(view_next(&f->v, view_first(&f->v, F_ANC_PID))->i, 2);
	assert_true(view_first(&f->v, F_V_GPU)->b);
	assert_null(view_first(&f->v, F_FILE_PATH));
}

static void test_json_view_unescapes_strings(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fill(f, "{\"file\":{\"path\":\"/a\\\"b\\n\\u00e9\\ud83d\\ude00\\\\\"}}"),
			 0);
	assert_str(&f->v, view_first(&f->v, F_FILE_PATH), "/a\"b\n\xc3\xa9\xf0\x9f\x98\x80\\");
}

static void test_json_view_rejects_malformed_lines(void **state)
{
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{",
	    "{\"a\":}",
	    "{\"a\":1,}",
	    "{\"a\" 1}",
	    "{\"a\":\"x}",
	    "{\"a\":1} x",
	    "{\"a\":\"\\q\"}",
	    "{\"a\":[1,2}",
	    "{\"a\":tru}",
	    "nonsense",
	    "{\"a\":\"\\u12\"}",
	};
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (fill(f, bad[i]) == 0)
			fail_msg("accepted malformed line %s", bad[i]);
		assert_non_null(strstr(f->err, "malformed JSON at byte"));
	}
}

static void test_json_view_deep_nesting_refused(void **state)
{
	struct fx *f = *state;
	char buf[4096];
	size_t n = 0;

	buf[n++] = '{';
	buf[n++] = '"';
	buf[n++] = 'a';
	buf[n++] = '"';
	buf[n++] = ':';
	for (int i = 0; i < 1000; i++)
		buf[n++] = '[';
	buf[n] = 0;
	assert_int_equal(fill(f, buf), -22);
	assert_non_null(strstr(f->err, "nested too deeply"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_view_paths_types_and_arrays),
	    cmocka_unit_test(test_json_view_unescapes_strings),
	    cmocka_unit_test(test_json_view_rejects_malformed_lines),
	    cmocka_unit_test(test_json_view_deep_nesting_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
