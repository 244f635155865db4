// SPDX-License-Identifier: GPL-2.0
/*
 * contain_load.c — the enforcement programs: bpffs, loading and pinning,
 * attaching at the cgroup root, teardown; and the egress allowlists.
 */
#include <bpf/bpf.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "confine/contain_internal.h"
#include "core/log.h"

#define BPFFS "/sys/fs/bpf"

/* ---- loading the enforcement programs ---- */

/*
 * A pinned map of another layout (left by another version) would fail the
 * whole load, and with it every containment: recreate only that map, and
 * say so; restore_cell rebuilds what it held from the record.
 */
static void replace_incompatible_pins(struct contain *c)
{
	struct bpf_map *m;

	bpf_object__for_each_map (m, c->skel->obj) {
		const char *path = bpf_map__pin_path(m);
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		_cleanup_close_ int fd = path ? bpf_obj_get(path) : -1;

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
			continue;
		if (info.type == bpf_map__type(m) && info.key_size == bpf_map__key_size(m) &&
		    info.value_size == bpf_map__value_size(m) &&
		    info.max_entries == bpf_map__max_entries(m) &&
		    info.map_flags == bpf_map__map_flags(m) &&
		    info.map_extra == bpf_map__map_extra(m))
			continue;
		log_warn("pinned map %s has another layout (another version of vigild): recreating "
			 "it",
			 path);
		unlink(path);
		strv_push(&c->recreated, bpf_map__name(m));
	}
}

static int open_skel(struct contain *c)
{
	LIBBPF_OPTS(bpf_object_open_opts, o, .pin_root_path = c->pin_dir);
	const void *b;
	size_t n;
	int r;

	c->skel = vigil_contain__open_opts(&o);
	if (!c->skel)
		return -errno;
	replace_incompatible_pins(c);
	r = vigil_contain__load(c->skel);
	b = vigil_contain__elf_bytes(&n); /* not read again, as probes.c's release_objects */
	release_pages(b, n);
	if (r) {
		vigil_contain__destroy(c->skel);
		c->skel = NULL;
	}
	return r;
}

/* A link attaching prog: a cgroup hook on the v2 root, or a tracing program. */
static struct bpf_link *attach(struct bpf_program *prog, int cgfd)
{
	return bpf_program__get_type(prog) == BPF_PROG_TYPE_CGROUP_SOCK_ADDR
		   ? bpf_program__attach_cgroup(prog, cgfd)
		   : bpf_program__attach(prog);
}

/* contain_fork and contain_exit: links[FOLLOW], links[FOLLOW + 1] */
#define FOLLOW 4

static struct bpf_program *prog_of(const struct contain *c, int i)
{
	struct bpf_program *progs[6] = {
	    c->skel->progs.contain_connect4, c->skel->progs.contain_connect6,
	    c->skel->progs.contain_sendmsg4, c->skel->progs.contain_sendmsg6,
	    c->skel->progs.contain_fork,     c->skel->progs.contain_exit};

	return progs[i];
}

static void link_pin_path(const struct contain *c, int i, char *path, size_t len)
{
	snprintf(path, len, "%s/link_%s", c->pin_dir, bpf_program__name(prog_of(c, i)));
}

/* Pinned links stay attached while vigild is away; a new vigild swaps in its programs. */
static int pin_link(struct contain *c, int i, int cgfd)
{
	struct bpf_program *prog = prog_of(c, i);
	char path[PATH_MAX + 64];
	struct bpf_link *l;

	link_pin_path(c, i, path, sizeof(path));
	l = access(path, F_OK) == 0 ? bpf_link__open(path) : NULL;
	if (l && bpf_link__update_program(l, prog) < 0) {
		bpf_link__destroy(l);
		unlink(path);
		l = NULL;
	}
	if (!l) {
		l = attach(prog, cgfd);
		if (!l)
			return -errno;
		if (bpf_link__pin(l, path) < 0) {
			int r = -errno;

			bpf_link__destroy(l);
			return r;
		}
	}
	c->links[i] = l;
	return 0;
}

