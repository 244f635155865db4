// SPDX-License-Identifier: GPL-2.0
/*
 * Webhook retry classification: which answers are delivered, retried or
 * dead-lettered, first as the table webhook_outcome holds, then end to end:
 * the real delivery thread (libcurl, the spool) POSTing to a receiver on
 * 127.0.0.1 that answers each request with the status the test scripts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "respond/spool.h"
#include "respond/webhook.h"

#define WAIT_MS 20000 /* bound on any wait for the delivery thread */

static void test_outcome_of_each_answer(void **state)
{
	static const long delivered[] = {200, 201, 202, 204, 299};
	static const long retried[] = {0, 408, 429, 500, 502, 503, 504, 599};
	static const long rejected[] = {100, 199, 300, 301, 304, 400, 401, 403, 404, 410, 422, 501};

	for (size_t i = 0; i < sizeof(delivered) / sizeof(*delivered); i++)
		assert_int_equal(webhook_outcome(delivered[i]), WEBHOOK_DELIVERED);
	for (size_t i = 0; i < sizeof(retried) / sizeof(*retried); i++)
		assert_int_equal(webhook_outcome(retried[i]), WEBHOOK_RETRY);
	for (size_t i = 0; i < sizeof(rejected) / sizeof(*rejected); i++)
		assert_int_equal(webhook_outcome(rejected[i]), WEBHOOK_REJECTED);
}

/* A loopback receiver: the n-th request gets answers[n] (the last one repeats). */
struct receiver {
	int fd, port;
	const int *answers;
	unsigned nanswers;
	pthread_t thread;
	pthread_mutex_t mu;
	unsigned requests;
};

/* Read one request (headers, then Content-Length bytes of body); false on EOF. */
static bool read_request(int c)
{
	char buf[8192], *end, *cl;
	size_t have = 0, want;
	ssize_t n;

	while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
		n = read(c, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			return false;
		have += n;
	}
	buf[have] = 0;
	cl = strcasestr(buf, "content-length:");
	want = (end + 4 - buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
	while (have < want && have < sizeof(buf) - 1 && (n = read(c, buf + have, 1)) > 0)
		have += n;
	return true;
}

static void *receive(void *arg)
{
	struct receiver *rv = arg;
	int c;

	while ((c = accept(rv->fd, NULL, NULL)) >= 0) {
		while (read_request(c)) {
			char resp[128];
			unsigned i;

			pthread_mutex_lock(&rv->mu);
			i = rv->requests++;
			pthread_mutex_unlock(&rv->mu);
			snprintf(resp, sizeof(resp),
				 "HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
				 rv->answers[i < rv->nanswers ? i : rv->nanswers - 1]);
			if (write(c, resp, strlen(resp)) <
			    0) /* no cmocka asserts off the main thread */
				break;
		}
		close(c);
	}
	return NULL;
}

/* A free loopback port; with listen, the socket stays open on it in *fd. */
static int loopback_port(bool listen_, int *fd)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	if (listen_) {
		assert_int_equal(listen(s, 8), 0);
		*fd = s;
	} else {
		close(s); /* nothing listens there now: connections are refused */
	}
	return ntohs(a.sin_port);
}

static void receiver_start(struct receiver *rv, const int *answers, unsigned n)
{
	memset(rv, 0, sizeof(*rv));
	rv->answers = answers;
	rv->nanswers = n;
	pthread_mutex_init(&rv->mu, NULL);
	rv->port = loopback_port(true, &rv->fd);
	assert_int_equal(pthread_create(&rv->thread, NULL, receive, rv), 0);
}

static void receiver_stop(struct receiver *rv)
{
	shutdown(rv->fd, SHUT_RDWR); /* accept returns: the thread ends */
	pthread_join(rv->thread, NULL);
	close(rv->fd);
	pthread_mutex_destroy(&rv->mu);
}

struct fixture {
	char dir[64];
	struct webhooks *w;
};

/* Endpoint "soc" at port; backoff capped at 20 ms so retries come quickly. */
static void start(struct fixture *f, int port)
{
	char url[64];
	struct webhook_def def = {.name = "soc", .url = url, .timeout_ms = 5000};
	struct playbook_set set = {.hooks = &def, .nhooks = 1};
	char err[512] = "";

	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-webhook-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", port);
	assert_int_equal(webhooks_new(f->dir, 1 << 20, 20, &f->w), 0);
	if (webhooks_configure(f->w, &set, err, sizeof(err)) < 0)
		fail_msg("webhooks_configure: %s", err);
}

