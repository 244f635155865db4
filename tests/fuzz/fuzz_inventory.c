// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the inventory's two readers — an approved list
 * (models.d YAML) and the state file read back at start (JSON) — must
 * reject or accept, never crash, and what they accept must answer queries
 * and write back.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "inventory/approvals.h"
#include "inventory/inventory.h"

#define SHA "a3f1c0ffee00000000000000000000000000000000000000000000000000000a"

static void approved_list(const uint8_t *data, size_t size)
{
	struct approvals *a;
	char err[256];

	if (approvals_new(&a) < 0)
		return;
	if (approvals_parse(a, "fuzz.yaml", (const char *)data, size, err, sizeof(err)) == 0) {
		approvals_check(a, SHA, "/usr/bin/python3", "vllm.service");
		approvals_name(a, SHA);
	}
	approvals_free(a);
}

static void state_file(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct inventory *inv;

	if (!doc || inventory_new(16, &inv) < 0) {
		json_decref(doc);
		return;
	}
	if (inventory_from_json(inv, doc) == 0)
		json_decref(inventory_json(inv)); /* what was read writes back */
	inventory_free(inv);
	json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size && data[0] == '{')
		state_file(data, size);
	else
		approved_list(data, size);
	return 0;
}
