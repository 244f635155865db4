// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "stream/metrics.h"
#include "core/util.h"

/* Objects whose keys are label values, not parts of the metric name. */
static const struct {
	const char *key, *label;
} labelled[] = {
    {"by_action", "action"}, {"drops", "cause"}, {"webhooks", "endpoint"}, {"lost", "cause"}};

static void sanitize(char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			*s = (*s >= 'A' && *s <= 'Z') ? *s - 'A' + 'a' : '_';
}

static void emit(FILE *f, const char *name, const char *labels, json_t *v)
{
	if (json_is_integer(v))
		fprintf(f, "%s%s %lld\n", name, labels, (long long)json_integer_value(v));
	else if (json_is_real(v))
		fprintf(f, "%s%s %g\n", name, labels, json_real_value(v));
	else if (json_is_boolean(v))
		fprintf(f, "%s%s %d\n", name, labels, json_is_true(v));
}

/* Label values are free text: escape what the format needs escaped. */
static void label_value(char *out, size_t len, const char *s)
{
	size_t o = 0;

	for (; *s && o + 3 < len; s++) {
		if (*s == '"' || *s == '\\')
			out[o++] = '\\';
		if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
			continue;
		}
		out[o++] = *s;
	}
	out[o] = 0;
}

static void walk(FILE *f, const char *prefix, const char *labels, json_t *o)
{
	const char *k;
	json_t *v;

	json_object_foreach (o, k, v) {
		char name[256], lab[512], val[256];
		const char *as_label = NULL;

		snprintf(name, sizeof(name), "%s_%s", prefix, k);
		sanitize(name);
		for (size_t i = 0; i < ARRAY_SIZE(labelled); i++)
			if (!strcmp(k, labelled[i].key))
				as_label = labelled[i].label;
		if (json_is_object(v) && as_label) {
			const char *lk;
			json_t *lv;

			json_object_foreach (v, lk, lv) {
				label_value(val, sizeof(val), lk);
				snprintf(lab, sizeof(lab), "%.*s%s%s=\"%s\"}",
					 labels[0] ? (int)strlen(labels) - 1 : 0, labels,
					 labels[0] ? "," : "{", as_label, val);
				if (json_is_object(lv))
					walk(f, name, lab, lv);
				else
					emit(f, name, lab, lv);
			}
		} else if (json_is_object(v)) {
			walk(f, name, labels, v);
		} else {
			emit(f, name, labels, v);
		}
	}
}

void metrics_format(FILE *f, json_t *counters)
{
	fprintf(f, "# vigil agent counters (see `vigil status`); written by vigild\n");
	fprintf(f, "vigil_up 1\n");
	walk(f, "vigil", "", counters);
}

int metrics_write(const char *path, json_t *counters)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int r = 0;

	if (!f)
		return -errno;
	metrics_format(f, counters);
	if (fclose(f) == EOF)
		r = -ENOMEM;
	/* 0644: the node exporter's textfile collector reads it as another user */
	return r < 0 ? r : write_file_atomic(path, text, len, 0644);
}
