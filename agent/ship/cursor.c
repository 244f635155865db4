// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/util.h"
#include "ship/cursor.h"

#define BUF_START	(256u << 10)
#define BUF_MAX		(4u << 20) /* a line longer than this is skipped (counted) */
#define CURSOR_FILE_MAX 4096

int cursor_load(const char *path, struct ship_cursor *c)
{
	char buf[CURSOR_FILE_MAX];
	_cleanup_(json_decrefp) json_t *o = NULL;
	json_int_t dev = 0, ino = 0, off = 0, seq = 0;
	const char *head = "", *id = "";
	int n = read_file(path, buf, sizeof(buf));

	if (n < 0)
		return n;
	o = json_loadb(buf, n, 0, NULL);
	if (!o ||
	    json_unpack(o, "{s:I, s:I, s:I, s?s, s?s, s?I}", "dev", &dev, "ino", &ino, "offset",
			&off, "head", &head, "id", &id, "sequence", &seq) < 0 ||
	    off < 0 || strlen(head) > CHAIN_HEX_LEN || strlen(id) >= sizeof(c->id))
		return -EINVAL;
	*c = (struct ship_cursor){.dev = dev, .ino = ino, .off = off, .seq = seq};
	snprintf(c->head, sizeof(c->head), "%s", head);
	snprintf(c->id, sizeof(c->id), "%s", id);
	return 0;
}

int cursor_save(const char *path, const struct ship_cursor *c)
{
	char buf[CURSOR_FILE_MAX];
	int n = snprintf(buf, sizeof(buf),
			 "{\"dev\":%llu,\"ino\":%llu,\"offset\":%llu,\"head\":\"%s\",\"id\":\"%s\","
			 "\"sequence\":%llu}\n",
			 (unsigned long long)c->dev, (unsigned long long)c->ino,
			 (unsigned long long)c->off, c->head, c->id, (unsigned long long)c->seq);

	/* ids are ours (hex and dashes): nothing in them needs escaping */
	return write_file_atomic(path, buf, n, 0600);
}

struct reader {
	char *path;
	unsigned max_files;
	int fd;
	uint64_t dev, ino;
	uint64_t off;	 /* file offset of buf[0] */
	char *buf;	 /* bytes [off, off + len) of the file */
	size_t len, pos; /* pos: the first byte not returned yet */
	size_t cap;
	bool skipping; /* inside an oversized line: drop up to its newline */
	uint64_t oversized;
	char head[CHAIN_HEX_LEN + 1]; /* hash of the line before pos ("" unknown) */
	struct chain_hasher *hasher;
};

/* The series, oldest first: path.max_files … path.1, path. */
static void series_name(const struct reader *r, unsigned age, char *out, size_t len)
{
	if (age)
		snprintf(out, len, "%s.%u", r->path, age);
	else
		snprintf(out, len, "%s", r->path);
}

/* The age (0 = live) of the file with dev/ino, or -1 when no name has it. */
static int series_age_of(const struct reader *r, uint64_t dev, uint64_t ino)
{
	char name[PATH_MAX];
	struct stat st;

	for (unsigned age = 0; age <= r->max_files; age++) {
		series_name(r, age, name, sizeof(name));
		if (stat(name, &st) == 0 && st.st_dev == dev && st.st_ino == ino)
			return age;
	}
	return -1;
}

/* Open the file of that age from offset off; -ENOENT if it is not there. */
static int open_age(struct reader *r, unsigned age, uint64_t off)
{
	char name[PATH_MAX];
	struct stat st;
	int fd;

	series_name(r, age, name, sizeof(name));
	fd = open(name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	if ((uint64_t)st.st_size < off)
		off = 0; /* shorter than the cursor: truncated, read again (the chain tells) */
	if (lseek(fd, off, SEEK_SET) < 0) {
		close(fd);
		return -errno;
	}
	if (r->fd >= 0)
		close(r->fd);
	r->fd = fd;
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	r->off = off;
	r->len = r->pos = 0;
	r->skipping = false;
	return 0;
}

/* The oldest file of the series that exists. */
static int open_oldest(struct reader *r)
{
	for (int age = r->max_files; age >= 0; age--)
		if (open_age(r, age, 0) == 0)
			return 0;
	return -ENOENT;
}

int reader_new(const char *path, unsigned max_files, const struct ship_cursor *c,
	       struct reader **ret)
{
	struct reader *r = calloc(1, sizeof(*r));
	int age, e;

	if (!r)
		return -ENOMEM;
	r->fd = -1;
	r->max_files = max_files;
	r->cap = BUF_START;
	r->path = strdup(path);
	r->buf = malloc(r->cap);
	r->hasher = chain_hasher_new();
	if (!r->path || !r->buf || !r->hasher) {
		reader_free(r);
		return -ENOMEM;
	}
	if (c)
		snprintf(r->head, sizeof(r->head), "%s", c->head);
	age = c ? series_age_of(r, c->dev, c->ino) : -1;
	e = age >= 0 ? open_age(r, age, c->off) : -ENOENT;
	if (e < 0)
		open_oldest(r); /* none yet: the first reader_next looks again */
	*ret = r;
	return 0;
}

struct reader *reader_free(struct reader *r)
{
	if (!r)
		return NULL;
	if (r->fd >= 0)
		close(r->fd);
	chain_hasher_free(r->hasher);
	free(r->path);
	free(r->buf);
	free(r);
	return NULL;
}

/* The line's vigil.chain: file_sink ends every line with ,"chain":"<64 hex>"}} */
static bool line_chain(const char *p, size_t len, char out[CHAIN_HEX_LEN + 1])
{
	static const char key[] = "\"chain\":\"";
	size_t klen = sizeof(key) - 1, tail = CHAIN_HEX_LEN + 3;

	if (len < klen + tail || memcmp(p + len - 3, "\"}}", 3) ||
	    memcmp(p + len - tail - klen, key, klen))
		return false;
	memcpy(out, p + len - tail, CHAIN_HEX_LEN);
	out[CHAIN_HEX_LEN] = 0;
	return true;
}

static void take_line(struct reader *r, size_t nl, struct reader_line *l)
{
	char chain[CHAIN_HEX_LEN + 1];
	const char *p = r->buf + r->pos;
	size_t len = nl - r->pos;
	bool has = line_chain(p, len, chain);

	*l = (struct reader_line){.p = p, .len = len};
	/* a line without a chain (not vigil's) continues nothing: no verdict on it */
	l->gap = has && r->head[0] && strcmp(chain, r->head);
	chain_hash(r->hasher, p, len, r->head);
	l->end = (struct ship_cursor){.dev = r->dev, .ino = r->ino, .off = r->off + nl + 1};
	memcpy(l->end.head, r->head, sizeof(l->end.head));
	r->pos = nl + 1;
}

/* Room to read into: consumed bytes dropped, the buffer grown up to BUF_MAX. */
static int make_room(struct reader *r)
{
	char *nb;

	if (r->pos) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->off += r->pos;
		r->len -= r->pos;
		r->pos = 0;
	}
	if (r->len < r->cap)
		return 0;
	if (r->cap >= BUF_MAX) { /* one line fills it all: drop it to its newline */
		r->oversized += !r->skipping;
		r->skipping = true;
		r->off += r->len;
		r->len = 0;
		return 0;
	}
	nb = realloc(r->buf, r->cap * 2);
	if (!nb)
		return -ENOMEM;
	r->buf = nb;
	r->cap *= 2;
	return 0;
}

