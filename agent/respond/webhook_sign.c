// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "respond/webhook_sign.h"

#define PREFIX "whsec_"

int whsig_key_parse(const char *secret, struct whsig_key *ret)
{
	unsigned char buf[WHSIG_KEY_MAX + 3];
	size_t n, pad = 0;
	int got;

	if (!strncmp(secret, PREFIX, strlen(PREFIX)))
		secret += strlen(PREFIX);
	n = strlen(secret);
	if (!n || n % 4 || n / 4 * 3 > sizeof(buf))
		return -EINVAL;
	got = EVP_DecodeBlock(buf, (const unsigned char *)secret, n);
	if (got < 0)
		return -EINVAL;
	/* EVP_DecodeBlock counts the padding as zero bytes */
	while (pad < 2 && n > pad && secret[n - 1 - pad] == '=')
		pad++;
	if ((size_t)got < pad || (size_t)got - pad == 0 || (size_t)got - pad > WHSIG_KEY_MAX)
		return -EINVAL;
	ret->len = got - pad;
	memcpy(ret->bytes, buf, ret->len);
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

static int hmac_sha256(const struct whsig_key *key, const char *id, int64_t ts, const void *body,
		       size_t len, unsigned char mac[32])
{
	EVP_MAC *alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = alg ? EVP_MAC_CTX_new(alg) : NULL;
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
	    OSSL_PARAM_construct_end()};
	char stamp[32];
	size_t out = 0;
	int ok;

	snprintf(stamp, sizeof(stamp), ".%" PRId64 ".", ts);
	ok = ctx && EVP_MAC_init(ctx, key->bytes, key->len, params) &&
	     EVP_MAC_update(ctx, (const unsigned char *)id, strlen(id)) &&
	     EVP_MAC_update(ctx, (const unsigned char *)stamp, strlen(stamp)) &&
	     EVP_MAC_update(ctx, body, len) && EVP_MAC_final(ctx, mac, &out, 32) && out == 32;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(alg);
	return ok ? 0 : -EIO;
}

int whsig_sign(const struct whsig_key *key, const char *id, int64_t ts, const void *body,
	       size_t len, char *out)
{
	unsigned char mac[32];
	int r = hmac_sha256(key, id, ts, body, len, mac);

	if (r < 0)
		return r;
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, mac, sizeof(mac)); /* 44 chars + NUL */
	return 0;
}

bool whsig_verify(const struct whsig_key *key, const char *id, int64_t ts, const void *body,
		  size_t len, const char *header)
{
	char want[WHSIG_LEN];
	size_t wl;
	bool match = false;

	if (whsig_sign(key, id, ts, body, len, want) < 0)
		return false;
	wl = strlen(want);
	while (*header) { /* look at every entry: no early exit on a match */
		size_t n = strcspn(header, " ");

		if (n == wl && !CRYPTO_memcmp(header, want, wl))
			match = true;
		header += n;
		header += strspn(header, " ");
	}
	return match;
}
