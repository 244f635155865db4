/* SPDX-License-Identifier: GPL-2.0 */
/*
 * spool.h — a durable outbox for webhook deliveries.
 *
 * Owns: one file per pending message in a root-only directory (0700),
 * written with write_file_atomic_at (fileio.h: temporary, fsync, rename,
 * directory fsync), so a crash leaves whole messages or none; a byte budget
 * (a full spool refuses and counts); oldest-first order that survives
 * restarts; removal once delivered (directory synced, so a power cut does
 * not resurrect a delivered message). Message ids become file names, so only
 * [A-Za-z0-9_-] is accepted. Safe to share between two threads (the event
 * loop puts, a delivery thread peeks and retires): a mutex inside, held over
 * disk I/O only. Sending and retry timing are not here.
 *
 * Stage respond/: includes any stage but daemon/; does not own the loop or the socket.
 */
#ifndef VIGIL_SPOOL_H
#define VIGIL_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_ID_MAX 64

struct spool_msg {
	char id[SPOOL_ID_MAX];
	uint64_t seq;
	char *body; /* malloc'd, the caller frees */
	size_t len;
};

struct spool_stats {
	uint64_t pending, bytes, refused, rejected;
	uint64_t vanished; /* files removed behind the spool's back, skipped */
};

struct spool;

/* Open (creating) dir, picking up what an earlier run left there. */
int spool_open(const char *dir, uint64_t max_bytes, struct spool **ret);
struct spool *spool_close(struct spool *s);
/* Store a message durably; -ENOSPC over budget (counted), -EINVAL for a bad id. */
int spool_put(struct spool *s, const char *id, const void *body, size_t len);
/* The oldest pending message; -ENOENT when there is none (vanished files are skipped). */
int spool_peek(struct spool *s, struct spool_msg *ret);
/* Delivered: forget it. */
int spool_done(struct spool *s, const char *id);
/* Undeliverable (the receiver refused it for good): moved to DIR/failed/, counted. */
int spool_reject(struct spool *s, const char *id);
void spool_stats(struct spool *s, struct spool_stats *ret);

#endif
