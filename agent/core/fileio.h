/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fileio.h — core: files that must survive a crash. One safe-write path for
 * every state file vigild keeps (incidents, containments, the webhook spool,
 * metrics): write a temporary beside the target, fsync it, rename it over
 * the target, fsync the directory, so a reader sees the old file or the new
 * one and a power cut loses neither. And the one trust check for what vigil
 * loads and runs as root (config, rules, playbooks, exec scripts). Stateless;
 * logs nothing (callers do).
 *
 * Stage core/: includes no other stage; does not know events, rules or the kernel side.
 */
#ifndef VIGIL_FILEIO_H
#define VIGIL_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* write(2) until done; EINTR retried. 0 or -errno. */
int fd_write_all(int fd, const void *data, size_t len);
/* dirfd/name atomically replaced by data (mode applied before the rename). 0 or -errno. */
int write_file_atomic_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode);
/* The same for a path: its directory is opened, written into and synced. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/*
 * What sshd and sudo check before trusting a file: path (symlinks followed,
 * the target checked, and the link's own directory) and every directory
 * above it up to / owned by root (or by whoever runs us, or by the owner of
 * our executable) and writable by nobody else; a sticky directory (/tmp) is
 * fine, nobody can replace entries in it they do not own. 0, or -EPERM (or
 * -errno) with one line in err naming path and the culprit.
 */
int path_check_trusted(const char *path, char *err, size_t errlen);
/*
 * The one reader for what vigil loads as root (config, rules, playbooks,
 * seccomp profiles): path_check_trusted, then a regular file of at most max
 * bytes read whole. *ret is malloc'd and NUL-terminated (*len without the
 * NUL). 0, or -errno with one line in err naming path.
 */
int read_trusted_file(const char *path, size_t max, char **ret, size_t *len, char *err,
		      size_t errlen);

#endif
