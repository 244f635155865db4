// SPDX-License-Identifier: GPL-2.0
/* cmd_respond.c — contain, release and incidents: requests to vigild's responder. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "core/util.h"

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

int cmd_contain(struct cli *c, int argc, char **argv)
{
	const char *cmd = argv[0];
	_cleanup_(json_decrefp) json_t *req = json_pack("{s:s}", "cmd", cmd), *resp = NULL;
	json_t *st;
	size_t i;

	if (target_args(cmd, argc, argv, req, !strcmp(cmd, "contain")) < 0)
		return 2;
	resp = cli_call_req(c, cmd, TAKE_PTR(req));
	if (!resp)
		return 1;
	if (c->json)
		return cli_print_json(resp);
	printf("incident %s\n", json_string_value(json_object_get(resp, "incident")));
	json_array_foreach (json_object_get(resp, "steps"), i, st)
		printf("  %s %s: %s\n", json_string_value(json_object_get(st, "name")),
		       json_string_value(json_object_get(st, "target_description")),
		       json_string_value(json_object_get(st, "outcome")));
	if (!strcmp(cmd, "release"))
		printf("released\n");
	return 0;
}

int cmd_incidents(struct cli *c, int argc, char **argv)
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
	resp = cli_call_req(c, "incidents", TAKE_PTR(req));
	if (!resp)
		return 1;
	if (c->json)
		return cli_print_json(resp);
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
