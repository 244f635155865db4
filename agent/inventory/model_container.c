// SPDX-License-Identifier: GPL-2.0
/*
 * The container formats of model_header: ONNX (a protobuf ModelProto, walked
 * field by field without a schema compiler) and zip (the central directory,
 * for PyTorch's <archive>/data.pkl).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "inventory/model_header_internal.h"

/* ---- protobuf wire format ---- */

enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_I32 = 5 };

#define PB_FIELDS_MAX (1u << 22) /* fields walked in one parse (nodes, initializers, dims) */

struct pb {
	struct byte_cursor c;
	struct model_header *h;
	uint32_t fields;
};

static int pb_varint(struct pb *p, uint64_t *v)
{
	uint8_t b;
	int r;

	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if ((r = byte_cursor_get(&p->c, &b, 1)) < 0)
			return r;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -EBADMSG; /* more than 10 bytes */
}

static int pb_key(struct pb *p, uint32_t *field, uint32_t *wire)
{
	uint64_t k;
	int r = pb_varint(p, &k);

	if (r < 0)
		return r;
	if (++p->fields > PB_FIELDS_MAX)
		return -E2BIG;
	*field = (uint32_t)(k >> 3);
	*wire = k & 7;
	return k >> 3 == 0 || k >> 3 > 0x1fffffff ? -EBADMSG : 0;
}

/* A length-delimited field's length, checked against what is left. */
static int pb_len(struct pb *p, uint64_t *len)
{
	int r = pb_varint(p, len);

	if (r < 0)
		return r;
	return *len > p->c.end - p->c.pos ? -EBADMSG : 0;
}

static int pb_skip(struct pb *p, uint32_t wire)
{
	uint64_t v;
	int r;

	switch (wire) {
	case PB_VARINT:
		return pb_varint(p, &v);
	case PB_I64:
		return byte_cursor_skip(&p->c, 8);
	case PB_I32:
		return byte_cursor_skip(&p->c, 4);
	case PB_LEN:
		if ((r = pb_len(p, &v)) < 0)
			return r;
		return byte_cursor_skip(&p->c, v);
	default:
		return -EBADMSG; /* groups (3, 4) are gone from proto3; 6, 7 never existed */
	}
}

/* A string field's bytes (the first cap-1 kept as text). */
static int pb_string(struct pb *p, char *buf, size_t cap)
{
	char tmp[MODEL_TEXT_MAX];
	uint64_t len;
	size_t keep;
	int r = pb_len(p, &len);

	if (r < 0)
		return r;
	keep = len < sizeof(tmp) ? (size_t)len : sizeof(tmp);
	if ((r = byte_cursor_get(&p->c, tmp, keep)) < 0)
		return r;
	byte_text_copy(buf, cap, tmp, keep);
	return byte_cursor_skip(&p->c, len - keep);
}

/* Walk the message of length-delimited field just keyed: fn for each field. */
static int pb_message(struct pb *p, int (*fn)(struct pb *, uint32_t, uint32_t, void *), void *arg)
{
	uint64_t len, end;
	uint32_t field, wire;
	int r = pb_len(p, &len);

	if (r < 0)
		return r;
	end = p->c.end;
	p->c.end = p->c.pos + len;
	while (r >= 0 && p->c.pos < p->c.end)
		if ((r = pb_key(p, &field, &wire)) >= 0)
			r = fn(p, field, wire, arg);
	p->c.end = end;
	return r;
}

/* ---- ONNX ModelProto (onnx/onnx.proto) ---- */

/* TensorProto.DataType, named as safetensors names its dtypes. */
static const char *const onnx_dtypes[] = {
    NULL,   "F32",     "U8",	      "I8",	 "U16",		"I16", "I32", "I64",
    "STR",  "BOOL",    "F16",	      "F64",	 "U32",		"U64", "C64", "C128",
    "BF16", "F8_E4M3", "F8_E4M3FNUZ", "F8_E5M2", "F8_E5M2FNUZ", "U4",  "I4",  "F4_E2M1",
};

struct onnx_tensor {
	uint64_t dims[8];
	uint32_t n_dims;
	bool too_many;
	uint64_t dtype;
};

