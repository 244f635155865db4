// SPDX-License-Identifier: GPL-2.0
/* Playbooks: reading (errors as file:line:col), matching, gates, egress rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "respond/playbook.h"

static char path[] = "/tmp/vigil-pb-XXXXXX.yaml";
static char first_error[512];

static void keep_first(void *ctx, bool error, const char *line)
{
	if (error && !first_error[0])
		snprintf(first_error, sizeof(first_error), "%s", line);
}

static int load_text(const char *text, struct playbook_set **ret)
{
	struct rules_diag diag = {.fn = keep_first};
	const char *p = path;
	int fd, r;

	strcpy(path, "/tmp/vigil-pb-XXXXXX.yaml");
	fd = mkstemps(path, 5);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	chmod(path, 0644);
	first_error[0] = 0;
	*ret = NULL;
	r = playbooks_load(&p, 1, 0, &diag, ret);
	unlink(path);
	return r;
}

/* The error names this file at line:col and says msg. */
static void expect_error(const char *text, unsigned line, unsigned col, const char *msg)
{
	struct playbook_set *s;
	char want[600];

	assert_int_equal(load_text(text, &s), -22);
	snprintf(want, sizeof(want), "%s:%u:%u: ", path, line, col);
	if (strncmp(first_error, want, strlen(want)) || !strstr(first_error, msg))
		fail_msg("got \"%s\", want \"%s…%s\"", first_error, want, msg);
}

static const char good[] = "- webhook: soc\n"
			   "  url: https://soc.example/hook\n"
			   "  format: slack\n"
			   "- playbook: kill-shells\n"
			   "  match:\n"
			   "    rules: [VGL-0001, Reverse shell]\n"
			   "    severity: high\n"
			   "  dedup_window: 30s\n"
			   "  rate_limit: 2/min\n"
			   "  on_error: stop\n"
			   "  steps:\n"
			   "    - kill: tree\n"
			   "    - snapshot\n"
			   "    - isolate: {target: parent, on_error: continue}\n"
			   "    - webhook: soc\n"
			   "    - exec: {command: [/bin/true, --now], timeout: 3s}\n"
			   "    - deny-path: \"%file.path\"\n"
			   "- egress_allowlist: hub\n"
			   "  cgroup: system.slice/infer.service\n"
			   "  allow: [\"10.0.0.0/8:443\", \"[2001:db8::/32]:443\", 192.0.2.7]\n";

static void test_reads_a_full_playbook(void **state)
{
	struct playbook_set *s;
	const struct playbook *pb;

	assert_int_equal(load_text(good, &s), 0);
	assert_int_equal(s->npbs, 1);
	pb = &s->pbs[0];
	assert_string_equal(pb->name, "kill-shells");
	assert_int_equal(pb->min_severity, SEV_HIGH);
	assert_int_equal(pb->dedup_ms, 30000);
	assert_int_equal(pb->rate_n, 2);
	assert_int_equal(pb->rate_period_ms, 60000);
	assert_int_equal(pb->nsteps, 6);
	assert_int_equal(pb->steps[0].action, PB_KILL);
	assert_int_equal(pb->steps[0].target, PB_T_TREE);
	assert_true(pb->steps[0].stop_on_error);
	assert_int_equal(pb->steps[1].action, PB_SNAPSHOT);
	assert_int_equal(pb->steps[2].target, PB_T_PARENT);
	assert_false(pb->steps[2].stop_on_error);
	assert_string_equal(pb->steps[3].arg, "soc");
	assert_string_equal(pb->steps[4].argv[1], "--now");
	assert_int_equal(pb->steps[4].timeout_ms, 3000);
	assert_string_equal(pb->steps[5].arg, "%file.path");
	assert_true(playbooks_webhook(s, "soc")->slack);
	assert_int_equal(s->negress, 1);
	assert_int_equal(s->egress[0].nallow, 3);
	assert_int_equal(s->egress[0].allow[0].prefix, 96 + 8);
	assert_int_equal(s->egress[0].allow[1].prefix, 32);
	assert_int_equal(s->egress[0].allow[2].port, 0);
	playbooks_free(s);
}

