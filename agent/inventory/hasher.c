// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/util.h"
#include "inventory/hasher.h"

#define CHUNK (1u << 20)
/* linux/ioprio.h: the idle class reads only when nobody else wants the disk */
#define IOPRIO_CLASS_IDLE  3
#define IOPRIO_CLASS_SHIFT 13
#define IOPRIO_WHO_PROCESS 1

struct job {
	int fd;
	struct inv_key key;
};

struct hasher {
	pthread_mutex_t lock; /* everything below */
	pthread_cond_t wake;
	pthread_t thread;
	bool started, stop;
	uint64_t rate;
	const char *error;
	struct job todo[HASHER_QUEUE];
	unsigned todo_head, todo_len;
	struct hash_result done[HASHER_QUEUE];
	unsigned done_head, done_len;
	struct hasher_stats st;
};

int hasher_new(uint64_t rate, struct hasher **ret)
{
	struct hasher *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->wake, NULL);
	h->rate = rate ? rate : HASHER_RATE_DEFAULT;
	*ret = h;
	return 0;
}

struct hasher *hasher_free(struct hasher *h)
{
	if (!h)
		return NULL;
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_cond_broadcast(&h->wake);
	pthread_mutex_unlock(&h->lock);
	if (h->started)
		pthread_join(h->thread, NULL);
	for (unsigned i = 0; i < h->todo_len; i++)
		close(h->todo[(h->todo_head + i) % HASHER_QUEUE].fd);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->wake);
	free(h);
	return NULL;
}

static void hex(const unsigned char *md, char out[INV_SHA_HEX])
{
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Sleep so that `done` bytes since `start_ns` stay within rate bytes a second. */
static void pace(uint64_t start_ns, uint64_t done, uint64_t rate)
{
	uint64_t due, spent;
	struct timespec ts;

	if (!rate)
		return;
	/* in two parts: done * 1e9 alone overflows past 18 GB */
	due = done / rate * 1000000000ull + done % rate * 1000000000ull / rate;
	spent = clock_ns(CLOCK_MONOTONIC) - start_ns;
	if (due <= spent)
		return;
	ts.tv_sec = (due - spent) / 1000000000ull;
	ts.tv_nsec = (due - spent) % 1000000000ull;
	nanosleep(&ts, NULL);
}

int hasher_sha256_fd(struct hasher *h, int fd, uint64_t rate, char out[INV_SHA_HEX])
{
	_cleanup_free_ unsigned char *buf = malloc(CHUNK);
	uint64_t off = 0, start = clock_ns(CLOCK_MONOTONIC);
	unsigned char md[64];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx;
	int r = 0;

	if (!buf || !(ctx = EVP_MD_CTX_new()))
		return -ENOMEM;
	if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		r = -EIO;
	while (r == 0) {
		ssize_t n = pread(fd, buf, CHUNK, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		if (!EVP_DigestUpdate(ctx, buf, n))
			r = -EIO;
		off += n;
		pthread_mutex_lock(&h->lock);
		h->st.bytes += n;
		if (h->stop) /* vigild stops: do not finish a 100 GB file first */
			r = -ECANCELED;
		pthread_mutex_unlock(&h->lock);
		pace(start, off, rate);
	}
	if (r == 0 && (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != 32))
		r = -EIO;
	EVP_MD_CTX_free(ctx);
	if (r == 0)
		hex(md, out);
	return r;
}

static int64_t mtime_ns(const struct stat *st)
{
	return st->st_mtim.tv_sec * 1000000000ll + st->st_mtim.tv_nsec;
}

/* Worker: the file must still be the version it was queued as, before and after. */
static void hash_one(struct hasher *h, const struct job *j, struct hash_result *res)
{
	struct stat st;

	res->key = j->key;
	res->error = hasher_sha256_fd(h, j->fd, h->rate, res->sha256);
	if (res->error == 0 && (fstat(j->fd, &st) < 0 || (uint64_t)st.st_size != j->key.size ||
				mtime_ns(&st) != j->key.mtime_ns))
		res->error = -ESTALE;
}

static void lower_priority(void)
{
	pid_t tid = syscall(SYS_gettid);

	/* per thread on Linux: the event loop keeps its priority */
	setpriority(PRIO_PROCESS, tid, 19); /* best effort, as is the I/O class */
	syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, tid, IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT);
}

static void *worker(void *arg)
{
	struct hasher *h = arg;

	lower_priority();
	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		struct job j;
		struct hash_result res;

		if (!h->todo_len) {
			pthread_cond_wait(&h->wake, &h->lock);
			continue;
		}
		j = h->todo[h->todo_head]; /* stays counted in the backlog until done */
		pthread_mutex_unlock(&h->lock);
		hash_one(h, &j, &res);
		close(j.fd);
		pthread_mutex_lock(&h->lock);
		h->todo_head = (h->todo_head + 1) % HASHER_QUEUE;
		h->todo_len--;
		h->st.backlog--;
		h->st.backlog_bytes -= j.key.size;
		if (res.error)
			h->st.failed++;
		else
			h->st.hashed++;
		if (h->done_len < HASHER_QUEUE)
			h->done[(h->done_head + h->done_len++) % HASHER_QUEUE] = res;
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

bool hasher_submit(struct hasher *h, int fd, const struct inv_key *k)
{
	bool ok = false;

	pthread_mutex_lock(&h->lock);
	if (!h->error && !h->started) {
		if (thread_start(&h->thread, NULL, worker, h) == 0)
			h->started = true;
		else
			h->error = "cannot start the hashing thread";
	}
	/* the done ring must have room for every queued job's answer */
	if (h->started && h->todo_len + h->done_len < HASHER_QUEUE) {
		h->todo[(h->todo_head + h->todo_len++) % HASHER_QUEUE] = (struct job){fd, *k};
		h->st.queued++;
		h->st.backlog++;
		h->st.backlog_bytes += k->size;
		pthread_cond_signal(&h->wake);
		ok = true;
	} else {
		h->st.dropped++;
	}
	pthread_mutex_unlock(&h->lock);
	if (!ok)
		close(fd);
	return ok;
}

bool hasher_result(struct hasher *h, struct hash_result *ret)
{
	bool got = false;

	pthread_mutex_lock(&h->lock);
	if (h->done_len) {
		*ret = h->done[h->done_head];
		h->done_head = (h->done_head + 1) % HASHER_QUEUE;
		h->done_len--;
		got = true;
	}
	pthread_mutex_unlock(&h->lock);
	return got;
}

void hasher_stats(struct hasher *h, struct hasher_stats *ret)
{
	pthread_mutex_lock(&h->lock);
	*ret = h->st;
	ret->error = h->error;
	pthread_mutex_unlock(&h->lock);
}
