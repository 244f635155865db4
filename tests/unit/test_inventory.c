// SPDX-License-Identifier: GPL-2.0
/*
 * The model inventory's store (inventory.c), approved lists (approvals.c)
 * and hasher (hasher.c): a load recorded once per file version, workloads
 * per model, content-addressed names, the hasher's verdict on them, the
 * bound, the state file round trip; models.d's form, its errors with
 * file:line, the verdicts, and trust; SHA-256 of a real file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inventory/approvals.h"
#include "inventory/hasher.h"
#include "inventory/inspect.h"
#include "inventory/inventory.h"

#define SHA_A "a3f1c0ffee00000000000000000000000000000000000000000000000000000a"
#define SHA_B "b3f1c0ffee00000000000000000000000000000000000000000000000000000b"

static struct inv_load load_of(uint64_t ino, const char *path, const char *exe, int64_t now)
{
	return (struct inv_load){
	    .key = {.dev = 8 << 20 | 1, .ino = ino, .size = 100, .mtime_ns = 7},
	    .path = path,
	    .exe = exe,
	    .unit = "vllm.service",
	    .format = "safetensors",
	    .inference = true,
	    .now_ns = now};
}

static void test_record_new_model_then_new_workload(void **state)
{
	struct inventory *inv;
	struct inv_model *m;
	struct inv_change c;
	struct inv_load l = load_of(1, "/models/a.safetensors", "/usr/bin/python3", 10);

	(void)state;
	assert_int_equal(inventory_new(4, &inv), 0);
	assert_int_equal(inventory_record(inv, &l, &m, &c), 0);
	assert_true(c.new_model && c.new_workload);
	assert_int_equal(m->digest, INV_DIGEST_NONE);
	l.now_ns = 20;
	assert_int_equal(inventory_record(inv, &l, &m, &c), 0);
	assert_false(c.new_model || c.new_workload);
	l.exe = "/usr/bin/ollama";
	l.path = "/models/link.safetensors"; /* another name of the same file */
	assert_int_equal(inventory_record(inv, &l, &m, &c), 0);
	assert_false(c.new_model);
	assert_true(c.new_workload);
	assert_int_equal(inventory_count(inv), 1);
	assert_int_equal(m->loads, 3);
	assert_int_equal(m->n_paths, 2);
	assert_int_equal(m->n_workloads, 2);
	assert_int_equal(m->workloads[0].loads, 2);
	assert_int_equal(m->workloads[0].first_ns, 10);
	assert_int_equal(m->workloads[0].last_ns, 20);
	/* a new mtime is a new version: a new entry */
	l.key.mtime_ns = 8;
	assert_int_equal(inventory_record(inv, &l, &m, &c), 0);
	assert_true(c.new_model);
	assert_int_equal(inventory_count(inv), 2);
	inventory_free(inv);
}

static void test_name_digest_hf_and_ollama(void **state)
{
	char sha[INV_SHA_HEX];

	(void)state;
	assert_true(inventory_name_digest("/hub/models--a--b/blobs/" SHA_A, sha));
	assert_string_equal(sha, SHA_A);
	assert_true(inventory_name_digest("/root/.ollama/models/blobs/sha256-" SHA_B, sha));
	assert_string_equal(sha, SHA_B);
	/* a git blob SHA-1 (HF's small files), upper case, elsewhere: no digest */
	assert_false(
	    inventory_name_digest("/hub/m/blobs/0123456789abcdef0123456789abcdef01234567", sha));
	assert_false(inventory_name_digest("/x/blobs/A3F1C0FFEE00000000000000000000000000000000000"
					   "000000000000000000000A",
					   sha));
	assert_false(inventory_name_digest("/models/" SHA_A, sha));
	assert_false(inventory_name_digest(SHA_A, sha));
}

static void test_hashed_verifies_or_flags_the_name(void **state)
{
	struct inventory *inv;
	struct inv_model *m;
	struct inv_change c;
	struct inv_load l = load_of(1, "/hub/models--a--b/blobs/" SHA_A, "/bin/x", 1);
	struct inv_load k = load_of(2, "/srv/plain.gguf", "/bin/x", 1);

	(void)state;
	assert_int_equal(inventory_new(4, &inv), 0);
	assert_int_equal(inventory_record(inv, &l, &m, &c), 0);
	assert_int_equal(m->digest, INV_DIGEST_NAME);
	assert_string_equal(m->sha256, SHA_A); /* known at once, from the name */
	m = inventory_hashed(inv, &l.key, SHA_A);
	assert_int_equal(m->digest, INV_DIGEST_VERIFIED);
	m = inventory_hashed(inv, &l.key, SHA_B);
	assert_int_equal(m->digest, INV_DIGEST_MISMATCH);
	assert_string_equal(m->sha256, SHA_B); /* what the bytes are */
	assert_string_equal(m->named_sha256, SHA_A);
	assert_int_equal(inventory_record(inv, &k, &m, &c), 0);
	m = inventory_hashed(inv, &k.key, SHA_B);
	assert_int_equal(m->digest, INV_DIGEST_HASHED);
	k.key.ino = 99;
	assert_null(inventory_hashed(inv, &k.key, SHA_B)); /* forgotten meanwhile */
	inventory_free(inv);
}

