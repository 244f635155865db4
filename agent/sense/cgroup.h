/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cgroup.h — what a cgroup path says about a container.
 *
 * Owns the naming conventions of Docker, containerd/CRI, CRI-O, Podman and
 * systemd slices (both cgroupfs and systemd drivers). Pure string work: the
 * caller reads /proc/PID/cgroup.
 *
 * Stage sense/: includes core/ only; does not write the stream, decide alerts or act.
 */
#ifndef VIGIL_CGROUP_H
#define VIGIL_CGROUP_H

#include <stddef.h>

#define CONTAINER_ID_LEN 64

struct container_info {
	char id[CONTAINER_ID_LEN + 1]; /* "" when not in a container */
	const char *runtime;	       /* "docker", "containerd", "cri-o", "podman", NULL */
	char pod_uid[37];	       /* Kubernetes pod UID from kubepods slices, "" if none */
};

/* Parse one cgroup path ("/system.slice/docker-<id>.scope"). 1 = container found. */
int cgroup_parse_path(const char *path, struct container_info *out);
/*
 * Parse a whole /proc/PID/cgroup text: the first line naming a container
 * wins (hybrid hosts keep Docker's cgroups in v1 hierarchies); the v2 path
 * ("0::/…") is copied to v2_path. 1 = container found.
 */
/* Where cgroup v2 is mounted: /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts. */
int cgroup2_root(char *out, size_t len);
int cgroup_parse_proc(const char *text, struct container_info *out, char *v2_path, size_t len);

#endif
