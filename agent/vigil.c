// SPDX-License-Identifier: GPL-2.0
/*
 * vigil — the operator CLI. Daemon commands go over the control socket;
 * `verify` runs standalone. Exit codes: 0 ok, 1 failure, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/chain.h"
#include "daemon/control.h"
#include "detect/derive.h"
#include "confine/launch.h"
#include "respond/playbook.h"
#include "confine/record.h"
#include "detect/replay.h"
#include "detect/rules.h"
#include "confine/seccomp_filter.h"
#include "core/util.h"

#define DEFAULT_SOCKET "/run/vigil/vigil.sock"

struct cli {
	const char *socket;
	bool json;
};

/*
 * One table per command level drives dispatch, prefix matching and --help
 * (bpftool's struct cmd). Every handler gets argv[0] = its own command word,
 * as getopt expects.
 */
struct cmd {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
	const char *args; /* after the name, for --help */
	const char *help;
};

static void usage_of(FILE *f, const char *prefix, const struct cmd *cmds)
{
	for (const struct cmd *k = cmds; k->name; k++) {
		char head[160];

		snprintf(head, sizeof(head), "%s%s%s%s", prefix, k->name, k->args[0] ? " " : "",
			 k->args);
		if (strlen(head) <= 17)
			fprintf(f, "  %-17s %s\n", head, k->help);
		else
			fprintf(f, "  %s\n  %-17s %s\n", head, "", k->help);
	}
}

/* The command whose name is word, or the only one it is a prefix of. */
static const struct cmd *cmd_find(const struct cmd *cmds, const char *word, const char *group)
{
	const struct cmd *hit = NULL;
	unsigned n = 0;

	for (const struct cmd *k = cmds; k->name; k++) {
		if (!strcmp(k->name, word))
			return k;
		if (!strncmp(k->name, word, strlen(word)) && n++ == 0)
			hit = k;
	}
	if (n == 1)
		return hit;
	fprintf(stderr, "vigil: %s%s\"%s\" (see vigil --help)\n", group,
		n ? "ambiguous command " : "unknown command ", word);
	return NULL;
}

static int cmd_select(struct cli *c, const struct cmd *cmds, const char *group, int argc,
		      char **argv)
{
	const struct cmd *k;

	if (argc < 1) {
		fprintf(stderr, "vigil: %swhich command? (see vigil --help)\n", group);
		return 2;
	}
	k = cmd_find(cmds, argv[0], group);
	if (!k)
		return 2;
	argv[0] = (char *)k->name; /* handlers and getopt see the whole name */
	return k->fn(c, argc, argv);
}

static void print_obj(json_t *o, int indent)
{
	const char *k;
	json_t *v;

	json_object_foreach (o, k, v) {
		if (json_is_object(v)) {
			printf("%*s%s:\n", indent, "", k);
			print_obj(v, indent + 2);
			continue;
		}
		char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

		if (json_is_string(v))
			printf("%*s%s: %s\n", indent, "", k, json_string_value(v));
		else
			printf("%*s%s: %s\n", indent, "", k, s ? s : "?");
		free(s);
	}
}

/* One request to vigild (req is consumed); NULL (and a message) on failure. */
static json_t *call_req(struct cli *c, const char *cmd, json_t *req)
{
	_cleanup_(json_decrefp) json_t *sent = req, *resp = NULL;
	char err[512];

	resp = control_call(c->socket, sent, err, sizeof(err));
	if (!resp) {
		fprintf(stderr, "vigil: %s\n", err);
		return NULL;
	}
	if (!json_is_true(json_object_get(resp, "ok"))) {
		fprintf(stderr, "vigil: %s: %s\n", cmd,
			json_string_value(json_object_get(resp, "error")) ?: "failed");
		return NULL;
	}
	json_object_del(resp, "ok");
	return TAKE_PTR(resp);
}

static json_t *call(struct cli *c, const char *cmd)
{
	return call_req(c, cmd, json_pack("{s:s}", "cmd", cmd));
}

static int print_json(const json_t *o)
{
	json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	return 0;
}

