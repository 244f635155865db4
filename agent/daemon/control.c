// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>

#include "daemon/control.h"
#include "core/util.h"

#define TAG_LISTEN    UINT64_MAX
#define TAG_TIMER     (UINT64_MAX - 1)
#define ACCEPT_BATCH  16 /* connections taken per call: the ring buffer is drained in between */
#define REQ_CHUNK     4096
#define CALL_WAIT_MS  10000 /* the CLI's patience per read: above the daemon's deadline */
#define CALL_REPLY_IN (64u << 10)

#define DENIED_LINE                                                                            \
	"{\"ok\":false,\"error\":\"permission denied: needs root or group " CONTROL_READ_GROUP \
	" (" CONTROL_ADMIN_GROUP " to act)\"}\n"
#define BUSY_LINE "{\"ok\":false,\"error\":\"busy: too many clients, try again\"}\n"

enum client_state { CL_FREE, CL_READ, CL_WRITE };

/* One connection: the request being read into buf, then the reply being written from it. */
struct client {
	enum client_state state;
	int fd;
	struct control_peer peer;
	uint64_t deadline_ns; /* CLOCK_MONOTONIC */
	char *buf;
	size_t len, cap, off;
};

struct control {
	char *path;
	int fd, ep, tfd;
	int spare_fd; /* given up to accept-and-close when out of fds */
	gid_t read_gid, admin_gid;
	bool have_read_gid, have_admin_gid;
	struct control_limits lim;
	struct control_stats st;
	control_handler fn;
	void *ctx;
	struct client *cl; /* lim.max_clients slots */
};

static const char *const acting_cmds[] = {"contain", "release", "rules-reload"};

bool control_cmd_is_acting(const char *cmd)
{
	for (size_t i = 0; i < ARRAY_SIZE(acting_cmds); i++)
		if (!strcmp(cmd, acting_cmds[i]))
			return true;
	return false;
}

static bool lookup_gid(const char *name, gid_t *ret)
{
	struct group *g = getgrnam(name);

	if (g)
		*ret = g->gr_gid;
	return g != NULL;
}

static int watch(struct control *c, int fd, uint32_t events, uint64_t tag, int op)
{
	struct epoll_event e = {.events = events, .data.u64 = tag};

	return epoll_ctl(c->ep, op, fd, &e) < 0 ? -errno : 0;
}

static int listen_on(struct control *c, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return -errno;
	unlink(path); /* a stale socket from a previous run; the lock guards a live one */
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(c->fd, 64) < 0)
		return -errno;
	/* group members may connect; the peer check at accept is what grants access */
	if (chmod(path, c->have_read_gid ? 0660 : 0600) < 0 ||
	    (c->have_read_gid && chown(path, 0, c->read_gid) < 0))
		return -errno;
	return 0;
}

