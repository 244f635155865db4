// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sense/proc_tree.h"

/* A child that waits to be killed; the caller reaps it. */
static pid_t sleeper(void)
{
	pid_t p = fork();

	if (p == 0) {
		pause();
		_exit(0);
	}
	assert_true(p > 0);
	return p;
}

static void test_proc_start_ticks_matches_proc_stat_field_22(void **state)
{
	uint64_t a, b;

	(void)state;
	assert_int_equal(proc_start_ticks(getpid(), &a), 0);
	assert_int_equal(proc_start_ticks(getpid(), &b), 0);
	assert_true(a == b && a > 0);
	assert_int_equal(proc_start_ticks(getppid(), &b), 0);
	assert_true(b <= a); /* a parent starts first */
}

static void test_pidfd_open_verified_refuses_another_start_time(void **state)
{
	pid_t p = sleeper();
	uint64_t start = 0;
	int fd = -1;

	(void)state;
	assert_int_equal(pidfd_open_verified(p, 0, &fd, &start), 0);
	assert_true(fd >= 0 && start > 0);
	close(fd);
	fd = -1;
	assert_int_equal(pidfd_open_verified(p, start, &fd, NULL), 0);
	close(fd);
	fd = -1;
	/* the same pid, a process that started at another time: a reused pid */
	assert_int_equal(pidfd_open_verified(p, start + 1, &fd, NULL), -ESTALE);
	assert_int_equal(fd, -1);
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	assert_int_equal(pidfd_open_verified(p, start, &fd, NULL), -ESRCH);
}

static void test_proc_tree_signal_leaves_a_reused_pid_alone(void **state)
{
	struct guard g;
	struct strv none = {0};
	pid_t p = sleeper();
	uint64_t start;
	unsigned sent, skipped;
	char err[256] = "";
	int status;

	(void)state;
	guard_init(&g, &none);
	assert_int_equal(proc_start_ticks(p, &start), 0);
	assert_int_equal(proc_tree_signal(&g, p, start + 1, false, NULL, SIGKILL, &sent, &skipped,
					  err, sizeof(err)),
			 -ESTALE);
	assert_non_null(strstr(err, "was reused"));
	assert_int_equal(sent, 0);
	assert_int_equal(waitpid(p, &status, WNOHANG), 0); /* still running */
	assert_int_equal(
	    proc_tree_signal(&g, p, start, false, NULL, SIGKILL, &sent, &skipped, err, sizeof(err)),
	    0);
	assert_int_equal(sent, 1);
	assert_int_equal(waitpid(p, &status, 0), p);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* SIGTERM and reap p: killed if it runs, still stopped (then SIGKILLed) if it was left stopped. */
static bool left_stopped(pid_t p)
{
	int status;

	kill(p, SIGTERM);
	assert_int_equal(waitpid(p, &status, WUNTRACED), p);
	if (!WIFSTOPPED(status))
		return false;
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
	return true;
}

/*
 * A kill-tree playbook after the target exited: the cache still lists a
 * child (stopped first, then continued: it is not in the tree) and a pid
 * since reused by another process (its start differs: never stopped).
 */
static void test_proc_tree_stop_leaves_no_hinted_process_stopped(void **state)
{
	struct guard g;
	struct strv none = {0};
	pid_t gone = sleeper(), child = sleeper(), reused = sleeper();
	uint64_t s_child, s_reused;
	struct proc_tree t = {0};

	(void)state;
	guard_init(&g, &none);
	kill(gone, SIGKILL);
	waitpid(gone, NULL, 0);
	assert_int_equal(proc_start_ticks(child, &s_child), 0);
	assert_int_equal(proc_start_ticks(reused, &s_reused), 0);
	pid_t pids[] = {gone, child, reused};
	uint64_t starts[] = {1, s_child, s_reused + 1};
	struct proc_tree hint = {.pids = pids, .starts = starts, .n = 3};

	assert_int_equal(proc_tree_stop(&g, gone, 1, true, &hint, &t), -ESRCH);
	bool child_stopped = left_stopped(child), reused_stopped = left_stopped(reused);

	assert_false(child_stopped);
	assert_false(reused_stopped);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_proc_start_ticks_matches_proc_stat_field_22),
	    cmocka_unit_test(test_pidfd_open_verified_refuses_another_start_time),
	    cmocka_unit_test(test_proc_tree_signal_leaves_a_reused_pid_alone),
	    cmocka_unit_test(test_proc_tree_stop_leaves_no_hinted_process_stopped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
