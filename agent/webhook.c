// SPDX-License-Identifier: GPL-2.0
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "vigil/log.h"
#include "vigil/spool.h"
#include "vigil/util.h"
#include "vigil/webhook.h"
#include "vigil/webhook_sign.h"

#define BACKOFF_BASE_MS 1000
#define RETRY_AFTER_MAX 3600 /* seconds: a receiver cannot park us for longer */
#define QUEUE_MAX	4096 /* messages handed over but not yet in the spool */
#define SECRET_FILE_MAX 512

struct queued {
	char id[SPOOL_ID_MAX];
	char *body;
	size_t len;
};

struct endpoint {
	struct webhooks *w;
	struct webhook_def def; /* strings owned here */
	struct whsig_key key;
	bool signed_;
	struct spool *spool;
	CURL *curl; /* the delivery thread's */
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct queued *q;
	unsigned nq;
	bool stop;
	/* counters (under mu) */
	uint64_t delivered, attempts, retries, failed, dropped, last_status;
	uint64_t pending, spool_bytes, refused;
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
	struct curl_api curl; /* .so == NULL until the first endpoint */
};

#define CURL_SONAME "libcurl.so.4"

static int curl_load(struct curl_api *a, char *err, size_t errlen)
{
	struct {
		void *slot;
		const char *name;
	} syms[] = {
	    {&a->global_init, "curl_global_init"},   {&a->global_cleanup, "curl_global_cleanup"},
	    {&a->easy_init, "curl_easy_init"},	     {&a->easy_setopt, "curl_easy_setopt"},
	    {&a->easy_perform, "curl_easy_perform"}, {&a->easy_getinfo, "curl_easy_getinfo"},
	    {&a->easy_cleanup, "curl_easy_cleanup"}, {&a->easy_strerror, "curl_easy_strerror"},
	    {&a->slist_append, "curl_slist_append"}, {&a->slist_free_all, "curl_slist_free_all"},
	};
	void *so = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!so) {
		snprintf(err, errlen, "cannot load %s (package libcurl4): %s", CURL_SONAME,
			 dlerror());
		return -ENOENT;
	}
	for (size_t i = 0; i < ARRAY_SIZE(syms); i++) {
		void *f = dlsym(so, syms[i].name);

		if (!f) {
			snprintf(err, errlen, "%s has no %s", CURL_SONAME, syms[i].name);
			dlclose(so);
			return -ENOENT;
		}
		memcpy(syms[i].slot, &f,
		       sizeof(f)); /* object to function pointer, as POSIX allows */
	}
	if (a->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "curl_global_init failed");
		dlclose(so);
		return -EIO;
	}
	a->so = so;
	return 0;
}

bool webhook_retryable(long status)
{
	return status == 0 || status == 408 || status == 429 || (status >= 500 && status != 501);
}

int webhooks_new(const char *spool_dir, uint64_t spool_max, uint64_t max_backoff_ms,
		 struct webhooks **ret)
{
	struct webhooks *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	snprintf(w->dir, sizeof(w->dir), "%s", spool_dir);
	w->spool_max = spool_max;
	w->max_backoff_ms = max_backoff_ms;
	if (mkdir(spool_dir, 0700) < 0 && errno != EEXIST) {
		int r = -errno;

		free(w);
		return r;
	}
	*ret = w;
	return 0;
}

/* ---- the delivery thread ---- */

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int spool_queue(struct endpoint *ep)
{
	struct queued *q;
	unsigned n;

	pthread_mutex_lock(&ep->mu);
	q = ep->q;
	n = ep->nq;
	ep->q = NULL;
	ep->nq = 0;
	pthread_mutex_unlock(&ep->mu);
	for (unsigned i = 0; i < n; i++) {
		int r = spool_put(ep->spool, q[i].id, q[i].body, q[i].len);

		if (r < 0) {
			log_error_errno(r, "webhook %s: cannot spool %s: the message is lost",
					ep->def.name, q[i].id);
			pthread_mutex_lock(&ep->mu);
			ep->dropped++;
			pthread_mutex_unlock(&ep->mu);
		}
		free(q[i].body);
	}
	free(q);
	return 0;
}

