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

#include "vigil/chain.h"
#include "vigil/control.h"
#include "vigil/replay.h"
#include "vigil/rules.h"
#include "vigil/util.h"

#define DEFAULT_SOCKET "/run/vigil/vigil.sock"

struct cli {
	const char *socket;
	bool json;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vigil [--socket PATH] [--json] COMMAND [ARGS]\n"
		"commands:\n"
		"  status            what vigild is doing: probes in use, counters, drops\n"
		"  rules check PATH...\n"
		"                    compile rule files or directories, report file:line:col\n"
		"  rules reload      make vigild recompile its rules (kept if they fail)\n"
		"  replay --rules PATH [--rules PATH]... [--playbooks PATH] [--falco] FILE|-\n"
		"                    run recorded NDJSON events through rules, alerts to stdout\n"
		"  verify FILE...    check the hash chain of events files, oldest first\n");
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

/* One request to vigild; NULL (and a message) on failure. */
static json_t *call(struct cli *c, const char *cmd)
{
	json_t *req = json_pack("{s:s}", "cmd", cmd);
	char err[512];
	json_t *resp = control_call(c->socket, req, err, sizeof(err));

	json_decref(req);
	if (!resp) {
		fprintf(stderr, "vigil: %s\n", err);
		return NULL;
	}
	if (!json_is_true(json_object_get(resp, "ok"))) {
		fprintf(stderr, "vigil: %s: %s\n", cmd,
			json_string_value(json_object_get(resp, "error")) ?: "failed");
		json_decref(resp);
		return NULL;
	}
	json_object_del(resp, "ok");
	return resp;
}

static int cmd_status(struct cli *c)
{
	json_t *resp = call(c, "status");

	if (!resp)
		return 1;
	if (c->json) {
		json_dumpf(resp, stdout, JSON_COMPACT);
		putchar('\n');
	} else {
		print_obj(resp, 0);
	}
	json_decref(resp);
	return 0;
}

static int cmd_verify(struct cli *c, int argc, char **argv)
{
	struct chain_result res;
	int r;

	if (argc < 1) {
		fprintf(stderr, "vigil: verify: which files? (oldest first, e.g. events.jsonl.2 "
				"events.jsonl.1 events.jsonl)\n");
		return 2;
	}
	r = chain_verify(argv, argc, &res);
	if (r < 0) {
		fprintf(stderr, "vigil: verify: %s: %s\n", res.file, strerror(-r));
		return 1;
	}
	if (c->json) {
		json_t *o = r ? json_pack("{s:b, s:I, s:s, s:I, s:s}", "ok", 0, "lines",
					  (json_int_t)res.lines, "file", res.file, "line",
					  (json_int_t)res.line, "reason", res.reason)
			      : json_pack("{s:b, s:I}", "ok", 1, "lines", (json_int_t)res.lines);

		json_dumpf(o, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(o);
	} else if (r) {
		printf("%s:%llu: %s\n", res.file, (unsigned long long)res.line, res.reason);
	} else {
		printf("OK: %llu lines, hash chain intact\n", (unsigned long long)res.lines);
	}
	return r ? 1 : 0;
}

static void print_diag(void *ctx, bool error, const char *line)
{
	fprintf(stderr, "%s\n", line);
}

static int cmd_rules_check(struct cli *c, int argc, char **argv)
{
	struct rules_diag diag = {.fn = print_diag};
	struct ruleset *rs = NULL;
	int r;

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
	ruleset_free(rs);
	return r == 0 ? 0 : 1;
}

static int cmd_rules(struct cli *c, int argc, char **argv)
{
	json_t *resp;

	if (argc >= 1 && !strcmp(argv[0], "check"))
		return cmd_rules_check(c, argc - 1, argv + 1);
	if (argc == 1 && !strcmp(argv[0], "reload")) {
		resp = call(c, "rules-reload");
		if (!resp)
			return 1;
		printf("rules reloaded: %lld rules\n",
		       (long long)json_integer_value(json_object_get(resp, "rules")));
		json_decref(resp);
		return 0;
	}
	fprintf(stderr, "vigil: rules: use \"rules check PATH...\" or \"rules reload\"\n");
	return 2;
}

static int cmd_replay(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"rules", required_argument, NULL, 'r'},
					     {"playbooks", required_argument, NULL, 'p'},
					     {"falco", no_argument, NULL, 'f'},
					     {"max-sequences", required_argument, NULL, 'm'},
					     {"dedup-window", required_argument, NULL, 'd'},
					     {}};
	struct replay_opts ro = {.max_sequences = 100000, .host_name = "replay", .dedup_ms = 10000};
	struct rules_diag diag = {.fn = print_diag};
	struct replay_stats st;
	struct ruleset *rs = NULL;
	const char *paths[64];
	unsigned np = 0;
	FILE *in;
	int o, r;

	optind = 1;
	while ((o = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (o == 'r' && np < 64)
			paths[np++] = optarg;
		else if (o == 'f')
			ro.falco = true;
		else if (o == 'm')
			ro.max_sequences = strtoul(optarg, NULL, 10);
		else if (o == 'd' && parse_duration_ms(optarg, &ro.dedup_ms) < 0)
			return fprintf(stderr, "vigil: replay: bad --dedup-window %s\n", optarg), 2;
		else if (o != 'p') /* playbooks: dry-run only, nothing to do yet */
			return 2;
	}
	if (!np || optind != argc - 1) {
		fprintf(stderr, "vigil: replay: usage: replay --rules PATH [--falco] FILE|-\n");
		return 2;
	}
	if (ruleset_load(paths, np, NULL, &diag, &rs) < 0)
		return 1;
	in = strcmp(argv[optind], "-") ? fopen(argv[optind], "re") : stdin;
	if (!in) {
		fprintf(stderr, "vigil: replay: %s: %s\n", argv[optind], strerror(errno));
		ruleset_free(rs);
		return 1;
	}
	r = replay_run(rs, &ro, in, argv[optind], stdout, stderr, &st);
	if (in != stdin)
		fclose(in);
	if (r < 0) {
		fprintf(stderr, "vigil: replay: %s: %s\n", argv[optind], strerror(-r));
		return 1;
	}
	fprintf(stderr, "replay: %llu events, %llu alerts, %llu malformed lines skipped\n",
		(unsigned long long)st.events, (unsigned long long)st.alerts,
		(unsigned long long)st.malformed);
	return 0;
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
	if (!strcmp(argv[optind], "status"))
		return cmd_status(&c);
	if (!strcmp(argv[optind], "rules"))
		return cmd_rules(&c, argc - optind - 1, argv + optind + 1);
	if (!strcmp(argv[optind], "replay"))
		return cmd_replay(&c, argc - optind, argv + optind);
	if (!strcmp(argv[optind], "verify"))
		return cmd_verify(&c, argc - optind - 1, argv + optind + 1);
	fprintf(stderr, "vigil: unknown command \"%s\" (see vigil --help)\n", argv[optind]);
	return 2;
}
