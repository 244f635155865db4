// SPDX-License-Identifier: GPL-2.0
/*
 * Signed remote commands: a request signed by another implementation (Python's
 * cryptography, with the documented canonical form) verifies; each refusal is
 * the one the request earns; keys made by keygen round-trip through the files.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ship/cmd_sign.h"

/* RFC 8032 test 1's key; the request signed by Python (json.dumps sort_keys, (",", ":")) */
#define ALICE_PUB                                                        \
	"# a comment\nrole: act\n-----BEGIN PUBLIC KEY-----\n"           \
	"MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n" \
	"-----END PUBLIC KEY-----\n"
#define PY_TS 1767225600
#define PY_REQUEST                                                                              \
	"{\"cmd\":\"contain\",\"host\":\"gpu-7\",\"args\":{\"pid\":4242,\"freeze\":true,"       \
	"\"note\":\"caf\xc3\xa9 \\\"x\\\"\"},\"ts\":1767225600,\"nonce\":"                      \
	"\"00112233445566778899aabbccddeeff\",\"key_id\":\"alice\",\"sig\":"                    \
	"\"UGORkh7hXRKVB3HEm3JCoJQrCxhd4zQsi4ntG9XsBrEy0K0FpAKwTAxYl2pJKR+bttUX6WoVrnzre0W69HJ" \
	"bAw==\"}"
#define PY_CANONICAL                                                                           \
	"{\"args\":{\"freeze\":true,\"note\":\"caf\xc3\xa9 \\\"x\\\"\",\"pid\":4242},\"cmd\":" \
	"\"contain\",\"host\":\"gpu-7\",\"key_id\":\"alice\",\"nonce\":"                       \
	"\"00112233445566778899aabbccddeeff\",\"ts\":1767225600}"

struct fx {
	char dir[64];
	EVP_PKEY *bob, *carol; /* bob: act, carol: read; both in the guard's keyring */
	struct rcmd_guard *g;
};

static enum rcmd_verdict verify(struct fx *f, const char *req, int64_t now, struct rcmd_request *r)
{
	char why[256];
	enum rcmd_verdict v = rcmd_verify(f->g, req, strlen(req), now, r, why, sizeof(why));

	assert_true(v == CMD_OK || why[0]); /* every refusal says why */
	return v;
}

