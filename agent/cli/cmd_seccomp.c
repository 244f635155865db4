// SPDX-License-Identifier: GPL-2.0
/* cmd_seccomp.c — seccomp check and record, and exec under a profile; no daemon needed. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "confine/launch.h"
#include "confine/record.h"
#include "confine/seccomp_filter.h"
#include "core/util.h"

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
		return cli_print_json(o);
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

const struct cmd seccomp_cmds[] = {
    {"check", cmd_seccomp_check, "P", "validate a profile; what it does on this host"},
    {"record", cmd_seccomp_record,
     "(--pid N | --cgroup PATH | -- CMD...) [--duration T] -o OUT [--merge P]",
     "learn a profile from what a program calls"},
    {},
};

int cmd_seccomp(struct cli *c, int argc, char **argv)
{
	return cmd_select(c, seccomp_cmds, "seccomp: ", argc - 1, argv + 1);
}

/* vigil exec --profile P [--complain] [--user U] [--strict] -- CMD ARGS… */
int cmd_exec(struct cli *c, int argc, char **argv)
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