static void test_bounded_least_recently_seen_goes(void **state)
{
	struct inventory *inv;
	struct inv_model *m;
	struct inv_change c;

	(void)state;
	assert_int_equal(inventory_new(2, &inv), 0);
	for (uint64_t i = 1; i <= 3; i++) {
		struct inv_load l = load_of(i, "/m.gguf", "/bin/x", 100 - i); /* 1 is the newest */

		assert_int_equal(inventory_record(inv, &l, &m, &c), 0);
	}
	assert_int_equal(inventory_count(inv), 2);
	assert_int_equal(inventory_evicted(inv), 1);
	struct inv_load k1 = load_of(1, "", "", 0), k2 = load_of(2, "", "", 0);

	assert_non_null(inventory_find(inv, &k1.key));
	assert_null(inventory_find(inv, &k2.key));
	inventory_free(inv);
}

static void test_state_file_round_trip(void **state)
{
	char dir[] = "/tmp/vigil-inv-XXXXXX", path[64];
	struct inventory *inv, *back;
	struct inv_summary sum = {.format = "pickle",
				  .pickle = true,
				  .scanned = true,
				  .dangerous = 1,
				  .n_callables = 1,
				  .callables = {"os.system"}};
	struct inv_load l = load_of(5, "/hub/models--a--b/blobs/" SHA_A, "/usr/bin/python3", 42);
	struct inv_model *m;
	struct inv_change c;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/inventory.json", dir);
	l.sum = &sum;
	assert_int_equal(inventory_new(8, &inv), 0);
	assert_int_equal(inventory_record(inv, &l, &m, &c), 0);
	inventory_hashed(inv, &l.key, SHA_B);
	assert_true(inventory_dirty(inv));
	assert_int_equal(inventory_save(inv, path), 0);
	assert_false(inventory_dirty(inv));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(inventory_new(8, &back), 0);
	assert_int_equal(inventory_load(back, path), 0);
	m = inventory_find(back, &l.key);
	assert_non_null(m);
	assert_int_equal(m->digest, INV_DIGEST_MISMATCH);
	assert_string_equal(m->named_sha256, SHA_A);
	assert_string_equal(m->sum.callables[0], "os.system");
	assert_int_equal(m->workloads[0].first_ns, 42);
	assert_string_equal(m->workloads[0].unit, "vllm.service");
	assert_true(m->workloads[0].inference);
	inventory_free(back);
	/* a missing file is an empty inventory; a corrupt one an error, never a crash */
	assert_int_equal(inventory_new(8, &back), 0);
	unlink(path);
	assert_int_equal(inventory_load(back, path), 0);
	assert_int_equal(inventory_count(back), 0);
	FILE *f = fopen(path, "w");
	fputs("{\"version\":1,\"models\":[{\"ino\":\"x\"},{\"ino\":3,\"sha256\":\"zz\",\"paths\":["
	      "1]}]}",
	      f);
	fclose(f);
	assert_int_equal(inventory_load(back, path), 0);
	assert_int_equal(inventory_count(back), 1);
	assert_string_equal(inventory_at(back, 0)->sha256, ""); /* not a digest: dropped */
	unlink(path);
	rmdir(dir);
	inventory_free(back);
	inventory_free(inv);
}

static const char good_yaml[] = "models:\n"
				"  - sha256: " SHA_A "\n"
				"    name: llama\n"
				"    workloads: [/usr/bin/python3, vllm.service]\n"
				"  - sha256: " SHA_B "\n";

static void test_approvals_verdicts(void **state)
{
	struct approvals *a;
	char err[256] = "";

	(void)state;
	assert_int_equal(approvals_new(&a), 0);
	assert_int_equal(approvals_check(a, SHA_A, "/bin/x", ""), APPROVAL_OFF); /* empty: off */
	assert_int_equal(
	    approvals_parse(a, "t.yaml", good_yaml, strlen(good_yaml), err, sizeof(err)), 0);
	assert_int_equal(approvals_count(a), 2);
	assert_int_equal(approvals_check(a, SHA_A, "/usr/bin/python3", ""), APPROVAL_OK);
	assert_int_equal(approvals_check(a, SHA_A, "/bin/other", "vllm.service"), APPROVAL_OK);
	assert_int_equal(approvals_check(a, SHA_A, "/bin/other", "x.service"),
			 APPROVAL_WRONG_WORKLOAD);
	assert_int_equal(approvals_check(a, SHA_B, "/bin/anything", ""), APPROVAL_OK);
	assert_int_equal(approvals_check(a, "00", "/usr/bin/python3", ""), APPROVAL_UNKNOWN_DIGEST);
	assert_string_equal(approvals_name(a, SHA_A), "llama");
	assert_null(approvals_name(a, SHA_B));
	approvals_free(a);
}

