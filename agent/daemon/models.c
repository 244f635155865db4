// SPDX-License-Identifier: GPL-2.0
/*
 * models.c — the model inventory as vigild runs it (models.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "daemon/manager.h"
#include "daemon/models.h"
#include "inventory/approvals.h"
#include "inventory/hasher.h"
#include "inventory/inspect.h"
#include "inventory/inventory.h"

#define SAVE_EVERY_NS (5ull * 1000000000ull) /* the state file at most this often */

struct models {
	struct inventory *inv;
	struct hasher *hasher;
	struct approvals *appr;
	char state_path[PATH_MAX];
	uint64_t last_save_ns;
	uint64_t pickle_alerts, tampered, unapproved, save_errors;
	bool save_failed;
	/* processes whose load waits for a digest: (file version, pid), unapproved checked then */
	struct waiting {
		struct inv_key key;
		uint32_t pid, uid, gid;
		uint64_t cgroup_id;
		unsigned workload;
	} waiting[64];
	unsigned n_waiting;
};

int models_new(struct manager *m)
{
	struct models *mo = calloc(1, sizeof(*mo));
	char err[512];
	int r;

	if (!mo)
		return -ENOMEM;
	m->models = mo;
	snprintf(mo->state_path, sizeof(mo->state_path), "%s/inventory.json", m->cfg->state_dir);
	if ((r = inventory_new(m->cfg->inventory_max_models, &mo->inv)) < 0 ||
	    (r = hasher_new(m->cfg->inventory_hash_rate, &mo->hasher)) < 0)
		return r;
	r = inventory_load(mo->inv, mo->state_path);
	if (r < 0)
		log_warn_errno(r, "cannot read the model inventory %s: starting empty",
			       mo->state_path);
	r = approvals_load(m->cfg->inventory_approved_dir, &mo->appr, err, sizeof(err));
	if (r < 0)
		return log_error_errno(r, "approved models: %s", err);
	if (approvals_count(mo->appr))
		log_info("%u approved models from %s", approvals_count(mo->appr),
			 m->cfg->inventory_approved_dir);
	sniff_set_inspect(m->sniff, inspect_model, inspect_detail_free, NULL);
	return 0;
}

int models_check(const struct vigil_config *cfg)
{
	struct approvals *a;
	char err[512];
	int r = approvals_load(cfg->inventory_approved_dir, &a, err, sizeof(err));

	if (r < 0)
		return log_error_errno(r, "approved models: %s", err);
	printf("%u approved models in %s\n", approvals_count(a), cfg->inventory_approved_dir);
	approvals_free(a);
	return 0;
}

static void save(struct manager *m, struct models *mo)
{
	int r;

	if (!inventory_dirty(mo->inv))
		return;
	r = inventory_save(mo->inv, mo->state_path);
	mo->last_save_ns = clock_ns(CLOCK_BOOTTIME);
	if (r < 0) {
		mo->save_errors++;
		if (!mo->save_failed)
			log_warn_errno(r, "cannot write the model inventory %s", mo->state_path);
	}
	mo->save_failed = r < 0;
}

void models_free(struct manager *m)
{
	struct models *mo = m->models;

	if (!mo)
		return;
	if (mo->inv)
		save(m, mo);
	hasher_free(mo->hasher);
	inventory_free(mo->inv);
	approvals_free(mo->appr);
	free(mo);
	m->models = NULL;
}

/* The systemd unit a cgroup path names ("/system.slice/vllm.service"), or "". */
static void unit_of(const char *cgroup, char *out, size_t len)
{
	const char *end = cgroup ? cgroup + strlen(cgroup) : NULL;

	out[0] = 0;
	while (end && end > cgroup) {
		const char *start = end;
		size_t n;

		while (start > cgroup && start[-1] != '/')
			start--;
		n = end - start;
		if (n > 8 && !strncmp(end - 8, ".service", 8)) {
			snprintf(out, len, "%.*s", (int)n, start);
			return;
		}
		end = start > cgroup ? start - 1 : NULL;
	}
}

