// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "vigil/act.h"
#include "vigil/fileio.h"
#include "vigil/redact.h"
#include "vigil/util.h"

#define PF_KTHREAD    0x00200000
#define STOP_ROUNDS   8
#define EVIDENCE_MAX  (4u << 20) /* per file copied from /proc */
#define EXEC_LOG_MODE 0600
#define EVIDENCE_MODE 0600

struct pstat {
	pid_t pid, ppid;
	unsigned long flags;
	uint64_t start; /* clock ticks after boot */
};

/* /proc/PID/stat: the name may hold spaces and ')', so parse from the last ')'. */
static int read_pstat(pid_t pid, struct pstat *ps)
{
	char path[64], buf[1024], *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	n = read_file(path, buf, sizeof(buf));
	if (n <= 0)
		return -ESRCH;
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	/* ") S ppid pgrp session tty tpgid flags", 6 counts, 6 times, then starttime */
	if (sscanf(p + 2,
		   "%*c %d %*d %*d %*d %*d %lu %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d "
		   "%" SCNu64,
		   &ps->ppid, &ps->flags, &ps->start) != 3)
		return -EINVAL;
	ps->pid = pid;
	return 0;
}

int proc_start_ticks(pid_t pid, uint64_t *ticks)
{
	struct pstat ps;
	int r = read_pstat(pid, &ps);

	if (r == 0)
		*ticks = ps.start;
	return r;
}

/* Not exited and reaped: its pid cannot have gone to another process. */
static bool pidfd_alive(int fd)
{
	return pidfd_send_signal(fd, 0, NULL, 0) == 0;
}

int pidfd_open_verified(pid_t pid, uint64_t start, int *ret_fd, uint64_t *ret_start)
{
	_cleanup_close_ int fd = pidfd_open(pid, 0);
	struct pstat ps;

	if (fd < 0)
		return errno == EINVAL ? -ESRCH : -errno;
	/* read after the open, trusted once the pidfd is seen alive after the read */
	if (read_pstat(pid, &ps) < 0 || !pidfd_alive(fd))
		return -ESRCH;
	if (start && ps.start != start)
		return -ESTALE;
	if (ret_start)
		*ret_start = ps.start;
	*ret_fd = fd;
	fd = -1;
	return 0;
}

/* sig through a pidfd, to pid only while it is the process that started at start (0: any). */
static int signal_checked(pid_t pid, uint64_t start, int sig)
{
	_cleanup_close_ int fd = -1;
	int r = pidfd_open_verified(pid, start, &fd, NULL);

	if (r < 0)
		return r;
	return pidfd_send_signal(fd, sig, NULL, 0) < 0 ? -errno : 0;
}

static int all_processes(struct pstat **ret, unsigned *n)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	struct pstat *v = NULL;
	unsigned cap = 0;

	*n = 0;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		if (*n == cap) {
			struct pstat *nv = realloc(v, (cap = cap ? cap * 2 : 512) * sizeof(*v));

			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		if (read_pstat(pid, &v[*n]) == 0)
			(*n)++;
	}
	closedir(d);
	*ret = v;
	return 0;
}

bool proc_tree_has(const struct proc_tree *t, pid_t pid)
{
	for (unsigned i = 0; i < t->n; i++)
		if (t->pids[i] == pid)
			return true;
	return false;
}

int proc_tree_read(pid_t root, bool tree, struct proc_tree *out)
{
	struct pstat *all = NULL, me;
	unsigned n = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (read_pstat(root, &me) < 0)
		return -ESRCH;
	r = tree ? all_processes(&all, &n) : 0;
	if (r < 0)
		return r;
	out->pids = malloc((n + 1) * sizeof(pid_t));
	out->starts = malloc((n + 1) * sizeof(uint64_t));
	if (!out->pids || !out->starts) {
		free(all);
		proc_tree_free(out);
		return -ENOMEM;
	}
	out->starts[out->n] = me.start;
	out->pids[out->n++] = root;
	/* breadth first: each found process's children join the frontier */
	for (unsigned head = 0; tree && head < out->n; head++)
		for (unsigned i = 0; i < n; i++)
			if (all[i].ppid == out->pids[head] && !proc_tree_has(out, all[i].pid)) {
				out->starts[out->n] = all[i].start;
				out->pids[out->n++] = all[i].pid;
			}
	free(all);
	return 0;
}