static char *signed_req(EVP_PKEY *k, const char *id, const char *cmd, const char *host, int64_t ts)
{
	char nonce[33];
	json_t *args = json_pack("{s:i}", "pid", 4242);
	char *s;

	assert_int_equal(rcmd_nonce(nonce), 0);
	s = rcmd_sign_request(k, id, cmd, host, args, ts, nonce);
	json_decref(args);
	assert_non_null(s);
	return s;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct rcmd_keyring *kr;
	char err[256], id[CMD_KEY_ID_MAX], path[128];

	strcpy(f->dir, "/tmp/vigil-test-cmd-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(rcmd_keygen(f->dir, "bob", CMD_ROLE_ACT, err, sizeof(err)), 0);
	assert_int_equal(rcmd_keygen(f->dir, "carol", CMD_ROLE_READ, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/bob.key", f->dir);
	assert_int_equal(rcmd_key_load(path, &f->bob, id, err, sizeof(err)), 0);
	assert_string_equal(id, "bob");
	snprintf(path, sizeof(path), "%s/carol.key", f->dir);
	assert_int_equal(rcmd_key_load(path, &f->carol, id, err, sizeof(err)), 0);
	assert_int_equal(rcmd_keyring_new(&kr), 0);
	assert_int_equal(rcmd_keyring_load_dir(kr, f->dir, err, sizeof(err)), 0);
	assert_int_equal(
	    rcmd_keyring_add(kr, "alice", ALICE_PUB, strlen(ALICE_PUB), err, sizeof(err)), 0);
	assert_int_equal(rcmd_keyring_count(kr), 3);
	assert_int_equal(rcmd_guard_new(kr, "gpu-7", &f->g), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	rcmd_guard_free(f->g);
	rcmd_key_free(f->bob);
	rcmd_key_free(f->carol);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void test_cmd_verify_accepts_a_request_python_signed(void **state)
{
	struct fx *f = *state;
	struct rcmd_request r;
	json_t *o = json_loads(PY_REQUEST, 0, NULL);
	char *canon = rcmd_canonical(o);

	assert_string_equal(canon, PY_CANONICAL);
	free(canon);
	json_decref(o);
	assert_int_equal(verify(f, PY_REQUEST, PY_TS + 59, &r), CMD_OK);
	assert_string_equal(r.cmd, "contain");
	assert_string_equal(r.key_id, "alice");
	assert_int_equal(r.role, CMD_ROLE_ACT);
	assert_int_equal(json_integer_value(json_object_get(r.args, "pid")), 4242);
	rcmd_request_fini(&r);
}

static void test_cmd_verify_refuses_a_changed_request(void **state)
{
	struct fx *f = *state;
	struct rcmd_request r;
	char *s = strdup(PY_REQUEST);

	*strstr(s, "4242") = '5'; /* another pid, the same signature */
	assert_int_equal(verify(f, s, PY_TS, &r), CMD_BAD_SIGNATURE);
	free(s);
	s = strdup(PY_REQUEST);
	strstr(s, "\"alice\"")[1] = 'b'; /* "blice": no such key */
	assert_int_equal(verify(f, s, PY_TS, &r), CMD_UNKNOWN_KEY);
	assert_string_equal(r.key_id, "blice");
	free(s);
}

static void test_cmd_verify_refuses_host_time_replay(void **state)
{
	struct fx *f = *state;
	struct rcmd_request r;
	int64_t now = 1800000000;
	char *other = signed_req(f->bob, "bob", "contain", "gpu-8", now);
	char *old = signed_req(f->bob, "bob", "contain", "gpu-7", now - CMD_SKEW_S - 1);
	char *future = signed_req(f->bob, "bob", "contain", "gpu-7", now + CMD_SKEW_S + 1);
	char *ok = signed_req(f->bob, "bob", "contain", "gpu-7", now - CMD_SKEW_S);

	assert_int_equal(verify(f, other, now, &r), CMD_WRONG_HOST);
	assert_int_equal(verify(f, old, now, &r), CMD_STALE);
	assert_int_equal(verify(f, future, now, &r), CMD_STALE);
	assert_int_equal(verify(f, ok, now, &r), CMD_OK);
	rcmd_request_fini(&r);
	assert_int_equal(verify(f, ok, now, &r), CMD_REPLAY);
	/* out of the window the nonce is forgotten, and the timestamp refuses it */
	assert_int_equal(verify(f, ok, now + 1, &r), CMD_STALE);
	free(other), free(old), free(future), free(ok);
}

static void test_cmd_verify_read_role_runs_status_only(void **state)
{
	struct fx *f = *state;
	struct rcmd_request r;
	int64_t now = 1800000100;
	char *contain = signed_req(f->carol, "carol", "contain", "gpu-7", now);
	char *status = signed_req(f->carol, "carol", "status", "gpu-7", now);
	char *unknown = signed_req(f->bob, "bob", "rules-reload", "gpu-7", now);
	char *forged =
	    signed_req(f->carol, "bob", "contain", "gpu-7", now); /* carol signs as bob */

	assert_int_equal(verify(f, contain, now, &r), CMD_ROLE_DENIED);
	assert_int_equal(verify(f, status, now, &r), CMD_OK);
	assert_int_equal(r.role, CMD_ROLE_READ);
	rcmd_request_fini(&r);
	assert_int_equal(verify(f, unknown, now, &r), CMD_UNKNOWN_COMMAND);
	assert_int_equal(verify(f, forged, now, &r), CMD_BAD_SIGNATURE);
	free(contain), free(status), free(unknown), free(forged);
}

static void test_cmd_verify_refuses_malformed(void **state)
{
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{\"cmd\":\"status\"}",
	    "not json",
	    "{\"cmd\":1,\"host\":\"h\",\"args\":{},\"ts\":1,\"nonce\":\"0123456789abcdef\","
	    "\"key_id\":\"bob\",\"sig\":\"x\"}",
	    "{\"cmd\":\"status\",\"host\":\"h\",\"args\":{},\"ts\":1,\"nonce\":\"short\","
	    "\"key_id\":\"bob\",\"sig\":\"x\"}",
	    "{\"cmd\":\"status\",\"host\":\"h\",\"args\":{},\"ts\":1,\"nonce\":"
	    "\"0123456789abcdef\","
	    "\"key_id\":\"bob\",\"sig\":\"x\",\"extra\":1}",
	    "{\"cmd\":\"status\",\"cmd\":\"contain\",\"host\":\"h\",\"args\":{},\"ts\":1,"
	    "\"nonce\":\"0123456789abcdef\",\"key_id\":\"bob\"}",
	};
	struct fx *f = *state;
	struct rcmd_request r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(verify(f, bad[i], 1, &r), CMD_MALFORMED);
}

static void test_cmd_verify_nonce_cache_is_bounded(void **state)
{
	struct fx *f = *state;
	struct rcmd_request r;
	int64_t now = 1800000200;
	char *s;

	for (unsigned i = 0; i < CMD_NONCE_SLOTS; i++) {
		s = signed_req(f->carol, "carol", "status", "gpu-7", now);
		assert_int_equal(verify(f, s, now, &r), CMD_OK);
		rcmd_request_fini(&r);
		free(s);
	}
	s = signed_req(f->carol, "carol", "status", "gpu-7", now);
	assert_int_equal(verify(f, s, now, &r), CMD_BUSY); /* refused, none forgotten */
	free(s);
	s = signed_req(f->carol, "carol", "status", "gpu-7", now + 2 * CMD_SKEW_S + 1);
	assert_int_equal(verify(f, s, now + 2 * CMD_SKEW_S + 1, &r), CMD_OK); /* room again */
	rcmd_request_fini(&r);
	free(s);
}

static void test_cmd_keyring_refuses_bad_files(void **state)
{
	struct rcmd_keyring *kr;
	char err[256];
	const char *norole = ALICE_PUB + strlen("# a comment\nrole: act\n");

	assert_int_equal(rcmd_keyring_new(&kr), 0);
	assert_int_equal(rcmd_keyring_add(kr, "a", norole, strlen(norole), err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "role"));
	assert_int_equal(rcmd_keyring_add(kr, "a", "role: admin\n", 12, err, sizeof(err)), -EINVAL);
	assert_int_equal(rcmd_keyring_add(kr, "a", "role: act\n", 10, err, sizeof(err)), -EINVAL);
	assert_int_equal(
	    rcmd_keyring_add(kr, "../x", ALICE_PUB, strlen(ALICE_PUB), err, sizeof(err)), -EINVAL);
	assert_int_equal(rcmd_keyring_add(kr, "a", ALICE_PUB, strlen(ALICE_PUB), err, sizeof(err)),
			 0);
	assert_int_equal(rcmd_keyring_add(kr, "a", ALICE_PUB, strlen(ALICE_PUB), err, sizeof(err)),
			 -EEXIST);
	rcmd_keyring_free(kr);
}

static void test_cmd_key_load_refuses_a_key_others_can_read(void **state)
{
	struct fx *f = *state;
	char path[128], err[256], id[CMD_KEY_ID_MAX];
	EVP_PKEY *k = NULL;

	snprintf(path, sizeof(path), "%s/bob.key", f->dir);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(rcmd_key_load(path, &k, id, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "chmod 600"));
	assert_int_equal(chmod(path, 0600), 0);
	snprintf(path, sizeof(path), "%s/bob.pub", f->dir); /* a public key is no private key */
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(rcmd_key_load(path, &k, id, err, sizeof(err)), -EINVAL);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(rcmd_keygen(f->dir, "bob", CMD_ROLE_ACT, err, sizeof(err)), -EEXIST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cmd_verify_accepts_a_request_python_signed),
	    cmocka_unit_test(test_cmd_verify_refuses_a_changed_request),
	    cmocka_unit_test(test_cmd_verify_refuses_host_time_replay),
	    cmocka_unit_test(test_cmd_verify_read_role_runs_status_only),
	    cmocka_unit_test(test_cmd_verify_refuses_malformed),
	    cmocka_unit_test(test_cmd_verify_nonce_cache_is_bounded),
	    cmocka_unit_test(test_cmd_keyring_refuses_bad_files),
	    cmocka_unit_test(test_cmd_key_load_refuses_a_key_others_can_read),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
