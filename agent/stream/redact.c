// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include <strings.h>

#include "stream/redact.h"
#include "core/util.h"

static const char *const secret_words[] = {
    "token",	  "password",	 "passwd",	"secret",     "apikey",
    "api-key",	  "api_key",	 "access-key",	"access_key", "auth",
    "credential", "private-key", "private_key", "passphrase", "bearer",
};

static bool has_secret_word(const char *s, size_t n)
{
	for (size_t i = 0; i < ARRAY_SIZE(secret_words); i++) {
		size_t wl = strlen(secret_words[i]);

		for (size_t j = 0; j + wl <= n; j++)
			if (!strncasecmp(s + j, secret_words[i], wl))
				return true;
	}
	return false;
}

/* scheme://user:pass@host → the span of "pass" */
static bool url_password(const char *s, size_t n, struct redaction *r)
{
	const char *sep = memmem(s, n, "://", 3);
	const char *at, *colon, *end;

	if (!sep)
		return false;
	sep += 3;
	end = s + n;
	for (const char *p = sep; p < end && *p != '/'; p++) {
		if (*p != '@')
			continue;
		at = p;
		colon = memchr(sep, ':', at - sep);
		if (!colon)
			return false;
		r->keep = colon + 1 - s;
		r->resume = at - s;
		return true;
	}
	return false;
}

bool redact_arg(const char *arg, size_t n, bool *next_is_secret, struct redaction *r)
{
	const char *eq = memchr(arg, '=', n);
	const char *colon;

	if (*next_is_secret) {
		*next_is_secret = false;
		if (n && arg[0] != '-') {
			r->keep = 0;
			r->resume = n;
			return true;
		}
	}
	if (eq && has_secret_word(arg, eq - arg)) {
		r->keep = eq + 1 - arg;
		r->resume = n;
		return r->keep < n;
	}
	colon = memchr(arg, ':', n);
	if (colon && colon > arg && colon[1] == ' ' && has_secret_word(arg, colon - arg)) {
		r->keep = colon + 2 - arg; /* "Authorization: Bearer x" */
		r->resume = n;
		return r->keep < n;
	}
	if (url_password(arg, n, r))
		return true;
	if (n > 1 && arg[0] == '-' && !eq && has_secret_word(arg, n))
		*next_is_secret = true;
	return false;
}
