// SPDX-License-Identifier: GPL-2.0
/*
 * Pickle scans on real pickles: python's own pickle module wrote the
 * payloads (a __reduce__ to os.system, protocols 0, 2 and 4) and a torch-like
 * state dict (tests/fixtures/models/gen.py); hand-written opcodes hide the
 * import behind the memo, protocol 0 PUT/GET, a dotted name, a computed
 * string. Each must name the callable; the benign ones raise nothing.
 * Hostile pickles (underflow, unknown opcodes, mark and memo bombs, a
 * truncated stream) end in an error with what was seen before, never a
 * crash or a hang.
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

#include "inventory/pickle_scan.h"

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

static int scan_bytes(const void *b, size_t n, const struct pickle_limits *lim,
		      struct pickle_report *out)
{
	struct byte_src src;

	byte_src_mem(&src, b, n);
	return pickle_scan(&src, 0, n, lim, out);
}

static int scan_file(const char *name, struct pickle_report *out)
{
	struct file f = load(name);
	int r = scan_bytes(f.data, f.len, NULL, out);

	free(f.data);
	return r;
}

static const struct pickle_global *find(const struct pickle_report *r, const char *name)
{
	for (uint32_t i = 0; i < r->n_globals; i++)
		if (!strcmp(r->globals[i].name, name))
			return &r->globals[i];
	return NULL;
}

static void assert_dangerous(const struct pickle_report *r, const char *name)
{
	const struct pickle_global *g = find(r, name);

	if (!g)
		fail_msg("%s not among the %u imports", name, r->n_globals);
	assert_int_equal(g->cls, PICKLE_DANGEROUS);
	assert_true(r->dangerous >= 1);
}

static void test_pickle_scan_reduce_payload_every_protocol(void **state)
{
	static const char *const files[] = {"evil_p0.pkl", "evil_p2.pkl", "evil_p4.pkl",
					    "evil_p0_marked.pkl"};
	static const uint8_t protos[] = {0, 2, 4, 0};
	struct pickle_report r;

	for (int i = 0; i < 4; i++) {
		assert_int_equal(scan_file(files[i], &r), 0);
		assert_true(r.complete);
		assert_int_equal(r.protocol, protos[i]);
		assert_int_equal(r.n_globals, 1);
		assert_dangerous(&r, "posix.system");
		assert_int_equal(find(&r, "posix.system")->calls, 1); /* REDUCE on it */
		assert_int_equal(r.pickles, 1);
	}
}

static void test_pickle_scan_names_hidden_imports(void **state)
{
	static const struct {
		const char *file, *callable;
	} cases[] = {
	    {"evil_memo.pkl", "os.system"},		     /* MEMOIZE, POP, BINGET */
	    {"evil_longmemo.pkl", "builtins.eval"},	     /* LONG_BINPUT, MEMOIZE after it */
	    {"evil_put_get.pkl", "subprocess.check_output"}, /* protocol 0 PUT / GET */
	    {"evil_dotted.pkl", "torch.serialization.os.system"},
	    {"evil_computed.pkl", "?.?"}, /* the module a call returned */
	};
	struct pickle_report r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(scan_file(cases[i].file, &r), 0);
		assert_dangerous(&r, cases[i].callable);
		assert_int_equal(find(&r, cases[i].callable)->calls, 1);
	}
	assert_int_equal(find(&r, "_codecs.decode")->cls, PICKLE_UNKNOWN);
}

static void test_pickle_scan_torch_state_dict_is_safe(void **state)
{
	static const char *const files[] = {"benign_p2.pkl", "benign_p4.pkl"};
	struct pickle_report r;

	for (int i = 0; i < 2; i++) {
		assert_int_equal(scan_file(files[i], &r), 0);
		assert_true(r.complete);
		assert_int_equal(r.dangerous, 0);
		assert_int_equal(r.unknown, 0);
		assert_int_equal(r.n_globals, 3);
		assert_int_equal(find(&r, "collections.OrderedDict")->cls, PICKLE_SAFE);
		assert_int_equal(find(&r, "torch._utils._rebuild_tensor_v2")->cls, PICKLE_SAFE);
		assert_int_equal(find(&r, "torch._utils._rebuild_tensor_v2")->calls, 2);
		assert_int_equal(find(&r, "torch.FloatStorage")->cls, PICKLE_SAFE);
	}
}

static void test_pickle_scan_legacy_torch_walks_every_pickle(void **state)
{
	struct pickle_report r;

	assert_int_equal(scan_file("legacy_torch.pt", &r), 0);
	assert_int_equal(r.pickles,
			 5); /* magic, protocol, sys_info, the state dict, storage keys */
	assert_int_equal(r.trailing, 24); /* raw storage bytes: not a pickle */
	assert_int_equal(r.dangerous, 0);
	assert_non_null(find(&r, "torch._utils._rebuild_tensor_v2"));
}

static void test_pickle_scan_truncated_keeps_what_it_saw(void **state)
{
	struct pickle_report r;

	assert_int_equal(scan_file("truncated.pkl", &r), -EBADMSG);
	assert_false(r.complete);
	assert_int_equal(r.error, -EBADMSG);
	assert_dangerous(&r, "posix.system");
}

