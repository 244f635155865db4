/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fleet.h — the CLI's side of the fleet: a connection to the cluster, the
 * signed request to one host (`vigil --fleet URL ... --host H`) and the
 * fleet's health (`vigil fleet status`, from the last heartbeat of each
 * host in the stream).
 *
 * Owns: connecting to a comma-separated server list with libnats (natslib),
 * the request/reply on `<prefix>.cmd.<host>` with a signed request
 * (cmd_sign.h), and reading `<prefix>.health.>` last-per-subject through an
 * ephemeral consumer. Printing is the caller's.
 *
 * Stage ship/: includes core/ and the stages below it; does not own the
 * daemon's loop or its connection.
 */
#ifndef VIGIL_FLEET_H
#define VIGIL_FLEET_H

#include <jansson.h>
#include <stddef.h>

#include "ship/natslib.h"

#define FLEET_PREFIX "vigil"
#define FLEET_STREAM "VIGIL"

struct fleet_conn {
	struct natslib nl;
	natsConnection *nc;
	jsCtx *js;
};

/* urls: "nats://a:4222[,nats://b:4222...]"; creds_file may be NULL. 0 or -errno, err set. */
int fleet_connect(struct fleet_conn *fc, const char *urls, const char *creds_file, char *err,
		  size_t errlen);
void fleet_close(struct fleet_conn *fc);

/*
 * Sign {cmd, host, args} with the key file and ask host over NATS (timeout_ms);
 * the host's JSON reply (an object with "ok") or NULL with err set.
 */
json_t *fleet_request(struct fleet_conn *fc, const char *prefix, const char *key_file,
		      const char *host, const char *cmd, json_t *args, int timeout_ms, char *err,
		      size_t errlen);

/* The last heartbeat of each host: an array of the heartbeat events, oldest host first. */
json_t *fleet_heartbeats(struct fleet_conn *fc, const char *prefix, const char *stream, char *err,
			 size_t errlen);

#endif
