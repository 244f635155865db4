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
#include "core/fileio.h"
#include "core/log.h"
#include "confine/sockdiag.h"
#include "core/util.h"

#define FREEZE_WAIT_MS 1000
#define BPFFS	       "/sys/fs/bpf"

struct egress_cg {
	uint64_t cgid;
	uint32_t policy;
};

struct contain {
	struct vigil_contain *skel;
	struct bpf_link *links[6];
	char root[256];
	char pin_dir[PATH_MAX];
	char parent[256];
	char state_path[PATH_MAX];
	char status[256];
	bool allow_lo;
	struct cell **cells;
	unsigned ncells;
	struct egress_cg *egress;
	unsigned negress;
	unsigned seq;
	uint32_t next_set; /* process sets are numbered from 1 */
	bool dirty;	   /* containments.json is behind */
	char boot_id[40];
	struct strv recreated; /* pinned maps of another layout, made afresh at this start */
	struct strv problems;  /* what this start could not restore (contain_problems_json) */
};

static bool active(const struct contain *c)
{
	return c->skel != NULL;
}

const char *contain_status(const struct contain *c)
{
	return c->status;
}

void contain_map_fds(const struct contain *c, int fds[CONTAIN_SHARED_MAPS])
{
	fds[0] = active(c) ? bpf_map__fd(c->skel->maps.vgl_cells) : -1;
	fds[1] = active(c) ? bpf_map__fd(c->skel->maps.vgl_deny) : -1;
	fds[2] = active(c) ? bpf_map__fd(c->skel->maps.vgl_cstate) : -1;
	fds[3] = active(c) ? bpf_map__fd(c->skel->maps.vgl_tasks) : -1;
	fds[4] = active(c) ? bpf_map__fd(c->skel->maps.vgl_confined) : -1;
	fds[5] = active(c) ? bpf_map__fd(c->skel->maps.vgl_verdicts) : -1;
	fds[6] = active(c) ? bpf_map__fd(c->skel->maps.vgl_sc_state) : -1;
}

bool contain_any_confined(const struct contain *c)
{
	uint32_t k;

	return active(c) &&
	       bpf_map_get_next_key(bpf_map__fd(c->skel->maps.vgl_confined), NULL, &k) == 0;
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

static uint64_t cg_id(const struct contain *c, const char *cg)
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

static uint64_t cell_key(const struct cell *cell)
{
	return cell->set ? VGL_TASKSET_BIT | cell->set : cell->cgid;
}

static void sync_counts(struct contain *c)
{
	uint32_t n[VGL_CSTATE_NR] = {[VGL_CSTATE_CELLS] = c->negress};
	int fd;

	if (!active(c))
		return;
	for (unsigned i = 0; i < c->ncells; i++) {
		n[c->cells[i]->set ? VGL_CSTATE_TASKS : VGL_CSTATE_CELLS]++;
		n[VGL_CSTATE_DENY] += c->cells[i]->denied.n;
	}
	fd = bpf_map__fd(c->skel->maps.vgl_cstate);
	for (uint32_t k = 0; k < VGL_CSTATE_NR; k++)
		bpf_map_update_elem(fd, &k, &n[k], BPF_ANY);
}

static struct vgl_cell cell_value(const struct contain *c, const struct cell *cell)
{
	struct vgl_cell v = {.id = cell_key(cell)};

	if (cell->isolated)
		v.flags |= VGL_CELL_ISOLATE | (c->allow_lo ? VGL_CELL_ALLOW_LO : 0);
	return v;
}

/* The members of a process set (tgids in vgl_tasks with its id), malloc'd. */
static int set_members(const struct contain *c, const struct cell *cell, struct proc_tree *out)
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

		if (set_members(c, cell, &t) < 0)
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
static int sync_cgroup(struct contain *c, uint64_t cgid)
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
static int sync_cell(struct contain *c, const struct cell *cell)
{
	int r;

	if (!active(c))
		return -ENOTSUP;
	r = cell->set ? sync_set(c, cell) : sync_cgroup(c, cell->cgid);
	sync_counts(c);
	return r;
}

/* ---- state file ---- */

static json_t *members_json(const struct cell *cell)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < cell->nmembers; i++)
		json_array_append_new(a, json_pack("{s:i, s:I}", "pid", cell->members[i].pid,
						   "start", (json_int_t)cell->members[i].start));
	return a;
}

