// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the pickle walk over hostile opcodes. The first byte
 * picks the input's form (even: the pickle as is; odd: a raw deflate stream,
 * as in a zip entry), the rest is the data. Any bytes must end in 0 or an
 * error with a consistent report: names NUL-terminated and bounded,
 * complete exactly when 0 was returned, every kept import classified.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inventory/pickle_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct model_pickle_loc loc = {0};
	struct pickle_limits lim;
	struct pickle_report rep;
	struct byte_src src;
	int r;

	if (size < 1)
		return 0;
	byte_src_mem(&src, data, size);
	loc.method = data[0] & 1 ? MODEL_PICKLE_DEFLATED : MODEL_PICKLE_STORED;
	loc.off = 1;
	loc.len = loc.size = size - 1;
	pickle_limits_default(&lim);
	lim.max_bytes = 4u << 20; /* a deflate bomb stops here, quickly */
	r = pickle_scan_model(&src, &loc, &lim, &rep);
	if (r > 0 || rep.complete != (r == 0) || rep.error != r)
		abort();
	uint32_t kept[3] = {0};
	if (rep.n_globals > PICKLE_GLOBALS_MAX)
		abort();
	for (uint32_t i = 0; i < rep.n_globals; i++) {
		const struct pickle_global *g = &rep.globals[i];
		if (!memchr(g->name, '\0', sizeof(g->name)) || g->cls > PICKLE_DANGEROUS ||
		    !g->imports)
			abort();
		kept[g->cls]++;
	}
	/* the totals count every distinct import, kept or not */
	if (kept[PICKLE_DANGEROUS] > rep.dangerous || kept[PICKLE_UNKNOWN] > rep.unknown)
		abort();
	return 0;
}
