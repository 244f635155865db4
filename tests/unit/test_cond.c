// SPDX-License-Identifier: GPL-2.0
/* The condition lexer and parser: precedence, values, lists, errors with offsets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "detect/cond.h"

static struct cnode *parse_ok(const char *text)
{
	struct cnode *n = NULL;
	struct cond_error err;

	if (cond_parse(text, &n, &err) < 0)
		fail_msg("'%s' did not parse: %s (at %u)", text, err.msg, err.off);
	return n;
}

static struct cond_error parse_err(const char *text)
{
	struct cnode *n = NULL;
	struct cond_error err = {0};

	assert_int_equal(cond_parse(text, &n, &err), -22);
	assert_null(n);
	return err;
}

static void test_cond_parse_precedence_not_and_or(void **state)
{
	struct cnode *n = parse_ok("a or b and not c");

	assert_int_equal(n->kind, CN_OR);
	assert_int_equal(n->a->kind, CN_NAME);
	assert_string_equal(n->a->name, "a");
	assert_int_equal(n->b->kind, CN_AND);
	assert_int_equal(n->b->b->kind, CN_NOT);
	assert_string_equal(n->b->b->a->name, "c");
	cnode_free(n);
}

static void test_cond_parse_parentheses_group(void **state)
{
	struct cnode *n = parse_ok("(a or b) and c");

	assert_int_equal(n->kind, CN_AND);
	assert_int_equal(n->a->kind, CN_OR);
	cnode_free(n);
}

static void test_cond_parse_comparisons_and_offsets(void **state)
{
	struct cnode *n = parse_ok("process.pid>=10 and file.path != '/a b'");

	assert_int_equal(n->a->kind, CN_TEST);
	assert_int_equal(n->a->op, OP_GE);
	assert_string_equal(n->a->vals[0].s, "10");
	assert_int_equal(n->b->op, OP_NE);
	assert_string_equal(n->b->vals[0].s, "/a b");
	assert_true(n->b->vals[0].quoted);
	assert_int_equal(n->b->off, 20);
	cnode_free(n);
}

static void test_cond_parse_in_list_and_string_ops(void **state)
{
	struct cnode *n = parse_ok("process.name in (bash, \"my sh\", shells) and "
				   "file.path startswith (/tmp/, /dev/shm/) and x glob *.pt and "
				   "y exists and z in shells");

	const struct cnode *in = n->a->a->a->a;

	assert_int_equal(in->op, OP_IN);
	assert_int_equal(in->nvals, 3);
	assert_true(in->paren);
	assert_string_equal(in->vals[1].s, "my sh");
	assert_false(in->vals[2].quoted);
	assert_int_equal(n->a->a->a->b->op, OP_STARTSWITH);
	assert_int_equal(n->a->a->a->b->nvals, 2);
	assert_int_equal(n->a->a->b->op, OP_GLOB);
	assert_int_equal(n->a->b->op, OP_EXISTS);
	assert_false(n->b->paren);
	cnode_free(n);
}

static void test_cond_parse_escapes_in_strings(void **state)
{
	struct cnode *n = parse_ok("a = \"q\\\"uote\"");
	assert_string_equal(n->vals[0].s, "q\"uote");
	cnode_free(n);
}

static void test_cond_parse_errors_name_the_offset(void **state)
{
	struct cond_error e;

	e = parse_err("a = ");
	assert_int_equal(e.off, 4);
	assert_non_null(strstr(e.msg, "expected a value"));
	e = parse_err("(a and b");
	assert_non_null(strstr(e.msg, "')'"));
	e = parse_err("a in (x, y");
	assert_non_null(strstr(e.msg, "',' or ')'"));
	e = parse_err("a = 'open");
	assert_non_null(strstr(e.msg, "unterminated"));
	e = parse_err("a and and b");
	assert_int_equal(e.off, 6);
	e = parse_err("a = b c");
	assert_int_equal(e.off, 6);
	e = parse_err("a ! b");
	assert_non_null(strstr(e.msg, "'!'"));
	e = parse_err("   ");
	assert_non_null(strstr(e.msg, "empty"));
}

static void test_cond_parse_deep_nesting_is_refused(void **state)
{
	char buf[2000];
	size_t n = 0;

	for (int i = 0; i < 500; i++)
		buf[n++] = '(';
	buf[n++] = 'a';
	for (int i = 0; i < 500; i++)
		buf[n++] = ')';
	buf[n] = 0;
	assert_non_null(strstr(parse_err(buf).msg, "nested too deeply"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cond_parse_precedence_not_and_or),
	    cmocka_unit_test(test_cond_parse_parentheses_group),
	    cmocka_unit_test(test_cond_parse_comparisons_and_offsets),
	    cmocka_unit_test(test_cond_parse_in_list_and_string_ops),
	    cmocka_unit_test(test_cond_parse_escapes_in_strings),
	    cmocka_unit_test(test_cond_parse_errors_name_the_offset),
	    cmocka_unit_test(test_cond_parse_deep_nesting_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
