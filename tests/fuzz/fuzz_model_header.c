// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: a model file's header is the first thing vigild parses
 * from a file any workload may have written. Any bytes must give 0 or an
 * error, NUL-terminated text, counts within their arrays and a pickle
 * location inside the file; and the pickle it points at must scan safely.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inventory/model_header.h"
#include "inventory/pickle_scan.h"

#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

static void check(const struct model_header *h, size_t size)
{
	const struct model_pickle_loc *at = &h->pickle_at;

	if (!h->format || !TERMINATED(h->arch) || !TERMINATED(h->name) || !TERMINATED(h->quant) ||
	    !TERMINATED(h->producer) || !TERMINATED(h->producer_version) || !TERMINATED(at->entry))
		abort();
	if (h->n_meta > MODEL_META_MAX || h->n_dtypes > MODEL_DTYPES_MAX ||
	    h->n_opsets > MODEL_OPSETS_MAX)
		abort();
	for (uint32_t i = 0; i < h->n_meta; i++)
		if (!TERMINATED(h->meta[i].key) || !TERMINATED(h->meta[i].value))
			abort();
	if (at->method != MODEL_PICKLE_NONE && (at->off > size || at->len > size - at->off))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pickle_limits lim;
	struct pickle_report rep;
	struct model_header h;
	struct byte_src src;
	int r;

	byte_src_mem(&src, data, size);
	r = model_header_read(&src, &h);
	if (r > 0)
		abort();
	check(&h, size);
	if (r == 0 && h.pickle_at.method != MODEL_PICKLE_NONE) {
		pickle_limits_default(&lim);
		lim.max_bytes = 1u << 20; /* a deflated entry may claim more: keep runs fast */
		r = pickle_scan_model(&src, &h.pickle_at, &lim, &rep);
		if (r > 0 || rep.complete != (r == 0))
			abort();
	}
	return 0;
}
