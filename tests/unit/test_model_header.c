// SPDX-License-Identifier: GPL-2.0
/*
 * Model headers from real bytes: the files tests/fixtures/models/gen.py wrote
 * to each format's specification (safetensors, GGUF v3, ONNX, PyTorch zip,
 * pickles), read through a memory source and an fd source alike; and
 * hostile headers (lengths past the end, absurd counts, a broken zip) that
 * must end in -EBADMSG, never a crash or a read past the source.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "inventory/model_header.h"

#define FIXTURES "tests/fixtures/models/" /* run from the repository root */

struct file {
	uint8_t *data;
	size_t len;
};

static struct file load(const char *name)
{
	char path[256];
	struct file f = {0};
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), FIXTURES "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	f.len = (size_t)st.st_size;
	f.data = malloc(f.len + 1);
	assert_non_null(f.data);
	assert_int_equal(read(fd, f.data, f.len), (ssize_t)f.len);
	close(fd);
	return f;
}

static int parse(const char *name, struct model_header *h)
{
	struct file f = load(name);
	struct byte_src src;
	int r;

	byte_src_mem(&src, f.data, f.len);
	r = model_header_read(&src, h);
	free(f.data);
	return r;
}

static int parse_bytes(const void *b, size_t n, struct model_header *h);

static const char *meta(const struct model_header *h, const char *key)
{
	for (uint32_t i = 0; i < h->n_meta; i++)
		if (!strcmp(h->meta[i].key, key))
			return h->meta[i].value;
	return NULL;
}

static void test_model_header_safetensors(void **state)
{
	struct model_header h;

	assert_int_equal(parse("tiny.safetensors", &h), 0);
	assert_string_equal(h.format, "safetensors");
	assert_false(h.pickle);
	assert_false(h.truncated);
	assert_int_equal(h.tensors, 2);
	assert_int_equal(h.params, 2 * 3 + 4);
	assert_int_equal(h.n_dtypes, 2);
	assert_string_equal(h.dtypes[0], "F16");
	assert_string_equal(h.dtypes[1], "F32");
	assert_string_equal(meta(&h, "format"), "pt");
	assert_string_equal(meta(&h, "license"), "mit");
}

/* JSON escapes in the header: \u00e9 and a surrogate pair become UTF-8 */
static void test_model_header_safetensors_escapes(void **state)
{
	static const char json[] =
	    "{\"__metadata__\":{\"n\\u0061me\":\"caf\\u00e9 \\ud83d\\ude00\","
	    "\"n\":7},\"t\":{\"dtype\":\"F32\",\"shape\":[2,3],"
	    "\"data_offsets\":[0,24]}}  ";
	uint8_t buf[8 + sizeof(json) - 1 + 24] = {sizeof(json) - 1};
	struct model_header h;

	memcpy(buf + 8, json, sizeof(json) - 1);
	assert_int_equal(parse_bytes(buf, sizeof(buf), &h), 0);
	assert_string_equal(meta(&h, "name"), "caf\xc3\xa9 \xf0\x9f\x98\x80");
	assert_int_equal(h.n_meta, 1); /* the number is no string: not kept */
	assert_int_equal(h.params, 6);
	buf[8 + sizeof(json) - 2] = 'x'; /* something after the object */
	assert_int_equal(parse_bytes(buf, sizeof(buf), &h), -EBADMSG);
}

static void test_model_header_gguf(void **state)
{
	struct model_header h;

	assert_int_equal(parse("tiny.gguf", &h), 0);
	assert_string_equal(h.format, "gguf");
	assert_int_equal(h.version, 3);
	assert_string_equal(h.arch, "llama");
	assert_string_equal(h.name, "Tiny Llama");
	assert_int_equal(h.file_type, 15);
	assert_string_equal(h.quant, "Q4_K_M");
	assert_int_equal(h.context_length, 4096); /* llama's, not the vision tower's 77 */
	assert_int_equal(h.tensors, 2);
	assert_int_equal(h.params, 64 * 32 + 64);
	assert_string_equal(meta(&h, "general.license"), "apache-2.0");
	assert_false(h.truncated);
}

