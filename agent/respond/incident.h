/* SPDX-License-Identifier: GPL-2.0 */
/*
 * incident.h — incident records: one JSON file per incident.
 *
 * Owns: the directory (state_dir/incidents, 0700), ids
 * ("YYYYMMDDTHHMMSSZ-NNNN", sortable, unique within a run and across runs),
 * the record's shape (id, opened, updated, status, source, title,
 * alerts[], steps[], evidence[], containment) and writing it atomically
 * (temporary file, fsync, rename) on every change, by a writer thread
 * rather than the event loop: a save is durable once the thread has written
 * it (milliseconds; closing waits for every one); reading sees queued saves,
 * listing waits for them.
 *
 * Stage respond/: includes any stage but daemon/; does not own the loop or the socket.
 */
#ifndef VIGIL_INCIDENT_H
#define VIGIL_INCIDENT_H

#include <jansson.h>

struct incidents;

int incidents_open(const char *dir, struct incidents **ret);
struct incidents *incidents_close(struct incidents *s);
const char *incidents_dir(const struct incidents *s);
/* A new record (not yet saved): source "playbook" or "cli". */
json_t *incident_new(struct incidents *s, const char *source, const char *title);
/* Stamp `updated` and write it out. */
int incident_save(struct incidents *s, json_t *inc);
/* Read one back; NULL if there is no such id (ids are checked: no paths). */
json_t *incident_load(struct incidents *s, const char *id);
/* Summaries, newest first, at most max. */
json_t *incident_list(struct incidents *s, unsigned max);
/* Append to one of the record's arrays ("alerts", "steps", "evidence"). */
void incident_append(json_t *inc, const char *array, json_t *item);

#endif