/* --pid N | --cgroup PATH plus action flags, into a request. */
static int target_args(const char *cmd, int argc, char **argv, json_t *req, bool actions)
{
	static const struct option opts[] = {
	    {"pid", required_argument, NULL, 'p'}, {"cgroup", required_argument, NULL, 'c'},
	    {"kill", no_argument, NULL, 'k'},	   {"freeze", no_argument, NULL, 'f'},
	    {"isolate", no_argument, NULL, 'i'},   {}};
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		char *end;
		long pid;

		switch (o) {
		case 'p':
			pid = strtol(optarg, &end, 10);
			if (*end || pid <= 0) {
				fprintf(stderr, "vigil: %s: --pid: not a process id: %s\n", cmd,
					optarg);
				return -1;
			}
			json_object_set_new(req, "pid", json_integer(pid));
			break;
		case 'c':
			json_object_set_new(req, "cgroup", json_string(optarg));
			break;
		case 'k':
		case 'f':
		case 'i':
			if (actions) {
				json_object_set_new(req,
						    o == 'k'   ? "kill"
						    : o == 'f' ? "freeze"
							       : "isolate",
						    json_true());
				break;
			}
			/* fall through */
		default:
			return -1;
		}
	}
	if (optind != argc || !json_object_get(req, "pid") == !json_object_get(req, "cgroup")) {
		fprintf(stderr, "vigil: %s: usage: %s (--pid N | --cgroup PATH)%s\n", cmd, cmd,
			actions ? " [--kill] [--freeze] [--isolate]" : "");
		return -1;
	}
	return 0;
}

static int cmd_contain(struct cli *c, int argc, char **argv)
{
	const char *cmd = argv[0];
	_cleanup_(json_decrefp) json_t *req = json_pack("{s:s}", "cmd", cmd), *resp = NULL;
	json_t *st;
	size_t i;

	if (target_args(cmd, argc, argv, req, !strcmp(cmd, "contain")) < 0)
		return 2;
	resp = call_req(c, cmd, TAKE_PTR(req));
	if (!resp)
		return 1;
	if (c->json)
		return print_json(resp);
	printf("incident %s\n", json_string_value(json_object_get(resp, "incident")));
	json_array_foreach (json_object_get(resp, "steps"), i, st)
		printf("  %s %s: %s\n", json_string_value(json_object_get(st, "name")),
		       json_string_value(json_object_get(st, "target_description")),
		       json_string_value(json_object_get(st, "outcome")));
	if (!strcmp(cmd, "release"))
		printf("released\n");
	return 0;
}

static int cmd_incidents(struct cli *c, int argc, char **argv)
{
	_cleanup_(json_decrefp) json_t *req = json_pack("{s:s}", "cmd", "incidents"), *resp = NULL;
	json_t *x;
	size_t i;

	argc--, argv++; /* the arguments after the command word */

	if (argc > 1) {
		fprintf(stderr, "vigil: incidents: usage: incidents [ID]\n");
		return 2;
	}
	if (argc == 1)
		json_object_set_new(req, "id", json_string(argv[0]));
	resp = call_req(c, "incidents", TAKE_PTR(req));
	if (!resp)
		return 1;
	if (c->json)
		return print_json(resp);
	if (argc == 1) {
		json_dumpf(json_object_get(resp, "incident"), stdout, JSON_INDENT(2));
		putchar('\n');
		return 0;
	}
	json_array_foreach (json_object_get(resp, "incidents"), i, x)
		printf("%s  %-9s %-8s %s\n", json_string_value(json_object_get(x, "id")),
		       json_string_value(json_object_get(x, "status")),
		       json_string_value(json_object_get(x, "source")),
		       json_string_value(json_object_get(x, "title")));
	json_array_foreach (json_object_get(resp, "containments"), i, x)
		printf("contained: %s (%s)%s%s  incident %s\n",
		       json_string_value(json_object_get(x, "cgroup")),
		       json_string_value(json_object_get(x, "id")),
		       json_is_true(json_object_get(x, "frozen")) ? " frozen" : "",
		       json_is_true(json_object_get(x, "isolated")) ? " isolated" : "",
		       json_string_value(json_object_get(x, "incident")));
	return 0;
}

static void collect_warning(void *ctx, const char *msg)
{
	json_array_append_new(ctx, json_string(msg));
}

