// SPDX-License-Identifier: GPL-2.0
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "contain.skel.h"
#include "vigil/abi.h"
#include "confine/contain.h"
#include "confine/contain_internal.h"
#include "core/fileio.h"
#include "core/log.h"
#include "confine/sockdiag.h"
#include "core/util.h"

#define FREEZE_WAIT_MS 1000

bool contain_active(const struct contain *c)
{
	return c->skel != NULL;
}

const char *contain_status(const struct contain *c)
{
	return c->status;
}

void contain_map_fds(const struct contain *c, int fds[CONTAIN_SHARED_MAPS])
{
	fds[0] = contain_active(c) ? bpf_map__fd(c->skel->maps.vgl_cells) : -1;
	fds[1] = contain_active(c) ? bpf_map__fd(c->skel->maps.vgl_deny) : -1;
	fds[2] = contain_active(c) ? bpf_map__fd(c->skel->maps.vgl_cstate) : -1;
	fds[3] = contain_active(c) ? bpf_map__fd(c->skel->maps.vgl_tasks) : -1;
	fds[4] = contain_active(c) ? bpf_map__fd(c->skel->maps.vgl_confined) : -1;
	fds[5] = contain_active(c) ? bpf_map__fd(c->skel->maps.vgl_verdicts) : -1;
	fds[6] = contain_active(c) ? bpf_map__fd(c->skel->maps.vgl_sc_state) : -1;
}

/* ---- cgroup files ---- */

static void cg_file(const struct contain *c, const char *cg, const char *name, char *out,
		    size_t len)
{
	size_t n = strlen(cg);

	snprintf(out, len, "%s%s%s%s", c->root, cg, n && cg[n - 1] == '/' ? "" : "/", name);
}

static int cg_write(const struct contain *c, const char *cg, const char *name, const char *v)
{
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;

	cg_file(c, cg, name, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return write(fd, v, strlen(v)) < 0 ? -errno : 0;
}

uint64_t contain_cg_id(const struct contain *c, const char *cg)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s", c->root, cg);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? st.st_ino : 0;
}

/* pid's cgroup v2 path ("0::/x/y" in /proc/PID/cgroup). */
static int pid_cgroup(pid_t pid, char *out, size_t len)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -ESRCH;
	p = strstr(buf, "0::");
	if (!p || (p != buf && p[-1] != '\n'))
		return -ENOENT;
	p += 3;
	p[strcspn(p, "\n")] = 0;
	if (strlen(p) >= len)
		return -ENAMETOOLONG;
	memcpy(out, p, strlen(p) + 1);
	return 0;
}

/* The pids in cgroup cg (not its children). */
static int cg_procs(const struct contain *c, const char *cg, struct proc_tree *out)
{
	char path[PATH_MAX], line[32];
	_cleanup_fclose_ FILE *f = NULL;
	unsigned cap = 0;

	memset(out, 0, sizeof(*out));
	cg_file(c, cg, "cgroup.procs", path, sizeof(path));
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (out->n == cap) {
			pid_t *n = realloc(out->pids, (cap = cap ? cap * 2 : 64) * sizeof(pid_t));

			if (!n)
				return -ENOMEM;
			out->pids = n;
		}
		out->pids[out->n++] = atoi(line);
	}
	return 0;
}

/* ---- the kernel's view of cells ---- */

uint64_t cell_key(const struct cell *cell)
{
	return cell->set ? VGL_TASKSET_BIT | cell->set : cell->cgid;
}

void contain_sync_counts(struct contain *c)
{
	uint32_t n[VGL_CSTATE_NR] = {[VGL_CSTATE_CELLS] = c->negress}, k = VGL_CSTATE_DENY, was = 0;
	int fd;

	if (!contain_active(c))
		return;
	for (unsigned i = 0; i < c->ncells; i++) {
		n[c->cells[i]->set ? VGL_CSTATE_TASKS : VGL_CSTATE_CELLS]++;
		n[VGL_CSTATE_DENY] += c->cells[i]->denied.n;
	}
	fd = bpf_map__fd(c->skel->maps.vgl_cstate);
	bpf_map_lookup_elem(fd, &k, &was);
	for (k = 0; k < VGL_CSTATE_NR; k++)
		bpf_map_update_elem(fd, &k, &n[k], BPF_ANY);
	/* the last deny gone, the gate is shut: its bitmap starts over */
	for (k = VGL_CSTATE_DENY_BITS; was && !n[VGL_CSTATE_DENY] && k < VGL_CSTATE_SIZE; k++)
		bpf_map_update_elem(fd, &k, &n[VGL_CSTATE_DENY], BPF_ANY);
}

