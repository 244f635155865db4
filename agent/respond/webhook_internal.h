/* SPDX-License-Identifier: GPL-2.0 */
/*
 * webhook_internal.h — respond: what webhook.c (loading libcurl, the
 * endpoints a reload starts, keeps or retires, webhook_send, counters) and
 * webhook_deliver.c (an endpoint's delivery thread: the POST, retries,
 * dead letters) share. Not for other modules: they use webhook.h.
 *
 * Stage respond/: includes any stage but daemon/; does not own the loop or the socket.
 */
#ifndef VIGIL_WEBHOOK_INTERNAL_H
#define VIGIL_WEBHOOK_INTERNAL_H

#include <curl/curl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "respond/spool.h"
#include "respond/webhook.h"
#include "respond/webhook_sign.h"

/* What a reload may change: built on the event loop, then owned by the delivery thread. */
struct ep_conf {
	struct webhook_def def; /* strings owned here */
	struct whsig_key key;
	bool signed_;
};

struct endpoint {
	struct webhooks *w;
	char *name;	     /* fixed for the endpoint's life: it names the spool */
	struct spool *spool; /* webhook_send puts, the thread peeks and retires */
	pthread_t thread;
	bool started;
	/* the delivery thread's (it swaps conf under mu: hand_over compares with it) */
	struct ep_conf *conf;
	CURL *curl;
	/* under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ep_conf *next; /* handed over by a reload, not yet taken */
	bool kick;	      /* a message was spooled */
	bool stop;	      /* removed or shutting down: an in-flight POST is aborted */
	uint64_t delivered, attempts, retries, failed, dropped, last_status;
	char last_error[CURL_ERROR_SIZE];
};

/*
 * libcurl is loaded with the first webhook, not linked: it pulls in GnuTLS,
 * Kerberos, LDAP, SSH2, nghttp2 and more, about 4 MiB of RSS that a host
 * without webhooks should not carry (systemd loads optional libraries the
 * same way).
 */
struct curl_api {
	void *so;
	CURLcode (*global_init)(long flags);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *c, CURLoption o, ...);
	CURLcode (*easy_perform)(CURL *c);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO i, ...);
	void (*easy_cleanup)(CURL *c);
	const char *(*easy_strerror)(CURLcode rc);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
};

struct webhooks {
	char dir[PATH_MAX];
	uint64_t spool_max, max_backoff_ms;
	struct endpoint **eps;
	unsigned neps;
	struct endpoint **retiring; /* removed by a reload, told to stop, joined once they have */
	unsigned nretiring;
	struct curl_api curl; /* .so == NULL until the first endpoint */
};

void whk_conf_free(struct ep_conf *cf);
/* The thread's body (arg: the endpoint): works from the spool only, until told to stop. */
void *whk_deliver_loop(void *arg);

#endif