/* Validate a profile and say what it does on this host. */
static int cmd_seccomp_check(struct cli *c, int argc, char **argv)
{
	_cleanup_(sc_profile_freep) struct sc_profile *p = NULL;
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
	_cleanup_(json_decrefp) json_t *warnings = json_array(), *o = NULL;
	struct sc_report rep;
	struct sc_host host;
	struct sc_opts so = {.warn = collect_warning, .ctx = warnings};
	char err[768];
	size_t i;
	int e;

	argc--, argv++; /* the arguments after the command word */

	if (argc != 1) {
		fprintf(stderr, "vigil: seccomp check: usage: seccomp check PROFILE\n");
		return 2;
	}
	e = sc_profile_load(argv[0], &p, err, sizeof(err));
	if (e == 0) {
		char berr[512];

		sc_host_detect(&host, sc_caps_current());
		e = sc_build(p, &host, &so, &ctx, &rep, berr, sizeof(berr));
		if (e < 0)
			snprintf(err, sizeof(err), "%s: %s", argv[0], berr);
	}
	if (e < 0) {
		fprintf(stderr, "vigil: seccomp check: %s\n", err);
		return 1;
	}
	o = json_pack("{s:b, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:O}", "ok", 1,
		      "default_action", sc_action_name(p->default_action), "rules", p->nrules,
		      "syscall_rules_added", rep.rules_added, "allowed", rep.syscalls_allowed,
		      "denied", rep.syscalls_denied, "skipped_for_this_host",
		      rep.skipped_conditional, "same_as_default", rep.skipped_default,
		      "unknown_names", rep.unknown_names, "host_arch", host.arch, "warnings",
		      warnings);
	if (c->json)
		return print_json(o);
	printf(
	    "OK: %s: default %s, %lld rules; on this host (%s, caps of vigil): %lld syscall rules "
	    "(%lld allow, %lld deny), %lld rules not for this host, %lld same as the default, %lld "
	    "unknown names skipped\n",
	    argv[0], json_string_value(json_object_get(o, "default_action")),
	    (long long)json_integer_value(json_object_get(o, "rules")), host.arch,
	    (long long)rep.rules_added, (long long)rep.syscalls_allowed,
	    (long long)rep.syscalls_denied, (long long)rep.skipped_conditional,
	    (long long)rep.skipped_default, (long long)rep.unknown_names);
	for (i = 0; i < json_array_size(warnings); i++)
		printf("  warning: %s\n", json_string_value(json_array_get(warnings, i)));
	return 0;
}

/* seccomp record (--pid N | --cgroup PATH | -- CMD…) [--duration T] -o OUT [--merge P] */
static int cmd_seccomp_record(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"pid", required_argument, NULL, 'p'},	{"cgroup", required_argument, NULL, 'c'},
	    {"duration", required_argument, NULL, 'd'}, {"output", required_argument, NULL, 'o'},
	    {"merge", required_argument, NULL, 'm'},	{}};
	struct record_opts ro = {0};
	char *const *cmd = NULL;
	int o, targets;

	optind = 1;
	while ((o = getopt_long(argc, argv, "+o:", opts, NULL)) != -1) {
		if (o == 'p')
			ro.pid = atoi(optarg);
		else if (o == 'c')
			ro.cgroup = optarg;
		else if (o == 'o')
			ro.out = optarg;
		else if (o == 'm')
			ro.merge = optarg;
		else if (o != 'd' || parse_duration_ms(optarg, &ro.duration_ms) < 0)
			return 2;
	}
	if (optind < argc)
		cmd = argv + optind;
	targets = (ro.pid > 0) + (ro.cgroup != NULL) + (cmd != NULL);
	if (targets != 1 || !ro.out || (!cmd && !ro.duration_ms)) {
		fprintf(stderr,
			"vigil: seccomp record: usage: seccomp record (--pid N | --cgroup PATH "
			"| -- CMD [ARGS...]) [--duration T] -o OUT [--merge PROFILE]\n"
			"  (--pid and --cgroup need --duration; a command is recorded until it "
			"exits)\n");
		return 2;
	}
	return record_run(&ro, cmd);
}

