// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/config.h"

static char path[] = "/tmp/vigil-cfg-XXXXXX";

static int load(const char *yaml, struct vigil_config **ret, char *err, size_t errlen)
{
	int fd = mkstemp(path);
	int r;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	assert_int_equal(config_defaults(ret), 0);
	r = config_load_file(*ret, path, err, errlen);
	unlink(path);
	strcpy(path, "/tmp/vigil-cfg-XXXXXX");
	return r;
}

static void test_config_defaults_work_without_file(void **state)
{
	struct vigil_config *c;

	assert_int_equal(config_defaults(&c), 0);
	assert_string_equal(c->events_file, "/var/log/vigil/events.jsonl");
	assert_true(strv_contains(&c->model_extensions, "safetensors"));
	assert_true(strv_contains(&c->ambiguous_extensions, "bin"));
	config_free(c);
}

static void test_config_values_override(void **state)
{
	struct vigil_config *c;
	char err[512] = "";

	assert_int_equal(load("output:\n  file: /tmp/x.jsonl\n  max_size: 10MiB\n"
			      "  heartbeat_interval: 5s\ncapture:\n  max_args_bytes: 1KiB\n"
			      "watch:\n  model_dirs: [/srv/models]\n",
			      &c, err, sizeof(err)),
			 0);
	assert_string_equal(c->events_file, "/tmp/x.jsonl");
	assert_int_equal(c->file_max_size, 10 << 20);
	assert_int_equal(c->heartbeat_ms, 5000);
	assert_int_equal(c->args_max, 1024);
	assert_int_equal(c->model_dirs.n, 1);
	config_free(c);
}

static void test_config_unknown_key_names_line(void **state)
{
	struct vigil_config *c;
	char err[512] = "";

	assert_int_not_equal(
	    load("output:\n  file: /tmp/x\n  rotate_size: 1\n", &c, err, sizeof(err)), 0);
	assert_non_null(strstr(err, ":3:3: unknown key \"output.rotate_size\""));
	config_free(c);
}

static void test_config_bad_values(void **state)
{
	struct vigil_config *c;
	char err[512] = "";

	assert_int_not_equal(load("output:\n  heartbeat_interval: soon\n", &c, err, sizeof(err)),
			     0);
	assert_non_null(strstr(err, ":2:23: output.heartbeat_interval: invalid duration"));
	config_free(c);
	assert_int_not_equal(load("capture:\n  max_args_bytes: 1GiB\n", &c, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "out of range"));
	config_free(c);
	assert_int_not_equal(load("watch:\n  model_dirs: /x\n", &c, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "watch.model_dirs: expected a list"));
	config_free(c);
	assert_int_not_equal(load("output: [\n", &c, err, sizeof(err)), 0);
	assert_non_null(strstr(err, ":2:1:"));
	config_free(c);
}

static void test_config_refuses_world_writable(void **state)
{
	struct vigil_config *c;
	char err[512] = "";
	int fd = mkstemp(path);

	close(fd);
	chmod(path, 0666);
	assert_int_equal(config_defaults(&c), 0);
	assert_int_not_equal(config_load_file(c, path, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "world-writable"));
	unlink(path);
	strcpy(path, "/tmp/vigil-cfg-XXXXXX");
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_defaults_work_without_file),
	    cmocka_unit_test(test_config_values_override),
	    cmocka_unit_test(test_config_unknown_key_names_line),
	    cmocka_unit_test(test_config_bad_values),
	    cmocka_unit_test(test_config_refuses_world_writable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