static void test_model_header_gguf_from_an_fd(void **state)
{
	struct model_header h;
	struct byte_src src;
	int fd = open(FIXTURES "tiny.gguf", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(byte_src_fd(&src, fd), 0);
	assert_int_equal(model_header_read(&src, &h), 0);
	assert_string_equal(h.arch, "llama");
	assert_int_equal(h.params, 64 * 32 + 64);
	close(fd);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(byte_src_fd(&src, fd), -EINVAL); /* not a regular file */
	close(fd);
}

static void test_model_header_onnx(void **state)
{
	struct model_header h;

	assert_int_equal(parse("tiny.onnx", &h), 0);
	assert_string_equal(h.format, "onnx");
	assert_int_equal(h.version, 8);
	assert_string_equal(h.producer, "pytorch");
	assert_string_equal(h.producer_version, "2.1.0");
	assert_int_equal(h.n_opsets, 2);
	assert_string_equal(h.opsets[0].domain, "");
	assert_int_equal(h.opsets[0].version, 17);
	assert_string_equal(h.opsets[1].domain, "com.microsoft");
	assert_int_equal(h.opsets[1].version, 1);
	assert_string_equal(meta(&h, "author"), "vigil");
	assert_string_equal(h.name, "main_graph");
	assert_int_equal(h.tensors, 2);
	assert_int_equal(h.params, 3 * 4 + 4); /* unpacked dims, then packed ones */
	assert_string_equal(h.dtypes[0], "F32");
	assert_string_equal(h.dtypes[1], "F16"); /* TensorProto.FLOAT16 = 10 */
}

static void test_model_header_torch_zip_points_at_data_pkl(void **state)
{
	struct file zip = load("benign_torch.pt"), pkl = load("benign_p2.pkl");
	struct model_header h;
	struct byte_src src;

	byte_src_mem(&src, zip.data, zip.len);
	assert_int_equal(model_header_read(&src, &h), 0);
	assert_string_equal(h.format, "pytorch-zip");
	assert_true(h.pickle);
	assert_int_equal(h.zip_entries, 5);
	assert_int_equal(h.pickle_at.method, MODEL_PICKLE_STORED);
	assert_string_equal(h.pickle_at.entry, "archive/data.pkl");
	assert_int_equal(h.pickle_at.len, pkl.len);
	assert_int_equal(h.pickle_at.size, pkl.len);
	assert_memory_equal(zip.data + h.pickle_at.off, pkl.data, pkl.len);
	free(zip.data);
	free(pkl.data);
}

static void test_model_header_deflated_data_pkl(void **state)
{
	struct model_header h;

	assert_int_equal(parse("evil_deflated.pt", &h), 0);
	assert_string_equal(h.format, "pytorch-zip");
	assert_int_equal(h.pickle_at.method, MODEL_PICKLE_DEFLATED);
	assert_true(h.pickle_at.len < h.pickle_at.size);
	assert_int_equal(h.pickle_at.size, 34 + 4096); /* the pickle and its zero padding */
}

static void test_model_header_twin_data_pkl_is_counted(void **state)
{
	struct model_header h;

	assert_int_equal(parse("benign_torch.pt", &h), 0);
	assert_int_equal(h.zip_pickles, 1);
	assert_int_equal(parse("twin_torch.pt", &h), 0);
	assert_int_equal(h.zip_pickles, 2);	    /* the caller's cue: a crafted archive */
	assert_int_equal(h.pickle_at.off, 30 + 16); /* the first */
}

/* sizes, offset and counts all 0xffff.. in the 32-bit fields: the zip64 records say */
static void test_model_header_zip64(void **state)
{
	struct model_header h;

	assert_int_equal(parse("zip64_torch.pt", &h), 0);
	assert_string_equal(h.format, "pytorch-zip");
	assert_int_equal(h.zip_entries, 1);
	assert_int_equal(h.pickle_at.method, MODEL_PICKLE_STORED);
	assert_int_equal(h.pickle_at.off, 30 + 16 + 20); /* local header, name, zip64 extra */
	assert_int_equal(h.pickle_at.len, 34);
}

static void test_model_header_plain_zip_and_pickles(void **state)
{
	struct model_header h;

	assert_int_equal(parse("plain.zip", &h), 0);
	assert_string_equal(h.format, "zip");
	assert_false(h.pickle);
	assert_int_equal(h.zip_entries, 1);

	assert_int_equal(parse("evil_p4.pkl", &h), 0);
	assert_string_equal(h.format, "pickle");
	assert_int_equal(h.pickle_at.method, MODEL_PICKLE_RAW);
	assert_int_equal(h.pickle_at.len, 40);
	assert_int_equal(parse("evil_object.npy", &h), 0);
	assert_string_equal(h.format, "numpy");
	assert_int_equal(h.params, 6);
	assert_true(h.pickle);
	assert_int_equal(h.pickle_at.off, 128); /* the header pads the data to 64-byte blocks */
	/* protocol 0 has no PROTO: its GLOBAL line tells */
	assert_int_equal(parse("evil_p0.pkl", &h), 0);
	assert_string_equal(h.format, "pickle");
	assert_true(h.pickle);
	assert_int_equal(parse("evil_p0_marked.pkl", &h), 0); /* "(1" first: any opcode may lead */
	assert_true(h.pickle);
	assert_int_equal(parse("benign_p1.pkl", &h), 0);
	assert_string_equal(h.format, "pickle");
	assert_int_equal(parse_bytes("cat\ndog\nand more text\n", 22, &h), 0);
	assert_string_equal(h.format, "unknown"); /* text is no pickle */
}

static int parse_bytes(const void *b, size_t n, struct model_header *h)
{
	struct byte_src src;

	byte_src_mem(&src, b, n);
	return model_header_read(&src, h);
}

static void test_model_header_hostile_headers(void **state)
{
	static const uint8_t st_long[] = "\xff\x00\x00\x00\x00\x00\x00\x00{\"a\":1}";
	static const uint8_t st_bad[] = "\x06\x00\x00\x00\x00\x00\x00\x00{\"a\":[";
	static const uint8_t gguf_kv[] =
	    "GGUF\x03\0\0\0\0\0\0\0\0\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff";
	static const uint8_t gguf_v1[] = "GGUF\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
	static const uint8_t gguf_key[] = "GGUF\x03\0\0\0\0\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0"
					  "\xff\xff\xff\xff\xff\xff\xff\x7f";
	static const uint8_t zip_bad[] = "PK\x03\x04 data.pkl ...PK\x05\x06\0\0\0\0\x01\0\x01\0"
					 "\x2e\0\0\0\xf0\xff\0\0\0\0";
	struct model_header h;

	assert_int_equal(parse_bytes(st_long, sizeof(st_long) - 1, &h), -EBADMSG);
	assert_string_equal(h.format, "safetensors");
	assert_int_equal(parse_bytes(st_bad, sizeof(st_bad) - 1, &h), -EBADMSG);
	assert_int_equal(parse_bytes(gguf_kv, sizeof(gguf_kv) - 1, &h), -EBADMSG);
	assert_int_equal(parse_bytes(gguf_v1, sizeof(gguf_v1) - 1, &h), -EBADMSG);
	assert_int_equal(parse_bytes(gguf_key, sizeof(gguf_key) - 1, &h), -EBADMSG);
	assert_int_equal(parse_bytes(zip_bad, sizeof(zip_bad) - 1, &h), -EBADMSG);
	assert_false(h.pickle);
	assert_int_equal(parse_bytes("", 0, &h), 0);
	assert_string_equal(h.format, "empty");
	/* protobuf-looking bytes that are no ModelProto stay unknown */
	assert_int_equal(parse_bytes("\x08\x07\x12\x03"
				     "abc",
				     7, &h),
			 0);
	assert_string_equal(h.format, "unknown");
}

static void test_model_header_truncated_fixtures_never_overread(void **state)
{
	static const char *const names[] = {"tiny.safetensors", "tiny.gguf",
					    "tiny.onnx",	"benign_torch.pt",
					    "evil_deflated.pt", "zip64_torch.pt"};
	struct model_header h;
	struct byte_src src;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct file f = load(names[i]);
		for (size_t n = 0; n < f.len; n += 1 + n / 16) {
			/* a copy exactly n long: ASan sees any read past it */
			uint8_t *cut = malloc(n ? n : 1);
			memcpy(cut, f.data, n);
			byte_src_mem(&src, cut, n);
			int r = model_header_read(&src, &h);
			assert_true(r == 0 || r == -EBADMSG);
			free(cut);
		}
		free(f.data);
	}
}

