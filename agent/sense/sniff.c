// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "sense/sniff.h"
#include "core/util.h"

#define QUEUE_LEN   64
#define CACHE_SLOTS 4096
#define HEAD_BYTES  4096
#define WORKERS	    2
#define STUCK_MAX   8 /* abandoned workers still blocked: past this, none is replaced */

struct ring {
	struct sniff_job jobs[QUEUE_LEN];
	unsigned head, len;
};

struct sniffer;

/* One worker thread; an abandoned one is no longer the pool's and frees itself. */
struct worker {
	struct sniffer *s;
	pthread_t thread;
	bool busy, abandoned;
	uint32_t pid; /* whose file it reads (sniff_wait_pids) */
	uint64_t started_ms;
};

struct sniffer {
	struct worker *pool[WORKERS];
	pthread_mutex_t lock; /* everything below */
	pthread_cond_t wake;
	pthread_cond_t idle; /* a job finished (sniff_wait_pids) */
	sniff_inspect_fn inspect;
	void (*drop)(void *detail);
	void *inspect_ctx;
	bool stop, owner_gone; /* freed when the owner and every stuck worker are gone */
	int efd;
	unsigned deadline_ms;
	bool network_fs;
	struct ring todo, done;
	struct sniff_stats st;
	struct cache_slot {
		uint64_t ino, size;
		int64_t mtime_ns;
		const char *format;
	} cache[CACHE_SLOTS];
	struct asked {
		uint64_t ino;
		uint32_t pid;
	} asked[CACHE_SLOTS]; /* (file, process) pairs already asked about: the loop's */
};

enum look_result { LOOK_FAILED, LOOK_READ, LOOK_CACHED, LOOK_NETWORK, LOOK_REFUSED };

/* ---- formats ---- */

static bool has(const unsigned char *b, size_t n, size_t off, const char *magic, size_t mlen)
{
	return n >= off + mlen && !memcmp(b + off, magic, mlen);
}

static bool zip_has_pickle(const unsigned char *b, size_t n)
{
	return memmem(b, n, "data.pkl", 8) != NULL; /* PyTorch's archive/data.pkl comes first */
}

static const struct {
	const char *format, *bytes;
	size_t off, len;
} magics[] = {
    {"gguf", "GGUF", 0, 4},
    {"hdf5", "\x89HDF\r\n\x1a\n", 0, 8},
    {"numpy", "\x93NUMPY", 0, 6},
    {"tflite", "TFL3", 4, 4},
    {"elf", "\177ELF", 0, 4},
    {"gzip", "\x1f\x8b", 0, 2},
    {"7z", "7z\xbc\xaf\x27\x1c", 0, 6},
    {"xz", "\3757zXZ\000", 0, 6},
    {"zstd", "\x28\xb5\x2f\xfd", 0, 4},
    {"bzip2", "BZh", 0, 3},
};

const char *sniff_format(const unsigned char *b, size_t n)
{
	uint64_t hlen = 0;

	if (n == 0)
		return "empty"; /* being written: nothing to judge yet */
	if (n >= 9) {
		memcpy(&hlen, b, 8); /* little-endian hosts; safetensors is LE */
		if (hlen >= 2 && hlen < (100u << 20) && b[8] == '{')
			return "safetensors";
	}
	if (n >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5)
		return "pickle"; /* PROTO opcode, protocols 2-5 */
	if (has(b, n, 0, "PK\x03\x04", 4))
		return zip_has_pickle(b, n) ? "pytorch-zip" : "zip";
	for (size_t i = 0; i < ARRAY_SIZE(magics); i++)
		if (has(b, n, magics[i].off, magics[i].bytes, magics[i].len))
			return magics[i].format;
	return "unknown";
}

/* Extension → the formats it may hold. "" = anything (protobuf, engines, raw tensors). */
static const struct {
	const char *ext, *expected, *also;
} promises[] = {
    {"safetensors", "safetensors", NULL},
    {"gguf", "gguf", NULL},
    {"pt", "pytorch-zip", "pickle"},
    {"pth", "pytorch-zip", "pickle"},
    {"ckpt", "pytorch-zip", "pickle"},
    {"bin", "pytorch-zip", "pickle"},
    {"pkl", "pickle", NULL},
    {"pickle", "pickle", NULL},
    {"dill", "pickle", NULL},
    {"joblib", "pickle", "zip"},
    {"h5", "hdf5", NULL},
    {"keras", "zip", "hdf5"},
    {"npy", "numpy", NULL},
    {"npz", "zip", NULL},
    {"tflite", "tflite", NULL},
    {"mar", "zip", NULL},
};

/* Formats that are never a model: finding one under a model's name is the point. */
static bool foreign(const char *f)
{
	static const char *const bad[] = {"elf", "gzip", "7z", "xz", "zstd", "bzip2"};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (!strcmp(f, bad[i]))
			return true;
	return false;
}

