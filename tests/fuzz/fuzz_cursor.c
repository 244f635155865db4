// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the fleet shipper's reading of what is on disk (the
 * cursor file, the events file it reads lines and chains from) must accept
 * or reject, never crash or read out of bounds. The input is both files.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ship/cursor.h"

static int put(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "w");
	size_t n;

	if (!f)
		return -1;
	n = fwrite(data, 1, size, f);
	fclose(f);
	return n == size ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char dir[] = "/tmp/vigil-fuzz-cursor-XXXXXX", events[64], cur[64];
	struct ship_cursor c;
	struct reader *r = NULL;
	struct reader_line l;
	uint64_t bytes, lines;
	bool capped, have;

	if (!mkdtemp(dir))
		return 0;
	snprintf(events, sizeof(events), "%s/events.jsonl", dir);
	snprintf(cur, sizeof(cur), "%s/ship.cursor", dir);
	if (put(events, data, size) == 0 && put(cur, data, size) == 0) {
		have = cursor_load(cur, &c) == 0;
		if (reader_new(events, 3, have ? &c : NULL, &r) == 0) {
			for (int i = 0; i < 100000 && reader_next(r, &l) > 0; i++)
				if (l.len && l.p[l.len - 1] == 0x7f) /* touch the line's last byte */
					break;
			reader_backlog(r, 1 << 20, &bytes, &lines, &capped);
			reader_free(r);
		}
	}
	unlink(events);
	unlink(cur);
	rmdir(dir);
	return 0;
}
