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

#include "sense/proc_cache.h"

static char root[] = "/tmp/vigil-proc-XXXXXX";

#define PUT(pid, file, lit) put(pid, file, lit, sizeof(lit) - 1)

static void put(const char *pid, const char *file, const char *content, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, pid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", root, pid, file);
	f = fopen(path, "w");
	fwrite(content, 1, n, f);
	fclose(f);
}

/* A fake /proc: 1 (init) → 100 (bash) → 200 ("tricky) name" python with a deleted exe) */
static int setup(void **state)
{
	char exe[512];

	assert_non_null(mkdtemp(root));
	PUT("1", "stat", "1 (init) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0");
	PUT("1", "cmdline", "/sbin/init\0");
	PUT("100", "stat", "100 (bash) S 1 100 100 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0");
	PUT("100", "cmdline", "bash\0-l\0");
	PUT("100", "status",
	    "Name:\tbash\nUid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\n");
	PUT("100", "cgroup",
	    "0::/system.slice/"
	    "docker-3f1b5a0e9c2d4b6a8e7f1c3d5b7a9e0f2c4d6b8a0e1f3c5d7b9a1e3f5c7d9b1a.scope\n");
	PUT("200", "stat",
	    "200 (tricky) name) S 100 200 100 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 900 0 0");
	PUT("200", "cmdline", "python3\0-m\0vllm.entrypoints.openai.api_server\0");
	snprintf(exe, sizeof(exe), "%s/200/exe", root);
	symlink("/usr/bin/python3 (deleted)", exe);
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd);
}

static void test_proc_cache_seed_and_ancestry(void **state)
{
	struct proc_cache *pc;
	const struct proc *anc[8];
	struct proc *p;

	assert_int_equal(proc_cache_new(root, "boot-1", &pc), 0);
	assert_int_equal(proc_cache_seed(pc), 3);
	p = proc_cache_get(pc, 200);
	assert_non_null(p);
	assert_string_equal(p->name, "tricky) name");
	assert_int_equal(p->ppid, 100);
	assert_string_equal(p->exe, "/usr/bin/python3");
	assert_true(p->flags & PROC_EXE_DELETED);
	assert_int_equal(proc_cache_ancestors(pc, p, anc, 8), 2);
	assert_int_equal(anc[0]->pid, 100);
	assert_int_equal(anc[1]->pid, 1);
	assert_int_equal(anc[0]->uid, 1000);
	assert_string_equal(anc[0]->container.runtime, "docker");
	proc_cache_free(pc);
}

static void test_proc_cache_entity_id_stable_and_pid_reuse(void **state)
{
	struct proc_cache *pc;
	char id1[33], id2[33];
	struct proc *p;

	assert_int_equal(proc_cache_new(root, "boot-1", &pc), 0);
	p = proc_cache_fork(pc, 300, 200, 123 * 10000000ull);
	snprintf(id1, sizeof(id1), "%s", proc_cache_entity_id(pc, p));
	/* the same process seen again (e.g. after an agent restart) keeps its id */
	p = proc_cache_fork(pc, 300, 200, 123 * 10000000ull);
	assert_string_equal(proc_cache_entity_id(pc, p), id1);
	/* PID reuse: another start time, another id */
	proc_cache_exit(pc, 300, 1);
	p = proc_cache_fork(pc, 300, 200, 999 * 10000000ull);
	snprintf(id2, sizeof(id2), "%s", proc_cache_entity_id(pc, p));
	assert_string_not_equal(id1, id2);
	assert_false(p->flags & PROC_EXITED);
	proc_cache_free(pc);
}

static void test_proc_cache_fork_exec_exit_expire(void **state)
{
	struct proc_cache *pc;
	struct proc *parent, *p;

	assert_int_equal(proc_cache_new(root, "boot-1", &pc), 0);
	parent = proc_cache_exec(pc, 400, 1, 1000, 0, "server", "/usr/bin/vllm", 13, "vllm\0serve",
				 11, false);
	parent->flags |= PROC_INFERENCE;
	p = proc_cache_fork(pc, 401, 400, 2000);
	assert_string_equal(p->exe, "/usr/bin/vllm");
	p = proc_cache_exec(pc, 401, 400, 2000, 0, "sh", "/bin/sh", 7, "sh\0-c\0id", 9, false);
	assert_true(p->flags & PROC_INFERENCE_TREE);
	assert_string_equal(p->exe, "/bin/sh");
	assert_int_equal(p->args_len, 8);
	proc_cache_exit(pc, 401, 5000);
	proc_cache_expire(pc, 6000, 10000);
	assert_non_null(proc_cache_get(pc, 401)); /* still within grace */
	proc_cache_expire(pc, 20000, 10000);
	assert_null(proc_cache_get(pc, 401));
	proc_cache_free(pc);
}