/*
 * At the end of the open file, is more to come in it? The live file grows
 * (or was truncated under us: read again from 0, the chain tells what was
 * lost); a rotated or removed one does not.
 */
static bool still_live(struct reader *r)
{
	struct stat st;

	if (r->fd < 0 || series_age_of(r, r->dev, r->ino) != 0)
		return false;
	if (fstat(r->fd, &st) == 0 && (uint64_t)st.st_size < r->off + r->len) {
		lseek(r->fd, 0, SEEK_SET);
		r->off = r->len = r->pos = 0;
	}
	return true;
}

/* Open the file that follows the open one; false when there is none yet. */
static bool open_next(struct reader *r)
{
	int age = r->fd >= 0 ? series_age_of(r, r->dev, r->ino) : -1;

	if (age < 0) /* removed (read to its end) or none open: the oldest left follows */
		return open_oldest(r) == 0 && (r->fd >= 0);
	for (age--; age >= 0; age--)
		if (open_age(r, age, 0) == 0)
			return true;
	return false;
}

int reader_next(struct reader *r, struct reader_line *l)
{
	bool rotated = false; /* seen at an end: one more read gets what came before */

	for (;;) {
		char *nl = r->pos < r->len ? memchr(r->buf + r->pos, '\n', r->len - r->pos) : NULL;
		ssize_t n;
		int e;

		if (nl && r->skipping) {
			r->pos = nl - r->buf + 1;
			r->skipping = false;
			continue;
		}
		if (nl) {
			take_line(r, nl - r->buf, l);
			return 1;
		}
		if ((e = make_room(r)) < 0)
			return e;
		n = r->fd >= 0 ? read(r->fd, r->buf + r->len, r->cap - r->len) : 0;
		if (n < 0)
			return errno == EINTR ? 0 : -errno;
		if (n > 0) {
			r->len += n;
			continue;
		}
		if (!rotated) {
			if (still_live(r))
				return 0;
			rotated = true;
			continue;
		}
		/* a torn tail of a rotated file (len > pos) ends nothing: dropped with it */
		if (!open_next(r))
			return 0;
		rotated = false;
	}
}

/* Newlines in fd from off to its end, reading at most *budget bytes (spent from it). */
static uint64_t count_lines(int fd, uint64_t off, uint64_t *budget)
{
	char chunk[64 << 10];
	uint64_t lines = 0;
	ssize_t n;

	while (*budget &&
	       (n = pread(fd, chunk, *budget < sizeof(chunk) ? *budget : sizeof(chunk), off)) > 0) {
		for (const char *p = chunk; (p = memchr(p, '\n', chunk + n - p)); p++)
			lines++;
		off += n;
		*budget -= n;
	}
	return lines;
}

void reader_backlog(struct reader *r, uint64_t max_scan, uint64_t *bytes, uint64_t *lines,
		    bool *capped)
{
	uint64_t budget = max_scan;
	char name[PATH_MAX];
	struct stat st;
	int age = r->fd >= 0 ? series_age_of(r, r->dev, r->ino) : -1;

	*bytes = r->len - r->pos;
	*lines = 0;
	for (const char *p = r->buf + r->pos; (p = memchr(p, '\n', r->buf + r->len - p)); p++)
		(*lines)++;
	if (r->fd >= 0 && fstat(r->fd, &st) == 0 && (uint64_t)st.st_size > r->off + r->len) {
		*bytes += st.st_size - (r->off + r->len);
		*lines += count_lines(r->fd, r->off + r->len, &budget);
	}
	for (age = age < 0 ? (int)r->max_files + 1 : age; --age >= 0;) {
		_cleanup_close_ int fd = -1;

		series_name(r, age, name, sizeof(name));
		if ((fd = open(name, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0)
			continue;
		*bytes += st.st_size;
		*lines += count_lines(fd, 0, &budget);
	}
	*capped = budget == 0;
}

uint64_t reader_oversized(const struct reader *r)
{
	return r->oversized;
}
