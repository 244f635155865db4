// SPDX-License-Identifier: GPL-2.0
/*
 * Webhook endpoints (webhook.h): libcurl loaded with the first one, the
 * endpoints a reload starts, keeps (settings handed over) or retires, the
 * hand-off into the spool, counters. Delivery is webhook_deliver.c's.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "core/log.h"
#include "core/util.h"
#include "respond/webhook_internal.h"

#define SECRET_FILE_MAX 512

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

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
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

static bool conf_equal(const struct ep_conf *a, const struct ep_conf *b)
{
	const struct webhook_def *x = &a->def, *y = &b->def;
	const char *const sa[] = {x->url,    x->secret_file, x->ca_file,
				  x->ca_dir, x->client_cert, x->client_key};
	const char *const sb[] = {y->url,    y->secret_file, y->ca_file,
				  y->ca_dir, y->client_cert, y->client_key};

	for (size_t i = 0; i < ARRAY_SIZE(sa); i++)
		if (!sa[i] != !sb[i] || (sa[i] && strcmp(sa[i], sb[i])))
			return false;
	return x->slack == y->slack && x->timeout_ms == y->timeout_ms && a->signed_ == b->signed_ &&
	       a->key.len == b->key.len && !memcmp(a->key.bytes, b->key.bytes, a->key.len);
}

/* A definition and its secret (read now) → settings for the delivery thread. */
static int conf_new(const struct webhook_def *d, struct ep_conf **ret, char *err, size_t errlen)
{
	struct ep_conf *cf = calloc(1, sizeof(*cf));
	int r;

	if (!cf)
		return -ENOMEM;
	cf->def = (struct webhook_def){
	    xstrdup(d->name),	    xstrdup(d->url),	xstrdup(d->secret_file),
	    xstrdup(d->ca_file),    xstrdup(d->ca_dir), xstrdup(d->client_cert),
	    xstrdup(d->client_key), d->slack,		d->timeout_ms};
	cf->signed_ = d->secret_file != NULL;
	r = d->secret_file ? read_secret(d->secret_file, &cf->key, err, errlen) : 0;
	if (r < 0) {
		whk_conf_free(cf);
		return r;
	}
	*ret = cf;
	return 0;
}

/* Tell the thread to stop; an in-flight POST is aborted by abort_on_stop. */
static void endpoint_stop(struct endpoint *ep)
{
	pthread_mutex_lock(&ep->mu);
	ep->stop = true;
	pthread_cond_signal(&ep->cv);
	pthread_mutex_unlock(&ep->mu);
}

/* The thread must have exited (joined) or never started. */
static void endpoint_destroy(struct endpoint *ep)
{
	whk_conf_free(ep->conf);
	whk_conf_free(ep->next);
	spool_close(ep->spool);
	if (ep->curl)
		ep->w->curl.easy_cleanup(ep->curl);
	free(ep->name);
	pthread_mutex_destroy(&ep->mu);
	pthread_cond_destroy(&ep->cv);
	free(ep);
}

/* Stop and join: bounded, the POST is aborted within about a second. */
static void endpoint_free(struct endpoint *ep)
{
	if (!ep)
		return;
	if (ep->started) {
		endpoint_stop(ep);
		pthread_join(ep->thread, NULL);
	}
	endpoint_destroy(ep);
}

/* Takes cf. */
static int endpoint_start(struct webhooks *w, struct ep_conf *cf, struct endpoint **ret, char *err,
			  size_t errlen)
{
	struct endpoint *ep = calloc(1, sizeof(*ep));
	char dir[PATH_MAX + 256];
	pthread_condattr_t ca;
	int r;

	if (!ep) {
		whk_conf_free(cf);
		return -ENOMEM;
	}
	pthread_mutex_init(&ep->mu, NULL);
	/* wait_ms computes its deadline on CLOCK_MONOTONIC: the condition must wait on it too */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ep->cv, &ca);
	pthread_condattr_destroy(&ca);
	ep->w = w;
	ep->conf = cf;
	ep->name = strdup(cf->def.name);
	snprintf(dir, sizeof(dir), "%s/%s", w->dir, cf->def.name);
	r = ep->name ? spool_open(dir, w->spool_max, &ep->spool) : -ENOMEM;
	if (r < 0)
		snprintf(err, errlen, "spool %s: %s", dir, strerror(-r));
	if (r == 0) {
		r = thread_start(&ep->thread, NULL, whk_deliver_loop, ep);
		ep->started = r == 0;
	}
	if (r < 0) {
		endpoint_free(ep);
		return r;
	}
	*ret = ep;
	return 0;
}

/*
 * Join and free the retired endpoints (those named name, or all): waiting
 * (shutdown, a name that is back), or only those whose thread has ended.
 */
static void reap(struct webhooks *w, const char *name, bool wait)
{
	unsigned kept = 0;

	for (unsigned i = 0; i < w->nretiring; i++) {
		struct endpoint *ep = w->retiring[i];
		bool mine = !name || !strcmp(ep->name, name);

		if (mine && (wait ? pthread_join(ep->thread, NULL) == 0
				  : pthread_tryjoin_np(ep->thread, NULL) == 0))
			endpoint_destroy(ep);
		else
			w->retiring[kept++] = ep;
	}
	w->nretiring = kept;
}

/*
 * A removed endpoint stops on its own time: the loop does not wait for a
 * POST to a hung receiver. If realloc fails it is joined here (bounded).
 */
static void retire(struct webhooks *w, struct endpoint *ep)
{
	struct endpoint **v = realloc(w->retiring, (w->nretiring + 1) * sizeof(*v));

	if (!v) {
		endpoint_free(ep);
		return;
	}
	endpoint_stop(ep);
	w->retiring = v;
	w->retiring[w->nretiring++] = ep;
}

