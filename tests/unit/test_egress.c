// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "confine/egress.h"

static void test_egress_rule_parse_and_reject(void **state)
{
	struct egress_rule r;

	assert_int_equal(egress_rule_parse("10.1.2.3/8:443", &r), 0);
	assert_int_equal(r.prefix, 104);
	assert_int_equal(r.port, 443);
	assert_int_equal(r.addr[12], 10);
	assert_int_equal(r.addr[13], 0); /* host bits cleared */
	assert_int_equal(r.addr[10], 0xff);
	assert_int_equal(egress_rule_parse("[::1]:8080", &r), 0);
	assert_int_equal(r.prefix, 128);
	assert_int_equal(r.port, 8080);
	assert_int_equal(egress_rule_parse("::/0", &r), 0);
	assert_int_equal(r.prefix, 0);
	assert_int_equal(egress_rule_parse("10.0.0.1:0", &r), -22);
	assert_int_equal(egress_rule_parse("10.0.0.1:70000", &r), -22);
	assert_int_equal(egress_rule_parse("hub.example:443", &r), -22);
	assert_int_equal(egress_rule_parse("[::1", &r), -22);
}

static void test_egress_allow_add_does_not_resolve_when_told_not_to(void **state)
{
	struct egress_allowlist e = {0};

	assert_int_equal(egress_allow_add(&e, "192.0.2.0/24:443", false), 0);
	assert_int_equal(egress_allow_add(&e, "hub.example:443", false), -EINVAL);
	assert_int_equal(e.nallow, 1);
	egress_allowlist_fini(&e);
	assert_null(e.allow);
}

/* The trie answers with the longest prefix only: a narrower entry carries the wider one's ports. */
static void test_egress_trie_entry_carries_covering_ports(void **state)
{
	struct egress_allowlist e = {0};
	struct vgl_allow_key k;
	struct vgl_allow_val v;

	assert_int_equal(egress_allow_add(&e, "10.0.0.0/8:443", false), 0);
	assert_int_equal(egress_allow_add(&e, "10.1.0.0/16:80", false), 0);
	assert_int_equal(egress_allow_add(&e, "192.0.2.1", false), 0);
	egress_trie_entry(&e, 1, 7, &k, &v);
	assert_int_equal(k.policy, 7);
	assert_int_equal(k.prefixlen, 32 + 96 + 16);
	assert_int_equal(v.nports, 2);
	assert_true((v.ports[0] == 443 && v.ports[1] == 80) ||
		    (v.ports[0] == 80 && v.ports[1] == 443));
	egress_trie_entry(&e, 0, 7, &k, &v);
	assert_int_equal(v.nports, 1); /* the /16 does not widen the /8 */
	assert_int_equal(v.ports[0], 443);
	egress_trie_entry(&e, 2, 7, &k, &v);
	assert_int_equal(v.nports, 0); /* no port given: any */
	egress_allowlist_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_egress_rule_parse_and_reject),
	    cmocka_unit_test(test_egress_allow_add_does_not_resolve_when_told_not_to),
	    cmocka_unit_test(test_egress_trie_entry_carries_covering_ports),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
