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

#include "sense/enrich.h"

/* the default selectors and launchers over an empty /proc: only events teach the cache */
struct fixture {
	char root[32];
	struct vigil_config *cfg;
	struct proc_cache *pc;
	struct enricher *en;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->root, "/tmp/vigil-enrich-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	assert_int_equal(config_defaults(&f->cfg), 0);
	assert_int_equal(proc_cache_new(f->root, "boot-1", &f->pc), 0);
	assert_int_equal(enrich_new(f->cfg, f->pc, &f->en), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	enrich_free(f->en);
	proc_cache_free(f->pc);
	config_free(f->cfg);
	rmdir(f->root);
	free(f);
	return 0;
}

/* an exec by pid, started at pid centiseconds (one process per pid unless exec_at says) */
#define EXEC(f, pid, ppid, comm, exe, args) \
	exec_at(f, pid, ppid, pid, comm, exe, args, sizeof(args))

static uint32_t exec_at(struct fixture *f, uint32_t pid, uint32_t ppid, uint64_t start_cs,
			const char *comm, const char *exe, const char *args, size_t args_len)
{
	struct vigil_event ev = {.action = VA_EXEC, .pid = pid, .ppid = ppid};
	const struct proc *p;

	snprintf(ev.comm, sizeof(ev.comm), "%s", comm);
	ev.exec.start_ns = start_cs * 10000000ull;
	ev.exec.exe = (struct vstr){exe, strlen(exe)};
	ev.exec.args = (struct vstr){args, args_len};
	assert_true(enrich_event(f->en, &ev));
	p = ev.proc;
	assert_non_null(p);
	return p->flags & (PROC_INFERENCE | PROC_INFERENCE_TREE);
}

static void fork_of(struct fixture *f, uint32_t pid, uint32_t ppid)
{
	struct vigil_event ev = {.action = VA_FORK, .pid = pid, .ppid = ppid};

	ev.fork.start_ns = pid * 10000000ull;
	assert_false(enrich_event(f->en, &ev));
}

/* `sh -c "vllm serve …"`: the shell starts the server, the server's shell is its tree */
static void test_enrich_shell_wrapper_is_a_launcher_not_the_workload(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(EXEC(f, 10, 1, "sh", "/usr/bin/dash", "sh\0-c\0vllm serve /m; exit $?"),
			 0);
	fork_of(f, 11, 10);
	assert_int_equal(EXEC(f, 11, 10, "vllm", "/usr/bin/python3.11", "vllm\0serve\0/m"),
			 PROC_INFERENCE);
	fork_of(f, 12, 11);
	assert_int_equal(EXEC(f, 12, 11, "sh", "/usr/bin/dash", "sh\0-c\0id"), PROC_INFERENCE_TREE);
	/* the launcher's other children are not the server's */
	fork_of(f, 13, 10);
	assert_int_equal(EXEC(f, 13, 10, "sleep", "/usr/bin/sleep", "sleep\0001"), 0);
	/* a shell the server spawns stays its tree even when its argv names a workload */
	fork_of(f, 14, 11);
	assert_int_equal(EXEC(f, 14, 11, "sh", "/usr/bin/dash", "sh\0-c\0python -m vllm x"),
			 PROC_INFERENCE_TREE);
}

/* a pyenv shim runs as bash under the shim's name, then execs the interpreter in place */
static void test_enrich_shim_and_env_exec_into_the_workload(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(EXEC(f, 20, 1, "python3", "/usr/bin/bash",
			      "bash\0/root/.pyenv/shims/python3\0-m\0vllm.entrypoints.openai"),
			 0);
	assert_int_equal(EXEC(f, 20, 1, "pyenv", "/usr/bin/bash",
			      "bash\0/root/.pyenv/libexec/pyenv\0exec\0python3\0-m\0vllm.x"),
			 0);
	assert_int_equal(EXEC(f, 20, 1, "python3", "/usr/bin/python3.11", "python3\0-m\0vllm.x"),
			 PROC_INFERENCE);
	assert_int_equal(EXEC(f, 30, 1, "env", "/usr/bin/env", "env\0A=1\0vllm\0serve"), 0);
	assert_int_equal(EXEC(f, 30, 1, "vllm", "/usr/local/bin/vllm", "vllm\0serve"),
			 PROC_INFERENCE);
	assert_int_equal(EXEC(f, 40, 1, "tini", "/usr/bin/tini", "tini\0--\0vllm\0serve"), 0);
}

/* a payload's execve("/bin/sh") in the server's own process: no fork, still its tree */
static void test_enrich_workload_exec_into_a_shell_stays_in_its_tree(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(EXEC(f, 50, 1, "vllm", "/usr/local/bin/vllm", "vllm\0serve"),
			 PROC_INFERENCE);
	assert_int_equal(EXEC(f, 50, 1, "sh", "/usr/bin/dash", "sh\0-c\0id"), PROC_INFERENCE_TREE);
	/* a new process under the same pid (reuse) does not inherit it */
	assert_int_equal(exec_at(f, 50, 1, 99, "sh", "/usr/bin/dash", "sh\0-c\0id", 9), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_enrich_shell_wrapper_is_a_launcher_not_the_workload, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enrich_shim_and_env_exec_into_the_workload, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_enrich_workload_exec_into_a_shell_stays_in_its_tree, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
