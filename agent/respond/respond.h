/* SPDX-License-Identifier: GPL-2.0 */
/*
 * respond.h — the daemon's response stage: alerts in, actions out.
 *
 * Owns: which playbook files the daemon loads (response.playbooks,
 * --playbooks, or the defaults: playbooks/ beside build/ in a source tree,
 * otherwise /usr/share/vigil/playbooks overridden by same-named files in
 * /etc/vigil/playbooks.d) and their reload; running a matching playbook's
 * steps against the alert's process (act.h, contain.h, webhook.h) — checked
 * first to be the process the alert's process.entity_id names, not another
 * one given its pid since;
 * incidents (incident.h); the acting control commands (contain, release)
 * and incidents; an audit event for every action, automatic or not, with
 * who asked for it; reaping operator scripts. Playbook semantics are
 * playbook.h's.
 *
 * Stage respond/: includes any stage but daemon/; does not own the loop or the socket.
 */
#ifndef VIGIL_RESPOND_H
#define VIGIL_RESPOND_H

#include <jansson.h>
#include <sys/types.h>

#include "core/config.h"
#include "stream/ecs.h"
#include "detect/rules.h"
#include "stream/sink.h"

struct responder;

/* pc: the process cache, for the process tree known so far (may be NULL). */
int respond_new(const struct vigil_config *cfg, const struct strv *cli_paths, struct ecs_writer *w,
		struct sinks *sinks, struct proc_cache *pc, const char *cgroup_root,
		struct responder **ret);
struct responder *respond_free(struct responder *r);
/* The containment maps the file probes share (see contain.h). */
void respond_contain_fds(const struct responder *r, int fds[7]);
/* Is any process confined by `vigil exec`? */
bool respond_any_confined(const struct responder *r);
int respond_reload(struct responder *r, const struct vigil_config *cfg, char *err, size_t errlen);
/*
 * An alert was written (line, len: its ECS JSON; alert: the same as an
 * object, borrowed, not parsed again): run the playbooks that want it.
 */
void respond_alert(struct responder *r, const struct rule_meta *meta, const char *line, size_t len,
		   json_t *alert);
/* Who asked for an action by hand (the control socket's peer), for the audit trail. */
struct respond_requester {
	uid_t uid;
	pid_t pid;
	const char *via;    /* NULL: "cli"; "fleet" for a signed remote command */
	const char *key_id; /* the responder key that signed it (fleet), or NULL */
};
/* contain, release, incidents; NULL if cmd is not one of them. */
json_t *respond_command(struct responder *r, const char *cmd, json_t *req,
			const struct respond_requester *who);
/*
 * Once a second: operator scripts that finished or ran out of time; the
 * containment record kept current; on the first tick (after agent-start)
 * what the start could not restore of the containments, as state events.
 */
void respond_tick(struct responder *r);
json_t *respond_stats(struct responder *r);
/* "active" or why kernel containment is unavailable. */
const char *respond_containment(const struct responder *r);
/* Load the playbooks the daemon would use and report problems (vigild --check). */
int respond_check(const struct vigil_config *cfg, const struct strv *cli_paths);

#endif
