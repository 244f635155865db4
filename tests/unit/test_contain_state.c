// SPDX-License-Identifier: GPL-2.0
/*
 * containments.json, the record a restarted vigild enforces again: every
 * field of a cell survives a write and a read, members by pid and start
 * time, and a hostile or truncated record is read without harm.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "confine/contain_internal.h"

static void test_cell_state_round_trips_every_field(void **state)
{
	struct cell_member m[2] = {{4242, 1000}, {4243, 1001}};
	struct cell in = {.id = "cell-4242-1",
			  .set = 3,
			  .path = "/vigil.quarantine/cell-4242-1",
			  .origin = "/system.slice/x.service",
			  .cgid = 77,
			  .target = 4242,
			  .target_start = 1000,
			  .moved = true,
			  .frozen = true,
			  .isolated = true,
			  .incident = "inc-1",
			  .members = m,
			  .nmembers = 2,
			  .boot_id = "b00t"};
	struct cell out = {0};
	json_t *o;

	strv_push(&in.denied, "/models/secret.safetensors");
	o = cell_state_json(&in);
	assert_non_null(o);
	cell_state_load(o, &out);
	assert_string_equal(out.id, in.id);
	assert_int_equal(out.set, 3);
	assert_string_equal(out.path, in.path);
	assert_string_equal(out.origin, in.origin);
	assert_int_equal(out.cgid, 77);
	assert_int_equal(out.target, 4242);
	assert_int_equal(out.target_start, 1000);
	assert_true(out.moved && out.frozen && out.isolated);
	assert_string_equal(out.incident, "inc-1");
	assert_string_equal(out.boot_id, "b00t");
	assert_int_equal(out.denied.n, 1);
	assert_string_equal(out.denied.v[0], "/models/secret.safetensors");
	assert_int_equal(out.nmembers, 2);
	assert_int_equal(out.members[1].pid, 4243);
	assert_int_equal(out.members[1].start, 1001);
	json_decref(o);
	strv_clear(&in.denied);
	strv_clear(&out.denied);
	free(out.members);
}

/* Wrong types, an oversized id, bad members: nothing overflows, bad members are dropped. */
static void test_cell_state_load_survives_a_hostile_record(void **state)
{
	char big[600];
	struct cell out = {0};
	json_t *o;

	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	o = json_pack("{s:s, s:i, s:s, s:[{s:i, s:i}, {s:s}, {s:i}], s:[i, s]}", "id", big,
		      "cgroup", 5, "origin", big, "members", "pid", -1, "start", 3, "pid", "x",
		      "pid", 9, "denied_paths", 7, "/ok");
	assert_non_null(o);
	cell_state_load(o, &out);
	assert_int_equal(strlen(out.id), sizeof(out.id) - 1);
	assert_string_equal(out.path, "");
	assert_int_equal(out.nmembers, 1); /* pid -1 and a string pid dropped */
	assert_int_equal(out.members[0].pid, 9);
	assert_int_equal(out.denied.n, 1);
	json_decref(o);
	strv_clear(&out.denied);
	free(out.members);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cell_state_round_trips_every_field),
	    cmocka_unit_test(test_cell_state_load_survives_a_hostile_record),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
