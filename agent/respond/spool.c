// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "respond/spool.h"
#include "core/util.h"

#define MSG_MAX (16u << 20)

struct entry {
	uint64_t seq, size;
	char id[SPOOL_ID_MAX];
};

struct spool {
	/* the event loop puts, the delivery thread peeks and retires: never held over the network */
	pthread_mutex_t mu;
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

/*
 * "<seq>-<id>.msg" → entry; temporary files of a crashed write (".<name>.tmp"
 * from write_file_atomic_at, "<name>.tmp" from earlier versions) are removed.
 */
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
	pthread_mutex_init(&s->mu, NULL);
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
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
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
		pthread_mutex_destroy(&s->mu);
		free(s);
	}
	return NULL;
}

static int put_locked(struct spool *s, const char *id, const void *body, size_t len)
{
	struct entry e = {.seq = s->next_seq, .size = len};
	char name[128];
	int r;

	if (s->st.bytes + len > s->max_bytes) {
		s->st.refused++;
		return -ENOSPC;
	}
	memcpy(e.id, id, strlen(id) + 1);
	name_of(&e, name, sizeof(name));
	r = write_file_atomic_at(s->dfd, name, body, len, 0600);
	if (r < 0)
		return r;
	s->next_seq++;
	return add_entry(s, &e);
}

int spool_put(struct spool *s, const char *id, const void *body, size_t len)
{
	int r;

	if (!id_ok(id) || len > MSG_MAX)
		return -EINVAL;
	pthread_mutex_lock(&s->mu);
	r = put_locked(s, id, body, len);
	pthread_mutex_unlock(&s->mu);
	return r;
}

/* Forget entry i (its file is gone or retired). */
static void drop_entry(struct spool *s, size_t i)
{
	s->st.bytes -= s->e[i].size;
	memmove(&s->e[i], &s->e[i + 1], (s->n - i - 1) * sizeof(*s->e));
	s->n--;
	s->st.pending = s->n;
}

static int read_head(struct spool *s, struct spool_msg *ret)
{
	_cleanup_close_ int fd = -1;
	struct entry *e = &s->e[0];
	char name[128];
	size_t got = 0;

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

/* The message file deleted, or moved to failed/ (keep). A file already gone is fine. */
static int move_out(int dfd, const char *name, bool keep)
{
	char kept[160];

	if (!keep)
		return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	snprintf(kept, sizeof(kept), "failed/%s", name);
	if (mkdirat(dfd, "failed", 0700) < 0 && errno != EEXIST)
		return -errno;
	return renameat(dfd, name, dfd, kept) < 0 && errno != ENOENT ? -errno : 0;
}

static int retire_locked(struct spool *s, const char *id, bool keep)
{
	char name[128];
	int r;

	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->e[i].id, id))
			continue;
		name_of(&s->e[i], name, sizeof(name));
		r = move_out(s->dfd, name, keep);
		/* out of the queue even on failure: this run must not resend it in a loop */
		s->st.rejected += keep;
		drop_entry(s, i);
		return r;
	}
	return -ENOENT;
}

int spool_peek(struct spool *s, struct spool_msg *ret)
{
	int r = -ENOENT;

	pthread_mutex_lock(&s->mu);
	/*
	 * A head that cannot be had must not block every message after it: a file
	 * removed behind our back is skipped, one that cannot be read (shrunk,
	 * I/O error) is set aside in failed/ and counted as rejected.
	 */
	while (s->n && (r = read_head(s, ret)) < 0 && r != -ENOMEM) {
		if (r == -ENOENT) {
			s->st.vanished++;
			drop_entry(s, 0);
		} else {
			retire_locked(s, s->e[0].id, true);
		}
		r = -ENOENT;
	}
	pthread_mutex_unlock(&s->mu);
	return r;
}

static int sync_dir(int dfd, const char *sub)
{
	_cleanup_close_ int fd = sub ? openat(dfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;

	if (sub && fd < 0)
		return -errno;
	return fsync(sub ? fd : dfd) < 0 ? -errno : 0;
}

static int retire(struct spool *s, const char *id, bool keep)
{
	int r;

	pthread_mutex_lock(&s->mu);
	r = retire_locked(s, id, keep);
	pthread_mutex_unlock(&s->mu);
	if (r == 0 && keep)
		r = sync_dir(s->dfd, "failed");
	if (r == 0)
		r = sync_dir(s->dfd, NULL);
	return r;
}

int spool_done(struct spool *s, const char *id)
{
	return retire(s, id, false);
}

int spool_reject(struct spool *s, const char *id)
{
	return retire(s, id, true);
}

void spool_stats(struct spool *s, struct spool_stats *ret)
{
	pthread_mutex_lock(&s->mu);
	*ret = s->st;
	pthread_mutex_unlock(&s->mu);
}
