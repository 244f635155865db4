// SPDX-License-Identifier: GPL-2.0
/*
 * Which variant of each probe family loads: against the real BPF objects
 * (opened, not loaded), for every combination of the start-up probes'
 * results; and, as root, the fexit and BPF-LSM programs' bodies through the
 * verifier of this kernel (which refuses both kinds) by loading them
 * retargeted to tracepoints whose arguments are the same as theirs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/btf.h>

#include "file.skel.h"
#include "process.skel.h"
#include "sense/probe_select.h"

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* The syscall a family program is for, from its section: "sys_exit_X", ".._sys_X", "lsm/X". */
static const char *syscall_of(struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog), *at;

	if (starts(sec, "tracepoint/syscalls/sys_exit_"))
		return sec + strlen("tracepoint/syscalls/sys_exit_");
	if (starts(sec, "fexit/") && (at = strstr(sec, "_sys_")))
		return at + strlen("_sys_");
	return NULL;
}

static enum probe_family family_of(struct bpf_object *obj, struct bpf_program *prog)
{
	const char *sys = syscall_of(prog);

	if (starts(bpf_program__section_name(prog), "lsm/"))
		return FAM_OPEN;
	if (!strcmp(bpf_object__name(obj), "process_bpf"))
		return FAM_PTRACE;
	return starts(sys, "open") || !strcmp(sys, "creat") ? FAM_OPEN : FAM_CHANGE;
}

/* Has this kernel the syscall wrapper an fexit program attaches to? (arm64 has no open, unlink…) */
static bool kernel_has(const struct btf *vmlinux, struct bpf_program *prog)
{
	const char *fn = strchr(bpf_program__section_name(prog), '/') + 1;

	return btf__find_by_name_kind(vmlinux, fn, BTF_KIND_FUNC) > 0;
}

/*
 * Every syscall tracepoint of the object (the seccomp check is tp_btf) loads
 * exactly when its family is on tracepoints, every fexit program when it is
 * on fexit (and the kernel has its syscall), the LSM program when on LSM; the
 * rest keeps its default. Returns the fexit programs left off for a missing
 * syscall.
 */
static unsigned check_object(struct bpf_object *obj, const struct probe_choice *c)
{
	struct bpf_program *prog;
	unsigned syscall_tps = 0, fexits = 0, missing = 0;
	struct btf *vmlinux = btf__load_vmlinux_btf();

	assert_non_null(vmlinux);

	bpf_object__for_each_program (prog, obj) {
		const char *sec = bpf_program__section_name(prog);
		enum probe_family f;

		if (!syscall_of(prog) && !starts(sec, "lsm/"))
			continue;
		f = family_of(obj, prog);
		if (starts(sec, "tracepoint/")) {
			syscall_tps++;
			assert_int_equal(bpf_program__autoload(prog),
					 c->mech[f] == MECH_TRACEPOINT);
		} else if (starts(sec, "fexit/")) {
			bool on = c->mech[f] == MECH_FEXIT && kernel_has(vmlinux, prog);

			fexits++;
			missing += c->mech[f] == MECH_FEXIT && !on;
			assert_int_equal(bpf_program__autoload(prog), on);
		} else {
			assert_int_equal(bpf_program__autoload(prog), c->mech[f] == MECH_LSM);
		}
	}
	/* each syscall tracepoint has its fexit twin: a family on fexit leaves none behind */
	assert_true(syscall_tps > 0);
	assert_int_equal(syscall_tps, fexits);
	btf__free(vmlinux);
	return missing;
}

static void check_choice(bool lsm, bool fentry)
{
	struct vigil_file *f = vigil_file__open();
	struct vigil_process *p = vigil_process__open();
	struct probe_choice c;
	unsigned missing;

	assert_non_null(f);
	assert_non_null(p);
	probe_choose(&c, lsm, fentry);
	missing = probe_select(f->obj, &c);
	assert_int_equal(missing, check_object(f->obj, &c));
	missing = probe_select(p->obj, &c);
	assert_int_equal(missing, check_object(p->obj, &c));
	assert_true(bpf_program__autoload(p->progs.exec_btf)); /* not a family's: untouched */
	vigil_file__destroy(f);
	vigil_process__destroy(p);
}

static void test_probe_choose_best_mechanism(void **state)
{
	struct probe_choice c;

	probe_choose(&c, true, true);
	assert_int_equal(c.mech[FAM_OPEN], MECH_LSM);
	assert_int_equal(c.mech[FAM_CHANGE], MECH_FEXIT);
	assert_int_equal(c.mech[FAM_PTRACE], MECH_FEXIT);
	probe_choose(&c, true, false);
	assert_int_equal(c.mech[FAM_OPEN], MECH_LSM);
	assert_int_equal(c.mech[FAM_CHANGE], MECH_TRACEPOINT);
	probe_choose(&c, false, true);
	assert_int_equal(c.mech[FAM_OPEN], MECH_FEXIT);
	probe_choose(&c, false, false);
	for (int i = 0; i < FAM_NR; i++)
		assert_int_equal(c.mech[i], MECH_TRACEPOINT);
	assert_true(probe_choice_uses_tracepoints(&c));
}

