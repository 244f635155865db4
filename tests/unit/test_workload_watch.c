// SPDX-License-Identifier: GPL-2.0
/* Paths a workload's environment and argv name; refcounts; the bound; hostile values. */
#include <errno.h>
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

#include "sense/workload_watch.h"

static char root[] = "/tmp/vigil-ww-XXXXXX"; /* fake /proc and the paths it names */
static char proc_root[64];

static void put(const char *rel, const char *content, size_t n)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fwrite(content, 1, n, f);
	fclose(f);
}

static void dir(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

/* pid's environ: NUL-separated NAME=value entries, "%R" standing for the root */
static void environ_of(unsigned pid, const char *const *vars)
{
	char rel[64], buf[8192], v[2048];
	size_t n = 0;

	snprintf(rel, sizeof(rel), "proc/%u", pid);
	dir(rel);
	for (; *vars; vars++) {
		const char *at = strstr(*vars, "%R");

		if (at)
			snprintf(v, sizeof(v), "%.*s%s%s", (int)(at - *vars), *vars, root, at + 2);
		else
			snprintf(v, sizeof(v), "%s", *vars);
		memcpy(buf + n, v, strlen(v) + 1);
		n += strlen(v) + 1;
	}
	snprintf(rel, sizeof(rel), "proc/%u/environ", pid);
	put(rel, buf, n);
	snprintf(v, sizeof(v), "%s/proc/%u/root", root, pid); /* not in a container */
	assert_int_equal(symlink("/", v), 0);
}

static int setup(void **state)
{
	assert_non_null(mkdtemp(root));
	snprintf(proc_root, sizeof(proc_root), "%s/proc", root);
	dir("proc");
	dir("hf");
	dir("hf/hub");
	put("hf/token", "hf_x", 4);
	dir("ollama");
	dir("served");
	put("m.gguf", "GGUF", 4);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd);
}

static struct proc proc_of(uint32_t pid, const char *args, size_t args_len)
{
	struct proc p = {.pid = pid, .start_ns = pid * 1000ull, .flags = PROC_INFERENCE};

	snprintf(p.name, sizeof(p.name), "vllm");
	p.args = (char *)args;
	p.args_len = args_len;
	return p;
}

static const char *path_of(const char *rel)
{
	static char out[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(out[i], sizeof(out[i]), "%s/%s", root, rel);
	return out[i];
}

static bool has(const struct ww_found *f, unsigned n, const char *path, enum ww_kind kind,
		const char *source)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(f[i].path, path) && f[i].kind == kind && !strcmp(f[i].source, source))
			return true;
	return false;
}

static void test_workload_watch_derive_env_and_argv(void **state)
{
	static const char *const env[] = {
	    "HF_HOME=%R/hf",	       "HF_TOKEN=hf_secret_never_kept",
	    "OLLAMA_MODELS=%R/ollama", "HF_HUB_CACHE=%R/hf/hub", /* the same dir as HF_HOME/hub */
	    "PATH=/usr/bin",	       NULL};
	char args[512];
	int n =
	    snprintf(args, sizeof(args), "vllm%cserve%c%s/served%c-m%c%s/m.gguf%c--tokenizer=%s/hf",
		     0, 0, root, 0, 0, root, 0, root);
	struct proc p = proc_of(10, args, n + 1);
	struct ww_found f[WW_PER_WORKLOAD];
	unsigned refused, got;

	environ_of(10, env);
	got = workload_watch_derive(proc_root, &p, f, WW_PER_WORKLOAD, &refused);
	assert_int_equal(refused, 0);
	assert_int_equal(got, 6);
	assert_true(has(f, got, path_of("hf/hub"), WW_MODEL_DIR, "HF_HOME"));
	assert_true(has(f, got, path_of("hf/token"), WW_CREDENTIAL, "HF_HOME"));
	assert_true(has(f, got, path_of("ollama"), WW_MODEL_DIR, "OLLAMA_MODELS"));
	assert_true(has(f, got, path_of("served"), WW_MODEL_DIR, "serve"));
	assert_true(has(f, got, path_of("m.gguf"), WW_MODEL_FILE, "-m"));
	assert_true(has(f, got, path_of("hf"), WW_MODEL_DIR, "--tokenizer"));
	for (unsigned i = 0; i < got; i++)
		assert_null(strstr(f[i].path, "secret"));
}

/* "/", /proc, relative, "..", not UTF-8, a dir for a token, too long: no watch, each counted. */
static void test_workload_watch_derive_refuses_hostile_values(void **state)
{
	static char long_value[WW_PATH_MAX + 32] = "OLLAMA_MODELS=/";
	static const char *const env[] = {
	    "OLLAMA_MODELS=/",
	    "HF_TOKEN_PATH=/proc/self/environ",
	    "TORCH_HOME=relative/dir",
	    "HF_HUB_CACHE=%R/hf/../hf/hub",
	    "TRANSFORMERS_CACHE=/tmp",
	    "MODELSCOPE_CACHE=/\xff\xfe",
	    "HF_HOME=%R/nonexistent", /* absent: normal, not counted */
	    long_value,
	    NULL};
	/* a hub id and a module are no paths, and not refusals */
	static const char args[] = "python3\0-m\0vllm.entrypoints.openai.api_server\0--model\0"
				   "org/name\0--download-dir\0/\0";
	struct proc p = proc_of(11, args, sizeof(args));
	struct ww_found f[WW_PER_WORKLOAD];
	unsigned refused;

	memset(long_value + 15, 'a', WW_PATH_MAX);
	environ_of(11, env);
	assert_int_equal(workload_watch_derive(proc_root, &p, f, WW_PER_WORKLOAD, &refused), 0);
	assert_int_equal(refused, 8);
}

