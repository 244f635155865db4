// SPDX-License-Identifier: GPL-2.0
/* vigild's heap trim (daemon/heap.h): only on a quiet tick, only when the free
 * heap grew, and the freed pages really leave the process's RSS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <malloc.h>

#include "daemon/heap.h"

#define BLOCKS 4096 /* 4 MiB in 1 KiB blocks: heap, not mmap */

static long rss_kib(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld %ld", &pages, &rss), 2);
	fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* the compiler may not drop a malloc whose block is only freed */
static void keep(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

static void test_heap_trims_once_a_burst_is_over(void **state)
{
	static char *b[BLOCKS];
	struct heap_trim h = {0};
	char *top;
	long before;

	(void)state;
#ifdef __SANITIZE_ADDRESS__
	skip(); /* make SAN=1: ASan's allocator is not glibc's heap, nothing here to trim */
#endif
	heap_setup();
	for (int i = 0; i < BLOCKS; i++) {
		b[i] = malloc(1024);
		memset(b[i], 1, 1024); /* resident */
		keep(b[i]);
	}
	/* above them, from the heap's top (larger than any free chunk left by
	 * cmocka): the freed blocks stay inside the heap, not its top */
	top = malloc(64 << 10);
	keep(top);
	heap_tick(&h, 0); /* whatever was free before the burst */
	for (int i = 0; i < BLOCKS; i++)
		free(b[i]);
	/* 1000 lines in this tick: the burst goes on, nothing is trimmed */
	assert_false(heap_tick(&h, 1000));
	before = rss_kib();
	assert_true(mallinfo2().fordblks >= 2u << 20); /* freed, still in the heap */
	/* a quiet tick (a heartbeat's line): the free heap grew by 4 MiB */
	assert_true(heap_tick(&h, 1001));
	assert_true(before - rss_kib() >= 2048);
	assert_int_equal(h.trims, 1);
	/* nothing freed since: no second trim */
	assert_false(heap_tick(&h, 1002));
	free(top);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_heap_trims_once_a_burst_is_over),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
