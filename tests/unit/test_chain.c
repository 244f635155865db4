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

#include "stream/chain.h"
#include "stream/file_sink.h"

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

struct breaks {
	unsigned n;
	uint64_t line[8];
	char reason[8][320];
};

static void on_break(void *ctx, const char *f, uint64_t line, const char *reason)
{
	struct breaks *b = ctx;

	if (b->n < 8) {
		b->line[b->n] = line;
		snprintf(b->reason[b->n], sizeof(b->reason[0]), "%s", reason);
	}
	b->n++;
}

static struct breaks got;

static int verify_opt(char **files, unsigned n, bool continued, struct chain_result *res)
{
	struct chain_verify_opts o = {.continued = continued, .on_break = on_break, .ctx = &got};

	memset(&got, 0, sizeof(got));
	return chain_verify(files, n, &o, res);
}

static int verify(char **files, unsigned n, struct chain_result *res)
{
	return verify_opt(files, n, false, res);
}

/* A fresh stream: no events file, no rotated ones (a sink continues their chain). */
static void reset(void)
{
	char rotated[300];

	unlink(file);
	for (int i = 1; i <= 5; i++) {
		snprintf(rotated, sizeof(rotated), "%s.%d", file, i);
		unlink(rotated);
	}
}

static void append(const char *s)
{
	FILE *f = fopen(file, "a");

	assert_non_null(f);
	fputs(s, f);
	fclose(f);
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
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "chattr -R -a %s 2>/dev/null; rm -rf %s", dir, dir);
	return system(cmd);
}

static void test_chain_intact_across_restart(void **state)
{
	struct chain_result res;
	char *files[] = {file};

	reset();
	write_lines(10, 1 << 30);
	write_lines(10, 1 << 30); /* a restart continues the chain */
	assert_int_equal(verify(files, 1, &res), 0);
	assert_int_equal(res.lines, 20);
}

static void test_chain_detects_edit_delete_insert_reorder(void **state)
{
	struct chain_result res;
	char *files[] = {file};

	reset();
	write_lines(10, 1 << 30);
	rewrite("5s/\"sequence\":4/\"sequence\":44/", file);
	assert_int_equal(verify(files, 1, &res), 1);
	assert_int_equal(got.line[0], 5);

	reset();
	write_lines(10, 1 << 30);
	rewrite("7d", file);
	assert_int_equal(verify(files, 1, &res), 1);
	assert_int_equal(got.line[0], 6);

	reset();
	write_lines(10, 1 << 30);
	rewrite("3{h;d};4G", file); /* swap lines 3 and 4: three links broken */
	assert_int_equal(verify(files, 1, &res), 3);
	assert_int_equal(got.line[0], 2);
	assert_int_equal(got.line[2], 4);
}

/* Not only the first: each break once, with its line, and the lines after it checked. */
static void test_chain_reports_every_break(void **state)
{
	struct chain_result res;
	char *files[] = {file};

	reset();
	write_lines(20, 1 << 30);
	rewrite("3s/\"sequence\":2/\"sequence\":22/", file);
	rewrite("9s/.*/not json/", file);
	rewrite("15d", file);
	assert_int_equal(verify(files, 1, &res), 4);
	assert_int_equal(res.lines, 19);
	assert_int_equal(got.line[0], 3);  /* edited: its link to line 4 */
	assert_int_equal(got.line[1], 9);  /* replaced: line 9 is no JSON ... */
	assert_int_equal(got.line[2], 9);  /* ... and line 10 does not link to it */
	assert_int_equal(got.line[3], 14); /* deleted */
	assert_non_null(strstr(got.reason[1], "line 9 is not valid JSON"));
	assert_non_null(strstr(got.reason[3], "between lines 14 and 15"));
}

/* Lines cut from the front: the oldest file's first line must be the genesis. */
static void test_chain_checks_the_genesis(void **state)
{
	struct chain_result res;
	char *files[] = {file};

	reset();
	write_lines(5, 1 << 30);
	rewrite("1d", file);
	assert_int_equal(verify(files, 1, &res), 1);
	assert_int_equal(got.line[0], 1);
	assert_non_null(strstr(got.reason[0], "genesis"));
	assert_int_equal(verify_opt(files, 1, true, &res), 0); /* --continued: older files gone */
}