static struct curl_slist *headers_for(struct endpoint *ep, const struct spool_msg *m)
{
	struct curl_slist *(*append)(struct curl_slist *, const char *) = ep->w->curl.slist_append;
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
	if (ep->signed_ && whsig_sign(&ep->key, m->id, ts, m->body, m->len, sig) == 0) {
		snprintf(line, sizeof(line), "webhook-signature: %s", sig);
		h = append(h, line);
	}
	return h;
}

static size_t discard(char *p, size_t sz, size_t n, void *ctx)
{
	return sz * n;
}

/* One attempt: the HTTP status (0 = no answer) and the server's Retry-After. */
static long post(struct endpoint *ep, const struct spool_msg *m, long *retry_after, char *err)
{
	const struct curl_api *cu = &ep->w->curl;
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
	cu->easy_setopt(c, CURLOPT_URL, ep->def.url);
	cu->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	cu->easy_setopt(c, CURLOPT_HTTPHEADER, h);
	cu->easy_setopt(c, CURLOPT_POSTFIELDS, m->body);
	cu->easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)m->len);
	cu->easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)ep->def.timeout_ms);
	cu->easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)ep->def.timeout_ms);
	cu->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	cu->easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	cu->easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	cu->easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	cu->easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ep->def.ca_file)
		cu->easy_setopt(c, CURLOPT_CAINFO, ep->def.ca_file);
	if (ep->def.ca_dir)
		cu->easy_setopt(c, CURLOPT_CAPATH, ep->def.ca_dir);
	if (ep->def.client_cert) {
		cu->easy_setopt(c, CURLOPT_SSLCERT, ep->def.client_cert);
		cu->easy_setopt(c, CURLOPT_SSLKEY, ep->def.client_key);
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

/* Sleep up to ms, waking early for new messages or stop. Returns false on stop. */
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
	while (!ep->stop && !(wake_on_message && ep->nq)) {
		if (pthread_cond_timedwait(&ep->cv, &ep->mu, &until) == ETIMEDOUT)
			break;
	}
	go = !ep->stop;
	pthread_mutex_unlock(&ep->mu);
	return go;
}

/* Copy the spool's counters where status can read them. */
static void refresh(struct endpoint *ep)
{
	struct spool_stats st;

	spool_stats(ep->spool, &st);
	pthread_mutex_lock(&ep->mu);
	ep->pending = st.pending;
	ep->spool_bytes = st.bytes;
	ep->refused = st.refused;
	pthread_mutex_unlock(&ep->mu);
}

enum attempt_result { DELIVERED, RETRY, REJECTED };

static void count(struct endpoint *ep, long status, enum attempt_result res, const char *err)
{
	refresh(ep);
	pthread_mutex_lock(&ep->mu);
	ep->attempts++;
	ep->delivered += res == DELIVERED;
	ep->retries += res == RETRY;
	ep->failed += res == REJECTED;
	ep->last_status = status;
	if (err && err[0])
		snprintf(ep->last_error, sizeof(ep->last_error), "%s", err);
	pthread_mutex_unlock(&ep->mu);
}

static void *deliver_loop(void *arg)
{
	struct endpoint *ep = arg;
	unsigned attempt = 0;

	for (;;) {
		struct spool_msg m;
		char err[CURL_ERROR_SIZE];
		long status, ra;

		spool_queue(ep);
		if (spool_peek(ep->spool, &m) < 0) {
			refresh(ep);
			if (!wait_ms(ep, 60000, true))
				break;
			continue;
		}
		status = post(ep, &m, &ra, err);
		if (status >= 200 && status <= 299) {
			spool_done(ep->spool, m.id);
			attempt = 0;
			count(ep, status, DELIVERED, NULL);
		} else if (webhook_retryable(status)) {
			count(ep, status, RETRY, err);
			if (attempt == 0)
				log_warn("webhook %s: %s: %s; retrying", ep->def.name, m.id, err);
			free(m.body);
			if (!wait_ms(ep, backoff_ms(ep, attempt++, ra), false))
				break;
			continue;
		} else {
			log_error("webhook %s: %s refused for good (%s); kept in %s/%s/failed",
				  ep->def.name, m.id, err, ep->w->dir, ep->def.name);
			spool_reject(ep->spool, m.id);
			attempt = 0;
			count(ep, status, REJECTED, err);
		}
		free(m.body);
		pthread_mutex_lock(&ep->mu);
		if (ep->stop) {
			pthread_mutex_unlock(&ep->mu);
			break;
		}
		pthread_mutex_unlock(&ep->mu);
	}
	spool_queue(ep); /* what was handed over is on disk before we go */
	return NULL;
}

