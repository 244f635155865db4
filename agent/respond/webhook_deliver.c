// SPDX-License-Identifier: GPL-2.0
/*
 * An endpoint's delivery thread (webhook_internal.h): the POST with its
 * signed headers, what an answer means (delivered, retried with backoff,
 * dead-lettered to failed/), waiting on stop, reload and new messages.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/log.h"
#include "core/util.h"
#include "respond/webhook_internal.h"
#include "respond/webhook_sign.h"

#define BACKOFF_BASE_MS 1000
#define RETRY_AFTER_MAX 3600 /* seconds: a receiver cannot park us for longer */
#define IDLE_WAIT_MS	60000

/* ---- what an answer means ---- */

enum webhook_outcome webhook_outcome(long status)
{
	if (status >= 200 && status <= 299)
		return WEBHOOK_DELIVERED;
	if (status == 0 || status == 408 || status == 429 || (status >= 500 && status != 501))
		return WEBHOOK_RETRY;
	return WEBHOOK_REJECTED;
}

/* ---- the delivery thread ---- */

static struct curl_slist *headers_for(struct endpoint *ep, const struct spool_msg *m)
{
	struct curl_slist *(*append)(struct curl_slist *, const char *) = ep->w->curl.slist_append;
	const struct ep_conf *cf = ep->conf;
	struct curl_slist *h = NULL;
	char line[160], sig[WHSIG_LEN];
	int64_t ts = time(NULL);

	h = append(h, "Content-Type: application/json");
	h = append(h, "User-Agent: vigil/" VIGIL_VERSION);
	h = append(h, "Expect:");
	snprintf(line, sizeof(line), "webhook-id: %s", m->id);
	h = append(h, line);
	snprintf(line, sizeof(line), "webhook-timestamp: %lld", (long long)ts);
	h = append(h, line);
	if (cf->signed_ && whsig_sign(&cf->key, m->id, ts, m->body, m->len, sig) == 0) {
		snprintf(line, sizeof(line), "webhook-signature: %s", sig);
		h = append(h, line);
	}
	return h;
}

static size_t discard(char *p, size_t sz, size_t n, void *ctx)
{
	return sz * n;
}

static bool stopping(struct endpoint *ep)
{
	bool stop;

	pthread_mutex_lock(&ep->mu);
	stop = ep->stop;
	pthread_mutex_unlock(&ep->mu);
	return stop;
}

/* Called by libcurl about once a second, connecting included: non-zero aborts the POST. */
static int abort_on_stop(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			 curl_off_t ulnow)
{
	return stopping(arg);
}

/* One attempt: the HTTP status (0 = no answer) and the server's Retry-After. */
static long post(struct endpoint *ep, const struct spool_msg *m, long *retry_after, char *err)
{
	const struct curl_api *cu = &ep->w->curl;
	const struct webhook_def *d = &ep->conf->def;
	/* one handle per endpoint: its connection (and TLS session) is reused */
	CURL *c = ep->curl ? ep->curl : (ep->curl = cu->easy_init());
	struct curl_slist *h;
	curl_off_t ra = 0;
	long status = 0;
	CURLcode rc;

	*retry_after = 0;
	err[0] = 0;
	if (!c) {
		snprintf(err, CURL_ERROR_SIZE, "curl_easy_init failed");
		return 0;
	}
	h = headers_for(ep, m);
	cu->easy_setopt(c, CURLOPT_URL, d->url);
	cu->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	cu->easy_setopt(c, CURLOPT_HTTPHEADER, h);
	cu->easy_setopt(c, CURLOPT_POSTFIELDS, m->body);
	cu->easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)m->len);
	cu->easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)d->timeout_ms);
	cu->easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)d->timeout_ms);
	/* no SIGALRM for resolver timeouts: signals belong to the event loop's signalfd */
	cu->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* stop (reload, shutdown) aborts a POST to a hung receiver instead of waiting it out */
	cu->easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	cu->easy_setopt(c, CURLOPT_XFERINFOFUNCTION, abort_on_stop);
	cu->easy_setopt(c, CURLOPT_XFERINFODATA, ep);
	cu->easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	cu->easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	cu->easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	cu->easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (d->ca_file)
		cu->easy_setopt(c, CURLOPT_CAINFO, d->ca_file);
	if (d->ca_dir)
		cu->easy_setopt(c, CURLOPT_CAPATH, d->ca_dir);
	if (d->client_cert) {
		cu->easy_setopt(c, CURLOPT_SSLCERT, d->client_cert);
		cu->easy_setopt(c, CURLOPT_SSLKEY, d->client_key);
	}
	rc = cu->easy_perform(c);
	if (rc == CURLE_OK) {
		cu->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (cu->easy_getinfo(c, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
			*retry_after = ra > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : (long)ra;
		if (status < 200 || status > 299)
			snprintf(err, CURL_ERROR_SIZE, "HTTP %ld", status);
	} else if (!err[0]) {
		snprintf(err, CURL_ERROR_SIZE, "%s", cu->easy_strerror(rc));
	}
	cu->easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	cu->slist_free_all(h);
	return status;
}

/* Exponential, capped, with jitter (half to all of it) so receivers are not hit in step. */
static uint64_t backoff_ms(const struct endpoint *ep, unsigned attempt, long retry_after)
{
	uint64_t d = BACKOFF_BASE_MS << (attempt < 20 ? attempt : 20);
	uint32_t rnd = 0;

	if (d > ep->w->max_backoff_ms)
		d = ep->w->max_backoff_ms;
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint32_t)clock_ns(CLOCK_MONOTONIC);
	d = d / 2 + (d / 2) * (rnd % 1001) / 1000;
	if ((uint64_t)retry_after * 1000 > d)
		d = (uint64_t)retry_after * 1000;
	return d;
}

