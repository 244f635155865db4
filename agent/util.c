// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "vigil/util.h"

uint64_t clock_ns(int clockid)
{
	struct timespec ts;

	clock_gettime(clockid, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

void fmt_rfc3339_ns(char *buf, size_t len, uint64_t ns)
{
	time_t sec = ns / 1000000000ull;
	struct tm tm;
	size_t n;

	gmtime_r(&sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%09lluZ", (unsigned long long)(ns % 1000000000ull));
}

struct unit {
	const char *name;
	uint64_t mult;
};

/* "<digits>[ ]<unit>" with unit from the table; overflow is -ERANGE. */
static int parse_with_units(const char *s, const struct unit *units, size_t n, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(end, units[i].name)) {
			if (v > UINT64_MAX / units[i].mult)
				return -ERANGE;
			*ret = v * units[i].mult;
			return 0;
		}
	return -EINVAL;
}

int parse_duration_ms(const char *s, uint64_t *ret_ms)
{
	static const struct unit units[] = {{"", 1000},	   {"ms", 1},	 {"s", 1000},
					    {"sec", 1000}, {"m", 60000}, {"min", 60000},
					    {"h", 3600000}};

	return parse_with_units(s, units, ARRAY_SIZE(units), ret_ms);
}

int parse_size(const char *s, uint64_t *ret)
{
	static const struct unit units[] = {{"", 1},
					    {"B", 1},
					    {"K", 1ull << 10},
					    {"KB", 1ull << 10},
					    {"KiB", 1ull << 10},
					    {"M", 1ull << 20},
					    {"MB", 1ull << 20},
					    {"MiB", 1ull << 20},
					    {"G", 1ull << 30},
					    {"GB", 1ull << 30},
					    {"GiB", 1ull << 30}};

	return parse_with_units(s, units, ARRAY_SIZE(units), ret);
}

void path_join_normalize(char *out, size_t len, const char *dir, size_t dlen, const char *name,
			 size_t nlen)
{
	size_t o = 0;
	char tmp[8192];
	char *save = NULL, *tok;

	if ((nlen && name[0] == '/') || !dlen)
		snprintf(tmp, sizeof(tmp), "%.*s", (int)nlen, name);
	else
		snprintf(tmp, sizeof(tmp), "%.*s/%.*s", (int)dlen, dir, (int)nlen, name);
	if (len < 2) {
		if (len)
			out[0] = 0;
		return;
	}
	for (tok = strtok_r(tmp, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		size_t tl = strlen(tok);

		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			continue;
		}
		if (o + 1 + tl >= len)
			break;
		out[o++] = '/';
		memcpy(out + o, tok, tl);
		o += tl;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = 0;
}

ssize_t read_file(const char *path, char *buf, size_t len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return -errno;
	while (got + 1 < len) {
		ssize_t n = read(fd, buf + got, len - 1 - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += n;
	}
	buf[got] = 0;
	return got;
}

bool str_has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}