static int attach_pinned(struct contain *c, int cgfd)
{
	for (int i = 0; i < 6; i++) {
		int r = pin_link(c, i, cgfd);

		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Fork and exit follow process sets and the processes `vigil exec`
 * confined: attached (and pinned, so they keep following while vigild is
 * away) only while there is any, since every fork and exit on the host
 * would pay two programs for nothing.
 */
static int follow(struct contain *c, bool on)
{
	char path[PATH_MAX + 64];
	int r = 0;

	for (int i = FOLLOW; i < FOLLOW + 2; i++) {
		if (on && !c->links[i] && (r = pin_link(c, i, -1)) < 0)
			return log_warn_errno(r, "%s did not attach: children are not followed",
					      bpf_program__name(prog_of(c, i)));
		if (!on && c->links[i]) {
			link_pin_path(c, i, path, sizeof(path));
			unlink(path); /* unpinned and closed, the link detaches */
			bpf_link__destroy(c->links[i]);
			c->links[i] = NULL;
		}
	}
	return r;
}

int contain_follow_sets(struct contain *c)
{
	return contain_active(c) ? follow(c, true) : 0;
}

static bool any_set(const struct contain *c)
{
	for (unsigned i = 0; i < c->ncells; i++)
		if (c->cells[i]->set)
			return true;
	return false;
}

static bool confined_nonempty(const struct contain *c)
{
	uint32_t k;

	return bpf_map_get_next_key(bpf_map__fd(c->skel->maps.vgl_confined), NULL, &k) == 0;
}

/*
 * The gate (VGL_CSTATE_CONFINED) and the fork and exit links are cleared
 * only on an empty map, then it is looked at again: `vigil exec` adds its
 * entry before it opens the gate and waits for the syscall check (attached
 * after this), so an entry added meanwhile is seen here and both come back
 * before the program it confines can fork.
 */
bool contain_any_confined(struct contain *c)
{
	uint32_t k = VGL_CSTATE_CONFINED, v = 0;
	bool any;
	int fd;

	if (!contain_active(c))
		return false;
	fd = bpf_map__fd(c->skel->maps.vgl_cstate);
	any = confined_nonempty(c);
	if (!any) {
		bpf_map_update_elem(fd, &k, &v, BPF_ANY);
		follow(c, any_set(c));
		any = confined_nonempty(c);
	}
	if (any) {
		follow(c, true);
		v = 1;
		bpf_map_update_elem(fd, &k, &v, BPF_ANY);
	}
	return any;
}

/* The filesystem path is on: its own, or the nearest existing directory's above it. */
static int fs_type(const char *path, long *type)
{
	char p[PATH_MAX];
	struct statfs sfs;

	snprintf(p, sizeof(p), "%s", path);
	while (statfs(p, &sfs) < 0) {
		char *slash = strrchr(p, '/');

		if (errno != ENOENT || !slash || slash == p)
			return -errno;
		*slash = 0;
	}
	*type = sfs.f_type;
	return 0;
}

static bool on_bpffs(const char *path)
{
	long t;

	return fs_type(path, &t) == 0 && t == (long)BPF_FS_MAGIC;
}

/*
 * Pins need bpffs. Where /sys/fs/bpf is a bare sysfs directory (no systemd:
 * containers, minimal VMs) mount it, as Cilium and Tetragon do; a pin_dir
 * anywhere else off bpffs is the configuration's mistake.
 */
static int ensure_bpffs(const char *pin_dir, char *err, size_t errlen)
{
	size_t n = strlen(BPFFS);

	if (on_bpffs(pin_dir))
		return 0;
	if (!strncmp(pin_dir, BPFFS, n) && (pin_dir[n] == '/' || !pin_dir[n]) && !on_bpffs(BPFFS)) {
		if (mount("bpf", BPFFS, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") < 0) {
			snprintf(err, errlen,
				 "bpffs is not mounted and mounting it at %s failed: %s", BPFFS,
				 strerror(errno));
			return -errno;
		}
		log_info("mounted bpffs at %s (it was not mounted)", BPFFS);
		if (on_bpffs(pin_dir))
			return 0;
	}
	snprintf(err, errlen,
		 "response.pin_dir %.400s is not on a bpf filesystem (mount one there: mount -t "
		 "bpf bpf DIR)",
		 pin_dir);
	return -ENOTSUP;
}

static int load_bpf(struct contain *c, char *err, size_t errlen)
{
	_cleanup_close_ int cgfd = open(c->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (cgfd < 0)
		return -errno;
	if ((r = ensure_bpffs(c->pin_dir, err, errlen)) < 0)
		return r;
	if (mkdir(c->pin_dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%.400s: %s", c->pin_dir, strerror(errno));
		return -errno;
	}
	r = open_skel(c);
	if (r == 0)
		r = attach_pinned(c, cgfd);
	return r;
}

/* The registrations of `vigil exec` live only in these maps: recreated, they are gone. */
static void report_recreated(struct contain *c)
{
	static const char *const confined[] = {"vgl_confined", "vgl_verdicts", "vgl_sc_state"};

	for (size_t i = 0; i < ARRAY_SIZE(confined); i++)
		if (strv_contains(&c->recreated, confined[i])) {
			const char *why =
			    "the maps of vigil exec were recreated: processes confined "
			    "before this start no longer report seccomp violations";

			log_error("%s", why);
			if (strv_push(&c->problems, why) < 0)
				log_error(
				    "out of memory: the problem above is not in vigil status");
			return;
		}
}

int contain_new(const struct vigil_config *cfg, const char *cgroup_root, struct contain **ret)
{
	struct contain *c = calloc(1, sizeof(*c));
	char err[512] = "";
	int r;

	if (!c)
		return -ENOMEM;
	snprintf(c->root, sizeof(c->root), "%s", cgroup_root);
	snprintf(c->pin_dir, sizeof(c->pin_dir), "%s", cfg->pin_dir);
	snprintf(c->parent, sizeof(c->parent), "/%s",
		 cfg->cgroup_parent + (cfg->cgroup_parent[0] == '/'));
	snprintf(c->state_path, sizeof(c->state_path), "%s/containments.json", cfg->state_dir);
	if (read_file("/proc/sys/kernel/random/boot_id", c->boot_id, sizeof(c->boot_id)) > 0)
		c->boot_id[strcspn(c->boot_id, "\n")] = 0;
	c->allow_lo = cfg->isolate_loopback;
	c->next_set = 1;
	r = cgroup_root[0] ? load_bpf(c, err, sizeof(err)) : -ENOENT;
	if (r < 0) {
		if (!err[0])
			snprintf(err, sizeof(err), "%s (%s)",
				 cgroup_root[0] ? "cannot load the containment programs"
						: "no cgroup v2",
				 strerror(-r));
		snprintf(c->status, sizeof(c->status), "unavailable: %s", err);
		log_warn("containment in the kernel %.160s", c->status);
		if (c->skel)
			vigil_contain__destroy(c->skel);
		c->skel = NULL;
	} else {
		snprintf(c->status, sizeof(c->status), "active");
		report_recreated(c);
	}
	if (cgroup_root[0])
		contain_load_state(c);
	for (unsigned i = 0; i < c->ncells; i++)
		if (contain_active(c) && (r = contain_sync_cell(c, c->cells[i])) < 0)
			contain_add_problem(c, c->cells[i],
					    "its isolation could not be put back (%s)",
					    strerror(-r));
	contain_flush(c); /* members as they are now, forgotten cells gone */
	*ret = c;
	return 0;
}

/* Everything in the pin dir is ours: links detach once unpinned and unopened. */
static void unpin_all(const struct contain *c)
{
	_cleanup_closedir_ DIR *d = opendir(c->pin_dir);
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	if (rmdir(c->pin_dir) < 0 && errno != ENOENT)
		log_warn_errno(-errno, "cannot remove %s", c->pin_dir);
}

/*
 * Nothing for the kernel to enforce while vigild is away: no cell, no egress
 * allowlist, nothing `vigil exec` confined. Pinned, the programs would stay
 * on every connect and sendmsg of the host for nothing.
 */
static bool holds_nothing(const struct contain *c)
{
	return contain_active(c) && !c->ncells && !c->negress && !confined_nonempty(c);
}

struct contain *contain_free(struct contain *c)
{
	bool unpin;

	if (!c)
		return NULL;
	contain_flush(c);
	unpin = holds_nothing(c);
	for (size_t i = 0; i < ARRAY_SIZE(c->links); i++)
		bpf_link__destroy(c->links[i]); /* closes our fd; the pin keeps it attached */
	vigil_contain__destroy(c->skel);
	if (unpin)
		unpin_all(c); /* the last fds are closed: the links detach, the maps go */
	for (unsigned i = 0; i < c->ncells; i++)
		cell_free(c->cells[i]);
	free(c->cells);
	free(c->egress);
	strv_clear(&c->problems);
	strv_clear(&c->recreated);
	free(c);
	return NULL;
}

int contain_teardown(struct contain *c)
{
	char err[512], path[PATH_MAX + 256];
	int failed = 0;

	/* from the end: a released cell is the last one, so removing it moves no other */
	for (unsigned n = c->ncells; n > 0; n--) {
		struct cell *cell = c->cells[n - 1];
		char id[sizeof(cell->id)];

		snprintf(id, sizeof(id), "%s", cell->id);
		err[0] = 0;
		if (contain_release(c, cell, err, sizeof(err)) < 0 || err[0]) {
			log_error("release %s: %s", id, err);
			failed++;
		} else {
			log_info("released %s", id);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(c->links); i++) {
		bpf_link__destroy(c->links[i]);
		c->links[i] = NULL;
	}
	vigil_contain__destroy(c->skel);
	c->skel = NULL;
	unpin_all(c);
	snprintf(path, sizeof(path), "%s%s", c->root, c->parent);
	if (c->root[0] && rmdir(path) < 0 && errno != ENOENT)
		log_warn_errno(-errno, "cannot remove the quarantine parent %s", path);
	if (failed) /* what could not be released stays on record for another try */
		return failed;
	c->dirty = false;
	if (unlink(c->state_path) < 0 && errno != ENOENT)
		log_warn_errno(-errno, "cannot remove %s", c->state_path);
	return 0;
}

/* ---- egress allowlists ---- */

static void clear_allow(struct contain *c)
{
	int fd = bpf_map__fd(c->skel->maps.vgl_allow);
	struct vgl_allow_key k, next;
	struct egress_cg *old = c->egress;
	unsigned nold = c->negress;

	while (bpf_map_get_next_key(fd, NULL, &next) == 0) {
		k = next;
		if (bpf_map_delete_elem(fd, &k) < 0)
			break;
	}
	c->egress = NULL;
	c->negress = 0;
	for (unsigned i = 0; i < nold; i++)
		contain_sync_cgroup(c, old[i].cgid);
	free(old);
}

int contain_allowlists(struct contain *c, const struct egress_allowlist *lists, unsigned n,
		       char *err, size_t errlen)
{
	int fd, r = 0;

	if (!contain_active(c))
		return n ? (snprintf(err, errlen, "egress allowlists: containment %s", c->status),
			    -ENOTSUP)
			 : 0;
	clear_allow(c);
	if (!n)
		return 0;
	fd = bpf_map__fd(c->skel->maps.vgl_allow);
	c->egress = calloc(n, sizeof(*c->egress));
	if (!c->egress)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		const struct egress_allowlist *e = &lists[i];
		char rel[512];
		uint64_t cgid;

		snprintf(rel, sizeof(rel), "%s%s", e->cgroup[0] == '/' ? "" : "/", e->cgroup);
		cgid = contain_cg_id(c, rel);
		if (!cgid) {
			snprintf(err, errlen, "egress allowlist '%s': no cgroup %s under %s",
				 e->name, rel, c->root);
			r = -ENOENT;
			continue;
		}
		for (unsigned j = 0; j < e->nallow; j++) {
			struct vgl_allow_key k;
			struct vgl_allow_val v;

			egress_trie_entry(e, j, i + 1, &k, &v);
			bpf_map_update_elem(fd, &k, &v, BPF_ANY);
		}
		c->egress[c->negress++] = (struct egress_cg){cgid, i + 1};
		contain_sync_cgroup(c, cgid);
		contain_sync_counts(c);
	}
	return r;
}
