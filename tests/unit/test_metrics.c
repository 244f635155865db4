// SPDX-License-Identifier: GPL-2.0
/* vigild's counters in the Prometheus text format (node_exporter textfile collector). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stream/metrics.h"

static char *format(const char *counters_json)
{
	json_t *c = json_loads(counters_json, 0, NULL);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(c);
	assert_non_null(f);
	metrics_format(f, c);
	fclose(f);
	json_decref(c);
	return out;
}

static void test_metrics_names_labels_and_values(void **state)
{
	char *t = format("{\"events\": {\"emitted\": 12, \"by_action\": {\"exec\": 5}},"
			 " \"drops\": {\"ringbuf_exec\": 2},"
			 " \"Proc-Cache\": {\"hit ratio\": 0.5, \"full\": false},"
			 " \"version\": \"0.1.0\","
			 " \"response\": {\"webhooks\": {\"soc\": {\"delivered\": 7}}}}");

	assert_non_null(strstr(t, "vigil_up 1\n"));
	assert_non_null(strstr(t, "vigil_events_emitted 12\n"));
	assert_non_null(strstr(t, "vigil_events_by_action{action=\"exec\"} 5\n"));
	assert_non_null(strstr(t, "vigil_drops{cause=\"ringbuf_exec\"} 2\n"));
	assert_non_null(strstr(t, "vigil_proc_cache_hit_ratio 0.5\n"));
	assert_non_null(strstr(t, "vigil_proc_cache_full 0\n"));
	assert_non_null(strstr(t, "vigil_response_webhooks_delivered{endpoint=\"soc\"} 7\n"));
	assert_null(strstr(t, "0.1.0")); /* strings are not samples */
	free(t);
}

static void test_metrics_label_values_escaped(void **state)
{
	char *t = format("{\"drops\": {\"a\\\"b\\\\c\\nd\": 1}}");

	assert_non_null(strstr(t, "vigil_drops{cause=\"a\\\"b\\\\c\\nd\"} 1\n"));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_metrics_names_labels_and_values),
	    cmocka_unit_test(test_metrics_label_values_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
