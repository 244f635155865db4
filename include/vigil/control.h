/* SPDX-License-Identifier: GPL-2.0 */
/*
 * control.h — the daemon's Unix control socket.
 *
 * Owns the socket file (mode 0660, group `vigil` where it exists), the
 * one-JSON-line request/response framing, and access control: the peer's
 * uid and groups (SO_PEERCRED + SO_PEERGROUPS) decide whether a command is
 * allowed. Read commands: root and group `vigil`; acting commands: root and
 * group `vigil-admin`. What commands do is the handler's business.
 */
#ifndef VIGIL_CONTROL_H
#define VIGIL_CONTROL_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#define CONTROL_READ_GROUP  "vigil"
#define CONTROL_ADMIN_GROUP "vigil-admin"

struct control;

struct control_peer {
	uid_t uid;
	pid_t pid;
	bool can_read, can_act;
};

/* Returns a JSON object to send back (the handler keeps no reference). */
typedef json_t *(*control_handler)(void *ctx, const char *cmd, json_t *req,
				   const struct control_peer *peer);

int control_new(const char *path, control_handler fn, void *ctx, struct control **ret);
struct control *control_free(struct control *c);
int control_fd(const struct control *c);
/* Serve one pending connection (call when control_fd is readable). */
void control_serve(struct control *c);
/* Is cmd an acting command (needs vigil-admin)? */
bool control_cmd_is_acting(const char *cmd);
/* Client side: send req, return the parsed response; one line error in err. */
json_t *control_call(const char *path, json_t *req, char *err, size_t errlen);

#endif
