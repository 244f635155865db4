// SPDX-License-Identifier: GPL-2.0
/*
 * Incident records (incident.c): ids sortable and unique, a record written
 * atomically and read back whole, ids that look like paths refused, the
 * list newest first, and a fresh open of the directory continuing the ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "respond/incident.h"

struct fixture {
	char dir[64];
	struct incidents *s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-inc-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	strcat(f->dir, "/incidents"); /* made by incidents_open */
	*state = f;
	return incidents_open(f->dir, &f->s);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	incidents_close(f->s);
	*strrchr(f->dir, '/') = 0;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	free(f);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *id_of(json_t *inc)
{
	return json_string_value(json_object_get(inc, "id"));
}

static void test_incident_round_trip_and_private_dir(void **state)
{
	struct fixture *f = *state;
	json_t *inc = incident_new(f->s, "playbook", "Shell spawned by model loader"), *back;
	struct stat st;

	assert_non_null(inc);
	incident_append(inc, "steps",
			json_pack("{s:s, s:s}", "name", "kill", "outcome", "success"));
	incident_append(inc, "alerts", json_pack("{s:s}", "rule", "VGL-0001"));
	assert_int_equal(incident_save(f->s, inc), 0);
	back = incident_load(f->s, id_of(inc));
	assert_non_null(back);
	assert_string_equal(id_of(back), id_of(inc));
	assert_string_equal(json_string_value(json_object_get(back, "source")), "playbook");
	assert_int_equal(json_array_size(json_object_get(back, "steps")), 1);
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(back, "alerts"), 0), "rule")),
			    "VGL-0001");
	assert_int_equal(stat(f->dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	json_decref(back);
	json_decref(inc);
}

static void test_incident_ids_are_unique_sorted_and_listed_newest_first(void **state)
{
	struct fixture *f = *state;
	json_t *a = incident_new(f->s, "cli", "a"), *b = incident_new(f->s, "cli", "b"), *l;

	assert_string_not_equal(id_of(a), id_of(b));
	assert_true(strcmp(id_of(a), id_of(b)) < 0);
	assert_int_equal(incident_save(f->s, a), 0);
	assert_int_equal(incident_save(f->s, b), 0);
	l = incident_list(f->s, 10);
	assert_int_equal(json_array_size(l), 2);
	assert_string_equal(id_of(json_array_get(l, 0)), id_of(b));
	json_decref(l);
	json_decref(a);
	json_decref(b);
}

/* An id is a name in the directory, never a path: a control client chose it. */
static void test_incident_load_refuses_path_like_ids(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
	    "../../etc/passwd", "/etc/shadow", "a/b", "..", "", "x\n"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_null(incident_load(f->s, bad[i]));
}

/* A restarted vigild opening the same directory never reuses an id. */
static void test_incident_ids_continue_across_opens(void **state)
{
	struct fixture *f = *state;
	json_t *a = incident_new(f->s, "cli", "before"), *b;
	struct incidents *again = NULL;

	assert_int_equal(incident_save(f->s, a), 0);
	f->s = incidents_close(f->s); /* a restart: the old vigild is gone */
	assert_int_equal(incidents_open(f->dir, &again), 0);
	b = incident_new(again, "cli", "after");
	assert_string_not_equal(id_of(a), id_of(b));
	json_decref(a);
	json_decref(b);
	incidents_close(again);
}

/* Saves are written by a thread: closing writes every one out, the last text of each. */
static void test_incident_saves_are_on_disk_after_close(void **state)
{
	struct fixture *f = *state;
	json_t *a = incident_new(f->s, "cli", "a"), *back;
	char path[PATH_MAX + 64];

	assert_int_equal(incident_save(f->s, a), 0);
	json_object_set_new(a, "status", json_string("contained"));
	assert_int_equal(incident_save(f->s, a), 0);
	f->s = incidents_close(f->s);
	snprintf(path, sizeof(path), "%s/%s.json", f->dir, id_of(a));
	back = json_load_file(path, 0, NULL);
	assert_non_null(back);
	assert_string_equal(json_string_value(json_object_get(back, "status")), "contained");
	json_decref(back);
	json_decref(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_incident_round_trip_and_private_dir, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_incident_ids_are_unique_sorted_and_listed_newest_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_incident_load_refuses_path_like_ids, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_incident_saves_are_on_disk_after_close, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_incident_ids_continue_across_opens, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
