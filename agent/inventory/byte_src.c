// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inventory/byte_src.h"

static int mem_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	memcpy(buf, (const uint8_t *)ctx + off, len); /* byte_read keeps it in bounds */
	return (int)len;
}

void byte_src_mem(struct byte_src *src, const void *data, size_t len)
{
	*src = (struct byte_src){.read = mem_read, .ctx = (void *)data, .size = len};
}

static int fd_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	int fd = (int)(intptr_t)ctx;
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break; /* truncated since fstat */
		done += (size_t)n;
	}
	return (int)done;
}

int byte_src_fd(struct byte_src *src, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	*src = (struct byte_src){
	    .read = fd_read, .ctx = (void *)(intptr_t)fd, .size = (uint64_t)st.st_size};
	return 0;
}

/* Reads go to the source in pieces small enough for its int return. */
#define READ_CHUNK (1u << 30)

int byte_read(struct byte_reader *r, uint64_t off, void *buf, size_t len)
{
	uint64_t size = r->src->size, cap = r->cap ? r->cap : size;

	if (off > size || len > size - off)
		return -ENODATA;
	if (len > cap || r->used > cap - len)
		return -E2BIG;
	r->used += len;
	for (size_t done = 0; done < len;) {
		size_t n = len - done < READ_CHUNK ? len - done : READ_CHUNK;
		int got = r->src->read(r->src->ctx, off + done, (uint8_t *)buf + done, n);
		if (got < 0)
			return got;
		if ((size_t)got != n)
			return -EIO;
		done += n;
	}
	return 0;
}

void byte_cursor_init(struct byte_cursor *c, struct byte_reader *r, uint64_t pos, uint64_t end)
{
	c->r = r;
	c->pos = pos;
	c->end = end < r->src->size ? end : r->src->size;
	c->buf_off = pos;
	c->buf_len = 0;
}

static int cursor_fill(struct byte_cursor *c)
{
	uint64_t left = c->end - c->pos;
	size_t n = left < BYTE_CURSOR_BUF ? (size_t)left : BYTE_CURSOR_BUF;
	int r = byte_read(c->r, c->pos, c->buf, n);

	if (r < 0)
		return r;
	c->buf_off = c->pos;
	c->buf_len = n;
	return 0;
}

int byte_cursor_get(struct byte_cursor *c, void *out, size_t n)
{
	if (n > BYTE_CURSOR_BUF)
		return -EINVAL;
	if (c->pos > c->end || n > c->end - c->pos)
		return -ENODATA;
	if (c->pos < c->buf_off || c->pos + n > c->buf_off + c->buf_len) {
		int r = cursor_fill(c);
		if (r < 0)
			return r;
	}
	memcpy(out, c->buf + (c->pos - c->buf_off), n);
	c->pos += n;
	return 0;
}

int byte_cursor_skip(struct byte_cursor *c, uint64_t n)
{
	if (c->pos > c->end || n > c->end - c->pos)
		return -ENODATA;
	c->pos += n;
	return 0;
}

int byte_cursor_u32(struct byte_cursor *c, uint32_t *v)
{
	uint8_t b[4];
	int r = byte_cursor_get(c, b, 4);

	if (r < 0)
		return r;
	*v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	return 0;
}

int byte_cursor_u64(struct byte_cursor *c, uint64_t *v)
{
	uint32_t lo, hi;
	int r = byte_cursor_u32(c, &lo);

	if (r < 0 || (r = byte_cursor_u32(c, &hi)) < 0)
		return r;
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

/* Length of the valid UTF-8 character at s (n bytes left), 0 when invalid. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
	size_t len = s[0] < 0x80		   ? 1
		     : s[0] >= 0xc2 && s[0] < 0xe0 ? 2
		     : s[0] >= 0xe0 && s[0] < 0xf0 ? 3
		     : s[0] >= 0xf0 && s[0] < 0xf5 ? 4
						   : 0;
	uint32_t cp;

	if (!len || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (len == 3) {
		cp = (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6;
		if (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))
			return 0; /* overlong or a surrogate */
	}
	if (len == 4) {
		cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12;
		if (cp < 0x10000 || cp > 0x10ffff)
			return 0;
	}
	return len;
}

bool byte_text_copy(char *dst, size_t cap, const void *src, size_t len)
{
	const uint8_t *s = src;
	size_t i = 0, o = 0;

	if (!cap)
		return len == 0;
	while (i < len) {
		size_t n = utf8_len(s + i, len - i);
		bool ok = n > 0 && !(n == 1 && (s[i] < 0x20 || s[i] == 0x7f));
		size_t w = ok ? n : 1;
		if (o + w >= cap)
			break;
		if (ok)
			memcpy(dst + o, s + i, n);
		else
			dst[o] = '?';
		o += w;
		i += ok ? n : 1;
	}
	dst[o] = '\0';
	return i == len;
}
