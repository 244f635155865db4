// SPDX-License-Identifier: GPL-2.0
#include <malloc.h>

#include "daemon/heap.h"

/* a quiet tick: no more stream lines than a heartbeat and a few stray events */
#define HEAP_QUIET_LINES 16
/* free heap grown by this much since the last trim: worth a trim */
#define HEAP_FREE_GROWTH (1u << 20)
#define HEAP_THRESHOLD	 (256 << 10)

void heap_setup(void)
{
	/* One arena for the loop, one shared by the worker threads (sniffer,
	 * hasher, incident writer, fleet): they allocate little, and each extra
	 * arena keeps its own free pages. */
	mallopt(M_ARENA_MAX, 2);
	/* Fixed, so glibc does not raise them itself: libbpf frees 5 MiB kernel
	 * BTF buffers at load, after which the dynamic thresholds would keep up
	 * to 10 MiB of free heap resident. */
	mallopt(M_MMAP_THRESHOLD, HEAP_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, HEAP_THRESHOLD);
}

bool heap_tick(struct heap_trim *h, uint64_t lines)
{
	bool quiet = lines - h->lines_last_tick <= HEAP_QUIET_LINES;
	struct mallinfo2 mi;

	h->lines_last_tick = lines;
	if (!quiet)
		return false;
	/* Free bytes count the same before and after a trim (the chunks stay
	 * free, their pages go): trim again only when more was freed since. The
	 * processes of a burst leave the cache exit_grace after it, so this is
	 * not the first quiet tick only. */
	mi = mallinfo2();
	if (mi.fordblks < h->free_at_trim + HEAP_FREE_GROWTH) {
		if (mi.fordblks < h->free_at_trim)
			h->free_at_trim = mi.fordblks; /* reused: count growth from here */
		return false;
	}
	malloc_trim(0); /* the free pages inside the heap too, not only its top */
	h->free_at_trim = mallinfo2().fordblks;
	h->trims++;
	return true;
}
