// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "inventory/model_header_internal.h"
#include "inventory/pickle_scan.h"
#include "sense/sniff.h"

/* ---- shared helpers ---- */

bool model_meta_add(struct model_header *h, const char *key, size_t klen, const char *val,
		    size_t vlen)
{
	struct model_kv *kv;

	if (h->n_meta >= MODEL_META_MAX) {
		h->truncated = true;
		return false;
	}
	kv = &h->meta[h->n_meta++];
	byte_text_copy(kv->key, sizeof(kv->key), key, klen);
	byte_text_copy(kv->value, sizeof(kv->value), val, vlen);
	return true;
}

void model_dtype_add(struct model_header *h, const char *dtype, size_t len)
{
	char name[sizeof(h->dtypes[0])];

	byte_text_copy(name, sizeof(name), dtype, len);
	for (uint32_t i = 0; i < h->n_dtypes; i++)
		if (!strcmp(h->dtypes[i], name))
			return;
	if (h->n_dtypes >= MODEL_DTYPES_MAX) {
		h->truncated = true;
		return;
	}
	memcpy(h->dtypes[h->n_dtypes++], name, sizeof(name));
}

void model_params_add(struct model_header *h, uint64_t n)
{
	if (__builtin_add_overflow(h->params, n, &h->params)) {
		h->params = UINT64_MAX;
		h->truncated = true;
	}
}

/* Product of dims, or false when it overflows (a hostile shape). */
static bool shape_product(const uint64_t *dims, size_t n, uint64_t *ret)
{
	uint64_t p = 1;

	for (size_t i = 0; i < n; i++)
		if (__builtin_mul_overflow(p, dims[i], &p))
			return false;
	*ret = p;
	return true;
}

/* ---- GGUF v2/v3: header, key/value metadata, tensor infos ---- */

enum gguf_type {
	GGUF_U8,
	GGUF_I8,
	GGUF_U16,
	GGUF_I16,
	GGUF_U32,
	GGUF_I32,
	GGUF_F32,
	GGUF_BOOL,
	GGUF_STRING,
	GGUF_ARRAY,
	GGUF_U64,
	GGUF_I64,
	GGUF_F64,
	GGUF_TYPES
};

static const uint8_t gguf_size[GGUF_TYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

#define GGUF_KEY_MAX	 (64u << 10) /* llama.cpp's own bound on a key is smaller */
#define GGUF_KV_MAX	 (1u << 20)
#define GGUF_TENSORS_MAX (1u << 24)
#define GGUF_DIMS_MAX	 4 /* GGML_MAX_DIMS */
#define GGUF_NEST_MAX	 2 /* arrays of arrays: no deeper */

struct gguf {
	struct byte_cursor c;
	struct model_header *h;
	struct {
		char arch[MODEL_KEY_MAX]; /* the prefix of a <arch>.context_length seen */
		uint64_t len;
	} ctx[4]; /* a file may carry several (a vision tower's): the arch's wins at the end */
	uint32_t n_ctx;
};

/* A string: its first cap-1 bytes into buf (may be NULL), the rest skipped. */
static int gguf_str(struct gguf *g, char *buf, size_t cap, size_t *ret_len)
{
	char tmp[MODEL_TEXT_MAX];
	uint64_t len;
	size_t keep;
	int r = byte_cursor_u64(&g->c, &len);

	if (r < 0)
		return r;
	keep = len < sizeof(tmp) ? (size_t)len : sizeof(tmp);
	if (buf && (r = byte_cursor_get(&g->c, tmp, keep)) < 0)
		return r;
	if ((r = byte_cursor_skip(&g->c, len - (buf ? keep : 0))) < 0)
		return r;
	if (buf)
		byte_text_copy(buf, cap, tmp, keep);
	if (ret_len)
		*ret_len = len > SIZE_MAX ? SIZE_MAX : (size_t)len;
	return 0;
}

static int gguf_skip(struct gguf *g, uint32_t type, int depth);

static int gguf_skip_array(struct gguf *g, int depth)
{
	uint32_t type;
	uint64_t n;
	int r;

	if (depth >= GGUF_NEST_MAX)
		return -EBADMSG;
	if ((r = byte_cursor_u32(&g->c, &type)) < 0 || (r = byte_cursor_u64(&g->c, &n)) < 0)
		return r;
	if (type >= GGUF_TYPES)
		return -EBADMSG;
	if (gguf_size[type]) /* fixed-size elements: skipped without reading */
		return n > UINT64_MAX / gguf_size[type]
			   ? -EBADMSG
			   : byte_cursor_skip(&g->c, n * gguf_size[type]);
	for (uint64_t i = 0; i < n; i++)
		if ((r = gguf_skip(g, type, depth + 1)) < 0)
			return r;
	return 0;
}

static int gguf_skip(struct gguf *g, uint32_t type, int depth)
{
	if (type >= GGUF_TYPES)
		return -EBADMSG;
	if (type == GGUF_STRING)
		return gguf_str(g, NULL, 0, NULL);
	if (type == GGUF_ARRAY)
		return gguf_skip_array(g, depth);
	return byte_cursor_skip(&g->c, gguf_size[type]);
}

/* An unsigned integer value of any width, or -EBADMSG for another type. */
static int gguf_uint(struct gguf *g, uint32_t type, uint64_t *v)
{
	uint8_t b[8] = {0};
	int r;

	if (type != GGUF_U8 && type != GGUF_U16 && type != GGUF_U32 && type != GGUF_U64 &&
	    type != GGUF_I32 && type != GGUF_I64)
		return (r = gguf_skip(g, type, 0)) < 0 ? r : 1;
	if ((r = byte_cursor_get(&g->c, b, gguf_size[type])) < 0)
		return r;
	*v = 0;
	for (int i = gguf_size[type] - 1; i >= 0; i--)
		*v = *v << 8 | b[i];
	return 0;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);
	return n >= m && !memcmp(s + n - m, suffix, m);
}

