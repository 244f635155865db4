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

#include "vigil/fileio.h"
#include "vigil/util.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_file_atomic_replaces_and_leaves_no_temporary),
	    cmocka_unit_test(test_write_file_atomic_missing_dir_is_an_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
