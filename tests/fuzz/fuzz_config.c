// SPDX-License-Identifier: GPL-2.0
/* libFuzzer target: the YAML config reader must reject or accept, never crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/vigil-fuzz-cfg-XXXXXX";
	struct vigil_config *c = NULL;
	char err[512];
	int fd = mkstemp(path);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size && config_defaults(&c) == 0)
		config_load_file(c, path, err, sizeof(err));
	config_free(c);
	close(fd);
	unlink(path);
	return 0;
}