static int onnx_tensor_field(struct pb *p, uint32_t field, uint32_t wire, void *arg)
{
	struct onnx_tensor *t = arg;
	uint64_t v, len, end;
	int r;

	if (field == 2 && wire == PB_VARINT)
		return pb_varint(p, &t->dtype);
	if (field != 1 || (wire != PB_VARINT && wire != PB_LEN))
		return pb_skip(p, wire);
	if (wire == PB_LEN) { /* packed dims */
		if ((r = pb_len(p, &len)) < 0)
			return r;
		end = p->c.pos + len;
		while (p->c.pos < end && (r = pb_varint(p, &v)) >= 0)
			if (t->n_dims < ARRAY_SIZE(t->dims))
				t->dims[t->n_dims++] = v;
			else
				t->too_many = true;
		return r < 0 ? r : p->c.pos == end ? 0 : -EBADMSG;
	}
	if ((r = pb_varint(p, &v)) < 0)
		return r;
	if (t->n_dims < ARRAY_SIZE(t->dims))
		t->dims[t->n_dims++] = v;
	else
		t->too_many = true;
	return 0;
}

static int onnx_initializer(struct pb *p)
{
	struct onnx_tensor t = {0};
	uint64_t n = 1;
	int r = pb_message(p, onnx_tensor_field, &t);

	if (r < 0)
		return r;
	p->h->tensors++;
	if (t.dtype < ARRAY_SIZE(onnx_dtypes) && onnx_dtypes[t.dtype])
		model_dtype_add(p->h, onnx_dtypes[t.dtype], strlen(onnx_dtypes[t.dtype]));
	for (uint32_t i = 0; i < t.n_dims && !t.too_many; i++)
		if (__builtin_mul_overflow(n, t.dims[i], &n))
			t.too_many = true;
	if (t.too_many)
		p->h->truncated = true;
	else
		model_params_add(p->h, n);
	return 0;
}

static int onnx_graph_field(struct pb *p, uint32_t field, uint32_t wire, void *arg)
{
	if (field == 5 && wire == PB_LEN)
		return onnx_initializer(p);
	if (field == 2 && wire == PB_LEN && !p->h->name[0])
		return pb_string(p, p->h->name, sizeof(p->h->name));
	return pb_skip(p, wire);
}

struct onnx_pair {
	char a[MODEL_TEXT_MAX], b[MODEL_TEXT_MAX];
	uint64_t n;
};

/* OperatorSetIdProto {1 domain, 2 version} and StringStringEntryProto {1 key, 2 value}. */
static int onnx_pair_field(struct pb *p, uint32_t field, uint32_t wire, void *arg)
{
	struct onnx_pair *kv = arg;

	if (field == 1 && wire == PB_LEN)
		return pb_string(p, kv->a, sizeof(kv->a));
	if (field == 2 && wire == PB_LEN)
		return pb_string(p, kv->b, sizeof(kv->b));
	if (field == 2 && wire == PB_VARINT)
		return pb_varint(p, &kv->n);
	return pb_skip(p, wire);
}

static int onnx_pair(struct pb *p, uint32_t field)
{
	struct model_header *h = p->h;
	struct onnx_pair kv = {0};
	int r = pb_message(p, onnx_pair_field, &kv);

	if (r < 0)
		return r;
	if (field == 14) {
		model_meta_add(h, kv.a, strlen(kv.a), kv.b, strlen(kv.b));
	} else if (h->n_opsets < MODEL_OPSETS_MAX) {
		byte_text_copy(h->opsets[h->n_opsets].domain, MODEL_KEY_MAX, kv.a, strlen(kv.a));
		h->opsets[h->n_opsets++].version = (int64_t)kv.n;
	} else {
		h->truncated = true;
	}
	return 0;
}

struct onnx_seen {
	bool graph;
};

static int onnx_field(struct pb *p, uint32_t field, uint32_t wire, struct onnx_seen *seen)
{
	struct model_header *h = p->h;

	if (wire == PB_LEN) {
		switch (field) {
		case 2:
			return pb_string(p, h->producer, sizeof(h->producer));
		case 3:
			return pb_string(p, h->producer_version, sizeof(h->producer_version));
		case 7:
			seen->graph = true;
			return pb_message(p, onnx_graph_field, NULL);
		case 8:
		case 14:
			return onnx_pair(p, field);
		}
	}
	return pb_skip(p, wire);
}

int model_onnx_read(struct byte_reader *r, struct model_header *h)
{
	struct pb p = {.h = h};
	struct onnx_seen seen = {0};
	uint32_t field, wire;
	uint64_t ir;
	int ret;

	byte_cursor_init(&p.c, r, 0, r->src->size);
	if ((ret = pb_key(&p, &field, &wire)) < 0)
		return ret;
	if (field != 1 || wire != PB_VARINT || (ret = pb_varint(&p, &ir)) < 0)
		return -EBADMSG;
	if (ir < 1 || ir > 100) /* IR version 11 in 2025 */
		return -EBADMSG;
	h->version = (uint32_t)ir;
	while (p.c.pos < p.c.end) {
		if ((ret = pb_key(&p, &field, &wire)) < 0 ||
		    (ret = onnx_field(&p, field, wire, &seen)) < 0)
			break;
	}
	if (ret == -E2BIG && seen.graph) { /* bounded: what was read stands */
		h->truncated = true;
		return 0;
	}
	return ret < 0 ? ret : seen.graph ? 0 : -EBADMSG;
}

