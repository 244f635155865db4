// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "vigil/chain.h"
#include "vigil/file_sink.h"

static char dir[] = "/tmp/vigil-chain-XXXXXX";
static char file[256];

static void write_lines(int n, uint64_t max_size)
{
	struct file_sink *fs;
	char line[128];

	assert_int_equal(file_sink_open(file, max_size, 5, 1 << 20, &fs), 0);
	for (int i = 0; i < n; i++) {
		int len =
		    snprintf(line, sizeof(line), "{\"event\":{\"sequence\":%d},\"vigil\":{}}", i);

		assert_int_equal(file_sink_write(fs, line, len) < 0 ? -1 : 0, 0);
	}
	file_sink_close(fs);
}

static int verify(char **files, unsigned n, struct chain_result *res)
{
	return chain_verify(files, n, res);
}

static void rewrite(const char *from, const char *to)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "sed -i '%s' %s", from, to);
	assert_int_equal(system(cmd), 0);
	(void)to;
}

static int setup(void **state)
{
	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/events.jsonl", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void test_chain_intact_across_restart(void **state)
{
	struct chain_result res;
	char *files[] = {file};

	unlink(file);
	write_lines(10, 1 << 30);
	write_lines(10, 1 << 30); /* a restart continues the chain */
	assert_int_equal(verify(files, 1, &res), 0);
	assert_int_equal(res.lines, 20);
}

static void test_chain_detects_edit_delete_insert_reorder(void **state)
{
	struct chain_result res;
	char *files[] = {file};

	unlink(file);
	write_lines(10, 1 << 30);
	rewrite("5s/\"sequence\":4/\"sequence\":44/", file);
	assert_int_equal(verify(files, 1, &res), 1);
	assert_int_equal(res.line, 5);

	unlink(file);
	write_lines(10, 1 << 30);
	rewrite("7d", file);
	assert_int_equal(verify(files, 1, &res), 1);
	assert_int_equal(res.line, 6);

	unlink(file);
	write_lines(10, 1 << 30);
	rewrite("3{h;d};4G", file); /* swap lines 3 and 4 */
	assert_int_equal(verify(files, 1, &res), 1);
	assert_int_equal(res.line, 2);
}

static void test_chain_continues_across_rotation(void **state)
{
	struct chain_result res;
	char f1[300], f2[300];
	char *files[] = {f2, f1, file};

	snprintf(f1, sizeof(f1), "%s.1", file);
	snprintf(f2, sizeof(f2), "%s.2", file);
	unlink(file);
	write_lines(60, 1500); /* ~50-byte lines: rotates every ~20 lines, flush by flush */
	assert_int_equal(access(f1, F_OK), 0);
	assert_int_equal(verify(files, 3, &res), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chain_intact_across_restart),
	    cmocka_unit_test(test_chain_detects_edit_delete_insert_reorder),
	    cmocka_unit_test(test_chain_continues_across_rotation),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
