// SPDX-License-Identifier: GPL-2.0
/* probe_select.c — the variant each family of probes loads (see probe_select.h). */
#include <bpf/btf.h>
#include <string.h>

#include "sense/probe_select.h"
#include "core/util.h"

/* One syscall's exit tracepoint and its fexit twin (program names in bpf/). */
struct twin {
	const char *tp, *fexit;
};

static const struct twin open_twins[] = {
    {"exit_openat", "fx_openat"},
    {"exit_open", "fx_open"},
    {"exit_openat2", "fx_openat2"},
    {"exit_creat", "fx_creat"},
};

static const struct twin change_twins[] = {
    {"exit_unlink", "fx_unlink"},	{"exit_unlinkat", "fx_unlinkat"},
    {"exit_rename", "fx_rename"},	{"exit_renameat", "fx_renameat"},
    {"exit_renameat2", "fx_renameat2"}, {"exit_truncate", "fx_truncate"},
    {"exit_chmod", "fx_chmod"},		{"exit_fchmodat", "fx_fchmodat"},
    {"exit_fchmodat2", "fx_fchmodat2"}, {"exit_link", "fx_link"},
    {"exit_linkat", "fx_linkat"},	{"exit_symlink", "fx_symlink"},
    {"exit_symlinkat", "fx_symlinkat"}, {"exit_ftruncate", "fx_ftruncate"},
    {"exit_fchmod", "fx_fchmod"},
};

static const struct twin ptrace_twins[] = {
    {"handle_ptrace_exit", "fx_ptrace"},
    {"handle_vm_readv_exit", "fx_vm_readv"},
    {"handle_vm_writev_exit", "fx_vm_writev"},
};

static const struct family {
	const char *label; /* in `vigil status` mechanisms */
	const struct twin *twins;
	size_t ntwins;
	const char *lsm; /* the BPF-LSM program, if the family has one */
} families[FAM_NR] = {
    [FAM_OPEN] = {"opens", open_twins, ARRAY_SIZE(open_twins), "lsm_file_open"},
    [FAM_CHANGE] = {"renames/unlinks/chmods", change_twins, ARRAY_SIZE(change_twins), NULL},
    [FAM_PTRACE] = {"ptrace", ptrace_twins, ARRAY_SIZE(ptrace_twins), NULL},
};

void probe_choose(struct probe_choice *c, bool lsm, bool fentry)
{
	for (int f = 0; f < FAM_NR; f++)
		c->mech[f] = lsm && families[f].lsm ? MECH_LSM
			     : fentry		    ? MECH_FEXIT
						    : MECH_TRACEPOINT;
}

/* Is family f in obj (its first tracepoint is)? */
static bool holds(struct bpf_object *obj, int f)
{
	return bpf_object__find_program_by_name(obj, families[f].twins[0].tp) != NULL;
}

unsigned probe_choice_step_down(struct probe_choice *c, struct bpf_object *obj, bool fentry)
{
	enum probe_mech from = MECH_TRACEPOINT;

	for (int f = 0; f < FAM_NR; f++)
		if (holds(obj, f) && c->mech[f] > from)
			from = c->mech[f];
	if (from == MECH_TRACEPOINT)
		return 0;
	for (int f = 0; f < FAM_NR; f++)
		if (holds(obj, f) && c->mech[f] == from)
			c->mech[f] = from == MECH_LSM && fentry ? MECH_FEXIT : MECH_TRACEPOINT;
	return 1u << from;
}

bool probe_choice_uses_tracepoints(const struct probe_choice *c)
{
	for (int f = 0; f < FAM_NR; f++)
		if (c->mech[f] == MECH_TRACEPOINT)
			return true;
	return false;
}

/* Has the running kernel the function this fexit program attaches to ("fexit/<fn>")? */
static bool target_exists(struct bpf_program *prog, struct btf **vmlinux)
{
	const char *sec = bpf_program__section_name(prog), *fn = strchr(sec, '/');

	if (!*vmlinux)
		*vmlinux = btf__load_vmlinux_btf();
	if (!fn || !*vmlinux)
		return false; /* no BTF: no fexit either (the probe said so first) */
	return btf__find_by_name_kind(*vmlinux, fn + 1, BTF_KIND_FUNC) > 0;
}

static void set_autoload(struct bpf_object *obj, const char *name, bool on)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, name);

	if (prog)
		bpf_program__set_autoload(prog, on);
}

unsigned probe_select(struct bpf_object *obj, const struct probe_choice *c)
{
	struct btf *vmlinux = NULL;
	unsigned missing = 0;

	for (int f = 0; f < FAM_NR; f++) {
		const struct family *fam = &families[f];

		if (!holds(obj, f))
			continue;
		if (fam->lsm)
			set_autoload(obj, fam->lsm, c->mech[f] == MECH_LSM);
		for (size_t i = 0; i < fam->ntwins; i++) {
			struct bpf_program *fx =
			    bpf_object__find_program_by_name(obj, fam->twins[i].fexit);
			bool on = c->mech[f] == MECH_FEXIT && fx && target_exists(fx, &vmlinux);

			set_autoload(obj, fam->twins[i].tp, c->mech[f] == MECH_TRACEPOINT);
			if (fx)
				bpf_program__set_autoload(fx, on);
			missing += c->mech[f] == MECH_FEXIT && !on;
		}
	}
	btf__free(vmlinux);
	return missing;
}

void probe_choice_describe(const struct probe_choice *c, char *buf, size_t len)
{
	size_t n = 0;
	bool fexit = false;

	buf[0] = 0;
	if (c->mech[FAM_OPEN] == MECH_LSM)
		n += snprintf(buf, len, "lsm(file_open),");
	for (int f = 0; f < FAM_NR && n < len; f++) {
		if (c->mech[f] != MECH_FEXIT)
			continue;
		n += snprintf(buf + n, len - n, "%s%s", fexit ? "," : "fexit(", families[f].label);
		fexit = true;
	}
	if (fexit && n < len)
		snprintf(buf + n, len - n, "),");
}
