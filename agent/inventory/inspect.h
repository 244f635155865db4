/* SPDX-License-Identifier: GPL-2.0 */
/*
 * inspect.h — what the inventory learns from a model file at open time, in
 * the sniffer's worker (sense/sniff.h's inspector).
 *
 * Owns: the header summary (model_header_read) and, for pickle-bearing
 * formats, the pickle scan (pickle_scan_model) of the file the sniffer
 * checked and opened, within fixed bounds (INSPECT_PICKLE_MAX bytes of
 * pickle: a checkpoint's data.pkl is kilobytes; a larger raw pickle is
 * scanned that far and reported incomplete), and a second descriptor of the
 * same open file for the hasher. Running in the worker is what puts the
 * scan's verdict in the stream before the child a malicious pickle starts:
 * the event loop waits for a process's pending job before its exec
 * (sniff_wait_pids).
 *
 * Stage inventory/: includes core/ and sense/ only; does not emit events or alert.
 */
#ifndef VIGIL_INSPECT_H
#define VIGIL_INSPECT_H

#include "inventory/byte_src.h"
#include "inventory/inventory.h"
#include "sense/sniff.h"

#define INSPECT_PICKLE_MAX (64ull << 20)

struct inv_detail {
	struct inv_summary sum;
	int fd; /* the same open file, for the hasher (-1 if none): the taker closes it */
};

/* A sniff_inspect_fn (ctx unused): job->detail becomes a struct inv_detail. */
void inspect_model(void *ctx, int fd, struct sniff_job *job);
/* Frees a detail (closing its fd); takes void * to be sniff_set_inspect's drop. */
void inspect_detail_free(void *detail);
/* The summary of one source (unit tests, fuzzing): header, then the pickle if any. */
void inspect_source(const struct byte_src *src, struct inv_summary *out);

#endif
