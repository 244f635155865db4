// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/spool.h"
#include "vigil/util.h"

#define MSG_MAX (16u << 20)

struct entry {
	uint64_t seq, size;
	char id[SPOOL_ID_MAX];
};

struct spool {
	int dfd;
	uint64_t max_bytes, next_seq;
	struct entry *e; /* sorted by seq */
	size_t n, cap;
	struct spool_stats st;
};

static bool id_ok(const char *id)
{
	size_t n = strlen(id);

	if (!n || n >= SPOOL_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(id[i] == '_' || id[i] == '-' || (id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z')))
			return false;
	return true;
}

static void name_of(const struct entry *e, char *buf, size_t len)
{
	snprintf(buf, len, "%020llu-%s.msg", (unsigned long long)e->seq, e->id);
}

static int add_entry(struct spool *s, const struct entry *e)
{
	size_t i;

	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct entry *ne = realloc(s->e, cap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		s->e = ne;
		s->cap = cap;
	}
	for (i = s->n; i > 0 && s->e[i - 1].seq > e->seq; i--) /* files come unsorted */
		s->e[i] = s->e[i - 1];
	s->e[i] = *e;
	s->n++;
	s->st.pending = s->n;
	s->st.bytes += e->size;
	return 0;
}

/* "<seq>-<id>.msg" → entry; temporary files of a crashed write are removed. */
static int load_one(struct spool *s, const char *name)
{
	struct entry e = {0};
	unsigned long long seq;
	struct stat st;
	int len = 0;

	if (str_has_suffix(name, ".tmp"))
		return unlinkat(s->dfd, name, 0) < 0 ? -errno : 0;
	if (sscanf(name, "%20llu-%63[A-Za-z0-9_-].msg%n", &seq, e.id, &len) != 2 ||
	    (size_t)len != strlen(name) || fstatat(s->dfd, name, &st, 0) < 0)
		return 0; /* not ours */
	e.seq = seq;
	e.size = st.st_size;
	if (e.seq >= s->next_seq)
		s->next_seq = e.seq + 1;
	return add_entry(s, &e);
}

int spool_open(const char *dir, uint64_t max_bytes, struct spool **ret)
{
	struct spool *s = calloc(1, sizeof(*s));
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (!s)
		return -ENOMEM;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		free(s);
		return -errno;
	}
	s->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = s->dfd >= 0 ? fdopendir(dup(s->dfd)) : NULL;
	if (!d) {
		r = -errno;
		spool_close(s);
		return r;
	}
	fchmod(s->dfd, 0700); /* messages may carry alert details: root only */
	s->max_bytes = max_bytes;
	s->next_seq = 1;
	while (r == 0 && (de = readdir(d)))
		if (de->d_name[0] != '.')
			r = load_one(s, de->d_name);
	closedir(d);
	if (r < 0) {
		spool_close(s);
		return r;
	}
	*ret = s;
	return 0;
}

struct spool *spool_close(struct spool *s)
{
	if (s) {
		if (s->dfd >= 0)
			close(s->dfd);
		free(s->e);
		free(s);
	}
	return NULL;
}

static int write_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p = (const char *)p + w;
		n -= w;
	}
	return 0;
}

int spool_put(struct spool *s, const char *id, const void *body, size_t len)
{
	struct entry e = {.seq = s->next_seq, .size = len};
	char name[128], tmp[140];
	int fd, r;

	if (!id_ok(id) || len > MSG_MAX)
		return -EINVAL;
	if (s->st.bytes + len > s->max_bytes) {
		s->st.refused++;
		return -ENOSPC;
	}
	memcpy(e.id, id, strlen(id) + 1);
	name_of(&e, name, sizeof(name));
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(s->dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = write_all(fd, body, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	/* rename, then sync the directory: the name is durable too */
	if (r == 0 && renameat(s->dfd, tmp, s->dfd, name) < 0)
		r = -errno;
	if (r == 0 && fsync(s->dfd) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(s->dfd, tmp, 0);
		return r;
	}
	s->next_seq++;
	return add_entry(s, &e);
}

int spool_peek(struct spool *s, struct spool_msg *ret)
{
	_cleanup_close_ int fd = -1;
	struct entry *e;
	char name[128];
	size_t got = 0;

	if (!s->n)
		return -ENOENT;
	e = &s->e[0];
	name_of(e, name, sizeof(name));
	fd = openat(s->dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret->body = malloc(e->size + 1);
	if (!ret->body)
		return -ENOMEM;
	while (got < e->size) {
		ssize_t n = read(fd, ret->body + got, e->size - got);

		if (n <= 0) {
			free(ret->body);
			ret->body = NULL;
			return n < 0 ? -errno : -EIO;
		}
		got += n;
	}
	ret->body[got] = 0;
	ret->len = got;
	ret->seq = e->seq;
	memcpy(ret->id, e->id, sizeof(ret->id));
	return 0;
}

/* Take id out of the queue: deleted (done) or kept under failed/ (rejected). */
static int retire(struct spool *s, const char *id, bool keep)
{
	char name[128], kept[160];

	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->e[i].id, id))
			continue;
		name_of(&s->e[i], name, sizeof(name));
		snprintf(kept, sizeof(kept), "failed/%s", name);
		if (keep && (mkdirat(s->dfd, "failed", 0700) < 0 && errno != EEXIST))
			return -errno;
		if ((keep ? renameat(s->dfd, name, s->dfd, kept) : unlinkat(s->dfd, name, 0)) < 0 &&
		    errno != ENOENT)
			return -errno;
		s->st.rejected += keep;
		s->st.bytes -= s->e[i].size;
		memmove(&s->e[i], &s->e[i + 1], (s->n - i - 1) * sizeof(*s->e));
		s->n--;
		s->st.pending = s->n;
		return 0;
	}
	return -ENOENT;
}

int spool_done(struct spool *s, const char *id)
{
	return retire(s, id, false);
}

int spool_reject(struct spool *s, const char *id)
{
	return retire(s, id, true);
}

void spool_stats(const struct spool *s, struct spool_stats *ret)
{
	*ret = s->st;
}