/* ---- endpoints ---- */

/* whsec_… from a file only root can read (no secrets in config or logs). */
static int read_secret(const char *path, struct whsig_key *key, char *err, size_t errlen)
{
	char buf[SECRET_FILE_MAX];
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "secret_file %s: %s", path, strerror(errno));
		return -errno;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "secret_file %s: readable by others (mode %03o); chmod 600",
			 path, st.st_mode & 0777);
		return -EPERM;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0) {
		snprintf(err, errlen, "secret_file %s: empty", path);
		return -EINVAL;
	}
	buf[n] = 0;
	buf[strcspn(buf, "\r\n")] = 0;
	if (whsig_key_parse(buf, key) < 0) {
		snprintf(err, errlen, "secret_file %s: not a whsec_… secret", path);
		explicit_bzero(buf, sizeof(buf));
		return -EINVAL;
	}
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

static void endpoint_free(struct endpoint *ep)
{
	if (!ep)
		return;
	if (ep->started) {
		pthread_mutex_lock(&ep->mu);
		ep->stop = true;
		pthread_cond_signal(&ep->cv);
		pthread_mutex_unlock(&ep->mu);
		pthread_join(ep->thread, NULL);
	}
	for (unsigned i = 0; i < ep->nq; i++)
		free(ep->q[i].body);
	free(ep->q);
	spool_close(ep->spool);
	if (ep->curl)
		ep->w->curl.easy_cleanup(ep->curl);
	free(ep->def.name);
	free(ep->def.url);
	free(ep->def.secret_file);
	free(ep->def.ca_file);
	free(ep->def.ca_dir);
	free(ep->def.client_cert);
	free(ep->def.client_key);
	explicit_bzero(&ep->key, sizeof(ep->key));
	pthread_mutex_destroy(&ep->mu);
	pthread_cond_destroy(&ep->cv);
	free(ep);
}

static int endpoint_start(struct webhooks *w, const struct webhook_def *d, struct endpoint **ret,
			  char *err, size_t errlen)
{
	struct endpoint *ep = calloc(1, sizeof(*ep));
	char dir[PATH_MAX + 256];
	pthread_condattr_t ca;
	sigset_t all, old;
	int r;

	if (!ep)
		return -ENOMEM;
	pthread_mutex_init(&ep->mu, NULL);
	/* wait_ms computes its deadline on CLOCK_MONOTONIC: the condition must wait on it too */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ep->cv, &ca);
	pthread_condattr_destroy(&ca);
	ep->w = w;
	ep->def = (struct webhook_def){
	    xstrdup(d->name),	    xstrdup(d->url),	xstrdup(d->secret_file),
	    xstrdup(d->ca_file),    xstrdup(d->ca_dir), xstrdup(d->client_cert),
	    xstrdup(d->client_key), d->slack,		d->timeout_ms};
	r = d->secret_file ? read_secret(d->secret_file, &ep->key, err, errlen) : 0;
	ep->signed_ = d->secret_file != NULL;
	snprintf(dir, sizeof(dir), "%s/%s", w->dir, d->name);
	if (r == 0 && (r = spool_open(dir, w->spool_max, &ep->spool)) < 0)
		snprintf(err, errlen, "webhook %s: spool %s: %s", d->name, dir, strerror(-r));
	if (r == 0) {
		/* signals stay with the event loop's signalfd */
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		r = -pthread_create(&ep->thread, NULL, deliver_loop, ep);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		ep->started = r == 0;
	}
	if (r < 0) {
		endpoint_free(ep);
		return r;
	}
	*ret = ep;
	return 0;
}

