/* SPDX-License-Identifier: GPL-2.0 */
/*
 * redact.h — find secrets in command-line arguments before they are written.
 *
 * Owns the patterns: `--token=…`, `password=…`, `--api-key VALUE` (the next
 * argument), `Authorization: Bearer …`, URL user-info `https://u:PASS@h`.
 * Only the value is replaced, so the stream still shows which flag was used.
 *
 * Stage stream/: includes core/ and sense/; does not decide (detect) or act.
 */
#ifndef VIGIL_REDACT_H
#define VIGIL_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#define REDACTED "[REDACTED]"

struct redaction {
	size_t keep;   /* bytes kept before REDACTED */
	size_t resume; /* bytes from here on are kept after it (== n: none) */
};

/*
 * Should arg (n bytes) be redacted? *next_is_secret carries state between
 * consecutive arguments: set when this argument is a bare secret flag.
 * Returns true and fills r when part of arg must be replaced.
 */
bool redact_arg(const char *arg, size_t n, bool *next_is_secret, struct redaction *r);

#endif