static void test_probe_select_families_whole(void **state)
{
	check_choice(false, false);
	check_choice(true, false);
	check_choice(false, true);
	check_choice(true, true);
}

static void test_probe_select_no_syscall_tracepoint_with_fexit(void **state)
{
	struct probe_choice c;
	char buf[64];

	probe_choose(&c, false, true);
	assert_false(probe_choice_uses_tracepoints(&c));
	probe_choice_describe(&c, buf, sizeof(buf));
	assert_string_equal(buf, "fexit(opens,renames/unlinks/chmods,ptrace),");
	probe_choose(&c, true, true);
	probe_choice_describe(&c, buf, sizeof(buf));
	assert_string_equal(buf, "lsm(file_open),fexit(renames/unlinks/chmods,ptrace),");
	probe_choose(&c, false, false);
	probe_choice_describe(&c, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

/* A failed load takes the object's families, and only those, one mechanism down. */
static void test_probe_choice_step_down(void **state)
{
	struct vigil_file *f = vigil_file__open();
	struct probe_choice c;

	assert_non_null(f);
	probe_choose(&c, true, true);
	assert_int_equal(probe_choice_step_down(&c, f->obj, true), 1u << MECH_LSM);
	assert_int_equal(c.mech[FAM_OPEN], MECH_FEXIT); /* the name changes stay on fexit */
	assert_int_equal(c.mech[FAM_CHANGE], MECH_FEXIT);
	assert_int_equal(probe_choice_step_down(&c, f->obj, true), 1u << MECH_FEXIT);
	assert_int_equal(c.mech[FAM_OPEN], MECH_TRACEPOINT);
	assert_int_equal(c.mech[FAM_CHANGE], MECH_TRACEPOINT);
	assert_int_equal(c.mech[FAM_PTRACE], MECH_FEXIT);	       /* the process object's */
	assert_int_equal(probe_choice_step_down(&c, f->obj, true), 0); /* nothing left to retry */
	probe_choose(&c, true, false);
	assert_int_equal(probe_choice_step_down(&c, f->obj, false), 1u << MECH_LSM);
	assert_int_equal(c.mech[FAM_OPEN], MECH_TRACEPOINT); /* no fexit to step to */
	vigil_file__destroy(f);
}

/* prog as a tp_btf program on tracepoint tp, whose arguments are its own. */
static void retarget(struct bpf_program *prog, const char *tp)
{
	bpf_program__set_autoload(prog, true);
	assert_int_equal(bpf_program__set_type(prog, BPF_PROG_TYPE_TRACING), 0);
	assert_int_equal(bpf_program__set_expected_attach_type(prog, BPF_TRACE_RAW_TP), 0);
	assert_int_equal(bpf_program__set_attach_target(prog, 0, tp), 0);
}

/* Only the fexit programs, each as a tp_btf/sys_exit program: (regs, ret) either way. */
static int load_retargeted(struct bpf_object *obj, struct bpf_program *lsm)
{
	struct bpf_program *prog;
	unsigned n = 0;

	bpf_object__for_each_program (prog, obj) {
		bpf_program__set_autoload(prog, false);
		if (starts(bpf_program__section_name(prog), "fexit/")) {
			retarget(prog, "sys_exit");
			n++;
		}
	}
	assert_true(n > 0);
	/*
	 * The BPF-LSM open too, where ext4 is built in: its tracepoint
	 * ext4_sync_file_enter has the hook's (struct file *, int).
	 */
	if (lsm && libbpf_find_vmlinux_btf_id("ext4_sync_file_enter", BPF_TRACE_RAW_TP) > 0)
		retarget(lsm, "ext4_sync_file_enter");
	else if (lsm)
		fprintf(stderr, "the BPF-LSM open: no ext4_sync_file_enter here, not verified\n");
	bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, "recs"),
				 libbpf_num_possible_cpus());
	return bpf_object__load(obj);
}

static void test_fexit_and_lsm_bodies_pass_the_verifier(void **state)
{
	struct vigil_file *f;
	struct vigil_process *p;

	if (geteuid() != 0) {
		fprintf(stderr, "fexit bodies: not root, the verifier check is skipped\n");
		skip();
	}
	f = vigil_file__open();
	p = vigil_process__open();
	assert_non_null(f);
	assert_non_null(p);
	assert_int_equal(load_retargeted(f->obj, f->progs.lsm_file_open), 0);
	assert_int_equal(load_retargeted(p->obj, NULL), 0);
	vigil_file__destroy(f);
	vigil_process__destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_probe_choose_best_mechanism),
	    cmocka_unit_test(test_probe_select_families_whole),
	    cmocka_unit_test(test_probe_select_no_syscall_tracepoint_with_fexit),
	    cmocka_unit_test(test_probe_choice_step_down),
	    cmocka_unit_test(test_fexit_and_lsm_bodies_pass_the_verifier),
	};

	libbpf_set_print(NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