void whk_conf_free(struct ep_conf *cf)
{
	if (!cf)
		return;
	webhook_def_fini(&cf->def);
	explicit_bzero(&cf->key, sizeof(cf->key));
	free(cf);
}

/*
 * Sleep up to ms, waking early on stop, on new settings from a reload, and
 * (wake_on_message) on a newly spooled message. Returns false on stop.
 */
static bool wait_ms(struct endpoint *ep, uint64_t ms, bool wake_on_message)
{
	struct timespec until;
	bool go = true;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&ep->mu);
	while (!ep->stop && !ep->next && !(wake_on_message && ep->kick)) {
		if (pthread_cond_timedwait(&ep->cv, &ep->mu, &until) == ETIMEDOUT)
			break;
	}
	if (wake_on_message)
		ep->kick = false;
	go = !ep->stop;
	pthread_mutex_unlock(&ep->mu);
	return go;
}

/* Settings a reload handed over take effect before the next attempt; false on stop. */
static bool take_conf(struct endpoint *ep)
{
	struct ep_conf *old = NULL;
	bool stop;

	/* swapped under mu: hand_over compares with ep->conf from the event loop */
	pthread_mutex_lock(&ep->mu);
	if (ep->next) {
		old = ep->conf;
		ep->conf = ep->next;
		ep->next = NULL;
	}
	ep->kick = false; /* the spool is looked at now */
	stop = ep->stop;
	pthread_mutex_unlock(&ep->mu);
	if (old) {
		whk_conf_free(old);
		/* options set for the old URL or certificates must not linger on the handle */
		if (ep->curl)
			ep->w->curl.easy_cleanup(ep->curl);
		ep->curl = NULL;
	}
	return !stop;
}

static void count(struct endpoint *ep, long status, enum webhook_outcome res, const char *err)
{
	pthread_mutex_lock(&ep->mu);
	ep->attempts++;
	ep->delivered += res == WEBHOOK_DELIVERED;
	ep->retries += res == WEBHOOK_RETRY;
	ep->failed += res == WEBHOOK_REJECTED;
	ep->last_status = status;
	if (err && err[0])
		snprintf(ep->last_error, sizeof(ep->last_error), "%s", err);
	pthread_mutex_unlock(&ep->mu);
}

/* One attempt at the spool's head; false when the thread must stop. */
static bool deliver_head(struct endpoint *ep, const struct spool_msg *m, unsigned *attempt)
{
	char err[CURL_ERROR_SIZE];
	long ra, status = post(ep, m, &ra, err);
	enum webhook_outcome res = webhook_outcome(status);

	if (res == WEBHOOK_DELIVERED) {
		/* removed only now: a crash before this line sends it again, same webhook-id */
		int r = spool_done(ep->spool, m->id);

		if (r < 0)
			log_error_errno(r,
					"webhook %s: %s delivered, not removed from the spool: "
					"a restart sends it again",
					ep->name, m->id);
		*attempt = 0;
		count(ep, status, WEBHOOK_DELIVERED, NULL);
		return !stopping(ep);
	}
	if (stopping(ep)) /* aborted, or answered as we stop: the spool keeps it */
		return false;
	if (res == WEBHOOK_RETRY) {
		count(ep, status, WEBHOOK_RETRY, err);
		if (*attempt == 0)
			log_warn("webhook %s: %s: %s; retrying", ep->name, m->id, err);
		/* new messages do not cut the backoff short (they queue behind this one) */
		return wait_ms(ep, backoff_ms(ep, (*attempt)++, ra), false);
	}
	log_error("webhook %s: %s refused for good (%s); kept in %s/%s/failed", ep->name, m->id,
		  err, ep->w->dir, ep->name);
	if (spool_reject(ep->spool, m->id) < 0)
		log_error("webhook %s: %s could not be moved to failed/: a restart retries it",
			  ep->name, m->id);
	*attempt = 0;
	count(ep, status, WEBHOOK_REJECTED, err);
	return true;
}

/* Works from the spool only: what webhook_send accepted is on disk already. */
void *whk_deliver_loop(void *arg)
{
	struct endpoint *ep = arg;
	unsigned attempt = 0;

	while (take_conf(ep)) {
		struct spool_msg m;
		bool go;

		if (spool_peek(ep->spool, &m) < 0) {
			if (!wait_ms(ep, IDLE_WAIT_MS, true))
				break;
			continue;
		}
		go = deliver_head(ep, &m, &attempt);
		free(m.body);
		if (!go)
			break;
	}
	return NULL;
}
