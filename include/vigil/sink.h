/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sink.h — where finished lines go: the events file (file_sink.h) and, with
 * --stdout, standard output. Owns the fan-out and stdout's buffer; stdout
 * carries only the stream.
 */
#ifndef VIGIL_SINK_H
#define VIGIL_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/file_sink.h"

struct sinks {
	struct file_sink *file; /* NULL: no file */
	bool to_stdout;
	uint64_t stdout_errors;
	uint64_t lines;
};

void sinks_emit(struct sinks *s, const char *line, size_t len);
void sinks_flush(struct sinks *s);

#endif
