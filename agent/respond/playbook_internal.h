/* SPDX-License-Identifier: GPL-2.0 */
/*
 * playbook_internal.h — respond: what playbook_read.c (one item of each
 * kind: a playbook with its match and steps, a webhook endpoint, an egress
 * allowlist) and playbook.c (the set: items collected across files, later
 * names replacing earlier ones, references checked; matching, the gates,
 * replay's dry run) share. Not for other modules: they use playbook.h.
 *
 * Stage respond/: includes any stage but daemon/; does not own the loop or the socket.
 */
#ifndef VIGIL_PLAYBOOK_INTERNAL_H
#define VIGIL_PLAYBOOK_INTERNAL_H

#include "core/ytree.h"
#include "respond/playbook.h"

struct reader {
	unsigned flags;
	struct rules_diag *diag;
	const struct ydoc *doc;
	struct playbook_set *set;
};

#define err_at(rd, n, ...) \
	diag_report((rd)->diag, true, (rd)->doc, (n)->line, (n)->col, __VA_ARGS__)

/*
 * One item into *ret (zeroed by the caller); errors reported at their
 * file:line:col. pbr_read_playbook returns 1 for a disabled playbook.
 */
int pbr_read_playbook(struct reader *rd, const struct ynode *m, struct playbook *pb);
int pbr_read_webhook(struct reader *rd, const struct ynode *m, struct webhook_def *w);
int pbr_read_egress(struct reader *rd, const struct ynode *m, struct egress_allowlist *e);
void pbr_playbook_fini(struct playbook *pb);

#endif