static int gguf_kv(struct gguf *g)
{
	char key[MODEL_TEXT_MAX], val[MODEL_TEXT_MAX];
	struct model_header *h = g->h;
	uint64_t u = 0;
	uint32_t type;
	size_t klen;
	int r = gguf_str(g, key, sizeof(key), &klen);

	if (r < 0 || (r = byte_cursor_u32(&g->c, &type)) < 0)
		return r;
	if (klen > GGUF_KEY_MAX)
		return -EBADMSG;
	klen = strlen(key);
	if (type == GGUF_STRING && !strncmp(key, "general.", 8)) {
		if ((r = gguf_str(g, val, sizeof(val), NULL)) < 0)
			return r;
		if (!strcmp(key, "general.architecture"))
			byte_text_copy(h->arch, sizeof(h->arch), val, strlen(val));
		else if (!strcmp(key, "general.name"))
			byte_text_copy(h->name, sizeof(h->name), val, strlen(val));
		else
			model_meta_add(h, key, klen, val, strlen(val));
		return 0;
	}
	bool ftype = !strcmp(key, "general.file_type");
	if (ftype || ends_with(key, klen, ".context_length")) {
		if ((r = gguf_uint(g, type, &u)) != 0)
			return r < 0 ? r : 0; /* another type: ignored */
		if (ftype)
			h->file_type = u > INT32_MAX ? -1 : (int32_t)u;
		else if (g->n_ctx < ARRAY_SIZE(g->ctx)) {
			g->ctx[g->n_ctx].len = u;
			byte_text_copy(g->ctx[g->n_ctx++].arch, MODEL_KEY_MAX, key,
				       klen - strlen(".context_length"));
		}
		return 0;
	}
	return gguf_skip(g, type, 0);
}

static int gguf_tensor(struct gguf *g)
{
	uint64_t dims[GGUF_DIMS_MAX], p;
	uint32_t n_dims, type;
	int r = gguf_str(g, NULL, 0, NULL);

	if (r < 0 || (r = byte_cursor_u32(&g->c, &n_dims)) < 0)
		return r;
	if (n_dims > GGUF_DIMS_MAX)
		return -EBADMSG;
	for (uint32_t i = 0; i < n_dims; i++)
		if ((r = byte_cursor_u64(&g->c, &dims[i])) < 0)
			return r;
	if ((r = byte_cursor_u32(&g->c, &type)) < 0 || (r = byte_cursor_skip(&g->c, 8)) < 0)
		return r;
	g->h->tensors++;
	if (!shape_product(dims, n_dims, &p))
		return -EBADMSG;
	model_params_add(g->h, p);
	return 0;
}

