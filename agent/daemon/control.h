/* SPDX-License-Identifier: GPL-2.0 */
/*
 * control.h — the daemon's Unix control socket.
 *
 * Owns the socket file (mode 0660, group `vigil` where it exists), the
 * one-JSON-line request/response framing, and access control: the peer's
 * uid and groups (SO_PEERCRED + SO_PEERGROUPS) decide whether a command is
 * allowed. Read commands: root and group `vigil`; acting commands: root and
 * group `vigil-admin`. What commands do is the handler's business.
 *
 * Served on the daemon's event loop without ever blocking it: every client
 * is a non-blocking socket with a small state machine (read the request up
 * to a cap, run the handler, write the reply as the socket takes it), a
 * deadline for the whole exchange, and a cap on how many are served at once.
 * A peer without read permission is answered at accept, its request unread;
 * a reply larger than the cap is replaced by an error reply (never cut into
 * invalid JSON). The handler runs on the loop's thread, as every other
 * stage does: no locking of the daemon's state.
 *
 * Stage daemon/: includes any stage (the top); does not detect or act: it wires the stages.
 */
#ifndef VIGIL_CONTROL_H
#define VIGIL_CONTROL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CONTROL_READ_GROUP  "vigil"
#define CONTROL_ADMIN_GROUP "vigil-admin"

/* The defaults (control_new with limits NULL); the CLI reads replies up to REPLY_MAX. */
#define CONTROL_MAX_CLIENTS 32
#define CONTROL_ADMIN_SLOTS 4 /* of them, kept for root and vigil-admin */
#define CONTROL_TIMEOUT_MS  5000
#define CONTROL_REQUEST_MAX (64u << 10)
#define CONTROL_REPLY_MAX   (4u << 20)
#define CONTROL_REPLY_MIN   256 /* reply_max is never below it */

struct control;

struct control_limits {
	unsigned max_clients; /* served at once; one more is answered "busy" */
	unsigned admin_slots; /* of max_clients, only for peers that may act */
	unsigned timeout_ms;  /* to send the request and take the whole reply */
	size_t request_max;   /* bytes, its newline included */
	size_t reply_max;     /* bytes; a larger reply becomes an error reply */
};

struct control_stats {
	uint64_t clients;	  /* being served now (whoever asks for these included) */
	uint64_t served;	  /* replies taken whole (error replies included) */
	uint64_t denied;	  /* no read permission: refused at accept */
	uint64_t busy;		  /* over max_clients: refused at accept */
	uint64_t hung_up;	  /* closed before sending a request or taking the reply */
	uint64_t timed_out;	  /* dropped at the deadline */
	uint64_t too_large;	  /* request over request_max */
	uint64_t reply_too_large; /* reply over reply_max, an error sent instead */
};

struct control_peer {
	uid_t uid;
	pid_t pid;
	bool can_read, can_act;
};

/* Returns a JSON object to send back (the handler keeps no reference). */
typedef json_t *(*control_handler)(void *ctx, const char *cmd, json_t *req,
				   const struct control_peer *peer);

int control_new(const char *path, const struct control_limits *limits, control_handler fn,
		void *ctx, struct control **ret);
struct control *control_free(struct control *c);
/* An epoll fd: readable when a connection, a client or a deadline needs control_serve. */
int control_fd(const struct control *c);
/* Accept, read, answer, write, expire: whatever is ready now; never blocks. */
void control_serve(struct control *c);
void control_stats(const struct control *c, struct control_stats *ret);
/* Is cmd an acting command (needs vigil-admin)? */
bool control_cmd_is_acting(const char *cmd);
/* Client side: send req, return the parsed response; one line error in err. */
json_t *control_call(const char *path, json_t *req, char *err, size_t errlen);

#endif
