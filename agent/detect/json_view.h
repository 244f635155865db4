/* SPDX-License-Identifier: GPL-2.0 */
/*
 * json_view.h — one recorded NDJSON event (vigil's stream or any ECS
 * NDJSON with the same field names) into a struct rule_view, for replay.
 *
 * Owns: a validating, streaming JSON reader (RFC 8259; no tree is built,
 * so a line costs one pass) that maps each leaf's dotted path (array
 * levels dropped: vigil.process.ancestors[].name →
 * vigil.process.ancestors.name) to a field id and stores typed values.
 * Paths are matched by a 64-bit hash built key by key plus their length,
 * not by text: a crafted collision could only set a field the line could
 * have set anyway.
 * jansson measured ~17k lines/s on a 1.6 KiB event here; this reader is
 * what makes replay's 200k events/s possible. Strings point into the line,
 * or into the view's scratch when they had escapes.
 *
 * Stage detect/: includes core/, sense/, stream/; does not act: no signals, cells, webhooks.
 */
#ifndef VIGIL_JSON_VIEW_H
#define VIGIL_JSON_VIEW_H

#include <stddef.h>

#include "detect/fields.h"

struct json_view;

int json_view_new(struct json_view **ret);
struct json_view *json_view_free(struct json_view *jv);
/*
 * Fill v from one line (not NUL-terminated; must outlive v's use).
 * On malformed JSON returns -EINVAL and a message naming the byte offset.
 */
int json_view_fill(struct json_view *jv, struct rule_view *v, const char *line, size_t len,
		   char *err, size_t errlen);

#endif
