// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "stream/file_sink.h"
#include "core/util.h"

#define FLUSH_AT (64 * 1024)

struct file_sink {
	char *path;
	int fd;
	uint64_t size, max_size, backlog_max;
	unsigned max_files;
	char head[CHAIN_HEX_LEN + 1]; /* hash of the last line accepted */
	struct chain_hasher *hasher;
	char *buf;
	size_t len, cap;
	struct file_sink_stats st;
	struct file_sink_found found;
};

static int open_fd(struct file_sink *fs)
{
	struct stat st;

	fs->fd = open(fs->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fs->fd < 0)
		return -errno;
	if (fstat(fs->fd, &st) < 0)
		return -errno;
	fs->size = st.st_size;
	return 0;
}

/* Continue the chain from whatever is on disk: this file, else the last rotated one. */
static void load_head(struct file_sink *fs)
{
	struct file_sink_found *f = &fs->found;
	char rotated[PATH_MAX];

	snprintf(rotated, sizeof(rotated), "%s.1", fs->path);
	f->previous =
	    chain_tail_read(fs->path, &f->tail) == 0 || chain_tail_read(rotated, &f->tail) == 0;
	snprintf(fs->head, sizeof(fs->head), "%s", f->previous ? f->tail.head : CHAIN_GENESIS);
}

/* Offset just past the last newline in the first size bytes of fd (0: none). */
static int64_t end_of_last_line(int fd, uint64_t size)
{
	char buf[64 * 1024];
	uint64_t at = size;

	while (at > 0) {
		size_t n = at < sizeof(buf) ? at : sizeof(buf);
		const char *nl;

		if (pread(fd, buf, n, at - n) != (ssize_t)n)
			return -EIO;
		at -= n;
		if ((nl = memrchr(buf, '\n', n)))
			return at + (nl - buf) + 1;
	}
	return 0;
}

/*
 * A crash (or a full disk, then a crash) may leave a torn last line: cut it,
 * so the file holds only whole lines and the chain goes on from the last one.
 */
static int cut_torn_line(struct file_sink *fs)
{
	_cleanup_close_ int rfd = open(fs->path, O_RDONLY | O_CLOEXEC); /* fd is write-only */
	int64_t keep;
	char c;

	if (rfd < 0)
		return -errno;
	if (!fs->size || (pread(rfd, &c, 1, fs->size - 1) == 1 && c == '\n'))
		return 0;
	keep = end_of_last_line(rfd, fs->size);
	if (keep < 0)
		return keep;
	fs->found.torn_bytes = fs->size - keep;
	fs->found.torn_at = keep;
	if (ftruncate(fs->fd, keep) == 0) {
		fs->size = keep;
		return 0;
	}
	/* an append-only file (chattr +a) cannot be cut: end the line, verify will say where */
	if (errno != EPERM || write(fs->fd, "\n", 1) != 1)
		return -errno;
	fs->found.torn_kept = true;
	fs->size++;
	return 0;
}

int file_sink_open(const char *path, uint64_t max_size, unsigned max_files, uint64_t backlog_max,
		   struct file_sink **ret)
{
	struct file_sink *fs = calloc(1, sizeof(*fs));
	int r;

	if (!fs)
		return -ENOMEM;
	fs->path = strdup(path);
	fs->cap = FLUSH_AT * 2;
	fs->buf = malloc(fs->cap);
	fs->max_size = max_size;
	fs->max_files = max_files;
	fs->backlog_max = backlog_max;
	fs->fd = -1;
	fs->hasher = chain_hasher_new();
	if (!fs->path || !fs->buf || !fs->hasher) {
		file_sink_close(fs);
		return -ENOMEM;
	}
	r = open_fd(fs);
	if (r < 0) {
		file_sink_close(fs);
		return r;
	}
	load_head(fs); /* the previous run's last whole line: a torn tail is ignored */
	r = cut_torn_line(fs);
	if (r < 0) {
		file_sink_close(fs);
		return r;
	}
	if (fs->found.torn_kept) {
		struct chain_tail t;

		/* the fragment was ended, not cut: it is the last line, the chain goes on from it */
		if (chain_tail_read(fs->path, &t) == 0)
			snprintf(fs->head, sizeof(fs->head), "%s", t.head);
	}
	*ret = fs;
	return 0;
}

