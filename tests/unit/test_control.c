// SPDX-License-Identifier: GPL-2.0
/* The control socket's server side, driven in-process: a real socket, real clients. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/control.h"
#include "core/util.h"

struct fixture {
	char dir[32], path[64];
	struct control *c;
	unsigned calls;	  /* handler runs */
	size_t reply_pad; /* bytes of padding in the handler's reply */
};

static json_t *handler(void *ctx, const char *cmd, json_t *req, const struct control_peer *peer)
{
	struct fixture *f = ctx;
	char *pad = calloc(1, f->reply_pad + 1);
	json_t *r;

	f->calls++;
	memset(pad, 'p', f->reply_pad);
	r = json_pack("{s:b, s:s, s:s}", "ok", 1, "cmd", cmd, "pad", pad);
	free(pad);
	return r;
}

static void start(struct fixture *f, const struct control_limits *lim)
{
	int r;

	memset(f, 0, sizeof(*f));
	strcpy(f->dir, "/tmp/vigil-control-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/s.sock", f->dir);
	r = control_new(f->path, lim, handler, f, &f->c);
	if (r == -EPERM && geteuid() != 0) { /* group vigil exists: only root gives it the socket */
		rmdir(f->dir);
		skip();
	}
	assert_int_equal(r, 0);
}

static void stop(struct fixture *f)
{
	f->c = control_free(f->c);
	rmdir(f->dir);
}

static int client(const struct fixture *f)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, f->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Serve until fd is readable (the reply, or EOF) or ~3 s went by; then what it reads. */
static ssize_t serve_and_read(struct fixture *f, int fd, char *buf, size_t len)
{
	for (int i = 0; i < 300; i++) {
		struct pollfd p[2] = {{.fd = control_fd(f->c), .events = POLLIN},
				      {.fd = fd, .events = POLLIN}};

		poll(p, 2, 10);
		if (p[0].revents)
			control_serve(f->c);
		if (p[1].revents) {
			ssize_t n = recv(fd, buf, len - 1, MSG_DONTWAIT);

			buf[n > 0 ? n : 0] = 0;
			return n;
		}
	}
	return -ETIMEDOUT;
}

static void serve_a_while(struct fixture *f, int rounds)
{
	for (int i = 0; i < rounds; i++) {
		struct pollfd p = {.fd = control_fd(f->c), .events = POLLIN};

		if (poll(&p, 1, 10) > 0)
			control_serve(f->c);
	}
}

