// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* Process-wide by nature (stderr is); set once at start-up. */
static enum log_level min_level = LOG_LVL_INFO;
static const char *log_prefix = "vigil";

void log_set_level(enum log_level lvl)
{
	min_level = lvl;
}

void log_set_prefix(const char *prefix)
{
	log_prefix = prefix;
}

static const char *level_name(enum log_level lvl)
{
	switch (lvl) {
	case LOG_LVL_DEBUG:
		return "debug";
	case LOG_LVL_INFO:
		return "info";
	case LOG_LVL_WARN:
		return "warning";
	default:
		return "error";
	}
}

int log_msg(enum log_level lvl, int err, const char *fmt, ...)
{
	int e = err < 0 ? -err : err;
	va_list ap;

	if (lvl >= min_level) {
		fprintf(stderr, "%s: %s: ", log_prefix, level_name(lvl));
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		if (e)
			fprintf(stderr, ": %s", strerror(e));
		fputc('\n', stderr);
	}
	return e ? -e : -EINVAL;
}

int log_libbpf(int level, const char *fmt, va_list ap)
{
	/* libbpf's info/debug output is verifier chatter: only with debug on */
	if (level != 0 /* LIBBPF_WARN */ && min_level > LOG_LVL_DEBUG)
		return 0;
	fprintf(stderr, "%s: ", log_prefix); /* libbpf starts its lines with "libbpf: " */
	return vfprintf(stderr, fmt, ap);
}
