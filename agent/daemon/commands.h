/* SPDX-License-Identifier: GPL-2.0 */
/*
 * commands.h — the commands vigild answers.
 *
 * Owns: dispatch of a control request (status, events, rules-reload, bom,
 * and the responder's commands) to the stage that answers it, the status
 * reply, the paged `vigil events` reply, and rules reloads (SIGHUP or the
 * CLI), each recorded in the stream. The local socket and the fleet's
 * signed commands (fleet_cmd.c) both come through manager_command.
 *
 * Stage daemon/: includes any stage (the top); does not check who may ask
 * (control.c and fleet_cmd.c do) or act itself.
 */
#ifndef VIGIL_DAEMON_COMMANDS_H
#define VIGIL_DAEMON_COMMANDS_H

#include <jansson.h>

#include "daemon/control.h"
#include "respond/respond.h"

struct manager;

/* A control command (the socket's, and fleet_cmd.c's after its checks): the reply object. */
json_t *manager_command(struct manager *m, const char *cmd, json_t *req,
			const struct control_peer *peer, const struct respond_requester *who);
/* control_new's callback: manager_command with the socket peer as the requester. */
json_t *manager_on_command(void *ctx, const char *cmd, json_t *req,
			   const struct control_peer *peer);
/* SIGHUP (peer NULL) or `vigil rules reload`: the reply for the CLI. */
json_t *manager_reload_rules(struct manager *m, const struct control_peer *peer);

#endif
