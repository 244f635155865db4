// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "vigil/abi.h"
#include "stream/ecs.h"
#include "stream/json_writer.h"

static json_t *parse(const char *line, size_t len)
{
	json_error_t err;
	json_t *j = json_loadb(line, len, 0, &err);

	if (!j)
		fail_msg("invalid JSON: %s: %.*s", err.text, (int)(len > 300 ? 300 : len), line);
	return j;
}

static void test_jw_escapes_hostile_strings(void **state)
{
	static const char hostile[] =
	    "a\"b\\c\nd\te\x01\x1f\x7f quote\" \xff\xfe bad \xc3\x28 ok \xe2\x82\xac";
	struct jw w;
	json_t *j;

	jw_init(&w, 16);
	jw_obj_open(&w, NULL);
	jw_strn(&w, "s", hostile, sizeof(hostile) - 1);
	jw_obj_close(&w);
	j = parse(w.buf, w.len);
	assert_true(w.lossy);
	/* valid UTF-8 survives, invalid bytes became U+FFFD */
	assert_non_null(strstr(json_string_value(json_object_get(j, "s")), "\xe2\x82\xac"));
	assert_non_null(strstr(json_string_value(json_object_get(j, "s")), "\xef\xbf\xbd"));
	json_decref(j);
	jw_free(&w);
}

static void test_jw_rejects_overlong_and_surrogates(void **state)
{
	static const char bad[] = "\xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80";
	struct jw w;
	json_t *j;

	jw_init(&w, 64);
	jw_obj_open(&w, NULL);
	jw_strn(&w, "s", bad, sizeof(bad) - 1);
	jw_obj_close(&w);
	j = parse(w.buf, w.len);
	assert_true(w.lossy);
	json_decref(j);
	jw_free(&w);
}

static void test_ecs_exec_with_huge_hostile_argv(void **state)
{
	struct ecs_writer *w;
	struct vigil_event ev = {.action = VA_EXEC, .pid = 7, .tid = 7, .ppid = 1};
	size_t n = 1 << 20, len;
	char *args = malloc(n);
	const char *line;
	json_t *j, *proc;

	for (size_t i = 0; i < n; i++)
		args[i] = (char)(i * 7 + 1); /* every byte value, NULs as separators */
	args[n - 1] = 0;
	ev.exec.args = (struct vstr){args, n};
	ev.exec.exe = (struct vstr){"/tmp/x\n\"y", 9};
	ev.exec.cwd = (struct vstr){"/", 1};
	strcpy(ev.comm, "x\"y");
	assert_int_equal(ecs_new("host\"1", "boot", NULL, &w), 0);
	ecs_format_event(w, &ev, &line, &len);
	assert_true(len > 0);
	j = parse(line, len);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "host"), "name")),
			    "host\"1");
	proc = json_object_get(j, "process");
	assert_true(json_array_size(json_object_get(proc, "args")) > 1000);
	assert_true(json_is_true(json_object_get(json_object_get(j, "vigil"), "lossy")));
	/* the vigil object is the last member: the file sink relies on it */
	assert_memory_equal(line + len - 2, "}}", 2);
	json_decref(j);
	ecs_free(w);
	free(args);
}

static void test_ecs_redacts_and_sequences(void **state)
{
	static const char args[] = "vllm\0serve\0--hf-token=hf_SECRET\0--api-key\0sk-SECRET";
	struct vigil_event ev = {.action = VA_EXEC, .pid = 7, .tid = 7};
	struct ecs_writer *w;
	const char *line;
	size_t len;
	json_t *j;

	ev.exec.args = (struct vstr){args, sizeof(args)};
	ev.exec.exe = (struct vstr){"/usr/bin/vllm", 13};
	ev.exec.cwd = (struct vstr){"/", 1};
	assert_int_equal(ecs_new("h", "boot", NULL, &w), 0);
	ecs_format_event(w, &ev, &line, &len);
	assert_null(memmem(line, len, "SECRET", 6));
	j = parse(line, len);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(j, "process"), "command_line")),
	    "vllm serve --hf-token=[REDACTED] --api-key [REDACTED]");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(j, "event"), "sequence")), 1);
	json_decref(j);
	ecs_format_event(w, &ev, &line, &len);
	j = parse(line, len);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(j, "event"), "sequence")), 2);
	json_decref(j);
	ecs_free(w);
}

static void test_ecs_connect_fields(void **state)
{
	struct vigil_event ev = {.action = VA_CONNECT, .pid = 5, .tid = 5};
	struct ecs_writer *w;
	const char *line;
	size_t len;
	json_t *j;

	ev.net.family = 10;
	ev.net.protocol = 17;
	ev.net.daddr[15] = 1; /* ::1 */
	ev.net.dport = 53;
	ev.net.error = -1;
	assert_int_equal(ecs_new("h", "boot", NULL, &w), 0);
	ecs_format_event(w, &ev, &line, &len);
	j = parse(line, len);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(j, "destination"), "ip")), "::1");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(j, "network"), "transport")), "udp");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(j, "event"), "outcome")), "unknown");
	json_decref(j);
	ecs_free(w);
}

/* An alert's audit lines (agent lines) are written while later rules still read the event. */
static void test_ecs_event_line_survives_agent_lines(void **state)
{
	struct vigil_event ev = {.action = VA_EXEC, .pid = 9, .tid = 9};
	size_t len, alen, big = 256 * 1024; /* grows the agent buffer: a realloc */
	char *copy, *huge = malloc(big + 1);
	const char *line, *aline;
	struct ecs_writer *w;
	struct jw *j;

	assert_non_null(huge);
	memset(huge, 'x', big);
	huge[big] = 0;
	ev.exec.args = (struct vstr){"sh", 3};
	ev.exec.exe = (struct vstr){"/bin/sh", 7};
	ev.exec.cwd = (struct vstr){"/", 1};
	assert_int_equal(ecs_new("h", "boot", NULL, &w), 0);
	ecs_format_event(w, &ev, &line, &len);
	copy = strndup(line, len);
	for (int i = 0; i < 2; i++) {
		j = ecs_begin(w, 0, "event", "process", "info", "contain.snapshot");
		jw_str(j, "message", i ? huge : "small");
		ecs_vigil(w);
		ecs_end(w, &aline, &alen);
		assert_true(alen > 0 && aline != line);
		assert_memory_equal(line, copy, len); /* ASan: no use after free either */
	}
	json_decref(parse(line, len));
	free(copy);
	free(huge);
	ecs_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_jw_escapes_hostile_strings),
	    cmocka_unit_test(test_jw_rejects_overlong_and_surrogates),
	    cmocka_unit_test(test_ecs_exec_with_huge_hostile_argv),
	    cmocka_unit_test(test_ecs_redacts_and_sequences),
	    cmocka_unit_test(test_ecs_connect_fields),
	    cmocka_unit_test(test_ecs_event_line_survives_agent_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
