// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "respond/act.h"
#include "core/fileio.h"
#include "sense/proc_tree.h"
#include "stream/redact.h"
#include "core/util.h"

#define EVIDENCE_MAX  (4u << 20) /* per file copied from /proc */
#define EXEC_LOG_MODE 0600
#define EVIDENCE_MODE 0600

/* ---- evidence ---- */

int sha256_file(const char *path, char out[65])
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx;
	ssize_t n;

	if (fd < 0)
		return -errno;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ctx, buf, n);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	if (n < 0)
		return -EIO;
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static int write_all_file(const char *path, const void *data, size_t len)
{
	_cleanup_close_ int fd =
	    open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, EVIDENCE_MODE);

	return fd < 0 ? -errno : fd_write_all(fd, data, len);
}

/* Copy /proc/PID/name into dir/name, bounded. */
static int copy_proc(pid_t pid, const char *name, const char *dir)
{
	char src[64], dst[PATH_MAX + 64];
	_cleanup_free_ char *buf = malloc(EVIDENCE_MAX);
	ssize_t n;

	snprintf(src, sizeof(src), "/proc/%d/%s", pid, name);
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	if (!buf)
		return -ENOMEM;
	n = read_file(src, buf, EVIDENCE_MAX);
	if (n < 0)
		return (int)n;
	return write_all_file(dst, buf, n);
}

/* environ with secret values replaced: NUL-separated in, one per line out. */
static int copy_environ(pid_t pid, const char *dir)
{
	char src[64], dst[PATH_MAX + 64];
	_cleanup_free_ char *in = malloc(EVIDENCE_MAX), *out = malloc(EVIDENCE_MAX + 4096);
	size_t o = 0;
	ssize_t n;

	if (!in || !out)
		return -ENOMEM;
	snprintf(src, sizeof(src), "/proc/%d/environ", pid);
	snprintf(dst, sizeof(dst), "%s/environ", dir);
	n = read_file(src, in, EVIDENCE_MAX);
	if (n < 0)
		return (int)n;
	for (ssize_t i = 0; i < n;) {
		size_t len = strnlen(in + i, n - i);
		bool next = false;
		struct redaction rd;

		if (o + len + sizeof(REDACTED) + 2 > EVIDENCE_MAX + 4096)
			break;
		if (redact_arg(in + i, len, &next, &rd)) {
			memcpy(out + o, in + i, rd.keep);
			o += rd.keep;
			memcpy(out + o, REDACTED, strlen(REDACTED));
			o += strlen(REDACTED);
			memcpy(out + o, in + i + rd.resume, len - rd.resume);
			o += len - rd.resume;
		} else {
			memcpy(out + o, in + i, len);
			o += len;
		}
		out[o++] = '\n';
		i += len + 1;
	}
	return write_all_file(dst, out, o);
}

/* Open descriptors: "fd -> target" lines. */
static int list_fds(pid_t pid, const char *dir)
{
	char path[64], dst[PATH_MAX + 64], line[PATH_MAX + 32], target[PATH_MAX];
	_cleanup_fclose_ FILE *f = NULL;
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	snprintf(dst, sizeof(dst), "%s/fds", dir);
	d = opendir(path);
	if (!d)
		return -errno;
	f = fopen(dst, "we");
	if (!f) {
		closedir(d);
		return -errno;
	}
	while ((de = readdir(d))) {
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(line, sizeof(line), "%s/%s", path, de->d_name);
		n = readlink(line, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = 0;
		fprintf(f, "%s -> %s\n", de->d_name, target);
	}
	closedir(d);
	return 0;
}

/* The small, volatile files now; the executable is kept open to hash later. */
static json_t *process_evidence(pid_t pid, const char *dir, unsigned *files, int *exe_fd)
{
	static const char *const copies[] = {"cmdline", "status",   "maps",    "cgroup",
					     "net/tcp", "net/tcp6", "net/udp", "net/udp6"};
	char pdir[PATH_MAX], exe[PATH_MAX] = "", link[PATH_MAX + 16];
	ssize_t n;

	snprintf(pdir, sizeof(pdir), "%s/%d", dir, pid);
	snprintf(link, sizeof(link), "%s/net", pdir);
	if (mkdir(pdir, 0700) < 0 && errno != EEXIST)
		return NULL;
	mkdir(link, 0700);
	for (size_t i = 0; i < ARRAY_SIZE(copies); i++)
		*files += copy_proc(pid, copies[i], pdir) == 0;
	*files += copy_environ(pid, pdir) == 0;
	*files += list_fds(pid, pdir) == 0;
	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	/* via /proc: the file the process runs, even deleted or replaced since */
	*exe_fd = n > 0 ? open(link, O_RDONLY | O_CLOEXEC) : -1;
	return json_pack("{s:i, s:s}", "pid", pid, "executable", exe);
}

int act_snapshot_begin(pid_t root, uint64_t start, bool tree, const char *dir, const char *trigger,
		       size_t tlen, struct snapshot *s, char *err, size_t errlen)
{
	struct proc_tree t;
	char path[PATH_MAX + 16];
	int r;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -errno;
	}
	snprintf(path, sizeof(path), "%s/trigger.json", dir);
	if (trigger && write_all_file(path, trigger, tlen) == 0)
		s->files++;
	r = proc_tree_read_of(root, start, tree, &t, err, errlen);
	if (r < 0) {
		snprintf(err + strlen(err), errlen - strlen(err), " (trigger saved)");
		return r;
	}
	s->procs = json_array();
	s->exe_fds = calloc(t.n, sizeof(int));
	for (unsigned i = 0; s->exe_fds && i < t.n; i++) {
		json_t *o = process_evidence(t.pids[i], dir, &s->files, &s->exe_fds[s->n]);
		pid_t ppid;

		if (!o)
			continue;
		if (proc_parent_pid(t.pids[i], &ppid) == 0)
			json_object_set_new(o, "ppid", json_integer(ppid));
		json_array_append_new(s->procs, o);
		s->n++;
	}
	proc_tree_free(&t);
	return 0;
}

