/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sockdiag.h — confine: cutting already-open sockets (what isolation does to
 * connections made before it). Owns: finding a process's socket inodes in
 * /proc/PID/fd, dumping TCP and UDP sockets over NETLINK_SOCK_DIAG and
 * destroying those (SOCK_DESTROY), from a short-lived thread inside the
 * process's network namespace. Stateless; knows nothing of cells or
 * playbooks; logs nothing.
 *
 * Stage confine/: includes core/ to detect/; does not include respond/: it runs no playbooks.
 */
#ifndef VIGIL_SOCKDIAG_H
#define VIGIL_SOCKDIAG_H

#include <sys/types.h>

/*
 * Destroy pid's open TCP connections (listeners kept) and connected UDP
 * sockets. The number cut, or -errno (EPERM without CAP_NET_ADMIN or
 * CAP_SYS_ADMIN for another namespace, EOPNOTSUPP without
 * CONFIG_INET_DIAG_DESTROY) when none could be.
 */
int sockdiag_destroy_sockets_of(pid_t pid);

#endif