int control_new(const char *path, const struct control_limits *limits, control_handler fn,
		void *ctx, struct control **ret)
{
	static const struct control_limits defaults = {CONTROL_MAX_CLIENTS, CONTROL_ADMIN_SLOTS,
						       CONTROL_TIMEOUT_MS, CONTROL_REQUEST_MAX,
						       CONTROL_REPLY_MAX};
	struct control *c;
	int r;

	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = c->ep = c->tfd = -1;
	c->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	c->fn = fn;
	c->ctx = ctx;
	c->lim = limits ? *limits : defaults;
	if (c->lim.reply_max < CONTROL_REPLY_MIN) /* room for the error that replaces a big reply */
		c->lim.reply_max = CONTROL_REPLY_MIN;
	c->path = strdup(path);
	c->cl = calloc(c->lim.max_clients, sizeof(*c->cl));
	c->have_read_gid = lookup_gid(CONTROL_READ_GROUP, &c->read_gid);
	c->have_admin_gid = lookup_gid(CONTROL_ADMIN_GROUP, &c->admin_gid);
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	c->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (!c->path || !c->cl || c->ep < 0 || c->tfd < 0) {
		r = c->ep < 0 || c->tfd < 0 ? -errno : -ENOMEM;
		goto fail;
	}
	r = listen_on(c, path);
	if (r == 0)
		r = watch(c, c->fd, EPOLLIN, TAG_LISTEN, EPOLL_CTL_ADD);
	if (r == 0)
		r = watch(c, c->tfd, EPOLLIN, TAG_TIMER, EPOLL_CTL_ADD);
	if (r < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	control_free(c);
	return r;
}

static void client_close(struct control *c, struct client *cl)
{
	close(cl->fd); /* leaves the epoll set with it */
	free(cl->buf);
	*cl = (struct client){.state = CL_FREE, .fd = -1};
	c->st.clients--;
}

struct control *control_free(struct control *c)
{
	if (!c)
		return NULL;
	for (unsigned i = 0; c->cl && i < c->lim.max_clients; i++)
		if (c->cl[i].state != CL_FREE)
			client_close(c, &c->cl[i]);
	if (c->fd >= 0) {
		close(c->fd);
		unlink(c->path);
	}
	if (c->ep >= 0)
		close(c->ep);
	if (c->tfd >= 0)
		close(c->tfd);
	if (c->spare_fd >= 0)
		close(c->spare_fd);
	free(c->cl);
	free(c->path);
	free(c);
	return NULL;
}

int control_fd(const struct control *c)
{
	return c->ep;
}

void control_stats(const struct control *c, struct control_stats *ret)
{
	*ret = c->st;
}

static void peer_identity(struct control *c, int fd, struct control_peer *peer)
{
	struct ucred cred = {.uid = (uid_t)-1};
	socklen_t len = sizeof(cred);
	gid_t groups[256];
	socklen_t glen = sizeof(groups);
	unsigned n;

	memset(peer, 0, sizeof(*peer));
	peer->uid = (uid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return;
	peer->uid = cred.uid;
	peer->pid = cred.pid;
	if (cred.uid == 0) {
		peer->can_read = peer->can_act = true;
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) < 0)
		glen = 0;
	n = glen / sizeof(gid_t);
	groups[n < 256 ? n : 255] = cred.gid; /* the primary group counts too */
	for (unsigned i = 0; i <= n && i < 256; i++) {
		if (c->have_read_gid && groups[i] == c->read_gid)
			peer->can_read = true;
		if (c->have_admin_gid && groups[i] == c->admin_gid)
			peer->can_read = peer->can_act = true;
	}
}

/* A refusal before any work: one short line (a fresh socket's buffer takes it), then close. */
static void refuse(int fd, const char *line)
{
	if (send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* the peer is gone already: nothing to tell */
	}
	close(fd);
}

/* The last admin_slots are kept for peers that may act: readers cannot lock responders out. */
static struct client *free_slot(struct control *c, const struct control_peer *peer)
{
	unsigned n = c->lim.max_clients;

	if (!peer->can_act && c->lim.admin_slots < n)
		n -= c->lim.admin_slots;
	for (unsigned i = 0; i < n; i++)
		if (c->cl[i].state == CL_FREE)
			return &c->cl[i];
	return NULL;
}

static void admit(struct control *c, int fd)
{
	struct control_peer peer;
	struct client *cl;

	peer_identity(c, fd, &peer);
	if (!peer.can_read) {
		c->st.denied++;
		refuse(fd, DENIED_LINE);
		return;
	}
	cl = free_slot(c, &peer);
	if (!cl) {
		c->st.busy++;
		refuse(fd, BUSY_LINE);
		return;
	}
	if (watch(c, fd, EPOLLIN, cl - c->cl, EPOLL_CTL_ADD) < 0) {
		close(fd);
		return;
	}
	*cl = (struct client){.state = CL_READ,
			      .fd = fd,
			      .peer = peer,
			      .deadline_ns =
				  clock_ns(CLOCK_MONOTONIC) + c->lim.timeout_ms * 1000000ull};
	c->st.clients++;
}

/*
 * Out of fds, a pending connection would keep the listening socket readable
 * and the loop spinning: give up the spare fd, take the connection and close
 * it (the client sees a hang-up, counted busy), then take the spare back.
 */
static void shed_connection(struct control *c)
{
	if (c->spare_fd < 0)
		return;
	close(c->spare_fd);
	c->spare_fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
	if (c->spare_fd >= 0) {
		close(c->spare_fd);
		c->st.busy++;
	}
	c->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void accept_clients(struct control *c)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0 && (errno == EMFILE || errno == ENFILE))
			shed_connection(c);
		if (fd < 0)
			return;
		admit(c, fd);
	}
}

