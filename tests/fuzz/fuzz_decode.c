// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: ring-buffer records cross the kernel boundary; decode,
 * enrich-free serialisation must survive any bytes and always emit valid JSON.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sense/decode.h"
#include "stream/ecs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct decoder dec;
	static struct ecs_writer *w;
	struct vigil_event ev;
	const char *line;
	size_t len;
	json_t *j;

	if (!w && ecs_new("fuzz", "boot", NULL, &w) < 0)
		abort();
	if (decode_record(&dec, data, size, &ev) < 0)
		return 0;
	ev.proc = NULL;
	ecs_format_event(w, &ev, &line, &len);
	j = json_loadb(line, len, 0, NULL);
	if (!j)
		abort(); /* invalid JSON from a decodable record */
	json_decref(j);
	return 0;
}
