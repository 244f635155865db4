// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/sink.h"

#define RECENT_SLOTS	4096
#define RECENT_BYTES	(2u << 20)
#define RECENT_LINE_MAX (64u << 10)

struct recent_slot {
	uint64_t at; /* absolute byte position of the line in the ring */
	uint32_t len;
};

struct recent {
	char *data;
	struct recent_slot slot[RECENT_SLOTS];
	uint64_t written; /* absolute bytes written */
};

int sinks_keep_recent(struct sinks *s)
{
	s->recent = calloc(1, sizeof(*s->recent));
	if (s->recent && !(s->recent->data = malloc(RECENT_BYTES))) {
		free(s->recent);
		s->recent = NULL;
	}
	return s->recent ? 0 : -ENOMEM;
}

void sinks_free_recent(struct sinks *s)
{
	if (s->recent)
		free(s->recent->data);
	free(s->recent);
	s->recent = NULL;
}

/* Copy the line in; a line never wraps (the rest of the ring's end is skipped). */
static void keep(struct recent *r, uint64_t n, const char *line, size_t len)
{
	uint64_t pos = r->written % RECENT_BYTES;
	struct recent_slot *sl = &r->slot[n % RECENT_SLOTS];

	if (len > RECENT_LINE_MAX) {
		sl->len = 0;
		return;
	}
	if (pos + len > RECENT_BYTES) { /* skip the ring's tail: lines stay contiguous */
		r->written += RECENT_BYTES - pos;
		pos = 0;
	}
	memcpy(r->data + pos, line, len);
	sl->at = r->written;
	sl->len = len;
	r->written += len;
}

void sinks_emit(struct sinks *s, const char *line, size_t len)
{
	if (!len)
		return;
	s->lines++;
	if (s->recent)
		keep(s->recent, s->lines, line, len);
	if (s->file)
		file_sink_write(s->file, line, len);
	if (s->to_stdout && (fwrite(line, 1, len, stdout) != len || fputc('\n', stdout) == EOF))
		s->stdout_errors++;
}

uint64_t sinks_recent(const struct sinks *s, uint64_t after, unsigned max,
		      bool (*fn)(void *ctx, const char *line, size_t len), void *ctx,
		      uint64_t *missed)
{
	const struct recent *r = s->recent;
	uint64_t first = s->lines > RECENT_SLOTS ? s->lines - RECENT_SLOTS + 1 : 1, n;

	*missed = 0;
	if (!r)
		return s->lines;
	if (after + 1 < first) {
		*missed = first - after - 1;
		after = first - 1;
	}
	for (n = after + 1; n <= s->lines && max; n++, max--) {
		const struct recent_slot *sl = &r->slot[n % RECENT_SLOTS];

		if (!sl->len || r->written - sl->at > RECENT_BYTES) {
			(*missed)++; /* overwritten by later lines, or too long to keep */
			continue;
		}
		if (!fn(ctx, r->data + sl->at % RECENT_BYTES, sl->len))
			break;
	}
	return n - 1;
}

void sinks_flush(struct sinks *s)
{
	if (s->file)
		file_sink_flush(s->file);
	if (s->to_stdout && fflush(stdout) == EOF)
		s->stdout_errors++;
}
