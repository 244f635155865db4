/* SPDX-License-Identifier: GPL-2.0 */
/*
 * webhook_sign.h — Standard Webhooks signatures (standardwebhooks.com).
 *
 * Owns: reading a `whsec_<base64>` secret, the signed content
 * "<webhook-id>.<webhook-timestamp>.<body>", the `webhook-signature` value
 * "v1,<base64 HMAC-SHA256>", and checking a header that may carry several
 * space-separated signatures (constant-time). HMAC and base64 come from
 * OpenSSL's libcrypto. Sending, retries and the spool are not here.
 *
 * Stage respond/: includes any stage but daemon/; does not own the loop or the socket.
 */
#ifndef VIGIL_WEBHOOK_SIGN_H
#define VIGIL_WEBHOOK_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WHSIG_KEY_MAX 128
#define WHSIG_LEN     64 /* "v1," + 44 base64 characters + NUL fits */

struct whsig_key {
	uint8_t bytes[WHSIG_KEY_MAX];
	size_t len;
};

/* "whsec_<base64>" (or bare base64) → key; -EINVAL if malformed or empty. */
int whsig_key_parse(const char *secret, struct whsig_key *ret);
/* out (WHSIG_LEN bytes) = "v1,<base64 of HMAC-SHA256(key, id.ts.body)>". */
int whsig_sign(const struct whsig_key *key, const char *id, int64_t ts, const void *body,
	       size_t len, char *out);
/* Does any "v1,…" entry of header match? */
bool whsig_verify(const struct whsig_key *key, const char *id, int64_t ts, const void *body,
		  size_t len, const char *header);

#endif
