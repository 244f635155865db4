/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cursor.h — where the fleet shipper stands in the local events file, and
 * reading on from there across rotation.
 *
 * Owns: the cursor (the file's identity, device and inode, plus the byte
 * offset just past the last line the stream acknowledged, and that line's
 * chain hash), saved atomically in the state dir; a reader that opens the
 * file holding that inode among events.jsonl, .1 … .max_files (rotation
 * renames, so the inode follows the file), returns complete lines only, and
 * at the end of a file that is no longer the live one goes on with the next
 * newer one. An open file is read to its end even after it was removed.
 * Loss is found by the hash chain, not guessed: every line's vigil.chain must
 * be the hash of the line before it (chain.h), so a line whose chain is not
 * the previous line's hash (retention removed files the cursor had not
 * reached, the file was truncated or replaced) is reported as a gap.
 *
 * Stage ship/: includes core/ and any stage below daemon/; does not own the
 * loop, the socket or any connection.
 */
#ifndef VIGIL_CURSOR_H
#define VIGIL_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream/chain.h"

struct ship_cursor {
	uint64_t dev, ino, off;	      /* just past the last acked line */
	char head[CHAIN_HEX_LEN + 1]; /* that line's hash ("": none known yet) */
	char id[64];		      /* its event.id and event.sequence: a gap event names them */
	uint64_t seq;
};

/* 0, -ENOENT (never saved), -EINVAL (unreadable: start over, said by the caller). */
int cursor_load(const char *path, struct ship_cursor *c);
int cursor_save(const char *path, const struct ship_cursor *c);

struct reader;

struct reader_line {
	const char *p;		/* valid until the next reader_next */
	size_t len;		/* without the newline */
	struct ship_cursor end; /* the cursor once this line is acked (id, seq: the caller's) */
	bool gap;		/* its chain does not continue the previous line's */
};

/*
 * Read path's series from c (NULL, or a cursor whose file is gone: the oldest
 * file there is, from its start; the first line then is a gap if c named a
 * line it does not continue).
 */
int reader_new(const char *path, unsigned max_files, const struct ship_cursor *c,
	       struct reader **ret);
struct reader *reader_free(struct reader *r);
/* 1: a line in *l; 0: nothing new yet; <0: -errno (a read error; retried by calling again). */
int reader_next(struct reader *r, struct reader_line *l);
/*
 * Bytes and lines not yet read (files newer than the open one included);
 * lines are counted up to max_scan bytes, *capped set when there were more.
 */
void reader_backlog(struct reader *r, uint64_t max_scan, uint64_t *bytes, uint64_t *lines,
		    bool *capped);
/* Lines longer than the reader's buffer (4 MiB), skipped and counted. */
uint64_t reader_oversized(const struct reader *r);

#endif
