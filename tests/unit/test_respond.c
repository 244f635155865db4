// SPDX-License-Identifier: GPL-2.0
/*
 * Respond step selection: which playbooks an alert runs, which of their
 * steps run (on_error, dry_run, the gates), and on which process each acts
 * (the alert's process or its parent). A real responder (no kernel
 * containment: cgroup root "") runs real playbook files against a real
 * child process; the incidents it writes are read back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/config.h"
#include "respond/respond.h"

struct fixture {
	char dir[64];
	struct vigil_config *cfg;
	struct ecs_writer *w;
	struct sinks sinks;
	struct responder *r;
	pid_t child;
};

static void start(struct fixture *f, const char *playbooks)
{
	struct strv paths = {0};
	char path[128];
	FILE *fp;

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-respond-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/playbooks.yaml", f->dir);
	assert_non_null(fp = fopen(path, "w"));
	fputs(playbooks, fp);
	fclose(fp);
	chmod(path, 0644);
	assert_int_equal(config_defaults(&f->cfg), 0);
	free(f->cfg->state_dir);
	f->cfg->state_dir = strdup(f->dir);
	assert_int_equal(strv_push(&paths, path), 0);
	assert_int_equal(ecs_new("h", "boot", NULL, &f->w), 0);
	assert_int_equal(respond_new(f->cfg, &paths, f->w, &f->sinks, NULL, "", &f->r), 0);
	strv_clear(&paths);
	f->child = fork();
	assert_true(f->child >= 0);
	if (!f->child) {
		for (;;)
			pause();
	}
}

/* Is the child still there (not reaped, not killed)? */
static bool child_alive(struct fixture *f)
{
	int st;

	return waitpid(f->child, &st, WNOHANG) == 0;
}