static void scan_model(const char *name, struct pickle_report *r)
{
	struct file f = load(name);
	struct model_header h;
	struct byte_src src;

	byte_src_mem(&src, f.data, f.len);
	assert_int_equal(model_header_read(&src, &h), 0);
	assert_true(h.pickle);
	assert_int_equal(pickle_scan_model(&src, &h.pickle_at, NULL, r), 0);
	free(f.data);
}

static void test_pickle_scan_zip_entries_stored_and_deflated(void **state)
{
	struct pickle_report r;

	scan_model("evil_torch.pt", &r);
	assert_dangerous(&r, "posix.system");
	scan_model("evil_object.npy", &r); /* a NumPy object array's data */
	assert_dangerous(&r, "posix.system");
	scan_model("zip64_torch.pt", &r);
	assert_dangerous(&r, "posix.system");
	scan_model("evil_deflated.pt", &r); /* inflated as it is walked */
	assert_dangerous(&r, "posix.system");
	assert_int_equal(r.trailing, 4096);
	scan_model("benign_torch.pt", &r);
	assert_int_equal(r.dangerous, 0);
	assert_int_equal(r.n_globals, 3);
}

static void test_pickle_scan_limits_stop_the_walk(void **state)
{
	struct file f = load("benign_p4.pkl");
	struct pickle_limits lim;
	struct pickle_report r;

	pickle_limits_default(&lim);
	lim.max_ops = 5;
	assert_int_equal(scan_bytes(f.data, f.len, &lim, &r), -E2BIG);
	assert_false(r.complete);
	assert_int_equal(r.ops, 6);
	pickle_limits_default(&lim);
	lim.max_memo = 3; /* past it the walk goes on: the later imports are still named */
	assert_int_equal(scan_bytes(f.data, f.len, &lim, &r), 0);
	assert_true(r.memo_dropped > 0);
	assert_int_equal(r.n_globals, 3);
	assert_int_equal(r.dangerous, 0);
	pickle_limits_default(&lim);
	lim.max_stack = 4;
	assert_int_equal(scan_bytes(f.data, f.len, &lim, &r), -E2BIG);
	pickle_limits_default(&lim);
	lim.max_bytes = 20;
	assert_int_equal(scan_bytes(f.data, f.len, &lim, &r), -E2BIG);
	pickle_limits_default(&lim);
	lim.max_read = 100;
	assert_int_equal(scan_bytes(f.data, f.len, &lim, &r), -E2BIG);
	free(f.data);
}

static void test_pickle_scan_hostile_opcodes(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
	} bad[] = {
	    {"R.", 2},			    /* REDUCE on an empty stack */
	    {"\x80\x04\xff", 3},	    /* an opcode no protocol has */
	    {"\x80\x04h\x05.", 5},	    /* BINGET of a key never put */
	    {"\x80\x06N.", 4},		    /* protocol 6 does not exist */
	    {"(N1.", 4},		    /* POP_MARK leaves nothing for STOP */
	    {"\x80\x04K\x01K\x02\x93.", 9}, /* STACK_GLOBAL over ints */
	    {"\x80\x04\x8c\xff"
	     "ab",
	     5},			      /* a string longer than the data */
	    {"\x80\x04T\xff\xff\xff\xff", 7}, /* a negative BINSTRING length */
	    {"Sunquoted\n.", 11},	      /* STRING must be quoted */
	    {"\x80\x04N", 3},		      /* no STOP */
	    {"", 0},
	};
	struct pickle_report r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = scan_bytes(bad[i].bytes, bad[i].len, NULL, &r);
		if (ret != -EBADMSG)
			fail_msg("case %zu: %d", i, ret);
		assert_false(r.complete);
	}
}

static void test_pickle_scan_mark_and_memo_bombs_are_bounded(void **state)
{
	size_t n = 1u << 20;
	uint8_t *b = malloc(n + 2);
	struct pickle_limits lim;
	struct pickle_report r;

	memset(b, '(', n); /* a million MARKs */
	b[n] = 'N';
	b[n + 1] = '.';
	assert_int_equal(scan_bytes(b, n + 2, NULL, &r), -E2BIG);
	/* N, LONG_BINPUT k, POP: a memo of 149796 entries, then os.system */
	size_t o = 0, k = 0;
	for (; o + 7 + 16 <= n; o += 7, k++)
		memcpy(b + o,
		       (uint8_t[]){'N', 'r', (uint8_t)k, (uint8_t)(k >> 8), (uint8_t)(k >> 16), 0,
				   '0'},
		       7);
	memcpy(b + o, "cos\nsystem\nN\x85R.", 16);
	pickle_limits_default(&lim);
	lim.max_memo = 1000;
	assert_int_equal(scan_bytes(b, o + 16, &lim, &r), 0);
	assert_int_equal(r.memo_dropped, k - 1000);
	assert_dangerous(&r, "os.system");
	free(b);
}