/* The workload of a process: its executable, and its unit or container. */
static void workload_of(const struct proc *p, char *unit, size_t len)
{
	if (p && p->container.id[0])
		snprintf(unit, len, "container:%s", p->container.id);
	else
		unit_of(p ? p->cgroup : NULL, unit, len);
}

static struct vigil_event finding(const char *what, const struct inv_model *mo, const char *path,
				  uint32_t pid, uint32_t uid, uint32_t gid, uint64_t cgroup_id)
{
	struct vigil_event ev = {.action = VA_MODEL_FINDING,
				 .ts_boot_ns = clock_ns(CLOCK_BOOTTIME),
				 .pid = pid,
				 .tid = pid,
				 .uid = uid,
				 .gid = gid,
				 .cgroup_id = cgroup_id};

	ev.model.path = (struct vstr){path, strlen(path)};
	ev.model.finding = what;
	ev.model.format = mo->sum.format;
	ev.model.sha256 = mo->sha256;
	ev.model.digest_source = mo->sha256[0] ? inventory_digest_name(mo->digest) : "";
	ev.model.named_sha256 = "";
	return ev;
}

static void emit_finding(struct manager *m, struct vigil_event *ev)
{
	const char *line;
	size_t len;

	ev->proc = proc_cache_get(m->pc, ev->pid);
	if (ev->proc) {
		ev->ppid = ev->proc->ppid;
		memcpy(ev->comm, ev->proc->name, sizeof(ev->comm));
	}
	ecs_format_event(m->ecs, ev, &line, &len);
	sinks_emit(&m->sinks, line, len);
	detect_event(m->detect, ev, line, len);
	m->by_action[ev->action]++;
	m->emitted++;
}

static void check_pickle(struct manager *m, const struct inv_model *mo, const struct sniff_job *j)
{
	struct vigil_event ev;

	if (!mo->sum.dangerous)
		return;
	ev = finding("pickle-callable", mo, j->path, j->pid, j->uid, j->gid, j->cgroup_id);
	for (unsigned i = 0; i < mo->sum.n_callables && i < MODEL_CALLABLES_MAX; i++)
		ev.model.callables[ev.model.n_callables++] = mo->sum.callables[i];
	if (!ev.model.n_callables)
		ev.model.callables[ev.model.n_callables++] =
		    "?.?"; /* an import it could not name */
	m->models->pickle_alerts++;
	emit_finding(m, &ev);
}

static void check_tampered(struct manager *m, const struct inv_model *mo, const char *path,
			   uint32_t pid, uint32_t uid, uint32_t gid, uint64_t cgroup_id)
{
	struct vigil_event ev;

	if (mo->digest != INV_DIGEST_MISMATCH)
		return;
	ev = finding("tampered", mo, path, pid, uid, gid, cgroup_id);
	ev.model.named_sha256 = mo->named_sha256;
	m->models->tampered++;
	emit_finding(m, &ev);
}

/* Unapproved: only with a digest (else checked when the hasher has it) and a list. */
static void check_approved(struct manager *m, const struct inv_model *mo, unsigned wl,
			   const char *path, uint32_t pid, uint32_t uid, uint32_t gid,
			   uint64_t cgroup_id)
{
	const struct inv_workload *w = &mo->workloads[wl];
	enum approval v;
	struct vigil_event ev;

	if (!mo->sha256[0] || wl >= mo->n_workloads)
		return;
	v = approvals_check(m->models->appr, mo->sha256, w->exe, w->unit);
	if (v == APPROVAL_OFF || v == APPROVAL_OK)
		return;
	ev = finding(v == APPROVAL_WRONG_WORKLOAD ? "workload-not-approved" : "unapproved", mo,
		     path, pid, uid, gid, cgroup_id);
	m->models->unapproved++;
	emit_finding(m, &ev);
}

