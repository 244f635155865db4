// SPDX-License-Identifier: GPL-2.0
/*
 * Replay of other collectors' ECS streams (derive.c, replay.c): which
 * default rules fire on the hand-written auditbeat and Elastic Defend lines
 * in tests/fixtures/foreign/, that a missing exemption leaves a rule
 * undecided instead of firing, that vigil's own lines are taken as
 * written, and which default rules rules check --portable flags. Runs the
 * real default rules from rules/ (the tests run from the repository root).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "core/config.h"
#include "detect/derive.h"
#include "detect/replay.h"
#include "detect/rules.h"

#define FIXTURES "tests/fixtures/foreign/"

struct run {
	char alerts[1 << 16]; /* every alert line */
	char ids[512];	      /* "VGL-0001 VGL-0022 …" in the order they fired */
	char err[8192];	      /* replay's problems and summary */
	struct replay_stats st;
};

static struct ruleset *default_rules(void)
{
	const char *paths[] = {"rules"};
	struct rules_diag diag = {0};
	struct ruleset *rs = NULL;

	assert_int_equal(ruleset_load(paths, 1, NULL, &diag, &rs), 0);
	return rs;
}

static void slurp(FILE *f, char *buf, size_t len)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
}

/* The rule ids of the alert lines, in order. */
static void alert_ids(struct run *r)
{
	for (const char *p = r->alerts; (p = strstr(p, "\"rule\":{")); p++) {
		const char *id = strstr(p, "\"id\":\"");

		assert_non_null(id);
		strncat(r->ids, id + 6, 8);
		strcat(r->ids, " ");
	}
}

static void replay(FILE *in, bool derive, struct run *r)
{
	struct vigil_config *cfg = NULL;
	struct replay_opts o = {.max_sequences = 1000, .host_name = "test"};
	FILE *out = tmpfile(), *err = tmpfile();

	assert_non_null(in);
	assert_non_null(out);
	assert_non_null(err);
	if (derive)
		assert_int_equal(config_defaults(&cfg), 0);
	o.cfg = cfg;
	memset(r, 0, sizeof(*r));
	assert_int_equal(replay_run(default_rules(), &o, in, "test", out, err, &r->st), 0);
	fclose(in);
	config_free(cfg);
	slurp(out, r->alerts, sizeof(r->alerts));
	slurp(err, r->err, sizeof(r->err));
	alert_ids(r);
}

static FILE *text_in(const char *text)
{
	FILE *f = tmpfile();

	assert_non_null(f);
	fputs(text, f);
	rewind(f);
	return f;
}

static void test_derive_auditbeat_fires_the_rules_vigil_would(void **state)
{
	struct run *r = malloc(sizeof(*r));

	replay(fopen(FIXTURES "auditbeat.ndjson", "re"), true, r);
	/* sh from the vllm process (and after its pickle load: by tree, keyed on the
	 * "pid:N" entities derived for auditd), recon under it, metadata + its
	 * egress (after the pickle too), cron.d by rename (VGL-0021, and VGL-0126:
	 * planted by the workload), the model read by tar; the workload's own
	 * model reads raise nothing */
	assert_string_equal(r->ids,
			    "VGL-0001 VGL-0101 VGL-0022 VGL-0014 VGL-0015 VGL-0003 VGL-0021 "
			    "VGL-0126 VGL-0010 ");
	assert_int_equal(r->st.foreign, 8);
	assert_non_null(strstr(r->alerts, "\"derived\":[\"event.action\""));
	assert_non_null(strstr(r->alerts, "\"kind\":\"model\""));
	/* tar's grandparents are unseen: "not inference_tree" is unknown, not true;
	 * and whether the vllm process is a trusted workload (its unit, a root-owned
	 * file) no line says: its own model reads are undecided, not alerts */
	assert_non_null(strstr(r->err, "VGL-0023 "));
	assert_non_null(strstr(r->err, "VGL-0011 "));
	assert_non_null(strstr(r->err, "VGL-0009 "));
	free(r);
}