static void stop(struct fixture *f)
{
	char cmd[128];

	webhooks_free(f->w);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
}

static json_int_t stat_of(struct fixture *f, const char *key)
{
	json_t *s = webhooks_stats(f->w);
	json_int_t v = json_integer_value(json_object_get(json_object_get(s, "soc"), key));

	json_decref(s);
	return v;
}

/* Wait (bounded) until the endpoint's counter key reaches at least want. */
static void wait_stat(struct fixture *f, const char *key, json_int_t want)
{
	for (int ms = 0; stat_of(f, key) < want; ms += 10) {
		if (ms > WAIT_MS)
			fail_msg("%s stayed at %lld, want %lld", key, (long long)stat_of(f, key),
				 (long long)want);
		nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
	}
}

static unsigned files_in(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += e->d_type == DT_REG;
	closedir(d);
	return n;
}

static void send_one(struct fixture *f, char *id)
{
	static const char body[] = "{\"rule\":{\"id\":\"VGL-0001\"}}";

	assert_int_equal(webhook_send(f->w, "soc", body, sizeof(body) - 1, id), 0);
}

/* answers: what the receiver says; then the counters and the spool after the last attempt. */
static void deliver(const int *answers, unsigned n, json_int_t delivered, json_int_t retries,
		    json_int_t failed)
{
	struct receiver rv;
	struct fixture f;
	char id[SPOOL_ID_MAX], failed_dir[128];

	receiver_start(&rv, answers, n);
	start(&f, rv.port);
	send_one(&f, id);
	wait_stat(&f, delivered ? "delivered" : "failed", 1);
	assert_int_equal(stat_of(&f, "delivered"), delivered);
	assert_int_equal(stat_of(&f, "retries"), retries);
	assert_int_equal(stat_of(&f, "failed"), failed);
	assert_int_equal(stat_of(&f, "attempts"), retries + 1);
	assert_int_equal(stat_of(&f, "last_status"), answers[n - 1]);
	assert_int_equal(stat_of(&f, "pending"), 0);
	snprintf(failed_dir, sizeof(failed_dir), "%s/soc/failed", f.dir);
	assert_int_equal(files_in(failed_dir), failed); /* the dead letter, kept */
	stop(&f);
	receiver_stop(&rv);
	assert_int_equal(rv.requests, n);
}

static void test_2xx_is_delivered_and_leaves_the_spool(void **state)
{
	static const int answers[] = {204};

	deliver(answers, 1, 1, 0, 0);
}

static void test_5xx_408_429_are_retried_until_delivered(void **state)
{
	static const int answers[] = {503, 500, 408, 429, 200};

	deliver(answers, 5, 1, 4, 0);
}

static void test_4xx_and_501_are_dead_lettered_at_once(void **state)
{
	static const int not_found[] = {404}, not_implemented[] = {501},
			 retried_then_400[] = {502, 400};

	deliver(not_found, 1, 0, 0, 1);
	deliver(not_implemented, 1, 0, 0, 1);
	deliver(retried_then_400, 2, 0, 1, 1);
}

/* No answer at all (libcurl: connection refused) is retried; the message stays spooled. */
static void test_no_answer_is_retried_and_kept(void **state)
{
	struct fixture f;
	char id[SPOOL_ID_MAX];

	start(&f, loopback_port(false, NULL));
	send_one(&f, id);
	wait_stat(&f, "retries", 3);
	assert_int_equal(stat_of(&f, "delivered"), 0);
	assert_int_equal(stat_of(&f, "failed"), 0);
	assert_int_equal(stat_of(&f, "last_status"), 0);
	assert_int_equal(stat_of(&f, "pending"), 1);
	stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_outcome_of_each_answer),
	    cmocka_unit_test(test_2xx_is_delivered_and_leaves_the_spool),
	    cmocka_unit_test(test_5xx_408_429_are_retried_until_delivered),
	    cmocka_unit_test(test_4xx_and_501_are_dead_lettered_at_once),
	    cmocka_unit_test(test_no_answer_is_retried_and_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