void proc_tree_free(struct proc_tree *t)
{
	free(t->pids);
	free(t->starts);
	memset(t, 0, sizeof(*t));
}

static uint64_t start_of(const struct proc_tree *t, unsigned i)
{
	return t->starts ? t->starts[i] : 0;
}

/* proc_tree_read, refused (-ESTALE) when root is no longer the process that started at start. */
static int read_tree(pid_t root, uint64_t start, bool tree, struct proc_tree *out)
{
	int r = proc_tree_read(root, tree, out);

	if (r == 0 && start && out->starts[0] != start) {
		proc_tree_free(out);
		r = -ESTALE;
	}
	return r;
}

int pid_reused_error(pid_t pid, const char *gone, char *err, size_t errlen)
{
	snprintf(err, errlen, "pid %d was reused: %s is gone, another process runs as %d now", pid,
		 gone ? gone : "the process it named", pid);
	return -ESTALE;
}

static void tree_error(pid_t root, int r, char *err, size_t errlen)
{
	if (r == -ESTALE)
		pid_reused_error(root, NULL, err, errlen);
	else
		snprintf(err, errlen, "process %d: %s", root,
			 r == -ESRCH ? "no such process" : strerror(-r));
}

void guard_init(struct guard *g, const struct strv *protected)
{
	pid_t p = getpid();

	memset(g, 0, sizeof(*g));
	g->self = p;
	g->protected = protected;
	while (p > 1 && g->nancestors < ARRAY_SIZE(g->ancestors)) {
		struct pstat ps;

		if (read_pstat(p, &ps) < 0)
			break;
		p = ps.ppid;
		g->ancestors[g->nancestors++] = p;
	}
}

static bool is_protected_name(const struct guard *g, pid_t pid)
{
	char path[64], comm[64] = "", exe[PATH_MAX] = "";
	ssize_t n;

	if (!g->protected || !g->protected->n)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (read_file(path, comm, sizeof(comm)) > 0)
		comm[strcspn(comm, "\n")] = 0;
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	return strv_contains(g->protected, comm) || (exe[0] && strv_contains(g->protected, exe));
}

int guard_check(const struct guard *g, pid_t pid, char *why, size_t len)
{
	struct pstat ps;
	const char *reason = NULL;

	if (pid <= 1)
		reason = "PID 1 (init)";
	else if (pid == g->self)
		reason = "vigild itself";
	else if (read_pstat(pid, &ps) < 0)
		reason = NULL;
	else if ((ps.flags & PF_KTHREAD) || ps.ppid == 2 || pid == 2)
		reason = "a kernel thread";
	for (unsigned i = 0; !reason && i < g->nancestors; i++)
		if (g->ancestors[i] == pid)
			reason = "an ancestor of vigild";
	if (!reason && is_protected_name(g, pid))
		reason = "a protected process (response.protected)";
	if (!reason)
		return 0;
	snprintf(why, len, "refusing to act on %d: %s", pid, reason);
	return -EPERM;
}

static bool tree_has_process(const struct proc_tree *t, pid_t pid, uint64_t start)
{
	for (unsigned i = 0; i < t->n; i++)
		if (t->pids[i] == pid && start_of(t, i) == start)
			return true;
	return false;
}

static int tree_push(struct proc_tree *t, pid_t pid, uint64_t start)
{
	pid_t *p = realloc(t->pids, (t->n + 1) * sizeof(pid_t));
	uint64_t *s;

	if (!p)
		return -ENOMEM;
	t->pids = p;
	s = realloc(t->starts, (t->n + 1) * sizeof(uint64_t));
	if (!s)
		return -ENOMEM;
	t->starts = s;
	t->starts[t->n] = start;
	t->pids[t->n++] = pid;
	return 0;
}

/*
 * SIGSTOP the members of t (pid and start time) not seen yet; did any join?
 * A member whose start time is unknown (0), or no longer its pid's, is not
 * stopped: a reused pid is another process. Guarded ones are left alone.
 * stopped gets those this stopped, for cont_others.
 */
