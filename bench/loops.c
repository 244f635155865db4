// SPDX-License-Identifier: GPL-2.0
/*
 * loops — the workloads bench/run.sh times: an open/read/close loop, a
 * fork+exec loop and a TCP connect loop to a loopback listener.
 * Prints ns per operation.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *acceptor(void *arg)
{
	int srv = *(int *)arg;

	for (;;) {
		int c = accept(srv, NULL, NULL);

		if (c < 0)
			return NULL;
		close(c);
	}
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 0;
	char buf[1];
	double t0, t;

	if (argc < 3) {
		fprintf(stderr, "usage: loops open PATH N [RATE] | exec N | connect N\n");
		return 2;
	}
	if (!strcmp(argv[1], "open")) {
		double rate = argc > 4 ? atof(argv[4]) : 0; /* opens/s, 0 = flat out */

		n = atol(argv[3]);
		t0 = now();
		for (long i = 0; i < n; i++) {
			int fd = open(argv[2], O_RDONLY);

			if (fd < 0 || read(fd, buf, 1) < 0)
				return 1;
			close(fd);
			while (rate && now() - t0 < i / rate)
				;
		}
	} else if (!strcmp(argv[1], "exec")) {
		t0 = now();
		for (long i = 0; i < n; i++) {
			pid_t p = fork();

			if (p == 0) {
				execl("/bin/true", "true", NULL);
				_exit(127);
			}
			waitpid(p, NULL, 0);
		}
	} else {
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t sl = sizeof(sa);
		int srv = socket(AF_INET, SOCK_STREAM, 0), one = 1;
		pthread_t th;

		setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(srv, (void *)&sa, sizeof(sa)) || listen(srv, 4096) ||
		    getsockname(srv, (void *)&sa, &sl))
			return 1;
		pthread_create(&th, NULL, acceptor, &srv);
		t0 = now();
		for (long i = 0; i < n; i++) {
			int c = socket(AF_INET, SOCK_STREAM, 0);
			struct linger lg = { 1, 0 }; /* RST on close: no TIME_WAIT pile-up */

			if (connect(c, (void *)&sa, sizeof(sa)))
				return 1;
			setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(c);
		}
	}
	t = now() - t0;
	printf("%.0f\n", t * 1e9 / n);
	return 0;
}
