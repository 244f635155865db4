// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "vigil/sniff.h"
#include "vigil/util.h"

#define QUEUE_LEN   64
#define CACHE_SLOTS 4096
#define HEAD_BYTES  4096

struct ring {
	struct sniff_job jobs[QUEUE_LEN];
	unsigned head, len;
};

struct sniffer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop, started;
	int efd;
	struct ring todo, done;
	struct sniff_stats st;
	struct cache_slot {
		uint64_t ino, size;
		int64_t mtime_ns;
		const char *format;
	} cache[CACHE_SLOTS]; /* worker only */
	struct asked {
		uint64_t ino;
		uint32_t pid;
	} asked[CACHE_SLOTS]; /* (file, process) pairs already asked about */
};

enum look_result { LOOK_FAILED, LOOK_READ, LOOK_CACHED, LOOK_NETWORK };

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

static bool network_fs(int fd)
{
	static const long magics[] = {
	    0x6969,	/* NFS */ 0x65735546,  /* FUSE */ 0x517b,     /* SMB */
	    0xff534d42, /* CIFS */ 0xfe534d42, /* SMB2 */ 0x01021997, /* 9p */
	    0x00c36400, /* Ceph */ 0x5346414f, /* AFS */ 0x0bd00bd0,  /* Lustre */
	};
	struct statfs sf;

	if (fstatfs(fd, &sf) < 0)
		return true; /* cannot tell: do not read */
	for (size_t i = 0; i < ARRAY_SIZE(magics); i++)
		if ((long)sf.f_type == magics[i])
			return true;
	return false;
}

/* Read-only, without touching atime (needs ownership or CAP_FOWNER: fall back). */
static int open_quietly(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOATIME);

	if (fd < 0 && errno == EPERM)
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	return fd;
}

/* Open the file as the opener sees it and read its head (worker thread, unlocked). */
static enum look_result look(struct sniffer *s, const struct sniff_job *j, const char **fmt)
{
	char path[SNIFF_PATH_MAX + 32];
	unsigned char buf[HEAD_BYTES];
	struct cache_slot *c;
	struct stat st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/root%s", j->pid, j->path);
	fd = open_quietly(path);
	if (fd < 0 && j->host_root) /* a short-lived opener is often gone by now */
		fd = open_quietly(j->path);
	if (fd < 0)
		return LOOK_FAILED;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_ino != j->ino) {
		close(fd);
		return LOOK_FAILED; /* gone, replaced or not a file */
	}
	if (network_fs(fd)) {
		close(fd);
		return LOOK_NETWORK;
	}
	c = &s->cache[st.st_ino % CACHE_SLOTS];
	if (c->format && c->ino == st.st_ino && c->size == (uint64_t)st.st_size &&
	    c->mtime_ns == st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec) {
		close(fd);
		*fmt = c->format;
		return LOOK_CACHED;
	}
	n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n < 0)
		return LOOK_FAILED;
	*c = (struct cache_slot){.ino = st.st_ino,
				 .size = st.st_size,
				 .mtime_ns = st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec,
				 .format = sniff_format(buf, n)};
	*fmt = c->format;
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

static void *worker(void *arg)
{
	struct sniffer *s = arg;
	struct sniff_job j;
	uint64_t one = 1;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		const char *dot, *fmt = NULL;
		enum look_result r;

		while (!s->stop && !ring_pop(&s->todo, &j))
			pthread_cond_wait(&s->wake, &s->lock);
		if (s->stop)
			break;
		pthread_mutex_unlock(&s->lock);
		r = look(s, &j, &fmt); /* the I/O happens unlocked */
		dot = strrchr(j.path, '.');
		if (fmt)
			sniff_judge(dot && !strchr(dot, '/') ? dot + 1 : "", fmt, &j);
		pthread_mutex_lock(&s->lock);
		s->st.failed += r == LOOK_FAILED;
		s->st.read += r == LOOK_READ;
		s->st.cached += r == LOOK_CACHED;
		s->st.skipped_fs += r == LOOK_NETWORK;
		if (fmt && ring_push(&s->done, &j) && write(s->efd, &one, sizeof(one)) < 0)
			s->st.failed++;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int sniff_new(struct sniffer **ret)
{
	struct sniffer *s = calloc(1, sizeof(*s));
	sigset_t all, old;
	int r;

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->efd < 0) {
		r = -errno;
		sniff_free(s);
		return r;
	}
	/* the worker takes no signals: they are the event loop's (signalfd) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&s->thread, NULL, worker, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		sniff_free(s);
		return r;
	}
	s->started = true;
	*ret = s;
	return 0;
}

struct sniffer *sniff_free(struct sniffer *s)
{
	if (!s)
		return NULL;
	if (s->started) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	if (s->efd >= 0)
		close(s->efd);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->wake);
	free(s);
	return NULL;
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