static void test_derive_elastic_defend_fires_the_rules_vigil_would(void **state)
{
	struct run *r = malloc(sizeof(*r));

	replay(fopen(FIXTURES "elastic-defend.ndjson", "re"), true, r);
	assert_string_equal(r->ids, "VGL-0001 VGL-0014 VGL-0015 VGL-0021 VGL-0126 ");
	/* the model overwritten by a process whose tree is unknown: undecided, not fired */
	assert_null(strstr(r->ids, "VGL-0006"));
	assert_non_null(strstr(r->err, "VGL-0006 1"));
	assert_non_null(strstr(r->alerts, "\"new_path\":\"/etc/cron.d/job\""));
	free(r);
}

/* A foreign line that says what was read but nothing of the workload. */
static const char foreign_read[] =
    "{\"@timestamp\":\"2026-11-30T10:00:00Z\",\"agent\":{\"type\":\"auditbeat\"},"
    "\"event\":{\"category\":[\"file\"],\"type\":[\"access\"],\"action\":\"opened-file\"},"
    "\"process\":{\"pid\":7,\"parent\":{\"pid\":6},\"name\":\"python3\"},"
    "\"file\":{\"path\":\"/models/m.safetensors\"}}\n";

/*
 * Part of vigil's fields, none of the workload: a line another pipeline
 * re-shipped (Filebeat stamps its own agent.type), or an older vigil.
 */
static const char reshipped_read[] =
    "{\"@timestamp\":\"2026-11-30T10:00:00Z\",\"agent\":{\"type\":\"filebeat\"},"
    "\"event\":{\"category\":[\"file\"],\"type\":[\"access\"],\"action\":\"open\"},"
    "\"process\":{\"pid\":7,\"parent\":{\"pid\":6},\"name\":\"python3\"},"
    "\"file\":{\"path\":\"/models/m.safetensors\"},"
    "\"vigil\":{\"file\":{\"kind\":\"model\",\"access\":[\"read\"]}}}\n";

static void test_derive_missing_exemption_does_not_fire(void **state)
{
	struct run *r = malloc(sizeof(*r));

	/* taken as written, the missing vigil.workload reads as "not a workload" */
	replay(text_in(reshipped_read), false, r);
	assert_string_equal(r->ids, "VGL-0009 ");
	/* derived: the tree is unknown (the parent's parent is unseen), so
	 * "not vigil.workload.inference_tree" decides nothing */
	replay(text_in(reshipped_read), true, r);
	assert_string_equal(r->ids, "");
	assert_non_null(strstr(r->err, "VGL-0009 1"));
	assert_true(r->st.undecided > 0);
	/* the same with vigil's fields derived from event.type and the path */
	replay(text_in(foreign_read), true, r);
	assert_string_equal(r->ids, "");
	assert_non_null(strstr(r->err, "VGL-0009 1"));
	free(r);
}

/* A fileless exec as auditd names it: the kernel's "/memfd:NAME (deleted)". */
static void test_derive_memfd_exec_fires_fileless_execution(void **state)
{
	static const char memfd_exec[] =
	    "{\"@timestamp\":\"2026-11-30T10:00:00Z\",\"agent\":{\"type\":\"auditbeat\"},"
	    "\"event\":{\"category\":[\"process\"],\"type\":[\"start\"],"
	    "\"action\":\"executed\"},\"process\":{\"pid\":9,\"parent\":{\"pid\":1},"
	    "\"name\":\"3\",\"executable\":\"/memfd:payload (deleted)\","
	    "\"args\":[\"/proc/self/fd/3\"]}}\n";
	struct run *r = malloc(sizeof(*r));

	replay(text_in(memfd_exec), true, r);
	assert_non_null(strstr(r->ids, "VGL-0027"));
	assert_non_null(strstr(r->alerts, "\"exe_memfd\":true"));
	free(r);
}

