// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "vigil/control.h"
#include "vigil/log.h"
#include "vigil/util.h"

#define REQ_MAX	      65536
#define IO_TIMEOUT_MS 2000

struct control {
	char *path;
	int fd;
	gid_t read_gid, admin_gid;
	bool have_read_gid, have_admin_gid;
	control_handler fn;
	void *ctx;
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

int control_new(const char *path, control_handler fn, void *ctx, struct control **ret)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct control *c;
	int r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->ctx = ctx;
	c->path = strdup(path);
	c->have_read_gid = lookup_gid(CONTROL_READ_GROUP, &c->read_gid);
	c->have_admin_gid = lookup_gid(CONTROL_ADMIN_GROUP, &c->admin_gid);
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0 || !c->path) {
		r = -errno;
		goto fail;
	}
	unlink(path); /* a stale socket from a previous run; the lock guards a live one */
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(c->fd, 16) < 0) {
		r = -errno;
		goto fail;
	}
	/* group members may connect; the per-command check is what grants access */
	if (chmod(path, c->have_read_gid ? 0660 : 0600) < 0 ||
	    (c->have_read_gid && chown(path, 0, c->read_gid) < 0)) {
		r = -errno;
		goto fail;
	}
	*ret = c;
	return 0;
fail:
	control_free(c);
	return r;
}

struct control *control_free(struct control *c)
{
	if (!c)
		return NULL;
	if (c->fd >= 0) {
		close(c->fd);
		unlink(c->path);
	}
	free(c->path);
	free(c);
	return NULL;
}

int control_fd(const struct control *c)
{
	return c->fd;
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

static ssize_t read_line(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got + 1 < len) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, IO_TIMEOUT_MS) <= 0)
			return -ETIMEDOUT;
		n = read(fd, buf + got, len - 1 - got);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		got += n;
		if (memchr(buf + got - n, '\n', n))
			break;
	}
	buf[got] = 0;
	return got;
}

static void write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= w;
	}
}

static json_t *error_reply(const char *msg)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

void control_serve(struct control *c)
{
	_cleanup_close_ int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	struct control_peer peer;
	json_error_t jerr;
	json_t *req = NULL, *resp;
	const char *cmd = NULL;
	char *out;

	if (fd < 0)
		return;
	peer_identity(c, fd, &peer);
	buf = malloc(REQ_MAX);
	if (!buf || read_line(fd, buf, REQ_MAX) <= 0)
		return;
	req = json_loads(buf, JSON_REJECT_DUPLICATES, &jerr);
	if (req && json_is_string(json_object_get(req, "cmd")))
		cmd = json_string_value(json_object_get(req, "cmd"));
	if (!cmd)
		resp = error_reply("malformed request: expected {\"cmd\": \"...\"}");
	else if (!peer.can_read || (control_cmd_is_acting(cmd) && !peer.can_act))
		resp =
		    error_reply(control_cmd_is_acting(cmd)
				    ? "permission denied: needs root or group " CONTROL_ADMIN_GROUP
				    : "permission denied: needs root or group " CONTROL_READ_GROUP);
	else
		resp = c->fn(c->ctx, cmd, req, &peer);
	if (!resp)
		resp = error_reply("internal error");
	out = json_dumps(resp, JSON_COMPACT);
	if (out) {
		write_all(fd, out, strlen(out));
		write_all(fd, "\n", 1);
		free(out);
	}
	json_decref(resp);
	json_decref(req);
}

json_t *control_call(const char *path, json_t *req, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	_cleanup_free_ char *buf = malloc(1 << 20);
	_cleanup_free_ char *out = json_dumps(req, JSON_COMPACT);
	json_error_t jerr;
	json_t *resp;

	if (fd < 0 || !buf || !out || strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: cannot create socket", path);
		return NULL;
	}
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "cannot reach vigild at %s: %s (is it running? try --socket)",
			 path, strerror(errno));
		return NULL;
	}
	write_all(fd, out, strlen(out));
	write_all(fd, "\n", 1);
	if (read_line(fd, buf, 1 << 20) <= 0) {
		snprintf(err, errlen, "%s: no answer from vigild", path);
		return NULL;
	}
	resp = json_loads(buf, 0, &jerr);
	if (!resp)
		snprintf(err, errlen, "%s: malformed answer from vigild: %s", path, jerr.text);
	return resp;
}