struct vgl_cell cell_value(const struct contain *c, const struct cell *cell)
{
	struct vgl_cell v = {.id = cell_key(cell)};

	if (cell->isolated)
		v.flags |= VGL_CELL_ISOLATE | (c->allow_lo ? VGL_CELL_ALLOW_LO : 0);
	return v;
}

/* The members of a process set (tgids in vgl_tasks with its id), malloc'd. */
int contain_set_members(const struct contain *c, const struct cell *cell, struct proc_tree *out)
{
	int fd = bpf_map__fd(c->skel->maps.vgl_tasks);
	uint64_t id = cell_key(cell);
	uint32_t key, next, *pk = NULL;
	struct vgl_cell v;

	memset(out, 0, sizeof(*out));
	out->pids = malloc(VGL_TASKS_MAX * sizeof(pid_t));
	if (!out->pids)
		return -ENOMEM;
	while (bpf_map_get_next_key(fd, pk, &next) == 0) {
		key = next;
		pk = &key;
		if (bpf_map_lookup_elem(fd, &key, &v) == 0 && v.id == id && out->n < VGL_TASKS_MAX)
			out->pids[out->n++] = key;
	}
	return 0;
}

/*
 * Write a process set's value to every member. A member forking meanwhile
 * hands its child the value it had, so repeat until a pass changes nothing.
 */
static int sync_set(struct contain *c, const struct cell *cell)
{
	int fd = bpf_map__fd(c->skel->maps.vgl_tasks);
	struct vgl_cell want = cell_value(c, cell);

	for (int pass = 0; pass < 4; pass++) {
		struct proc_tree t;
		bool changed = false;

		if (contain_set_members(c, cell, &t) < 0)
			return -ENOMEM;
		for (unsigned i = 0; i < t.n; i++) {
			uint32_t k = t.pids[i];
			struct vgl_cell v;

			if (bpf_map_lookup_elem(fd, &k, &v) == 0 && memcmp(&v, &want, sizeof(v))) {
				bpf_map_update_elem(fd, &k, &want, BPF_EXIST);
				changed = true;
			}
		}
		proc_tree_free(&t);
		if (!changed)
			break;
	}
	return 0;
}

/* The vgl_cells entry for cgid: what its cell and any allowlist ask for. */
int contain_sync_cgroup(struct contain *c, uint64_t cgid)
{
	struct vgl_cell v = {.id = cgid};
	bool any = false;
	int fd = bpf_map__fd(c->skel->maps.vgl_cells);

	for (unsigned i = 0; i < c->ncells; i++)
		if (!c->cells[i]->set && c->cells[i]->cgid == cgid) {
			any = true;
			v.flags |= cell_value(c, c->cells[i]).flags;
		}
	for (unsigned i = 0; i < c->negress; i++)
		if (c->egress[i].cgid == cgid) {
			any = true;
			v.flags |= VGL_CELL_ALLOWLIST;
			v.policy = c->egress[i].policy;
		}
	if (!any)
		return bpf_map_delete_elem(fd, &cgid) < 0 && errno != ENOENT ? -errno : 0;
	return bpf_map_update_elem(fd, &cgid, &v, BPF_ANY) < 0 ? -errno : 0;
}

/* Make the kernel's state for cell what the cell says. */
int contain_sync_cell(struct contain *c, const struct cell *cell)
{
	int r;

	if (!contain_active(c))
		return -ENOTSUP;
	r = cell->set ? sync_set(c, cell) : contain_sync_cgroup(c, cell->cgid);
	contain_sync_counts(c);
	return r;
}

/* ---- cells ---- */

