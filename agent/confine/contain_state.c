// SPDX-License-Identifier: GPL-2.0
/*
 * contain_state.c — the record of live cells (containments.json): written
 * when cells change, members kept current from the kernel, and at start
 * the cells a previous vigild left enforced again (or reported).
 */
#include <bpf/bpf.h>
#include <signal.h>

#include "confine/contain_internal.h"
#include "core/fileio.h"
#include "core/log.h"

/* ---- state file ---- */

static json_t *members_json(const struct cell *cell)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < cell->nmembers; i++)
		json_array_append_new(a, json_pack("{s:i, s:I}", "pid", cell->members[i].pid,
						   "start", (json_int_t)cell->members[i].start));
	return a;
}

json_t *cell_state_json(const struct cell *cell)
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
		json_array_append_new(a, cell_state_json(c->cells[i]));
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
void cell_record_tree(struct cell *cell, const struct proc_tree *t)
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

	if (c->ncells && contain_active(c) && read_tasks(c, &all, &n) == 0)
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

struct cell *contain_add_cell(struct contain *c)
{
	struct cell **n = realloc(c->cells, (c->ncells + 1) * sizeof(*n));

	if (!n)
		return NULL;
	c->cells = n;
	n[c->ncells] = calloc(1, sizeof(struct cell));
	return n[c->ncells] ? n[c->ncells++] : NULL;
}

void cell_free(struct cell *cell)
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

	if (cell->set && contain_active(c) && contain_set_members(c, cell, &t) == 0)
		members = t.n > 0;
	proc_tree_free(&t);
	return members || (cell->path[0] && contain_cg_id(c, cell->path) == cell->cgid);
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

void contain_add_problem(struct contain *c, struct cell *cell, const char *fmt, const char *arg)
{
	char line[512];

	snprintf(cell->problem, sizeof(cell->problem), fmt, arg);
	snprintf(line, sizeof(line), "containment %s: %s", cell->id, cell->problem);
	log_error("%s", line);
	strv_push(&c->problems, line);
}

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

	if (!contain_active(c)) {
		if (any_member_lives(c, cell) || cell_alive(c, cell) || unrecorded)
			contain_add_problem(
			    c, cell,
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
		contain_add_problem(c, cell, "%s", why);
	} else if (added) {
		log_warn("containment %s: %u process(es) put back into its process set (the pinned "
			 "set was lost)",
			 cell->id, added);
	}
	if (unrecorded && contain_set_members(c, cell, &t) == 0 && !t.n) {
		snprintf(why, sizeof(why),
			 "its process set was lost and an older vigild did not record its members: "
			 "pid %d may no longer be contained",
			 cell->target);
		contain_add_problem(c, cell, "%s", why);
	}
	proc_tree_free(&t);
	for (unsigned i = 0; i < cell->denied.n; i++) {
		struct vgl_deny_key k;

		if ((r = cell_deny_key(cell, cell->denied.v[i], &k)) == 0)
			r = contain_deny_add(c, &k);
		if (r < 0 && r != -ENOENT) { /* ENOENT: the file is gone, nothing left to deny */
			snprintf(why, sizeof(why), "deny-path %.160s could not be put back (%s)",
				 cell->denied.v[i], strerror(-r));
			contain_add_problem(c, cell, "%s", why);
		}
	}
}

void cell_state_load(json_t *o, struct cell *cell)
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
void contain_load_state(struct contain *c)
{
	json_t *a = json_load_file(c->state_path, 0, NULL), *o;
	size_t i;

	json_array_foreach (a, i, o) {
		struct cell *cell;

		if (!json_is_object(o) || !(cell = contain_add_cell(c)))
			continue;
		cell_state_load(o, cell);
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