static int gguf_body(struct gguf *g, uint64_t n_kv, uint64_t n_tensors)
{
	int r = 0;

	for (uint64_t i = 0; i < n_kv && r >= 0; i++)
		r = gguf_kv(g);
	if (r < 0)
		return r;
	for (uint32_t i = g->n_ctx; i-- > 0;) /* the arch's own; the first one if no arch */
		if (!strcmp(g->ctx[i].arch, g->h->arch) || (!g->h->arch[0] && i == 0))
			g->h->context_length = g->ctx[i].len;
	for (uint64_t i = 0; i < n_tensors && r >= 0; i++)
		r = gguf_tensor(g);
	return r;
}

static int read_gguf(struct byte_reader *r, struct model_header *h)
{
	struct gguf *g = calloc(1, sizeof(*g));
	uint64_t n_tensors, n_kv;
	uint32_t magic, version;
	int ret;

	if (!g)
		return -ENOMEM;
	g->h = h;
	byte_cursor_init(&g->c, r, 0, r->src->size);
	if ((ret = byte_cursor_u32(&g->c, &magic)) < 0 ||
	    (ret = byte_cursor_u32(&g->c, &version)) < 0)
		goto out;
	h->version = version;
	ret = -EBADMSG;
	if (version < 2 || version > 3) /* v1 had 32-bit counts; nothing writes it since 2023 */
		goto out;
	if ((ret = byte_cursor_u64(&g->c, &n_tensors)) < 0 ||
	    (ret = byte_cursor_u64(&g->c, &n_kv)) < 0)
		goto out;
	ret = n_kv > GGUF_KV_MAX || n_tensors > GGUF_TENSORS_MAX ? -EBADMSG
								 : gguf_body(g, n_kv, n_tensors);
out:
	free(g);
	return ret;
}

/* llama.cpp's llama_ftype names, by value (gaps: types it removed). */
static const char *const ftypes[] = {
    "F32",    "F16",	  "Q4_0",     "Q4_1",	  "Q4_1_SOME_F16", NULL,     NULL,	  "Q8_0",
    "Q5_0",   "Q5_1",	  "Q2_K",     "Q3_K_S",	  "Q3_K_M",	   "Q3_K_L", "Q4_K_S",	  "Q4_K_M",
    "Q5_K_S", "Q5_K_M",	  "Q6_K",     "IQ2_XXS",  "IQ2_XS",	   "Q2_K_S", "IQ3_XS",	  "IQ3_XXS",
    "IQ1_S",  "IQ4_NL",	  "IQ3_S",    "IQ3_M",	  "IQ2_S",	   "IQ2_M",  "IQ4_XS",	  "IQ1_M",
    "BF16",   "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "TQ1_0",	   "TQ2_0",  "MXFP4_MOE",
};

const char *model_gguf_file_type(uint32_t file_type)
{
	return file_type < ARRAY_SIZE(ftypes) ? ftypes[file_type] : NULL;
}

/* ---- NumPy .npy: magic, version, header length, a dict literal, the data ---- */

/* The product of the header's 'shape': (2, 3) → 6, () → 1; 0 when unreadable. */
static uint64_t npy_elements(const char *text)
{
	const char *c = strstr(text, "'shape'");
	uint64_t p = 1;
	char *end;

	if (!c || !(c = strchr(c, '(')))
		return 0;
	for (c++;; c = end) {
		while (*c == ' ' || *c == ',')
			c++;
		if (*c == ')')
			return p;
		if (*c < '0' || *c > '9' || __builtin_mul_overflow(p, strtoull(c, &end, 10), &p))
			return 0;
	}
}

/*
 * An object array's data is a pickle (np.load runs it with allow_pickle):
 * its dtype descr says 'O', alone or in a structured dtype's fields.
 */