/* A --cgroup argument (absolute under the mount, or relative to it) as "/a/b". */
static void cg_normalize(const struct contain *c, const char *path, char *out, size_t len)
{
	size_t rl = strlen(c->root), n;

	if (rl && !strncmp(path, c->root, rl) && (path[rl] == '/' || !path[rl]))
		path += rl;
	snprintf(out, len, "%s%s", path[0] == '/' ? "" : "/", path);
	while ((n = strlen(out)) > 1 && out[n - 1] == '/')
		out[n - 1] = 0;
}

struct cell *contain_find(struct contain *c, pid_t pid, const char *cgroup)
{
	struct vgl_cell v = {0};
	uint32_t k = pid;
	uint64_t now = 0; /* the start of what runs as pid now; 0: nothing */
	char cg[512] = "", want[512];

	if (cgroup)
		cg_normalize(c, cgroup, want, sizeof(want));
	if (pid > 0) {
		proc_start_ticks(pid, &now);
		pid_cgroup(pid, cg, sizeof(cg));
		if (contain_active(c))
			bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.vgl_tasks), &k, &v);
	}
	for (unsigned i = 0; i < c->ncells; i++) {
		struct cell *cell = c->cells[i];

		bool target = cell->target == pid && (!now || cell->target_start == now);

		if (pid > 0 && (target || (v.id && v.id == cell_key(cell)) ||
				(cg[0] && cell->path[0] && !strcmp(cg, cell->path))))
			return cell;
		if (cgroup && cell->path[0] && !strcmp(want, cell->path))
			return cell;
	}
	return NULL;
}

/* Does cg hold anything besides the tree t? */
static bool cg_shared(const struct contain *c, const char *cg, const struct proc_tree *t)
{
	struct proc_tree in;
	bool shared = false;

	if (!strcmp(cg, "/") || cg_procs(c, cg, &in) < 0)
		return true;
	for (unsigned i = 0; i < in.n && !shared; i++)
		shared = !proc_tree_has(t, in.pids[i]);
	proc_tree_free(&in);
	return shared;
}

static int move_into(const struct contain *c, const char *cg, const struct proc_tree *t)
{
	char pid[16];
	int r = 0;

	for (unsigned i = 0; i < t->n; i++) {
		snprintf(pid, sizeof(pid), "%d", t->pids[i]);
		int w = cg_write(c, cg, "cgroup.procs", pid);

		if (w < 0 && w != -ESRCH && !r)
			r = w;
	}
	return r;
}

static int make_quarantine(struct contain *c, pid_t pid, char *path, size_t len)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s%s", c->root, c->parent);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	snprintf(path, len, "%s/cell-%d-%u", c->parent, pid, ++c->seq);
	snprintf(dir, sizeof(dir), "%s%s", c->root, path);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static struct cell *new_cell(struct contain *c, const char *id, const char *path,
			     const char *origin, pid_t target)
{
	struct cell *cell = contain_add_cell(c);

	if (!cell)
		return NULL;
	snprintf(cell->id, sizeof(cell->id), "%s", id);
	snprintf(cell->path, sizeof(cell->path), "%s", path);
	snprintf(cell->origin, sizeof(cell->origin), "%s", origin ? origin : "");
	cell->moved = origin != NULL;
	cell->target = target;
	cell->cgid = path[0] ? contain_cg_id(c, path) : 0;
	snprintf(cell->boot_id, sizeof(cell->boot_id), "%s", c->boot_id);
	return cell;
}

/*
 * A process set for pid's tree: the members are stopped while they join, so
 * none forks past us; from then on the kernel adds their children itself.
 */
