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
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->root);
	assert_int_equal(system(cmd), 0);
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

/* what /proc/PID says in the test's proc root: the file it runs, its cgroup */
static void fake_proc(struct fixture *f, uint32_t pid, const char *runs, const char *cgroup)
{
	char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%u", f->root, pid);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/%u/exe", f->root, pid);
	if (runs)
		assert_int_equal(symlink(runs, path), 0);
	snprintf(path, sizeof(path), "%s/%u/cgroup", f->root, pid);
	assert_non_null(fp = fopen(path, "w"));
	fprintf(fp, "0::%s\n", cgroup);
	fclose(fp);
}

static const struct proc *exec_proc(struct fixture *f, uint32_t pid, uint32_t ppid,
				    const char *comm, const char *exe, const char *args,
				    size_t args_len)
{
	struct vigil_event ev = {.action = VA_EXEC, .pid = pid, .ppid = ppid};

	snprintf(ev.comm, sizeof(ev.comm), "%s", comm);
	ev.exec.start_ns = pid * 10000000ull;
	ev.exec.exe = (struct vstr){exe, strlen(exe)};
	ev.exec.args = (struct vstr){args, args_len};
	assert_true(enrich_event(f->en, &ev));
	assert_non_null(ev.proc);
	return ev.proc;
}

#define EXEC_P(f, pid, ppid, comm, exe, args) exec_proc(f, pid, ppid, comm, exe, args, sizeof(args))

/* a copy of a system binary owned by nobody, in the (world-writable) temp dir */
static void user_copy(struct fixture *f, const char *name, char *out, size_t len)
{
	char cmd[512];

	snprintf(out, len, "%s/bin/%s", f->root, name);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/bin && cp /usr/bin/sleep %s && chown 65534 %s",
		 f->root, out, out);
	assert_int_equal(system(cmd), 0);
}

/* a binary named ollama is trusted only where only root could have put it */
static void test_enrich_exe_match_needs_a_root_owned_file(void **state)
{
	struct fixture *f = *state;
	char mine[128];
	const struct proc *p;

	assert_int_equal(strv_push(&f->cfg->inference_executables, "sleep"), 0);
	fake_proc(f, 60, "/usr/bin/sleep", "/system.slice/x.service");
	p = EXEC_P(f, 60, 1, "sleep", "/usr/bin/sleep", "sleep\0009");
	assert_true(p->flags & PROC_INFERENCE);
	assert_int_equal(p->match, WL_EXE);
	user_copy(f, "ollama", mine, sizeof(mine));
	fake_proc(f, 61, mine, "/user.slice");
	p = EXEC_P(f, 61, 1, "ollama", mine, "ollama\0serve");
	assert_true(p->flags & PROC_INFERENCE);
	assert_int_equal(p->match, WL_COMM);
	/* the root-owned path, but the process runs another file (a bind mount in its namespace) */
	fake_proc(f, 62, mine, "/user.slice");
	assert_int_equal(EXEC_P(f, 62, 1, "sleep", "/usr/bin/sleep", "sleep\0009")->match, WL_COMM);
	/* gone before it could be checked */
	assert_int_equal(EXEC_P(f, 63, 1, "sleep", "/usr/bin/sleep", "sleep\0009")->match, WL_COMM);
	/* an interpreter: argv names the workload, the file does not */
	fake_proc(f, 64, "/usr/bin/python3", "/user.slice");
	p = EXEC_P(f, 64, 1, "python3", "/usr/bin/python3", "python3\0-m\0vllm.entrypoints.x");
	assert_true(p->flags & PROC_INFERENCE);
	assert_int_equal(p->match, WL_ARGV);
}

