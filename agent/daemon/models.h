/* SPDX-License-Identifier: GPL-2.0 */
/*
 * models.h — daemon: the model inventory wired into vigild.
 *
 * Owns: the inventory, the hasher and the approved list as the daemon runs
 * them: each sniffed model load recorded (the workload from the process
 * cache), digests from content-addressed names and from the hasher, the
 * `model-inventory` state events (a new model, a new (model, workload) pair,
 * a digest established), the model-finding events the rules turn into
 * alerts (VGL-0029 pickle callable, VGL-0030 unapproved, VGL-0031 tampered
 * blob), the state file (<state_dir>/inventory.json), the `bom` control
 * command and the status counters. docs/inventory.md is the user's view.
 *
 * Stage daemon/: the top; wires the stages and owns no detection or response logic.
 */
#ifndef VIGIL_MODELS_H
#define VIGIL_MODELS_H

#include <jansson.h>

#include "core/config.h"
#include "sense/sniff.h"

struct manager;
struct models;

/* vigild --check: the approved lists load (one line on stderr if not). */
int models_check(const struct vigil_config *cfg);
/* After the sniffer and the state dir exist: the state read back, approvals loaded. */
int models_new(struct manager *m);
/* Saves the inventory (if it changed) and frees everything. */
void models_free(struct manager *m);
/* A sniffed model load (after its model-format event); takes j->detail. */
void models_sniffed(struct manager *m, struct sniff_job *j);
/* The 1 s tick: hashes that finished, and the state file when it changed. */
void models_tick(struct manager *m);
/* The `bom` control command's answer. */
json_t *models_bom(struct manager *m);
/* For status and heartbeats: size, hashing backlog, findings. */
json_t *models_stats(struct manager *m);

#endif
