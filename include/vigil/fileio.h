/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fileio.h — core: files that must survive a crash. One safe-write path for
 * every state file vigild keeps (incidents, containments, the webhook spool,
 * metrics): write a temporary beside the target, fsync it, rename it over
 * the target, fsync the directory, so a reader sees the old file or the new
 * one and a power cut loses neither. Stateless; logs nothing (callers do).
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

#endif
