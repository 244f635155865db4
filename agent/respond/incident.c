// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/fileio.h"
#include "core/log.h"
#include "respond/incident.h"
#include "core/util.h"

/* A record's text waiting for the writer: the newest text per id. */
struct pending {
	struct pending *next;
	char name[64]; /* ID.json */
	char *text;
	size_t len;
};

/*
 * Saves are written by a thread of their own (write_file_atomic: fsync of
 * the file and the directory), not on the event loop: an alert that runs a
 * playbook saves its incident two or three times. Reads see what is queued
 * (incident_load), listings wait for the queue (incident_list), and close
 * writes out everything before it returns.
 */
struct incidents {
	char dir[PATH_MAX];
	unsigned seq;
	pthread_mutex_t lock;
	pthread_cond_t wake, idle;
	struct pending *head, **tail;
	struct pending *writing; /* taken off the queue, being written */
	bool stop, threaded;
	pthread_t writer;
};

static void pending_free(struct pending *p)
{
	free(p->text);
	free(p);
}

static void write_one(struct incidents *s, struct pending *p)
{
	char path[PATH_MAX + 64];
	int r;

	snprintf(path, sizeof(path), "%s/%s", s->dir, p->name);
	r = write_file_atomic(path, p->text, p->len, 0600);
	if (r < 0)
		log_warn_errno(r, "incident record %s not written", path);
}

static void *writer_main(void *arg)
{
	struct incidents *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->head && !s->stop)
			pthread_cond_wait(&s->wake, &s->lock);
		if (!s->head)
			break; /* stopped, and nothing is left */
		s->writing = s->head;
		s->head = s->head->next;
		if (!s->head)
			s->tail = &s->head;
		pthread_mutex_unlock(&s->lock);
		write_one(s, s->writing);
		pthread_mutex_lock(&s->lock);
		pending_free(s->writing);
		s->writing = NULL;
		pthread_cond_broadcast(&s->idle);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int incidents_open(const char *dir, struct incidents **ret)
{
	struct incidents *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		int r = -errno;

		free(s);
		return r;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_cond_init(&s->idle, NULL);
	s->tail = &s->head;
	/* without the thread, saves are written where they are made */
	s->threaded = thread_start(&s->writer, NULL, writer_main, s) == 0;
	*ret = s;
	return 0;
}

/* Wait until every queued save is on disk. */
static void incidents_flush(struct incidents *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->head || s->writing)
		pthread_cond_wait(&s->idle, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

struct incidents *incidents_close(struct incidents *s)
{
	if (!s)
		return NULL;
	if (s->threaded) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->writer, NULL); /* it drains the queue first */
	}
	pthread_cond_destroy(&s->idle);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return NULL;
}

const char *incidents_dir(const struct incidents *s)
{
	return s->dir;
}

static void now_rfc3339(char *buf, size_t len)
{
	fmt_rfc3339_ns(buf, len, clock_ns(CLOCK_REALTIME));
}

static bool id_ok(const char *id)
{
	if (!*id || strlen(id) > 40)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == 'T' || *p == 'Z' || *p == '-'))
			return false;
	return true;
}

json_t *incident_new(struct incidents *s, const char *source, const char *title)
{
	char id[48], ts[48], path[PATH_MAX + 64];
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	/* unique across restarts too: skip numbers a file already has */
	do {
		size_t n = strftime(id, sizeof(id), "%Y%m%dT%H%M%SZ", &tm);

		snprintf(id + n, sizeof(id) - n, "-%04u", ++s->seq % 10000);
		snprintf(path, sizeof(path), "%s/%s.json", s->dir, id);
	} while (access(path, F_OK) == 0 && s->seq < 100000);
	now_rfc3339(ts, sizeof(ts));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[], s:[], s:[]}", "id", id, "opened", ts,
			 "updated", ts, "status", "open", "source", source, "title", title,
			 "alerts", "steps", "evidence");
}

