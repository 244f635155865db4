// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "stream/chain.h"
#include "core/util.h"

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

/* The last complete line in buf (from: its offset in the file): [*start, *end). */
static int last_line(const char *buf, size_t n, off_t from, size_t *start, size_t *end)
{
	const char *nl = memrchr(buf, '\n', n);

	if (!nl)
		return from > 0 ? -E2BIG : -ENODATA;
	*end = nl - buf;
	*start = *end;
	while (*start > 0 && buf[*start - 1] != '\n')
		(*start)--;
	if (*start == 0 && from > 0)
		return -E2BIG;
	return 0;
}

static void tail_fields(const char *line, size_t len, struct chain_tail *t)
{
	json_t *root = json_loadb(line, len, 0, NULL);
	json_t *ev = json_object_get(root, "event");
	const char *action = json_string_value(json_object_get(ev, "action"));
	const char *run =
	    json_string_value(json_object_get(json_object_get(root, "agent"), "ephemeral_id"));

	t->sequence = json_integer_value(json_object_get(ev, "sequence"));
	t->clean = action && !strcmp(action, "agent-stop");
	snprintf(t->run_id, sizeof(t->run_id), "%s", run ? run : "");
	json_decref(root);
}

int chain_tail_read(const char *path, struct chain_tail *ret)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	struct chain_hasher *h;
	struct stat st;
	size_t want, start, end;
	off_t from;
	int r;

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
	if (pread(fd, buf, want, from) != (ssize_t)want)
		return -EIO;
	r = last_line(buf, want, from, &start, &end);
	if (r < 0)
		return r;
	h = chain_hasher_new();
	if (!h)
		return -ENOMEM;
	memset(ret, 0, sizeof(*ret));
	chain_hash(h, buf + start, end - start, ret->head);
	chain_hasher_free(h);
	tail_fields(buf + start, end - start, ret);
	return 0;
}

struct verify_ctx {
	const struct chain_verify_opts *o;
	struct chain_result *res;
	char prev[CHAIN_HEX_LEN + 1]; /* hash of the line before ("": none yet) */
	struct chain_hasher *h;
};

static void report(struct verify_ctx *v, const char *file, uint64_t line, const char *fmt, ...)
{
	char reason[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	v->res->breaks++;
	if (v->o->on_break)
		v->o->on_break(v->o->ctx, file, line, reason);
}

static const char *line_chain(json_t *root)
{
	json_t *v = json_object_get(json_object_get(root, "vigil"), "chain");

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* One line (no newline): its own form, then its link to the line before. */
static void check_line(struct verify_ctx *v, const char *file, uint64_t ln, const char *line,
		       size_t n)
{
	unsigned long long l = ln;
	json_t *root = json_loadb(line, n, 0, NULL);
	const char *c = root ? line_chain(root) : NULL;

	if (!root)
		report(v, file, ln, "line %llu is not valid JSON (edited or torn)", l);
	else if (!c || strlen(c) != CHAIN_HEX_LEN)
		report(v, file, ln, "line %llu has no vigil.chain (edited or inserted)", l);
	else if (!v->prev[0] && !v->o->continued && strcmp(c, CHAIN_GENESIS))
		report(v, file, ln,
		       "line %llu does not start the chain (vigil.chain is not the genesis, 64 "
		       "zeros): lines before it are missing (deleted, or rotated away: then name "
		       "the oldest file first, or pass --continued)",
		       l);
	else if (v->prev[0] && strcmp(c, v->prev) && ln == 1)
		report(v, file, ln,
		       "line 1 does not continue the chain of the file before it: lines deleted "
		       "between the files, or files named out of order (oldest first)");
	else if (v->prev[0] && strcmp(c, v->prev))
		report(
		    v, file, ln - 1,
		    "hash chain broken between lines %llu and %llu: edited, deleted, inserted or "
		    "reordered",
		    l - 1, l);
	json_decref(root);
	/* the next line links to these bytes, whatever they are: one fault, one break */
	chain_hash(v->h, line, n, v->prev);
	v->res->lines++;
}

static int verify_file(struct verify_ctx *v, const char *file, char **line, size_t *cap)
{
	_cleanup_fclose_ FILE *fp = fopen(file, "re");
	uint64_t ln = 0;
	ssize_t n;

	if (!fp)
		return -errno;
	while ((n = getline(line, cap, fp)) > 0) {
		ln++;
		if ((*line)[n - 1] != '\n') {
			report(v, file, ln,
			       "line %llu is incomplete (no newline): a torn write, or cut short",
			       (unsigned long long)ln);
			break;
		}
		(*line)[--n] = 0;
		check_line(v, file, ln, *line, n);
	}
	return ferror(fp) ? -EIO : 0;
}

int chain_verify(char *const *files, unsigned nfiles, const struct chain_verify_opts *opts,
		 struct chain_result *res)
{
	struct verify_ctx v = {.o = opts, .res = res};
	char *line = NULL;
	size_t cap = 0;
	int r = 0;

	memset(res, 0, sizeof(*res));
	v.h = chain_hasher_new();
	if (!v.h)
		return -ENOMEM;
	for (unsigned f = 0; f < nfiles && r == 0; f++) {
		r = verify_file(&v, files[f], &line, &cap);
		if (r < 0)
			snprintf(res->file, sizeof(res->file), "%s", files[f]);
	}
	free(line);
	chain_hasher_free(v.h);
	return r < 0 ? r : (int)(res->breaks > INT32_MAX ? INT32_MAX : res->breaks);
}
