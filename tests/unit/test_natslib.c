// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "ship/natslib.h"

/* Every function in the table resolves, and a second load is a no-op. */
static void test_load_resolves_the_table_once(void **state)
{
	struct natslib nl = {0};
	char err[256] = "";
	void *so;

	assert_int_equal(natslib_load(&nl, err, sizeof(err)), 0);
	assert_non_null(nl.so);
	assert_non_null(nl.js_PublishAsync);
	assert_non_null(nl.kvEntry_Destroy);
	so = nl.so;
	assert_int_equal(natslib_load(&nl, err, sizeof(err)), 0);
	assert_ptr_equal(nl.so, so);
}

/* A real call through the table: nobody listens on port 1, so the connect
 * fails with "No server available" and the error line says so. */
static void test_a_failed_connect_reads_as_one_line(void **state)
{
	struct natslib nl = {0};
	natsOptions *o = NULL;
	natsConnection *nc = NULL;
	const char *urls[] = {"nats://127.0.0.1:1"};
	char err[256], line[512];
	natsStatus s;

	assert_int_equal(natslib_load(&nl, err, sizeof(err)), 0);
	assert_int_equal(nl.natsOptions_Create(&o), NATS_OK);
	assert_int_equal(nl.natsOptions_SetServers(o, urls, 1), NATS_OK);
	assert_int_equal(nl.natsOptions_SetTimeout(o, 500), NATS_OK);
	s = nl.natsConnection_Connect(&nc, o);
	assert_int_equal(s, NATS_NO_SERVER);
	assert_null(nc);
	natslib_error(&nl, s, line, sizeof(line));
	assert_non_null(strstr(line, "No server available"));
	assert_null(strchr(line, '\n'));
	nl.natsOptions_Destroy(o);
}

static void test_error_before_load_says_so(void **state)
{
	struct natslib nl = {0};
	char line[64];

	assert_string_equal(natslib_error(&nl, NATS_ERR, line, sizeof(line)), "libnats not loaded");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load_resolves_the_table_once),
	    cmocka_unit_test(test_a_failed_connect_reads_as_one_line),
	    cmocka_unit_test(test_error_before_load_says_so),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
