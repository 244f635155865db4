// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_fleet.c — `vigil fleet status|keygen`, and the NATS side of
 * cli_call_req: with --fleet, a daemon command becomes a signed request to
 * the host --host names.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "core/util.h"
#include "ship/cmd_sign.h"
#include "ship/fleet.h"

#define FLEET_TIMEOUT_MS 10000

json_t *cli_fleet_call(struct cli *c, const char *cmd, json_t *req, char *err, size_t errlen)
{
	struct fleet_conn fc;
	json_t *args = json_deep_copy(req), *resp;

	if (!c->host || !c->key) {
		snprintf(err, errlen, "--fleet needs --key FILE and the command's --host H");
		return json_decref(args), NULL;
	}
	json_object_del(args, "cmd");
	if (fleet_connect(&fc, c->fleet, NULL, err, errlen) < 0)
		return json_decref(args), NULL;
	resp = fleet_request(&fc, FLEET_PREFIX, c->key, c->host, cmd, args, FLEET_TIMEOUT_MS, err,
			     errlen);
	fleet_close(&fc);
	json_decref(args);
	return resp;
}

static json_t *path_get(json_t *o, const char *path)
{
	char key[64];
	const char *dot;

	while (o && (dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		o = json_object_get(o, key);
		path = dot + 1;
	}
	return json_object_get(o, path);
}

/* One host's line of the table, from the last message on its health subject. */
static json_t *host_row(json_t *ev, uint64_t now_ns)
{
	const char *ts = json_string_value(json_object_get(ev, "@timestamp"));
	bool hb = !strcmp(json_string_value(path_get(ev, "event.action")) ?: "", "heartbeat");
	json_t *agent = path_get(ev, "vigil.agent"), *drops = json_object_get(agent, "drops");
	json_int_t dropped = 0;
	uint64_t t = 0;
	const char *k;
	json_t *v;

	if (ts)
		parse_rfc3339_ns(ts, strlen(ts), &t);
	json_object_foreach (drops, k, v)
		dropped += json_integer_value(v);
	return json_pack("{s:s?, s:s?, s:s?, s:I, s:s?, s:O?, s:o?, s:O?}", "host",
			 json_string_value(path_get(ev, "host.name")), "version",
			 json_string_value(path_get(ev, "agent.version")), "last_seen", ts, "age_s",
			 (json_int_t)(t && now_ns > t ? (now_ns - t) / 1000000000ull : 0), "last",
			 json_string_value(path_get(ev, "event.action")), "lag",
			 hb ? json_object_get(agent, "nats") : NULL, "drops",
			 hb ? json_integer(dropped) : NULL, "containments",
			 hb ? path_get(agent, "response.containments") : NULL);
}

static void print_lag(json_t *nats)
{
	json_t *lag = json_object_get(nats, "lag");
	json_t *ev = lag ? json_object_get(lag, "events") : json_object_get(nats, "lag_events");

	if (json_is_integer(ev))
		printf("%-10lld", (long long)json_integer_value(ev));
	else
		printf("%-10s", "-");
}

/* A count, or "-" where the last message was no heartbeat. */
static void print_count(json_t *n, const char *fmt_none, const char *fmt_n)
{
	if (json_is_integer(n))
		printf(fmt_n, (long long)json_integer_value(n));
	else
		printf(fmt_none, "-");
}

static int fleet_status(struct cli *c, int argc, char **argv)
{
	struct fleet_conn fc;
	json_t *hbs, *rows = json_array(), *ev;
	char err[512];
	size_t i;

	if (!c->fleet)
		return fprintf(stderr,
			       "vigil: fleet status: usage: vigil --fleet URL fleet status\n"),
		       2;
	if (fleet_connect(&fc, c->fleet, NULL, err, sizeof(err)) < 0)
		return fprintf(stderr, "vigil: fleet status: %s\n", err), 1;
	hbs = fleet_heartbeats(&fc, FLEET_PREFIX, FLEET_STREAM, err, sizeof(err));
	fleet_close(&fc);
	if (!hbs)
		return fprintf(stderr, "vigil: fleet status: %s\n", err), 1;
	json_array_foreach (hbs, i, ev)
		json_array_append_new(rows, host_row(ev, clock_ns(CLOCK_REALTIME)));
	json_decref(hbs);
	if (c->json) {
		cli_print_json(rows);
		return json_decref(rows), 0;
	}
	printf("%-24s %-10s %-32s %-8s %-10s %-8s %s\n", "HOST", "VERSION", "LAST SEEN", "AGE",
	       "LAG", "DROPS", "CONTAINMENTS");
	json_array_foreach (rows, i, ev) {
		printf("%-24s %-10s %-32s %-8lld ",
		       json_string_value(json_object_get(ev, "host")) ?: "?",
		       json_string_value(json_object_get(ev, "version")) ?: "?",
		       json_string_value(json_object_get(ev, "last_seen")) ?: "?",
		       (long long)json_integer_value(json_object_get(ev, "age_s")));
		print_lag(json_object_get(ev, "lag"));
		print_count(json_object_get(ev, "drops"), " %-8s", " %-8lld");
		print_count(json_object_get(ev, "containments"), " %s\n", " %lld\n");
	}
	json_decref(rows);
	return 0;
}

static int fleet_keygen(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"id", required_argument, NULL, 'i'},
					     {"role", required_argument, NULL, 'r'},
					     {"output", required_argument, NULL, 'o'},
					     {}};
	const char *id = NULL, *dir = NULL, *role = "read";
	char err[512];
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "+o:", opts, NULL)) != -1) {
		if (o == 'i')
			id = optarg;
		else if (o == 'r')
			role = optarg;
		else if (o == 'o')
			dir = optarg;
		else
			return 2;
	}
	if (!id || !dir || optind != argc || (strcmp(role, "read") && strcmp(role, "act")))
		return fprintf(stderr, "vigil: fleet keygen: usage: fleet keygen --id NAME --role "
				       "read|act -o DIR\n"),
		       2;
	if (rcmd_keygen(dir, id, strcmp(role, "act") ? CMD_ROLE_READ : CMD_ROLE_ACT, err,
			sizeof(err)) < 0)
		return fprintf(stderr, "vigil: fleet keygen: %s\n", err), 1;
	printf("%s/%s.key: the private key (keep it: vigil --fleet URL --key %s/%s.key ...)\n"
	       "%s/%s.pub: copy it to /etc/vigil/responders.d/ on the hosts (root-owned)\n",
	       dir, id, dir, id, dir, id);
	return 0;
}

const struct cmd fleet_cmds[] = {
    {"status", fleet_status, "", "hosts seen, agent version, last seen, lag, drops, containments"},
    {"keygen", fleet_keygen, "--id NAME --role read|act -o DIR",
     "a responder key pair: NAME.key (0600) and NAME.pub for responders.d"},
    {},
};

int cmd_fleet(struct cli *c, int argc, char **argv)
{
	return cmd_select(c, fleet_cmds, "fleet ", argc - 1, argv + 1);
}
