// SPDX-License-Identifier: GPL-2.0
/*
 * watches.c — the watch maps the file probes filter by: extensions, model
 * dirs, files by inode, the path trie for name changes, GPU nodes and
 * majors, well-known names; staged then swapped on reload, pending paths
 * waited for with inotify, workload paths kept across reloads.
 */
#include <bpf/bpf.h>
#include <ctype.h>
#include <glob.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "sense/devices.h"
#include "core/log.h"
#include "sense/probes_internal.h"
#include "core/util.h"

/*
 * The filter maps a watch list fills. A reload fills scratch copies, then
 * adds what is new to the live maps before it removes what is stale: an
 * open of a file watched before and after a SIGHUP is never missed.
 */
struct watches {
	int fd[W_NR];		     /* the maps being filled */
	struct vigil_file__bss *bss; /* the live bitmaps: a bit is set before its entry is added */
	struct probes_info *count;   /* watched_* and gpu_majors */
	bool all_dirs;		     /* some dir watches (or awaits) the files directly in it */
	struct strv pending;	     /* configured paths not there yet */
	int ino_fd;		     /* inotify: where pending paths would appear (-1: none) */
	int wds[MAX_PENDING_DIRS];
	unsigned nwds;
	unsigned paths; /* entries in W_PATHS */
};

static int add_ext(struct watches *w, const char *ext, uint32_t kind)
{
	struct vgl_ext_key k = {};
	size_t n = strlen(ext);

	if (ext[0] == '.')
		ext++, n--;
	if (!n || n >= VGL_EXT_LEN)
		return log_warn(
		    "watch: extension \"%s\" is empty or longer than %d characters: ignored", ext,
		    VGL_EXT_LEN - 1);
	for (size_t i = 0; i < n; i++)
		k.ext[i] = tolower((unsigned char)ext[i]);
	watch_bit(w->bss, W_EXTS, &k, kind);
	return bpf_map_update_elem(w->fd[W_EXTS], &k, &kind, BPF_ANY);
}

typedef void (*glob_fn)(struct watches *w, const char *path, const struct stat *st, uint32_t arg);

/*
 * `want` is configured but missing; `dir`, its nearest existing ancestor,
 * is where it will appear. inotify sees a directory made there (mkdir opens
 * nothing); where `want` is directly in `dir`, VGL_DIR_PENDING makes the
 * kernel report the open that creates it, so that first write is not lost.
 */
static void add_pending(struct watches *w, const char *want, const char *dir, bool file_here)
{
	struct vgl_inode_key k = {};
	struct stat st;
	uint32_t v = 0;
	int wd;

	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || strv_contains(&w->pending, want) ||
	    strv_push(&w->pending, want) < 0)
		return;
	wd = w->ino_fd < 0
		 ? -1
		 : inotify_add_watch(w->ino_fd, dir, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
	if (wd >= 0 && w->nwds < MAX_PENDING_DIRS)
		w->wds[w->nwds++] = wd;
	if (!file_here)
		return;
	k = (struct vgl_inode_key){.ino = st.st_ino, .dev = kernel_dev(st.st_dev)};
	bpf_map_lookup_elem(w->fd[W_DIRS], &k, &v);
	v |= VGL_DIR_PENDING;
	watch_bit(w->bss, W_DIRS, &k, v);
	if (bpf_map_update_elem(w->fd[W_DIRS], &k, &v, BPF_ANY) == 0)
		w->all_dirs = true;
}

/*
 * Where does a pattern with no match wait? Its parent pattern is expanded
 * (/home/STAR/.ssh: each home); a parent that is missing too is looked for one
 * level up, so `want` stays the whole path under the nearest existing dir.
 * Only a literal last component can be awaited.
 */
