/* SPDX-License-Identifier: GPL-2.0 */
/*
 * heap.h — daemon: vigild's malloc policy, for its memory budget (RSS
 * <= 32 MiB, docs/performance.md). Owns the glibc settings made at start
 * (arenas, trim and mmap thresholds) and the trim once a burst of events is
 * over, so the pages a burst left free go back to the kernel.
 *
 * Stage daemon/: includes any stage (the top); does not detect or act: it wires the stages.
 */
#ifndef VIGIL_HEAP_H
#define VIGIL_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct heap_trim {
	uint64_t lines_last_tick; /* stream lines counted at the previous tick */
	size_t free_at_trim;	  /* free heap bytes after the last trim (or since reused) */
	uint64_t trims;
};

/* Before any thread starts: two arenas, fixed trim and mmap thresholds. */
void heap_setup(void);
/*
 * Once per loop tick with the stream's line count: on a quiet tick (the
 * burst is over), trims the heap when its free bytes grew by 1 MiB since the
 * last trim. True when it trimmed.
 */
bool heap_tick(struct heap_trim *h, uint64_t lines);

#endif
