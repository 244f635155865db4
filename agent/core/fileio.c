// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/util.h"

int fd_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		p += w;
		len -= w;
	}
	return 0;
}

int write_file_atomic_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
	char tmp[NAME_MAX + 1];
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), ".%s.tmp", name) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	r = fd_write_all(fd, data, len);
	/* the mode is set explicitly: the umask must not decide who reads state */
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	/* rename, then sync the directory: the new name is durable too */
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r == 0 && fsync(dirfd) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(dirfd, tmp, 0);
	return r;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	_cleanup_close_ int dfd = -1;

	if (!slash || slash == path) {
		snprintf(dir, sizeof(dir), slash ? "/" : ".");
	} else if ((size_t)(slash - path) >= sizeof(dir)) {
		return -ENAMETOOLONG;
	} else {
		memcpy(dir, path, slash - path);
		dir[slash - path] = 0;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	return write_file_atomic_at(dfd, slash ? slash + 1 : path, data, len, mode);
}

/*
 * Owners whose files vigil loads: root, whoever runs it, and the owner of its
 * own executable (who can change what runs anyway: the rules/ and playbooks/
 * beside a build tree run with sudo). Installed, all three are root.
 */
static bool trusted_uid(uid_t uid)
{
	struct stat exe;

	if (uid == 0 || uid == geteuid())
		return true;
	return stat("/proc/self/exe", &exe) == 0 && exe.st_uid == uid;
}

/* What makes st untrusted ("group-writable", …) and its fix, or false if nothing. */
static bool untrusted(const struct stat *st, char *why, size_t len, const char **fix)
{
	if (!trusted_uid(st->st_uid)) {
		snprintf(why, len, "owned by uid %u, not root", (unsigned)st->st_uid);
		*fix = "chown root";
		return true;
	}
	if (!(st->st_mode & (S_IWGRP | S_IWOTH)))
		return false;
	/* sticky (/tmp, 1777): nobody can rename or replace entries they do not own */
	if (S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX))
		return false;
	snprintf(why, len, "%s-writable", st->st_mode & S_IWOTH ? "world" : "group");
	*fix = st->st_mode & S_IWOTH ? "chmod o-w" : "chmod g-w";
	return true;
}

/* real (canonical) and every directory above it up to /, for path's sake. */
static int check_chain(const char *path, const char *real, char *err, size_t errlen)
{
	char p[PATH_MAX], why[64];
	const char *fix;

	if (snprintf(p, sizeof(p), "%s", real) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	for (;;) {
		struct stat st;
		char *slash;

		if (stat(p, &st) < 0) {
			int r = -errno;

			snprintf(err, errlen, "%s: %s: %s", path, p, strerror(-r));
			return r;
		}
		if (untrusted(&st, why, sizeof(why), &fix)) {
			if (!strcmp(p, path))
				snprintf(err, errlen, "%s: refusing it: %s (%s %s)", path, why, fix,
					 p);
			else
				snprintf(err, errlen, "%s: refusing it: %s is %s (%s %s)", path, p,
					 why, fix, p);
			return -EPERM;
		}
		if (!strcmp(p, "/"))
			return 0;
		slash = strrchr(p, '/');
		if (slash == p)
			slash[1] = 0;
		else
			*slash = 0;
	}
}

int path_check_trusted(const char *path, char *err, size_t errlen)
{
	char real[PATH_MAX], dir[PATH_MAX];
	const char *slash;
	int r;

	if (!realpath(path, real)) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	r = check_chain(path, real, err, errlen);
	if (r < 0 || !strcmp(real, path))
		return r;
	/* reached through a symlink: whoever can swap the link matters too */
	slash = strrchr(path, '/');
	if (!slash)
		return getcwd(dir, sizeof(dir)) ? check_chain(path, dir, err, errlen) : -errno;
	if (slash == path)
		return 0; /* "/name": "/" was checked above */
	if ((size_t)(slash - path) >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, slash - path);
	dir[slash - path] = 0;
	if (!realpath(dir, real)) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", dir, strerror(-r));
		return r;
	}
	return check_chain(path, real, err, errlen);
}

int read_trusted_file(const char *path, size_t max, char **ret, size_t *len, char *err,
		      size_t errlen)
{
	int r = path_check_trusted(path, err, errlen);
	_cleanup_close_ int fd = r < 0 ? -1 : open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t got = 0;

	if (r < 0)
		return r;
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		snprintf(err, errlen, "%s: not a regular file of at most %zu MiB", path, max >> 20);
		return -EINVAL;
	}
	buf = malloc(st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: read: %s", path, n ? strerror(errno) : "short");
			return -EIO;
		}
		got += n;
	}
	buf[got] = 0;
	*len = got;
	*ret = buf;
	buf = NULL;
	return 0;
}
