// SPDX-License-Identifier: GPL-2.0
/* The byte stream under pickle_scan: stored bytes or a deflate stream, bounded. */
#include <errno.h>
#include <string.h>

#include "inventory/pickle_internal.h"

int pstream_open(struct pstream *s, const struct byte_src *src, uint64_t off, uint64_t len,
		 bool deflated, const struct pickle_limits *lim)
{
	if (off > src->size || len > src->size - off)
		return -EBADMSG;
	s->rd = (struct byte_reader){.src = src, .cap = lim->max_read};
	s->deflated = deflated;
	s->z_live = s->z_end = false;
	s->in_pos = off;
	s->in_end = off + len;
	s->out_pos = s->out_len = 0;
	s->pos = 0;
	s->max = lim->max_bytes;
	if (!deflated)
		return 0;
	memset(&s->z, 0, sizeof(s->z));
	if (inflateInit2(&s->z, -MAX_WBITS) != Z_OK) /* zip entries are raw deflate */
		return -ENOMEM;
	s->z_live = true;
	return 0;
}

void pstream_close(struct pstream *s)
{
	if (s->z_live)
		inflateEnd(&s->z);
	s->z_live = false;
}

/* Stored bytes are read no further than max lets them be walked. */
static int fill_stored(struct pstream *s)
{
	uint64_t left = s->in_end - s->in_pos, room = s->max - s->pos;
	size_t n = left < PSTREAM_BUF ? (size_t)left : PSTREAM_BUF;
	int r;

	if (!n)
		return -ENODATA;
	if (!room)
		return -E2BIG;
	if (n > room)
		n = (size_t)room;
	if ((r = byte_read(&s->rd, s->in_pos, s->out, n)) < 0)
		return r;
	s->in_pos += n;
	s->out_pos = 0;
	s->out_len = n;
	return 0;
}

static int fill_deflated(struct pstream *s)
{
	int r, zr;

	s->out_pos = s->out_len = 0;
	while (!s->out_len) {
		if (s->z_end)
			return -ENODATA;
		if (!s->z.avail_in && s->in_pos < s->in_end) {
			uint64_t left = s->in_end - s->in_pos;
			size_t n = left < PSTREAM_BUF ? (size_t)left : PSTREAM_BUF;
			if ((r = byte_read(&s->rd, s->in_pos, s->in, n)) < 0)
				return r;
			s->in_pos += n;
			s->z.next_in = s->in;
			s->z.avail_in = (uInt)n;
		}
		s->z.next_out = s->out;
		s->z.avail_out = PSTREAM_BUF;
		zr = inflate(&s->z, Z_NO_FLUSH);
		s->out_len = PSTREAM_BUF - s->z.avail_out;
		if (zr == Z_STREAM_END)
			s->z_end = true;
		else if (zr == Z_BUF_ERROR && !s->z.avail_in && s->in_pos >= s->in_end)
			return s->out_len ? 0 : -ENODATA; /* the entry ends inside the stream */
		else if (zr != Z_OK && zr != Z_BUF_ERROR)
			return -EBADMSG;
	}
	return 0;
}

static int fill(struct pstream *s)
{
	if (s->out_pos < s->out_len)
		return 0;
	return s->deflated ? fill_deflated(s) : fill_stored(s);
}

int pstream_get(struct pstream *s, void *buf, size_t n)
{
	uint8_t *o = buf;
	int r;

	if (n > s->max - s->pos)
		return -E2BIG;
	while (n) {
		if ((r = fill(s)) < 0)
			return r;
		size_t k = s->out_len - s->out_pos < n ? s->out_len - s->out_pos : n;
		memcpy(o, s->out + s->out_pos, k);
		s->out_pos += k;
		s->pos += k;
		o += k;
		n -= k;
	}
	return 0;
}

int pstream_skip(struct pstream *s, uint64_t n)
{
	size_t k;
	int r;

	if (n > s->max - s->pos)
		return -E2BIG;
	k = s->out_len - s->out_pos < n ? s->out_len - s->out_pos : (size_t)n;
	s->out_pos += k;
	s->pos += k;
	n -= k;
	if (!s->deflated) { /* stored: skipped without reading */
		if (n > s->in_end - s->in_pos)
			return -ENODATA;
		s->in_pos += n;
		s->pos += n;
		return 0;
	}
	while (n) {
		if ((r = fill(s)) < 0)
			return r;
		k = s->out_len - s->out_pos < n ? s->out_len - s->out_pos : (size_t)n;
		s->out_pos += k;
		s->pos += k;
		n -= k;
	}
	return 0;
}

int pstream_peek(struct pstream *s, uint8_t *b)
{
	int r = fill(s); /* buffers, consumes nothing: max is the getters' to enforce */

	if (r < 0)
		return r == -ENODATA ? 0 : r;
	*b = s->out[s->out_pos];
	return 1;
}

int pstream_line(struct pstream *s, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	int r;

	for (;;) {
		if (s->pos >= s->max)
			return -E2BIG;
		if ((r = fill(s)) < 0)
			return r;
		uint8_t *start = s->out + s->out_pos, *nl;
		size_t avail = s->out_len - s->out_pos;
		nl = memchr(start, '\n', avail);
		size_t take = nl ? (size_t)(nl - start) : avail;
		if (take > s->max - s->pos)
			take = (size_t)(s->max - s->pos); /* the bound: caught at the loop's top */
		if (n < cap)
			memcpy(buf + n, start, take < cap - n ? take : cap - n);
		n += take;
		s->out_pos += take;
		s->pos += take;
		if (nl && s->out_pos < s->out_len && s->out[s->out_pos] == '\n') {
			if (s->pos >= s->max)
				return -E2BIG;
			s->out_pos++;
			s->pos++;
			*len = n;
			return 0;
		}
	}
}
