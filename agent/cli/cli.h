/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cli.h — what every `vigil` command shares.
 *
 * Owns: the command table (bpftool's struct cmd: one table per level drives
 * dispatch, prefix matching and --help), the call to vigild over the
 * control socket (an error reply becomes one line on stderr), and the plain
 * and --json output helpers. Exit codes: 0 ok, 1 failure, 2 usage.
 *
 * Stage cli/: the top; includes any stage below it; holds no state beyond
 * one command's run.
 */
#ifndef VIGIL_CLI_H
#define VIGIL_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

struct cli {
	const char *socket;
	bool json;
	/* --fleet URL --key FILE, and the command's --host H: the call goes over NATS */
	const char *fleet, *key, *host;
};

/* Every handler gets argv[0] = its own command word, as getopt expects. */
struct cmd {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
	const char *args; /* after the name, for --help */
	const char *help;
};

/* argv[0] names a command of cmds (or a unique prefix of one): run it. */
int cmd_select(struct cli *c, const struct cmd *cmds, const char *group, int argc, char **argv);
void cmd_usage(FILE *f, const char *prefix, const struct cmd *cmds);

/* One request to vigild (req is consumed); NULL (and a message) on failure. */
json_t *cli_call_req(struct cli *c, const char *cmd, json_t *req);
json_t *cli_call(struct cli *c, const char *cmd);
/* cmd_fleet.c: req as a signed request to c->host over NATS; its reply, or NULL and err. */
json_t *cli_fleet_call(struct cli *c, const char *cmd, json_t *req, char *err, size_t errlen);

int cli_print_json(const json_t *o);
void cli_print_obj(json_t *o, int indent);
/* A rules_diag callback: each diagnostic line to stderr. */
void cli_print_diag(void *ctx, bool error, const char *line);

#endif