/* model-inventory: the BOM changed (a new model, workload or digest). */
static void emit_state(struct manager *m, const struct inv_model *mo, const char *change,
		       const char *path, int wl, uint32_t pid)
{
	struct jw *j =
	    ecs_begin(m->ecs, 0, "state", "file",
		      !strcmp(change, "new-model") ? "creation" : "change", "model-inventory");
	char ino[24];

	if (wl >= 0) {
		jw_obj_open(j, "process");
		jw_u64(j, "pid", pid);
		jw_str(j, "executable", mo->workloads[wl].exe);
		jw_obj_close(j);
	}
	snprintf(ino, sizeof(ino), "%llu", (unsigned long long)mo->key.ino);
	jw_obj_open(j, "file");
	jw_str(j, "path", path);
	jw_u64(j, "size", mo->key.size);
	jw_str(j, "inode", ino); /* ECS keeps it a string */
	if (mo->sha256[0]) {
		jw_obj_open(j, "hash");
		jw_str(j, "sha256", mo->sha256);
		jw_obj_close(j);
	}
	jw_obj_close(j);
	j = ecs_vigil(m->ecs);
	jw_obj_open(j, "model");
	jw_str(j, "change", change);
	jw_str(j, "format", mo->sum.format);
	jw_str(j, "digest_source", inventory_digest_name(mo->digest));
	jw_u64(j, "loads", mo->loads);
	jw_u64(j, "workloads", mo->n_workloads);
	if (wl >= 0) {
		jw_obj_open(j, "workload");
		jw_str(j, "executable", mo->workloads[wl].exe);
		jw_str(j, "unit", mo->workloads[wl].unit);
		jw_bool(j, "inference", mo->workloads[wl].inference);
		jw_obj_close(j);
	}
	jw_obj_close(j);
	manager_emit_line(m);
}

static void wait_for_digest(struct models *mo, const struct inv_model *e, unsigned wl,
			    const struct sniff_job *j)
{
	if (mo->n_waiting == ARRAY_SIZE(mo->waiting))
		memmove(mo->waiting, mo->waiting + 1, --mo->n_waiting * sizeof(mo->waiting[0]));
	mo->waiting[mo->n_waiting++] =
	    (struct waiting){e->key, j->pid, j->uid, j->gid, j->cgroup_id, wl};
}

/* Hand the detail's descriptor to the hasher when the digest is missing or unverified. */
static void maybe_hash(struct manager *m, struct inv_model *e, struct inv_detail *d)
{
	if (!d || d->fd < 0)
		return;
	if (m->cfg->inventory_hash_rate && !e->hash_queued &&
	    (e->digest == INV_DIGEST_NONE || e->digest == INV_DIGEST_NAME))
		e->hash_queued = hasher_submit(m->models->hasher, d->fd, &e->key);
	else
		close(d->fd);
	d->fd = -1;
}

void models_sniffed(struct manager *m, struct sniff_job *j)
{
	struct models *mo = m->models;
	struct inv_detail *d = j->detail;
	const struct proc *p = proc_cache_get(m->pc, j->pid);
	char unit[256];
	struct inv_load l = {.key = {j->dev, j->ino, j->size, j->mtime_ns},
			     .path = j->path,
			     .exe = p && p->exe ? p->exe : "",
			     .unit = unit,
			     .format = j->format,
			     .inference = p && (p->flags & (PROC_INFERENCE | PROC_INFERENCE_TREE)),
			     .now_ns = ecs_realtime_ns(m->ecs, clock_ns(CLOCK_BOOTTIME)),
			     .sum = d ? &d->sum : NULL};
	struct inv_change chg;
	struct inv_model *e;

	j->detail = NULL;
	workload_of(p, unit, sizeof(unit));
	if (!mo || !strcmp(j->format, "empty") || inventory_record(mo->inv, &l, &e, &chg) < 0) {
		inspect_detail_free(d);
		return;
	}
	maybe_hash(m, e, d);
	inspect_detail_free(d);
	if (chg.new_model || chg.new_workload)
		emit_state(m, e, chg.new_model ? "new-model" : "new-workload", j->path,
			   chg.workload, j->pid);
	check_pickle(m, e, j);
	check_tampered(m, e, j->path, j->pid, j->uid, j->gid, j->cgroup_id);
	if (e->sha256[0])
		check_approved(m, e, chg.workload, j->path, j->pid, j->uid, j->gid, j->cgroup_id);
	else if (approvals_count(mo->appr))
		wait_for_digest(mo, e, chg.workload, j);
}

