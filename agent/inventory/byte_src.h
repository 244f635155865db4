/* SPDX-License-Identifier: GPL-2.0 */
/*
 * byte_src.h — bounded reads from an untrusted file or buffer, for the
 * model parsers.
 *
 * Owns: a random-access byte source (a file descriptor read with pread, or a
 * buffer in memory: the fuzz targets and unit tests use memory, vigild an
 * fd), a reader that refuses anything past the source's end and counts the
 * bytes a parse has read against a cap, a small buffered cursor for the
 * parsers that walk a file front to back (GGUF, protobuf), and copying text
 * out of hostile bytes (valid UTF-8, no control characters, NUL-terminated,
 * truncated at a character boundary).
 *
 * Stage inventory/: includes core/ and sense/ only; does not open files by
 * path, allocate per read, or decide anything about what it reads.
 */
#ifndef VIGIL_BYTE_SRC_H
#define VIGIL_BYTE_SRC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct byte_src {
	/* Read len bytes at off into buf: the count read (short only at the
	 * end of the file), or -errno. Called only through byte_read(), which
	 * keeps [off, off + len) inside [0, size). */
	int (*read)(void *ctx, uint64_t off, void *buf, size_t len);
	void *ctx;
	uint64_t size;
};

/* A source over len bytes at data (not copied: data must outlive src). */
void byte_src_mem(struct byte_src *src, const void *data, size_t len);
/* A source over an open fd (pread; the fd is not closed). Size from fstat:
 * -errno when fstat fails, -EINVAL when fd is not a regular file. */
int byte_src_fd(struct byte_src *src, int fd);

/* One parse's view of a source: every read bounded, the total capped. */
struct byte_reader {
	const struct byte_src *src;
	uint64_t used; /* bytes read so far */
	uint64_t cap;  /* most bytes this parse may read (0: the source's size) */
};

/* Exactly len bytes at off, or: -ENODATA (past the end), -E2BIG (the cap
 * would be exceeded), -EIO (a short read inside the size), -errno. */
int byte_read(struct byte_reader *r, uint64_t off, void *buf, size_t len);

#define BYTE_CURSOR_BUF 4096

/* Front-to-back reads through a buffer; a skip past the buffer reads nothing. */
struct byte_cursor {
	struct byte_reader *r;
	uint64_t pos; /* next byte's offset in the source */
	uint64_t end; /* reads stop here (<= the source's size) */
	uint64_t buf_off;
	size_t buf_len;
	uint8_t buf[BYTE_CURSOR_BUF];
};

void byte_cursor_init(struct byte_cursor *c, struct byte_reader *r, uint64_t pos, uint64_t end);
/* Exactly n bytes (n <= BYTE_CURSOR_BUF), or -ENODATA past end, or byte_read's errors. */
int byte_cursor_get(struct byte_cursor *c, void *out, size_t n);
/* Advance n bytes without reading them: -ENODATA when that passes end. */
int byte_cursor_skip(struct byte_cursor *c, uint64_t n);
/* Little-endian integers. */
int byte_cursor_u32(struct byte_cursor *c, uint32_t *v);
int byte_cursor_u64(struct byte_cursor *c, uint64_t *v);

/* Copy len bytes of untrusted text into dst (cap bytes, NUL included): an
 * invalid UTF-8 byte or a control character becomes '?', and a character
 * that would not fit whole is dropped. Returns false when text was cut. */
bool byte_text_copy(char *dst, size_t cap, const void *src, size_t len);

#endif
