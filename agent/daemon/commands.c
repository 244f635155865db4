// SPDX-License-Identifier: GPL-2.0
/* commands.c — what vigild answers on its control socket and the fleet's command subject. */
#include <jansson.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "daemon/commands.h"
#include "daemon/health.h"
#include "daemon/manager.h"
#include "daemon/models.h"
#include "detect/detect.h"
#include "respond/respond.h"
#include "stream/ecs.h"
#include "stream/sink.h"
#include "sense/workload_watch.h"

#define EVENTS_REPLY_BYTES (1u << 20)

struct recent_reply {
	json_t *lines;
	size_t bytes;
	bool more; /* cut at EVENTS_REPLY_BYTES */
};

/* Lines up to EVENTS_REPLY_BYTES (one at least): the rest comes with the next call. */
static bool add_line(void *ctx, const char *line, size_t len)
{
	struct recent_reply *rr = ctx;

	if (rr->bytes && rr->bytes + len > EVENTS_REPLY_BYTES) {
		rr->more = true;
		return false;
	}
	rr->bytes += len;
	json_array_append_new(rr->lines, json_stringn(line, len));
	return true;
}

/* `vigil events`: lines after cursor `after` (0: the last `max`), the next cursor, more to come. */
static json_t *recent_events(struct manager *m, json_t *req)
{
	json_int_t after = json_integer_value(json_object_get(req, "after"));
	json_int_t max = json_integer_value(json_object_get(req, "max"));
	struct recent_reply rr = {json_array(), 0, false};
	uint64_t missed, next;

	if (max <= 0 || max > 1000)
		max = 1000;
	if (!json_object_get(req, "after"))
		after = m->sinks.lines > (uint64_t)max ? (json_int_t)(m->sinks.lines - max) : 0;
	if (after < 0)
		after = 0;
	next = sinks_recent(&m->sinks, after, max, add_line, &rr, &missed);
	return json_pack("{s:b, s:o, s:I, s:I, s:b}", "ok", 1, "lines", rr.lines, "next",
			 (json_int_t)next, "missed", (json_int_t)missed, "more", rr.more);
}

/* `vigil status`: the counters, what runs and how, the stream's position. */
static json_t *status_reply(struct manager *m)
{
	json_t *r = health_counters_json(m);

	json_object_set_new(r, "ok", json_true());
	json_object_set_new(r, "version", json_string(VIGIL_VERSION));
	json_object_set_new(r, "pid", json_integer(getpid()));
	json_object_set_new(
	    r, "uptime_s",
	    json_integer((clock_ns(CLOCK_BOOTTIME) - m->started_boot_ns) / 1000000000ull));
	json_object_set_new(r, "features", health_features_json(m));
	json_object_set_new(r, "events_file", json_string(m->cfg->events_file));
	json_object_set_new(r, "next_sequence", json_integer(ecs_next_sequence(m->ecs)));
	json_object_set_new(r, "workload_watches", workload_watch_json(m->ww));
	return r;
}

json_t *manager_command(struct manager *m, const char *cmd, json_t *req,
			const struct control_peer *peer, const struct respond_requester *who)
{
	json_t *r;

	if (!strcmp(cmd, "rules-reload"))
		return manager_reload_rules(m, peer);
	if (!strcmp(cmd, "events"))
		return recent_events(m, req);
	if (!strcmp(cmd, "bom"))
		return models_bom(m);
	if ((r = respond_command(m->respond, cmd, req, who)))
		return r;
	if (strcmp(cmd, "status"))
		return json_pack("{s:b, s:s}", "ok", 0, "error", "unknown command");
	return status_reply(m);
}

json_t *manager_on_command(void *ctx, const char *cmd, json_t *req, const struct control_peer *peer)
{
	return manager_command(ctx, cmd, req, peer,
			       &(struct respond_requester){peer->uid, peer->pid});
}

/* SIGHUP (peer NULL) or `vigil rules reload`: recorded in the stream either way. */
json_t *manager_reload_rules(struct manager *m, const struct control_peer *peer)
{
	char err[512] = "";
	int r = detect_reload(m->detect, m->cfg, err, sizeof(err));

	if (r == 0)
		r = respond_reload(m->respond, m->cfg, err, sizeof(err));
	json_t *st = detect_stats(m->detect);
	json_t *who = json_pack("{s:s}", "via", peer ? "cli" : "sighup");
	json_t *a = json_pack("{s:O, s:o}", "rules", st, "by", who);

	if (peer) {
		json_object_set_new(who, "uid", json_integer(peer->uid));
		json_object_set_new(who, "pid", json_integer(peer->pid));
	}
	if (r < 0) {
		log_error("rules reload failed, keeping the running rules: %s", err);
		json_object_set_new(a, "error", json_string(err));
	}
	health_emit(m, "state", "change", r < 0 ? "rules-reload-failed" : "rules-reload", a);
	if (r < 0) {
		json_decref(st);
		return json_pack("{s:b, s:s}", "ok", 0, "error", err);
	}
	a = json_pack("{s:b, s:O}", "ok", 1, "rules", json_object_get(st, "rules"));
	json_decref(st);
	return a;
}
