// SPDX-License-Identifier: GPL-2.0
/*
 * The rule compiler (errors with file:line:col), the evaluator (operators,
 * types, several values, missing fields), sequences (windows, keys, tree,
 * eviction) and engine reload. Events are written as JSON and read through
 * json_view, as replay reads them.
 */
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

#include "detect/event_view.h"
#include "detect/json_view.h"
#include "detect/rules.h"
#include "core/util.h"

struct diag_lines {
	char text[4096];
};

static void collect(void *ctx, bool error, const char *line)
{
	struct diag_lines *d = ctx;

	strncat(d->text, line, sizeof(d->text) - strlen(d->text) - 2);
	strcat(d->text, "\n");
}

static char dir[] = "/tmp/vigil-rules-XXXXXX";

static int setup(void **state)
{
	strcpy(dir, "/tmp/vigil-rules-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static const char *write_file(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static int load_text(const char *text, struct ruleset **rs, struct diag_lines *d)
{
	const char *p = write_file("t.yaml", text);
	struct rules_diag diag = {.fn = collect, .ctx = d};

	d->text[0] = 0;
	return ruleset_load(&p, 1, NULL, &diag, rs);
}

static struct ruleset *load_ok(const char *text)
{
	struct ruleset *rs = NULL;
	struct diag_lines d;

	if (load_text(text, &rs, &d) < 0)
		fail_msg("rules did not load: %s", d.text);
	return rs;
}

static void expect_error(const char *text, const char *where_what)
{
	struct ruleset *rs = NULL;
	struct diag_lines d;

	assert_int_not_equal(load_text(text, &rs, &d), 0);
	assert_null(rs);
	if (!strstr(d.text, where_what))
		fail_msg("expected '%s' in:\n%s", where_what, d.text);
}

/* ---- engine harness ---- */

struct fired {
	char ids[16][32];
	unsigned n;
	char key[64];
	unsigned steps;
	char out[256];
	enum severity sev;
	uint64_t suppressed;
};

static void on_alert(void *ctx, const struct rule *r, const struct rule_view *v,
		     const struct rule_hit *hit)
{
	struct fired *f = ctx;
	const struct seq_match *seq = hit->seq;

	if (f->n < 16)
		snprintf(f->ids[f->n++], sizeof(f->ids[0]), "%s", rule_meta(r)->id);
	if (seq) {
		snprintf(f->key, sizeof(f->key), "%s", seq->key);
		f->steps = seq->steps;
	}
	snprintf(f->out, sizeof(f->out), "%s", hit->message);
	f->suppressed = hit->suppressed;
	f->sev = rule_meta(r)->severity;
}

struct harness {
	struct rule_engine *e;
	struct json_view *jv;
	struct rule_view v;
	struct fired f;
};

static void harness_init(struct harness *h, const char *rules, unsigned max_states)
{
	memset(h, 0, sizeof(*h));
	assert_int_equal(view_init(&h->v, 1 << 16), 0);
	assert_int_equal(json_view_new(&h->jv), 0);
	assert_int_equal(rule_engine_new(load_ok(rules), max_states, on_alert, &h->f, &h->e), 0);
}

static void harness_fini(struct harness *h)
{
	rule_engine_free(h->e);
	json_view_free(h->jv);
	view_fini(&h->v);
}

/* Feed one JSON event; returns how many rules fired for it. */
static unsigned feed(struct harness *h, const char *json)
{
	char err[256];
	unsigned before = h->f.n;

	if (json_view_fill(h->jv, &h->v, json, strlen(json), err, sizeof(err)) < 0)
		fail_msg("bad test event: %s", err);
	rule_engine_eval(h->e, &h->v);
	return h->f.n - before;
}

/* One rule with this condition: does it match the event? */
static bool matches(const char *cond, const char *json)
{
	char rules[2048];
	struct harness h;
	unsigned n;

	snprintf(rules, sizeof(rules), "- rule: t\n  id: T-1\n  severity: low\n  condition: '%s'\n",
		 cond);
	harness_init(&h, rules, 64);
	n = feed(&h, json);
	harness_fini(&h);
	return n == 1;
}

#define EXEC_BASH                                                                                  \
	"{\"@timestamp\":\"2026-11-28T10:00:00.000000000Z\",\"event\":{\"action\":\"exec\","       \
	"\"category\":[\"process\"],\"type\":[\"start\"],\"id\":\"r-1\"},\"process\":{\"pid\":42," \
	"\"name\":\"bash\",\"executable\":\"/usr/bin/bash\",\"args\":[\"bash\",\"-c\",\"id\"],"    \
	"\"entity_id\":\"E42\",\"session_leader\":{\"pid\":7},"                                    \
	"\"parent\":{\"name\":\"python3\"}},\"vigil\":{\"process\":{\"ancestors\":["               \
	"{\"entity_id\":\"E41\",\"name\":\"python3\"},{\"entity_id\":\"E1\",\"name\":\"systemd\"}" \
	"]},"                                                                                      \
	"\"workload\":{\"inference\":false,\"inference_tree\":true}}}"

#define CONNECT(ip, port)                                                                        \
	"{\"@timestamp\":\"2026-11-28T10:00:05.000000000Z\",\"event\":{\"action\":\"connect\"}," \
	"\"destination\":{\"ip\":\"" ip "\",\"port\":" #port                                     \
	"},\"network\":{\"transport\":\"tcp\"}}"

static void test_eval_string_operators(void **state)
{
	assert_true(matches("process.name = bash", EXEC_BASH));
	assert_false(matches("process.name = bas", EXEC_BASH));
	assert_true(matches("process.name != sh", EXEC_BASH));
	assert_true(matches("process.executable startswith /usr/", EXEC_BASH));
	assert_true(matches("process.executable endswith /bash", EXEC_BASH));
	assert_true(matches("process.executable contains bin/b", EXEC_BASH));
	assert_true(matches("process.executable icontains BIN/BASH", EXEC_BASH));
	assert_true(matches("process.executable glob /usr/*/ba?h", EXEC_BASH));
	assert_false(matches("process.executable glob /usr/*/zsh", EXEC_BASH));
	assert_true(matches("process.name in (sh, bash)", EXEC_BASH));
}

static void test_eval_many_values_use_set_and_prefix_table(void **state)
{
	/* 10 values: hash set for =, sorted prefix table for startswith */
	assert_true(matches("process.name in (a, b, c, d, e, f, g, h, i, bash)", EXEC_BASH));
	assert_false(matches("process.name in (a, b, c, d, e, f, g, h, i, bas)", EXEC_BASH));
	assert_true(matches("process.executable startswith (/a, /b, /c, /d, /e, /f, /g, /h, /u, "
			    "/usr/bin/, /zz)",
			    EXEC_BASH));
	assert_false(matches("process.executable startswith (/a, /b, /c, /d, /e, /f, /g, /h, /ua, "
			     "/usr/lib, /zz)",
			     EXEC_BASH));
}

static void test_eval_multi_valued_fields_match_any(void **state)
{
	assert_true(matches("process.args = -c", EXEC_BASH));
	assert_true(matches("vigil.process.ancestors.name = systemd", EXEC_BASH));
	assert_false(matches("vigil.process.ancestors.name = init", EXEC_BASH));
	assert_true(matches("process.args != -x", EXEC_BASH));
	assert_false(matches("process.args != -c", EXEC_BASH));
}

static void test_eval_missing_field_fails_every_test(void **state)
{
	assert_false(matches("file.path = /x", EXEC_BASH));
	assert_false(matches("file.path != /x", EXEC_BASH));
	assert_true(matches("not file.path = /x", EXEC_BASH));
	assert_true(matches("not file.path exists", EXEC_BASH));
	assert_true(matches("process.parent.name exists", EXEC_BASH));
}

static void test_eval_numbers_booleans(void **state)
{
	assert_true(
	    matches("process.pid = 42 and process.pid >= 42 and process.pid < 43", EXEC_BASH));
	assert_false(matches("process.pid > 42", EXEC_BASH));
	assert_true(matches("process.pid in (1, 42)", EXEC_BASH));
	assert_true(matches("vigil.workload.inference_tree", EXEC_BASH));
	assert_true(matches("vigil.workload.inference = false", EXEC_BASH));
	assert_false(matches("vigil.workload.inference", EXEC_BASH));
}

static void test_eval_cidr_v4_v6(void **state)
{
	assert_true(matches("destination.ip in (10.0.0.0/8)", CONNECT("10.1.2.3", 80)));
	assert_false(matches("destination.ip in (10.0.0.0/8)", CONNECT("11.1.2.3", 80)));
	assert_true(matches("destination.ip = 169.254.169.254", CONNECT("169.254.169.254", 80)));
	assert_true(matches("destination.ip in (192.168.0.0/23)", CONNECT("192.168.1.9", 80)));
	assert_false(matches("destination.ip in (192.168.0.0/23)", CONNECT("192.168.2.9", 80)));
	assert_true(matches("destination.ip in (\"fd00:ec2::/64\")", CONNECT("fd00:ec2::254", 80)));
	assert_false(
	    matches("destination.ip in (\"fd00:ec2::/64\")", CONNECT("fd00:ec3::254", 80)));
	/* v4-mapped v6 is the v4 address */
	assert_true(matches("destination.ip in (127.0.0.0/8)", CONNECT("::ffff:127.0.0.1", 80)));
	assert_true(matches("destination.ip in (0.0.0.0/0)", CONNECT("8.8.8.8", 80)));
	assert_false(matches("destination.ip in (0.0.0.0/0)", CONNECT("::1", 80)));
	assert_true(matches("destination.port in (3333, 4444)", CONNECT("1.2.3.4", 4444)));
}

static void test_compile_lists_macros_exceptions(void **state)
{
	struct harness h;

	harness_init(&h,
		     "- list: shells\n  items: [sh, bash]\n"
		     "- list: more_shells\n  items: [shells, zsh]\n"
		     "- macro: is_exec\n  condition: event.action = exec\n"
		     "- rule: shell\n  id: T-2\n  severity: high\n"
		     "  condition: is_exec and process.name in (more_shells)\n"
		     "  exceptions:\n    - name: trusted\n      fields: [process.parent.name, "
		     "process.executable]\n      comps: [=, startswith]\n"
		     "      values: [[python3, /usr/bin]]\n"
		     "  output: 'shell %process.name under %process.parent.name.'\n",
		     64);
	assert_int_equal(feed(&h, EXEC_BASH), 0); /* excepted: python3 + /usr/bin */
	harness_fini(&h);
	harness_init(&h,
		     "- list: shells\n  items: [sh, bash]\n"
		     "- list: shells\n  append: true\n  items: [fish]\n"
		     "- rule: shell\n  id: T-2\n  severity: high\n"
		     "  condition: process.name in (shells) and process.parent.name = python3\n"
		     "  output: 'shell %process.name under %process.parent.name.'\n",
		     64);
	assert_int_equal(feed(&h, EXEC_BASH), 1);
	assert_string_equal(h.f.out, "shell bash under python3.");
	harness_fini(&h);
}

static void test_compile_errors_name_file_line_col(void **state)
{
	/* the typo is on line 4, column 5 of a folded condition */
	expect_error("- rule: typo\n  id: T-3\n  condition: >\n    proc.name = bash\n"
		     "  severity: low\n",
		     "t.yaml:4:5: unknown field 'proc.name' (did you mean 'process.name'?)");
	expect_error("- rule: r\n  id: T-3\n  severity: low\n  condition: process.pid = abc\n",
		     "t.yaml:4:28: 'abc' is not a number");
	expect_error("- rule: r\n  id: T-3\n  severity: low\n"
		     "  condition: destination.ip in (10.0.0.0/33)\n",
		     "t.yaml:4:33: bad address or CIDR '10.0.0.0/33'");
	expect_error("- rule: r\n  id: T-3\n  severity: low\n  condition: process.name < 3\n",
		     "t.yaml:4:14: operator '<' does not apply to string field process.name");
	expect_error("- rule: r\n  id: T-3\n  severity: low\n  condition: undefined_macro\n",
		     "t.yaml:4:14: unknown field or macro 'undefined_macro'");
	expect_error("- rule: r\n  id: T-3\n  severity: low\n  condition: process.name in nolist\n",
		     "'in' takes ( values ) or a list name");
	expect_error("- macro: a\n  condition: b\n- macro: b\n  condition: a\n"
		     "- rule: r\n  id: T-3\n  severity: low\n  condition: a\n",
		     "t.yaml:4:14: macro 'a' refers to itself");
	expect_error("- list: l\n  items: [l2]\n- list: l2\n  items: [l]\n"
		     "- rule: r\n  id: T-3\n  severity: low\n  condition: process.name in (l)\n",
		     "refers to itself");
	expect_error("- rule: r\n  id: T-3\n  severity: hgh\n  condition: process.pid = 1\n",
		     "t.yaml:3:13: unknown severity 'hgh'");
	expect_error("- rule: r\n  id: T-3\n  severity: low\n  conditon: process.pid = 1\n",
		     "t.yaml:4:3: unknown key 'conditon' (did you mean 'condition'?)");
	expect_error("- rule: r\n  severity: low\n  condition: process.pid = 1\n", "missing 'id'");
	expect_error("- rule: r\n  id: T-3\n  severity: low\n  condition: process.pid = 1\n"
		     "  output: '%process.nam'\n",
		     "t.yaml:5:13: unknown field 'process.nam'");
	expect_error("- rule: r\n  id: T-3\n  severity: low\n  condition: a = 'x\n",
		     "unterminated");
	expect_error("- rule: [\n", "t.yaml:");
	expect_error("- rule: r\n  id: T-3\n  id: T-4\n", "duplicate key 'id'");
	expect_error("- list: l\n  items: [a]\n- list: l\n  items: [b]\n  append: sure\n",
		     "t.yaml:5:11: 'append' is true or false, not 'sure'");
}

/* Do these rules load, and does some rule fire for json? */
static bool compiles_to_match(const char *rules, const char *json)
{
	struct harness h;
	unsigned n;

	harness_init(&h, rules, 64);
	n = feed(&h, json);
	harness_fini(&h);
	return n >= 1;
}

/* `append: yes` appends (it silently replaced the list when only "true" was read). */
static void test_list_append_takes_every_boolean_spelling(void **state)
{
	static const char *const spellings[] = {"true", "yes", "on", "True"};
	char text[512];

	for (size_t i = 0; i < ARRAY_SIZE(spellings); i++) {
		snprintf(text, sizeof(text),
			 "- list: shells\n  items: [bash]\n"
			 "- list: shells\n  items: [zsh]\n  append: %s\n"
			 "- rule: r\n  id: T-1\n  severity: low\n"
			 "  condition: process.name in (shells)\n",
			 spellings[i]);
		assert_true(compiles_to_match(text, EXEC_BASH));
	}
}

static void test_compile_warns_rules_that_cannot_match(void **state)
{
	struct ruleset *rs = NULL;
	struct diag_lines d;

	assert_int_equal(load_text("- rule: r\n  id: T-5\n  severity: low\n"
				   "  condition: event.action = exec and event.action = open\n",
				   &rs, &d),
			 0);
	assert_non_null(strstr(d.text, "warning: rule T-5 can never match"));
	ruleset_free(rs);
}

static void test_compile_refuses_world_writable_files(void **state)
{
	const char *p = write_file("ww.yaml", "- list: x\n  items: [a]\n");
	struct rules_diag diag = {.fn = collect};
	struct diag_lines d = {{0}};
	struct ruleset *rs = NULL;

	diag.ctx = &d;
	chmod(p, 0666);
	assert_int_not_equal(ruleset_load(&p, 1, NULL, &diag, &rs), 0);
	assert_non_null(strstr(d.text, "world-writable"));
	unlink(p);
	d.text[0] = 0;
	p = dir;
	chmod(dir, 0777); /* a directory anyone can add rules to */
	assert_int_not_equal(ruleset_load(&p, 1, NULL, &diag, &rs), 0);
	assert_non_null(strstr(d.text, "refusing it: world-writable"));
	chmod(dir, 0700);
}

static void test_select_enable_disable_severity(void **state)
{
	const char *p =
	    write_file("sel.yaml", "- rule: a\n  id: A-1\n  severity: low\n  tags: [x]\n"
				   "  condition: process.pid = 42\n"
				   "- rule: b\n  id: B-1\n  severity: low\n  enabled: false\n"
				   "  condition: process.pid = 42\n");
	struct strv dis = {0}, en = {0}, sev = {0};
	struct rules_select sel = {.enable = &en, .disable = &dis, .severity = &sev};
	struct rules_diag diag = {0};
	struct ruleset *rs = NULL;
	struct harness h = {0};

	assert_int_equal(ruleset_load(&p, 1, NULL, &diag, &rs), 0);
	assert_int_equal(ruleset_count(rs), 1); /* b is disabled in the file */
	ruleset_free(rs);
	strv_push(&dis, "x"); /* by tag */
	strv_push(&en, "B-1");
	strv_push(&sev, "B-1=critical");
	assert_int_equal(ruleset_load(&p, 1, &sel, &diag, &rs), 0);
	assert_int_equal(ruleset_count(rs), 1);
	assert_int_equal(view_init(&h.v, 4096), 0);
	assert_int_equal(json_view_new(&h.jv), 0);
	assert_int_equal(rule_engine_new(rs, 16, on_alert, &h.f, &h.e), 0);
	assert_int_equal(feed(&h, EXEC_BASH), 1);
	assert_string_equal(h.f.ids[0], "B-1");
	assert_int_equal(h.f.sev, SEV_CRITICAL);
	harness_fini(&h);
	strv_clear(&dis);
	strv_clear(&en);
	strv_clear(&sev);
}

#define OPEN_PKL(eid, ts)                                                   \
	"{\"@timestamp\":\"2026-11-28T10:00:" ts                            \
	"Z\",\"event\":{\"action\":\"open\",\"id\":\"o-" eid                \
	"\"},\"process\":{\"entity_id\":\"" eid "\",\"name\":\"python3\"}," \
	"\"file\":{\"path\":\"/m/x.pkl\",\"extension\":\"pkl\"}}"
#define EXEC_SH(eid, anc, ts)                                                              \
	"{\"@timestamp\":\"2026-11-28T10:00:" ts "Z\",\"event\":{\"action\":\"exec\"},"    \
	"\"process\":{\"entity_id\":\"" eid "\",\"name\":\"sh\"},\"vigil\":{\"process\":{" \
	"\"ancestors\":[{\"entity_id\":\"" anc "\"},{\"entity_id\":\"E1\"}]}}}"

static const char *seq_rules = "- rule: pickle then shell\n  id: S-1\n  severity: critical\n"
			       "  sequence:\n    by: tree\n    within: 30s\n    steps:\n"
			       "      - event.action = open and file.extension = pkl\n"
			       "      - event.action = exec and process.name = sh\n";

static void test_sequence_tree_within_window(void **state)
{
	struct harness h;

	harness_init(&h, seq_rules, 64);
	assert_int_equal(feed(&h, EXEC_SH("C9", "P9", "01")), 0); /* B before A: nothing */
	assert_int_equal(feed(&h, OPEN_PKL("P1", "02")), 0);
	assert_int_equal(feed(&h, EXEC_SH("C2", "P2", "03")), 0); /* another tree */
	assert_int_equal(feed(&h, EXEC_SH("C1", "P1", "10")), 1); /* a child of P1 */
	assert_string_equal(h.f.key, "P1");
	assert_int_equal(h.f.steps, 2);
	assert_int_equal(feed(&h, EXEC_SH("C1", "P1", "11")), 0); /* fired once, state gone */
	assert_int_equal(feed(&h, OPEN_PKL("P1", "12")), 0);
	assert_int_equal(feed(&h, EXEC_SH("C3", "P1", "50")), 0); /* 38 s later: expired */
	harness_fini(&h);
}

static void test_sequence_by_field_and_same_process(void **state)
{
	struct harness h;

	harness_init(&h,
		     "- rule: s\n  id: S-2\n  severity: high\n"
		     "  sequence:\n    by: session\n    within: 1m\n    steps:\n"
		     "      - event.action = exec\n"
		     "      - event.action = connect and destination.port = 443\n",
		     64);
	assert_int_equal(feed(&h, EXEC_BASH), 0);
	/* no session on the connect: no key, no match */
	assert_int_equal(feed(&h, CONNECT("1.2.3.4", 443)), 0);
	assert_int_equal(
	    feed(&h,
		 "{\"@timestamp\":\"2026-11-28T10:00:30Z\",\"event\":{\"action\":\"connect\"},"
		 "\"process\":{\"session_leader\":{\"pid\":7}},\"destination\":{\"port\":443}}"),
	    1);
	assert_string_equal(h.f.key, "7");
	harness_fini(&h);
}

static void test_sequence_state_is_bounded_and_evictions_counted(void **state)
{
	struct rule_engine_stats st;
	struct harness h;
	char ev[512];

	harness_init(&h, seq_rules, 16);
	for (int i = 0; i < 40; i++) {
		snprintf(ev, sizeof(ev),
			 "{\"@timestamp\":\"2026-11-28T10:00:01Z\",\"event\":{\"action\":\"open\"},"
			 "\"process\":{\"entity_id\":\"P%d\"},\"file\":{\"extension\":\"pkl\"}}",
			 i);
		feed(&h, ev);
	}
	rule_engine_stats(h.e, &st);
	assert_int_equal(st.seq_live, 16);
	assert_int_equal(st.seq_started, 40);
	assert_int_equal(st.seq_evicted, 24);
	/* the newest survive, the oldest were evicted */
	assert_int_equal(feed(&h, EXEC_SH("C", "P39", "02")), 1);
	assert_int_equal(feed(&h, EXEC_SH("C", "P0", "02")), 0);
	harness_fini(&h);
}

struct evicted_seen {
	char ids[4][16];
	uint64_t n[4], total[4];
	unsigned count;
};

static void on_evicted(void *ctx, const struct rule *r, uint64_t n, uint64_t total)
{
	struct evicted_seen *s = ctx;

	assert_true(s->count < 4);
	snprintf(s->ids[s->count], sizeof(s->ids[0]), "%s", rule_meta(r)->id);
	s->n[s->count] = n;
	s->total[s->count++] = total;
}

#define CONNECT_BY(ent, sec)                                                                \
	"{\"@timestamp\":\"2026-11-28T10:00:" sec "Z\",\"event\":{\"action\":\"connect\"}," \
	"\"process\":{\"entity_id\":\"" ent "\"}}"

/* Flooding one rule's keys to evict another's pending sequence is told, per victim rule. */
static void test_sequence_evictions_are_reported_per_rule(void **state)
{
	struct evicted_seen s = {0};
	struct harness h;
	char ev[512];

	harness_init(&h,
		     "- rule: pickle then shell\n  id: S-1\n  severity: critical\n"
		     "  sequence:\n    by: tree\n    within: 30s\n    steps:\n"
		     "      - event.action = open and file.extension = pkl\n"
		     "      - event.action = exec and process.name = sh\n"
		     "- rule: noise\n  id: N-1\n  severity: low\n"
		     "  sequence:\n    by: process\n    within: 30s\n    steps:\n"
		     "      - event.action = connect\n"
		     "      - event.action = exec and process.name = nothing\n",
		     16);
	feed(&h, OPEN_PKL("P1", "01"));
	for (int i = 0; i < 16; i++) { /* the flood: 16 keys of another rule */
		snprintf(ev, sizeof(ev), CONNECT_BY("F%d", "02"), i);
		feed(&h, ev);
	}
	assert_int_equal(feed(&h, EXEC_SH("C1", "P1", "03")), 0); /* the sequence was lost */
	rule_engine_evictions(h.e, true, on_evicted, &s);
	assert_int_equal(s.count, 1);
	assert_string_equal(s.ids[0], "S-1");
	assert_int_equal(s.n[0], 1);
	s.count = 0;
	rule_engine_evictions(h.e, true, on_evicted, &s); /* reported once */
	assert_int_equal(s.count, 0);
	feed(&h, CONNECT_BY("F99", "04"));		   /* evicts the oldest flood key, N-1's */
	rule_engine_evictions(h.e, false, on_evicted, &s); /* totals, for status */
	assert_int_equal(s.count, 2);
	assert_int_equal(s.total[0], 1);
	assert_int_equal(s.total[1], 1);
	harness_fini(&h);
}

static void test_threshold_counts_distinct_values_per_key(void **state)
{
	struct harness h;
	char ev[512];

	harness_init(&h,
		     "- rule: sweep\n  id: S-3\n  severity: low\n  condition: event.action = open\n"
		     "  threshold:\n    by: process\n    within: 60s\n    count: 3\n"
		     "    distinct: file.directory\n",
		     64);
	for (int i = 0; i < 4; i++) { /* the same directory again and again: one value */
		snprintf(
		    ev, sizeof(ev),
		    "{\"@timestamp\":\"2026-11-28T10:00:0%dZ\",\"event\":{\"action\":\"open\"},"
		    "\"process\":{\"entity_id\":\"P\"},\"file\":{\"directory\":\"/m/a\"}}",
		    i);
		assert_int_equal(feed(&h, ev), 0);
	}
	for (int i = 0; i < 2; i++) {
		snprintf(
		    ev, sizeof(ev),
		    "{\"@timestamp\":\"2026-11-28T10:00:1%dZ\",\"event\":{\"action\":\"open\"},"
		    "\"process\":{\"entity_id\":\"P\"},\"file\":{\"directory\":\"/m/%c\"}}",
		    i, 'b' + i);
		assert_int_equal(feed(&h, ev), i == 1); /* the third distinct directory fires */
	}
	assert_int_equal(h.f.steps, 3);
	assert_string_equal(h.f.key, "P");
	harness_fini(&h);
}

/* The live path maps actions by enum, replay by name: both must land in the same bucket. */
static void test_action_bits_agree_with_action_names(void **state)
{
	for (enum vigil_action a = VA_EXEC; a <= VA_SIGNAL; a++) {
		const char *name = vigil_action_name(a);

		assert_int_equal(event_view_action(a), action_bit_of(name, strlen(name)));
	}
}

static void test_engine_swap_keeps_running_until_replaced(void **state)
{
	struct harness h;
	struct ruleset *rs;

	harness_init(
	    &h, "- rule: a\n  id: A-1\n  severity: low\n  condition: process.name = bash\n", 64);
	assert_int_equal(feed(&h, EXEC_BASH), 1);
	rs = load_ok("- rule: b\n  id: B-1\n  severity: low\n  condition: process.name = zsh\n");
	ruleset_free(rule_engine_swap(h.e, rs));
	assert_int_equal(feed(&h, EXEC_BASH), 0);
	assert_int_equal(ruleset_count(rule_engine_ruleset(h.e)), 1);
	harness_fini(&h);
}

static void test_identical_alerts_are_held_back_and_counted(void **state)
{
	struct rule_engine_stats st;
	struct harness h;

	harness_init(
	    &h, "- rule: a\n  id: A-1\n  severity: low\n  condition: process.name = bash\n", 64);
	rule_engine_set_dedup(h.e, 10ull * 1000000000ull);
	assert_int_equal(feed(&h, EXEC_BASH), 1);
	assert_int_equal(feed(&h, EXEC_BASH), 0);
	assert_int_equal(feed(&h, EXEC_BASH), 0);
	rule_engine_stats(h.e, &st);
	assert_int_equal(st.suppressed, 2);
	/* 11 s later the same alert goes out again, carrying the count */
	assert_int_equal(feed(&h,
			      "{\"@timestamp\":\"2026-11-28T10:00:11Z\",\"event\":{\"action\":"
			      "\"exec\"},\"process\":{\"name\":\"bash\",\"entity_id\":\"E42\"}}"),
			 1);
	assert_int_equal(h.f.suppressed, 2);
	harness_fini(&h);
}

static void test_rules_override_by_id_and_file_name(void **state)
{
	const char *paths[2];
	char sub[300];
	struct rules_diag diag = {0};
	struct ruleset *rs = NULL;
	struct harness h = {0};

	paths[0] = strdup(write_file("a.yaml", "- rule: a\n  id: A-1\n  severity: low\n"
					       "  condition: process.name = zsh\n")); /* replaced */
	snprintf(sub, sizeof(sub), "%s/local", dir);
	mkdir(sub, 0755);
	write_file("local/a.yaml", "- rule: a2\n  id: A-1\n  severity: low\n"
				   "  condition: process.name = bash\n");
	paths[1] = sub;
	assert_int_equal(ruleset_load(paths, 2, NULL, &diag, &rs), 0);
	assert_int_equal(ruleset_count(rs), 1);
	assert_int_equal(view_init(&h.v, 4096), 0);
	assert_int_equal(json_view_new(&h.jv), 0);
	assert_int_equal(rule_engine_new(rs, 16, on_alert, &h.f, &h.e), 0);
	assert_int_equal(feed(&h, EXEC_BASH), 1);
	harness_fini(&h);
	free((char *)paths[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_eval_string_operators),
	    cmocka_unit_test(test_eval_many_values_use_set_and_prefix_table),
	    cmocka_unit_test(test_eval_multi_valued_fields_match_any),
	    cmocka_unit_test(test_eval_missing_field_fails_every_test),
	    cmocka_unit_test(test_eval_numbers_booleans),
	    cmocka_unit_test(test_eval_cidr_v4_v6),
	    cmocka_unit_test(test_compile_lists_macros_exceptions),
	    cmocka_unit_test(test_compile_errors_name_file_line_col),
	    cmocka_unit_test(test_compile_warns_rules_that_cannot_match),
	    cmocka_unit_test(test_list_append_takes_every_boolean_spelling),
	    cmocka_unit_test(test_compile_refuses_world_writable_files),
	    cmocka_unit_test(test_select_enable_disable_severity),
	    cmocka_unit_test(test_sequence_tree_within_window),
	    cmocka_unit_test(test_sequence_by_field_and_same_process),
	    cmocka_unit_test(test_sequence_state_is_bounded_and_evictions_counted),
	    cmocka_unit_test(test_sequence_evictions_are_reported_per_rule),
	    cmocka_unit_test(test_threshold_counts_distinct_values_per_key),
	    cmocka_unit_test(test_action_bits_agree_with_action_names),
	    cmocka_unit_test(test_engine_swap_keeps_running_until_replaced),
	    cmocka_unit_test(test_identical_alerts_are_held_back_and_counted),
	    cmocka_unit_test(test_rules_override_by_id_and_file_name),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
