// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>

#include "core/util.h"

void release_pages(const void *p, size_t n)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = ((uintptr_t)p + pg - 1) & ~(pg - 1), b = ((uintptr_t)p + n) & ~(pg - 1);

	/* whole pages inside only: the first and last may hold other constants */
	if (b > a)
		madvise((void *)a, b - a, MADV_DONTNEED);
}

int thread_start(pthread_t *t, const pthread_attr_t *at, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(t, at, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -r;
}

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

static bool digits(const char *s, size_t n, int *ret)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return true;
}

int parse_rfc3339_ns(const char *s, size_t n, uint64_t *ret)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, sec, off = 0;
	uint64_t frac = 0, scale = 1000000000ull;
	size_t i = 19;
	time_t t;

	if (n < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':' ||
	    !digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
	    !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
		return -EINVAL;
	if (s[i] == '.')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			if (scale > 1) {
				scale /= 10;
				frac += (s[i] - '0') * scale;
			}
	if (i < n && (s[i] == '+' || s[i] == '-') && n - i == 6 && s[i + 3] == ':') {
		int oh, om;

		if (!digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om))
			return -EINVAL;
		off = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
	} else if (!(i + 1 == n && (s[i] == 'Z' || s[i] == 'z'))) {
		return -EINVAL;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm) - off;
	if (t < 0)
		return -ERANGE;
	*ret = (uint64_t)t * 1000000000ull + frac;
	return 0;
}

char *u64_digits(char *end, uint64_t v)
{
	do {
		*--end = '0' + v % 10;
		v /= 10;
	} while (v);
	return end;
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

int parse_bool(const char *s, bool *ret)
{
	static const char *const truths[] = {"true", "yes", "on"}, *const lies[] = {"false", "no",
										    "off"};

	for (size_t i = 0; i < ARRAY_SIZE(truths); i++) {
		if (!strcasecmp(s, truths[i]) || !strcasecmp(s, lies[i])) {
			*ret = !strcasecmp(s, truths[i]);
			return 0;
		}
	}
	return -EINVAL;
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

unsigned str_edit_distance(const char *a, size_t na, const char *b)
{
	size_t nb = strlen(b);
	unsigned row[128];

	if (na >= ARRAY_SIZE(row) || nb >= ARRAY_SIZE(row))
		return ~0u;
	for (size_t j = 0; j <= nb; j++)
		row[j] = j;
	for (size_t i = 1; i <= na; i++) {
		unsigned diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= nb; j++) {
			unsigned up = row[j];
			unsigned best = diag + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[nb];
}
