// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: a remote command as it arrives from NATS (anyone who may
 * publish to the subject can send one) must be verified or refused with a
 * reason, never crash, leak or read past the message; a responder key file
 * (input starting with 'K') must load or be refused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ship/cmd_sign.h"

#define PUB                                                                                    \
	"role: act\n-----BEGIN PUBLIC KEY-----\n"                                              \
	"MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"                       \
	"-----END PUBLIC KEY-----\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rcmd_guard *g;
	struct rcmd_request r;
	char why[256];

	if (!g) {
		struct rcmd_keyring *kr;

		if (rcmd_keyring_new(&kr) < 0 ||
		    rcmd_keyring_add(kr, "alice", PUB, strlen(PUB), why, sizeof(why)) < 0 ||
		    rcmd_guard_new(kr, "gpu-7", &g) < 0)
			abort();
	}
	if (size && data[0] == 'K') {
		struct rcmd_keyring *kr;

		if (rcmd_keyring_new(&kr) == 0) {
			rcmd_keyring_add(kr, "k", (const char *)data + 1, size - 1, why, sizeof(why));
			rcmd_keyring_free(kr);
		}
		return 0;
	}
	if (rcmd_verify(g, (const char *)data, size, 1767225600, &r, why, sizeof(why)) == CMD_OK) {
		if (!r.args)
			abort();
		rcmd_request_fini(&r);
	}
	return 0;
}
