// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>

#include "vigil/sink.h"

void sinks_emit(struct sinks *s, const char *line, size_t len)
{
	if (!len)
		return;
	s->lines++;
	if (s->file)
		file_sink_write(s->file, line, len);
	if (s->to_stdout && (fwrite(line, 1, len, stdout) != len || fputc('\n', stdout) == EOF))
		s->stdout_errors++;
}

void sinks_flush(struct sinks *s)
{
	if (s->file)
		file_sink_flush(s->file);
	if (s->to_stdout && fflush(stdout) == EOF)
		s->stdout_errors++;
}
