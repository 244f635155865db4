// SPDX-License-Identifier: GPL-2.0
/*
 * sockdiag.c — cutting a process's open TCP and connected UDP sockets with
 * sock_diag SOCK_DESTROY, from inside its network namespace.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "confine/sockdiag.h"
#include "core/util.h"

#define TCP_LISTEN 10
#define TCP_EST	   1

struct inode_set {
	uint64_t *v;
	unsigned n, cap;
};

static bool inode_set_has(const struct inode_set *s, uint64_t ino)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->v[i] == ino)
			return true;
	return false;
}

static void socket_inodes(pid_t pid, struct inode_set *s)
{
	char dir[64], link[384], target[64];
	DIR *d;
	struct dirent *de;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		ssize_t n;
		unsigned long long ino;

		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = 0;
		if (sscanf(target, "socket:[%llu]", &ino) != 1 || inode_set_has(s, ino))
			continue;
		if (s->n == s->cap) {
			uint64_t *nv = realloc(s->v, (s->cap = s->cap ? s->cap * 2 : 32) * 8);

			if (!nv)
				break;
			s->v = nv;
		}
		s->v[s->n++] = ino;
	}
	closedir(d);
}

struct diag_req {
	struct nlmsghdr nlh;
	struct inet_diag_req_v2 r;
};

static int diag_send(int fd, uint16_t type, uint16_t flags, uint8_t family, uint8_t proto,
		     uint32_t states, const struct inet_diag_sockid *id)
{
	struct diag_req req = {
	    .nlh = {.nlmsg_len = sizeof(req),
		    .nlmsg_type = type,
		    .nlmsg_flags = NLM_F_REQUEST | flags},
	    .r = {.sdiag_family = family, .sdiag_protocol = proto, .idiag_states = states}};
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};

	if (id)
		req.r.id = *id;
	return sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno
											: 0;
}

struct victim {
	struct inet_diag_sockid id;
	uint8_t family, proto, state;
};

/* Dump family/proto and collect the sockets whose inode is in s. */
static int diag_collect(int fd, uint8_t family, uint8_t proto, const struct inode_set *s,
			struct victim **v, unsigned *n)
{
	static char buf[32768];
	int r = diag_send(fd, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, family, proto, ~0u, NULL);

	while (r == 0) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (len < 0)
			return errno == EINTR ? 0 : -errno;
		for (; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			struct inet_diag_msg *m = NLMSG_DATA(h);
			struct victim *nv;

			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) /* e.g. ENOENT: no tcp_diag/udp_diag */
				return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
			if (!inode_set_has(s, m->idiag_inode) ||
			    (proto == IPPROTO_TCP && m->idiag_state == TCP_LISTEN) ||
			    (proto == IPPROTO_UDP && m->idiag_state != TCP_EST))
				continue;
			nv = realloc(*v, (*n + 1) * sizeof(**v));
			if (!nv)
				return -ENOMEM;
			*v = nv;
			nv[*n] = (struct victim){m->id, family, proto, m->idiag_state};
			(*n)++;
		}
	}
	return r;
}

static int destroy_sockets_here(const struct inode_set *s)
{
	static const uint8_t fams[] = {AF_INET, AF_INET6}, protos[] = {IPPROTO_TCP, IPPROTO_UDP};
	_cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	struct victim *v = NULL;
	unsigned n = 0;
	int cut = 0, failed = 0, r;

	if (fd < 0)
		return -errno;
	/* a table that cannot be listed is a failure to report, not "nothing to cut" */
	for (int f = 0; f < 2; f++)
		for (int p = 0; p < 2; p++)
			if ((r = diag_collect(fd, fams[f], protos[p], s, &v, &n)) < 0 && !failed)
				failed = r;
	for (unsigned i = 0; i < n; i++) {
		char buf[512];
		struct nlmsghdr *h = (struct nlmsghdr *)buf;
		int e;

		if (diag_send(fd, SOCK_DESTROY, NLM_F_ACK, v[i].family, v[i].proto,
			      1u << v[i].state, &v[i].id) < 0)
			continue;
		if (recv(fd, buf, sizeof(buf), 0) <= 0 || h->nlmsg_type != NLMSG_ERROR)
			continue;
		e = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
		if (e == 0)
			cut++;
		else if (e != -ENOENT) /* gone meanwhile: nothing to cut */
			failed = failed ? failed : e;
	}
	free(v);
	/* EPERM without CAP_NET_ADMIN; EOPNOTSUPP without CONFIG_INET_DIAG_DESTROY */
	return failed && !cut ? failed : cut;
}

struct netns_job {
	int ns_fd;
	const struct inode_set *set;
	int cut;
};

/* A thread of its own: setns() moves only the calling thread, and it ends with the job. */
static void *destroy_sockets_in_ns(void *arg)
{
	struct netns_job *j = arg;

	j->cut = setns(j->ns_fd, CLONE_NEWNET) < 0 ? -errno : destroy_sockets_here(j->set);
	return NULL;
}

/*
 * Sockets live in the target's network namespace: do it from there, on a
 * short-lived thread that setns() (CAP_SYS_ADMIN) — not a forked child of
 * this multi-threaded daemon, which would allocate between fork and exit.
 * Returns the count or -errno.
 */
static int destroy_sockets(pid_t in_ns_of, const struct inode_set *s)
{
	char mine[64] = "", theirs[64] = "", path[64];
	_cleanup_close_ int ns = -1;
	struct netns_job j = {.set = s, .cut = -EIO};
	pthread_t t;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", in_ns_of);
	if (readlink("/proc/self/ns/net", mine, sizeof(mine) - 1) < 0 ||
	    readlink(path, theirs, sizeof(theirs) - 1) < 0 || !strcmp(mine, theirs))
		return destroy_sockets_here(s);
	ns = j.ns_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		return -errno;
	r = pthread_create(&t, NULL, destroy_sockets_in_ns, &j);
	if (r)
		return -r;
	pthread_join(t, NULL);
	return j.cut;
}

int sockdiag_destroy_sockets_of(pid_t pid)
{
	struct inode_set s = {0};
	int r = 0;

	socket_inodes(pid, &s);
	if (s.n)
		r = destroy_sockets(pid, &s);
	free(s.v);
	return r;
}
