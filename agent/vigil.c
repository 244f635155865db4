// SPDX-License-Identifier: GPL-2.0
/*
 * vigil — the operator CLI: global options, then the top-level command
 * table (agent/cli/commands.h names each handler's file). Daemon commands go
 * over the control socket; verify, rules check, replay and seccomp run
 * standalone. Exit codes: 0 ok, 1 failure, 2 usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"

#define DEFAULT_SOCKET "/run/vigil/vigil.sock"

static const struct cmd cmds[] = {
    {"status", cmd_status, "", "what vigild is doing: probes in use, counters, drops"},
    {"rules", cmd_rules, "check|reload ...", "compile rule files; make vigild reload (below)"},
    {"events", cmd_events, "[--follow]", "the event stream as vigild writes it"},
    {"contain", cmd_contain, "(--pid N | --cgroup PATH) [--kill] [--freeze] [--isolate]",
     "contain a process tree or cgroup (no flag: freeze + isolate)"},
    {"release", cmd_contain, "(--pid N | --cgroup PATH)", "undo every containment of that target"},
    {"bom", cmd_bom, "[--json | --format cyclonedx] [--host-only] [-o FILE] | --approve [-o FILE]",
     "the models this host loaded (AI-BOM), or them as an approved list"},
    {"incidents", cmd_incidents, "[ID]", "list incidents and live containments, or show one"},
    {"exec", cmd_exec, "--profile P [--complain] [--user U] [--strict] -- CMD [ARGS...]",
     "run CMD under a seccomp profile (OCI/Docker/Podman JSON)"},
    {"seccomp", cmd_seccomp, "check|record ...", "validate or learn seccomp profiles (below)"},
    {"replay", cmd_replay,
     "--rules PATH [--rules PATH]... [--playbooks PATH]... [--falco] [--config FILE] "
     "[--no-derive] FILE|-",
     "recorded NDJSON through rules: alerts to stdout, playbooks' dry run to stderr; other "
     "collectors' ECS lines get vigil's fields derived"},
    {"hunt", cmd_hunt,
     "--nats URL --rules PATH [--playbooks PATH] [--partition K] [--since TIME] [--follow]",
     "replay's rules over the fleet stream: alerts to JetStream and stdout (docs/fleet.md)"},
    {"fleet", cmd_fleet, "status|keygen ...", "the fleet's hosts; responder keys (below)"},
    {"verify", cmd_verify, "[--continued] FILE...",
     "every break in the hash chain of events files, oldest first"},
    {},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: vigil [--socket PATH] [--json] [--fleet URL [--key FILE]] COMMAND "
		   "[ARGS]\n"
		   "commands (any unique prefix will do):\n");
	cmd_usage(f, "", cmds);
	fprintf(f, "subcommands:\n");
	cmd_usage(f, "rules ", rules_cmds);
	cmd_usage(f, "seccomp ", seccomp_cmds);
	cmd_usage(f, "fleet ", fleet_cmds);
	fprintf(f, "with --fleet URL --key FILE, status, contain, release and incidents take\n"
		   "--host H and go to that host's vigild as a signed NATS request\n");
}

/* With --fleet, "--host H" belongs to the call, not to the command: taken out of argv. */
static int take_host(struct cli *c, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--host") || i + 1 >= argc)
			continue;
		c->host = argv[i + 1];
		memmove(argv + i, argv + i + 2, (argc - i - 1) * sizeof(*argv)); /* NULL too */
		return argc - 2;
	}
	return argc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
	    {"fleet", required_argument, NULL, 'F'},  {"key", required_argument, NULL, 'K'},
	    {"help", no_argument, NULL, 'h'},	      {}};
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
		case 'F':
			c.fleet = optarg;
			break;
		case 'K':
			c.key = optarg;
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
	if (c.fleet)
		argc = optind + take_host(&c, argc - optind, argv + optind);
	return cmd_select(&c, cmds, "", argc - optind, argv + optind);
}
