// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "vigil/act.h"
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
	/* ") S ppid pgrp session tty tpgid flags" */
	if (sscanf(p + 2, "%*c %d %*d %*d %*d %*d %lu", &ps->ppid, &ps->flags) != 2)
		return -EINVAL;
	ps->pid = pid;
	return 0;
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
	if (!out->pids) {
		free(all);
		return -ENOMEM;
	}
	out->pids[out->n++] = root;
	/* breadth first: each found process's children join the frontier */
	for (unsigned head = 0; tree && head < out->n; head++)
		for (unsigned i = 0; i < n; i++)
			if (all[i].ppid == out->pids[head] && !proc_tree_has(out, all[i].pid))
				out->pids[out->n++] = all[i].pid;
	free(all);
	return 0;
}

void proc_tree_free(struct proc_tree *t)
{
	free(t->pids);
	memset(t, 0, sizeof(*t));
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

/* SIGSTOP the members of t not in stopped yet (guarded ones are left alone); did any join? */
static bool stop_new(const struct guard *g, const struct proc_tree *t, struct proc_tree *stopped)
{
	char why[128];
	bool grew = false;

	for (unsigned i = 0; i < t->n; i++) {
		pid_t *n;

		if (proc_tree_has(stopped, t->pids[i]))
			continue;
		n = realloc(stopped->pids, (stopped->n + 1) * sizeof(pid_t));
		if (!n)
			break;
		stopped->pids = n;
		stopped->pids[stopped->n++] = t->pids[i];
		grew = true;
		if (guard_check(g, t->pids[i], why, sizeof(why)) == 0)
			kill(t->pids[i], SIGSTOP);
	}
	return grew;
}

int proc_tree_stop(const struct guard *g, pid_t root, bool tree, const struct proc_tree *hint,
		   struct proc_tree *t)
{
	struct proc_tree stopped = {0};
	int r;

	if (hint)
		stop_new(g, hint, &stopped);
	r = proc_tree_read(root, tree, t);
	for (unsigned round = 0; r == 0 && round < STOP_ROUNDS; round++) {
		if (!stop_new(g, t, &stopped) || !tree)
			break;
		proc_tree_free(t);
		if ((r = proc_tree_read(root, true, t)) < 0)
			break;
	}
	proc_tree_free(&stopped);
	return r;
}

void proc_tree_cont(const struct proc_tree *t)
{
	for (unsigned i = 0; i < t->n; i++)
		kill(t->pids[i], SIGCONT);
}

int act_signal(const struct guard *g, pid_t root, bool tree, const struct proc_tree *hint, int sig,
	       unsigned *signalled, unsigned *skipped, char *err, size_t errlen)
{
	struct proc_tree t;
	char why[128];
	int r;

	*signalled = *skipped = 0;
	if (guard_check(g, root, err, errlen) < 0)
		return -EPERM;
	r = tree && sig == SIGKILL ? proc_tree_stop(g, root, true, hint, &t)
				   : proc_tree_read(root, tree, &t);
	if (r < 0) {
		snprintf(err, errlen, "process %d: %s", root,
			 r == -ESRCH ? "no such process" : strerror(-r));
		return r;
	}
	for (unsigned i = 0; i < t.n; i++) {
		if (guard_check(g, t.pids[i], why, sizeof(why)) < 0) {
			(*skipped)++;
			continue;
		}
		if (kill(t.pids[i], sig) == 0)
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
	const char *p = data;

	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EIO;
		p += w;
		len -= w;
	}
	return 0;
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

int act_snapshot_begin(pid_t root, bool tree, const char *dir, const char *trigger, size_t tlen,
		       struct snapshot *s, char *err, size_t errlen)
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
	r = proc_tree_read(root, tree, &t);
	if (r < 0) {
		snprintf(err, errlen, "process %d: no such process (trigger saved)", root);
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

/* ---- operator scripts ---- */

int act_exec_start(char *const *argv, const char *input, size_t len, const char *log_path,
		   pid_t *child, char *err, size_t errlen)
{
	int in[2];
	pid_t pid;
	int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, EXEC_LOG_MODE);

	if (log_fd < 0 || pipe2(in, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "%s: %s", log_path, strerror(errno));
		if (log_fd >= 0)
			close(log_fd);
		return -errno;
	}
	pid = fork();
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL); /* vigild blocks signals for signalfd */
		signal(SIGPIPE, SIG_DFL); /* vigild ignores it; an ignored signal survives exec */
		setsid();
		dup2(in[0], 0);
		dup2(log_fd, 1);
		dup2(log_fd, 2);
		execv(argv[0], argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(log_fd);
	if (pid < 0) {
		close(in[1]);
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -errno;
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
