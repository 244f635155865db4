// SPDX-License-Identifier: GPL-2.0
/* GPU drivers' dynamic majors, read from /proc/devices. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sense/devices.h"

/* a GPU host's /proc/devices (NVIDIA 535 with UVM loaded, amdgpu, an accel driver) */
static const char gpu_host[] = "Character devices:\n"
			       "  1 mem\n"
			       "195 nvidia-frontend\n"
			       "226 drm\n"
			       "261 accel\n"
			       "505 kfd\n"
			       "507 nvidia-uvm\n"
			       "508 nvidia-caps\n"
			       "509 nvidia-uvm-tools\n"
			       "\n"
			       "Block devices:\n"
			       "  7 loop\n"
			       "510 nvidia-caps\n";

static void test_gpu_majors_from_character_devices_only(void **state)
{
	struct gpu_major m[8];
	unsigned n = gpu_majors_parse(gpu_host, m, 8);

	assert_int_equal(n, 4);
	assert_int_equal(m[0].major, 261);
	assert_string_equal(m[0].driver, "accel");
	assert_int_equal(m[1].major, 505);
	assert_string_equal(m[1].driver, "kfd");
	assert_int_equal(m[2].major, 507);
	assert_string_equal(m[2].driver, "nvidia-uvm");
	assert_int_equal(m[3].major, 508); /* not the block device of the same name */
	assert_string_equal(m[3].driver, "nvidia-caps");
}

static void test_gpu_majors_bounded_and_hostile_input(void **state)
{
	struct gpu_major m[2];

	assert_int_equal(gpu_majors_parse(gpu_host, m, 2), 2);
	assert_int_equal(gpu_majors_parse("", m, 2), 0);
	assert_int_equal(gpu_majors_parse("Block devices:\n507 nvidia-uvm\n", m, 2), 0);
	assert_int_equal(gpu_majors_parse("Character devices:\n", m, 2), 0);
	assert_int_equal(gpu_majors_parse("Character devices:\nnvidia-uvm\n"
					  "0 nvidia-uvm\n"
					  "99999 kfd\n"
					  "507nvidia-uvm\n"
					  "507 nvidia-uvm",
					  m, 2),
			 1); /* only the last line, unterminated, is well formed */
	assert_int_equal(m[0].major, 507);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gpu_majors_from_character_devices_only),
	    cmocka_unit_test(test_gpu_majors_bounded_and_hostile_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
