/* SPDX-License-Identifier: GPL-2.0 */
/*
 * probe_select.h — which variant of each family of probes loads.
 *
 * Owns: the families whose programs exist in more than one variant (opens;
 * renames, unlinks, chmods, truncates, links; ptrace and process_vm_*),
 * their programs for each mechanism (BPF-LSM, fexit on the syscall
 * wrappers, exit-only syscall tracepoints), the best mechanism given the
 * start-up probes' results, and the autoload flags that make a family one
 * mechanism whole: none of a family's tracepoints is attached when its LSM
 * or fexit programs are. Loading and attaching are probes.c's.
 *
 * Stage sense/: includes core/ only; does not write the stream, decide alerts or act.
 */
#ifndef VIGIL_PROBE_SELECT_H
#define VIGIL_PROBE_SELECT_H

#include <bpf/libbpf.h>
#include <stdbool.h>
#include <stddef.h>

enum probe_family { FAM_OPEN, FAM_CHANGE, FAM_PTRACE, FAM_NR };
enum probe_mech { MECH_TRACEPOINT, MECH_FEXIT, MECH_LSM };

struct probe_choice {
	enum probe_mech mech[FAM_NR];
};

/* The cheapest mechanism for each family that the probes found (BPF-LSM: opens only). */
void probe_choose(struct probe_choice *c, bool lsm, bool fentry);
/*
 * One step down for the families of obj, after a load failed: those on
 * BPF-LSM to fexit (where fentry is on) or their tracepoints, else those on
 * fexit to their tracepoints. Returns the mechanism given up (1 << MECH_*),
 * 0 when all are on tracepoints already: nothing left to retry.
 */
unsigned probe_choice_step_down(struct probe_choice *c, struct bpf_object *obj, bool fentry);
/*
 * Set the autoload flag of every program of the families obj holds, per c.
 * An fexit program whose syscall the kernel lacks (no such function in its
 * BTF) stays off: its return is the number of those (skipped probes).
 */
unsigned probe_select(struct bpf_object *obj, const struct probe_choice *c);
/* "lsm(file_open),fexit(renames/unlinks/chmods,ptrace)," for `vigil status`; "" if none. */
void probe_choice_describe(const struct probe_choice *c, char *buf, size_t len);
/* Is some family still on the syscall tracepoints? */
bool probe_choice_uses_tracepoints(const struct probe_choice *c);

#endif