/* ---- zip: the end record, the central directory, PyTorch's data.pkl ---- */

#define ZIP_EOCD_LEN	22
#define ZIP_TAIL_MAX	(ZIP_EOCD_LEN + 0xffff) /* the record and the longest comment */
#define ZIP_CDIR_LEN	46
#define ZIP_LOCAL_LEN	30
#define ZIP_ENTRIES_MAX (1u << 20)
#define ZIP_NAME_MAX	BYTE_CURSOR_BUF

static uint16_t le16(const uint8_t *b)
{
	return (uint16_t)(b[0] | b[1] << 8);
}
static uint32_t le32(const uint8_t *b)
{
	return (uint32_t)le16(b) | (uint32_t)le16(b + 2) << 16;
}
static uint64_t le64(const uint8_t *b)
{
	return (uint64_t)le32(b) | (uint64_t)le32(b + 4) << 32;
}

struct zip_dir {
	uint64_t off, size, entries;
};

/* zip64: the locator just before the end record points at the zip64 end record. */
static int zip64_dir(struct byte_reader *r, uint64_t eocd, struct zip_dir *d)
{
	uint8_t loc[20], rec[56];
	int ret;

	if (eocd < sizeof(loc) || (ret = byte_read(r, eocd - sizeof(loc), loc, sizeof(loc))) < 0)
		return -EBADMSG;
	if (le32(loc) != 0x07064b50)
		return -EBADMSG;
	if ((ret = byte_read(r, le64(loc + 8), rec, sizeof(rec))) < 0)
		return ret;
	if (le32(rec) != 0x06064b50)
		return -EBADMSG;
	d->entries = le64(rec + 32);
	d->size = le64(rec + 40);
	d->off = le64(rec + 48);
	return 0;
}

static int zip_find_dir(struct byte_reader *r, struct zip_dir *d)
{
	uint64_t size = r->src->size, n = size < ZIP_TAIL_MAX ? size : ZIP_TAIL_MAX;
	_cleanup_free_ uint8_t *tail = malloc(n ? n : 1);
	int64_t i;
	int ret = 0;

	if (!tail)
		return -ENOMEM;
	if ((ret = byte_read(r, size - n, tail, n)) < 0)
		return ret;
	for (i = (int64_t)n - ZIP_EOCD_LEN; i >= 0; i--)
		if (le32(tail + i) == 0x06054b50 &&
		    (uint64_t)i + ZIP_EOCD_LEN + le16(tail + i + 20) <= n)
			break;
	if (i < 0)
		return -EBADMSG;
	d->entries = le16(tail + i + 10);
	d->size = le32(tail + i + 12);
	d->off = le32(tail + i + 16);
	if (d->entries == 0xffff || d->size == 0xffffffff || d->off == 0xffffffff)
		ret = zip64_dir(r, size - n + (uint64_t)i, d);
	if (ret < 0)
		return ret;
	if (d->off > size || d->size > size - d->off || d->entries > ZIP_ENTRIES_MAX)
		return -EBADMSG;
	return 0;
}

struct zip_entry {
	uint8_t fixed[ZIP_CDIR_LEN];
	char name[ZIP_NAME_MAX + 1];
	uint16_t name_len;
	uint64_t csize, usize, local;
};

/* The zip64 extra field replaces the 32-bit values that read 0xffffffff, in order. */
static int zip64_extra(struct byte_cursor *c, struct zip_entry *e, uint16_t extra_len)
{
	uint64_t end = c->pos + extra_len, *vals[] = {&e->usize, &e->csize, &e->local};
	uint8_t hdr[4], v[8];
	int r;

	while (c->pos + 4 <= end) {
		if ((r = byte_cursor_get(c, hdr, 4)) < 0)
			return r;
		if (le16(hdr) != 1) {
			if ((r = byte_cursor_skip(c, le16(hdr + 2))) < 0)
				return r;
			continue;
		}
		for (size_t i = 0; i < ARRAY_SIZE(vals); i++)
			if (*vals[i] == 0xffffffff) {
				if ((r = byte_cursor_get(c, v, 8)) < 0)
					return r;
				*vals[i] = le64(v);
			}
		break;
	}
	return c->pos > end ? -EBADMSG : byte_cursor_skip(c, end - c->pos);
}

