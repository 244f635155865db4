// SPDX-License-Identifier: GPL-2.0
/* respond_cmd.c — the responder's control commands: contain, release, incidents. */
#include <string.h>

#include "confine/contain.h"
#include "respond/incident.h"
#include "respond/respond_internal.h"
#include "core/util.h"

/* ---- the responder's commands ---- */

static json_t *reply_error(const char *fmt, const char *arg)
{
	char msg[768];

	snprintf(msg, sizeof(msg), fmt, arg);
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

/* --pid N or --cgroup PATH from a request; a one-line complaint otherwise. */
static bool read_target(json_t *req, struct run *run, char *err, size_t errlen)
{
	json_t *pid = json_object_get(req, "pid");
	const char *cg = json_string_value(json_object_get(req, "cgroup"));

	if (!pid == !cg) {
		snprintf(err, errlen, "give --pid N or --cgroup PATH");
		return false;
	}
	if (pid && (!json_is_integer(pid) || json_integer_value(pid) <= 0 ||
		    json_integer_value(pid) > 4194304)) {
		snprintf(err, errlen, "pid: expected a process id");
		return false;
	}
	run->pid = pid ? json_integer_value(pid) : 0;
	run->entity = json_string_value(json_object_get(req, "entity_id"));
	run->cgroup = cg;
	return true;
}

static json_t *cmd_contain(struct responder *r, json_t *req, const struct respond_requester *who)
{
	struct run run = {.via = who->via ?: "cli",
			  .key_id = who->key_id,
			  .uid = who->uid,
			  .by_pid = who->pid,
			  .t0_ns = clock_ns(CLOCK_MONOTONIC)};
	bool kill_ = json_is_true(json_object_get(req, "kill"));
	bool freeze = json_is_true(json_object_get(req, "freeze"));
	bool isolate = json_is_true(json_object_get(req, "isolate"));
	struct pb_step steps[3];
	unsigned n = 0;
	char err[256], title[600];
	json_t *out;
	int e = 0;

	if (!read_target(req, &run, err, sizeof(err)))
		return reply_error("%s", err);
	if (!kill_ && !freeze && !isolate)
		freeze = isolate = true; /* reversible by default */
	if (kill_)
		steps[n++] = (struct pb_step){.action = PB_KILL, .target = PB_T_TREE};
	if (freeze)
		steps[n++] = (struct pb_step){.action = PB_FREEZE, .target = PB_T_TREE};
	if (isolate)
		steps[n++] = (struct pb_step){.action = PB_ISOLATE, .target = PB_T_TREE};
	if (run.cgroup)
		snprintf(title, sizeof(title), "contain cgroup %s", run.cgroup);
	else
		snprintf(title, sizeof(title), "contain process %d", run.pid);
	run.inc = incident_new(r->incidents, run.via, title);
	if (!run.inc)
		return reply_error("%s", "out of memory");
	for (unsigned i = 0; i < n; i++)
		e |= respond_run_step(r, &run, &steps[i]) < 0;
	json_object_set_new(run.inc, "status", json_string(e ? "failed" : "contained"));
	incident_save(r->incidents, run.inc);
	out = json_pack("{s:b, s:O, s:O}", "ok", !e, "incident", json_object_get(run.inc, "id"),
			"steps", json_object_get(run.inc, "steps"));
	if (e) {
		json_t *steps_ = json_object_get(run.inc, "steps"), *s;
		size_t i;

		json_array_foreach (steps_, i, s)
			if (json_object_get(s, "error")) {
				json_object_set(out, "error", json_object_get(s, "error"));
				break;
			}
	}
	json_decref(run.inc);
	return out;
}

static json_t *cmd_release(struct responder *r, json_t *req, const struct respond_requester *who)
{
	struct run run = {.via = who->via ?: "cli",
			  .key_id = who->key_id,
			  .uid = who->uid,
			  .by_pid = who->pid,
			  .t0_ns = clock_ns(CLOCK_MONOTONIC)};
	char err[512] = "", incident[64];
	struct cell *cell;
	json_t *res, *out;
	int e;

	if (!read_target(req, &run, err, sizeof(err)))
		return reply_error("%s", err);
	cell = contain_find(r->contain, run.pid, run.cgroup);
	if (!cell) {
		snprintf(err, sizeof(err), "process %d", run.pid);
		return reply_error("nothing is contained for %s", run.cgroup ? run.cgroup : err);
	}
	snprintf(incident, sizeof(incident), "%s", cell->incident);
	run.inc = incident_load(r->incidents, incident);
	if (!run.inc)
		run.inc = incident_new(r->incidents, run.via, "release");
	res = respond_step_result("release.all", run.pid, "tree", run.cgroup ? run.cgroup : NULL);
	json_object_set_new(res, "cell", json_string(cell->path));
	e = contain_release(r->contain, cell, err, sizeof(err));
	contain_flush(r->contain);
	if (e < 0)
		respond_step_fail(res, e, err);
	json_object_set_new(res, "latency_us",
			    json_integer((clock_ns(CLOCK_MONOTONIC) - run.t0_ns) / 1000));
	respond_audit(r, &run, "release.all", "process", "change", res);
	incident_append(run.inc, "steps", res);
	if (e == 0)
		json_object_set_new(run.inc, "status", json_string("released"));
	incident_save(r->incidents, run.inc);
	out = e < 0 ? json_pack("{s:b, s:s}", "ok", 0, "error", err)
		    : json_pack("{s:b, s:O}", "ok", 1, "incident", json_object_get(run.inc, "id"));
	json_decref(run.inc);
	return out;
}

static json_t *cmd_incidents(struct responder *r, json_t *req)
{
	const char *id = json_string_value(json_object_get(req, "id"));
	json_t *inc;

	if (!id)
		return json_pack("{s:b, s:o, s:o, s:o}", "ok", 1, "incidents",
				 incident_list(r->incidents, 100), "containments",
				 contain_list_json(r->contain), "containment_problems",
				 contain_problems_json(r->contain));
	inc = incident_load(r->incidents, id);
	if (!inc)
		return reply_error("no incident %s", id);
	return json_pack("{s:b, s:o}", "ok", 1, "incident", inc);
}

json_t *respond_command(struct responder *r, const char *cmd, json_t *req,
			const struct respond_requester *who)
{
	if (!strcmp(cmd, "contain"))
		return cmd_contain(r, req, who);
	if (!strcmp(cmd, "release"))
		return cmd_release(r, req, who);
	if (!strcmp(cmd, "incidents"))
		return cmd_incidents(r, req);
	return NULL;
}