static bool stop_new(const struct guard *g, const struct proc_tree *t, struct proc_tree *seen,
		     struct proc_tree *stopped)
{
	char why[128];
	bool grew = false;

	for (unsigned i = 0; i < t->n; i++) {
		pid_t pid = t->pids[i];
		uint64_t start = start_of(t, i);

		if (tree_has_process(seen, pid, start))
			continue;
		if (tree_push(seen, pid, start) < 0)
			break;
		grew = true;
		if (start && guard_check(g, pid, why, sizeof(why)) == 0 &&
		    signal_checked(pid, start, SIGSTOP) == 0 && tree_push(stopped, pid, start) < 0)
			signal_checked(pid, start, SIGCONT); /* cannot remember it: not stopped */
	}
	return grew;
}

/* SIGCONT what stop_new stopped that is not in t (the tree the caller gets, stopped). */
static void cont_others(const struct proc_tree *stopped, const struct proc_tree *t)
{
	for (unsigned i = 0; i < stopped->n; i++)
		if (!tree_has_process(t, stopped->pids[i], stopped->starts[i]))
			signal_checked(stopped->pids[i], stopped->starts[i], SIGCONT);
}

int proc_tree_stop(const struct guard *g, pid_t root, uint64_t start, bool tree,
		   const struct proc_tree *hint, struct proc_tree *t)
{
	struct proc_tree seen = {0}, stopped = {0};
	int r;

	if (hint)
		stop_new(g, hint, &seen, &stopped);
	r = read_tree(root, start, tree, t);
	for (unsigned round = 0; r == 0 && round < STOP_ROUNDS; round++) {
		if (!stop_new(g, t, &seen, &stopped) || !tree)
			break;
		proc_tree_free(t);
		if ((r = read_tree(root, start, true, t)) < 0)
			break;
	}
	/* on failure t is empty: everything stopped is resumed */
	cont_others(&stopped, t);
	proc_tree_free(&seen);
	proc_tree_free(&stopped);
	return r;
}

void proc_tree_cont(const struct proc_tree *t)
{
	for (unsigned i = 0; i < t->n; i++)
		signal_checked(t->pids[i], start_of(t, i), SIGCONT);
}

int act_signal(const struct guard *g, pid_t root, uint64_t start, bool tree,
	       const struct proc_tree *hint, int sig, unsigned *signalled, unsigned *skipped,
	       char *err, size_t errlen)
{
	struct proc_tree t;
	char why[128];
	int r;

	*signalled = *skipped = 0;
	if (guard_check(g, root, err, errlen) < 0)
		return -EPERM;
	r = tree && sig == SIGKILL ? proc_tree_stop(g, root, start, true, hint, &t)
				   : read_tree(root, start, tree, &t);
	if (r < 0) {
		tree_error(root, r, err, errlen);
		return r;
	}
	for (unsigned i = 0; i < t.n; i++) {
		if (guard_check(g, t.pids[i], why, sizeof(why)) < 0) {
			(*skipped)++;
			continue;
		}
		if (signal_checked(t.pids[i], t.starts[i], sig) == 0)
			(*signalled)++;
	}
	proc_tree_free(&t);
	if (!*signalled) {
		snprintf(err, errlen, "process %d: nothing signalled (all gone or guarded)", root);
		return -ESRCH;
	}
	return 0;
}

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
	r = read_tree(root, start, tree, &t);
	if (r < 0) {
		tree_error(root, r, err, errlen);
		snprintf(err + strlen(err), errlen - strlen(err), " (trigger saved)");
		return r;
	}
	s->procs = json_array();
	s->exe_fds = calloc(t.n, sizeof(int));
	for (unsigned i = 0; s->exe_fds && i < t.n; i++) {
		struct pstat ps;
		json_t *o = process_evidence(t.pids[i], dir, &s->files, &s->exe_fds[s->n]);

		if (!o)
			continue;
		if (read_pstat(t.pids[i], &ps) == 0)
			json_object_set_new(o, "ppid", json_integer(ps.ppid));
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
