// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: seccomp profiles (OCI JSON with Docker's and Podman's
 * extensions) must parse or be refused with a message naming a JSON path,
 * never crash, leak or loop; what parses is resolved and built (not loaded)
 * for a root and an unprivileged process, in enforcing and complain mode.
 */
#include <stdint.h>
#include <stdlib.h>

#include "confine/seccomp_filter.h"

/*
 * libseccomp 2.5.4 leaks inside seccomp_rule_add on some refused rules
 * (found by this target); its allocations are not ours to track.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libseccomp.so\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sc_host hosts[2] = {{~0ull, "amd64", 6, 18}, {0, "arm64", 4, 19}};
	struct sc_profile *p = NULL;
	char err[512];

	if (sc_profile_parse((const char *)data, size, &p, err, sizeof(err)) < 0)
		return 0;
	for (int i = 0; i < 2; i++) {
		struct sc_opts o = {.complain = i == 1};
		struct sc_report rep;
		scmp_filter_ctx ctx;

		if (sc_build(p, &hosts[i], &o, &ctx, &rep, err, sizeof(err)) == 0)
			seccomp_release(ctx);
	}
	sc_profile_free(p);
	return 0;
}
