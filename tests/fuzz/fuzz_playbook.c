// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: playbook files (YAML reader, steps, webhook and egress
 * allowlist items) must load or be refused with a message, never crash,
 * leak or loop; what loads is matched and gated against a fixed alert.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "respond/playbook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/vigil-fuzz-pb-XXXXXX";
	const char *tags[] = {"T1059", "AML.T0011"};
	struct pb_alert a = {"VGL-0001", "Shell spawned by model loader", tags, 2, SEV_CRITICAL};
	struct rules_diag diag = {0};
	struct playbook_set *s = NULL;
	const char *p = path;
	int fd = mkstemp(path);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size && playbooks_load(&p, 1, PB_LOAD_NO_RESOLVE, &diag, &s) == 0) {
		for (unsigned i = 0; i < s->npbs; i++)
			if (playbook_matches(&s->pbs[i], &a))
				playbook_admit(&s->pbs[i], "E1", 1000 * i);
		playbooks_free(s);
	}
	close(fd);
	unlink(path);
	return 0;
}