/*
 * A container's HF_HOME is a path in the container, and its absolute
 * symlinks point into the container too: resolved in the workload's root.
 */
static void test_workload_watch_derive_in_a_container_root(void **state)
{
	static const char *const env[] = {"HF_HOME=/models", "OLLAMA_MODELS=/",
					  "TRANSFORMERS_CACHE=/tmp", NULL};
	char link[256], want[256];
	struct proc p = proc_of(40, "x\0", 2);
	struct ww_found f[WW_PER_WORKLOAD];
	unsigned refused;

	dir("ctr");
	dir("ctr/tmp");
	dir("ctr/data");
	dir("ctr/data/hf");
	dir("ctr/data/hf/hub");
	snprintf(link, sizeof(link), "%s/ctr/models", root);
	assert_int_equal(symlink("/data/hf", link), 0); /* absolute, as the container sees it */
	environ_of(40, env);
	snprintf(link, sizeof(link), "%s/proc/40/root", root);
	assert_int_equal(unlink(link), 0);
	snprintf(want, sizeof(want), "%s/ctr", root);
	assert_int_equal(symlink(want, link), 0);
	assert_int_equal(workload_watch_derive(proc_root, &p, f, WW_PER_WORKLOAD, &refused), 1);
	snprintf(want, sizeof(want), "%s/ctr/data/hf/hub", root);
	assert_string_equal(f[0].path, want);
	assert_int_equal(f[0].kind, WW_MODEL_DIR);
	assert_int_equal(refused, 2); /* the container's own / and /tmp */
}

struct changes {
	int added, removed;
	char last[256], reason[128];
	int fail_adds; /* the callback refuses this many adds */
};

static int on_change(void *ctx, bool added, const char *path, enum ww_kind kind, const char *reason)
{
	struct changes *c = ctx;

	if (added && c->fail_adds > 0) {
		c->fail_adds--;
		return -ENOSPC;
	}
	*(added ? &c->added : &c->removed) += 1;
	snprintf(c->last, sizeof(c->last), "%s", path);
	snprintf(c->reason, sizeof(c->reason), "%s", reason);
	return 0;
}

static void test_workload_watch_refcount_exec_and_exit(void **state)
{
	static const char *const env[] = {"OLLAMA_MODELS=%R/ollama", NULL};
	struct changes c = {0};
	struct workload_watch *ww;
	struct proc a = proc_of(20, "ollama\0", 7), b = proc_of(21, "ollama\0", 7);
	struct vigil_event ev = {.action = VA_EXIT, .pid = 20};
	json_t *st;

	environ_of(20, env);
	environ_of(21, env);
	assert_int_equal(workload_watch_new(proc_root, 4, on_change, &c, &ww), 0);
	workload_watch_add(ww, &a);
	assert_int_equal(c.added, 1);
	assert_string_equal(c.last, path_of("ollama"));
	assert_string_equal(c.reason, "OLLAMA_MODELS of pid 20 (vllm)");
	workload_watch_add(ww, &b); /* shares it: no second watch */
	workload_watch_add(ww, &a); /* seen again (seed, then exec): still one user */
	assert_int_equal(c.added, 1);
	st = workload_watch_json(ww);
	assert_int_equal(json_integer_value(json_object_get(
			     json_array_get(json_object_get(st, "active"), 0), "users")),
			 2);
	json_decref(st);
	workload_watch_event(ww, &ev);
	assert_int_equal(c.removed, 0);
	/* b execs into something that is no workload: its paths are given back */
	b.flags = 0;
	ev = (struct vigil_event){.action = VA_EXEC, .pid = 21, .proc = &b};
	workload_watch_event(ww, &ev);
	assert_int_equal(c.removed, 1);
	assert_string_equal(c.reason, "OLLAMA_MODELS of pid 20 (vllm)");
	workload_watch_free(ww);
}

/* Past the bound, or refused by the maps: counted, not kept, and retried by the next user. */
static void test_workload_watch_bound_and_refusal_are_counted(void **state)
{
	static const char *const env[] = {"HF_HOME=%R/hf", "OLLAMA_MODELS=%R/ollama", NULL};
	struct changes c = {.fail_adds = 1};
	struct workload_watch *ww;
	struct proc a = proc_of(30, "x\0", 2);
	json_t *st;

	environ_of(30, env);
	assert_int_equal(workload_watch_new(proc_root, 1, on_change, &c, &ww), 0);
	workload_watch_add(ww,
			   &a); /* 3 paths: one refused by the callback, one kept, one past max */
	assert_int_equal(c.added, 1);
	st = workload_watch_json(ww);
	assert_int_equal(json_integer_value(json_object_get(st, "refused")), 2);
	assert_int_equal(json_array_size(json_object_get(st, "active")), 1);
	json_decref(st);
	workload_watch_free(ww);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_workload_watch_derive_env_and_argv),
	    cmocka_unit_test(test_workload_watch_derive_refuses_hostile_values),
	    cmocka_unit_test(test_workload_watch_derive_in_a_container_root),
	    cmocka_unit_test(test_workload_watch_refcount_exec_and_exit),
	    cmocka_unit_test(test_workload_watch_bound_and_refusal_are_counted),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