static int read_npy(struct byte_reader *r, struct model_header *h)
{
	char text[4096 + 1];
	uint8_t pre[12] = {0};
	uint64_t hlen, data;
	int ret = byte_read(r, 0, pre, r->src->size < 12 ? 10 : 12);

	if (ret < 0)
		return ret == -ENODATA ? -EBADMSG : ret;
	if (pre[6] < 1 || pre[6] > 3)
		return -EBADMSG;
	/* v1: a u16 length; v2 and v3: a u32 */
	hlen = pre[6] == 1
		   ? (uint64_t)(pre[8] | pre[9] << 8)
		   : (uint64_t)(pre[8] | pre[9] << 8 | pre[10] << 16) | (uint64_t)pre[11] << 24;
	data = (pre[6] == 1 ? 10 : 12) + hlen;
	if (data > r->src->size)
		return -EBADMSG;
	if ((ret = byte_read(r, data - hlen, text, hlen < 4096 ? hlen : 4096)) < 0)
		return ret;
	text[hlen < 4096 ? hlen : 4096] = '\0';
	h->tensors = 1;
	model_params_add(h, npy_elements(text));
	if (strstr(text, "|O'") || strstr(text, "'O'")) {
		h->pickle = true;
		h->pickle_at = (struct model_pickle_loc){.method = MODEL_PICKLE_RAW,
							 .off = data,
							 .len = r->src->size - data,
							 .size = r->src->size - data};
	}
	return 0;
}

/* ---- dispatch ---- */

/*
 * A protocol 0/1 pickle has no PROTO to tell it by, and can start with any
 * opcode ("(0cposix..." runs as well as "cposix..."): it is one when its
 * first 4 KiB walk as pickle opcodes, to a STOP or to the window's end.
 * Text and other binaries fail within a few bytes.
 */
static bool old_pickle(const struct byte_src *src)
{
	struct pickle_report *rep = malloc(sizeof(*rep));
	struct pickle_limits lim;
	int r;

	if (!rep)
		return false;
	pickle_limits_default(&lim);
	lim.max_bytes = 4096;
	r = pickle_scan(src, 0, src->size, &lim, rep);
	free(rep);
	return r == 0 || r == -E2BIG;
}

/* ONNX only when the whole file walks as a ModelProto with a graph (model_container.c). */
static void try_onnx(struct byte_reader *r, struct model_header *out)
{
	struct model_header *tmp = malloc(sizeof(*tmp));

	if (!tmp)
		return;
	*tmp = *out;
	tmp->format = "onnx";
	if (model_onnx_read(r, tmp) == 0)
		*out = *tmp;
	free(tmp);
}

static int dispatch(struct byte_reader *r, struct model_header *h)
{
	if (!strcmp(h->format, "safetensors"))
		return model_safetensors_read(r, h);
	if (!strcmp(h->format, "gguf"))
		return read_gguf(r, h);
	if (!strcmp(h->format, "zip") || !strcmp(h->format, "pytorch-zip"))
		return model_zip_read(r, h);
	if (!strcmp(h->format, "numpy"))
		return read_npy(r, h);
	if (!strcmp(h->format, "pickle")) {
		h->pickle = true;
		h->pickle_at = (struct model_pickle_loc){
		    .method = MODEL_PICKLE_RAW, .len = r->src->size, .size = r->src->size};
	}
	return 0;
}

int model_header_read(const struct byte_src *src, struct model_header *out)
{
	struct byte_reader r = {.src = src, .cap = MODEL_READ_MAX};
	uint8_t head[4096];
	size_t n = src->size < sizeof(head) ? (size_t)src->size : sizeof(head);
	int ret;

	memset(out, 0, sizeof(*out));
	out->format = "unknown";
	out->file_type = -1;
	if ((ret = byte_read(&r, 0, head, n)) < 0)
		return ret;
	out->format = sniff_format(head, n);
	if (!strcmp(out->format, "unknown") && n > 0 && head[0] != 0x08 && old_pickle(src))
		out->format = "pickle";
	else if (!strcmp(out->format, "unknown") && n > 0 && head[0] == 0x08)
		try_onnx(&r, out); /* protobuf has no magic: ModelProto starts with ir_version */
	ret = dispatch(&r, out);
	if (ret == -ENODATA) /* counts or lengths that run past the end */
		ret = -EBADMSG;
	if (ret == -E2BIG) { /* the read cap: what was parsed stands */
		out->truncated = true;
		ret = 0;
	}
	out->bytes_read = r.used;
	if (out->file_type >= 0 && model_gguf_file_type((uint32_t)out->file_type))
		snprintf(out->quant, sizeof(out->quant), "%s",
			 model_gguf_file_type((uint32_t)out->file_type));
	return ret;
}