/* Queue text (taken) as ID.json: an older queued text of it is replaced, not written. */
static int queue_save(struct incidents *s, const char *id, char *text, size_t len)
{
	struct pending *p;
	char name[64];

	snprintf(name, sizeof(name), "%s.json", id);
	pthread_mutex_lock(&s->lock);
	for (p = s->head; p && strcmp(p->name, name); p = p->next)
		;
	if (p) {
		free(p->text);
	} else if ((p = calloc(1, sizeof(*p)))) {
		memcpy(p->name, name, sizeof(name));
		*s->tail = p;
		s->tail = &p->next;
	}
	if (p) {
		p->text = text;
		p->len = len;
		pthread_cond_signal(&s->wake);
	}
	pthread_mutex_unlock(&s->lock);
	if (!p)
		free(text);
	return p ? 0 : -ENOMEM;
}

int incident_save(struct incidents *s, json_t *inc)
{
	const char *id = json_string_value(json_object_get(inc, "id"));
	char ts[48], path[PATH_MAX + 64];
	_cleanup_free_ char *text = NULL, *line = NULL;
	size_t len;

	if (!id || !id_ok(id))
		return -EINVAL;
	now_rfc3339(ts, sizeof(ts));
	json_object_set_new(inc, "updated", json_string(ts));
	text = json_dumps(inc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	line = malloc(len + 2);
	if (!line)
		return -ENOMEM;
	memcpy(line, text, len);
	memcpy(line + len, "\n", 2);
	if (!s->threaded) {
		snprintf(path, sizeof(path), "%s/%s.json", s->dir, id);
		return write_file_atomic(path, line, len + 1, 0600);
	}
	return queue_save(s, id, TAKE_PTR(line), len + 1);
}

/* The newest queued text of ID.json (the lock held), or NULL. */
static struct pending *queued(struct incidents *s, const char *name)
{
	struct pending *found = NULL;

	for (struct pending *p = s->head; p; p = p->next)
		if (!strcmp(p->name, name))
			found = p;
	if (!found && s->writing && !strcmp(s->writing->name, name))
		found = s->writing;
	return found;
}

json_t *incident_load(struct incidents *s, const char *id)
{
	char path[PATH_MAX + 64], name[64];
	struct pending *p;
	json_t *inc = NULL;

	if (!id_ok(id))
		return NULL;
	snprintf(name, sizeof(name), "%s.json", id);
	pthread_mutex_lock(&s->lock);
	if ((p = queued(s, name)))
		inc = json_loadb(p->text, p->len, 0, NULL);
	pthread_mutex_unlock(&s->lock);
	if (p)
		return inc;
	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	return json_load_file(path, 0, NULL);
}

static int newest_first(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*b)->d_name, (*a)->d_name);
}

static int is_record(const struct dirent *d)
{
	return str_has_suffix(d->d_name, ".json") && d->d_name[0] != '.';
}

json_t *incident_list(struct incidents *s, unsigned max)
{
	struct dirent **ents = NULL;
	json_t *out = json_array();
	int n;

	incidents_flush(s); /* a listing (an operator's request) shows every save */
	n = scandir(s->dir, &ents, is_record, newest_first);

	for (int i = 0; i < n; i++) {
		char id[64];
		json_t *inc;

		snprintf(id, sizeof(id), "%.*s", (int)(strlen(ents[i]->d_name) - 5),
			 ents[i]->d_name);
		if ((unsigned)json_array_size(out) < max && (inc = incident_load(s, id))) {
			json_array_append_new(
			    out,
			    json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?, s:i, s:i}", "id",
				      json_object_get(inc, "id"), "opened",
				      json_object_get(inc, "opened"), "status",
				      json_object_get(inc, "status"), "source",
				      json_object_get(inc, "source"), "title",
				      json_object_get(inc, "title"), "alerts",
				      (int)json_array_size(json_object_get(inc, "alerts")), "steps",
				      (int)json_array_size(json_object_get(inc, "steps"))));
			json_decref(inc);
		}
		free(ents[i]);
	}
	free(ents);
	return out;
}

void incident_append(json_t *inc, const char *array, json_t *item)
{
	json_t *a = json_object_get(inc, array);

	if (!json_is_array(a)) {
		a = json_array();
		json_object_set_new(inc, array, a);
	}
	json_array_append_new(a, item);
}