static const struct cmd seccomp_cmds[] = {
    {"check", cmd_seccomp_check, "P", "validate a profile; what it does on this host"},
    {"record", cmd_seccomp_record,
     "(--pid N | --cgroup PATH | -- CMD...) [--duration T] -o OUT [--merge P]",
     "learn a profile from what a program calls"},
    {},
};

static int cmd_seccomp(struct cli *c, int argc, char **argv)
{
	return cmd_select(c, seccomp_cmds, "seccomp: ", argc - 1, argv + 1);
}

/* vigil exec --profile P [--complain] [--user U] [--strict] -- CMD ARGS… */
static int cmd_exec(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"profile", required_argument, NULL, 'p'},
					     {"complain", no_argument, NULL, 'c'},
					     {"user", required_argument, NULL, 'u'},
					     {"strict", no_argument, NULL, 's'},
					     {"quiet", no_argument, NULL, 'q'},
					     {"pin-dir", required_argument, NULL, 'P'},
					     {}};
	struct launch_opts lo = {0};
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (o == 'p')
			lo.profile = optarg;
		else if (o == 'c')
			lo.complain = true;
		else if (o == 'u')
			lo.user = optarg;
		else if (o == 's')
			lo.strict_names = true;
		else if (o == 'q')
			lo.quiet = true;
		else if (o == 'P')
			lo.pin_dir = optarg;
		else
			return 125;
	}
	if (!lo.profile || optind >= argc) {
		fprintf(stderr,
			"vigil: exec: usage: exec --profile PROFILE [--complain] [--user U] "
			"[--strict] [--quiet] [--pin-dir DIR] -- CMD [ARGS...]\n");
		return 125;
	}
	return launch_exec(&lo, argv + optind);
}

/*
 * The stream as vigild writes it; --follow keeps asking for what came after.
 * A reply holds at most about 1 MiB of lines ("more"): the rest is asked for
 * at once, up to the 1000 lines a plain `events` shows.
 */
static int cmd_events(struct cli *c, int argc, char **argv)
{
	bool follow = argc == 2 && (!strcmp(argv[1], "--follow") || !strcmp(argv[1], "-f"));
	bool more;
	json_int_t next = -1;
	size_t shown = 0;

	argc--, argv++; /* the arguments after the command word */

	if (argc > 1 || (argc == 1 && !follow)) {
		fprintf(stderr, "vigil: events: usage: events [--follow]\n");
		return 2;
	}
	do {
		json_t *req = json_pack("{s:s, s:i}", "cmd", "events", "max",
					follow ? 1000 : (int)(1000 - shown)),
		       *l;
		_cleanup_(json_decrefp) json_t *resp = NULL;
		size_t i;

		if (next >= 0)
			json_object_set_new(req, "after", json_integer(next));
		resp = call_req(c, "events", req);
		if (!resp)
			return 1;
		if (json_integer_value(json_object_get(resp, "missed")) && next >= 0)
			fprintf(stderr, "vigil: events: %lld lines went by too fast to show\n",
				(long long)json_integer_value(json_object_get(resp, "missed")));
		json_array_foreach (json_object_get(resp, "lines"), i, l)
			puts(json_string_value(l));
		fflush(stdout);
		shown += json_array_size(json_object_get(resp, "lines"));
		next = json_integer_value(json_object_get(resp, "next"));
		more = json_is_true(json_object_get(resp, "more"));
		if (follow && !more)
			usleep(200000);
	} while (follow || (more && shown < 1000));
	return 0;
}

static int cmd_status(struct cli *c, int argc, char **argv)
{
	_cleanup_(json_decrefp) json_t *resp = NULL;

	if (argc > 1) {
		fprintf(stderr, "vigil: status: takes no arguments\n");
		return 2;
	}
	resp = call(c, "status");
	if (!resp)
		return 1;
	if (c->json)
		return print_json(resp);
	print_obj(resp, 0);
	return 0;
}

static void print_break(void *ctx, const char *file, uint64_t line, const char *reason)
{
	if (ctx)
		json_array_append_new(ctx, json_pack("{s:s, s:I, s:s}", "file", file, "line",
						     (json_int_t)line, "reason", reason));
	else
		printf("%s:%llu: %s\n", file, (unsigned long long)line, reason);
}