struct cell *contain_cell_for_pid(struct contain *c, const struct guard *g, pid_t pid,
				  uint64_t start, bool tree, const struct proc_tree *hint,
				  char *err, size_t errlen)
{
	struct cell *cell = contain_find(c, pid, NULL);
	struct proc_tree t;
	struct vgl_cell v;
	char id[48];
	int r;

	if (cell)
		return cell;
	if (!contain_active(c)) {
		snprintf(err, errlen, "containment in the kernel %.160s", c->status);
		return NULL;
	}
	if (guard_check(g, pid, err, errlen) < 0)
		return NULL;
	if ((r = proc_tree_stop(g, pid, start, tree, hint, &t)) < 0) {
		if (r == -ESTALE)
			pid_reused_error(pid, NULL, err, errlen);
		else
			snprintf(err, errlen, "process %d: no such process", pid);
		return NULL;
	}
	snprintf(id, sizeof(id), "pid-%d", pid);
	cell = new_cell(c, id, "", NULL, pid);
	if (cell) {
		cell->target_start = t.starts[0];
		cell->set = c->next_set++;
		v = cell_value(c, cell);
		contain_follow_sets(c); /* the members are stopped: none forks before this */
		for (unsigned i = 0; i < t.n; i++) {
			uint32_t k = t.pids[i];

			bpf_map_update_elem(bpf_map__fd(c->skel->maps.vgl_tasks), &k, &v, BPF_ANY);
		}
		cell_record_tree(cell, &t); /* on record at once, not at the next tick */
		contain_sync_counts(c);
		contain_save(c);
	} else {
		snprintf(err, errlen, "out of memory");
	}
	proc_tree_cont(&t);
	proc_tree_free(&t);
	return cell;
}

/*
 * The freezer needs a cgroup holding exactly the set: the target's own when
 * nothing else lives there, else a quarantine cgroup the members move into
 * (stopped meanwhile; the kernel's cgroup migration is the slow part).
 */
static int give_cgroup(struct contain *c, struct cell *cell, char *err, size_t errlen)
{
	char cg[512], qpath[512];
	struct proc_tree t;
	int r;

	if (cell->path[0])
		return 0;
	r = contain_set_members(c, cell, &t);
	if (r == 0 && !t.n)
		r = -ESRCH;
	if (r == 0)
		r = pid_cgroup(t.pids[0], cg, sizeof(cg));
	if (r < 0) {
		snprintf(err, errlen, "%s: no processes left to freeze", cell->id);
		proc_tree_free(&t);
		return r;
	}
	for (unsigned i = 0; i < t.n; i++)
		kill(t.pids[i], SIGSTOP);
	if (!cg_shared(c, cg, &t)) {
		snprintf(cell->path, sizeof(cell->path), "%s", cg);
	} else if ((r = make_quarantine(c, cell->target, qpath, sizeof(qpath))) < 0 ||
		   (r = move_into(c, qpath, &t)) < 0) {
		snprintf(err, errlen, "cannot move %s into a quarantine cgroup: %s", cell->id,
			 strerror(-r));
	} else {
		snprintf(cell->path, sizeof(cell->path), "%s", qpath);
		snprintf(cell->origin, sizeof(cell->origin), "%s", cg);
		cell->moved = true;
	}
	if (r == 0)
		cell->cgid = contain_cg_id(c, cell->path);
	proc_tree_cont(&t);
	proc_tree_free(&t);
	return r;
}

struct cell *contain_cell_for_cgroup(struct contain *c, const char *path, char *err, size_t errlen)
{
	char rel[512], mine[512] = "";
	struct cell *cell;

	if (!c->root[0]) {
		snprintf(err, errlen, "no cgroup v2 mount: cannot contain cgroup %s", path);
		return NULL;
	}
	cg_normalize(c, path, rel, sizeof(rel));
	if ((cell = contain_find(c, 0, rel)))
		return cell;
	pid_cgroup(getpid(), mine, sizeof(mine));
	if (!strcmp(rel, "/") || strstr(rel, "/../") || str_has_suffix(rel, "/..") ||
	    (mine[0] && !strncmp(mine, rel, strlen(rel)) &&
	     (mine[strlen(rel)] == '/' || !mine[strlen(rel)]))) {
		snprintf(err, errlen,
			 "refusing to contain cgroup %s: it is the root or holds vigild", rel);
		return NULL;
	}
	if (!contain_cg_id(c, rel)) {
		snprintf(err, errlen, "no cgroup %s under %s", rel, c->root);
		return NULL;
	}
	cell = new_cell(c, rel, rel, NULL, 0);
	if (cell)
		contain_save(c);
	return cell;
}