void sniff_judge(const char *ext, const char *format, struct sniff_job *job)
{
	job->format = format;
	job->expected = "";
	job->pickle = !strcmp(format, "pickle") || !strcmp(format, "pytorch-zip");
	job->mismatch = foreign(format);
	if (!strcmp(format, "empty"))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(promises); i++) {
		if (strcasecmp(ext, promises[i].ext))
			continue;
		job->expected = promises[i].expected;
		if (!strcmp(format, promises[i].expected) ||
		    (promises[i].also && !strcmp(format, promises[i].also)))
			return;
		/* .bin is also raw tensors and GGML: only a known other format is a mismatch */
		if (strcmp(format, "unknown") || strcmp(ext, "bin"))
			job->mismatch = true;
		return;
	}
}

/* ---- worker ---- */

static bool network_fs(const struct statfs *sf)
{
	static const long magics[] = {
	    0x6969,	/* NFS */ 0x65735546,  /* FUSE */ 0x517b,     /* SMB */
	    0xff534d42, /* CIFS */ 0xfe534d42, /* SMB2 */ 0x01021997, /* 9p */
	    0x00c36400, /* Ceph */ 0x5346414f, /* AFS */ 0x0bd00bd0,  /* Lustre */
	};

	for (size_t i = 0; i < ARRAY_SIZE(magics); i++)
		if ((long)sf->f_type == magics[i])
			return true;
	return false;
}

/* overlayfs and btrfs report st_dev of their own, not the superblock's the kernel saw */
static bool own_st_dev(const struct statfs *sf)
{
	return (long)sf->f_type == 0x794c7630 /* overlayfs */ ||
	       (long)sf->f_type == 0x9123683e /* btrfs */;
}

/* The path inside root, as an O_PATH descriptor: no symlink, no magic link, no escape. */
static int open_path(int root, const char *path)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC | O_NOFOLLOW,
			       .resolve =
				   RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS};

	return syscall(SYS_openat2, root, path, &how, sizeof(how));
}

/* The opener's root; the host's for a short-lived opener on the host that is gone already. */
static int open_root(const struct sniff_job *j)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/root", j->pid);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && j->host_root)
		fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd;
}

/* Is fd the file the event saw, on a filesystem we read? */
static enum look_result check_file(const struct sniffer *s, const struct sniff_job *j, int fd,
				   struct stat *st)
{
	struct statfs sf;

	if (fstat(fd, st) < 0)
		return LOOK_FAILED;
	if (!S_ISREG(st->st_mode) || st->st_ino != j->ino)
		return LOOK_REFUSED; /* swapped, replaced, or not a file */
	if (fstatfs(fd, &sf) < 0 || (network_fs(&sf) && !s->network_fs))
		return LOOK_NETWORK; /* cannot tell, or may hang: do not read */
	if (j->dev && !own_st_dev(&sf) &&
	    (major(st->st_dev) != j->dev >> 20 || minor(st->st_dev) != (j->dev & 0xfffff)))
		return LOOK_REFUSED; /* same inode number, another filesystem */
	return LOOK_READ;
}

/* Read-only, without touching atime (needs ownership or CAP_FOWNER: fall back). */
static int reopen_quietly(int path_fd)
{
	char self[64];
	int fd;

	snprintf(self, sizeof(self), "/proc/self/fd/%d", path_fd);
	fd = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	return fd;
}

static int64_t mtime_ns(const struct stat *st)
{
	return st->st_mtim.tv_sec * 1000000000ll + st->st_mtim.tv_nsec;
}

static const char *cache_get(struct sniffer *s, const struct stat *st)
{
	const struct cache_slot *c = &s->cache[st->st_ino % CACHE_SLOTS];
	const char *f = NULL;

	pthread_mutex_lock(&s->lock);
	if (c->format && c->ino == st->st_ino && c->size == (uint64_t)st->st_size &&
	    c->mtime_ns == mtime_ns(st))
		f = c->format;
	pthread_mutex_unlock(&s->lock);
	return f;
}

static void cache_put(struct sniffer *s, const struct stat *st, const char *format)
{
	pthread_mutex_lock(&s->lock);
	s->cache[st->st_ino % CACHE_SLOTS] = (struct cache_slot){
	    .ino = st->st_ino, .size = st->st_size, .mtime_ns = mtime_ns(st), .format = format};
	pthread_mutex_unlock(&s->lock);
}

/* Open the file as the opener sees it and read its head (worker thread, unlocked). */
static enum look_result look(struct sniffer *s, struct sniff_job *j, const char **fmt)
{
	_cleanup_close_ int root = open_root(j), pfd = -1, fd = -1;
	unsigned char buf[HEAD_BYTES];
	enum look_result r;
	struct stat st;
	ssize_t n;

