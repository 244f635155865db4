// SPDX-License-Identifier: GPL-2.0
/* Model formats from first bytes, and whether they keep the extension's promise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vigil/sniff.h"

#define FMT(lit) sniff_format((const unsigned char *)(lit), sizeof(lit) - 1)

static void test_sniff_format_magic_numbers(void **state)
{
	assert_string_equal(FMT("\x02\0\0\0\0\0\0\0{}"), "safetensors");
	assert_string_equal(FMT("GGUF\x03\0\0\0"), "gguf");
	assert_string_equal(FMT("\x80\x04\x95\x10\0"), "pickle");
	assert_string_equal(FMT("PK\x03\x04....archive/data.pkl"), "pytorch-zip");
	assert_string_equal(FMT("PK\x03\x04....model.json"), "zip");
	assert_string_equal(FMT("\x89HDF\r\n\x1a\n"), "hdf5");
	assert_string_equal(FMT("\x93NUMPY\x01\0"), "numpy");
	assert_string_equal(FMT("\x1c\0\0\0TFL3"), "tflite");
	assert_string_equal(FMT("\x7f"
				"ELF\x02\x01"),
			    "elf");
	assert_string_equal(FMT("\x1f\x8b\x08\0"), "gzip");
	assert_string_equal(FMT("7z\xbc\xaf\x27\x1c\0\x04"), "7z");
	assert_string_equal(FMT("\xfd"
				"7zXZ\0\0"),
			    "xz");
	assert_string_equal(FMT("\x28\xb5\x2f\xfd"), "zstd");
	assert_string_equal(FMT("BZh9"), "bzip2");
	assert_string_equal(FMT("weights"), "unknown");
	assert_string_equal(sniff_format((const unsigned char *)"", 0), "empty");
	/* a huge "header length" is not safetensors */
	assert_string_equal(FMT("\xff\xff\xff\xff\0\0\0\0{}"), "unknown");
}

static struct sniff_job judge(const char *ext, const char *format)
{
	struct sniff_job j;

	sniff_judge(ext, format, &j);
	return j;
}

static void test_sniff_judge_extension_promises(void **state)
{
	struct sniff_job j = judge("safetensors", "safetensors");

	assert_false(j.mismatch);
	assert_false(j.pickle);
	j = judge("safetensors", "pickle"); /* a pickle hiding under a safe name */
	assert_true(j.mismatch);
	assert_true(j.pickle);
	assert_string_equal(j.expected, "safetensors");
	assert_false(judge("pt", "pytorch-zip").mismatch);
	assert_true(judge("pt", "pytorch-zip").pickle);
	assert_false(judge("pt", "pickle").mismatch);
	assert_true(judge("bin", "gzip").mismatch); /* THREATS #5: gzip inside .bin */
	assert_true(judge("bin", "7z").mismatch);
	assert_false(judge("bin", "unknown").mismatch); /* raw tensors, GGML */
	assert_true(judge("gguf", "unknown").mismatch);
	assert_false(judge("onnx", "unknown").mismatch); /* protobuf: no magic */
	assert_true(judge("onnx", "elf").mismatch);
	assert_false(judge("keras", "hdf5").mismatch);
	assert_false(judge("GGUF", "gguf").mismatch);
	assert_false(judge("safetensors", "empty").mismatch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sniff_format_magic_numbers),
	    cmocka_unit_test(test_sniff_judge_extension_promises),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
