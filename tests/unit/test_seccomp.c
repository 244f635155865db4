// SPDX-License-Identifier: GPL-2.0
/* Seccomp profiles: errors by JSON path, Docker's and Podman's defaults, resolution, filters. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "confine/seccomp_filter.h"

#define TESTDATA	  "tests/fixtures/seccomp/" /* run from the repository root */
#define CAP_SYS_ADMIN_BIT (1ull << 21)

static void expect_error(const char *json, const char *want)
{
	struct sc_profile *p = NULL;
	char err[512] = "";

	assert_int_not_equal(sc_profile_parse(json, strlen(json), &p, err, sizeof(err)), 0);
	assert_null(p);
	if (!strstr(err, want))
		fail_msg("got \"%s\", want \"%s\"", err, want);
}

static void test_errors_name_the_json_path(void **state)
{
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],"
		     "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":1,\"op\":"
		     "\"SCMP_CMP_EQQ\"}]}]}",
		     "syscalls[0].args[0].op: unknown operator \"SCMP_CMP_EQQ\"");
	expect_error("{\"defaultAction\":\"SCMP_ACT_NOPE\"}", "defaultAction: unknown action");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":[\"SCMP_ARCH_Z80\"]}",
		     "architectures[0]: unknown architecture \"SCMP_ARCH_Z80\"");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":\"read\","
		     "\"action\":\"SCMP_ACT_ALLOW\"}]}",
		     "syscalls[0].names: expected an array of strings, not a string");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"a\"],"
		     "\"action\":\"SCMP_ACT_ERRNO\",\"errno\":\"EWHAT\"}]}",
		     "syscalls[0].errno: unknown errno name \"EWHAT\"");
	expect_error(
	    "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"a\"],"
	    "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":9,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	    "syscalls[0].args[0].index: expected an argument index 0-5");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"a\"],"
		     "\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_FLY\"]}}]}",
		     "syscalls[0].includes.caps: unknown capability \"CAP_FLY\"");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"a\"],"
		     "\"action\":\"SCMP_ACT_ALLOW\",\"colour\":1}]}",
		     "syscalls[0]: unknown key \"colour\"");
	expect_error("{\"defaultAction\": ", "line 1");
	expect_error("[1, 2]", "expected a JSON object, not an array");
}

static void test_huge_arrays_are_refused(void **state)
{
	size_t n = 5000, len = 0;
	char *json = malloc(n * 8 + 200);

	len += sprintf(json, "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[");
	for (size_t i = 0; i < n; i++)
		len += sprintf(json + len, "%s\"s%zu\"", i ? "," : "", i);
	sprintf(json + len, "],\"action\":\"SCMP_ACT_ALLOW\"}]}");
	expect_error(json, "syscalls[0].names: 5000 entries: more than 4096");
	free(json);
}

static struct sc_profile *load(const char *name)
{
	struct sc_profile *p = NULL;
	char err[512], path[256];

	snprintf(path, sizeof(path), TESTDATA "%s", name);
	if (sc_profile_load(path, &p, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	return p;
}

static void count_warning(void *ctx, const char *msg)
{
	(*(unsigned *)ctx)++;
}

static void test_docker_default_resolves_like_docker(void **state)
{
	struct sc_profile *p = load("docker-default.json");
	struct sc_host root = {.caps = ~0ull, .arch = "amd64", .kmajor = 6, .kminor = 18};
	struct sc_host nobody = root;
	struct sc_report rr, rn;
	unsigned warnings = 0;
	struct sc_opts o = {.warn = count_warning, .ctx = &warnings};
	scmp_filter_ctx ctx;
	unsigned cap_rules = 0;

	nobody.caps = 0;
	assert_int_equal(p->default_action, SCMP_ACT_ERRNO(0));
	assert_int_equal(p->default_errno, 1);
	for (unsigned i = 0; i < p->nrules; i++) {
		/* e.g. {"includes": {"caps": ["CAP_SYS_ADMIN"]}}: for root, not for nobody */
		if (p->rules[i].inc.caps && sc_rule_applies(&p->rules[i], &root) &&
		    !sc_rule_applies(&p->rules[i], &nobody))
			cap_rules++;
	}
	assert_true(cap_rules >= 5);
	assert_int_equal(sc_build(p, &root, &o, &ctx, &rr, NULL, 0), 0);
	seccomp_release(ctx);
	assert_int_equal(rr.unknown_names, 12); /* mseal, listmount, lsm_*… (libseccomp 2.5) */
	assert_int_equal(warnings, 12);
	assert_int_equal(sc_build(p, &nobody, &o, &ctx, &rn, NULL, 0), 0);
	seccomp_release(ctx);
	assert_true(rn.rules_added < rr.rules_added);
	sc_profile_free(p);
}

static void test_strict_names_make_unknown_syscalls_fatal(void **state)
{
	struct sc_profile *p = load("docker-default.json");
	struct sc_host h;
	struct sc_opts o = {.strict_names = true};
	struct sc_report rep;
	scmp_filter_ctx ctx;
	char err[256];

	sc_host_detect(&h, 0);
	assert_int_equal(sc_build(p, &h, &o, &ctx, &rep, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "syscalls[0].names: unknown syscall"));
	sc_profile_free(p);
}

static void test_podman_default_errnos(void **state)
{
	struct sc_profile *p = load("podman-default.json");
	bool eperm = false, einval = false;

	assert_int_equal(p->default_errno, ENOSYS);
	for (unsigned i = 0; i < p->nrules; i++) {
		eperm |= p->rules[i].errno_ret == EPERM;
		einval |= p->rules[i].errno_ret == EINVAL;
	}
	assert_true(eperm && einval);
	sc_profile_free(p);
}

static void test_excludes_and_min_kernel(void **state)
{
	const char *json = "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":["
			   "{\"names\":[\"a\"],\"action\":\"SCMP_ACT_ALLOW\",\"excludes\":{"
			   "\"caps\":[\"CAP_SYS_ADMIN\"]}},"
			   "{\"names\":[\"b\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{"
			   "\"minKernel\":\"5.8\"}},"
			   "{\"names\":[\"c\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{"
			   "\"arches\":[\"arm64\"]}},"
			   "{\"name\":\"d\",\"action\":\"SCMP_ACT_ALLOW\",\"excludes\":{\"arches\":"
			   "[\"amd64\"]}}]}";
	struct sc_host h = {.caps = CAP_SYS_ADMIN_BIT, .arch = "amd64", .kmajor = 5, .kminor = 4};
	struct sc_profile *p = NULL;
	char err[256];

	assert_int_equal(sc_profile_parse(json, strlen(json), &p, err, sizeof(err)), 0);
	assert_false(sc_rule_applies(&p->rules[0], &h)); /* has the excluded cap */
	assert_false(sc_rule_applies(&p->rules[1], &h)); /* kernel too old */
	h.kmajor = 6;
	assert_true(sc_rule_applies(&p->rules[1], &h));
	assert_false(sc_rule_applies(&p->rules[2], &h));
	assert_false(sc_rule_applies(&p->rules[3], &h));
	assert_string_equal(p->rules[3].names[0], "d"); /* the legacy single name */
	h.caps = 0;
	assert_true(sc_rule_applies(&p->rules[0], &h));
	sc_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_errors_name_the_json_path),
	    cmocka_unit_test(test_huge_arrays_are_refused),
	    cmocka_unit_test(test_docker_default_resolves_like_docker),
	    cmocka_unit_test(test_strict_names_make_unknown_syscalls_fatal),
	    cmocka_unit_test(test_podman_default_errnos),
	    cmocka_unit_test(test_excludes_and_min_kernel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