	if (root < 0)
		return LOOK_FAILED;
	pfd = open_path(root, j->path);
	if (pfd < 0) /* a symlink on the way is a swap: the event's path was resolved */
		return errno == ELOOP || errno == EXDEV ? LOOK_REFUSED : LOOK_FAILED;
	r = check_file(s, j, pfd, &st);
	if (r != LOOK_READ)
		return r;
	j->size = st.st_size;
	j->mtime_ns = mtime_ns(&st);
	*fmt = cache_get(s, &st);
	if (*fmt)
		return LOOK_CACHED;
	fd = reopen_quietly(pfd);
	if (fd < 0)
		return LOOK_FAILED;
	n = pread(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return LOOK_FAILED;
	*fmt = sniff_format(buf, n);
	cache_put(s, &st, *fmt);
	if (s->inspect)
		s->inspect(s->inspect_ctx, fd, j);
	return LOOK_READ;
}

static bool ring_push(struct ring *r, const struct sniff_job *j)
{
	if (r->len == QUEUE_LEN)
		return false;
	r->jobs[(r->head + r->len++) % QUEUE_LEN] = *j;
	return true;
}

static bool ring_pop(struct ring *r, struct sniff_job *ret)
{
	if (!r->len)
		return false;
	*ret = r->jobs[r->head];
	r->head = (r->head + 1) % QUEUE_LEN;
	r->len--;
	return true;
}

static void destroy(struct sniffer *s)
{
	struct sniff_job j;

	while (ring_pop(&s->done, &j))
		if (j.detail && s->drop)
			s->drop(j.detail);
	if (s->efd >= 0)
		close(s->efd);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->idle);
	free(s);
}

/* Locked: count the job's outcome and hand a verdict to the loop. */
static void finish(struct sniffer *s, enum look_result r, const struct sniff_job *j, bool verdict)
{
	uint64_t one = 1;

	s->st.failed += r == LOOK_FAILED;
	s->st.read += r == LOOK_READ;
	s->st.cached += r == LOOK_CACHED;
	s->st.skipped_fs += r == LOOK_NETWORK;
	s->st.refused += r == LOOK_REFUSED;
	pthread_cond_broadcast(&s->idle);
	if (!verdict || !ring_push(&s->done, j)) {
		if (j->detail && s->drop)
			s->drop(j->detail);
		return;
	}
	if (write(s->efd, &one, sizeof(one)) < 0)
		s->st.failed++;
}

static void *worker(void *arg)
{
	struct worker *w = arg;
	struct sniffer *s = w->s;
	bool last = false;
	struct sniff_job j;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		const char *dot, *fmt = NULL;
		enum look_result r;

		while (!s->stop && !ring_pop(&s->todo, &j))
			pthread_cond_wait(&s->wake, &s->lock);
		if (s->stop)
			break;
		w->busy = true;
		w->pid = j.pid;
		j.detail = NULL;
		w->started_ms = clock_ns(CLOCK_MONOTONIC) / 1000000;
		pthread_mutex_unlock(&s->lock);
		r = look(s, &j, &fmt); /* the I/O happens unlocked */
		dot = strrchr(j.path, '.');
		if (fmt)
			sniff_judge(dot && !strchr(dot, '/') ? dot + 1 : "", fmt, &j);
		pthread_mutex_lock(&s->lock);
		w->busy = false;
		if (w->abandoned) { /* too late: counted as timed out, no longer the pool's */
			if (j.detail && s->drop)
				s->drop(j.detail);
			break;
		}
		finish(s, r, &j, fmt != NULL);
	}
	if (w->abandoned) {
		s->st.stuck--;
		last = s->owner_gone && !s->st.stuck;
	}
	pthread_mutex_unlock(&s->lock);
	if (w->abandoned)
		free(w);
	if (last)
		destroy(s);
	return NULL;
}

/* A new worker in slot i (locked, or before any thread runs). */
static int spawn(struct sniffer *s, unsigned i)
{
	struct worker *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->s = s;
	r = thread_start(&w->thread, NULL, worker, w);
	if (r < 0) {
		free(w);
		return r;
	}
	s->pool[i] = w;
	return 0;
}

/* Locked: the busy worker in slot i is no longer the pool's; it frees itself when it returns. */
static void abandon(struct sniffer *s, unsigned i)
{
	s->pool[i]->abandoned = true;
	pthread_detach(s->pool[i]->thread);
	s->pool[i] = NULL;
	s->st.stuck++;
}