/* A digest arrived: say so, alert on a mismatch, and check the loads that waited for it. */
static void on_hashed(struct manager *m, const struct hash_result *res)
{
	struct models *mo = m->models;
	struct inv_model *e;
	unsigned k = 0;

	if (res->error) {
		if ((e = inventory_find(mo->inv, &res->key)))
			e->hash_queued = false; /* changed or unreadable: tried again at a load */
		return;
	}
	if (!(e = inventory_hashed(mo->inv, &res->key, res->sha256)) || !e->n_paths)
		return;
	emit_state(m, e, "digest", e->paths[0], -1, 0);
	check_tampered(m, e, e->paths[0], 0, 0, 0, 0);
	for (unsigned i = 0; i < mo->n_waiting; i++) {
		struct waiting *w = &mo->waiting[i];

		if (memcmp(&w->key, &res->key, sizeof(w->key))) {
			mo->waiting[k++] = *w;
			continue;
		}
		check_approved(m, e, w->workload, e->paths[0], w->pid, w->uid, w->gid,
			       w->cgroup_id);
	}
	mo->n_waiting = k;
}

void models_tick(struct manager *m)
{
	struct models *mo = m->models;
	struct hash_result res;

	if (!mo)
		return;
	while (hasher_result(mo->hasher, &res))
		on_hashed(m, &res);
	if (clock_ns(CLOCK_BOOTTIME) - mo->last_save_ns >= SAVE_EVERY_NS)
		save(m, mo);
}

/* Each model with what the approved list says of its digest. */
static json_t *with_approvals(struct models *mo)
{
	json_t *doc = inventory_json(mo->inv), *v;
	size_t i;

	json_array_foreach (json_object_get(doc, "models"), i, v) {
		const char *sha = json_string_value(json_object_get(v, "sha256"));
		const char *name = sha && sha[0] ? approvals_name(mo->appr, sha) : NULL;

		json_object_set_new(v, "approved",
				    json_boolean(sha && sha[0] && approvals_count(mo->appr) &&
						 approvals_check(mo->appr, sha, NULL, NULL) !=
						     APPROVAL_UNKNOWN_DIGEST));
		if (name)
			json_object_set_new(v, "approved_name", json_string(name));
	}
	return doc;
}

json_t *models_bom(struct manager *m)
{
	json_t *r;

	if (!m->models)
		return json_pack("{s:b, s:s}", "ok", 0, "error", "no inventory");
	r = json_pack("{s:b, s:s, s:s, s:i}", "ok", 1, "host", m->host_name, "version",
		      VIGIL_VERSION, "approved_models", approvals_count(m->models->appr));
	json_object_set_new(r, "inventory", with_approvals(m->models));
	return r;
}

json_t *models_stats(struct manager *m)
{
	struct models *mo = m->models;
	struct hasher_stats hs;
	json_t *o;

	if (!mo)
		return json_null();
	hasher_stats(mo->hasher, &hs);
	o = json_pack(
	    "{s:i, s:I, s:i, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I}}",
	    "models", inventory_count(mo->inv), "evicted", (json_int_t)inventory_evicted(mo->inv),
	    "approved", approvals_count(mo->appr), "hashing", "queued", (json_int_t)hs.queued,
	    "backlog", (json_int_t)hs.backlog, "backlog_bytes", (json_int_t)hs.backlog_bytes,
	    "hashed", (json_int_t)hs.hashed, "failed", (json_int_t)hs.failed, "dropped",
	    (json_int_t)hs.dropped, "bytes", (json_int_t)hs.bytes, "rate",
	    (json_int_t)m->cfg->inventory_hash_rate, "findings", "pickle_callable",
	    (json_int_t)mo->pickle_alerts, "tampered", (json_int_t)mo->tampered, "unapproved",
	    (json_int_t)mo->unapproved);
	if (hs.error)
		json_object_set_new(json_object_get(o, "hashing"), "error", json_string(hs.error));
	json_object_set_new(o, "save_errors", json_integer(mo->save_errors));
	return o;
}
