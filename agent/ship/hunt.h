/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hunt.h — fleet hunting: `vigil replay`'s rules and correlation over the
 * JetStream stream, one active worker per partition.
 *
 * Owns: the durable pull consumer of a partition (`hunt-<P>`, filter
 * `<prefix>.events.<P>.>`; `all` for `<prefix>.events.>`), shared by every
 * worker of that partition; the lease that makes one of them active (key
 * `<P>` in the KV bucket `<stream>_hunt`: created only if absent, renewed
 * with a revision check, its TTL the bucket's, so a dead worker's lease
 * lapses and a stand-by's create succeeds); on taking over, the re-read of
 * the longest correlation window before the consumer's ack floor through an
 * ephemeral consumer, alerts held back (the previous worker published
 * them), so a sequence that spans the handover still fires; alerts as
 * `<prefix>.alerts.hunt.<P>.<host>` with Nats-Msg-Id (and event.id) =
 * `hunt-<trigger event.id>-<rule id>`, so a repeat after a takeover is
 * dropped by JetStream's de-duplication, and on out. An event is acked
 * (AckAll, once per batch) only after its alerts are acked by JetStream.
 * The engine is replay.h's.
 *
 * Stage ship/: includes core/ and the stages below it; does not own the
 * daemon's loop or its connection.
 */
#ifndef VIGIL_HUNT_H
#define VIGIL_HUNT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "detect/replay.h"

struct fleet_conn;

struct hunt_opts {
	const char *prefix, *stream;
	const char *partition; /* "K", or NULL: every partition as one ("all") */
	int64_t since_ns;      /* a new consumer starts here (0: the stream's start) */
	bool follow;	       /* wait for new events; else stop when none are pending */
	unsigned lease_ttl_ms;
	const char *worker; /* the lease's value: who holds it */
	struct replay_opts ro;
	volatile sig_atomic_t *stop; /* set by a signal: release the lease and return */
};

struct hunt_stats {
	uint64_t messages, alerts, published, duplicates, reread, reread_alerts, takeovers;
	uint64_t publish_errors;
	struct replay_stats rs;
};

/* Hunt until done (or *o->stop); rs is taken over. 0 or -errno with one line on err. */
int hunt_run(struct fleet_conn *fc, const struct hunt_opts *o, struct ruleset *rs, FILE *out,
	     FILE *err, struct hunt_stats *st);

#endif
