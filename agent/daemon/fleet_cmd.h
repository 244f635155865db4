/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fleet_cmd.h — vigild's end of `vigil --fleet URL ... --host H`: signed
 * commands on <prefix>.cmd.<host> (the host's own subject only).
 *
 * Owns: the responder keys (output.nats.responders, default
 * /etc/vigil/responders.d, root-owned files), each request through
 * cmd_sign.h's checks, an accepted one through the manager's command path
 * (the local socket's: guard rails, incidents, actions in the stream,
 * naming via fleet and the key), the reply over NATS, and one
 * `fleet-command` audit event per request: key id, command, outcome and,
 * for a refusal, which check refused it and why.
 *
 * Stage daemon/: the top; wires the stages and owns no detection or response logic.
 */
#ifndef VIGIL_FLEET_CMD_H
#define VIGIL_FLEET_CMD_H

#include <stddef.h>

struct manager;

/* Subscribe when output.nats is on (m->ship). 0, or -errno with one line in err. */
int fleet_cmd_start(struct manager *m, char *err, size_t errlen);
void fleet_cmd_stop(struct manager *m);

#endif
