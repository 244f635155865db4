/* SPDX-License-Identifier: GPL-2.0 */
/*
 * derive.h — replay of another collector's ECS stream (auditbeat, Elastic
 * Defend…): re-derive on each line the vigil.* fields vigild would have
 * written, and mark the rest unknown, so rules neither miss what the line
 * shows nor fire on an exemption that is only missing.
 *
 * Owns: telling vigil's own lines (agent.type or event.module "vigil":
 * taken as written) from foreign ones; on a foreign line: vigil's action
 * from event.category / event.type (and the rename words) when
 * event.action is not one of vigil's; file.name/directory/extension from
 * file.path; vigil.file.kind from the extension and path lists vigild
 * watches (config watch.*); vigil.file.access from event.type;
 * vigil.file.new_path for a rename (ECS file.path is the file as it is
 * after the event); the process tree (vigil.process.ancestors.*) from
 * process.parent.entity_id (or process.parent.pid) over the lines seen so
 * far, plus process.parent.*; vigil.workload.inference and
 * inference_tree from the same selectors vigild uses (enrich.c). A field
 * that could not be derived is set unknown in the view (fields.h); what
 * was derived and what was not is reported per line. Replay only: vigild
 * never runs this.
 *
 * Stage detect/: includes core/, sense/, stream/; does not act: no signals, cells, webhooks.
 */
#ifndef VIGIL_DERIVE_H
#define VIGIL_DERIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "detect/fields.h"

#define FIELD_WORDS ((F__COUNT + 63) / 64)

/* What one line needed. */
struct derive_line {
	bool foreign;
	uint64_t derived[FIELD_WORDS]; /* fields given a value by derivation */
	uint64_t unknown[FIELD_WORDS]; /* vigil.* fields rules name that stay unknown */
};

struct derive_stats {
	uint64_t foreign, action_derived, action_unknown, procs_dropped;
	uint64_t derived[F__COUNT], unknown[F__COUNT]; /* lines, per field */
};

struct derive;

/*
 * cfg: the watch lists and workload selectors (kept, not copied).
 * wanted: the fields the rules name (only those are reported unknown).
 */
int derive_new(const struct vigil_config *cfg, const uint64_t *wanted, struct derive **ret);
struct derive *derive_free(struct derive *d);
/*
 * Complete v (filled by json_view from one line) in place. Derived strings
 * go to v's scratch. Returns what was done in *ret.
 */
void derive_fill(struct derive *d, struct rule_view *v, struct derive_line *ret);
const struct derive_stats *derive_stats(const struct derive *d);
/* The vigil.* fields replay can never derive from plain ECS (for rules check --portable). */
void derive_never(uint64_t *ret);

static inline bool field_bit(const uint64_t *b, enum field_id f)
{
	return (b[f / 64] >> (f % 64)) & 1;
}
static inline void field_set(uint64_t *b, enum field_id f)
{
	b[f / 64] |= 1ull << (f % 64);
}

#endif
