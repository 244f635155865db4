// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "ship/ship.h"

static struct vigil_config *nats_config(void)
{
	struct vigil_config *c;

	assert_int_equal(config_defaults(&c), 0);
	assert_int_equal(strv_push(&c->nats_servers, "nats://127.0.0.1:1"), 0);
	return c;
}

static void set(char **field, const char *v)
{
	free(*field);
	*field = strdup(v);
}

static void test_no_servers_no_fleet(void **state)
{
	struct vigil_config *c;
	struct ship *s = (struct ship *)1;
	char err[256];

	assert_int_equal(config_defaults(&c), 0);
	assert_int_equal(ship_new(c, "h", err, sizeof(err), &s), 0);
	assert_null(s);
	assert_int_equal(ship_fd(s), -1);
	config_free(c);
}

/* Secrets others can read are refused, naming the key, the path and the fix. */
static void test_a_creds_file_others_can_read_is_refused(void **state)
{
	char path[] = "/tmp/vigil-creds-XXXXXX", err[512];
	int fd = mkstemp(path);
	struct vigil_config *c = nats_config();
	struct ship *s = NULL;

	assert_true(fd >= 0);
	close(fd);
	chmod(path, 0644);
	set(&c->nats_creds_file, path);
	assert_int_equal(ship_check(c, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "output.nats.creds_file"));
	assert_non_null(strstr(err, "chmod 600"));
	assert_int_equal(ship_new(c, "h", err, sizeof(err), &s), -EPERM);
	assert_null(s);
	chmod(path, 0600);
	assert_int_equal(ship_check(c, err, sizeof(err)), 0);
	unlink(path);
	config_free(c);
}

static void test_bad_names_and_half_tls_are_refused(void **state)
{
	struct vigil_config *c = nats_config();
	char err[512];

	set(&c->nats_subject_prefix, "vigil.*");
	assert_int_equal(ship_check(c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "output.nats.subject_prefix"));
	set(&c->nats_subject_prefix, "vigil");
	set(&c->nats_stream, "VIGIL.EVENTS");
	assert_int_equal(ship_check(c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "output.nats.stream"));
	set(&c->nats_stream, "VIGIL");
	set(&c->nats_tls_cert, "/etc/hostname");
	assert_int_equal(ship_check(c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "tls_cert and tls_key"));
	set(&c->nats_tls_cert, "");
	set(&c->nats_tls_ca, "/nonexistent/ca.pem");
	assert_int_equal(ship_check(c, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "output.nats.tls_ca /nonexistent/ca.pem"));
	config_free(c);
}

/* Built but not started (nothing listens on port 1): counters, no gap, no fd work. */
static void test_a_new_ship_reports_its_state(void **state)
{
	struct vigil_config *c = nats_config();
	struct ship *s = NULL;
	char err[512];
	json_t *st;

	assert_int_equal(ship_new(c, "h", err, sizeof(err), &s), 0);
	assert_non_null(s);
	assert_true(ship_fd(s) >= 0);
	st = ship_stats_json(s);
	assert_string_equal(json_string_value(json_object_get(st, "state")), "connecting");
	assert_string_equal(json_string_value(json_object_get(st, "stream")), "VIGIL");
	assert_int_equal(json_integer_value(json_object_get(st, "acked")), 0);
	json_decref(st);
	assert_null(ship_take_gap(s));
	ship_dispatch(s);
	assert_int_equal(ship_publish(s, "vigil.x", "a", 1), -ENOTCONN);
	ship_free(s, 0);
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_servers_no_fleet),
	    cmocka_unit_test(test_a_creds_file_others_can_read_is_refused),
	    cmocka_unit_test(test_bad_names_and_half_tls_are_refused),
	    cmocka_unit_test(test_a_new_ship_reports_its_state),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