static json_t *error_reply(const char *msg)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

/* The request is the NUL-terminated line in cl->buf; the peer may read. */
static json_t *answer(struct control *c, struct client *cl)
{
	json_error_t jerr;
	json_t *req = json_loads(cl->buf, JSON_REJECT_DUPLICATES, &jerr), *resp;
	const char *cmd = json_string_value(json_object_get(req, "cmd"));

	if (!cmd)
		resp = error_reply("malformed request: expected {\"cmd\": \"...\"}");
	else if (control_cmd_is_acting(cmd) && !cl->peer.can_act)
		resp = error_reply("permission denied: needs root or group " CONTROL_ADMIN_GROUP);
	else
		resp = c->fn(c->ctx, cmd, req, &cl->peer);
	json_decref(req);
	return resp ? resp : error_reply("internal error");
}

/* The reply as one line; over the cap, an error in its place (never a cut, invalid line). */
static char *reply_line(struct control *c, json_t *resp, size_t *ret_len)
{
	char *out = json_dumps(resp, JSON_COMPACT), *line;
	size_t n = out ? strlen(out) : 0;

	json_decref(resp);
	if (out && n + 1 > c->lim.reply_max) {
		char msg[128];

		free(out);
		c->st.reply_too_large++;
		snprintf(msg, sizeof(msg), "reply too large (%zu bytes, the limit is %zu)", n + 1,
			 c->lim.reply_max);
		return reply_line(c, error_reply(msg), ret_len);
	}
	line = out ? realloc(out, n + 2) : NULL;
	if (!line) {
		free(out);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = 0;
	*ret_len = n + 1;
	return line;
}

static void send_reply(struct control *c, struct client *cl);

/* Switch to writing resp; the request buffer is done with. */
static void start_reply(struct control *c, struct client *cl, json_t *resp)
{
	size_t len;
	char *line = reply_line(c, resp, &len);

	if (!line || watch(c, cl->fd, EPOLLOUT, cl - c->cl, EPOLL_CTL_MOD) < 0) {
		free(line);
		client_close(c, cl);
		return;
	}
	free(cl->buf);
	cl->buf = line;
	cl->len = len;
	cl->off = 0;
	cl->state = CL_WRITE;
	send_reply(c, cl); /* most replies fit the socket buffer at once */
}

static void send_reply(struct control *c, struct client *cl)
{
	while (cl->off < cl->len) {
		ssize_t n = send(cl->fd, cl->buf + cl->off, cl->len - cl->off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return; /* EPOLLOUT brings us back */
		if (n <= 0) {
			c->st.hung_up++;
			client_close(c, cl);
			return;
		}
		cl->off += n;
	}
	c->st.served++;
	client_close(c, cl);
}

/* Room for one more chunk; false when the request already fills request_max. */
static bool grow_request(struct control *c, struct client *cl)
{
	size_t cap = cl->cap ? cl->cap * 2 : REQ_CHUNK;
	char *b;

	if (cl->len < cl->cap)
		return true;
	if (cl->len >= c->lim.request_max)
		return false;
	if (cap > c->lim.request_max)
		cap = c->lim.request_max;
	b = realloc(cl->buf, cap + 1); /* + its NUL */
	if (!b)
		return false;
	cl->buf = b;
	cl->cap = cap;
	return true;
}

static void read_request(struct control *c, struct client *cl)
{
	for (;;) {
		ssize_t n;
		char *nl;

		if (!grow_request(c, cl)) {
			c->st.too_large++;
			start_reply(c, cl, error_reply("request too large"));
			return;
		}
		n = recv(cl->fd, cl->buf + cl->len, cl->cap - cl->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0 || (n == 0 && !cl->len)) {
			c->st.hung_up++;
			client_close(c, cl);
			return;
		}
		nl = memchr(cl->buf + cl->len, '\n', n);
		cl->len += n;
		if (nl || n == 0) { /* a line, or all the peer will send */
			*(nl ? nl : cl->buf + cl->len) = 0;
			start_reply(c, cl, answer(c, cl));
			return;
		}
	}
}

static void expire(struct control *c)
{
	uint64_t now = clock_ns(CLOCK_MONOTONIC), next = 0;
	struct itimerspec its = {{0, 0}, {0, 0}};

	for (unsigned i = 0; i < c->lim.max_clients; i++) {
		struct client *cl = &c->cl[i];

		if (cl->state == CL_FREE)
			continue;
		if (cl->deadline_ns <= now) {
			c->st.timed_out++;
			client_close(c, cl);
		} else if (!next || cl->deadline_ns < next) {
			next = cl->deadline_ns;
		}
	}
	/* the next deadline wakes the loop; none pending: disarmed */
	its.it_value.tv_sec = next / 1000000000ull;
	its.it_value.tv_nsec = next % 1000000000ull;
	timerfd_settime(c->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

void control_serve(struct control *c)
{
	struct epoll_event evs[16];
	int n = epoll_wait(c->ep, evs, ARRAY_SIZE(evs), 0);
	uint64_t ticks;

	for (int i = 0; i < n; i++) {
		uint64_t tag = evs[i].data.u64;
		struct client *cl;

		if (tag == TAG_LISTEN) {
			accept_clients(c);
			continue;
		}
		if (tag == TAG_TIMER) {
			if (read(c->tfd, &ticks, sizeof(ticks)) < 0) {
				/* EAGAIN: re-armed meanwhile; expire() below looks anyway */
			}
			continue;
		}
		cl = &c->cl[tag]; /* may have been closed (or reused) earlier in this batch */
		if (cl->state == CL_READ)
			read_request(c, cl);
		else if (cl->state == CL_WRITE)
			send_reply(c, cl);
	}
	expire(c);
}

/* ---- client side (the CLI): blocking, with a bound on every wait ---- */

static int send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		s += w;
		n -= w;
	}
	return 0;
}

/* The reply line into *buf (grown up to CONTROL_REPLY_MAX); its length or -errno. */
static ssize_t read_reply(int fd, char **buf)
{
	size_t got = 0, cap = 0;

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (got == cap) {
			char *b;

			if (cap >= CONTROL_REPLY_MAX)
				return -EMSGSIZE;
			cap = cap ? cap * 2 : CALL_REPLY_IN;
			b = realloc(*buf, cap + 1);
			if (!b)
				return -ENOMEM;
			*buf = b;
		}
		if (poll(&pfd, 1, CALL_WAIT_MS) == 0)
			return -ETIMEDOUT;
		n = recv(fd, *buf + got, cap - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && got && errno == ECONNRESET)
			n = 0; /* the daemon closed with our request unread: what came is the reply */
		if (n < 0)
			return -errno;
		got += n;
		if (n == 0 || memchr(*buf + got - n, '\n', n))
			break;
	}
	(*buf)[got] = 0;
	return got;
}

json_t *control_call(const char *path, json_t *req, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	_cleanup_free_ char *buf = NULL;
	_cleanup_free_ char *out = json_dumps(req, JSON_COMPACT);
	json_error_t jerr;
	json_t *resp;
	ssize_t n;

	if (fd < 0 || !out || strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: cannot create socket", path);
		return NULL;
	}
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "cannot reach vigild at %s: %s (is it running? try --socket)",
			 path, strerror(errno));
		return NULL;
	}
	/* a refusal may already be waiting, sent before our request went: read it anyway */
	if (send_all(fd, out, strlen(out)) == 0)
		send_all(fd, "\n", 1);
	n = read_reply(fd, &buf);
	if (n <= 0) {
		snprintf(err, errlen, "%s: no answer from vigild%s%s", path, n < 0 ? ": " : "",
			 n < 0 ? strerror(-n) : "");
		return NULL;
	}
	resp = json_loads(buf, 0, &jerr);
	if (!resp)
		snprintf(err, errlen, "%s: malformed answer from vigild: %s", path, jerr.text);
	return resp;
}