static void find_pending(struct watches *w, const char *pattern, const char *rest, int depth)
{
	char parent[PATH_MAX], want[PATH_MAX];
	const char *slash = strrchr(pattern, '/');
	struct stat st;
	glob_t g;

	if (!slash || slash == pattern || depth > 8 || strpbrk(slash, "*?[") ||
	    (size_t)(slash - pattern) >= sizeof(parent))
		return;
	memcpy(parent, pattern, slash - pattern);
	parent[slash - pattern] = 0;
	if (glob(parent, GLOB_NOSORT | GLOB_ONLYDIR, NULL, &g) != 0) {
		snprintf(want, sizeof(want), "%s%s", slash, rest);
		find_pending(w, parent, want, depth + 1);
		return;
	}
	for (size_t i = 0; i < g.gl_pathc; i++) {
		if (snprintf(want, sizeof(want), "%s%s%s", g.gl_pathv[i], slash, rest) >=
		    (int)sizeof(want))
			continue;
		if (stat(want, &st) < 0)
			add_pending(w, want, g.gl_pathv[i], !rest[0]);
	}
	globfree(&g);
}

static void for_each_glob(struct watches *w, const struct strv *globs, glob_fn fn, uint32_t arg)
{
	for (unsigned i = 0; i < globs->n; i++) {
		glob_t g;

		find_pending(w, globs->v[i], "", 0); /* also the homes lacking it */
		if (glob(globs->v[i], GLOB_NOSORT, NULL, &g) != 0)
			continue; /* nothing there yet: pending */
		for (size_t j = 0; j < g.gl_pathc; j++) {
			struct stat st;

			if (stat(g.gl_pathv[j], &st) == 0)
				fn(w, g.gl_pathv[j], &st, arg);
		}
		globfree(&g);
	}
}

static void watch_dir(struct watches *w, const char *path, const struct stat *st, uint32_t flag)
{
	struct vgl_inode_key k = {.ino = st->st_ino, .dev = kernel_dev(st->st_dev)};
	uint32_t v = 0;

	if (!S_ISDIR(st->st_mode))
		return;
	bpf_map_lookup_elem(w->fd[W_DIRS], &k, &v);
	v |= flag;
	watch_bit(w->bss, W_DIRS, &k, v);
	if (bpf_map_update_elem(w->fd[W_DIRS], &k, &v, BPF_ANY) == 0) {
		w->count->watched_dirs++;
		if (flag == VGL_DIR_ALL)
			w->all_dirs = true;
	}
}

/* path as a W_PATHS entry: "path\0" exactly, or with prefix "path/" everything under it. */
static void add_path_key(struct watches *w, const char *path, bool under, uint32_t kind)
{
	struct vgl_path_key k = {};
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n + 1 > VGL_PATH_KEY)
		n = VGL_PATH_KEY - 1; /* matched by its first bytes: more is reported, not less */
	memcpy(k.path, path, n);
	if (under && n > 1)
		k.path[n] = '/';
	k.prefixlen = (n + 1) * 8;
	if (bpf_map_update_elem(w->fd[W_PATHS], &k, &kind, BPF_ANY) == 0)
		w->paths++;
}

/* A path by its name and, where links lead elsewhere, by where they lead. */
static void watch_path(struct watches *w, const char *path, bool dir, uint32_t kind)
{
	char real[PATH_MAX];

	add_path_key(w, path, false, kind);
	if (dir)
		add_path_key(w, path, true, kind);
	if (realpath(path, real) && strcmp(real, path))
		watch_path(w, real, dir, kind);
}

/* Plain names changed in this directory are looked up by path (the file may be gone by then). */
static void mark_parent(struct watches *w, const struct stat *st)
{
	struct vgl_inode_key k = {.ino = st->st_ino, .dev = kernel_dev(st->st_dev)};
	uint32_t v = 0;

	bpf_map_lookup_elem(w->fd[W_DIRS], &k, &v);
	v |= VGL_DIR_PARENT;
	watch_bit(w->bss, W_DIRS, &k, v);
	bpf_map_update_elem(w->fd[W_DIRS], &k, &v, BPF_ANY);
}

static void watch_parent(struct watches *w, const char *path)
{
	char dir[PATH_MAX];
	struct stat st;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir) || !strrchr(dir, '/'))
		return;
	*strrchr(dir, '/') = 0;
	if (stat(dir[0] ? dir : "/", &st) == 0)
		mark_parent(w, &st);
}

#define SUBDIR_DEPTH 3	 /* /etc/systemd/system/multi-user.target.wants is 1 */
#define SUBDIRS_MAX  512 /* per watched directory */

/*
 * Subdirectories of a watched directory, as they are now: a plain name
 * changed in one (from its cwd or a dirfd) is looked up by path. Absolute
 * names need none of this: the path trie matches everything under.
 */
