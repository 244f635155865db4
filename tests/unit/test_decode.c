// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vigil/abi.h"
#include "sense/decode.h"

static struct decoder dec;

static size_t build_open(char *buf, const char *path, const char *opened)
{
	struct vgl_open *e = (void *)buf;
	size_t pl = strlen(path) + 1, ol = strlen(opened) + 1;

	memset(e, 0, sizeof(*e));
	e->h.type = VGL_MSG_OPEN;
	e->h.version = VGL_ABI_VERSION;
	e->h.pid = 42;
	e->path_len = pl;
	e->opened_len = ol;
	e->kind = VGL_KIND_MODEL;
	memcpy(e->data, path, pl);
	memcpy(e->data + pl, opened, ol);
	e->h.size = sizeof(*e) + pl + ol;
	return e->h.size;
}

static void test_decode_open_ok(void **state)
{
	char buf[512];
	struct vigil_event ev;
	size_t n = build_open(buf, "/models/a.safetensors", "a.safetensors");

	assert_int_equal(decode_record(&dec, buf, n, &ev), 0);
	assert_int_equal(ev.action, VA_OPEN);
	assert_int_equal(ev.pid, 42);
	assert_string_equal(ev.open.path.p, "/models/a.safetensors");
	assert_int_equal(ev.open.opened.n, strlen("a.safetensors"));
}

/* The target pid is the proc-secret kind's only: any other kind's field is not read. */
static void test_decode_open_proc_secret_target(void **state)
{
	char buf[512];
	struct vgl_open *e = (void *)buf;
	struct vigil_event ev;
	size_t n = build_open(buf, "/proc/77/environ", "/proc/77/environ");

	e->kind = VGL_KIND_PROC_SECRET;
	e->target = 77;
	assert_int_equal(decode_record(&dec, buf, n, &ev), 0);
	assert_int_equal(ev.open.kind, VGL_KIND_PROC_SECRET);
	assert_int_equal(ev.open.target, 77);
	assert_null(ev.open.target_proc);
	e->kind = VGL_KIND_CREDENTIAL;
	assert_int_equal(decode_record(&dec, buf, n, &ev), 0);
	assert_int_equal(ev.open.target, 0);
}

static void test_decode_open_truncated_record(void **state)
{
	char buf[512];
	struct vigil_event ev;
	size_t n = build_open(buf, "/models/a.safetensors", "x");

	/* the ring buffer handed us fewer bytes than the header claims */
	assert_int_equal(decode_record(&dec, buf, n - 5, &ev), -EBADMSG);
	/* lengths that point past the record */
	((struct vgl_open *)buf)->opened_len = 4000;
	assert_int_equal(decode_record(&dec, buf, n, &ev), -EBADMSG);
}

static void test_decode_rejects_unknown_type_and_version(void **state)
{
	char buf[512];
	struct vigil_event ev;
	size_t n = build_open(buf, "/a.gguf", "x");

	((struct vgl_hdr *)buf)->type = 99;
	assert_int_equal(decode_record(&dec, buf, n, &ev), -EBADMSG);
	((struct vgl_hdr *)buf)->type = VGL_MSG_OPEN;
	((struct vgl_hdr *)buf)->version = 7;
	assert_int_equal(decode_record(&dec, buf, n, &ev), -EBADMSG);
	assert_int_equal(decode_record(&dec, buf, 3, &ev), -EBADMSG);
}

static void test_decode_exit_status(void **state)
{
	struct vgl_exit e = {
	    .h = {.type = VGL_MSG_EXIT, .version = VGL_ABI_VERSION, .size = sizeof(e)},
	    .exit_code = (3 << 8)};
	struct vigil_event ev;

	assert_int_equal(decode_record(&dec, &e, sizeof(e), &ev), 0);
	assert_int_equal(ev.exit.code, 3);
	assert_int_equal(ev.exit.signal, 0);
	e.exit_code = 9;
	assert_int_equal(decode_record(&dec, &e, sizeof(e), &ev), 0);
	assert_int_equal(ev.exit.signal, 9);
}