/* vigil verify [--continued] FILE...: every break, one line each, then a verdict. */
static int cmd_verify(struct cli *c, int argc, char **argv)
{
	_cleanup_(json_decrefp) json_t *breaks = c->json ? json_array() : NULL;
	struct chain_verify_opts o = {.on_break = print_break, .ctx = breaks};
	struct chain_result res;
	int r;

	argc--, argv++; /* the arguments after the command word */

	if (argc > 0 && !strcmp(argv[0], "--continued")) {
		o.continued = true;
		argc--;
		argv++;
	}
	if (argc < 1) {
		fprintf(stderr, "vigil: verify: which files? (oldest first, e.g. events.jsonl.2 "
				"events.jsonl.1 events.jsonl)\n");
		return 2;
	}
	r = chain_verify(argv, argc, &o, &res);
	if (r < 0) {
		fprintf(stderr, "vigil: verify: %s: %s\n", res.file, strerror(-r));
		return 1;
	}
	if (c->json) {
		_cleanup_(json_decrefp) json_t *out =
		    json_pack("{s:b, s:I, s:I, s:O}", "ok", r == 0, "lines", (json_int_t)res.lines,
			      "breaks_found", (json_int_t)res.breaks, "breaks", breaks);

		print_json(out);
	} else if (r) {
		printf("FAILED: %llu lines, %llu break%s in the hash chain\n",
		       (unsigned long long)res.lines, (unsigned long long)res.breaks,
		       res.breaks == 1 ? "" : "s");
	} else {
		printf("OK: %llu lines, hash chain intact%s\n", (unsigned long long)res.lines,
		       o.continued
			   ? " (continued: the first line was not checked against the genesis)"
			   : " from the genesis");
	}
	return r ? 1 : 0;
}

static void print_diag(void *ctx, bool error, const char *line)
{
	fprintf(stderr, "%s\n", line);
}

static bool rule_names_any(const uint64_t *fields)
{
	for (unsigned i = 0; i < FIELD_WORDS; i++)
		if (fields[i])
			return true;
	return false;
}

/*
 * --portable: the rules that need a field a plain ECS stream (auditbeat,
 * Elastic Defend…) cannot carry and replay cannot derive (derive.h). One
 * that cannot fire at all without it is "cannot"; one where it only
 * decides part of the condition is "partly". Returns how many cannot.
 */
static unsigned portable_report(const struct ruleset *rs)
{
	uint64_t never[FIELD_WORDS];
	unsigned cannot = 0, partly = 0;

	derive_never(never);
	for (unsigned i = 0; i < ruleset_count(rs); i++) {
		const struct rule *r = ruleset_rule(rs, i);
		const struct rule_meta *m = rule_meta(r);
		uint64_t used[FIELD_WORDS] = {0};
		bool can = rule_can_fire_without(r, never, used);
		const char *sep = "";

		if (!rule_names_any(used))
			continue;
		can ? partly++ : cannot++;
		printf("%s:%u: %s %s: %s on plain ECS, needs", m->file, m->line, m->id, m->name,
		       can ? "partly" : "cannot fire");
		for (int f = 0; f < F__COUNT; f++)
			if (field_bit(used, f)) {
				printf("%s %s", sep, field_defs[f].name);
				sep = ",";
			}
		putchar('\n');
	}
	printf("portable: %u of %u rules work on a plain ECS stream, %u partly, %u cannot fire\n",
	       ruleset_count(rs) - cannot - partly, ruleset_count(rs), partly, cannot);
	return cannot;
}