static bool wait_frozen(const struct contain *c, const struct cell *cell, bool want)
{
	char path[PATH_MAX], buf[256];

	cg_file(c, cell->path, "cgroup.events", path, sizeof(path));
	for (int waited = 0; waited < FREEZE_WAIT_MS; waited += 5) {
		char *f;

		if (read_file(path, buf, sizeof(buf)) > 0 && (f = strstr(buf, "frozen ")) &&
		    (f[7] == '1') == want)
			return true;
		nanosleep(&(struct timespec){0, 5000000}, NULL);
	}
	return false;
}

int contain_freeze(struct contain *c, struct cell *cell, bool on, char *err, size_t errlen)
{
	int r = 0;

	if (!cell->path[0] && !on) {
		snprintf(err, errlen, "%s is not frozen", cell->id);
		return -ENOENT;
	}
	if (!cell->path[0])
		r = give_cgroup(c, cell, err, errlen);
	if (r == 0)
		r = cg_write(c, cell->path, "cgroup.freeze", on ? "1" : "0");
	if (r < 0) {
		if (!err[0])
			snprintf(err, errlen, "%s: cannot %s: %s", cell->path,
				 on ? "freeze" : "thaw", strerror(-r));
		return r;
	}
	cell->frozen = on;
	contain_save(c);
	if (!wait_frozen(c, cell, on)) {
		snprintf(err, errlen, "%s: not %s after %d ms", cell->path,
			 on ? "frozen" : "thawed", FREEZE_WAIT_MS);
		return -ETIMEDOUT;
	}
	return 0;
}

int contain_kill(struct contain *c, struct cell *cell, char *err, size_t errlen)
{
	int r = cg_write(c, cell->path, "cgroup.kill", "1");

	if (r < 0)
		snprintf(err, errlen, "%s: cgroup.kill: %s", cell->path, strerror(-r));
	return r;
}

/* ---- isolation ---- */

/* Cut the cell's open sockets; the first error (with the pid it came from) if any. */
static int cut_open_sockets(struct contain *c, const struct cell *cell, unsigned *cut,
			    pid_t *failed_pid)
{
	struct proc_tree t;
	int r, first = 0;

	*cut = 0;
	if ((cell->set ? contain_set_members(c, cell, &t) : cg_procs(c, cell->path, &t)) < 0)
		return 0;
	for (unsigned i = 0; i < t.n; i++) {
		r = sockdiag_destroy_sockets_of(t.pids[i]);
		if (r >= 0) {
			*cut += r;
		} else if (!first) {
			first = r;
			*failed_pid = t.pids[i];
		}
	}
	proc_tree_free(&t);
	return first;
}

int contain_isolate(struct contain *c, struct cell *cell, bool on, unsigned *cut, char *err,
		    size_t errlen)
{
	pid_t pid = 0;
	int r;

	*cut = 0;
	if (!contain_active(c)) {
		snprintf(err, errlen, "isolate: containment in the kernel %.160s", c->status);
		return -ENOTSUP;
	}
	cell->isolated = on;
	r = contain_sync_cell(c, cell);
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot update the isolation map: %s", cell->id,
			 strerror(-r));
		cell->isolated = !on;
		return r;
	}
	contain_save(c);
	if (!on)
		return 0;
	r = cut_open_sockets(c, cell, cut, &pid);
	if (r < 0)
		snprintf(err, errlen,
			 "%s: isolated, but the open sockets of pid %d could not all be "
			 "cut: %s",
			 cell->id, pid, strerror(-r));
	return r;
}

/* The deny map's key for path in cell: the file as it is now (inode and device). */
int cell_deny_key(const struct cell *cell, const char *path, struct vgl_deny_key *k)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	*k = (struct vgl_deny_key){
	    .cell = cell_key(cell), .ino = st.st_ino, .dev = kernel_dev(st.st_dev)};
	return 0;
}

int contain_deny_add(struct contain *c, const struct vgl_deny_key *k)
{
	uint32_t slot = VGL_DENY_SLOT(k->ino, k->dev), i = VGL_CSTATE_DENY_BITS + slot / 32, v = 0;
	int fd = bpf_map__fd(c->skel->maps.vgl_cstate);
	uint8_t one = 1;

	bpf_map_lookup_elem(fd, &i, &v);
	v |= 1u << (slot % 32);
	if (bpf_map_update_elem(fd, &i, &v, BPF_ANY) < 0 ||
	    bpf_map_update_elem(bpf_map__fd(c->skel->maps.vgl_deny), k, &one, BPF_ANY) < 0)
		return -errno;
	return 0;
}