static void test_proc_cache_miss_loads_from_proc(void **state)
{
	struct proc_cache *pc;
	struct proc_cache_stats st;

	assert_int_equal(proc_cache_new(root, "boot-1", &pc), 0);
	assert_non_null(proc_cache_get_or_load(pc, 100));
	assert_null(proc_cache_get_or_load(pc, 4242));
	proc_cache_stats(pc, &st);
	assert_int_equal(st.misses, 2);
	assert_int_equal(st.loaded, 1);
	proc_cache_free(pc);
}

/* A process found running from a memfd: /proc says "/memfd:NAME (deleted)". */
static void test_proc_cache_load_memfd_exe(void **state)
{
	char exe[512];
	struct proc_cache *pc;
	struct proc *p;

	PUT("4300", "stat", "4300 (x) S 1 4300 4300 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 950 0 0");
	snprintf(exe, sizeof(exe), "%s/4300/exe", root);
	assert_int_equal(symlink("/memfd:payload (deleted)", exe), 0);
	assert_int_equal(proc_cache_new(root, "boot-1", &pc), 0);
	p = proc_cache_get_or_load(pc, 4300);
	assert_non_null(p);
	assert_string_equal(p->exe, "/memfd:payload");
	assert_true(p->flags & PROC_EXE_DELETED);
	assert_true(p->flags & PROC_EXE_MEMFD);
	/* a deleted file is not a memfd */
	assert_false(proc_cache_get_or_load(pc, 200)->flags & PROC_EXE_MEMFD);
	proc_cache_free(pc);
	snprintf(exe, sizeof(exe), "rm -rf %s/4300", root); /* the other tests count /proc */
	assert_int_equal(system(exe), 0);
}

/* Exits lost (ring buffer overflowed): the resync forgets what /proc does not confirm. */
static void test_proc_cache_resync_drops_lost_exits_and_reused_pids(void **state)
{
	struct proc_cache *pc;
	struct proc_cache_stats st;
	uint64_t tick = 1000000000ull / sysconf(_SC_CLK_TCK);

	assert_int_equal(proc_cache_new(root, "boot-1", &pc), 0);
	assert_int_equal(proc_cache_seed(pc), 3);
	proc_cache_fork(pc, 4242, 100, 77 * tick); /* gone: no /proc/4242 */
	proc_cache_fork(pc, 4243, 100, 78 * tick); /* gone, but its exit was seen */
	proc_cache_exit(pc, 4243, 5);
	proc_cache_fork(pc, 100, 1, 501 * tick);   /* /proc/100 started at tick 500: reused */
	proc_cache_fork(pc, 200, 100, 900 * tick); /* matches /proc/200 */
	assert_int_equal(proc_cache_resync(pc), 2);
	assert_null(proc_cache_get(pc, 4242));
	assert_null(proc_cache_get(pc, 100));
	assert_non_null(proc_cache_get(pc, 4243)); /* left to expire after its grace */
	assert_non_null(proc_cache_get(pc, 200));
	assert_non_null(proc_cache_get(pc, 1));
	proc_cache_stats(pc, &st);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.resyncs, 1);
	assert_int_equal(st.resync_dropped, 2);
	proc_cache_free(pc);
}

/* A flood of processes whose exits are lost cannot grow the cache past its cap. */
static void test_proc_cache_cap_refuses_then_resync_makes_room(void **state)
{
	struct proc_cache *pc;
	struct proc_cache_stats st;

	assert_int_equal(proc_cache_new(root, "boot-1", &pc), 0);
	proc_cache_set_max(pc, 8);
	for (uint32_t pid = 5000; pid < 5100; pid++)
		proc_cache_fork(pc, pid, 1, pid);
	proc_cache_stats(pc, &st);
	assert_int_equal(st.entries, 8);
	assert_int_equal(st.refused, 92);
	assert_int_equal(st.max, 8);
	assert_null(proc_cache_get(pc, 5099));
	assert_non_null(proc_cache_fork(pc, 5000, 1, 1)); /* a known pid keeps its slot */
	assert_int_equal(proc_cache_resync(pc), 8);	  /* none of them is in /proc */
	assert_non_null(proc_cache_get_or_load(pc, 200)); /* room again */
	proc_cache_free(pc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_proc_cache_seed_and_ancestry),
	    cmocka_unit_test(test_proc_cache_entity_id_stable_and_pid_reuse),
	    cmocka_unit_test(test_proc_cache_fork_exec_exit_expire),
	    cmocka_unit_test(test_proc_cache_miss_loads_from_proc),
	    cmocka_unit_test(test_proc_cache_load_memfd_exe),
	    cmocka_unit_test(test_proc_cache_resync_drops_lost_exits_and_reused_pids),
	    cmocka_unit_test(test_proc_cache_cap_refuses_then_resync_makes_room),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
