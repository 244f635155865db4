// SPDX-License-Identifier: GPL-2.0
/* cmd_hunt.c — `vigil hunt`: replay's rules over the fleet stream, one worker per partition. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "core/util.h"
#include "detect/rules.h"
#include "respond/playbook.h"
#include "ship/fleet.h"
#include "ship/hunt.h"

#define HUNT_USAGE                                                                     \
	"usage: hunt --nats URL --rules PATH [--rules PATH]... [--playbooks PATH]... " \
	"[--partition K] [--since TIME] [--follow] [--prefix P] [--stream S] [--lease-ttl D]"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

/* --since: RFC 3339, or a duration back from now ("2h"). */
static int parse_since(const char *s, int64_t *ret)
{
	uint64_t ns, ms;

	if (parse_rfc3339_ns(s, strlen(s), &ns) == 0)
		return *ret = ns, 0;
	if (parse_duration_ms(s, &ms) < 0)
		return -EINVAL;
	*ret = clock_ns(CLOCK_REALTIME) - ms * 1000000ull;
	return 0;
}

struct hunt_args {
	const char *nats, *paths[64], *pbpaths[64];
	unsigned np, npb;
	struct hunt_opts ho;
};

static int hunt_parse(struct hunt_args *a, int argc, char **argv)
{
	static const struct option opts[] = {{"nats", required_argument, NULL, 'n'},
					     {"rules", required_argument, NULL, 'r'},
					     {"playbooks", required_argument, NULL, 'p'},
					     {"partition", required_argument, NULL, 'k'},
					     {"since", required_argument, NULL, 's'},
					     {"follow", no_argument, NULL, 'f'},
					     {"prefix", required_argument, NULL, 'P'},
					     {"stream", required_argument, NULL, 'S'},
					     {"lease-ttl", required_argument, NULL, 'l'},
					     {}};
	uint64_t ms;
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (o == 'n')
			a->nats = optarg;
		else if (o == 'r' && a->np < 64)
			a->paths[a->np++] = optarg;
		else if (o == 'p' && a->npb < 64)
			a->pbpaths[a->npb++] = optarg;
		else if (o == 'k' && strspn(optarg, "0123456789") == strlen(optarg) && *optarg)
			a->ho.partition = optarg;
		else if (o == 's' && parse_since(optarg, &a->ho.since_ns) == 0)
			continue;
		else if (o == 'f')
			a->ho.follow = true;
		else if (o == 'P')
			a->ho.prefix = optarg;
		else if (o == 'S')
			a->ho.stream = optarg;
		else if (o == 'l' && parse_duration_ms(optarg, &ms) == 0 && ms >= 1000)
			a->ho.lease_ttl_ms = ms;
		else
			return fprintf(stderr, "vigil: %s\n", HUNT_USAGE), -EINVAL;
	}
	if (!a->nats || !a->np || optind != argc)
		return fprintf(stderr, "vigil: %s\n", HUNT_USAGE), -EINVAL;
	return 0;
}

static void hunt_summary(const struct hunt_stats *st)
{
	fprintf(stderr,
		"hunt: %llu events, %llu alerts (%llu published, %llu already in the stream), "
		"%llu takeovers re-reading %llu events (%llu alerts held back), %llu malformed, "
		"%llu publish errors\n",
		(unsigned long long)st->messages, (unsigned long long)st->alerts,
		(unsigned long long)st->published, (unsigned long long)st->duplicates,
		(unsigned long long)st->takeovers, (unsigned long long)st->reread,
		(unsigned long long)st->reread_alerts, (unsigned long long)st->rs.malformed,
		(unsigned long long)st->publish_errors);
}

int cmd_hunt(struct cli *c, int argc, char **argv)
{
	struct hunt_args a = {.ho = {.prefix = FLEET_PREFIX,
				     .stream = FLEET_STREAM,
				     .lease_ttl_ms = 10000,
				     .stop = &stop,
				     .ro = {.max_sequences = 100000, .host_name = "hunt"}}};
	struct rules_diag diag = {.fn = cli_print_diag};
	struct playbook_set *playbooks = NULL;
	struct ruleset *rs = NULL;
	struct fleet_conn fc;
	struct hunt_stats st;
	char err[512], worker[160], host[64] = "?";
	int r;

	if (hunt_parse(&a, argc, argv) < 0)
		return 2;
	if (ruleset_load(a.paths, a.np, NULL, &diag, &rs) < 0)
		return 1;
	if (a.npb && playbooks_load(a.pbpaths, a.npb, 0, &diag, &playbooks) < 0)
		return ruleset_free(rs), 1;
	if (playbooks) {
		a.ho.ro.on_alert = playbook_dry_run;
		a.ho.ro.alert_ctx = playbooks;
	}
	if (fleet_connect(&fc, a.nats, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "vigil: hunt: %s\n", err);
		playbooks_free(playbooks);
		return ruleset_free(rs), 1;
	}
	gethostname(host, sizeof(host) - 1);
	snprintf(worker, sizeof(worker), "%s:%d", host, getpid());
	a.ho.worker = worker;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	r = hunt_run(&fc, &a.ho, rs, stdout, stderr, &st);
	fleet_close(&fc);
	playbooks_free(playbooks);
	hunt_summary(&st);
	return r < 0 ? 1 : 0;
}