static json_t *cell_json(const struct cell *cell)
{
	json_t *denied = json_array(), *o;

	for (unsigned i = 0; i < cell->denied.n; i++)
		json_array_append_new(denied, json_string(cell->denied.v[i]));
	o = json_pack("{s:s, s:s, s:s, s:I, s:i, s:i, s:I, s:b, s:b, s:b, s:o, s:s, s:s}", "id",
		      cell->id, "cgroup", cell->path, "origin", cell->origin, "cgroup_id",
		      (json_int_t)cell->cgid, "process_set", (int)cell->set, "target_pid",
		      cell->target, "target_start", (json_int_t)cell->target_start, "moved",
		      cell->moved, "frozen", cell->frozen, "isolated", cell->isolated,
		      "denied_paths", denied, "incident", cell->incident, "boot_id", cell->boot_id);
	if (cell->set)
		json_object_set_new(o, "members", members_json(cell));
	if (cell->problem[0])
		json_object_set_new(o, "problem", json_string(cell->problem));
	return o;
}

json_t *contain_list_json(const struct contain *c)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < c->ncells; i++)
		json_array_append_new(a, cell_json(c->cells[i]));
	return a;
}

json_t *contain_problems_json(const struct contain *c)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < c->problems.n; i++)
		json_array_append_new(a, json_string(c->problems.v[i]));
	return a;
}

void contain_save(struct contain *c)
{
	c->dirty = true;
}

