/* SPDX-License-Identifier: GPL-2.0 */
/*
 * model_header.h — what a model file says about itself, from its header.
 *
 * Owns: the format from the bytes (sense/sniff's names, plus "onnx"), and
 * the header metadata of each format, parsed within fixed bounds:
 *   safetensors  tensor count, dtypes, parameter count (sum of the shapes'
 *                products), the __metadata__ string map;
 *   gguf (v2/v3) general.architecture, general.name, general.file_type and
 *                its quantisation name, <arch>.context_length, tensor count
 *                and parameter count from the tensor infos (arrays such as
 *                the tokenizer's are skipped, not kept);
 *   onnx         ir_version, producer name and version, the opset imports,
 *                metadata_props (top-level ModelProto fields only: the graph
 *                is skipped by its length);
 *   pytorch-zip  where `<archive>/data.pkl` is (stored or deflated; zip64
 *                directories too) so pickle_scan can read it;
 *   numpy (.npy) element count; an object array's data is a pickle (np.load
 *                with allow_pickle runs it): where it starts;
 *   pickle       the whole file is the pickle.
 * Everything lands in fixed-size fields: nothing for the caller to free.
 *
 * Stage inventory/: includes core/ and sense/ only; does not open files by
 * path, scan pickles (pickle_scan.h), hash, or decide alerts.
 */
#ifndef VIGIL_MODEL_HEADER_H
#define VIGIL_MODEL_HEADER_H

#include <stdbool.h>
#include <stdint.h>

#include "inventory/byte_src.h"

#define MODEL_TEXT_MAX		   128 /* names, metadata values (longer ones are cut) */
#define MODEL_KEY_MAX		   64
#define MODEL_META_MAX		   16 /* __metadata__ / metadata_props entries kept */
#define MODEL_DTYPES_MAX	   8  /* distinct tensor dtypes kept */
#define MODEL_OPSETS_MAX	   8
#define MODEL_READ_MAX		   (64u << 20) /* bytes one header parse may read */
#define MODEL_SAFETENSORS_JSON_MAX (8u << 20)  /* larger JSON headers: counts left unknown */

struct model_kv {
	char key[MODEL_KEY_MAX];
	char value[MODEL_TEXT_MAX];
};

struct model_opset {
	char domain[MODEL_KEY_MAX]; /* "" is the default ONNX domain */
	int64_t version;
};

enum model_pickle_method {
	MODEL_PICKLE_NONE = 0,
	MODEL_PICKLE_RAW,    /* not in a zip: the file from off on (a .npy's data, or all of it) */
	MODEL_PICKLE_STORED, /* a zip entry stored as is */
	MODEL_PICKLE_DEFLATED, /* a zip entry compressed with deflate */
};

/* Where the pickle a loader will run lies in the file. */
struct model_pickle_loc {
	enum model_pickle_method method;
	uint64_t off;  /* its first byte in the file (a zip entry's data, after the local header) */
	uint64_t len;  /* bytes at off (the compressed size when deflated) */
	uint64_t size; /* bytes once inflated, as the zip claims (= len unless deflated) */
	char entry[MODEL_TEXT_MAX]; /* the zip entry's name, "" for a raw pickle */
};

struct model_header {
	const char *format; /* static: "safetensors", "gguf", "onnx", "pytorch-zip", "pickle",
			     * "zip", "numpy", "hdf5", "tflite", ..., "unknown", "empty" */
	bool pickle;	    /* loading it runs a pickle (pickle_at says where) */
	bool truncated;	    /* a bound cut the parse short: counts are lower bounds */
	uint64_t tensors;
	uint64_t params; /* parameter count; 0: unknown */
	uint64_t context_length;
	uint32_t version;  /* GGUF version, ONNX ir_version */
	int32_t file_type; /* GGUF general.file_type; -1 when absent */
	char arch[MODEL_KEY_MAX];
	char name[MODEL_TEXT_MAX];
	char quant[32]; /* GGUF quantisation ("Q4_K_M", "F16", ...) */
	char producer[MODEL_KEY_MAX];
	char producer_version[MODEL_KEY_MAX];
	uint32_t n_dtypes, n_opsets, n_meta;
	char dtypes[MODEL_DTYPES_MAX][16];
	struct model_opset opsets[MODEL_OPSETS_MAX];
	struct model_kv meta[MODEL_META_MAX];
	struct model_pickle_loc pickle_at;
	uint32_t zip_entries; /* entries in a zip's central directory */
	uint32_t zip_pickles; /* entries named data.pkl: more than one is a crafted zip (which
			       * one a loader takes differs between zip readers); pickle_at is
			       * torch's <archive>/data.pkl, the first of them */
	uint64_t bytes_read;  /* what the parse read from the source (the I/O it cost) */
};

/*
 * Parse src's header into out (always initialised: format and whatever was
 * parsed before a failure). Returns 0 (possibly with out->truncated),
 * -EBADMSG when the bytes contradict the format they claim, or a read's
 * -errno. Reads at most MODEL_READ_MAX bytes (a header larger than that is
 * parsed that far: out->truncated); allocates nothing that outlives the call.
 */
int model_header_read(const struct byte_src *src, struct model_header *out);

/* GGUF general.file_type → llama.cpp's name for it ("Q4_K_M"); NULL when unknown. */
const char *model_gguf_file_type(uint32_t file_type);

#endif
