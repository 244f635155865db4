/* SPDX-License-Identifier: GPL-2.0 */
/*
 * json_writer.h — a small streaming JSON writer for the hot path.
 *
 * Owns one reusable buffer (grown rarely, never shrunk), commas and nesting.
 * Every string is escaped and UTF-8-checked: invalid bytes become U+FFFD and
 * set `lossy`, so hostile names always yield valid JSON. jansson stays for
 * parsing and for JSON that is not per event.
 *
 * Stage stream/: includes core/ and sense/; does not decide (detect) or act.
 */
#ifndef VIGIL_JSON_WRITER_H
#define VIGIL_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JW_MAX_DEPTH 16

struct jw {
	char *buf;
	size_t len, cap;
	int depth;
	bool need_comma[JW_MAX_DEPTH];
	bool lossy; /* some string had invalid UTF-8 */
	bool oom;
};

int jw_init(struct jw *w, size_t cap);
void jw_free(struct jw *w);
void jw_reset(struct jw *w);
/* key is NULL inside arrays */
void jw_obj_open(struct jw *w, const char *key);
void jw_obj_close(struct jw *w);
void jw_arr_open(struct jw *w, const char *key);
void jw_arr_close(struct jw *w);
void jw_str(struct jw *w, const char *key, const char *s);
void jw_strn(struct jw *w, const char *key, const char *s, size_t n);
void jw_u64(struct jw *w, const char *key, uint64_t v);
void jw_i64(struct jw *w, const char *key, int64_t v);
void jw_bool(struct jw *w, const char *key, bool v);
/* A jansson value (non-hot paths: health and action events). */
struct json_t;
void jw_json(struct jw *w, const char *key, struct json_t *v);
/* Append bytes as they are (already valid JSON, or a line terminator). */
void jw_raw(struct jw *w, const char *s, size_t n);
/* Escape s (n bytes) as JSON string content, without quotes. */
void jw_escape(struct jw *w, const char *s, size_t n);

#endif
