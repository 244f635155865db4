/* SPDX-License-Identifier: GPL-2.0 */
/*
 * commands.h — the handlers vigil.c's top-level table names, one file per
 * area (cmd_<area>.c), and the subcommand tables --help lists.
 *
 * Stage cli/: the top; includes any stage below it.
 */
#ifndef VIGIL_CLI_COMMANDS_H
#define VIGIL_CLI_COMMANDS_H

#include "cli/cli.h"

/* cmd_stream.c */
int cmd_status(struct cli *c, int argc, char **argv);
int cmd_events(struct cli *c, int argc, char **argv);
int cmd_verify(struct cli *c, int argc, char **argv);

/* cmd_rules.c */
extern const struct cmd rules_cmds[];
int cmd_rules(struct cli *c, int argc, char **argv);
int cmd_replay(struct cli *c, int argc, char **argv);

/* cmd_respond.c */
int cmd_contain(struct cli *c, int argc, char **argv);
int cmd_incidents(struct cli *c, int argc, char **argv);

/* cmd_seccomp.c */
extern const struct cmd seccomp_cmds[];
int cmd_seccomp(struct cli *c, int argc, char **argv);
int cmd_exec(struct cli *c, int argc, char **argv);
/* cmd_bom.c */
int cmd_bom(struct cli *c, int argc, char **argv);

/* cmd_fleet.c, cmd_hunt.c */
extern const struct cmd fleet_cmds[];
int cmd_fleet(struct cli *c, int argc, char **argv);
int cmd_hunt(struct cli *c, int argc, char **argv);

#endif
