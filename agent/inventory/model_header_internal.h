/* SPDX-License-Identifier: GPL-2.0 */
/*
 * model_header_internal.h — what the format parsers of model_header share:
 * one parse's reader, and adding metadata and dtypes within their bounds.
 *
 * Stage inventory/: includes core/ and sense/ only; private to model_header*.c.
 */
#ifndef VIGIL_MODEL_HEADER_INTERNAL_H
#define VIGIL_MODEL_HEADER_INTERNAL_H

#include "inventory/model_header.h"

/* Keep key=value (untrusted bytes) in h->meta; false (and h->truncated) when full. */
bool model_meta_add(struct model_header *h, const char *key, size_t klen, const char *val,
		    size_t vlen);
/* Count dtype among h->dtypes (distinct, bounded). */
void model_dtype_add(struct model_header *h, const char *dtype, size_t len);
/* a += b, or h->truncated when it would overflow. */
void model_params_add(struct model_header *h, uint64_t n);

/* safetensors' JSON header, streamed (model_safetensors.c). */
int model_safetensors_read(struct byte_reader *r, struct model_header *h);
/* The container formats (model_container.c). */
/* 0 only for a whole, well-formed ModelProto with a graph. */
int model_onnx_read(struct byte_reader *r, struct model_header *h);
int model_zip_read(struct byte_reader *r, struct model_header *h);

#endif