static int zip_entry_next(struct byte_cursor *c, struct zip_entry *e)
{
	uint16_t extra, comment;
	int r = byte_cursor_get(c, e->fixed, ZIP_CDIR_LEN);

	if (r < 0)
		return r;
	if (le32(e->fixed) != 0x02014b50)
		return -EBADMSG;
	e->csize = le32(e->fixed + 20);
	e->usize = le32(e->fixed + 24);
	e->name_len = le16(e->fixed + 28);
	extra = le16(e->fixed + 30);
	comment = le16(e->fixed + 32);
	e->local = le32(e->fixed + 42);
	if (e->name_len > ZIP_NAME_MAX) { /* no name of ours is that long: skipped */
		e->name[0] = '\0';
		r = byte_cursor_skip(c, e->name_len);
	} else {
		r = byte_cursor_get(c, e->name, e->name_len);
		e->name[e->name_len] = '\0';
	}
	if (r < 0 || (r = zip64_extra(c, e, extra)) < 0)
		return r;
	return byte_cursor_skip(c, comment);
}

/*
 * torch.load reads "<archive>/data.pkl", <archive> being the first entry's
 * top folder: that one (2). Failing it, any entry named data.pkl (1), since
 * another loader may look elsewhere and a pickle scanned too many is cheap.
 */
static int data_pkl_rank(const struct zip_entry *e, const char *archive)
{
	size_t n = strlen(archive);

	if (e->name_len > ZIP_NAME_MAX || memchr(e->name, '\0', e->name_len))
		return 0;
	if (e->name_len == n + 9 && !memcmp(e->name, archive, n) &&
	    !memcmp(e->name + n, "/data.pkl", 9))
		return 2;
	if (e->name_len >= 8 && !memcmp(e->name + e->name_len - 8, "data.pkl", 8) &&
	    (e->name_len == 8 || e->name[e->name_len - 9] == '/'))
		return 1;
	return 0;
}

static int zip_locate(struct byte_reader *r, const struct zip_entry *e, struct model_header *h)
{
	struct model_pickle_loc *at = &h->pickle_at;
	uint16_t method = le16(e->fixed + 10), flags = le16(e->fixed + 8);
	uint8_t local[ZIP_LOCAL_LEN];
	uint64_t data;
	int ret = byte_read(r, e->local, local, sizeof(local));

	if (ret < 0)
		return ret == -ENODATA ? -EBADMSG : ret;
	if (le32(local) != 0x04034b50)
		return -EBADMSG;
	data = e->local + ZIP_LOCAL_LEN + le16(local + 26) + le16(local + 28);
	if (data > r->src->size || e->csize > r->src->size - data)
		return -EBADMSG;
	h->pickle = true;
	byte_text_copy(at->entry, sizeof(at->entry), e->name, e->name_len);
	if (flags & 1 || (method != 0 && method != 8))
		return 0; /* encrypted or another method: torch cannot read it either */
	at->method = method ? MODEL_PICKLE_DEFLATED : MODEL_PICKLE_STORED;
	at->off = data;
	at->len = e->csize;
	at->size = method ? e->usize : e->csize;
	return 0;
}

int model_zip_read(struct byte_reader *r, struct model_header *h)
{
	struct zip_entry *e = malloc(sizeof(*e));
	char archive[ZIP_NAME_MAX + 1] = "";
	struct byte_cursor *c = malloc(sizeof(*c));
	struct zip_dir d;
	int rank, best = 0, ret = !e || !c ? -ENOMEM : zip_find_dir(r, &d);

	h->format = "zip"; /* until its directory names a data.pkl */
	if (ret < 0)
		goto out;
	byte_cursor_init(c, r, d.off, d.off + d.size);
	for (uint64_t i = 0; i < d.entries && ret >= 0; i++) {
		if ((ret = zip_entry_next(c, e)) < 0)
			break;
		h->zip_entries++;
		if (i == 0)
			snprintf(archive, sizeof(archive), "%.*s", (int)strcspn(e->name, "/"),
				 e->name);
		h->zip_pickles += (rank = data_pkl_rank(e, archive)) > 0;
		if (rank > best) {
			best = rank;
			h->format = "pytorch-zip";
			ret = zip_locate(r, e, h);
		}
	}
out:
	free(e);
	free(c);
	return ret;
}