/* A two-name change record as file.bpf.c lays it out: base, (gap), path, path2, base2. */
static size_t build_change(char *buf, uint16_t sys, const char *base, const char *p1,
			   const char *p2, const char *base2)
{
	struct vgl_fchange *e = (void *)buf;
	size_t at = sizeof(*e) + VGL_PATH_MAX;

	memset(buf, 0, sizeof(*e) + 3 * VGL_PATH_MAX);
	e->h.type = VGL_MSG_FCHANGE;
	e->h.version = VGL_ABI_VERSION;
	e->syscall = sys;
	e->base_len = strlen(base) + 1;
	memcpy(e->data, base, e->base_len);
	e->path_len = strlen(p1) + 1;
	memcpy(buf + at, p1, e->path_len);
	e->path2_len = strlen(p2) + 1;
	memcpy(buf + at + e->path_len, p2, e->path2_len);
	e->base2_len = strlen(base2) + 1;
	memcpy(buf + at + e->path_len + e->path2_len, base2, e->base2_len);
	e->h.size = at + e->path_len + e->path2_len + e->base2_len;
	return e->h.size;
}

static void test_decode_rename_joins_relative_names(void **state)
{
	char buf[sizeof(struct vgl_fchange) + 3 * VGL_PATH_MAX];
	struct vigil_event ev;
	size_t n = build_change(buf, VGL_SYS_RENAMEAT2, "/models/m", "../m/old.gguf", "new.gguf",
				"/models/m");

	assert_int_equal(decode_record(&dec, buf, n, &ev), 0);
	assert_int_equal(ev.action, VA_RENAME);
	assert_string_equal(ev.change.path.p, "/models/m/old.gguf");
	assert_string_equal(ev.change.target.p, "/models/m/new.gguf");
}

/* A link is reported by the name it creates; what it points to is the target. */
static void test_decode_link_reports_new_name(void **state)
{
	char buf[sizeof(struct vgl_fchange) + 3 * VGL_PATH_MAX];
	struct vigil_event ev;
	size_t n = build_change(buf, VGL_SYS_LINKAT, "/tmp", "unit", "/etc/cron.d/./x", "");

	assert_int_equal(decode_record(&dec, buf, n, &ev), 0);
	assert_int_equal(ev.action, VA_LINK);
	assert_string_equal(ev.change.path.p, "/etc/cron.d/x");
	assert_int_equal(ev.change.path.n, strlen("/etc/cron.d/x"));
	assert_string_equal(ev.change.target.p, "/tmp/unit");
}

/* A relative symlink target is relative to the link's directory, not the caller's cwd. */
static void test_decode_symlink_target_relative_to_link(void **state)
{
	char buf[sizeof(struct vgl_fchange) + 3 * VGL_PATH_MAX];
	struct vigil_event ev;
	size_t n = build_change(buf, VGL_SYS_SYMLINKAT, "", "../x.service",
				"multi-user.target.wants/x.service", "/etc/systemd/system");

	assert_int_equal(decode_record(&dec, buf, n, &ev), 0);
	assert_int_equal(ev.action, VA_SYMLINK);
	assert_string_equal(ev.change.path.p,
			    "/etc/systemd/system/multi-user.target.wants/x.service");
	assert_string_equal(ev.change.target.p, "/etc/systemd/system/x.service");
	assert_int_equal(ev.change.target.n, strlen("/etc/systemd/system/x.service"));
	n = build_change(buf, VGL_SYS_SYMLINK, "", "y", "/x", "");
	assert_int_equal(decode_record(&dec, buf, n, &ev), 0);
	assert_string_equal(ev.change.path.p, "/x");
	assert_string_equal(ev.change.target.p, "/y");
	n = build_change(buf, VGL_SYS_SYMLINK, "", "/lib/systemd/system/y.service", "y.service",
			 "/etc/systemd/system");
	assert_int_equal(decode_record(&dec, buf, n, &ev), 0);
	assert_string_equal(ev.change.path.p, "/etc/systemd/system/y.service");
	assert_string_equal(ev.change.target.p, "/lib/systemd/system/y.service");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decode_open_ok),
	    cmocka_unit_test(test_decode_open_proc_secret_target),
	    cmocka_unit_test(test_decode_open_truncated_record),
	    cmocka_unit_test(test_decode_rejects_unknown_type_and_version),
	    cmocka_unit_test(test_decode_exit_status),
	    cmocka_unit_test(test_decode_rename_joins_relative_names),
	    cmocka_unit_test(test_decode_link_reports_new_name),
	    cmocka_unit_test(test_decode_symlink_target_relative_to_link),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