static void test_control_serve_answers_one_line(void **state)
{
	struct fixture f;
	struct control_stats st;
	char buf[4096];
	int fd;

	start(&f, NULL);
	fd = client(&f);
	assert_int_equal(send(fd, "{\"cmd\":\"status\"}\n", 17, 0), 17);
	assert_true(serve_and_read(&f, fd, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"ok\":true,\"cmd\":\"status\",\"pad\":\"\"}\n");
	serve_a_while(&f, 5);
	control_stats(f.c, &st);
	assert_int_equal(st.served, 1);
	assert_int_equal(st.clients, 0);
	close(fd);
	stop(&f);
}

static void test_control_serve_reply_over_cap_is_an_error_reply(void **state)
{
	const struct control_limits lim = {4, 0, 1000, 1024, 256};
	struct fixture f;
	struct control_stats st;
	char buf[4096];
	json_t *r;
	int fd;

	start(&f, &lim);
	f.reply_pad = 1000;
	fd = client(&f);
	assert_int_equal(send(fd, "{\"cmd\":\"events\"}\n", 17, 0), 17);
	assert_true(serve_and_read(&f, fd, buf, sizeof(buf)) > 0);
	r = json_loads(buf, 0, NULL); /* whole, valid JSON: not the first 256 bytes of the reply */
	assert_non_null(r);
	assert_true(json_is_false(json_object_get(r, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "reply too large"));
	json_decref(r);
	control_stats(f.c, &st);
	assert_int_equal(st.reply_too_large, 1);
	close(fd);
	stop(&f);
}

static void test_control_serve_request_over_cap_is_refused_unparsed(void **state)
{
	const struct control_limits lim = {4, 0, 1000, 128, 4096};
	struct fixture f;
	struct control_stats st;
	char req[200], buf[4096];
	int fd;

	start(&f, &lim);
	memset(req, 'x', sizeof(req));
	fd = client(&f);
	assert_int_equal(send(fd, req, sizeof(req), 0), sizeof(req));
	assert_true(serve_and_read(&f, fd, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "request too large"));
	assert_int_equal(f.calls, 0);
	control_stats(f.c, &st);
	assert_int_equal(st.too_large, 1);
	close(fd);
	stop(&f);
}

static void test_control_serve_silent_client_dropped_at_deadline(void **state)
{
	const struct control_limits lim = {4, 0, 100, 1024, 4096};
	struct fixture f;
	struct control_stats st;
	char buf[64];
	int fd;

	start(&f, &lim);
	fd = client(&f);
	assert_int_equal(serve_and_read(&f, fd, buf, sizeof(buf)), 0); /* EOF, no reply */
	control_stats(f.c, &st);
	assert_int_equal(st.timed_out, 1);
	assert_int_equal(st.clients, 0);
	close(fd);
	stop(&f);
}

static void test_control_serve_over_max_clients_is_busy(void **state)
{
	const struct control_limits lim = {1, 0, 1000, 1024, 4096};
	struct fixture f;
	struct control_stats st;
	char buf[256];
	int first, second;

	start(&f, &lim);
	first = client(&f);
	serve_a_while(&f, 5); /* the first holds the only slot */
	second = client(&f);
	assert_true(serve_and_read(&f, second, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "busy"));
	control_stats(f.c, &st);
	assert_int_equal(st.busy, 1);
	assert_int_equal(st.clients, 1);
	close(first);
	close(second);
	stop(&f);
}

/* Without MSG_NOSIGNAL the reply's send would raise SIGPIPE and end this process. */
static void test_control_serve_hang_up_before_reply_is_counted(void **state)
{
	struct fixture f;
	struct control_stats st;
	int fd;

	start(&f, NULL);
	f.reply_pad = 1 << 20; /* more than the socket takes at once */
	fd = client(&f);
	assert_int_equal(send(fd, "{\"cmd\":\"status\"}\n", 17, 0), 17);
	close(fd);
	serve_a_while(&f, 20);
	control_stats(f.c, &st);
	assert_int_equal(f.calls, 1);
	assert_int_equal(st.hung_up, 1);
	assert_int_equal(st.served, 0);
	assert_int_equal(st.clients, 0);
	stop(&f);
}

/* Out of fds: the pending connection is taken and closed, not left to spin the loop. */
static void test_control_serve_out_of_fds_sheds_the_connection(void **state)
{
	struct fixture f;
	struct control_stats st;
	struct rlimit was, few;
	int fill[256], n = 0, fd;
	char buf[64];

	start(&f, NULL);
	fd = client(&f);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &was), 0);
	few = (struct rlimit){ARRAY_SIZE(fill), was.rlim_max};
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &few), 0);
	while (n < (int)ARRAY_SIZE(fill) && (fill[n] = dup(0)) >= 0)
		n++;
	assert_true(n < (int)ARRAY_SIZE(fill)); /* the fd limit was reached */
	serve_a_while(&f, 5);
	control_stats(f.c, &st);
	assert_int_equal(st.busy, 1);
	assert_int_equal(st.clients, 0);
	while (n)
		close(fill[--n]);
	setrlimit(RLIMIT_NOFILE, &was);
	assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), 0); /* hung up */
	close(fd);
	stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_control_serve_answers_one_line),
	    cmocka_unit_test(test_control_serve_reply_over_cap_is_an_error_reply),
	    cmocka_unit_test(test_control_serve_request_over_cap_is_refused_unparsed),
	    cmocka_unit_test(test_control_serve_silent_client_dropped_at_deadline),
	    cmocka_unit_test(test_control_serve_over_max_clients_is_busy),
	    cmocka_unit_test(test_control_serve_hang_up_before_reply_is_counted),
	    cmocka_unit_test(test_control_serve_out_of_fds_sheds_the_connection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
