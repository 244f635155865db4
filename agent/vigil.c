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

#define DEFAULT_SOCKET "/run/vigil/vigil.sock"

struct cli {
	const char *socket;
	bool json;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: vigil [--socket PATH] [--json] COMMAND [ARGS]\n"
		   "commands:\n"
		   "  status            what vigild is doing: probes in use, counters, drops\n"
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

static int cmd_status(struct cli *c)
{
	json_t *req = json_pack("{s:s}", "cmd", "status");
	char err[512];
	json_t *resp = control_call(c->socket, req, err, sizeof(err));

	json_decref(req);
	if (!resp) {
		fprintf(stderr, "vigil: %s\n", err);
		return 1;
	}
	if (!json_is_true(json_object_get(resp, "ok"))) {
		fprintf(stderr, "vigil: status: %s\n",
			json_string_value(json_object_get(resp, "error")) ?: "failed");
		json_decref(resp);
		return 1;
	}
	json_object_del(resp, "ok");
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
	if (!strcmp(argv[optind], "verify"))
		return cmd_verify(&c, argc - optind - 1, argv + optind + 1);
	fprintf(stderr, "vigil: unknown command \"%s\" (see vigil --help)\n", argv[optind]);
	return 2;
}