static void mark_subdirs(struct watches *w, const char *path, int depth, unsigned *left)
{
	DIR *d = depth < SUBDIR_DEPTH ? opendir(path) : NULL;
	struct dirent *de;

	while (d && (de = readdir(d)) && *left) {
		char sub[PATH_MAX];
		struct stat st;

		if ((de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) ||
		    !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= (int)sizeof(sub) ||
		    lstat(sub, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		mark_parent(w, &st);
		(*left)--;
		mark_subdirs(w, sub, depth + 1, left);
	}
	if (d)
		closedir(d);
}

static void watch_file(struct watches *w, const char *path, const struct stat *st, uint32_t kind)
{
	struct vgl_inode_key k = {.ino = st->st_ino, .dev = kernel_dev(st->st_dev)};

	watch_path(w, path, S_ISDIR(st->st_mode), kind);
	if (S_ISDIR(st->st_mode)) {
		unsigned left = SUBDIRS_MAX;

		watch_dir(w, path, st, VGL_DIR_ALL);
		mark_subdirs(w, path, 0, &left);
		return;
	}
	watch_parent(w, path);
	watch_bit(w->bss, W_FILES, &k, kind);
	if (bpf_map_update_elem(w->fd[W_FILES], &k, &kind, BPF_ANY) == 0)
		w->count->watched_files++;
}

/*
 * A watched path that is not there yet (/etc/ld.so.preload usually is not):
 * by path only, file or directory, so the rename or link that creates it is
 * seen. Globs that match nothing stay unwatched.
 */
static void watch_absent(struct watches *w, const char *pattern, uint32_t kind)
{
	struct stat st;

	if (strpbrk(pattern, "*?[") || stat(pattern, &st) == 0)
		return;
	watch_path(w, pattern, true, kind);
	watch_parent(w, pattern);
}

static void watch_files(struct watches *w, const struct strv *globs, uint32_t kind)
{
	for_each_glob(w, globs, watch_file, kind);
	for (unsigned i = 0; i < globs->n; i++)
		watch_absent(w, globs->v[i], kind);
}

uint32_t probes_path_kind(const struct probes *p, const char *path)
{
	struct vgl_path_key k = {};
	size_t n = strlen(path) + 1;
	uint32_t kind = 0;

	if (n > VGL_PATH_KEY)
		n = VGL_PATH_KEY;
	memcpy(k.path, path, n);
	k.prefixlen = n * 8;
	if (bpf_map_lookup_elem(bpf_map__fd(p->file->maps.watch_paths), &k, &kind) < 0)
		return 0;
	return kind;
}

/* Watch minors >= min_minor of a GPU driver's major (the lowest seen wins); true if new. */
static bool add_major(struct watches *w, uint32_t maj, uint32_t min_minor)
{
	struct vgl_major_val v = {.min_minor = min_minor, .kind = VGL_KIND_GPU}, old;
	int fd = w->fd[W_MAJORS];

	watch_bit(w->bss, W_MAJORS, &maj, 0);
	if (bpf_map_lookup_elem(fd, &maj, &old) == 0) {
		if (old.min_minor > min_minor)
			bpf_map_update_elem(fd, &maj, &v, BPF_EXIST);
		return false;
	}
	if (bpf_map_update_elem(fd, &maj, &v, BPF_NOEXIST) < 0)
		return false;
	w->count->gpu_majors++;
	return true;
}

static void watch_gpu_drivers(struct watches *w)
{
	char text[16384];
	struct gpu_major m[16];
	unsigned n;

	if (read_file("/proc/devices", text, sizeof(text)) <= 0)
		return;
	n = gpu_majors_parse(text, m, ARRAY_SIZE(m));
	for (unsigned i = 0; i < n; i++)
		if (add_major(w, m[i].major, 0))
			log_info("watching GPU driver %s (major %u)", m[i].driver, m[i].major);
}

static void live_watches(struct probes *p, struct watches *w)
{
	struct vigil_file *f = p->file;

	*w = (struct watches){.fd = {bpf_map__fd(f->maps.exts), bpf_map__fd(f->maps.dirs),
				     bpf_map__fd(f->maps.files), bpf_map__fd(f->maps.majors),
				     bpf_map__fd(f->maps.gpu_nodes),
				     bpf_map__fd(f->maps.watch_paths)},
			      .bss = f->bss,
			      .count = &p->info,
			      .ino_fd = -1};
}

void probes_watch_gpu_drivers(struct probes *p)
{
	struct watches w;

	if (!p->watch_gpus)
		return;
	live_watches(p, &w);
	watch_gpu_drivers(&w);
}

/*
 * A configured node is watched by its own number only: its major may be
 * another driver's (1:7, /dev/full), whose other nodes are no GPUs. The
 * drivers' own majors come from add_major.
 */
static void watch_gpu(struct watches *w, const char *path, const struct stat *st, uint32_t unused)
{
	uint32_t rdev = kernel_dev(st->st_rdev), kind = VGL_KIND_GPU;

	if (!S_ISCHR(st->st_mode))
		return;
	watch_bit(w->bss, W_NODES, &rdev, kind);
	bpf_map_update_elem(w->fd[W_NODES], &rdev, &kind, BPF_ANY);
}

/*
 * Names that matter wherever they are: a user's new ~/.ssh, a container's
 * own /etc, a home directory that did not exist at start. Persistence files
 * by name; another process's /proc/PID/environ (API keys), mem and maps (its
 * memory and layout). cmdline, status and stat are left out: ps and top read
 * them for every process.
 */
static const char *const persist_names[] = {
    "authorized_keys", "authorized_keys2", "crontab",  ".bashrc",   ".bash_profile",
    ".bash_login",     ".profile",	   ".zshrc",   ".zprofile", ".zshenv",
    ".zlogin",	       "ld.so.preload",	   "rc.local", "sudoers"};
static const char *const proc_secret_names[] = {"environ", "mem", "maps"};

static void add_name(struct vigil_file *f, const char *name, uint32_t kind)
{
	struct vgl_name_key k = {};
	size_t n = strlen(name);
	unsigned h = VGL_NAME_HASH(n, name[0], name[n - 1]);

	memcpy(k.name, name, n < sizeof(k.name) ? n : sizeof(k.name));
	if (bpf_map_update_elem(bpf_map__fd(f->maps.names), &k, &kind, BPF_ANY) < 0) {
		log_warn_errno(-errno, "watch: name %s not added", name);
		return;
	}
	name_bit(f->bss, h); /* after the entry: never a bit without one */
}

/* The fixed list: filled once at load, a reload does not change it. */
void probes_watch_names(struct vigil_file *f)
{
	for (size_t i = 0; i < ARRAY_SIZE(persist_names); i++)
		add_name(f, persist_names[i], VGL_KIND_PERSIST);
	for (size_t i = 0; i < ARRAY_SIZE(proc_secret_names); i++)
		add_name(f, proc_secret_names[i], VGL_KIND_PROC_SECRET);
}

static void fill_watches(struct watches *w, const struct vigil_config *cfg)
{
	add_ext(w, "service", VGL_KIND_UNIT); /* systemd units: only in a unit dir (in_unit_dir) */
	add_ext(w, "timer", VGL_KIND_UNIT);
	for (unsigned i = 0; i < cfg->model_extensions.n; i++) {
		const char *x = cfg->model_extensions.v[i];

		if (add_ext(w, x, strcmp(x, "pth") ? VGL_KIND_MODEL : VGL_KIND_MODEL_PTH) == 0)
			w->count->watched_exts++;
	}
	for (unsigned i = 0; i < cfg->ambiguous_extensions.n; i++)
		if (add_ext(w, cfg->ambiguous_extensions.v[i], VGL_KIND_MODEL_AMBIGUOUS) == 0)
			w->count->watched_exts++;
	for_each_glob(w, &cfg->model_dirs, watch_dir, VGL_DIR_AMBIGUOUS);
	watch_files(w, &cfg->credential_files, VGL_KIND_CREDENTIAL);
	watch_files(w, &cfg->watch_paths, VGL_KIND_CONFIG);
	if (cfg->gpu_devices.n) {
		add_major(w, 195, 0);	/* NVIDIA, even before the driver creates nodes */
		add_major(w, 226, 128); /* DRM render nodes */
		for_each_glob(w, &cfg->gpu_devices, watch_gpu, 0);
		watch_gpu_drivers(w); /* dynamic majors, nodes or not */
	}
}

static void fill_extras(struct watches *w, const struct probes *p)
{
	for (unsigned i = 0; i < p->nextras; i++) {
		const struct extra *x = &p->extras[i];
		struct stat st;

		if (stat(x->path, &st) < 0)
			continue; /* gone meanwhile: its owner gives it back */
		if (x->dir)
			watch_dir(w, x->path, &st, VGL_DIR_AMBIGUOUS);
		else if (S_ISREG(st.st_mode))
			watch_file(w, x->path, &st, x->kind);
	}
}

#define KEY_MAX sizeof(struct vgl_path_key) /* the largest key of the watch maps */

/* Scratch maps shaped like the live ones (fds -1 where creation failed). */
static int stage_open(struct probes *p, struct watches *stage, struct probes_info *count)
{
	struct watches live;

	live_watches(p, &live);
	*stage = (struct watches){.bss = p->file->bss, .count = count, .ino_fd = -1};
	for (int i = 0; i < W_NR; i++)
		stage->fd[i] = -1; /* stage_close skips what was not created */
	for (int i = 0; i < W_NR; i++) {
		struct bpf_map_info mi = {};
		uint32_t len = sizeof(mi);
		LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);

		if (bpf_obj_get_info_by_fd(live.fd[i], &mi, &len) < 0)
			return -errno;
		if (mi.key_size > KEY_MAX)
			return -E2BIG;
		stage->fd[i] = bpf_map_create(BPF_MAP_TYPE_HASH, "vgl_stage", mi.key_size,
					      mi.value_size, mi.max_entries, &o);
		if (stage->fd[i] < 0)
			return stage->fd[i];
	}
	return 0;
}

static void stage_close(struct watches *stage)
{
	for (int i = 0; i < W_NR; i++)
		if (stage->fd[i] >= 0)
			close(stage->fd[i]);
	strv_clear(&stage->pending);
}

/* live := stage, adding and updating first, then deleting what stage lacks. */
static void sync_map(int live, int stage)
{
	char key[KEY_MAX], next[KEY_MAX], val[KEY_MAX], *stale = NULL;
	size_t nstale = 0, ksz;
	struct bpf_map_info mi = {};
	uint32_t len = sizeof(mi);

	if (bpf_obj_get_info_by_fd(live, &mi, &len) < 0 || mi.value_size > sizeof(val))
		return;
	ksz = mi.key_size;
	for (void *prev = NULL; bpf_map_get_next_key(stage, prev, next) == 0; prev = key) {
		memcpy(key, next, ksz);
		if (bpf_map_lookup_elem(stage, key, val) == 0)
			bpf_map_update_elem(live, key, val, BPF_ANY);
	}
	stale = malloc((size_t)mi.max_entries * ksz);
	for (void *prev = NULL; stale && bpf_map_get_next_key(live, prev, next) == 0; prev = key) {
		memcpy(key, next, ksz);
		if (bpf_map_lookup_elem(stage, key, val) < 0)
			memcpy(stale + nstale++ * ksz, key, ksz);
	}
	for (size_t i = 0; i < nstale; i++)
		bpf_map_delete_elem(live, stale + i * ksz);
	free(stale);
}

/* Keep the new pending list; what was pending and is there now is `promoted`. */
static void swap_pending(struct probes *p, struct watches *stage)
{
	struct stat st;

	strv_clear(&p->promoted);
	for (unsigned i = 0; i < p->pending.n; i++)
		if (!strv_contains(&stage->pending, p->pending.v[i]) &&
		    stat(p->pending.v[i], &st) == 0)
			strv_push(&p->promoted, p->pending.v[i]);
	for (unsigned i = 0; i < p->nwds; i++) {
		bool kept = false;

		for (unsigned j = 0; j < stage->nwds && !kept; j++)
			kept = stage->wds[j] == p->wds[i];
		if (!kept)
			inotify_rm_watch(p->ino_fd, p->wds[i]);
	}
	memcpy(p->wds, stage->wds, sizeof(p->wds));
	p->nwds = stage->nwds;
	strv_clear(&p->pending);
	p->pending = stage->pending;
	stage->pending = (struct strv){0};
	p->info.watched_pending = p->pending.n;
}

int probes_load_watches(struct probes *p, const struct vigil_config *cfg)
{
	struct probes_info count = {};
	struct watches stage, live;
	struct vigil_file *f = p->file;
	int r = stage_open(p, &stage, &count);

	stage.ino_fd = p->ino_fd;
	if (r < 0) {
		stage_close(&stage);
		return log_error_errno(r, "cannot stage the watch lists: keeping the current ones");
	}
	fill_watches(&stage, cfg);
	fill_extras(&stage, p);
	p->cfg = cfg;
	live_watches(p, &live);
	/* the gates open before entries appear and close only after they are gone */
	if (count.watched_files)
		f->bss->gates.nr_files = count.watched_files;
	if (stage.all_dirs)
		f->bss->gates.have_all_dirs = 1;
	if (stage.paths)
		f->bss->nr_paths = stage.paths;
	for (int i = 0; i < W_NR; i++)
		sync_map(live.fd[i], stage.fd[i]);
	f->bss->gates.nr_files = count.watched_files;
	f->bss->gates.have_all_dirs = stage.all_dirs;
	swap_pending(p, &stage);
	f->bss->nr_paths = stage.paths;
	stage_close(&stage);
	probes_rebuild_bits(p);
	p->watch_gpus = cfg->gpu_devices.n > 0;
	p->info.watched_exts = count.watched_exts;
	p->info.watched_dirs = count.watched_dirs;
	p->info.watched_files = count.watched_files;
	p->info.gpu_majors = count.gpu_majors;
	return 0;
}

int probes_extra_add(struct probes *p, const char *path, bool dir, uint32_t kind)
{
	struct extra *x = &p->extras[p->nextras];
	struct watches w;
	struct stat st;

	if (p->nextras == EXTRA_MAX)
		return -ENOSPC;
	if (stat(path, &st) < 0)
		return -errno;
	if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
		return -EINVAL;
	x->path = strdup(path);
	if (!x->path)
		return -ENOMEM;
	x->dir = dir;
	x->kind = kind;
	p->nextras++;
	live_watches(p, &w);
	if (dir) {
		watch_dir(&w, path, &st, VGL_DIR_AMBIGUOUS);
	} else {
		watch_file(&w, path, &st, kind);
		p->file->bss->gates.nr_files = p->info.watched_files; /* the gate opens with it */
	}
	return 0;
}

int probes_extra_del(struct probes *p, const char *path)
{
	for (unsigned i = 0; i < p->nextras; i++) {
		if (strcmp(p->extras[i].path, path))
			continue;
		free(p->extras[i].path);
		p->extras[i] = p->extras[--p->nextras];
		/* a restage: what config also watches (or another extra's inode) stays */
		return probes_load_watches(p, p->cfg);
	}
	return -ENOENT;
}

int probes_pending_fd(const struct probes *p)
{
	return p->ino_fd;
}

bool probes_pending_changed(struct probes *p)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool any = false;

	while (p->ino_fd >= 0 && read(p->ino_fd, buf, sizeof(buf)) > 0)
		any = true;
	return any;
}

