// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "stream/redact.h"

static void test_redact_key_value(void **state)
{
	struct redaction r;
	bool next = false;
	const char *a = "--hf-token=hf_abcdef";

	assert_true(redact_arg(a, strlen(a), &next, &r));
	assert_int_equal(r.keep, strlen("--hf-token="));
	assert_int_equal(r.resume, strlen(a));
	a = "PASSWORD=hunter2";
	assert_true(redact_arg(a, strlen(a), &next, &r));
	assert_int_equal(r.keep, strlen("PASSWORD="));
}

static void test_redact_flag_then_value(void **state)
{
	struct redaction r;
	bool next = false;

	assert_false(redact_arg("--api-key", 9, &next, &r));
	assert_true(next);
	assert_true(redact_arg("sk-123", 6, &next, &r));
	assert_int_equal(r.keep, 0);
	assert_false(next);
}

static void test_redact_url_password(void **state)
{
	struct redaction r;
	bool next = false;
	const char *a = "https://user:s3cret@example.invalid/x";

	assert_true(redact_arg(a, strlen(a), &next, &r));
	assert_int_equal(r.keep, strlen("https://user:"));
	assert_int_equal(r.resume, strlen("https://user:s3cret"));
}

static void test_redact_leaves_plain_args(void **state)
{
	struct redaction r;
	bool next = false;

	assert_false(redact_arg("--model=/models/llama.gguf", 26, &next, &r));
	assert_false(redact_arg("serve", 5, &next, &r));
	assert_false(next);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_redact_key_value),
	    cmocka_unit_test(test_redact_flag_then_value),
	    cmocka_unit_test(test_redact_url_password),
	    cmocka_unit_test(test_redact_leaves_plain_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