static void test_derive_child_of_init_is_decided(void **state)
{
	struct run *r = malloc(sizeof(*r));
	const char *line =
	    "{\"@timestamp\":\"2026-11-30T10:00:00Z\",\"agent\":{\"type\":\"auditbeat\"},"
	    "\"event\":{\"category\":[\"file\"],\"type\":[\"access\"],"
	    "\"action\":\"opened-file\"},\"process\":{\"pid\":7,\"parent\":{\"pid\":1},"
	    "\"name\":\"python3\",\"args\":[\"python3\",\"steal.py\"]},"
	    "\"file\":{\"path\":\"/models/m.safetensors\"}}\n";

	/* argv rules out the selectors and the parent is init: known not a workload */
	replay(text_in(line), true, r);
	assert_string_equal(r->ids, "VGL-0009 ");
	free(r);
}

static void test_derive_later_line_adds_the_argv_an_earlier_lacked(void **state)
{
	struct run *r = malloc(sizeof(*r));
	const char *lines =
	    "{\"@timestamp\":\"2026-11-30T10:00:00Z\",\"agent\":{\"type\":\"endpoint\"},"
	    "\"event\":{\"category\":[\"network\"],\"type\":[\"start\"],"
	    "\"action\":\"connection_attempted\"},\"process\":{\"entity_id\":\"E7\",\"pid\":7,"
	    "\"name\":\"python3\",\"parent\":{\"pid\":1}},"
	    "\"destination\":{\"ip\":\"127.0.0.1\",\"port\":9}}\n"
	    "{\"@timestamp\":\"2026-11-30T10:00:01Z\",\"agent\":{\"type\":\"endpoint\"},"
	    "\"event\":{\"category\":[\"file\"],\"type\":[\"access\"],\"action\":\"open\"},"
	    "\"process\":{\"entity_id\":\"E7\",\"pid\":7,\"name\":\"python3\","
	    "\"args\":[\"python3\",\"steal.py\"],\"parent\":{\"pid\":1}},"
	    "\"file\":{\"path\":\"/models/m.gguf\"}}\n";

	/* the first line cannot rule out "python3 -m vllm"; the second's argv does */
	replay(text_in(lines), true, r);
	assert_string_equal(r->ids, "VGL-0009 ");
	free(r);
}

static void test_derive_vigils_own_lines_are_taken_as_written(void **state)
{
	struct run *r = malloc(sizeof(*r));
	const char *line =
	    "{\"@timestamp\":\"2026-11-30T10:00:00Z\",\"agent\":{\"type\":\"vigil\"},"
	    "\"event\":{\"category\":[\"file\"],\"type\":[\"access\"],\"action\":\"open\"},"
	    "\"process\":{\"pid\":7,\"name\":\"python3\"},\"file\":{\"path\":\"/models/m.gguf\"},"
	    "\"vigil\":{\"file\":{\"kind\":\"model\",\"access\":[\"read\"]}}}\n";

	/* vigil writes vigil.workload only when set: absent means "not a workload" */
	replay(text_in(line), true, r);
	assert_string_equal(r->ids, "VGL-0009 ");
	assert_int_equal(r->st.foreign, 0);
	assert_null(strstr(r->alerts, "\"derived\""));
	free(r);
}

static const struct rule *rule_by_id(const struct ruleset *rs, const char *id)
{
	for (unsigned i = 0; i < ruleset_count(rs); i++)
		if (!strcmp(rule_meta(ruleset_rule(rs, i))->id, id))
			return ruleset_rule(rs, i);
	fail_msg("no rule %s", id);
	return NULL;
}

