// SPDX-License-Identifier: GPL-2.0
/*
 * The bitmaps in front of the file probe's watch maps (sense/watch_bits.c):
 * which bits a watch sets, read back the way file.bpf.c's BIT() reads them.
 * A dir's bit is set only for what an open reads its flags for, so a dir
 * that only awaits a name or only holds watched files costs other opens in
 * it no lookup.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sense/probes_internal.h"

/* file.bpf.c's BIT(): the word by the slot's high bits (masked to the map), the bit by its low ones */
#define BIT(map, slot) (((map)[((slot) >> 6) & (sizeof(map) / 8 - 1)] >> ((slot)&63)) & 1)

static struct vigil_file__bss bss; /* 34 KiB: not on the stack */

static int bits_set(const volatile __u64 *w, size_t words)
{
	int n = 0;

	for (size_t i = 0; i < words; i++)
		n += __builtin_popcountll(w[i]);
	return n;
}
#define NBITS(map) bits_set(map, sizeof(map) / 8)

static int setup(void **state)
{
	(void)state;
	memset((void *)&bss, 0, sizeof(bss));
	return 0;
}

static void dir(uint64_t ino, uint32_t flags)
{
	struct vgl_inode_key k = {.ino = ino, .dev = 0x800001};

	watch_bit(&bss, W_DIRS, &k, flags);
}

static void a_model_dir_is_gated_for_opens_and_walks(void **state)
{
	uint32_t slot = VGL_INO_SLOT(1234);

	(void)state;
	dir(1234, VGL_DIR_AMBIGUOUS);
	assert_true(BIT(bss.dir_bits, slot));
	assert_true(BIT(bss.gates.dir, slot));
	assert_true(BIT(bss.walk_devs, VGL_DEV_SLOT(0x800001)));
	assert_int_equal(NBITS(bss.pending_bits), 0);
}

static void an_awaiting_dir_is_gated_only_for_creating_opens(void **state)
{
	uint32_t slot = VGL_INO_SLOT(99);

	(void)state;
	dir(99, VGL_DIR_PENDING | VGL_DIR_PARENT);
	assert_true(BIT(bss.pending_bits, slot));
	assert_int_equal(NBITS(bss.dir_bits), 0);
	assert_int_equal(NBITS(bss.gates.dir), 0);
	assert_int_equal(NBITS(bss.walk_devs), 0);
}

static void a_dir_of_watched_files_costs_opens_nothing(void **state)
{
	(void)state;
	dir(7, VGL_DIR_PARENT);
	assert_int_equal(NBITS(bss.dir_bits) + NBITS(bss.gates.dir) + NBITS(bss.pending_bits), 0);
	dir(7, VGL_DIR_PARENT | VGL_DIR_ALL); /* flags accumulate: the union decides */
	assert_true(BIT(bss.dir_bits, VGL_INO_SLOT(7)));
}

/* The filesystem's number is not in the slot: the kernel reads it only behind a set bit. */
static void a_file_slot_is_its_inode_number_alone(void **state)
{
	struct vgl_inode_key a = {.ino = 4242, .dev = 1}, b = {.ino = 4242, .dev = 0x800002};

	(void)state;
	watch_bit(&bss, W_FILES, &a, VGL_KIND_MODEL);
	assert_int_equal(NBITS(bss.file_bits), 1);
	watch_bit(&bss, W_FILES, &b, VGL_KIND_MODEL);
	assert_int_equal(NBITS(bss.file_bits), 1);
	assert_true(BIT(bss.file_bits, VGL_INO_SLOT(4242)));
	assert_true(BIT(bss.gates.file, VGL_INO_SLOT(4242)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(a_model_dir_is_gated_for_opens_and_walks, setup),
	    cmocka_unit_test_setup(an_awaiting_dir_is_gated_only_for_creating_opens, setup),
	    cmocka_unit_test_setup(a_dir_of_watched_files_costs_opens_nothing, setup),
	    cmocka_unit_test_setup(a_file_slot_is_its_inode_number_alone, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