/* Strings memoised past the bound and fetched back for STACK_GLOBAL: named "?.?", never safe. */
static void test_pickle_scan_memo_past_its_bound_hides_nothing(void **state)
{
	/* "collections" "OrderedDict" kept at 0 and 1; "os" "system" past the bound at 2 and 3 */
	static const char s[] =
	    "\x80\x04\x8c\x0b"
	    "collections\x94\x8c\x0bOrderedDict\x94\x8c\x02os\x94\x8c\x06system\x94"
	    "0000h\x02h\x03\x93N\x85R.";
	struct pickle_limits lim;
	struct pickle_report r;

	pickle_limits_default(&lim);
	lim.max_memo = 2;
	assert_int_equal(scan_bytes(s, sizeof(s) - 1, &lim, &r), 0);
	assert_int_equal(r.memo_dropped, 2);
	assert_dangerous(&r, "?.?");
	assert_null(find(&r, "collections.OrderedDict"));
	lim.max_memo = 4; /* all kept: named */
	assert_int_equal(scan_bytes(s, sizeof(s) - 1, &lim, &r), 0);
	assert_dangerous(&r, "os.system");
}

/* 40 unknown imports and then os.system: the list is full, the dangerous one is kept. */
static void test_pickle_scan_dangerous_import_is_never_dropped(void **state)
{
	char buf[2048];
	size_t o = 0;
	struct pickle_report r;

	for (int i = 0; i < 40; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "cmod%d\nf\n0", i);
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "cos\nsystem\n(S'id'\ntR.");
	assert_int_equal(scan_bytes(buf, o, NULL, &r), 0);
	assert_int_equal(r.n_globals, PICKLE_GLOBALS_MAX);
	assert_int_equal(r.globals_dropped, 40 + 1 - PICKLE_GLOBALS_MAX);
	assert_int_equal(r.unknown, 40);
	assert_int_equal(r.dangerous, 1);
	assert_dangerous(&r, "os.system");
	assert_int_equal(find(&r, "os.system")->calls, 1);
}

static void test_pickle_scan_escaped_strings(void **state)
{
	/* protocol 0 strings spelled with escapes: 'o\x73' is "os", \u0073ystem "system" */
	static const char s[] = "S'o\\x73'\nVsy\\u0073tem\n\x93(S'id'\ntR.";
	struct pickle_report r;

	assert_int_equal(scan_bytes(s, sizeof(s) - 1, NULL, &r), 0);
	assert_dangerous(&r, "os.system");
}

static void test_pickle_classify_lists(void **state)
{
	assert_int_equal(pickle_classify("torch._utils", "_rebuild_tensor_v2"), PICKLE_SAFE);
	assert_int_equal(pickle_classify("collections", "OrderedDict"), PICKLE_SAFE);
	assert_int_equal(pickle_classify("numpy.core.multiarray", "_reconstruct"), PICKLE_SAFE);
	assert_int_equal(pickle_classify("os", "system"), PICKLE_DANGEROUS);
	assert_int_equal(pickle_classify("os.path", "join"), PICKLE_DANGEROUS); /* a submodule */
	assert_int_equal(pickle_classify("__builtin__", "eval"), PICKLE_DANGEROUS);
	assert_int_equal(pickle_classify("builtins", "getattr"), PICKLE_DANGEROUS);
	assert_int_equal(pickle_classify("runpy", "_run_code"), PICKLE_DANGEROUS);
	assert_int_equal(pickle_classify("webbrowser", "open"), PICKLE_DANGEROUS);
	assert_int_equal(pickle_classify("torch", "load"), PICKLE_DANGEROUS);
	assert_int_equal(pickle_classify("builtins", "print"), PICKLE_UNKNOWN);
	assert_int_equal(pickle_classify("mypkg.types", "Config"), PICKLE_UNKNOWN);
	assert_int_equal(pickle_classify("osx", "system"), PICKLE_UNKNOWN); /* not os */
	assert_int_equal(pickle_classify("collections", "OrderedDict.__init__.__globals__"),
			 PICKLE_DANGEROUS);
	assert_int_equal(pickle_classify("?", "?"), PICKLE_DANGEROUS);
	assert_string_equal(pickle_class_name(PICKLE_DANGEROUS), "dangerous");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pickle_scan_reduce_payload_every_protocol),
	    cmocka_unit_test(test_pickle_scan_names_hidden_imports),
	    cmocka_unit_test(test_pickle_scan_torch_state_dict_is_safe),
	    cmocka_unit_test(test_pickle_scan_legacy_torch_walks_every_pickle),
	    cmocka_unit_test(test_pickle_scan_truncated_keeps_what_it_saw),
	    cmocka_unit_test(test_pickle_scan_zip_entries_stored_and_deflated),
	    cmocka_unit_test(test_pickle_scan_limits_stop_the_walk),
	    cmocka_unit_test(test_pickle_scan_hostile_opcodes),
	    cmocka_unit_test(test_pickle_scan_mark_and_memo_bombs_are_bounded),
	    cmocka_unit_test(test_pickle_scan_memo_past_its_bound_hides_nothing),
	    cmocka_unit_test(test_pickle_scan_dangerous_import_is_never_dropped),
	    cmocka_unit_test(test_pickle_scan_escaped_strings),
	    cmocka_unit_test(test_pickle_classify_lists),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
