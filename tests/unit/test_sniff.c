// SPDX-License-Identifier: GPL-2.0
/*
 * Model formats from first bytes, and whether they keep the extension's
 * promise; the worker against real files: a regular file is read, a FIFO
 * or a swapped symlink is refused without being opened, a hung mount is
 * abandoned at the deadline and detection goes on.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "sense/sniff.h"

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

/* ---- the worker, on real files ---- */

static char dir[] = "/tmp/vigil-sniff-XXXXXX";
static bool own_mount_ns; /* the FUSE case mounts: only in a namespace of our own */

static void path_in(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static void write_model(const char *name)
{
	char path[256];
	FILE *f;

	path_in(path, sizeof(path), name);
	f = fopen(path, "w");
	assert_non_null(f);
	fwrite("\x02\0\0\0\0\0\0\0{}", 1, 10, f);
	fclose(f);
}

/* The job an open event of this process on path would give (inode of `seen`). */
static struct sniff_job job_for(const char *name, const char *seen)
{
	struct sniff_job j = {.pid = getpid(), .host_root = true};
	char path[256];
	struct stat st;

	path_in(path, sizeof(path), seen);
	assert_int_equal(lstat(path, &st), 0);
	j.ino = st.st_ino;
	j.dev = major(st.st_dev) << 20 | minor(st.st_dev);
	path_in(j.path, sizeof(j.path), name);
	return j;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

/* A result within ms, ticking like the event loop does. */
static bool wait_result(struct sniffer *s, struct sniff_job *ret, unsigned ms)
{
	uint64_t end = now_ms() + ms;

	while (now_ms() < end) {
		struct pollfd p = {.fd = sniff_fd(s), .events = POLLIN};

		sniff_tick(s);
		if (poll(&p, 1, 20) > 0 && sniff_result(s, ret))
			return true;
	}
	return false;
}

static struct sniff_stats wait_stats(struct sniffer *s, uint64_t handled, unsigned ms)
{
	uint64_t end = now_ms() + ms;
	struct sniff_stats st;

	do {
		sniff_tick(s);
		sniff_stats(s, &st);
		if (st.read + st.cached + st.failed + st.refused + st.skipped_fs + st.timed_out >=
		    handled)
			break;
		poll(NULL, 0, 20);
	} while (now_ms() < end);
	return st;
}

static int setup_dir(void **state)
{
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown_dir(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void test_sniff_reads_a_regular_file(void **state)
{
	struct sniff_job j, r;
	struct sniffer *s;

	write_model("a.safetensors");
	j = job_for("a.safetensors", "a.safetensors");
	assert_int_equal(sniff_new(&s), 0);
	sniff_request(s, &j);
	assert_true(wait_result(s, &r, 5000));
	assert_string_equal(r.format, "safetensors");
	assert_false(r.mismatch);
	sniff_free(s);
}

/* A FIFO under a model's name is not opened (a reader would wake its writer), nor waited on. */
static void test_sniff_fifo_is_refused_and_does_not_block(void **state)
{
	struct sniff_job j, r;
	struct sniff_stats st;
	struct sniffer *s;
	char path[256];

	path_in(path, sizeof(path), "x.safetensors");
	assert_int_equal(mkfifo(path, 0600), 0);
	write_model("b.safetensors");
	assert_int_equal(sniff_new(&s), 0);
	j = job_for("x.safetensors", "x.safetensors");
	sniff_request(s, &j);
	j = job_for("b.safetensors", "b.safetensors");
	sniff_request(s, &j);
	assert_true(wait_result(s, &r, 5000));
	assert_string_equal(r.path, j.path);
	st = wait_stats(s, 2, 5000);
	assert_int_equal(st.refused, 1);
	sniff_free(s);
}

/*
 * The event saw real.safetensors; by the time the worker looks, the name is
 * a symlink to a device node or to another file: refused by inode, and the
 * device is never opened (no IN_OPEN on it). Names without a model
 * extension: another agent on this machine would look at those too.
 */
static void test_sniff_swapped_symlink_is_refused_unopened(void **state)
{
	char zero[256], link[256], other[256], ev[sizeof(struct inotify_event) + 256];
	struct sniff_job j;
	struct sniff_stats st;
	struct sniffer *s;
	int in;

	if (geteuid() != 0)
		skip(); /* mknod */
	path_in(zero, sizeof(zero), "zero");
	assert_int_equal(mknod(zero, S_IFCHR | 0600, makedev(1, 5)), 0);
	write_model("real.test");
	write_model("other.test");
	path_in(link, sizeof(link), "link.test");
	path_in(other, sizeof(other), "other.test");
	in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	assert_true(in >= 0 && inotify_add_watch(in, zero, IN_OPEN) >= 0);
	assert_int_equal(sniff_new(&s), 0);
	assert_int_equal(symlink(zero, link), 0);
	j = job_for("link.test", "real.test");
	sniff_request(s, &j);
	st = wait_stats(s, 1, 5000);
	unlink(link);
	assert_int_equal(symlink(other, link), 0);
	sniff_request(s, &j);
	/* and a name now on another inode (the file was replaced) */
	j = job_for("other.test", "real.test");
	sniff_request(s, &j);
	st = wait_stats(s, 3, 5000);
	assert_int_equal(st.refused, 3);
	assert_int_equal(st.read, 0);
	assert_int_equal(read(in, ev, sizeof(ev)), -1); /* the device was never opened */
	assert_int_equal(errno, EAGAIN);
	close(in);
	sniff_free(s);
}

/*
 * A FUSE mount whose server never answers (not even INIT): every lookup in
 * it hangs. Two such jobs take both workers; at the deadline they are
 * abandoned and replaced, and the next model file is still read.
 */
static void test_sniff_hung_mount_does_not_stop_detection(void **state)
{
	char mnt[256], opts[128];
	struct sniff_job j, r;
	struct sniff_stats st;
	struct sniffer *s;
	int fd;

	if (!own_mount_ns)
		skip();
	path_in(mnt, sizeof(mnt), "fuse");
	assert_int_equal(mkdir(mnt, 0700), 0);
	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		skip();
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0", fd);
	if (mount("vigil-test", mnt, "fuse", MS_NOSUID | MS_NODEV, opts) < 0) {
		close(fd);
		skip();
	}
	write_model("c.safetensors");
	assert_int_equal(sniff_new(&s), 0);
	sniff_set_limits(s, 300, false);
	j = job_for("fuse/hung1.safetensors", "c.safetensors");
	sniff_request(s, &j);
	j = job_for("fuse/hung2.safetensors", "c.safetensors");
	sniff_request(s, &j);
	poll(NULL, 0, 100); /* both workers are in the mount now */
	j = job_for("c.safetensors", "c.safetensors");
	sniff_request(s, &j);
	assert_true(wait_result(s, &r, 5000));
	assert_string_equal(r.path, j.path);
	st = wait_stats(s, 3, 5000); /* the other hung job may time out a tick later */
	assert_int_equal(st.timed_out, 2);
	assert_int_equal(st.stuck, 2);
	close(fd); /* the connection aborts: the stuck lookups fail and their threads end */
	umount2(mnt, MNT_DETACH);
	for (uint64_t end = now_ms() + 5000; st.stuck && now_ms() < end; poll(NULL, 0, 20))
		sniff_stats(s, &st);
	assert_int_equal(st.stuck, 0);
	sniff_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sniff_format_magic_numbers),
	    cmocka_unit_test(test_sniff_judge_extension_promises),
	    cmocka_unit_test(test_sniff_reads_a_regular_file),
	    cmocka_unit_test(test_sniff_fifo_is_refused_and_does_not_block),
	    cmocka_unit_test(test_sniff_swapped_symlink_is_refused_unopened),
	    cmocka_unit_test(test_sniff_hung_mount_does_not_stop_detection),
	};

	/* a mount namespace of our own, before any thread: the FUSE mount stays in it */
	own_mount_ns =
	    unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
