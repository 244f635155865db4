// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>

#include "sense/devices.h"
#include "core/util.h"

static const char *const gpu_drivers[] = {"nvidia-uvm",	     "nvidia-caps", "nvidia-nvlink",
					  "nvidia-nvswitch", "kfd",	    "accel"};

static const char *gpu_driver(const char *name, size_t n)
{
	for (size_t i = 0; i < ARRAY_SIZE(gpu_drivers); i++)
		if (strlen(gpu_drivers[i]) == n && !memcmp(gpu_drivers[i], name, n))
			return gpu_drivers[i];
	return NULL;
}

unsigned gpu_majors_parse(const char *text, struct gpu_major *out, unsigned max)
{
	const char *p = strstr(text, "Character devices:\n");
	unsigned n = 0;

	if (!p)
		return 0;
	p = strchr(p, '\n') + 1;
	/* "%3d %s\n" per driver, up to the blank line before "Block devices:" */
	while (*p && *p != '\n' && n < max) {
		const char *eol = strchrnul(p, '\n'), *name;
		char *end;
		unsigned long maj = strtoul(p, &end, 10);
		const char *drv;

		for (name = end; name < eol && *name == ' '; name++)
			;
		if (end != p && name > end && maj > 0 && maj < 4096 &&
		    (drv = gpu_driver(name, eol - name)))
			out[n++] = (struct gpu_major){(uint32_t)maj, drv};
		p = *eol ? eol + 1 : eol;
	}
	return n;
}