static int member_cmp(const void *a, const void *b)
{
	const struct cell_member *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* One entry of vgl_tasks: a tgid and the id of the set it is in. */
struct task_entry {
	uint32_t pid;
	uint64_t id;
};

/* Every entry of vgl_tasks, in one walk (malloc'd). */
static int read_tasks(const struct contain *c, struct task_entry **ret, unsigned *n)
{
	int fd = bpf_map__fd(c->skel->maps.vgl_tasks);
	uint32_t key, next, *pk = NULL;
	struct task_entry *v = NULL, *nv;
	unsigned cap = 0;
	struct vgl_cell val;

	*n = 0;
	while (bpf_map_get_next_key(fd, pk, &next) == 0 && *n < VGL_TASKS_MAX) {
		key = next;
		pk = &key;
		if (bpf_map_lookup_elem(fd, &key, &val) < 0)
			continue;
		if (*n == cap) {
			if (!(nv = realloc(v, (cap = cap ? cap * 2 : 256) * sizeof(*v)))) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		v[(*n)++] = (struct task_entry){key, val.id};
	}
	*ret = v;
	return 0;
}

/* The set's members among all, by pid and start time, sorted (calloc'd: no stray padding). */
static int read_members(const struct cell *cell, const struct task_entry *all, unsigned nall,
			struct cell_member **ret, unsigned *n)
{
	uint64_t id = cell_key(cell);
	unsigned count = 0;
	struct cell_member *m;

	*n = 0;
	for (unsigned i = 0; i < nall; i++)
		count += all[i].id == id;
	if (!(m = calloc(count + 1, sizeof(*m))))
		return -ENOMEM;
	for (unsigned i = 0; i < nall; i++)
		if (all[i].id == id && proc_start_ticks(all[i].pid, &m[*n].start) == 0)
			m[(*n)++].pid = all[i].pid;
	qsort(m, *n, sizeof(*m), member_cmp);
	*ret = m;
	return 0;
}

/*
 * Record a pid cell's members as the kernel has them now (all: vgl_tasks);
 * true if that changed. A cell not enforced as recorded keeps its record,
 * for the next start to try again.
 */
static bool record_members(struct cell *cell, const struct task_entry *all, unsigned nall)
{
	struct cell_member *m;
	unsigned n;
	bool changed;

	if (!cell->set || cell->problem[0] || read_members(cell, all, nall, &m, &n) < 0)
		return false;
	changed = n != cell->nmembers || memcmp(m, cell->members, n * sizeof(*m));
	free(cell->members);
	cell->members = m;
	cell->nmembers = n;
	return changed;
}

/*
 * Written after the action, not during it: the safe write (fsync of the
 * file and its directory) costs milliseconds. A failed write stays due.
 */
void contain_flush(struct contain *c)
{
	_cleanup_free_ char *text = NULL;
	json_t *a;
	int r;

	if (!c->dirty)
		return;
	a = contain_list_json(c);
	text = json_dumps(a, JSON_INDENT(1));
	json_decref(a);
	r = text ? write_file_atomic(c->state_path, text, strlen(text), 0600) : -ENOMEM;
	if (r < 0) {
		log_error_errno(r, "cannot save %s: a restart would not know the containments",
				c->state_path);
		return;
	}
	c->dirty = false;
}

/* The members of a new set: its tree as read, by pid and start time, sorted. */
static void record_tree(struct cell *cell, const struct proc_tree *t)
{
	struct cell_member *m = calloc(t->n + 1, sizeof(*m));

	if (!m)
		return; /* the next tick records them */
	for (unsigned i = 0; i < t->n; i++)
		m[i] = (struct cell_member){t->pids[i], t->starts[i]};
	qsort(m, t->n, sizeof(*m), member_cmp);
	free(cell->members);
	cell->members = m;
	cell->nmembers = t->n;
}

/* Members are recorded here only: one walk of vgl_tasks for every cell. */
void contain_tick(struct contain *c)
{
	struct task_entry *all = NULL;
	unsigned n = 0;

	if (c->ncells && active(c) && read_tasks(c, &all, &n) == 0)
		for (unsigned i = 0; i < c->ncells; i++)
			if (record_members(c->cells[i], all, n))
				c->dirty = true;
	free(all);
	contain_flush(c);
}

static void copy_field(json_t *o, const char *key, char *out, size_t len)
{
	const char *s = json_string_value(json_object_get(o, key));

	snprintf(out, len, "%s", s ? s : "");
}

static struct cell *add_cell(struct contain *c)
{
	struct cell **n = realloc(c->cells, (c->ncells + 1) * sizeof(*n));

	if (!n)
		return NULL;
	c->cells = n;
	n[c->ncells] = calloc(1, sizeof(struct cell));
	return n[c->ncells] ? n[c->ncells++] : NULL;
}

static void cell_free(struct cell *cell)
{
	strv_clear(&cell->denied);
	free(cell->members);
	free(cell);
}

/* Is the process on record still running: this boot, this pid, this start time? */
static bool member_lives(const struct contain *c, const struct cell *cell,
			 const struct cell_member *m)
{
	uint64_t start;

	return !strcmp(cell->boot_id, c->boot_id) && proc_start_ticks(m->pid, &start) == 0 &&
	       start == m->start;
}

static bool any_member_lives(const struct contain *c, const struct cell *cell)
{
	for (unsigned i = 0; i < cell->nmembers; i++)
		if (member_lives(c, cell, &cell->members[i]))
			return true;
	return false;
}

/* Does anything of the cell remain: set members, or its cgroup (the same one)? */
static bool cell_alive(const struct contain *c, const struct cell *cell)
{
	struct proc_tree t = {0};
	bool members = false;

	if (cell->set && active(c) && set_members(c, cell, &t) == 0)
		members = t.n > 0;
	proc_tree_free(&t);
	return members || (cell->path[0] && cg_id(c, cell->path) == cell->cgid);
}

/*
 * Put the recorded members that still run (same pid, same start time) back
 * into the set, and nothing else: the record holds the children the kernel
 * had added at fork, so a subtree read now would only widen the
 * containment. *added counts them; the first failure is returned.
 */
static int rebuild_set(struct contain *c, const struct cell *cell, unsigned *added)
{
	int fd = bpf_map__fd(c->skel->maps.vgl_tasks), first = 0;
	struct vgl_cell v = cell_value(c, cell), cur;

	*added = 0;
	for (unsigned i = 0; i < cell->nmembers; i++) {
		uint32_t k = cell->members[i].pid;

		if (!member_lives(c, cell, &cell->members[i]) ||
		    bpf_map_lookup_elem(fd, &k, &cur) == 0)
			continue; /* gone, or in the set still (or in another one) */
		if (bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST) == 0)
			(*added)++;
		else if (!first)
			first = -errno;
	}
	return first;
}

static void add_problem(struct contain *c, struct cell *cell, const char *fmt, const char *arg)
{
	char line[512];

	snprintf(cell->problem, sizeof(cell->problem), fmt, arg);
	snprintf(line, sizeof(line), "containment %s: %s", cell->id, cell->problem);
	log_error("%s", line);
	strv_push(&c->problems, line);
}

static int deny_key(const struct cell *cell, const char *path, struct vgl_deny_key *k);

/*
 * Make the kernel enforce a recorded cell again: its process set rebuilt
 * where the pinned one was lost, its deny-path entries put back. What
 * cannot be restored is said loudly and kept on record.
 */
static void restore_cell(struct contain *c, struct cell *cell, bool members_on_record)
{
	bool unrecorded = cell->set && !members_on_record && cell->target > 0 &&
			  kill(cell->target, 0) == 0; /* an older record, its target may live */
	unsigned added = 0;
	struct proc_tree t = {0};
	char why[256];
	int r;

	if (!active(c)) {
		if (any_member_lives(c, cell) || cell_alive(c, cell) || unrecorded)
			add_problem(c, cell,
				    "not enforced (no isolation, no deny-path): containment in the "
				    "kernel %.160s",
				    c->status);
		return;
	}
	if (cell->set && (r = rebuild_set(c, cell, &added)) < 0) {
		snprintf(why, sizeof(why),
			 "its process set could not be rebuilt (%s): processes on record are no "
			 "longer contained",
			 strerror(-r));
		add_problem(c, cell, "%s", why);
	} else if (added) {
		log_warn("containment %s: %u process(es) put back into its process set (the pinned "
			 "set was lost)",
			 cell->id, added);
	}
	if (unrecorded && set_members(c, cell, &t) == 0 && !t.n) {
		snprintf(why, sizeof(why),
			 "its process set was lost and an older vigild did not record its members: "
			 "pid %d may no longer be contained",
			 cell->target);
		add_problem(c, cell, "%s", why);
	}
	proc_tree_free(&t);
	for (unsigned i = 0; i < cell->denied.n; i++) {
		struct vgl_deny_key k;
		uint8_t one = 1;

		if ((r = deny_key(cell, cell->denied.v[i], &k)) == 0 &&
		    bpf_map_update_elem(bpf_map__fd(c->skel->maps.vgl_deny), &k, &one, BPF_ANY) < 0)
			r = -errno;
		if (r < 0 && r != -ENOENT) { /* ENOENT: the file is gone, nothing left to deny */
			snprintf(why, sizeof(why), "deny-path %.160s could not be put back (%s)",
				 cell->denied.v[i], strerror(-r));
			add_problem(c, cell, "%s", why);
		}
	}
}

static void load_cell(json_t *o, struct cell *cell)
{
	json_t *d, *p;
	size_t j;

	copy_field(o, "id", cell->id, sizeof(cell->id));
	copy_field(o, "cgroup", cell->path, sizeof(cell->path));
	copy_field(o, "origin", cell->origin, sizeof(cell->origin));
	copy_field(o, "incident", cell->incident, sizeof(cell->incident));
	copy_field(o, "boot_id", cell->boot_id, sizeof(cell->boot_id));
	cell->cgid = json_integer_value(json_object_get(o, "cgroup_id"));
	cell->target = json_integer_value(json_object_get(o, "target_pid"));
	cell->target_start = json_integer_value(json_object_get(o, "target_start"));
	cell->moved = json_is_true(json_object_get(o, "moved"));
	cell->frozen = json_is_true(json_object_get(o, "frozen"));
	cell->isolated = json_is_true(json_object_get(o, "isolated"));
	cell->set = json_integer_value(json_object_get(o, "process_set"));
	d = json_object_get(o, "denied_paths");
	json_array_foreach (d, j, p)
		if (json_is_string(p))
			strv_push(&cell->denied, json_string_value(p));
	d = json_object_get(o, "members");
	cell->members = calloc(json_array_size(d) + 1, sizeof(*cell->members));
	json_array_foreach (d, j, p) {
		struct cell_member m = {.pid = json_integer_value(json_object_get(p, "pid")),
					.start = json_integer_value(json_object_get(p, "start"))};

		if (cell->members && m.pid > 0)
			cell->members[cell->nmembers++] = m;
	}
}

/*
 * Cells a previous vigild left: enforced again and kept while something of
 * them remains; kept, with a loud error, where that cannot be done.
 */
static void load_state(struct contain *c)
{
	json_t *a = json_load_file(c->state_path, 0, NULL), *o;
	size_t i;

	json_array_foreach (a, i, o) {
		struct cell *cell;

		if (!json_is_object(o) || !(cell = add_cell(c)))
			continue;
		load_cell(o, cell);
		if (cell->set >= c->next_set)
			c->next_set = cell->set + 1;
		restore_cell(c, cell, json_object_get(o, "members") != NULL);
		if (!cell->problem[0] && !cell_alive(c, cell)) {
			log_info("containment %s: its processes and cgroup are gone; forgetting it",
				 cell->id);
			cell_free(c->cells[--c->ncells]);
			c->dirty = true;
			continue;
		}
		log_info("containment %s still in force", cell->id);
	}
	json_decref(a);
}

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
	int r;

	c->skel = vigil_contain__open_opts(&o);
	if (!c->skel)
		return -errno;
	replace_incompatible_pins(c);
	r = vigil_contain__load(c->skel);
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

/* Pinned links stay attached while vigild is away; a new vigild swaps in its programs. */
static int attach_pinned(struct contain *c, int cgfd)
{
	struct bpf_program *progs[6] = {
	    c->skel->progs.contain_connect4, c->skel->progs.contain_connect6,
	    c->skel->progs.contain_sendmsg4, c->skel->progs.contain_sendmsg6,
	    c->skel->progs.contain_fork,     c->skel->progs.contain_exit};

	for (int i = 0; i < 6; i++) {
		char path[PATH_MAX + 64];
		struct bpf_link *l;

		snprintf(path, sizeof(path), "%s/link_%s", c->pin_dir, bpf_program__name(progs[i]));
		l = access(path, F_OK) == 0 ? bpf_link__open(path) : NULL;
		if (l && bpf_link__update_program(l, progs[i]) < 0) {
			bpf_link__destroy(l);
			unlink(path);
			l = NULL;
		}
		if (!l) {
			l = attach(progs[i], cgfd);
			if (!l)
				return -errno;
			if (bpf_link__pin(l, path) < 0) {
				int r = -errno;

				bpf_link__destroy(l);
				return r;
			}
		}
		c->links[i] = l;
	}
	return 0;
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
		load_state(c);
	for (unsigned i = 0; i < c->ncells; i++)
		if (active(c) && (r = sync_cell(c, c->cells[i])) < 0)
			add_problem(c, c->cells[i], "its isolation could not be put back (%s)",
				    strerror(-r));
	contain_flush(c); /* members as they are now, forgotten cells gone */
	*ret = c;
	return 0;
}

struct contain *contain_free(struct contain *c)
{
	if (!c)
		return NULL;
	contain_flush(c);
	for (size_t i = 0; i < ARRAY_SIZE(c->links); i++)
		bpf_link__destroy(c->links[i]); /* closes our fd; the pin keeps it attached */
	vigil_contain__destroy(c->skel);
	for (unsigned i = 0; i < c->ncells; i++)
		cell_free(c->cells[i]);
	free(c->cells);
	free(c->egress);
	strv_clear(&c->problems);
	strv_clear(&c->recreated);
	free(c);
	return NULL;
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
		if (active(c))
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
	struct cell *cell = add_cell(c);

	if (!cell)
		return NULL;
	snprintf(cell->id, sizeof(cell->id), "%s", id);
	snprintf(cell->path, sizeof(cell->path), "%s", path);
	snprintf(cell->origin, sizeof(cell->origin), "%s", origin ? origin : "");
	cell->moved = origin != NULL;
	cell->target = target;
	cell->cgid = path[0] ? cg_id(c, path) : 0;
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
	if (!active(c)) {
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
		for (unsigned i = 0; i < t.n; i++) {
			uint32_t k = t.pids[i];

			bpf_map_update_elem(bpf_map__fd(c->skel->maps.vgl_tasks), &k, &v, BPF_ANY);
		}
		record_tree(cell, &t); /* on record at once, not at the next tick */
		sync_counts(c);
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
	r = set_members(c, cell, &t);
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
		cell->cgid = cg_id(c, cell->path);
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
	if (!cg_id(c, rel)) {
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
	if ((cell->set ? set_members(c, cell, &t) : cg_procs(c, cell->path, &t)) < 0)
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
	if (!active(c)) {
		snprintf(err, errlen, "isolate: containment in the kernel %.160s", c->status);
		return -ENOTSUP;
	}
	cell->isolated = on;
	r = sync_cell(c, cell);
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
			 "%s: isolated, but the open sockets of pid %d (another network "
			 "namespace) could not be cut: %s",
			 cell->id, pid, strerror(-r));
	return r;
}

/* The deny map's key for path in cell: the file as it is now (inode and device). */
static int deny_key(const struct cell *cell, const char *path, struct vgl_deny_key *k)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	*k = (struct vgl_deny_key){
	    .cell = cell_key(cell), .ino = st.st_ino, .dev = kernel_dev(st.st_dev)};
	return 0;
}

int contain_deny_path(struct contain *c, struct cell *cell, const char *path, char *err,
		      size_t errlen)
{
	struct vgl_deny_key k;
	uint8_t one = 1;
	int r;

	if (!active(c)) {
		snprintf(err, errlen, "deny-path: containment in the kernel %.160s", c->status);
		return -ENOTSUP;
	}
	if ((r = deny_key(cell, path, &k)) < 0) {
		snprintf(err, errlen, "deny-path %s: %s", path, strerror(-r));
		return r;
	}
	if (bpf_map_update_elem(bpf_map__fd(c->skel->maps.vgl_deny), &k, &one, BPF_ANY) < 0) {
		snprintf(err, errlen, "deny-path %s: %s", path, strerror(errno));
		return -errno;
	}
	if (!strv_contains(&cell->denied, path))
		strv_push(&cell->denied, path);
	sync_cell(c, cell);
	contain_save(c);
	return 0;
}

static void undeny(struct contain *c, struct cell *cell)
{
	for (unsigned i = 0; active(c) && i < cell->denied.n; i++) {
		struct vgl_deny_key k;

		if (deny_key(cell, cell->denied.v[i], &k) == 0)
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
	while (!cg_id(c, dest) && strrchr(dest, '/') && strcmp(dest, "/"))
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

	if (!cell->set || !active(c) || set_members(c, cell, &t) < 0)
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
	if (active(c)) {
		if (had_cgroup)
			sync_cgroup(c, cgid);
		sync_counts(c);
	}
	contain_save(c);
	return r;
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
		sync_cgroup(c, old[i].cgid);
	free(old);
}

int contain_allowlists(struct contain *c, const struct egress_allowlist *lists, unsigned n,
		       char *err, size_t errlen)
{
	int fd, r = 0;

	if (!active(c))
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
		cgid = cg_id(c, rel);
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
		sync_cgroup(c, cgid);
		sync_counts(c);
	}
	return r;
}