static int cmd_rules_check(struct cli *c, int argc, char **argv)
{
	struct rules_diag diag = {.fn = print_diag};
	struct ruleset *rs = NULL;
	bool portable = false, strict = false;
	unsigned cannot = 0;
	int r;

	argc--, argv++; /* the arguments after the command word */

	for (; argc > 0 && !strncmp(argv[0], "--", 2); argc--, argv++) {
		if (!strcmp(argv[0], "--portable"))
			portable = true;
		else if (!strcmp(argv[0], "--strict"))
			strict = portable = true;
		else
			return fprintf(stderr, "vigil: rules check: unknown option %s\n", argv[0]),
			       2;
	}
	if (portable && c->json) {
		fprintf(stderr, "vigil: rules check: --portable writes text, not --json\n");
		return 2;
	}
	if (argc < 1) {
		fprintf(stderr, "vigil: rules check: which files or directories?\n");
		return 2;
	}
	r = ruleset_load((const char *const *)argv, argc, NULL, &diag, &rs);
	if (c->json) {
		json_t *o = json_pack("{s:b, s:i, s:i, s:i}", "ok", r == 0, "rules",
				      rs ? ruleset_count(rs) : 0, "errors", diag.errors, "warnings",
				      diag.warnings);

		json_dumpf(o, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(o);
	} else if (r == 0) {
		printf("OK: %u rules in %u files, %u warnings\n", ruleset_count(rs),
		       ruleset_files(rs), diag.warnings);
	} else {
		fprintf(stderr, "vigil: rules check: %u errors\n", diag.errors ? diag.errors : 1);
	}
	if (r == 0 && portable)
		cannot = portable_report(rs);
	ruleset_free(rs);
	return r == 0 && !(strict && cannot) ? 0 : 1;
}

static int cmd_rules_reload(struct cli *c, int argc, char **argv)
{
	_cleanup_(json_decrefp) json_t *resp = NULL;

	if (argc > 1) {
		fprintf(stderr, "vigil: rules reload: takes no arguments\n");
		return 2;
	}
	resp = call(c, "rules-reload");
	if (!resp)
		return 1;
	printf("rules reloaded: %lld rules\n",
	       (long long)json_integer_value(json_object_get(resp, "rules")));
	return 0;
}

static const struct cmd rules_cmds[] = {
    {"check", cmd_rules_check, "[--portable [--strict]] PATH...",
     "compile rule files, report file:line:col; --portable: rules a plain ECS stream cannot serve"},
    {"reload", cmd_rules_reload, "",
     "make vigild recompile its rules and playbooks (kept if they fail)"},
    {},
};

static int cmd_rules(struct cli *c, int argc, char **argv)
{
	return cmd_select(c, rules_cmds, "rules: ", argc - 1, argv + 1);
}

/* The watch lists and selectors replay derives with: vigild's defaults, or FILE over them. */
static int replay_config(const char *path, struct vigil_config **ret)
{
	char err[512];
	int r = config_defaults(ret);

	if (r < 0)
		return fprintf(stderr, "vigil: replay: %s\n", strerror(-r)), r;
	if (path && (r = config_load_file(*ret, path, err, sizeof(err))) < 0) {
		fprintf(stderr, "vigil: replay: %s\n", err);
		*ret = config_free(*ret);
	}
	return r;
}

static int cmd_replay(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"rules", required_argument, NULL, 'r'},
					     {"playbooks", required_argument, NULL, 'p'},
					     {"falco", no_argument, NULL, 'f'},
					     {"max-sequences", required_argument, NULL, 'm'},
					     {"dedup-window", required_argument, NULL, 'd'},
					     {"config", required_argument, NULL, 'c'},
					     {"no-derive", no_argument, NULL, 'n'},
					     {}};
	struct replay_opts ro = {.max_sequences = 100000, .host_name = "replay", .dedup_ms = 10000};
	struct rules_diag diag = {.fn = print_diag};
	struct playbook_set *playbooks = NULL;
	struct replay_stats st;
	struct ruleset *rs = NULL;
	const char *paths[64], *pbpaths[64], *cfg_path = NULL;
	struct vigil_config *cfg = NULL;
	bool derive = true;
	unsigned np = 0, npb = 0;
	FILE *in;
	int o, r;

	optind = 1;
	while ((o = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (o == 'r' && np < 64)
			paths[np++] = optarg;
		else if (o == 'p' && npb < 64)
			pbpaths[npb++] = optarg;
		else if (o == 'f')
			ro.falco = true;
		else if (o == 'm')
			ro.max_sequences = strtoul(optarg, NULL, 10);
		else if (o == 'c')
			cfg_path = optarg;
		else if (o == 'n')
			derive = false;
		else if (o == 'd' && parse_duration_ms(optarg, &ro.dedup_ms) < 0)
			return fprintf(stderr, "vigil: replay: bad --dedup-window %s\n", optarg), 2;
		else if (o != 'd')
			return 2;
	}
	if (derive && replay_config(cfg_path, &cfg) < 0)
		return 1;
	ro.cfg = cfg;
	if (!np || optind != argc - 1) {
		fprintf(stderr,
			"vigil: replay: usage: replay --rules PATH [--playbooks PATH] [--falco] "
			"FILE|-\n");
		return 2;
	}
	if (ruleset_load(paths, np, NULL, &diag, &rs) < 0)
		return config_free(cfg), 1;
	if (npb && playbooks_load(pbpaths, npb, 0, &diag, &playbooks) < 0) {
		ruleset_free(rs);
		config_free(cfg);
		return 1;
	}
	if (playbooks) {
		ro.on_alert = playbook_dry_run;
		ro.alert_ctx = playbooks;
	}
	in = strcmp(argv[optind], "-") ? fopen(argv[optind], "re") : stdin;
	if (!in) {
		fprintf(stderr, "vigil: replay: %s: %s\n", argv[optind], strerror(errno));
		ruleset_free(rs);
		playbooks_free(playbooks);
		config_free(cfg);
		return 1;
	}
	r = replay_run(rs, &ro, in, argv[optind], stdout, stderr, &st);
	playbooks_free(playbooks);
	config_free(cfg);
	if (in != stdin)
		fclose(in);
	if (r < 0) {
		fprintf(stderr, "vigil: replay: %s: %s\n", argv[optind], strerror(-r));
		return 1;
	}
	fprintf(stderr,
		"replay: %llu events (%llu from another collector), %llu alerts, %llu undecided, "
		"%llu playbook runs (dry-run), %llu malformed lines skipped\n",
		(unsigned long long)st.events, (unsigned long long)st.foreign,
		(unsigned long long)st.alerts, (unsigned long long)st.undecided,
		(unsigned long long)st.playbook_runs, (unsigned long long)st.malformed);
	return 0;
}

