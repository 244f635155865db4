// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ship/subject.h"

/* The published FNV-1a test vectors: hunt workers in any language must agree. */
static void test_fnv1a_matches_the_reference_vectors(void **state)
{
	assert_int_equal(subject_fnv1a(""), 0x811c9dc5u);
	assert_int_equal(subject_fnv1a("a"), 0xe40c292cu);
	assert_int_equal(subject_fnv1a("foobar"), 0xbf9cf968u);
	assert_int_equal(subject_partition("gpu-node-17", 16), 2826578923u % 16);
	assert_int_equal(subject_partition("gpu-node-17", 1), 0);
}

static void test_subjects_by_kind_with_a_safe_host_token(void **state)
{
	char out[SUBJECT_MAX];
	unsigned p = subject_partition("gpu.node 1", 16);
	char want[64];

	assert_int_equal(
	    subject_for("vigil", subject_kind_of("event"), "gpu.node 1", 16, out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "vigil.events.%u.gpu_node_1", p);
	assert_string_equal(out, want);
	subject_for("vigil", subject_kind_of("alert"), "gpu.node 1", 16, out, sizeof(out));
	snprintf(want, sizeof(want), "vigil.alerts.%u.gpu_node_1", p);
	assert_string_equal(out, want);
	subject_for("acme.fleet", subject_kind_of("metric"), "h*>", 16, out, sizeof(out));
	assert_string_equal(out, "acme.fleet.health.h__");
	subject_for("vigil", subject_kind_of("state"), "", 16, out, sizeof(out));
	assert_string_equal(out, "vigil.health._");
	assert_int_equal(subject_cmd("vigil", "n1.example", out, sizeof(out)), 0);
	assert_string_equal(out, "vigil.cmd.n1_example");
	assert_int_equal(subject_for("vigil", SUBJECT_EVENTS, "h", 16, out, 8), -ENAMETOOLONG);
}

static void test_prefix_and_stream_names(void **state)
{
	assert_true(subject_prefix_valid("vigil"));
	assert_true(subject_prefix_valid("acme.fleet-1"));
	assert_false(subject_prefix_valid(""));
	assert_false(subject_prefix_valid("a..b"));
	assert_false(subject_prefix_valid("a."));
	assert_false(subject_prefix_valid("a.*"));
	assert_false(subject_prefix_valid("a b"));
	assert_true(subject_stream_valid("VIGIL"));
	assert_false(subject_stream_valid("VIGIL.X"));
	assert_false(subject_stream_valid(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fnv1a_matches_the_reference_vectors),
	    cmocka_unit_test(test_subjects_by_kind_with_a_safe_host_token),
	    cmocka_unit_test(test_prefix_and_stream_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
