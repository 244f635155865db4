// SPDX-License-Identifier: GPL-2.0
/* Standard Webhooks signing, checked against the specification's test vector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "respond/webhook_sign.h"

/* The vector the Standard Webhooks libraries test with. */
#define SECRET	  "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define MSG_ID	  "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define TIMESTAMP 1614265330
#define PAYLOAD	  "{\"test\": 2432232314}"
#define EXPECTED  "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static void test_whsig_sign_matches_the_spec_vector(void **state)
{
	struct whsig_key k;
	char sig[WHSIG_LEN];

	assert_int_equal(whsig_key_parse(SECRET, &k), 0);
	assert_int_equal(k.len, 24);
	assert_int_equal(whsig_sign(&k, MSG_ID, TIMESTAMP, PAYLOAD, strlen(PAYLOAD), sig), 0);
	assert_string_equal(sig, EXPECTED);
}

static void test_whsig_verify_any_of_several_signatures(void **state)
{
	struct whsig_key k, other;

	assert_int_equal(whsig_key_parse(SECRET, &k), 0);
	assert_true(whsig_verify(&k, MSG_ID, TIMESTAMP, PAYLOAD, strlen(PAYLOAD), EXPECTED));
	assert_true(whsig_verify(&k, MSG_ID, TIMESTAMP, PAYLOAD, strlen(PAYLOAD),
				 "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " EXPECTED));
	assert_false(whsig_verify(&k, MSG_ID, TIMESTAMP + 1, PAYLOAD, strlen(PAYLOAD), EXPECTED));
	assert_false(whsig_verify(&k, MSG_ID, TIMESTAMP, "{\"test\": 1}", 11, EXPECTED));
	assert_false(whsig_verify(&k, "msg_other", TIMESTAMP, PAYLOAD, strlen(PAYLOAD), EXPECTED));
	assert_int_equal(whsig_key_parse("whsec_c2VjcmV0", &other), 0);
	assert_false(whsig_verify(&other, MSG_ID, TIMESTAMP, PAYLOAD, strlen(PAYLOAD), EXPECTED));
	assert_false(whsig_verify(&k, MSG_ID, TIMESTAMP, PAYLOAD, strlen(PAYLOAD), ""));
}

static void test_whsig_key_parse_rejects_bad_secrets(void **state)
{
	struct whsig_key k;

	assert_int_equal(whsig_key_parse("whsec_", &k), -22);
	assert_int_equal(whsig_key_parse("whsec_abc", &k), -22);  /* not a multiple of 4 */
	assert_int_equal(whsig_key_parse("whsec_ab!d", &k), -22); /* not base64 */
	assert_int_equal(whsig_key_parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &k), 0); /* bare */
	assert_int_equal(k.len, 24);
	assert_int_equal(whsig_key_parse("c2VjcmV0MQ==", &k), 0); /* "secret1": padding dropped */
	assert_int_equal(k.len, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_whsig_sign_matches_the_spec_vector),
	    cmocka_unit_test(test_whsig_verify_any_of_several_signatures),
	    cmocka_unit_test(test_whsig_key_parse_rejects_bad_secrets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