int act_snapshot_end(struct snapshot *s)
{
	char path[PATH_MAX + 16], sha[65];
	int r;

	for (unsigned i = 0; i < s->n; i++) {
		char fdpath[32];

		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", s->exe_fds[i]);
		if (s->exe_fds[i] < 0 || sha256_file(fdpath, sha) < 0)
			sha[0] = 0;
		json_object_set_new(json_array_get(s->procs, i), "sha256", json_string(sha));
	}
	snprintf(path, sizeof(path), "%s/tree.json", s->dir);
	r = json_dump_file(s->procs, path, JSON_INDENT(2)) == 0 ? 0 : -EIO;
	chmod(path, EVIDENCE_MODE);
	s->files += r == 0;
	act_snapshot_free(s);
	return r;
}

void act_snapshot_free(struct snapshot *s)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->exe_fds[i] >= 0)
			close(s->exe_fds[i]);
	free(s->exe_fds);
	json_decref(s->procs);
	s->exe_fds = NULL;
	s->procs = NULL;
	s->n = 0;
}

/*
 * The hashing half on a thread, not in a forked child: a fork of the
 * multi-threaded daemon may not allocate or use OpenSSL (another thread may
 * hold their locks). Detached; the loop and the thread each hold a
 * reference, so the loop can give up on a hung read and go on.
 */
struct snapshot_job {
	struct snapshot snap;
	atomic_int refs;
	atomic_bool done;
	int result;
};

void act_snapshot_release(struct snapshot_job *j)
{
	if (j && atomic_fetch_sub(&j->refs, 1) == 1)
		free(j);
}

static void *snapshot_thread(void *arg)
{
	struct snapshot_job *j = arg;

	j->result = act_snapshot_end(&j->snap);
	atomic_store(&j->done, true);
	act_snapshot_release(j);
	return NULL;
}

int act_snapshot_start(struct snapshot *s, struct snapshot_job **ret)
{
	struct snapshot_job *j = calloc(1, sizeof(*j));
	pthread_attr_t at;
	pthread_t t;
	int r;

	if (!j) {
		act_snapshot_free(s);
		return -ENOMEM;
	}
	j->snap = *s;
	atomic_init(&j->refs, 2);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	r = thread_start(&t, &at, snapshot_thread, j);
	pthread_attr_destroy(&at);
	if (r < 0) {
		act_snapshot_free(&j->snap);
		free(j);
		return r;
	}
	*ret = j;
	return 0;
}

bool act_snapshot_done(struct snapshot_job *j, int *result)
{
	if (!atomic_load(&j->done))
		return false;
	*result = j->result;
	return true;
}

/* ---- operator scripts ---- */

/*
 * The script's process: stdin from the pipe, stdout and stderr to the log,
 * its own session (a timeout kills the whole of it), no signal blocked
 * (vigild blocks them for its signalfd) and none ignored (SIGPIPE is).
 */
static int spawn_attrs(int in_fd, int log_fd, posix_spawn_file_actions_t *fa, posix_spawnattr_t *at)
{
	sigset_t none, all;
	int r;

	sigemptyset(&none);
	sigfillset(&all);
	r = posix_spawn_file_actions_init(fa);
	if (r)
		return -r;
	r = posix_spawnattr_init(at);
	if (r) {
		posix_spawn_file_actions_destroy(fa);
		return -r;
	}
	r = posix_spawn_file_actions_adddup2(fa, in_fd, 0);
	if (!r)
		r = posix_spawn_file_actions_adddup2(fa, log_fd, 1);
	if (!r)
		r = posix_spawn_file_actions_adddup2(fa, log_fd, 2);
	if (!r)
		r = posix_spawnattr_setflags(at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
						     POSIX_SPAWN_SETSIGDEF);
	if (!r)
		r = posix_spawnattr_setsigmask(at, &none);
	if (!r)
		r = posix_spawnattr_setsigdefault(at, &all);
	if (r) {
		posix_spawn_file_actions_destroy(fa);
		posix_spawnattr_destroy(at);
	}
	return -r;
}

/*
 * posix_spawn, not fork: vigild has threads (webhooks, the sniffer), and a
 * forked copy of it must not run code that may take their locks (malloc,
 * OpenSSL) before exec. A script that cannot be executed fails here.
 */
int act_exec_start(char *const *argv, const char *input, size_t len, const char *log_path,
		   pid_t *child, char *err, size_t errlen)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int in[2], r;
	pid_t pid;
	int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, EXEC_LOG_MODE);

	if (log_fd < 0 || pipe2(in, O_CLOEXEC) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", log_path, strerror(-r));
		if (log_fd >= 0)
			close(log_fd);
		return r;
	}
	r = spawn_attrs(in[0], log_fd, &fa, &at);
	if (r == 0) {
		r = -posix_spawn(&pid, argv[0], &fa, &at, argv, environ);
		posix_spawn_file_actions_destroy(&fa);
		posix_spawnattr_destroy(&at);
	}
	close(in[0]);
	close(log_fd);
	if (r < 0) {
		close(in[1]);
		snprintf(err, errlen, "exec %s: %s", argv[0], strerror(-r));
		return r;
	}
	/* alerts are small (< pipe buffer): this does not block on a script that never reads */
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	if (write(in[1], input, len) < 0) {
		/* the script may not read its input: that is its business */
	}
	close(in[1]);
	*child = pid;
	return 0;
}