static const struct cmd cmds[] = {
    {"status", cmd_status, "", "what vigild is doing: probes in use, counters, drops"},
    {"rules", cmd_rules, "check|reload ...", "compile rule files; make vigild reload (below)"},
    {"events", cmd_events, "[--follow]", "the event stream as vigild writes it"},
    {"contain", cmd_contain, "(--pid N | --cgroup PATH) [--kill] [--freeze] [--isolate]",
     "contain a process tree or cgroup (no flag: freeze + isolate)"},
    {"release", cmd_contain, "(--pid N | --cgroup PATH)", "undo every containment of that target"},
    {"incidents", cmd_incidents, "[ID]", "list incidents and live containments, or show one"},
    {"exec", cmd_exec, "--profile P [--complain] [--user U] [--strict] -- CMD [ARGS...]",
     "run CMD under a seccomp profile (OCI/Docker/Podman JSON)"},
    {"seccomp", cmd_seccomp, "check|record ...", "validate or learn seccomp profiles (below)"},
    {"replay", cmd_replay,
     "--rules PATH [--rules PATH]... [--playbooks PATH]... [--falco] [--config FILE] "
     "[--no-derive] FILE|-",
     "recorded NDJSON through rules: alerts to stdout, playbooks' dry run to stderr; other "
     "collectors' ECS lines get vigil's fields derived"},
    {"verify", cmd_verify, "[--continued] FILE...",
     "every break in the hash chain of events files, oldest first"},
    {},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: vigil [--socket PATH] [--json] COMMAND [ARGS]\n"
		   "commands (any unique prefix will do):\n");
	usage_of(f, "", cmds);
	fprintf(f, "subcommands:\n");
	usage_of(f, "rules ", rules_cmds);
	usage_of(f, "seccomp ", seccomp_cmds);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"socket", required_argument, NULL, 's'},
						 {"json", no_argument, NULL, 'j'},
						 {"help", no_argument, NULL, 'h'},
						 {}};
	struct cli c = {.socket = DEFAULT_SOCKET};
	int o;

	while ((o = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (o) {
		case 's':
			c.socket = optarg;
			break;
		case 'j':
			c.json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	return cmd_select(&c, cmds, "", argc - optind, argv + optind);
}