int sniff_new(struct sniffer **ret)
{
	struct sniffer *s = calloc(1, sizeof(*s));
	int r = 0;

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_cond_init(&s->idle, NULL);
	s->deadline_ms = SNIFF_DEADLINE_MS;
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->efd < 0)
		r = -errno;
	for (unsigned i = 0; r == 0 && i < WORKERS; i++)
		r = spawn(s, i);
	if (r < 0) {
		sniff_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

struct sniffer *sniff_free(struct sniffer *s)
{
	bool last;

	if (!s)
		return NULL;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_broadcast(&s->wake);
	for (unsigned i = 0; i < WORKERS; i++)
		if (s->pool[i] && s->pool[i]->busy)
			abandon(s, i); /* it may be in a hung mount: exit does not wait for it */
	pthread_mutex_unlock(&s->lock);
	for (unsigned i = 0; i < WORKERS; i++)
		if (s->pool[i]) {
			pthread_join(s->pool[i]->thread, NULL);
			free(s->pool[i]);
		}
	pthread_mutex_lock(&s->lock);
	s->owner_gone = true;
	last = !s->st.stuck; /* else the last stuck worker frees it, if it ever returns */
	pthread_mutex_unlock(&s->lock);
	if (last)
		destroy(s);
	return NULL;
}

void sniff_set_limits(struct sniffer *s, unsigned deadline_ms, bool network_fs)
{
	pthread_mutex_lock(&s->lock);
	s->deadline_ms = deadline_ms;
	s->network_fs = network_fs;
	pthread_mutex_unlock(&s->lock);
}

void sniff_tick(struct sniffer *s)
{
	uint64_t now = clock_ns(CLOCK_MONOTONIC) / 1000000;

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < WORKERS; i++) {
		struct worker *w = s->pool[i];

		if (!w && s->st.stuck < STUCK_MAX)
			spawn(s, i); /* a replacement that could not start before */
		if (!w || !w->busy || now - w->started_ms < s->deadline_ms ||
		    s->st.stuck >= STUCK_MAX)
			continue;
		/* blocked in the kernel (a hung mount): leave it, and go on without it */
		abandon(s, i);
		s->st.timed_out++;
		spawn(s, i);
	}
	pthread_mutex_unlock(&s->lock);
}

int sniff_fd(const struct sniffer *s)
{
	return s->efd;
}

bool sniff_first(struct sniffer *s, uint64_t ino, uint32_t pid)
{
	struct asked *a = &s->asked[(ino ^ pid * 0x9e3779b1u) % CACHE_SLOTS];

	if (a->ino == ino && a->pid == pid)
		return false; /* this process already got its answer for this file */
	a->ino = ino;
	a->pid = pid;
	return true;
}

void sniff_request(struct sniffer *s, const struct sniff_job *req)
{
	pthread_mutex_lock(&s->lock);
	s->st.requests++;
	if (ring_push(&s->todo, req))
		pthread_cond_signal(&s->wake);
	else
		s->st.queue_full++;
	pthread_mutex_unlock(&s->lock);
}

bool sniff_result(struct sniffer *s, struct sniff_job *ret)
{
	uint64_t n;
	bool got;

	if (read(s->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return false;
	pthread_mutex_lock(&s->lock);
	got = ring_pop(&s->done, ret);
	pthread_mutex_unlock(&s->lock);
	return got;
}

void sniff_stats(struct sniffer *s, struct sniff_stats *ret)
{
	pthread_mutex_lock(&s->lock);
	*ret = s->st;
	pthread_mutex_unlock(&s->lock);
}

void sniff_set_inspect(struct sniffer *s, sniff_inspect_fn fn, void (*drop)(void *detail),
		       void *ctx)
{
	pthread_mutex_lock(&s->lock);
	s->inspect = fn;
	s->drop = drop;
	s->inspect_ctx = ctx;
	pthread_mutex_unlock(&s->lock);
}

/* Locked: is a job of process a or b queued or being read? */
static bool pending_for(const struct sniffer *s, uint32_t a, uint32_t b)
{
	for (unsigned i = 0; i < s->todo.len; i++) {
		uint32_t pid = s->todo.jobs[(s->todo.head + i) % QUEUE_LEN].pid;

		if (pid == a || pid == b)
			return true;
	}
	for (unsigned i = 0; i < WORKERS; i++)
		if (s->pool[i] && s->pool[i]->busy &&
		    (s->pool[i]->pid == a || s->pool[i]->pid == b))
			return true;
	return false;
}

int sniff_wait_pids(struct sniffer *s, uint32_t a, uint32_t b, unsigned timeout_ms)
{
	struct timespec until;
	bool waited, left;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (timeout_ms % 1000) * 1000000l;
	if (until.tv_nsec >= 1000000000l) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000l;
	}
	pthread_mutex_lock(&s->lock);
	waited = pending_for(s, a, b);
	while ((left = pending_for(s, a, b)))
		if (pthread_cond_timedwait(&s->idle, &s->lock, &until))
			break;
	left = pending_for(s, a, b);
	pthread_mutex_unlock(&s->lock);
	return left ? -ETIMEDOUT : waited;
}
