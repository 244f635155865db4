// SPDX-License-Identifier: GPL-2.0
/*
 * proc_tree.c — process trees read from /proc at the moment of acting, the
 * guard rails, and signalling a tree through pidfds.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "sense/proc_tree.h"
#include "core/util.h"

#define PF_KTHREAD  0x00200000
#define STOP_ROUNDS 8

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

int pid_reused_error(pid_t pid, const char *gone, char *err, size_t errlen)
{
	snprintf(err, errlen, "pid %d was reused: %s is gone, another process runs as %d now", pid,
		 gone ? gone : "the process it named", pid);
	return -ESTALE;
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

static int tree_error(pid_t root, int r, char *err, size_t errlen)
{
	if (r == -ESTALE)
		return pid_reused_error(root, NULL, err, errlen);
	snprintf(err, errlen, "process %d: %s", root,
		 r == -ESRCH ? "no such process" : strerror(-r));
	return r;
}

int proc_tree_read_of(pid_t root, uint64_t start, bool tree, struct proc_tree *out, char *err,
		      size_t errlen)
{
	int r = read_tree(root, start, tree, out);

	return r < 0 ? tree_error(root, r, err, errlen) : 0;
}

int proc_parent_pid(pid_t pid, pid_t *ret)
{
	struct pstat ps;
	int r = read_pstat(pid, &ps);

	if (r == 0)
		*ret = ps.ppid;
	return r;
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

int proc_tree_signal(const struct guard *g, pid_t root, uint64_t start, bool tree,
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
	if (r < 0)
		return tree_error(root, r, err, errlen);
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
