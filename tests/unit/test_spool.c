// SPDX-License-Identifier: GPL-2.0
/* The webhook outbox: durable, ordered across restarts, bounded, hostile ids refused. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "respond/spool.h"

static char dir[] = "/tmp/vigil-spool-XXXXXX";
static char sub[64];

static int setup(void **state)
{
	strcpy(dir, "/tmp/vigil-spool-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sub, sizeof(sub), "%s/spool", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void expect_head(struct spool *s, const char *id, const char *body)
{
	struct spool_msg m;

	assert_int_equal(spool_peek(s, &m), 0);
	assert_string_equal(m.id, id);
	assert_string_equal(m.body, body);
	free(m.body);
}

static void test_spool_keeps_order_across_a_restart(void **state)
{
	struct spool *s;
	struct spool_stats st;
	struct stat sb;

	assert_int_equal(spool_open(sub, 1 << 20, &s), 0);
	assert_int_equal(stat(sub, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	assert_int_equal(spool_put(s, "msg_a", "{\"n\":1}", 7), 0);
	assert_int_equal(spool_put(s, "msg_b", "{\"n\":2}", 7), 0);
	assert_int_equal(spool_put(s, "msg_c", "{\"n\":3}", 7), 0);
	spool_close(s);
	/* a crashed write left a temporary file behind: it is not a message */
	{
		char tmp[128];
		int fd;

		snprintf(tmp, sizeof(tmp), "%s/00000000000000000009-msg_x.msg.tmp", sub);
		fd = open(tmp, O_WRONLY | O_CREAT, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	assert_int_equal(spool_open(sub, 1 << 20, &s), 0); /* "restart" */
	spool_stats(s, &st);
	assert_int_equal(st.pending, 3);
	assert_int_equal(st.bytes, 21);
	expect_head(s, "msg_a", "{\"n\":1}");
	assert_int_equal(spool_done(s, "msg_a"), 0);
	expect_head(s, "msg_b", "{\"n\":2}");
	assert_int_equal(spool_put(s, "msg_d", "{\"n\":4}", 7), 0); /* after the survivors */
	assert_int_equal(spool_done(s, "msg_b"), 0);
	assert_int_equal(spool_done(s, "msg_c"), 0);
	expect_head(s, "msg_d", "{\"n\":4}");
	assert_int_equal(spool_done(s, "msg_d"), 0);
	assert_int_equal(spool_done(s, "msg_d"), -2);
	{
		struct spool_msg m;

		assert_int_equal(spool_peek(s, &m), -2);
	}
	spool_close(s);
}

static void test_spool_budget_and_hostile_ids(void **state)
{
	struct spool *s;
	struct spool_stats st;

	assert_int_equal(spool_open(sub, 10, &s), 0);
	assert_int_equal(spool_put(s, "m1", "123456", 6), 0);
	assert_int_equal(spool_put(s, "m2", "123456", 6), -28); /* ENOSPC: full */
	assert_int_equal(spool_put(s, "../../etc/passwd", "x", 1), -22);
	assert_int_equal(spool_put(s, "a b", "x", 1), -22);
	assert_int_equal(spool_put(s, "", "x", 1), -22);
	spool_stats(s, &st);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.pending, 1);
	assert_int_equal(spool_done(s, "m1"), 0);
	assert_int_equal(spool_put(s, "m2", "123456", 6), 0); /* room again */
	spool_close(s);
}

static void touch(const char *name)
{
	char path[160];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", sub, name);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
}

static bool exists(const char *name)
{
	char path[160];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", sub, name);
	return stat(path, &sb) == 0;
}

