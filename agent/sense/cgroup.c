// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/vfs.h>

#include "sense/cgroup.h"
#include "core/util.h"

static const struct {
	const char *prefix;
	const char *runtime;
} prefixes[] = {
    {"docker-", "docker"}, {"cri-containerd-", "containerd"}, {"crio-", "cri-o"},
    {"libpod-", "podman"}, {"containerd-", "containerd"},
};

/* Parent directory names that hold bare container ids (cgroupfs driver). */
static const struct {
	const char *dir;
	const char *runtime;
} parents[] = {
    {"docker", "docker"}, {"libpod_parent", "podman"},	{"machine.slice", "podman"},
    {"crio", "cri-o"},	  {"containerd", "containerd"},
};

static int is_hex_id(const char *s, size_t n)
{
	if (n != CONTAINER_ID_LEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Pod UID from "kubepods-burstable-pod<uid>.slice" or ".../pod<uid>/..." */
static void pod_uid(const char *comp, size_t n, struct container_info *out)
{
	const char *p = n >= 3 && !memcmp(comp, "pod", 3) ? comp : memmem(comp, n, "-pod", 4);
	size_t i, o = 0;

	if (!p || out->pod_uid[0])
		return;
	p += *p == '-' ? 4 : 3;
	for (i = p - comp; i < n && o < 36; i++) {
		char c = comp[i];

		if (c == '.')
			break;
		out->pod_uid[o++] = c == '_' ? '-' : c; /* systemd driver escapes '-' as '_' */
	}
	out->pod_uid[o] = 0;
	if (o != 36)
		out->pod_uid[0] = 0;
}

static int try_component(const char *comp, size_t n, const char *parent, size_t pn,
			 struct container_info *out)
{
	const char *id = comp;
	size_t idn = n;
	const char *runtime = NULL;

	if (idn > 6 && !memcmp(id + idn - 6, ".scope", 6))
		idn -= 6;
	if (idn > 12 && !memcmp(id, "crio-conmon-", 12))
		return 0; /* CRI-O's monitor, not the container */
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		size_t pl = strlen(prefixes[i].prefix);

		if (idn > pl && !memcmp(id, prefixes[i].prefix, pl)) {
			id += pl;
			idn -= pl;
			runtime = prefixes[i].runtime;
			break;
		}
	}
	if (!is_hex_id(id, idn))
		return 0;
	if (!runtime) {
		for (size_t i = 0; i < ARRAY_SIZE(parents); i++)
			if (pn == strlen(parents[i].dir) && !memcmp(parent, parents[i].dir, pn))
				runtime = parents[i].runtime;
		if (!runtime && pn >= 3 && memmem(parent, pn, "pod", 3))
			runtime = "containerd"; /* cgroupfs kubelet: .../pod<uid>/<id> */
	}
	memcpy(out->id, id, idn);
	out->id[idn] = 0;
	out->runtime = runtime;
	return 1;
}

int cgroup_parse_path(const char *path, struct container_info *out)
{
	const char *comp[64];
	size_t len[64], n = 0;
	const char *p = path;

	memset(out, 0, sizeof(*out));
	while (*p && n < ARRAY_SIZE(comp)) {
		const char *e;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		e = strchrnul(p, '/');
		comp[n] = p;
		len[n++] = e - p;
		p = e;
	}
	for (size_t i = 0; i < n; i++)
		if ((len[i] > 8 && !memcmp(comp[i], "kubepods", 8)) ||
		    (len[i] == 39 && !memcmp(comp[i], "pod", 3)))
			pod_uid(comp[i], len[i], out);
	/* leaf first: nested cgroups inside a container keep the outer id */
	for (size_t i = n; i-- > 0;)
		if (try_component(comp[i], len[i], i ? comp[i - 1] : "", i ? len[i - 1] : 0, out))
			return 1;
	return 0;
}

int cgroup_parse_proc(const char *text, struct container_info *out, char *v2_path, size_t plen)
{
	const char *line = text;
	struct container_info tmp;
	int found = 0;

	memset(out, 0, sizeof(*out));
	if (v2_path && plen)
		v2_path[0] = 0;
	while (line && *line) {
		const char *nl = strchrnul(line, '\n');
		const char *c1 = memchr(line, ':', nl - line);
		const char *c2 = c1 ? memchr(c1 + 1, ':', nl - c1 - 1) : NULL;
		char path[4096];

		if (c2) {
			snprintf(path, sizeof(path), "%.*s", (int)(nl - c2 - 1), c2 + 1);
			if (v2_path && !strncmp(line, "0::", 3))
				snprintf(v2_path, plen, "%s", path);
			if (!found && cgroup_parse_path(path, &tmp)) {
				*out = tmp;
				found = 1;
			}
		}
		line = *nl ? nl + 1 : NULL;
	}
	return found;
}

#define CGROUP2_SUPER_MAGIC 0x63677270

int cgroup2_root(char *out, size_t len)
{
	static const char *const candidates[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
	struct statfs sfs;

	for (size_t i = 0; i < ARRAY_SIZE(candidates); i++)
		if (statfs(candidates[i], &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC) {
			snprintf(out, len, "%s", candidates[i]);
			return 0;
		}
	return -ENOENT;
}
