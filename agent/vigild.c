// SPDX-License-Identifier: GPL-2.0
/*
 * vigild — the daemon's main: arguments and the configuration, the one-shot
 * modes --check and --teardown, then the manager (daemon/manager.h) runs it.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>

#include "core/config.h"
#include "core/log.h"
#include "daemon/manager.h"
#include "detect/detect.h"
#include "respond/respond.h"
#include "ship/ship.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: vigild [--config FILE] [--stdout] [--socket PATH] [--state-dir DIR]\n"
	    "              [--events FILE] [--rules PATH]... [--playbooks PATH]...\n"
	    "              [--check] [--teardown] [--debug]\n"
	    "  --config FILE  configuration (default /etc/vigil/vigil.yaml if present)\n"
	    "  --stdout       also write the event stream to stdout\n"
	    "  --socket PATH  control socket (default /run/vigil/vigil.sock)\n"
	    "  --state-dir D  state directory (default /var/lib/vigil)\n"
	    "  --events FILE  events file (\"\" = none; default /var/log/vigil/events.jsonl)\n"
	    "  --rules PATH   rule file or directory (repeatable; replaces the defaults)\n"
	    "  --playbooks P  playbook file or directory (repeatable; replaces the defaults)\n"
	    "  --check        validate the configuration, rules and playbooks, and exit\n"
	    "  --teardown     undo every containment, unpin vigil's eBPF programs and maps,\n"
	    "                 and exit (vigild must be stopped; the package runs it on removal)\n"
	    "  --debug        log at debug level, libbpf's messages included\n"
	    "The configuration keys: man 5 vigil.yaml; rules: man 5 vigil-rules;\n"
	    "playbooks, webhooks, egress allowlists: man 5 vigil-playbooks.\n");
}

static int parse_args(int argc, char **argv, struct vigild_options *o)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'}, {"stdout", no_argument, NULL, 'o'},
	    {"socket", required_argument, NULL, 's'}, {"state-dir", required_argument, NULL, 'd'},
	    {"events", required_argument, NULL, 'e'}, {"check", no_argument, NULL, 'k'},
	    {"teardown", no_argument, NULL, 'T'},     {"debug", no_argument, NULL, 'D'},
	    {"rules", required_argument, NULL, 'r'},  {"playbooks", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},	      {}};
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'o':
			o->stdout_stream = true;
			break;
		case 's':
			o->socket = optarg;
			break;
		case 'd':
			o->state_dir = optarg;
			break;
		case 'e':
			o->events = optarg;
			break;
		case 'k':
			o->check = true;
			break;
		case 'T':
			o->teardown = true;
			break;
		case 'D':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'r':
			if (strv_push(&o->rules, optarg) < 0)
				return -ENOMEM;
			break;
		case 'p':
			if (strv_push(&o->playbooks, optarg) < 0)
				return -ENOMEM;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vigild: unexpected argument \"%s\"\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct manager m = {.lock_fd = -1};
	char err[512];
	int r;

	log_set_prefix("vigild");
	/* a client, webhook or script that goes away costs an EPIPE, never the daemon */
	signal(SIGPIPE, SIG_IGN);
	if (parse_args(argc, argv, &m.opt) < 0)
		return 2;
	if (manager_load_config(&m) < 0) {
		config_free(m.cfg);
		return 1;
	}
	if (m.opt.check) {
		r = detect_check(m.cfg, &m.opt.rules);
		if (r == 0)
			r = respond_check(m.cfg, &m.opt.playbooks);
		if (r == 0 && (r = ship_check(m.cfg, err, sizeof(err))) < 0)
			fprintf(stderr, "vigild: %s\n", err);
		if (r == 0)
			printf("configuration OK (%s)\n",
			       m.cfg->source ? m.cfg->source : "defaults");
		config_free(m.cfg);
		strv_clear(&m.opt.rules);
		strv_clear(&m.opt.playbooks);
		return r < 0 ? 1 : 0;
	}
	if (geteuid() != 0) {
		log_error("must run as root: vigild loads eBPF programs (try: sudo vigild)");
		config_free(m.cfg);
		return 1;
	}
	if (m.opt.teardown) {
		r = manager_undo_containment(&m);
		if (m.lock_fd >= 0)
			close(m.lock_fd);
		config_free(m.cfg);
		return r < 0 ? 1 : 0;
	}
	r = manager_run(&m);
	manager_teardown(&m);
	return r < 0 ? 1 : 0;
}
