// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/fileio.h"
#include "respond/incident.h"
#include "core/util.h"

struct incidents {
	char dir[PATH_MAX];
	unsigned seq;
};

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
	*ret = s;
	return 0;
}

struct incidents *incidents_close(struct incidents *s)
{
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
	snprintf(path, sizeof(path), "%s/%s.json", s->dir, id);
	return write_file_atomic(path, line, len + 1, 0600);
}

json_t *incident_load(struct incidents *s, const char *id)
{
	char path[PATH_MAX + 64];

	if (!id_ok(id))
		return NULL;
	snprintf(path, sizeof(path), "%s/%s.json", s->dir, id);
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
	int n = scandir(s->dir, &ents, is_record, newest_first);

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
