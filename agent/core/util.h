/* SPDX-License-Identifier: GPL-2.0 */
/*
 * util.h — small helpers with no state: cleanup attributes, clocks, time
 * formatting, size/duration parsing, lexical path normalisation.
 *
 * Stage core/: includes no other stage; does not know events, rules or the kernel side.
 */
#ifndef VIGIL_UTIL_H
#define VIGIL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sysmacros.h>
#include <dirent.h>
#include <pthread.h>
#include <unistd.h>

static inline void freep(void *p)
{
	free(*(void **)p);
}
static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
static inline void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}
/*
 * One line per type gets it a cleanup function (systemd's
 * DEFINE_TRIVIAL_CLEANUP_FUNC): DEFINE_CLEANUP(scmp_filter_ctx,
 * seccomp_release) makes seccomp_releasep, used as
 * `_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;`. The destructor
 * is not called on NULL. Jansson ships its own: `_cleanup_(json_decrefp)`.
 */
#define DEFINE_CLEANUP(type, fn)          \
	static inline void fn##p(type *p) \
	{                                 \
		if (*p)                   \
			fn(*p);           \
	}
#define _cleanup_(f) __attribute__((cleanup(f)))
/* Hand a _cleanup_ variable's value on (to the caller, a container): it is left NULL. */
#define TAKE_PTR(p)                        \
	({                                 \
		__typeof__(p) _took = (p); \
		(p) = NULL;                \
		_took;                     \
	})

#define _cleanup_free_	   __attribute__((cleanup(freep)))
#define _cleanup_close_	   __attribute__((cleanup(closep)))
#define _cleanup_fclose_   __attribute__((cleanup(fclosep)))
#define _cleanup_closedir_ __attribute__((cleanup(closedirp)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A dev_t as the kernel encodes it (major << 20 | minor): what BPF reads from inodes. */
static inline uint32_t kernel_dev(dev_t d)
{
	return (major(d) << 20) | minor(d);
}

/*
 * Hand back the resident pages of read-only constant bytes [p, p + n) that
 * are not needed again soon (e.g. a loaded BPF object embedded in the
 * binary): file-backed, they fault back in if read.
 */
void release_pages(const void *p, size_t n);
uint64_t clock_ns(int clockid);
/* pthread_create for a thread that takes no signals (they are the event loop's signalfd). 0 or -errno. */
int thread_start(pthread_t *t, const pthread_attr_t *at, void *(*fn)(void *), void *arg);
/* "2026-11-28T05:01:03.123456789Z"; buf >= 32 bytes */
void fmt_rfc3339_ns(char *buf, size_t len, uint64_t realtime_ns);
/* Decimal digits of v written backwards from end (>= 20 bytes room); returns the first. */
char *u64_digits(char *end, uint64_t v);
/* RFC 3339 ("…T…Z" or "+hh:mm") to ns since the epoch; -EINVAL if malformed. */
int parse_rfc3339_ns(const char *s, size_t n, uint64_t *ret);
/* "10s", "500ms", "5m", "1h", bare number = seconds. 0 or -EINVAL. */
int parse_duration_ms(const char *s, uint64_t *ret_ms);
/*
 * The one boolean spelling for config, rules and playbooks (YAML 1.1's):
 * true/yes/on, false/no/off, any case. 0, or -EINVAL for anything else.
 */
int parse_bool(const char *s, bool *ret);
/* "4096", "64KiB", "100MiB", "1GiB" (K/M/G and KB/MB/GB accepted as binary). */
int parse_size(const char *s, uint64_t *ret);
/* Join dir and name (name absolute or dir empty: dir ignored) and drop "." / ".." lexically. */
void path_join_normalize(char *out, size_t len, const char *dir, size_t dlen, const char *name,
			 size_t nlen);
/* Read a whole small file (e.g. under /proc) into buf, NUL-terminated; returns bytes or -errno. */
ssize_t read_file(const char *path, char *buf, size_t len);
bool str_has_suffix(const char *s, const char *suffix);
/* Levenshtein distance of a (na bytes) and b, for "did you mean"; ~0u if either is long. */
unsigned str_edit_distance(const char *a, size_t na, const char *b);

#endif