static void expect_error(const char *text, const char *where, const char *what)
{
	struct approvals *a;
	char err[256] = "";

	assert_int_equal(approvals_new(&a), 0);
	assert_true(approvals_parse(a, "t.yaml", text, strlen(text), err, sizeof(err)) < 0);
	assert_non_null(strstr(err, where));
	assert_non_null(strstr(err, what));
	approvals_free(a);
}

static void test_approvals_errors_name_file_and_line(void **state)
{
	(void)state;
	expect_error("models:\n  - sha256: abc\n", "t.yaml:2:", "64 lower-case hex");
	expect_error("models:\n  - sha256: " SHA_A "\n    nmae: x\n", "t.yaml:3:", "unknown key");
	expect_error("- sha256: " SHA_A "\n", "t.yaml:1:", "models:");
	expect_error("models:\n  - sha256: " SHA_A "\n    workloads: python\n",
		     "t.yaml:3:", "workloads");
}

static void test_approvals_dir_trusted_and_ordered(void **state)
{
	char dir[] = "/tmp/vigil-appr-XXXXXX", p[128], err[256] = "";
	struct approvals *a;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	chmod(dir, 0755);
	snprintf(p, sizeof(p), "%s/10-a.yaml", dir);
	f = fopen(p, "w");
	fputs(good_yaml, f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/README", dir); /* not *.yaml: not read */
	f = fopen(p, "w");
	fputs("not yaml: [", f);
	fclose(f);
	assert_int_equal(approvals_load(dir, &a, err, sizeof(err)), 0);
	assert_int_equal(approvals_count(a), 2);
	approvals_free(a);
	/* a list anyone may write is refused, naming it */
	snprintf(p, sizeof(p), "%s/10-a.yaml", dir);
	chmod(p, 0666);
	assert_true(approvals_load(dir, &a, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "10-a.yaml"));
	unlink(p);
	snprintf(p, sizeof(p), "%s/README", dir);
	unlink(p);
	rmdir(dir);
	/* no directory: an empty set, nothing enforced */
	assert_int_equal(approvals_load(dir, &a, err, sizeof(err)), 0);
	assert_int_equal(approvals_count(a), 0);
	approvals_free(a);
}

static void test_hasher_sha256_of_a_file(void **state)
{
	char path[] = "/tmp/vigil-hash-XXXXXX", hex[INV_SHA_HEX];
	struct hasher *h;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abc", 3), 3);
	assert_int_equal(hasher_new(0, &h), 0);
	assert_int_equal(hasher_sha256_fd(h, fd, 0, hex), 0);
	/* FIPS 180-2's example */
	assert_string_equal(hex,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	close(fd);
	unlink(path);
	hasher_free(h);
}

#define FIXTURES "tests/fixtures/models/" /* run from the repository root */

static void inspect_fixture(const char *name, struct inv_summary *sum)
{
	struct byte_src src;
	int fd = open(name, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(byte_src_fd(&src, fd), 0);
	inspect_source(&src, sum);
	close(fd);
}

static bool has_callable(const struct inv_summary *s, const char *prefix)
{
	for (unsigned i = 0; i < s->n_callables; i++)
		if (!strncmp(s->callables[i], prefix, strlen(prefix)))
			return true;
	return false;
}

static void test_inspect_summaries_of_real_files(void **state)
{
	struct inv_summary s;

	(void)state;
	inspect_fixture(FIXTURES "tiny.gguf", &s);
	assert_string_equal(s.format, "gguf");
	assert_string_equal(s.arch, "llama");
	assert_string_equal(s.quant, "Q4_K_M");
	assert_int_equal(s.context_length, 4096);
	assert_false(s.pickle);
	inspect_fixture(FIXTURES "tiny.onnx", &s);
	assert_string_equal(s.producer, "pytorch");
	assert_int_equal(s.opset, 17); /* the default domain's, not com.microsoft's */
	inspect_fixture(FIXTURES "benign_torch.pt", &s);
	assert_true(s.pickle && s.scanned && s.scan_complete);
	assert_int_equal(s.dangerous, 0);
	assert_int_equal(s.n_callables, 0);
	assert_true(s.globals > 0);
	inspect_fixture(FIXTURES "evil_torch.pt", &s);
	assert_true(s.dangerous > 0);
	assert_true(has_callable(&s, "posix.system") || has_callable(&s, "os.system"));
	/* two data.pkl: the one scanned is benign, the archive itself is the finding */
	inspect_fixture(FIXTURES "twin_torch.pt", &s);
	assert_true(s.dangerous > 0);
	assert_true(has_callable(&s, "zip:2 data.pkl"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record_new_model_then_new_workload),
	    cmocka_unit_test(test_name_digest_hf_and_ollama),
	    cmocka_unit_test(test_hashed_verifies_or_flags_the_name),
	    cmocka_unit_test(test_bounded_least_recently_seen_goes),
	    cmocka_unit_test(test_state_file_round_trip),
	    cmocka_unit_test(test_approvals_verdicts),
	    cmocka_unit_test(test_approvals_errors_name_file_and_line),
	    cmocka_unit_test(test_approvals_dir_trusted_and_ordered),
	    cmocka_unit_test(test_hasher_sha256_of_a_file),
	    cmocka_unit_test(test_inspect_summaries_of_real_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
