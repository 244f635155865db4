/* SPDX-License-Identifier: GPL-2.0 */
/*
 * file_sink.h — the NDJSON events file: hash chain, size-based rotation,
 * bounded backlog.
 *
 * Owns the file descriptor, the chain head and rotation (events.jsonl →
 * events.jsonl.1 → …). A failed write (full disk) keeps lines in a bounded
 * in-memory backlog and retries on the next flush; past the bound lines are
 * dropped and counted, never half-written, and the chain skips them (the
 * gap shows in event.sequence and in the drop metric). At open, a torn last
 * line (a crash mid-write) is cut, never left for the next line to glue onto.
 *
 * Stage stream/: includes core/ and sense/; does not decide (detect) or act.
 */
#ifndef VIGIL_FILE_SINK_H
#define VIGIL_FILE_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream/chain.h"

struct file_sink;

struct file_sink_stats {
	uint64_t lines, bytes, dropped, write_errors, rotations, backlog;
	int last_errno;
};

/* What the file held when it was opened: the previous run's end. */
struct file_sink_found {
	uint64_t torn_bytes, torn_at; /* a torn last line cut (bytes, at offset) */
	bool torn_kept;		      /* not cut (append-only file): ended with a newline */
	bool previous;		      /* a line of an earlier run is on disk: tail */
	struct chain_tail tail;	      /* its last complete line (this file, else .1) */
};

/* A torn last line is cut to the last newline (file_sink_found says so). */
int file_sink_open(const char *path, uint64_t max_size, unsigned max_files, uint64_t backlog_max,
		   struct file_sink **ret);
struct file_sink *file_sink_close(struct file_sink *fs);
/* line: one JSON object without newline whose last member is the `vigil` object. */
int file_sink_write(struct file_sink *fs, const char *line, size_t len);
int file_sink_flush(struct file_sink *fs);
/* Reopen the path (after logrotate moved it). */
int file_sink_reopen(struct file_sink *fs);
const struct file_sink_found *file_sink_found(const struct file_sink *fs);
const char *file_sink_chain_head(const struct file_sink *fs);
void file_sink_stats(const struct file_sink *fs, struct file_sink_stats *ret);

#endif