/* The running endpoint takes cf at its next attempt (a backoff sleep is cut short). */
static void hand_over(struct endpoint *ep, struct ep_conf *cf)
{
	bool same;

	pthread_mutex_lock(&ep->mu);
	same = conf_equal(ep->next ? ep->next : ep->conf, cf);
	if (!same) {
		whk_conf_free(ep->next); /* an earlier hand-over the thread has not taken yet */
		ep->next = cf;
		pthread_cond_signal(&ep->cv);
	}
	pthread_mutex_unlock(&ep->mu);
	if (same)
		whk_conf_free(cf);
	else
		log_info("webhook %s: new settings take effect at the next attempt", ep->name);
}

static struct endpoint *take_named(struct webhooks *w, const char *name)
{
	for (unsigned i = 0; i < w->neps; i++) {
		struct endpoint *ep = w->eps[i];

		if (ep && !strcmp(ep->name, name)) {
			w->eps[i] = NULL;
			return ep;
		}
	}
	return NULL;
}

/* One definition of the new set: kept (settings handed over) or started. */
static int configure_one(struct webhooks *w, const struct webhook_def *d, struct endpoint **ret,
			 char *err, size_t errlen)
{
	struct endpoint *old = take_named(w, d->name);
	struct ep_conf *cf;
	int r = conf_new(d, &cf, err, errlen);

	if (old) {
		*ret = old;
		if (r < 0)
			log_error("webhook %s: %s; it keeps its previous settings", d->name, err);
		else
			hand_over(old, cf);
		return r;
	}
	if (r < 0) {
		log_error("webhook %s not started: %s", d->name, err);
		return r;
	}
	/*
	 * The name was removed by an earlier reload and is back: its spool has one
	 * owner, so the old thread must be gone first. It was told to stop then, so
	 * this join is short (an aborted POST at worst).
	 */
	reap(w, d->name, true);
	r = endpoint_start(w, cf, ret, err, errlen);
	if (r < 0)
		log_error("webhook %s not started: %s", d->name, err);
	return r;
}

/*
 * Never waits on the network: endpoints that stay keep their thread, spool
 * and connection (new settings are handed over), removed ones are told to
 * stop and reaped later, new ones start.
 */
int webhooks_configure(struct webhooks *w, const struct playbook_set *set, char *err, size_t errlen)
{
	unsigned n = set ? set->nhooks : 0, made = 0;
	struct endpoint **eps = calloc(n ? n : 1, sizeof(*eps));
	int r = 0;

	if (!eps)
		return -ENOMEM;
	reap(w, NULL, false);
	/* curl_global_init is not thread-safe: no delivery thread has ever run before the first load */
	if (n && !w->curl.so && (r = curl_load(&w->curl, err, errlen)) < 0) {
		log_error("webhooks not started: %s", err);
		free(eps);
		return r;
	}
	for (unsigned i = 0; i < n; i++) {
		int er = configure_one(w, &set->hooks[i], &eps[made], err, errlen);

		made += eps[made] != NULL;
		if (er < 0 && !r)
			r = er;
	}
	for (unsigned i = 0; i < w->neps; i++)
		if (w->eps[i])
			retire(w, w->eps[i]);
	free(w->eps);
	w->eps = eps;
	w->neps = made;
	return r;
}

struct webhooks *webhooks_free(struct webhooks *w)
{
	if (!w)
		return NULL;
	for (unsigned i = 0; i < w->neps; i++)
		endpoint_stop(w->eps[i]); /* all at once: one abort wait, not one per endpoint */
	for (unsigned i = 0; i < w->neps; i++)
		endpoint_free(w->eps[i]);
	free(w->eps);
	reap(w, NULL, true);
	free(w->retiring);
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

/*
 * On disk (fsync'd) before this returns, whatever the delivery thread is
 * doing: a crash after the hand-over cannot lose the message. Disk I/O
 * only; the spool's lock is never held over the network.
 */
int webhook_send(struct webhooks *w, const char *endpoint, const char *body, size_t len,
		 char *id_out)
{
	struct endpoint *ep = NULL;
	int r;

	for (unsigned i = 0; i < w->neps && !ep; i++)
		if (!strcmp(w->eps[i]->name, endpoint))
			ep = w->eps[i];
	if (!ep)
		return -ENOENT;
	new_id(id_out);
	r = spool_put(ep->spool, id_out, body, len);
	pthread_mutex_lock(&ep->mu);
	if (r < 0) {
		ep->dropped++;
	} else {
		ep->kick = true;
		pthread_cond_signal(&ep->cv);
	}
	pthread_mutex_unlock(&ep->mu);
	return r;
}

json_t *webhooks_stats(struct webhooks *w)
{
	json_t *o = json_object();

	for (unsigned i = 0; i < w->neps; i++) {
		struct endpoint *ep = w->eps[i];
		struct spool_stats st;

		spool_stats(ep->spool, &st);
		pthread_mutex_lock(&ep->mu);
		json_object_set_new(
		    o, ep->name,
		    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "delivered",
			      (json_int_t)ep->delivered, "attempts", (json_int_t)ep->attempts,
			      "retries", (json_int_t)ep->retries, "failed", (json_int_t)ep->failed,
			      "lost", (json_int_t)(ep->dropped + st.vanished), "pending",
			      (json_int_t)st.pending, "spool_bytes", (json_int_t)st.bytes,
			      "spool_refused", (json_int_t)st.refused, "last_status",
			      (json_int_t)ep->last_status, "last_error", ep->last_error));
		pthread_mutex_unlock(&ep->mu);
	}
	return o;
}