static void test_errors_name_file_line_col(void **state)
{
	expect_error("- playbook: p\n  match: {rules: [X]}\n  steps:\n    - kil: tree\n", 4, 7,
		     "unknown action 'kil'");
	expect_error("- playbook: p\n  match: {rules: [X]}\n  steps:\n    - kill: forest\n", 4, 13,
		     "unknown target 'forest'");
	expect_error("- playbook: p\n  match: {severity: urgent}\n  steps: [kill]\n", 2, 21,
		     "unknown severity 'urgent'");
	expect_error(
	    "- playbook: p\n  match: {rules: [X]}\n  dedup_window: soon\n  steps: [kill]\n", 3, 17,
	    "bad duration");
	expect_error("- playbook: p\n  match: {rules: [X]}\n  rate_limit: lots\n  steps: [kill]\n",
		     3, 15, "rate_limit");
	expect_error("- playbook: p\n  match: {}\n  steps: [kill]\n", 2, 10, "give rules, tags");
	expect_error("- playbook: p\n  match: {rules: [X]}\n  steps:\n    - exec: [sh, -c, x]\n", 4,
		     13, "absolute path");
	expect_error("- playbook: p\n  match: {rules: [X]}\n  colour: red\n  steps: [kill]\n", 3, 3,
		     "unknown key 'colour'");
	expect_error("- playbook: p\n  match: {rules: [X]}\n  rate_limt: 5/m\n  steps: [kill]\n", 3,
		     3, "unknown key 'rate_limt' (did you mean 'rate_limit'?)");
	expect_error("- egress_allowlist: e\n  cgroup: x\n  allow: [\"10.0.0.0/33\"]\n", 3, 11,
		     "10.0.0.0/33");
	expect_error("- webhook: w\n  url: ftp://x\n", 2, 8, "https://");
}

static void test_undefined_webhook_is_an_error(void **state)
{
	struct playbook_set *s;

	assert_int_equal(load_text("- playbook: p\n  match: {rules: [X]}\n  steps:\n"
				   "    - webhook: nowhere\n",
				   &s),
			 -22);
	assert_non_null(strstr(first_error, ":4:1: webhook 'nowhere' is not defined"));
}

static void test_matching_by_rule_tag_and_severity(void **state)
{
	struct playbook pb = {.min_severity = SEV_HIGH};
	const char *tags[] = {"T1059.004", "AML.T0011"};
	struct pb_alert a = {"VGL-0001", "Shell spawned by model loader", tags, 2, SEV_CRITICAL};

	strv_push(&pb.rules, "Shell spawned by model loader");
	assert_true(playbook_matches(&pb, &a));
	a.severity = SEV_MEDIUM;
	assert_false(playbook_matches(&pb, &a));
	a.severity = SEV_HIGH;
	strv_push(&pb.tags, "t1059.004"); /* tags compare without case */
	assert_true(playbook_matches(&pb, &a));
	a.ntags = 0;
	assert_false(playbook_matches(&pb, &a));
	strv_clear(&pb.rules);
	strv_clear(&pb.tags);
}

static void test_gates_deduplicate_by_target_and_rate_limit(void **state)
{
	struct playbook pb = {.dedup_ms = 1000, .rate_n = 2, .rate_period_ms = 60000, .tokens = 2};

	assert_int_equal(playbook_admit(&pb, "E1", 10000), PB_RUN);
	assert_int_equal(playbook_admit(&pb, "E1", 10500), PB_DEDUPLICATED);
	assert_int_equal(playbook_admit(&pb, "E2", 10500), PB_RUN);
	assert_int_equal(playbook_admit(&pb, "E3", 10500), PB_RATE_LIMITED);
	assert_int_equal(playbook_admit(&pb, "E1", 11100), PB_RATE_LIMITED); /* no token yet */
	assert_int_equal(playbook_admit(&pb, "E1", 45000), PB_RUN);	     /* a token back */
	assert_int_equal(pb.deduplicated, 1);
	assert_int_equal(pb.rate_limited, 2);
	free(pb.recent);
}

/* vigild runs exec scripts as root: one the group can rewrite is refused at load. */
static void test_exec_script_others_can_change_is_an_error(void **state)
{
	char dir[] = "/tmp/vigil-pbx-XXXXXX", script[64], text[256];
	struct playbook_set *s;

	assert_non_null(mkdtemp(dir));
	snprintf(script, sizeof(script), "%s/page", dir);
	close(open(script, O_WRONLY | O_CREAT | O_CLOEXEC, 0755));
	snprintf(text, sizeof(text),
		 "- playbook: p\n  match: {rules: [X]}\n  steps:\n    - exec: [%s]\n", script);
	chmod(script, 0775);
	expect_error(text, 4, 1, "group-writable");
	chmod(script, 0755);
	assert_int_equal(load_text(text, &s), 0);
	playbooks_free(s);
	unlink(script);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reads_a_full_playbook),
	    cmocka_unit_test(test_errors_name_file_line_col),
	    cmocka_unit_test(test_undefined_webhook_is_an_error),
	    cmocka_unit_test(test_exec_script_others_can_change_is_an_error),
	    cmocka_unit_test(test_matching_by_rule_tag_and_severity),
	    cmocka_unit_test(test_gates_deduplicate_by_target_and_rate_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