static void test_spool_crash_leftovers_and_removed_files(void **state)
{
	struct spool *s;
	struct spool_stats st;
	char path[160];

	assert_int_equal(spool_open(sub, 1 << 20, &s), 0);
	assert_int_equal(spool_put(s, "msg_a", "a", 1), 0);
	assert_int_equal(spool_put(s, "msg_b", "b", 1), 0);
	assert_int_equal(spool_put(s, "msg_c", "c", 1), 0);
	spool_close(s);
	/* write_file_atomic_at's temporary of a write cut short by a crash */
	touch(".00000000000000000007-msg_x.msg.tmp");
	/* someone removed the oldest message by hand */
	snprintf(path, sizeof(path), "%s/00000000000000000001-msg_a.msg", sub);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(spool_open(sub, 1 << 20, &s), 0);
	assert_false(exists(".00000000000000000007-msg_x.msg.tmp"));
	spool_stats(s, &st);
	assert_int_equal(st.pending, 2);
	/* removed while running: skipped, not a head that blocks the rest forever */
	snprintf(path, sizeof(path), "%s/00000000000000000002-msg_b.msg", sub);
	assert_int_equal(unlink(path), 0);
	expect_head(s, "msg_c", "c");
	spool_stats(s, &st);
	assert_int_equal(st.vanished, 1);
	assert_int_equal(st.pending, 1);
	/* refused for good: kept under failed/, out of the queue and the budget */
	assert_int_equal(spool_reject(s, "msg_c"), 0);
	assert_true(exists("failed/00000000000000000003-msg_c.msg"));
	spool_stats(s, &st);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.bytes, 0);
	spool_close(s);
}

/* A head that cannot be read (shrunk behind our back) is set aside, not retried forever. */
static void test_spool_unreadable_head_is_set_aside(void **state)
{
	struct spool *s;
	struct spool_stats st;
	char path[160];

	assert_int_equal(spool_open(sub, 1 << 20, &s), 0);
	assert_int_equal(spool_put(s, "msg_a", "aaaa", 4), 0);
	assert_int_equal(spool_put(s, "msg_b", "b", 1), 0);
	snprintf(path, sizeof(path), "%s/00000000000000000001-msg_a.msg", sub);
	assert_int_equal(truncate(path, 2), 0);
	expect_head(s, "msg_b", "b");
	assert_true(exists("failed/00000000000000000001-msg_a.msg"));
	spool_stats(s, &st);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.pending, 1);
	spool_close(s);
}

#define NMSG 300

static void *producer(void *arg)
{
	struct spool *s = arg;
	char id[32], body[32];

	for (int i = 0; i < NMSG; i++) {
		snprintf(id, sizeof(id), "msg_%d", i);
		snprintf(body, sizeof(body), "{\"n\":%d}", i);
		if (spool_put(s, id, body, strlen(body)) < 0)
			return (void *)1;
	}
	return NULL;
}

/* The event loop puts while the delivery thread takes: each message once, in order. */
static void test_spool_shared_by_two_threads(void **state)
{
	struct spool *s;
	pthread_t t;
	time_t deadline = time(NULL) + 30; /* unlocked, the consumer may never see a message */
	void *res;
	int next = 0;

	assert_int_equal(spool_open(sub, 1 << 20, &s), 0);
	assert_int_equal(pthread_create(&t, NULL, producer, s), 0);
	while (next < NMSG) {
		struct spool_msg m;
		char want[32];

		assert_true(time(NULL) < deadline);
		if (spool_peek(s, &m) < 0)
			continue;
		snprintf(want, sizeof(want), "msg_%d", next++);
		assert_string_equal(m.id, want);
		assert_int_equal(spool_done(s, m.id), 0);
		free(m.body);
	}
	assert_int_equal(pthread_join(t, &res), 0);
	assert_null(res);
	{
		struct spool_stats st;

		spool_stats(s, &st);
		assert_int_equal(st.pending, 0);
		assert_int_equal(st.bytes, 0);
	}
	spool_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_spool_keeps_order_across_a_restart, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_spool_budget_and_hostile_ids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spool_crash_leftovers_and_removed_files, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_spool_unreadable_head_is_set_aside, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_spool_shared_by_two_threads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