/* a unit or cgroup makes its first process the workload, what it starts its tree */
static void test_enrich_unit_and_cgroup_match_strongly(void **state)
{
	struct fixture *f = *state;
	const struct proc *p;

	assert_int_equal(strv_push(&f->cfg->inference_units, "fake-llm*.service"), 0);
	assert_int_equal(strv_push(&f->cfg->inference_cgroups, "/kubepods/*"), 0);
	fake_proc(f, 70, "/usr/bin/python3", "/system.slice/fake-llm.service");
	p = EXEC_P(f, 70, 1, "python3", "/usr/bin/python3", "python3\0server.py");
	assert_true(p->flags & PROC_INFERENCE);
	assert_int_equal(p->match, WL_UNIT);
	fork_of(f, 71, 70);
	fake_proc(f, 71, "/usr/bin/id", "/system.slice/fake-llm.service");
	p = EXEC_P(f, 71, 70, "id", "/usr/bin/id", "id");
	assert_int_equal(p->flags & (PROC_INFERENCE | PROC_INFERENCE_TREE), PROC_INFERENCE_TREE);
	assert_int_equal(p->match, WL_UNIT);
	/* the same unit name in a user's own manager is the user's, not the system's */
	fake_proc(f, 72, "/usr/bin/python3",
		  "/user.slice/user-1000.slice/user@1000.service/app.slice/fake-llm.service");
	p = EXEC_P(f, 72, 1, "python3", "/usr/bin/python3", "python3\0server.py");
	assert_int_equal(p->flags & PROC_INFERENCE, 0);
	fake_proc(f, 73, "/usr/bin/python3", "/kubepods/pod1/c1");
	assert_int_equal(EXEC_P(f, 73, 1, "python3", "/usr/bin/python3", "python3")->match,
			 WL_CGROUP);
}

/* multiprocessing's helpers by their exact argv, under a trusted workload only */
static void test_enrich_runtime_worker_is_the_exact_argv(void **state)
{
	struct fixture *f = *state;
	static const char spawn[] = "/usr/bin/python3\0-s\0-c\0from multiprocessing.spawn "
				    "import spawn_main; spawn_main(tracker_fd=5, pipe_handle=7)"
				    "\0--multiprocessing-fork";
	static const char tracker[] = "python3\0-c\0from multiprocessing.resource_tracker "
				      "import main;main(12)";
	static const char forged[] = "python3\0-c\0import os; os.system('cat t') # from "
				     "multiprocessing.spawn import spawn_main";
	static const char second[] = "python3\0-c\0from multiprocessing.resource_tracker "
				     "import main;main(__import__('os').system('id'))";

	assert_int_equal(strv_push(&f->cfg->inference_units, "fake-llm.service"), 0);
	fake_proc(f, 80, "/usr/bin/python3", "/system.slice/fake-llm.service");
	EXEC_P(f, 80, 1, "python3", "/usr/bin/python3", "python3\0server.py");
	assert_true(EXEC_P(f, 81, 80, "python3", "/usr/bin/python3", spawn)->flags &
		    PROC_RUNTIME_WORKER);
	assert_true(EXEC_P(f, 82, 80, "python3", "/usr/bin/python3", tracker)->flags &
		    PROC_RUNTIME_WORKER);
	assert_false(EXEC_P(f, 83, 80, "python3", "/usr/bin/python3", forged)->flags &
		     PROC_RUNTIME_WORKER);
	assert_false(EXEC_P(f, 84, 80, "python3", "/usr/bin/python3", second)->flags &
		     PROC_RUNTIME_WORKER);
	/* the same argv under a workload matched by argv alone is no runtime worker */
	EXEC_P(f, 90, 1, "python3", "/usr/bin/python3", "python3\0-m\0vllm.entrypoints.x");
	assert_false(EXEC_P(f, 91, 90, "python3", "/usr/bin/python3", spawn)->flags &
		     PROC_RUNTIME_WORKER);
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
	    cmocka_unit_test_setup_teardown(test_enrich_exe_match_needs_a_root_owned_file, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_enrich_unit_and_cgroup_match_strongly, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_enrich_runtime_worker_is_the_exact_argv, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