/* A crash mid-write: the torn tail is cut at open, reported, and the chain verifies. */
static void test_file_sink_cuts_a_torn_last_line(void **state)
{
	static const char torn[] = "{\"event\":{\"sequence\":5,\"act";
	const struct file_sink_found *f;
	struct chain_result res;
	struct file_sink *fs;
	char *files[] = {file};

	reset();
	write_lines(5, 1 << 30);
	append(torn);
	assert_int_equal(file_sink_open(file, 1 << 30, 5, 1 << 20, &fs), 0);
	f = file_sink_found(fs);
	assert_int_equal(f->torn_bytes, strlen(torn));
	assert_true(f->previous);
	assert_int_equal(f->tail.sequence, 4);
	assert_false(f->tail.clean);
	file_sink_close(fs);
	write_lines(3, 1 << 30);
	assert_int_equal(verify(files, 1, &res), 0);
	assert_int_equal(res.lines, 8);
}

/* An append-only events file (chattr +a) cannot be cut: the line is ended, verify names it. */
static void test_file_sink_ends_a_torn_line_it_cannot_cut(void **state)
{
	static const char torn[] = "{\"event\":{\"seq";
	struct chain_result res;
	struct file_sink *fs;
	char *files[] = {file}, cmd[600];

	reset();
	write_lines(3, 1 << 30);
	append(torn);
	snprintf(cmd, sizeof(cmd), "chattr +a %s 2>/dev/null", file);
	if (system(cmd) != 0)
		skip(); /* a file system without the append-only attribute */
	assert_int_equal(file_sink_open(file, 1 << 30, 5, 1 << 20, &fs), 0);
	assert_true(file_sink_found(fs)->torn_kept);
	assert_int_equal(file_sink_found(fs)->torn_bytes, strlen(torn));
	assert_int_equal(file_sink_found(fs)->tail.sequence, 2); /* the last whole line's */
	file_sink_close(fs);
	write_lines(2, 1 << 30);
	snprintf(cmd, sizeof(cmd), "chattr -a %s", file);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(verify(files, 1, &res), 1);
	assert_int_equal(got.line[0], 4);
	assert_non_null(strstr(got.reason[0], "not valid JSON"));
	assert_int_equal(res.lines, 6);
}

/* The previous run's end, as agent-start tells it: agent-stop last means a clean stop. */
static void test_file_sink_finds_the_previous_run(void **state)
{
	static const char stop[] =
	    "{\"event\":{\"action\":\"agent-stop\",\"sequence\":77},\"agent\":{\"ephemeral_id\":"
	    "\"abc\"},\"vigil\":{}}";
	const struct file_sink_found *f;
	struct file_sink *fs;

	reset();
	assert_int_equal(file_sink_open(file, 1 << 30, 5, 1 << 20, &fs), 0);
	assert_false(file_sink_found(fs)->previous);
	assert_int_equal(file_sink_write(fs, stop, strlen(stop)), 0);
	file_sink_close(fs);
	assert_int_equal(file_sink_open(file, 1 << 30, 5, 1 << 20, &fs), 0);
	f = file_sink_found(fs);
	assert_true(f->previous && f->tail.clean);
	assert_int_equal(f->tail.sequence, 77);
	assert_string_equal(f->tail.run_id, "abc");
	assert_string_equal(f->tail.head, file_sink_chain_head(fs));
	assert_int_equal(f->torn_bytes, 0);
	file_sink_close(fs);
}

static void test_chain_continues_across_rotation(void **state)
{
	struct chain_result res;
	char f1[300], f2[300];
	char *files[] = {f2, f1, file};

	snprintf(f1, sizeof(f1), "%s.1", file);
	snprintf(f2, sizeof(f2), "%s.2", file);
	reset();
	write_lines(60, 1500); /* ~50-byte lines: rotates every ~20 lines, flush by flush */
	assert_int_equal(access(f1, F_OK), 0);
	/* more files than the three named were written: the oldest named is not the first */
	assert_int_equal(verify(files, 3, &res), 1);
	assert_non_null(strstr(got.reason[0], "genesis"));
	assert_int_equal(verify_opt(files, 3, true, &res), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chain_intact_across_restart),
	    cmocka_unit_test(test_chain_detects_edit_delete_insert_reorder),
	    cmocka_unit_test(test_chain_continues_across_rotation),
	    cmocka_unit_test(test_chain_reports_every_break),
	    cmocka_unit_test(test_chain_checks_the_genesis),
	    cmocka_unit_test(test_file_sink_cuts_a_torn_last_line),
	    cmocka_unit_test(test_file_sink_ends_a_torn_line_it_cannot_cut),
	    cmocka_unit_test(test_file_sink_finds_the_previous_run),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
