// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vigil/chain.h"
#include "vigil/util.h"

struct chain_hasher {
	EVP_MD_CTX *ctx;
	const EVP_MD *md;
};

struct chain_hasher *chain_hasher_new(void)
{
	struct chain_hasher *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->ctx = EVP_MD_CTX_new();
	h->md = EVP_sha256();
	if (!h->ctx) {
		free(h);
		return NULL;
	}
	return h;
}

struct chain_hasher *chain_hasher_free(struct chain_hasher *h)
{
	if (h) {
		EVP_MD_CTX_free(h->ctx);
		free(h);
	}
	return NULL;
}

void chain_hash(struct chain_hasher *h, const char *line, size_t len, char out[CHAIN_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	EVP_DigestInit_ex(h->ctx, h->md, NULL);
	EVP_DigestUpdate(h->ctx, line, len);
	EVP_DigestFinal_ex(h->ctx, md, &mdlen);
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[CHAIN_HEX_LEN] = 0;
}

int chain_last_line_hash(const char *path, char out[CHAIN_HEX_LEN + 1])
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	struct chain_hasher *h;
	struct stat st;
	size_t want, start, end;
	off_t from;
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size == 0)
		return -ENODATA;
	want = st.st_size < (8 << 20) ? st.st_size : (8 << 20); /* lines are far smaller */
	from = st.st_size - want;
	buf = malloc(want);
	if (!buf)
		return -ENOMEM;
	n = pread(fd, buf, want, from);
	if (n != (ssize_t)want)
		return -EIO;
	end = want;
	if (buf[end - 1] == '\n')
		end--;
	start = end;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	if (start == 0 && from > 0)
		return -E2BIG;
	h = chain_hasher_new();
	if (!h)
		return -ENOMEM;
	chain_hash(h, buf + start, end - start, out);
	chain_hasher_free(h);
	return 0;
}

static int fail(struct chain_result *res, const char *file, uint64_t line, const char *fmt,
		uint64_t a)
{
	snprintf(res->file, sizeof(res->file), "%s", file);
	res->line = line;
	snprintf(res->reason, sizeof(res->reason), fmt, (unsigned long long)a,
		 (unsigned long long)a + 1);
	return 1;
}

static const char *line_chain(json_t *root)
{
	json_t *v = json_object_get(json_object_get(root, "vigil"), "chain");

	return json_is_string(v) ? json_string_value(v) : NULL;
}

int chain_verify(char *const *files, unsigned nfiles, struct chain_result *res)
{
	char prev[CHAIN_HEX_LEN + 1] = "";
	struct chain_hasher *h = chain_hasher_new();
	char *line = NULL;
	size_t cap = 0;
	int r = 0;

	memset(res, 0, sizeof(*res));
	if (!h)
		return -ENOMEM;
	for (unsigned f = 0; f < nfiles && !r; f++) {
		FILE *fp = fopen(files[f], "re");
		uint64_t ln = 0;
		ssize_t n;

		if (!fp) {
			r = -errno;
			snprintf(res->file, sizeof(res->file), "%s", files[f]);
			break;
		}
		while (!r && (n = getline(&line, &cap, fp)) > 0) {
			json_error_t jerr;
			json_t *root;
			const char *c;

			ln++;
			if (line[n - 1] != '\n') {
				r = fail(res, files[f], ln, "line %llu is incomplete (no newline)",
					 ln);
				break;
			}
			line[--n] = 0;
			root = json_loadb(line, n, 0, &jerr);
			c = root ? line_chain(root) : NULL;
			if (!root)
				r = fail(res, files[f], ln, "line %llu is not valid JSON (edited)",
					 ln);
			else if (!c || strlen(c) != CHAIN_HEX_LEN)
				r = fail(res, files[f], ln,
					 "line %llu has no vigil.chain (edited or inserted)", ln);
			else if (prev[0] && strcmp(c, prev))
				r = fail(res, files[f], ln > 1 ? ln - 1 : ln,
					 "hash chain broken between lines %llu and %llu: edited, "
					 "deleted, inserted or reordered",
					 ln > 1 ? ln - 1 : ln);
			json_decref(root);
			chain_hash(h, line, n, prev);
			res->lines++;
		}
		fclose(fp);
	}
	free(line);
	chain_hasher_free(h);
	return r;
}