static void test_derive_portable_flags_rules_plain_ecs_cannot_serve(void **state)
{
	struct ruleset *rs = default_rules();
	uint64_t never[FIELD_WORDS], used[FIELD_WORDS];
	const struct rule *r;

	derive_never(never);
	memset(used, 0, sizeof(used));
	r = rule_by_id(rs, "VGL-0002"); /* socket on stdio: no collector says */
	assert_false(rule_can_fire_without(r, never, used));
	assert_true(field_bit(used, F_V_STDIN_SOCK));
	assert_string_equal(rule_meta(r)->file, "rules/10-process.yaml");
	assert_true(rule_meta(r)->line > 1);
	memset(used, 0, sizeof(used));
	/* the program's path still fires; that a GPU user is an inference workload is derived,
	 * whether its image was deleted too (from the kernel's " (deleted)" name) */
	assert_true(rule_can_fire_without(rule_by_id(rs, "VGL-0027"), never, used));
	for (unsigned i = 0; i < FIELD_WORDS; i++)
		assert_int_equal(used[i], 0);
	memset(used, 0, sizeof(used));
	/* derivable fields (tree, file kind) are portable */
	assert_true(rule_can_fire_without(rule_by_id(rs, "VGL-0009"), never, used));
	assert_true(rule_can_fire_without(rule_by_id(rs, "VGL-0014"), never, used));
	for (unsigned i = 0; i < FIELD_WORDS; i++)
		assert_int_equal(used[i], 0);
	ruleset_free(rs);
}

/* The CLI around it: file:line per rule, the count, --strict's exit status. */
static void test_derive_rules_check_portable_cli(void **state)
{
	const char *b = getenv("B") ?: "build";
	char cmd[256], out[8192];
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s/vigil rules check --portable rules", b);
	assert_non_null(p = popen(cmd, "r"));
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	assert_int_equal(pclose(p), 0);
	assert_non_null(strstr(out,
			       "rules/10-process.yaml:16: VGL-0002 Reverse shell: cannot fire on "
			       "plain ECS, needs vigil.process.stdin_socket"));
	assert_null(strstr(out, "VGL-0027")); /* memfd and deleted images: from the exec's name */
	assert_null(strstr(out, "VGL-0009"));
	/* the summary line; its counts follow the default rules */
	assert_non_null(strstr(out, " rules work on a plain ECS stream, "));
	assert_non_null(strstr(out, " cannot fire\n"));
	snprintf(cmd, sizeof(cmd), "%s/vigil rules check --strict rules >/dev/null", b);
	assert_int_equal(WEXITSTATUS(system(cmd)), 1);
}

/* Replay's dry run comes from the response stage through replay_opts.on_alert. */
static void test_derive_replay_playbooks_dry_run_cli(void **state)
{
	const char *b = getenv("B") ?: "build";
	char cmd[512], out[8192];
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "%s/vigil replay --rules rules --playbooks playbooks " FIXTURES
		 "auditbeat.ndjson 2>&1 >/dev/null",
		 b);
	assert_non_null(p = popen(cmd, "r"));
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	assert_int_equal(pclose(p), 0);
	assert_non_null(strstr(out, "dry-run: playbook kill-shell-from-model-loader for VGL-0001 "
				    "(pid 4200): kill tree 4200, snapshot parent 4100"));
	assert_non_null(strstr(out, "1 playbook runs (dry-run)"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_derive_auditbeat_fires_the_rules_vigil_would),
	    cmocka_unit_test(test_derive_elastic_defend_fires_the_rules_vigil_would),
	    cmocka_unit_test(test_derive_missing_exemption_does_not_fire),
	    cmocka_unit_test(test_derive_memfd_exec_fires_fileless_execution),
	    cmocka_unit_test(test_derive_child_of_init_is_decided),
	    cmocka_unit_test(test_derive_later_line_adds_the_argv_an_earlier_lacked),
	    cmocka_unit_test(test_derive_vigils_own_lines_are_taken_as_written),
	    cmocka_unit_test(test_derive_portable_flags_rules_plain_ecs_cannot_serve),
	    cmocka_unit_test(test_derive_rules_check_portable_cli),
	    cmocka_unit_test(test_derive_replay_playbooks_dry_run_cli),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