static void test_byte_reader_bounds_and_cap(void **state)
{
	uint8_t data[16] = {1, 2, 3}, buf[16];
	struct byte_src src;
	struct byte_reader r = {.src = &src, .cap = 10};

	byte_src_mem(&src, data, sizeof(data));
	assert_int_equal(byte_read(&r, 0, buf, 8), 0);
	assert_int_equal(byte_read(&r, 8, buf, 4), -E2BIG); /* 12 > the cap of 10 */
	assert_int_equal(byte_read(&r, 15, buf, 2), -ENODATA);
	assert_int_equal(byte_read(&r, UINT64_MAX, buf, 1), -ENODATA);
	assert_int_equal(r.used, 8);
}

static void test_byte_text_copy_is_safe_text(void **state)
{
	char out[8];

	assert_true(byte_text_copy(out, sizeof(out), "ab\ncd", 5));
	assert_string_equal(out, "ab?cd");
	assert_true(byte_text_copy(out, sizeof(out), "a\xff\xc3(", 4)); /* invalid UTF-8 */
	assert_string_equal(out, "a?"
				 "?(");
	assert_false(byte_text_copy(out, sizeof(out), "abcd\xc3\xa9\xc3\xa9", 8)); /* é é */
	assert_string_equal(out, "abcd\xc3\xa9");			  /* whole chars only */
	assert_true(byte_text_copy(out, sizeof(out), "\xed\xa0\x80", 3)); /* a surrogate */
	assert_string_equal(out, "???");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_model_header_safetensors),
	    cmocka_unit_test(test_model_header_safetensors_escapes),
	    cmocka_unit_test(test_model_header_gguf),
	    cmocka_unit_test(test_model_header_gguf_from_an_fd),
	    cmocka_unit_test(test_model_header_onnx),
	    cmocka_unit_test(test_model_header_torch_zip_points_at_data_pkl),
	    cmocka_unit_test(test_model_header_deflated_data_pkl),
	    cmocka_unit_test(test_model_header_zip64),
	    cmocka_unit_test(test_model_header_twin_data_pkl_is_counted),
	    cmocka_unit_test(test_model_header_plain_zip_and_pickles),
	    cmocka_unit_test(test_model_header_hostile_headers),
	    cmocka_unit_test(test_model_header_truncated_fixtures_never_overread),
	    cmocka_unit_test(test_byte_reader_bounds_and_cap),
	    cmocka_unit_test(test_byte_text_copy_is_safe_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
