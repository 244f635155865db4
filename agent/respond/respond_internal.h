/* SPDX-License-Identifier: GPL-2.0 */
/*
 * respond_internal.h — respond: what respond.c (loading, alerts → playbooks,
 * the tick), respond_steps.c (running one step, the audit trail) and
 * respond_cmd.c (the responder's control commands) share. Not for other
 * stages: they use respond.h.
 *
 * Stage respond/: includes any stage but daemon/; does not own the loop or the socket.
 */
#ifndef VIGIL_RESPOND_INTERNAL_H
#define VIGIL_RESPOND_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "respond/act.h"
#include "respond/playbook.h"
#include "respond/respond.h"

#define SYSTEM_PLAYBOOKS      "/usr/share/vigil/playbooks"
#define LOCAL_PLAYBOOKS	      "/etc/vigil/playbooks.d"
#define OPEN_INCIDENTS	      256 /* playbook+target → incident, for de-duplicated alerts */
#define EXECS_MAX	      64
#define SNAPSHOT_TIMEOUT_MS   60000
#define SNAPSHOT_EXIT_WAIT_MS 2000

struct open_incident {
	char key[160];
	char id[48];
	uint64_t at_ms;
};

/* Slow work off the event loop: an operator script (a child) or a snapshot (a thread). */
struct running_exec {
	pid_t pid;		  /* the script; 0 for a snapshot */
	struct snapshot_job *job; /* the snapshot's hashing */
	uint64_t deadline_ms;
	char incident[48];
	char argv0[256]; /* the script, or the evidence directory */
	bool snapshot;
	bool killed;
};

struct responder {
	struct ecs_writer *w;
	struct proc_cache *pc;
	struct sinks *sinks;
	struct playbook_set *set;
	struct strv paths;
	bool paths_from_cli;
	struct contain *contain;
	struct webhooks *hooks;
	struct incidents *incidents;
	struct strv protected;
	struct guard guard;
	struct open_incident open[OPEN_INCIDENTS];
	unsigned nopen;
	struct running_exec execs[EXECS_MAX];
	unsigned nexecs;
	bool problems_reported; /* contain_problems_json is in the stream */
	uint64_t alerts_seen, runs, deduplicated, rate_limited, actions, action_failures;
};

/* Who asked, about what: the context of one run of steps. */
struct run {
	const char *via;    /* "playbook", "cli" or "fleet" */
	const char *key_id; /* fleet: the responder key that signed the command */
	const char *playbook;
	uid_t uid;
	pid_t by_pid;
	bool dry_run;
	json_t *inc;
	json_t *alert; /* parsed alert, NULL for CLI runs */
	const char *line;
	size_t len;
	pid_t pid, ppid;
	const char *entity; /* CLI: the target's process.entity_id, when the request names it */
	const char *cgroup; /* CLI --cgroup */
	uint64_t t0_ns;	    /* when the run started (latency) */
};

/* An audit event for one action (automatic or by hand): who, what, the result. */
void respond_audit(struct responder *r, const struct run *run, const char *action,
		   const char *category, const char *type, json_t *res);
/* A step's result object, and marking it failed (returns e). */
json_t *respond_step_result(const char *action, pid_t pid, const char *scope, const char *cgroup);
int respond_step_fail(json_t *res, int e, const char *err);
/* Run one step of a playbook (or of a command) against run's target; audited. */
int respond_run_step(struct responder *r, const struct run *run, const struct pb_step *st);

#endif
