// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/util.h"
#include "daemon/control.h"
#include "daemon/commands.h"
#include "daemon/fleet_cmd.h"
#include "daemon/manager.h"
#include "ship/cmd_sign.h"
#include "ship/ship.h"
#include "ship/subject.h"
#include "stream/ecs.h"
#include "stream/json_writer.h"

/* The audit event: who (the key), what, and what came of it. */
static void audit(struct manager *m, const struct rcmd_request *rq, enum rcmd_verdict v,
		  const char *why, json_t *resp)
{
	bool ok = v == CMD_OK && json_is_true(json_object_get(resp, "ok"));
	const char *err = json_string_value(json_object_get(resp, "error"));
	json_t *a =
	    json_pack("{s:s, s:s, s:s}", "key_id", rq->key_id, "command", rq->cmd, "outcome",
		      v != CMD_OK ? "refused"
		      : ok	  ? "done"
				  : "failed");
	char msg[700];
	struct jw *j;

	if (v != CMD_OK) {
		json_object_set_new(a, "refused", json_string(rcmd_verdict_name(v)));
		json_object_set_new(a, "reason", json_string(why));
	} else {
		json_object_set_new(a, "role", json_string(rcmd_role_name(rq->role)));
		json_object_set(a, "args", rq->args);
		if (err)
			json_object_set_new(a, "reason", json_string(err));
	}
	snprintf(msg, sizeof(msg), "fleet command %s by key %s: %s%s%s", rq->cmd[0] ? rq->cmd : "?",
		 rq->key_id[0] ? rq->key_id : "?",
		 v != CMD_OK ? "refused"
		 : ok	     ? "done"
			     : "failed",
		 v != CMD_OK || err ? ": " : "",
		 v != CMD_OK ? why
		 : err	     ? err
			     : "");
	j = ecs_begin_outcome(m->ecs, "event", "authentication", "info", "fleet-command",
			      ok ? "success" : "failure");
	jw_str(j, "message", msg);
	j = ecs_vigil(m->ecs);
	jw_json(j, "fleet", a);
	json_decref(a);
	manager_emit_line(m);
}

/* An accepted request through the local socket's path, as a peer with the key's role. */
static json_t *run(struct manager *m, const struct rcmd_request *rq)
{
	struct control_peer peer = {
	    .uid = 0, .can_read = true, .can_act = rq->role == CMD_ROLE_ACT};
	struct respond_requester who = {.uid = 0, .via = "fleet", .key_id = rq->key_id};
	json_t *req = json_deep_copy(rq->args), *resp;

	json_object_set_new(req, "cmd", json_string(rq->cmd));
	resp = manager_command(m, rq->cmd, req, &peer, &who);
	json_decref(req);
	return resp;
}

static void on_cmd(void *ctx, const char *subject, const char *reply, const char *data, size_t len)
{
	struct manager *m = ctx;
	struct rcmd_request rq;
	char why[512];
	enum rcmd_verdict v =
	    rcmd_verify(m->fleet_guard, data, len, time(NULL), &rq, why, sizeof(why));
	json_t *resp;
	char *out;

	if (v == CMD_OK)
		resp = run(m, &rq);
	else
		resp = json_pack("{s:b, s:s+}", "ok", 0, "error", "refused: ", why);
	audit(m, &rq, v, why, resp);
	rcmd_request_fini(&rq);
	out = json_dumps(resp, JSON_COMPACT);
	json_decref(resp);
	if (out && reply && *reply)
		ship_publish(m->ship, reply, out,
			     strlen(out)); /* not connected: the CLI times out */
	free(out);
}

int fleet_cmd_start(struct manager *m, char *err, size_t errlen)
{
	struct rcmd_keyring *kr;
	char subj[SUBJECT_MAX];
	int r;

	if (!m->ship)
		return 0;
	r = rcmd_keyring_new(&kr);
	if (r == 0)
		r = rcmd_keyring_load_dir(kr, m->cfg->nats_responders, err, errlen);
	if (r < 0)
		return rcmd_keyring_free(kr), r;
	if (!rcmd_keyring_count(kr))
		log_info("fleet commands: no responder keys in %s: every command is refused",
			 m->cfg->nats_responders);
	r = rcmd_guard_new(kr, m->host_name, &m->fleet_guard);
	if (r == 0)
		r = subject_cmd(m->cfg->nats_subject_prefix, m->host_name, subj, sizeof(subj));
	if (r == 0)
		r = ship_subscribe(m->ship, subj, on_cmd, m);
	if (r == -ENOTSUP) { /* no libnats: shipping said so already; nothing to listen on */
		log_warn("fleet commands: not listening on %s: no NATS client", subj);
		return 0;
	}
	if (r < 0)
		snprintf(err, errlen, "fleet commands: cannot listen on %s", subj);
	return r;
}

void fleet_cmd_stop(struct manager *m)
{
	m->fleet_guard = rcmd_guard_free(m->fleet_guard);
}