int webhooks_configure(struct webhooks *w, const struct playbook_set *set, char *err, size_t errlen)
{
	struct endpoint **eps = NULL;
	unsigned n = set ? set->nhooks : 0, made = 0;
	int r = 0;

	if (n && !(eps = calloc(n, sizeof(*eps))))
		return -ENOMEM;
	/* the old threads go first: each spool directory has one owner */
	for (unsigned i = 0; i < w->neps; i++)
		endpoint_free(w->eps[i]);
	free(w->eps);
	w->eps = NULL;
	w->neps = 0;
	/* while no delivery thread runs: curl_global_init is not thread-safe */
	if (n && !w->curl.so && (r = curl_load(&w->curl, err, errlen)) < 0) {
		log_error("webhooks not started: %s", err);
		free(eps);
		return r;
	}
	for (unsigned i = 0; i < n; i++) {
		int er = endpoint_start(w, &set->hooks[i], &eps[made], err, errlen);

		if (er < 0) {
			log_error("webhook %s not started: %s", set->hooks[i].name, err);
			if (!r)
				r = er;
			continue;
		}
		made++;
	}
	w->eps = eps;
	w->neps = made;
	return r;
}

struct webhooks *webhooks_free(struct webhooks *w)
{
	if (!w)
		return NULL;
	for (unsigned i = 0; i < w->neps; i++)
		endpoint_free(w->eps[i]);
	free(w->eps);
	if (w->curl.so) {
		w->curl.global_cleanup();
		dlclose(w->curl.so);
	}
	free(w);
	return NULL;
}

static void new_id(char *out)
{
	uint8_t r[12];

	if (getrandom(r, sizeof(r), 0) != sizeof(r)) {
		uint64_t t = clock_ns(CLOCK_REALTIME);

		memcpy(r, &t, 8);
		memset(r + 8, 0, 4);
	}
	strcpy(out, "msg_");
	for (unsigned i = 0; i < sizeof(r); i++)
		snprintf(out + 4 + 2 * i, 3, "%02x", r[i]);
}

int webhook_send(struct webhooks *w, const char *endpoint, const char *body, size_t len,
		 char *id_out)
{
	struct endpoint *ep = NULL;
	struct queued *nq;
	int r = 0;

	for (unsigned i = 0; i < w->neps && !ep; i++)
		if (!strcmp(w->eps[i]->def.name, endpoint))
			ep = w->eps[i];
	if (!ep)
		return -ENOENT;
	new_id(id_out);
	pthread_mutex_lock(&ep->mu);
	if (ep->nq >= QUEUE_MAX) {
		ep->dropped++;
		r = -ENOSPC;
	} else if ((nq = realloc(ep->q, (ep->nq + 1) * sizeof(*nq))) &&
		   (nq[ep->nq].body = malloc(len + 1))) {
		ep->q = nq;
		memcpy(nq[ep->nq].body, body, len);
		nq[ep->nq].body[len] = 0;
		nq[ep->nq].len = len;
		snprintf(nq[ep->nq].id, SPOOL_ID_MAX, "%s", id_out);
		ep->nq++;
		pthread_cond_signal(&ep->cv);
	} else {
		if (nq)
			ep->q = nq;
		ep->dropped++;
		r = -ENOMEM;
	}
	pthread_mutex_unlock(&ep->mu);
	return r;
}

json_t *webhooks_stats(struct webhooks *w)
{
	json_t *o = json_object();

	for (unsigned i = 0; i < w->neps; i++) {
		struct endpoint *ep = w->eps[i];

		pthread_mutex_lock(&ep->mu);
		json_object_set_new(
		    o, ep->def.name,
		    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "delivered",
			      (json_int_t)ep->delivered, "attempts", (json_int_t)ep->attempts,
			      "retries", (json_int_t)ep->retries, "failed", (json_int_t)ep->failed,
			      "lost", (json_int_t)ep->dropped, "pending",
			      (json_int_t)(ep->pending + ep->nq), "spool_bytes",
			      (json_int_t)ep->spool_bytes, "spool_refused", (json_int_t)ep->refused,
			      "last_status", (json_int_t)ep->last_status, "last_error",
			      ep->last_error));
		pthread_mutex_unlock(&ep->mu);
	}
	return o;
}