bool probes_awaits(const struct probes *p, const char *path, size_t n)
{
	for (unsigned i = 0; i < p->pending.n; i++)
		if (strlen(p->pending.v[i]) == n && !memcmp(p->pending.v[i], path, n))
			return true;
	return false;
}

const struct strv *probes_promoted(const struct probes *p)
{
	return &p->promoted;
}

uint32_t probes_watched_kind(struct probes *p, uint64_t ino, uint32_t dev, const char *path)
{
	struct vgl_inode_key k = {.ino = ino, .dev = dev};
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	uint32_t v = 0;
	struct stat st;

	if (bpf_map_lookup_elem(bpf_map__fd(p->file->maps.files), &k, &v) == 0)
		return v;
	if (!slash || (size_t)(slash - path) >= sizeof(dir))
		return 0;
	memcpy(dir, path, slash - path);
	dir[slash - path] = 0;
	if (stat(dir[0] ? dir : "/", &st) < 0)
		return 0;
	k = (struct vgl_inode_key){.ino = st.st_ino, .dev = kernel_dev(st.st_dev)};
	v = 0;
	bpf_map_lookup_elem(bpf_map__fd(p->file->maps.dirs), &k, &v);
	return v & VGL_DIR_ALL ? VGL_KIND_CONFIG : 0;
}
