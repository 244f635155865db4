// SPDX-License-Identifier: GPL-2.0
/* cmd_rules.c — rules check and reload, and replay of recorded streams through rules. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "core/config.h"
#include "detect/derive.h"
#include "detect/replay.h"
#include "detect/rules.h"
#include "respond/playbook.h"
#include "core/util.h"

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
	struct rules_diag diag = {.fn = cli_print_diag};
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
	resp = cli_call(c, "rules-reload");
	if (!resp)
		return 1;
	printf("rules reloaded: %lld rules\n",
	       (long long)json_integer_value(json_object_get(resp, "rules")));
	return 0;
}

const struct cmd rules_cmds[] = {
    {"check", cmd_rules_check, "[--portable [--strict]] PATH...",
     "compile rule files, report file:line:col; --portable: rules a plain ECS stream cannot serve"},
    {"reload", cmd_rules_reload, "",
     "make vigild recompile its rules and playbooks (kept if they fail)"},
    {},
};

int cmd_rules(struct cli *c, int argc, char **argv)
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

int cmd_replay(struct cli *c, int argc, char **argv)
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
	struct rules_diag diag = {.fn = cli_print_diag};
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
