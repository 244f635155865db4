// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ship/cursor.h"
#include "stream/file_sink.h"

/* Lines written by the real file sink (chained, rotated every ~3 lines). */
struct series {
	char dir[64], path[96];
	struct file_sink *fs;
	unsigned n;
};

static void write_lines(struct series *s, unsigned n)
{
	char line[128];

	for (unsigned i = 0; i < n; i++, s->n++) {
		int len = snprintf(line, sizeof(line), "{\"event\":{\"id\":\"e-%u\"},\"vigil\":{}}",
				   s->n);

		assert_int_equal(file_sink_write(s->fs, line, len), 0);
	}
	file_sink_flush(s->fs);
}

static void series_open(struct series *s)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/vigil-cursor-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/events.jsonl", s->dir);
	assert_int_equal(file_sink_open(s->path, 300, 50, 1 << 20, &s->fs), 0);
	s->n = 0;
}

static void series_close(struct series *s)
{
	char cmd[128];

	file_sink_close(s->fs);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", s->dir);
	assert_int_equal(system(cmd), 0);
}

/* The next line must be e-<want>; returns its end cursor. */
static struct ship_cursor expect(struct reader *r, unsigned want, bool gap)
{
	struct reader_line l;
	char id[32];

	assert_int_equal(reader_next(r, &l), 1);
	snprintf(id, sizeof(id), "\"e-%u\"", want);
	assert_non_null(memmem(l.p, l.len, id, strlen(id)));
	assert_int_equal(l.gap, gap);
	return l.end;
}

static void test_reads_every_line_across_rotation_in_order(void **state)
{
	struct series s;
	struct reader *r;
	struct reader_line l;
	uint64_t bytes, lines;
	bool capped;

	series_open(&s);
	write_lines(&s, 10);
	assert_int_equal(reader_new(s.path, 50, NULL, &r), 0);
	reader_backlog(r, 1 << 20, &bytes, &lines, &capped);
	assert_int_equal(lines, 10);
	assert_false(capped);
	for (unsigned i = 0; i < 10; i++)
		expect(r, i, false);
	assert_int_equal(reader_next(r, &l), 0); /* at the live file's end */
	write_lines(&s, 7);			 /* more, rotated while the reader waits */
	for (unsigned i = 10; i < 17; i++)
		expect(r, i, false);
	assert_int_equal(reader_next(r, &l), 0);
	reader_backlog(r, 1 << 20, &bytes, &lines, &capped);
	assert_int_equal(lines, 0);
	assert_int_equal(bytes, 0);
	reader_free(r);
	series_close(&s);
}

static void test_resumes_after_the_saved_cursor(void **state)
{
	struct series s;
	struct reader *r;
	struct ship_cursor c, back;
	char cpath[128];

	series_open(&s);
	write_lines(&s, 12);
	assert_int_equal(reader_new(s.path, 50, NULL, &r), 0);
	for (unsigned i = 0; i < 5; i++)
		c = expect(r, i, false);
	reader_free(r);
	snprintf(c.id, sizeof(c.id), "e-4");
	snprintf(cpath, sizeof(cpath), "%s/ship.cursor", s.dir);
	assert_int_equal(cursor_save(cpath, &c), 0);
	assert_int_equal(cursor_load(cpath, &back), 0);
	assert_memory_equal(&back, &c, sizeof(c));
	write_lines(&s, 3); /* rotations since: the cursor's file has another name now */
	assert_int_equal(reader_new(s.path, 50, &back, &r), 0);
	for (unsigned i = 5; i < 15; i++)
		expect(r, i, false);
	reader_free(r);
	series_close(&s);
}

/* Retention removed the files the cursor had not reached: the chain says so. */
static void test_removed_files_are_a_gap(void **state)
{
	struct series s;
	struct reader *r;
	struct ship_cursor c;
	char name[160];

	series_open(&s);
	write_lines(&s, 6);
	assert_int_equal(reader_new(s.path, 50, NULL, &r), 0);
	for (unsigned i = 0; i < 2; i++)
		c = expect(r, i, false);
	reader_free(r);
	write_lines(&s, 6);
	for (unsigned age = 2; age <= 50; age++) { /* every rotated file but the newest */
		snprintf(name, sizeof(name), "%s.%u", s.path, age);
		unlink(name);
	}
	assert_int_equal(reader_new(s.path, 50, &c, &r), 0);
	struct reader_line l;

	assert_int_equal(reader_next(r, &l), 1);
	assert_true(l.gap);
	reader_free(r);
	series_close(&s);
}

static void test_an_unreadable_cursor_is_einval(void **state)
{
	char path[] = "/tmp/vigil-cursor-bad-XXXXXX";
	int fd = mkstemp(path);
	struct ship_cursor c;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"dev\":1}", 9), 9);
	close(fd);
	assert_int_equal(cursor_load(path, &c), -EINVAL);
	unlink(path);
	assert_int_equal(cursor_load(path, &c), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reads_every_line_across_rotation_in_order),
	    cmocka_unit_test(test_resumes_after_the_saved_cursor),
	    cmocka_unit_test(test_removed_files_are_a_gap),
	    cmocka_unit_test(test_an_unreadable_cursor_is_einval),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
