/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sink.h — where finished lines go: the events file (file_sink.h) and, with
 * --stdout, standard output. Owns the fan-out and stdout's buffer; stdout
 * carries only the stream. Also keeps the most recent lines in a fixed
 * ring (no allocation per line) for `vigil events`.
 *
 * Stage stream/: includes core/ and sense/; does not decide (detect) or act.
 */
#ifndef VIGIL_SINK_H
#define VIGIL_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream/file_sink.h"

struct recent;

struct sinks {
	struct file_sink *file; /* NULL: no file */
	bool to_stdout;
	uint64_t stdout_errors;
	uint64_t lines;	       /* lines emitted: line n is the n-th */
	struct recent *recent; /* NULL: not kept */
};

int sinks_keep_recent(struct sinks *s);
void sinks_free_recent(struct sinks *s);
/*
 * Lines after line number `after`, at most max, to fn until it returns
 * false (that line not taken); returns the number of the last line seen
 * (the next call's `after`). *missed: lines no longer in the ring.
 */
uint64_t sinks_recent(const struct sinks *s, uint64_t after, unsigned max,
		      bool (*fn)(void *ctx, const char *line, size_t len), void *ctx,
		      uint64_t *missed);

void sinks_emit(struct sinks *s, const char *line, size_t len);
void sinks_flush(struct sinks *s);

#endif
