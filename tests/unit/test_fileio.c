// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/util.h"

static void test_write_file_atomic_replaces_and_leaves_no_temporary(void **state)
{
	char dir[] = "/tmp/vigil-fileio-XXXXXX", path[64], buf[64];
	struct stat st;
	DIR *d;
	struct dirent *de;
	int n = 0;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(write_file_atomic(path, "old\n", 4, 0600), 0);
	assert_int_equal(write_file_atomic(path, "new\n", 4, 0640), 0);
	assert_int_equal(read_file(path, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "new\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640); /* set explicitly, whatever the umask */
	d = opendir(dir);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(n, 1);
	unlink(path);
	rmdir(dir);
}

static void test_write_file_atomic_missing_dir_is_an_error(void **state)
{
	assert_int_equal(write_file_atomic("/nonexistent-vigil/x", "a", 1, 0600), -ENOENT);
}

/* A private dir under /tmp (root's, 1777) holding a 0644 file: trusted as made. */
struct trust_dir {
	char dir[32], file[64], err[512];
};

static void trust_setup(struct trust_dir *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/vigil-trust-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->file, sizeof(t->file), "%s/rules.yaml", t->dir);
	assert_int_equal(write_file_atomic(t->file, "[]\n", 3, 0644), 0);
}

static void trust_teardown(struct trust_dir *t)
{
	char link[80];

	snprintf(link, sizeof(link), "%s/link.yaml", t->dir);
	unlink(link);
	unlink(t->file);
	rmdir(t->dir);
}

static void expect_refused(struct trust_dir *t, const char *path, const char *culprit,
			   const char *why)
{
	char want[160];

	t->err[0] = 0;
	assert_int_equal(path_check_trusted(path, t->err, sizeof(t->err)), -EPERM);
	snprintf(want, sizeof(want), "%s: refusing it: ", path);
	if (strncmp(t->err, want, strlen(want)) || !strstr(t->err, culprit) ||
	    !strstr(t->err, why) || strchr(t->err, '\n'))
		fail_msg("got \"%s\", want \"%s…%s…%s\"", t->err, want, culprit, why);
}

static void test_path_check_trusted_accepts_a_private_dir_under_sticky_tmp(void **state)
{
	struct trust_dir t;
	struct stat st;

	assert_int_equal(stat("/tmp", &st), 0);
	assert_true(st.st_mode & S_ISVTX); /* /tmp is 1777: other-writable, but sticky */
	trust_setup(&t);
	assert_int_equal(path_check_trusted(t.file, t.err, sizeof(t.err)), 0);
	trust_teardown(&t);
}

static void test_path_check_trusted_refuses_a_group_writable_file(void **state)
{
	struct trust_dir t;

	trust_setup(&t);
	chmod(t.file, 0664);
	expect_refused(&t, t.file, "group-writable", "chmod g-w");
	trust_teardown(&t);
}

static void test_path_check_trusted_refuses_an_other_writable_parent(void **state)
{
	struct trust_dir t;

	trust_setup(&t);
	chmod(t.dir, 0777); /* not sticky: anyone could replace rules.yaml */
	expect_refused(&t, t.file, t.dir, "world-writable");
	chmod(t.dir, 0700);
	trust_teardown(&t);
}

static void test_path_check_trusted_refuses_a_file_of_another_user(void **state)
{
	struct trust_dir t;

	if (geteuid() != 0)
		skip(); /* only root can give a file away */
	trust_setup(&t);
	assert_int_equal(chown(t.file, 65534, 65534), 0); /* nobody */
	expect_refused(&t, t.file, "owned by uid 65534", "chown root");
	trust_teardown(&t);
}

static void test_path_check_trusted_follows_symlinks_to_the_target(void **state)
{
	struct trust_dir t;
	char link[80];

	trust_setup(&t);
	snprintf(link, sizeof(link), "%s/link.yaml", t.dir);
	assert_int_equal(symlink(t.file, link), 0);
	assert_int_equal(path_check_trusted(link, t.err, sizeof(t.err)), 0);
	chmod(t.file, 0646); /* the link is fine, what it points to is not */
	expect_refused(&t, link, t.file, "world-writable");
	trust_teardown(&t);
}

static void test_read_trusted_file_reads_whole_and_caps_the_size(void **state)
{
	struct trust_dir t;
	char *buf = NULL;
	size_t len = 0;

	trust_setup(&t);
	assert_int_equal(read_trusted_file(t.file, 1 << 20, &buf, &len, t.err, sizeof(t.err)), 0);
	assert_int_equal(len, 3);
	assert_string_equal(buf, "[]\n");
	free(buf);
	buf = NULL;
	assert_int_equal(read_trusted_file(t.file, 2, &buf, &len, t.err, sizeof(t.err)), -EINVAL);
	assert_null(buf);
	assert_non_null(strstr(t.err, "not a regular file of at most"));
	assert_int_equal(read_trusted_file(t.dir, 1 << 20, &buf, &len, t.err, sizeof(t.err)),
			 -EINVAL); /* a directory */
	chmod(t.file, 0666);
	assert_int_equal(read_trusted_file(t.file, 1 << 20, &buf, &len, t.err, sizeof(t.err)),
			 -EPERM);
	assert_null(buf);
	trust_teardown(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_file_atomic_replaces_and_leaves_no_temporary),
	    cmocka_unit_test(test_write_file_atomic_missing_dir_is_an_error),
	    cmocka_unit_test(test_path_check_trusted_accepts_a_private_dir_under_sticky_tmp),
	    cmocka_unit_test(test_path_check_trusted_refuses_a_group_writable_file),
	    cmocka_unit_test(test_path_check_trusted_refuses_an_other_writable_parent),
	    cmocka_unit_test(test_path_check_trusted_refuses_a_file_of_another_user),
	    cmocka_unit_test(test_path_check_trusted_follows_symlinks_to_the_target),
	    cmocka_unit_test(test_read_trusted_file_reads_whole_and_caps_the_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