struct file_sink *file_sink_close(struct file_sink *fs)
{
	if (!fs)
		return NULL;
	file_sink_flush(fs);
	if (fs->fd >= 0)
		close(fs->fd);
	chain_hasher_free(fs->hasher);
	free(fs->path);
	free(fs->buf);
	free(fs);
	return NULL;
}

static int rotate(struct file_sink *fs)
{
	char from[PATH_MAX], to[PATH_MAX];

	for (unsigned i = fs->max_files; i > 1; i--) {
		snprintf(from, sizeof(from), "%s.%u", fs->path, i - 1);
		snprintf(to, sizeof(to), "%s.%u", fs->path, i);
		rename(from, to); /* missing ones are fine */
	}
	snprintf(to, sizeof(to), "%s.1", fs->path);
	if (rename(fs->path, to) < 0)
		return -errno;
	close(fs->fd);
	fs->st.rotations++;
	return open_fd(fs);
}

int file_sink_flush(struct file_sink *fs)
{
	size_t off = 0;

	while (off < fs->len) {
		ssize_t n = write(fs->fd, fs->buf + off, fs->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fs->st.write_errors++;
			fs->st.last_errno = n < 0 ? errno : EIO;
			break;
		}
		off += n;
		fs->size += n;
		fs->st.bytes += n;
	}
	memmove(fs->buf, fs->buf + off, fs->len - off);
	fs->len -= off;
	fs->st.backlog = fs->len;
	if (fs->len)
		return -fs->st.last_errno;
	fs->st.last_errno = 0;
	if (fs->size >= fs->max_size)
		return rotate(fs);
	return 0;
}

static int ensure(struct file_sink *fs, size_t extra)
{
	size_t ncap;
	char *nb;

	if (fs->len + extra <= fs->cap)
		return 0;
	if (fs->len + extra > fs->backlog_max)
		return -ENOBUFS;
	ncap = fs->cap;
	while (ncap < fs->len + extra)
		ncap *= 2;
	nb = realloc(fs->buf, ncap);
	if (!nb)
		return -ENOMEM;
	fs->buf = nb;
	fs->cap = ncap;
	return 0;
}

int file_sink_write(struct file_sink *fs, const char *line, size_t len)
{
	static const char key[] = "\"chain\":\"";
	bool vigil_empty;
	size_t start;

	/* the line ends with the vigil object: ...,"vigil":{...}} */
	if (len < 3 || line[len - 1] != '}' || line[len - 2] != '}')
		return -EINVAL;
	if (ensure(fs, len + sizeof(key) + CHAIN_HEX_LEN + 8) < 0) {
		fs->st.dropped++;
		return -ENOBUFS;
	}
	vigil_empty = line[len - 3] == '{';
	start = fs->len;
	memcpy(fs->buf + fs->len, line, len - 2);
	fs->len += len - 2;
	if (!vigil_empty)
		fs->buf[fs->len++] = ',';
	memcpy(fs->buf + fs->len, key, sizeof(key) - 1);
	fs->len += sizeof(key) - 1;
	memcpy(fs->buf + fs->len, fs->head, CHAIN_HEX_LEN);
	fs->len += CHAIN_HEX_LEN;
	memcpy(fs->buf + fs->len, "\"}}", 3);
	fs->len += 3;
	chain_hash(fs->hasher, fs->buf + start, fs->len - start, fs->head);
	fs->buf[fs->len++] = '\n';
	fs->st.lines++;
	if (fs->len >= FLUSH_AT || fs->size + fs->len >= fs->max_size)
		return file_sink_flush(fs);
	return 0;
}

int file_sink_reopen(struct file_sink *fs)
{
	file_sink_flush(fs);
	if (fs->fd >= 0)
		close(fs->fd);
	return open_fd(fs);
}

const struct file_sink_found *file_sink_found(const struct file_sink *fs)
{
	return &fs->found;
}

const char *file_sink_chain_head(const struct file_sink *fs)
{
	return fs->head;
}

void file_sink_stats(const struct file_sink *fs, struct file_sink_stats *ret)
{
	*ret = fs->st;
}