int contain_deny_path(struct contain *c, struct cell *cell, const char *path, char *err,
		      size_t errlen)
{
	struct vgl_deny_key k;
	int r;

	if (!contain_active(c)) {
		snprintf(err, errlen, "deny-path: containment in the kernel %.160s", c->status);
		return -ENOTSUP;
	}
	if ((r = cell_deny_key(cell, path, &k)) < 0) {
		snprintf(err, errlen, "deny-path %s: %s", path, strerror(-r));
		return r;
	}
	if ((r = contain_deny_add(c, &k)) < 0) {
		snprintf(err, errlen, "deny-path %s: %s", path, strerror(-r));
		return r;
	}
	if (!strv_contains(&cell->denied, path))
		strv_push(&cell->denied, path);
	contain_sync_cell(c, cell);
	contain_save(c);
	return 0;
}

static void undeny(struct contain *c, struct cell *cell)
{
	for (unsigned i = 0; contain_active(c) && i < cell->denied.n; i++) {
		struct vgl_deny_key k;

		if (cell_deny_key(cell, cell->denied.v[i], &k) == 0)
			bpf_map_delete_elem(bpf_map__fd(c->skel->maps.vgl_deny), &k);
	}
	strv_clear(&cell->denied);
}

/* Back where they came from (or the parent of that, if it is gone). */
static int move_back(struct contain *c, struct cell *cell)
{
	char dest[512], dir[PATH_MAX];
	struct proc_tree t;
	int r;

	snprintf(dest, sizeof(dest), "%s", cell->origin);
	while (!contain_cg_id(c, dest) && strrchr(dest, '/') && strcmp(dest, "/"))
		*strrchr(dest, '/') = 0;
	if (!dest[0])
		strcpy(dest, "/");
	r = cg_procs(c, cell->path, &t);
	if (r == 0) {
		r = move_into(c, dest, &t);
		proc_tree_free(&t);
	}
	snprintf(dir, sizeof(dir), "%s%s", c->root, cell->path);
	if (r == 0 && rmdir(dir) < 0 && errno != ENOENT)
		r = -errno;
	snprintf(dir, sizeof(dir), "%s%s", c->root, c->parent);
	rmdir(dir); /* the last cell out: fails (harmlessly) while others remain */
	return r;
}

/* A process set's members leave it (the map entries carrying its id). */
static void empty_set(struct contain *c, const struct cell *cell)
{
	struct proc_tree t;

	if (!cell->set || !contain_active(c) || contain_set_members(c, cell, &t) < 0)
		return;
	for (unsigned i = 0; i < t.n; i++) {
		uint32_t k = t.pids[i];

		bpf_map_delete_elem(bpf_map__fd(c->skel->maps.vgl_tasks), &k);
	}
	proc_tree_free(&t);
}

int contain_release(struct contain *c, struct cell *cell, char *err, size_t errlen)
{
	uint64_t cgid = cell->cgid;
	bool had_cgroup = cell->path[0] && !cell->set;
	int r = 0;

	undeny(c, cell);
	cell->isolated = false;
	if (cell->frozen && (r = contain_freeze(c, cell, false, err, errlen)) < 0) {
		if (r != -ENOENT)
			return r;
		err[0] = 0; /* the cgroup is gone, and its freeze with it */
		r = 0;
	}
	empty_set(c, cell);
	if (cell->moved && (r = move_back(c, cell)) < 0)
		snprintf(err, errlen, "%s: cannot move the processes back to %s: %s", cell->path,
			 cell->origin, strerror(-r));
	for (unsigned i = 0; i < c->ncells; i++)
		if (c->cells[i] == cell) {
			c->cells[i] = c->cells[--c->ncells];
			break;
		}
	cell_free(cell);
	if (contain_active(c)) {
		if (had_cgroup)
			contain_sync_cgroup(c, cgid);
		contain_sync_counts(c);
	}
	contain_save(c);
	return r;
}
