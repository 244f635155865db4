// SPDX-License-Identifier: GPL-2.0
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inventory/inspect.h"
#include "inventory/model_header.h"
#include "inventory/pickle_scan.h"

static void from_header(const struct model_header *h, struct inv_summary *s)
{
	snprintf(s->format, sizeof(s->format), "%s", h->format ? h->format : "unknown");
	snprintf(s->arch, sizeof(s->arch), "%s", h->arch);
	snprintf(s->name, sizeof(s->name), "%s", h->name);
	snprintf(s->quant, sizeof(s->quant), "%s", h->quant);
	snprintf(s->producer, sizeof(s->producer), "%s", h->producer);
	s->params = h->params;
	s->tensors = h->tensors;
	s->context_length = h->context_length;
	for (uint32_t i = 0; i < h->n_opsets && i < MODEL_OPSETS_MAX; i++)
		if (!h->opsets[i].domain[0] || !strcmp(h->opsets[i].domain, "ai.onnx"))
			s->opset = h->opsets[i].version > 0 ? h->opsets[i].version : 0;
	s->pickle = h->pickle;
}

static void from_scan(const struct pickle_report *rep, int r, struct inv_summary *s)
{
	s->scanned = true;
	s->scan_complete = r == 0 && rep->complete;
	s->globals = rep->n_globals + rep->globals_dropped;
	s->unknown = rep->unknown;
	s->dangerous = rep->dangerous;
	for (uint32_t i = 0; i < rep->n_globals && s->n_callables < INV_CALLABLES_MAX; i++)
		if (rep->globals[i].cls == PICKLE_DANGEROUS)
			snprintf(s->callables[s->n_callables++], sizeof(s->callables[0]), "%s",
				 rep->globals[i].name);
}

void inspect_source(const struct byte_src *src, struct inv_summary *out)
{
	struct model_header h;
	struct pickle_limits lim;
	struct pickle_report *rep;
	int r;

	memset(out, 0, sizeof(*out));
	model_header_read(src, &h); /* whatever was parsed before a failure is kept */
	from_header(&h, out);
	if (!h.pickle)
		return;
	rep = calloc(1, sizeof(*rep)); /* 4 KiB and more: not on a worker's stack */
	if (!rep)
		return;
	pickle_limits_default(&lim);
	lim.max_bytes = lim.max_read = INSPECT_PICKLE_MAX;
	r = pickle_scan_model(src, &h.pickle_at, &lim, rep);
	from_scan(rep, r, out);
	free(rep);
	/* which data.pkl a loader runs depends on its zip reader: we scanned one */
	if (h.zip_pickles > 1 && out->n_callables < INV_CALLABLES_MAX) {
		out->dangerous++;
		snprintf(out->callables[out->n_callables++], sizeof(out->callables[0]),
			 "zip:%u data.pkl entries", h.zip_pickles);
	}
}

void inspect_model(void *ctx, int fd, struct sniff_job *job)
{
	struct inv_detail *d = calloc(1, sizeof(*d));
	struct byte_src src;

	(void)ctx;
	if (!d)
		return;
	d->fd = -1;
	if (byte_src_fd(&src, fd) == 0)
		inspect_source(&src, &d->sum);
	else
		snprintf(d->sum.format, sizeof(d->sum.format), "%s", "unknown");
	d->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	job->detail = d;
}

void inspect_detail_free(void *detail)
{
	struct inv_detail *d = detail;

	if (!d)
		return;
	if (d->fd >= 0)
		close(d->fd);
	free(d);
}