static void stop(struct fixture *f)
{
	char cmd[128];

	if (f->child > 0) {
		kill(f->child, SIGKILL);
		waitpid(f->child, NULL, 0);
	}
	respond_free(f->r);
	ecs_free(f->w);
	config_free(f->cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
}

/* An alert of rule id (severity high, tag "t1") on entity, whose parent is this test. */
static void alert(struct fixture *f, const char *id, const char *entity)
{
	static const char *const tags[] = {"t1"};
	struct rule_meta m = {
	    .id = id, .name = "a rule", .severity = SEV_HIGH, .tags = tags, .ntags = 1};
	char line[512];
	int n;

	n = snprintf(line, sizeof(line),
		     "{\"event\":{\"id\":\"e-%s\"},\"rule\":{\"id\":\"%s\",\"name\":\"a rule\"},"
		     "\"process\":{\"pid\":%d,\"entity_id\":\"%s\","
		     "\"parent\":{\"pid\":%d,\"entity_id\":\"test\"}},\"message\":\"m\"}",
		     entity, id, f->child, entity, getpid());
	json_t *obj = json_loadb(line, n, 0, NULL);

	assert_non_null(obj);
	respond_alert(f->r, &m, line, n, obj);
	json_decref(obj);
}

/* Every incident written, whole, newest first. */
static json_t *incidents(struct fixture *f)
{
	struct respond_requester who = {0};
	json_t *req = json_object(), *list = respond_command(f->r, "incidents", req, &who), *s;
	json_t *out = json_array();
	size_t i;

	json_decref(req);
	json_array_foreach (json_object_get(list, "incidents"), i, s) {
		json_t *q = json_pack("{s:O}", "id", json_object_get(s, "id"));
		json_t *one = respond_command(f->r, "incidents", q, &who);

		json_array_append(out, json_object_get(one, "incident"));
		json_decref(one);
		json_decref(q);
	}
	json_decref(list);
	return out;
}

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Step i of inc: its name, scope, target pid and outcome. */
static void expect_step(json_t *inc, size_t i, const char *name, const char *scope, pid_t pid,
			const char *outcome)
{
	json_t *st = json_array_get(json_object_get(inc, "steps"), i);

	assert_non_null(st);
	assert_string_equal(str(st, "name"), name);
	assert_string_equal(str(st, "target_scope"), scope);
	assert_int_equal(json_integer_value(json_object_get(st, "target_pid")), pid);
	assert_string_equal(str(st, "outcome"), outcome);
}

static size_t nsteps(json_t *inc)
{
	return json_array_size(json_object_get(inc, "steps"));
}

static void test_only_matching_playbooks_run(void **state)
{
	struct fixture f;
	json_t *all, *inc;

	start(&f, "- playbook: by-rule\n"
		  "  match: {rules: [VGL-T1]}\n"
		  "  dry_run: true\n"
		  "  steps: [stop: process, kill: parent-tree]\n"
		  "- playbook: by-other-rule\n"
		  "  match: {rules: [VGL-T2]}\n"
		  "  steps: [kill]\n"
		  "- playbook: by-other-tag\n"
		  "  match: {tags: [t2]}\n"
		  "  steps: [kill]\n"
		  "- playbook: critical-only\n"
		  "  match: {severity: critical}\n"
		  "  steps: [kill]\n");
	alert(&f, "VGL-T1", "ent-1");
	all = incidents(&f);
	assert_int_equal(json_array_size(all), 1);
	inc = json_array_get(all, 0);
	assert_string_equal(str(inc, "playbook"), "by-rule");
	assert_string_equal(str(inc, "status"), "dry-run");
	assert_int_equal(nsteps(inc), 2);
	expect_step(inc, 0, "contain.stop", "process", f.child, "dry-run");
	expect_step(inc, 1, "contain.kill", "parent-tree", getpid(), "dry-run");
	assert_true(child_alive(&f)); /* a dry run acts on nothing */
	json_decref(all);
	stop(&f);
}

static void test_steps_act_on_the_alerts_process(void **state)
{
	struct fixture f;
	json_t *all, *inc;
	pid_t child;
	int st;

	start(&f, "- playbook: stop-then-kill\n"
		  "  match: {tags: [T1]}\n" /* tags match without case */
		  "  steps: [stop: process, cont: process, kill]\n");
	child = f.child;
	alert(&f, "VGL-T1", "ent-1");
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	f.child = 0;
	all = incidents(&f);
	assert_int_equal(json_array_size(all), 1);
	inc = json_array_get(all, 0);
	assert_string_equal(str(inc, "status"), "contained");
	assert_int_equal(nsteps(inc), 3);
	expect_step(inc, 0, "contain.stop", "process", child, "success");
	expect_step(inc, 1, "contain.cont", "process", child, "success");
	expect_step(inc, 2, "contain.kill", "tree", child, "success"); /* the default target */
	json_decref(all);
	stop(&f);
}

/*
 * The parent is this test, which the guard rails keep (the responder's own
 * process): that step fails. on_error: stop skips what follows; continue
 * (here on the step) runs it.
 */
static void test_on_error_stop_skips_the_rest(void **state)
{
	struct fixture f;
	json_t *all, *inc;
	int st;

	start(&f, "- playbook: parent-first\n"
		  "  match: {rules: [VGL-T1]}\n"
		  "  on_error: stop\n"
		  "  steps: [kill: parent, kill: process]\n");
	alert(&f, "VGL-T1", "ent-1");
	all = incidents(&f);
	inc = json_array_get(all, 0);
	assert_string_equal(str(inc, "status"), "failed");
	assert_int_equal(nsteps(inc), 1);
	expect_step(inc, 0, "contain.kill", "parent", getpid(), "failure");
	assert_non_null(strstr(str(json_array_get(json_object_get(inc, "steps"), 0), "error"),
			       "refusing to act"));
	assert_true(child_alive(&f));
	json_decref(all);
	stop(&f);

	start(&f, "- playbook: parent-first\n"
		  "  match: {rules: [VGL-T1]}\n"
		  "  on_error: stop\n"
		  "  steps:\n"
		  "    - kill: parent\n"
		  "      on_error: continue\n"
		  "    - kill: process\n");
	alert(&f, "VGL-T1", "ent-1");
	all = incidents(&f);
	inc = json_array_get(all, 0);
	assert_int_equal(nsteps(inc), 2);
	expect_step(inc, 0, "contain.kill", "parent", getpid(), "failure");
	expect_step(inc, 1, "contain.kill", "process", f.child, "success");
	/* SIGKILL was sent; the child becomes a zombie a moment later: wait for it */
	assert_int_equal(waitpid(f.child, &st, 0), f.child);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	f.child = 0;
	json_decref(all);
	stop(&f);
}

/*
 * A second alert on the same process within the window runs no steps: it
 * joins the incident the first opened. Another process gets its own run,
 * until the rate limit stops the third.
 */
static void test_gates_decide_which_alerts_run(void **state)
{
	struct fixture f;
	json_t *all, *inc;

	start(&f, "- playbook: gated\n"
		  "  match: {rules: [VGL-T1]}\n"
		  "  dry_run: true\n"
		  "  dedup_window: 1h\n"
		  "  rate_limit: 2/h\n"
		  "  steps: [stop]\n");
	alert(&f, "VGL-T1", "ent-1");
	alert(&f, "VGL-T1", "ent-1");
	all = incidents(&f);
	assert_int_equal(json_array_size(all), 1);
	inc = json_array_get(all, 0);
	assert_int_equal(json_array_size(json_object_get(inc, "alerts")), 2);
	assert_int_equal(nsteps(inc), 1);
	json_decref(all);
	alert(&f, "VGL-T1", "ent-2");
	alert(&f, "VGL-T1", "ent-3"); /* the third run within the hour: rate-limited */
	all = incidents(&f);
	assert_int_equal(json_array_size(all), 2);
	json_decref(all);
	stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_only_matching_playbooks_run),
	    cmocka_unit_test(test_steps_act_on_the_alerts_process),
	    cmocka_unit_test(test_on_error_stop_skips_the_rest),
	    cmocka_unit_test(test_gates_decide_which_alerts_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
