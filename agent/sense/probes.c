// SPDX-License-Identifier: GPL-2.0
/* probes.c — the kernel programs: probed, loaded, attached, drained. */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "file.compat.skel.h"
#include "net.compat.skel.h"
#include "probe.skel.h"
#include "process.compat.skel.h"
#include "sense/cgroup.h"
#include "core/log.h"
#include "sense/probes_internal.h"
#include "core/util.h"

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return log_libbpf(level == LIBBPF_WARN ? 0 : 1, fmt, ap);
}

/*
 * VIGIL_FORCE_FEATURES="lsm=1,fentry=0,typed_loads=0" forces probe results, so
 * that tests run either side of each choice on one kernel: 1 or 0, -1 if not
 * forced. A forced "available" the kernel refuses must fall back.
 */
static int forced_feature(const char *name)
{
	const char *s = getenv("VIGIL_FORCE_FEATURES"), *at = s;
	size_t n = strlen(name);

	for (; at && (at = strstr(at, name)); at += n)
		if ((at == s || at[-1] == ',') && at[n] == '=')
			return at[n + 1] == '1';
	return -1;
}

static bool feature_on(const char *result)
{
	return !strncmp(result, "available", strlen("available"));
}

/*
 * Try to load (and where `attach`, attach) one program of probe.bpf.c: the
 * only honest test. `name` is the feature's name in VIGIL_FORCE_FEATURES.
 */
static void probe_feature(const char *prog_name, const char *name, bool attach, char *out,
			  size_t len)
{
	struct vigil_probe *skel;
	struct bpf_program *prog;
	struct bpf_link *link;
	int r, forced = forced_feature(name);

	if (forced >= 0) {
		snprintf(out, len, "%s (forced)", forced ? "available" : "unavailable");
		return;
	}
	skel = vigil_probe__open();
	if (!skel) {
		snprintf(out, len, "unavailable (%s)", strerror(errno));
		return;
	}
	libbpf_set_print(NULL); /* an expected refusal is not a warning */
	bpf_object__for_each_program (prog, skel->obj)
		bpf_program__set_autoload(prog, !strcmp(bpf_program__name(prog), prog_name));
	r = vigil_probe__load(skel);
	if (r) {
		snprintf(out, len, "unavailable (load: %s)", strerror(-r));
		goto out;
	}
	prog = bpf_object__find_program_by_name(skel->obj, prog_name);
	link = attach ? bpf_program__attach(prog) : NULL;
	if (!attach) {
		snprintf(out, len, "available");
		goto out;
	}
	if (!link) {
		snprintf(out, len, "unavailable (attach: %s)", strerror(errno));
		goto out;
	}
	bpf_link__destroy(link);
	snprintf(out, len, "available");
out:
	vigil_probe__destroy(skel);
	libbpf_set_print(libbpf_print);
}

/* Syscall tracepoints are found through tracefs: mount it where it is missing. */
static void ensure_tracefs(void)
{
	if (access("/sys/kernel/tracing/events", F_OK) == 0 ||
	    access("/sys/kernel/debug/tracing/events", F_OK) == 0)
		return;
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) < 0)
		log_warn_errno(
		    -errno, "tracefs is not mounted and mounting it at /sys/kernel/tracing failed");
}

/* Attach each program on its own: a syscall this kernel lacks skips one probe, not all. */
static void attach_all(struct probes *p, struct bpf_object *obj)
{
	struct bpf_program *prog;

	bpf_object__for_each_program (prog, obj) {
		enum bpf_attach_type t = bpf_program__expected_attach_type(prog);
		struct bpf_link *link;

		if (!bpf_program__autoload(prog))
			continue; /* the other variant of a probe */
		if (prog == p->proc->progs.seccomp_check)
			continue; /* attached only while a process is confined */
		if (p->net && (prog == p->net->progs.udp_sent || prog == p->net->progs.udp_release))
			continue; /* a pair: see attach_udp_send */
		if (t == BPF_CGROUP_INET4_CONNECT || t == BPF_CGROUP_INET6_CONNECT ||
		    t == BPF_CGROUP_UDP4_SENDMSG || t == BPF_CGROUP_UDP6_SENDMSG ||
		    t == BPF_CGROUP_INET_SOCK_RELEASE)
			link = bpf_program__attach_cgroup(prog, p->cgroup_fd);
		else
			link = bpf_program__attach(prog);
		if (!link) {
			log_warn("probe %s not attached: %s", bpf_program__name(prog),
				 strerror(errno));
			p->info.skipped++;
			continue;
		}
		p->info.attached++;
		if (p->nlinks < MAX_LINKS)
			p->links[p->nlinks++] = link;
	}
}

/*
 * A UDP connect is reported at its socket's first send, and a connect that
 * sent nothing not at all, only while both halves are attached: with one
 * missing, connects are reported when made (udp_on_send stays 0).
 */
static void attach_udp_send(struct probes *p)
{
	struct bpf_link *sent = NULL, *rel = NULL;

	if (!bpf_program__autoload(p->net->progs.udp_sent)) {
		log_warn("no sock_send_length tracepoint (kernels before 6.3): UDP connects "
			 "reported when made, data or not");
		p->info.skipped += 2;
		return;
	}
	if (p->cgroup_fd >= 0 && p->nlinks + 2 <= MAX_LINKS) {
		sent = bpf_program__attach(p->net->progs.udp_sent);
		rel = sent ? bpf_program__attach_cgroup(p->net->progs.udp_release, p->cgroup_fd)
			   : NULL;
	}
	if (!sent || !rel) {
		log_warn("UDP connects reported when made, data or not: %s", strerror(errno));
		bpf_link__destroy(sent);
		p->info.skipped += 2;
		return;
	}
	p->links[p->nlinks++] = sent;
	p->links[p->nlinks++] = rel;
	p->info.attached += 2;
	p->net->bss->udp_on_send = 1;
}

/*
 * An object's skeleton, opened on its typed build or on its compat build
 * (VGL_TYPED=0 in bpf/lib/common.bpf.h: probe reads, for kernels without
 * bpf_rdonly_cast). The build checks that both declare the same maps,
 * programs and globals (tests/layout/compat_skel.sh), so the typed
 * skeleton's struct fits either.
 */
#define DEFINE_OPEN_BUILD(skel)                                                      \
	static struct skel *skel##_open_build(bool typed)                            \
	{                                                                            \
		struct skel *o = calloc(1, sizeof(*o));                              \
		int r = o ? skel##__create_skeleton(o) : -ENOMEM;                    \
                                                                                     \
		if (!r && !typed)                                                    \
			o->skeleton->data =                                          \
			    (void *)skel##_compat__elf_bytes(&o->skeleton->data_sz); \
		if (!r)                                                              \
			r = bpf_object__open_skeleton(o->skeleton, NULL);            \
		if (r) {                                                             \
			skel##__destroy(o);                                          \
			errno = -r;                                                  \
			return NULL;                                                 \
		}                                                                    \
		return o;                                                            \
	}
DEFINE_OPEN_BUILD(vigil_process)
DEFINE_OPEN_BUILD(vigil_file)
DEFINE_OPEN_BUILD(vigil_net)

/* One ring buffer and one set of counters/scratch for every object. */
static int share_maps(struct bpf_object *obj, struct vigil_process *proc)
{
	static const char *const shared[] = {"events", "drops", "recs", "paths"};
	struct bpf_map *src, *dst;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(shared); i++) {
		src = bpf_object__find_map_by_name(proc->obj, shared[i]);
		dst = bpf_object__find_map_by_name(obj, shared[i]);
		if (!dst)
			continue;
		r = bpf_map__reuse_fd(dst, bpf_map__fd(src));
		if (r)
			return r;
	}
	return 0;
}

/*
 * Programs with two variants: tp_btf (the tracepoint's arguments as typed
 * pointers; no perf record is built before the program runs) and the
 * classic tracepoint, the fallback where tp_btf does not attach.
 */
static const char *const btf_twins[][2] = {
    {"exec_btf", "handle_exec"},
    {"exit_btf", "handle_exit"},
    {"signal_btf", "handle_signal_generate"},
    {"set_state_btf", "handle_set_state"},
};

static void choose_variants(struct bpf_object *obj, bool btf)
{
	for (size_t i = 0; i < ARRAY_SIZE(btf_twins); i++) {
		struct bpf_program *b = bpf_object__find_program_by_name(obj, btf_twins[i][0]);
		struct bpf_program *c = bpf_object__find_program_by_name(obj, btf_twins[i][1]);

		if (b && c) {
			bpf_program__set_autoload(b, btf);
			bpf_program__set_autoload(c, !btf);
		}
	}
}

/* A probe result whose programs the kernel then refused: "available, not loaded: <why>". */
static void mark_not_loaded(char *feat, size_t len, int r)
{
	size_t n = strlen(feat);

	if (!strstr(feat, "not loaded"))
		snprintf(feat + n, len - n, ", not loaded: %s", strerror(-r));
}

/*
 * A load that failed with some family on BPF-LSM or fexit (a kernel whose
 * probe passed but that refuses these programs, or a forced probe): that
 * object's families take the next mechanism down, whole (LSM, fexit, the
 * syscall tracepoints), and the feature says it was not loaded. True if
 * there is something to retry.
 */
static bool fall_back(struct probes *p, struct bpf_object *obj, int r, const char *what)
{
	unsigned dropped = probe_choice_step_down(&p->choice, obj, feature_on(p->info.fentry));
	bool lsm = dropped & (1u << MECH_LSM);

	if (!dropped)
		return false;
	log_warn_errno(r, "the %s probes on %s did not load; using %s instead", what,
		       lsm ? "BPF-LSM" : "fexit",
		       lsm && feature_on(p->info.fentry) ? "fexit" : "their syscall tracepoints");
	if (lsm)
		mark_not_loaded(p->info.lsm, sizeof(p->info.lsm), r);
	else
		mark_not_loaded(p->info.fentry, sizeof(p->info.fentry), r);
	return true;
}

/*
 * A load that failed with the mechanisms stepped down as far as they go:
 * the direct loads off (raw_loads), then the compat build (typed_loads),
 * for this object and the ones after it. True if there is something to retry.
 */
static bool step_down_loads(struct probes *p, int r, const char *what)
{
	char *feat = p->raw ? p->info.raw_loads : p->typed ? p->info.typed_loads : NULL;
	size_t len = p->raw ? sizeof(p->info.raw_loads) : sizeof(p->info.typed_loads);

	if (!feat)
		return false;
	log_warn_errno(r, "the %s probes with %s did not load; using %s", what,
		       p->raw ? "direct loads" : "typed loads",
		       p->raw ? "probe reads for names and fd slots" : "their probe-read build");
	snprintf(feat, len, "unavailable (the %s probes did not load)", what);
	if (p->raw)
		p->raw = false;
	else
		p->typed = false;
	return true;
}

/* Retry a failed load one step down (mechanism, then loads) while there is one. */
static bool step_down(struct probes *p, struct bpf_object *obj, int r, const char *what)
{
	return fall_back(p, obj, r, what) || step_down_loads(p, r, what);
}

static int open_process_skel(struct probes *p, const struct vigil_config *cfg, unsigned *missing)
{
	p->proc = vigil_process_open_build(p->typed);
	if (!p->proc)
		return -errno;
	choose_variants(p->proc->obj, p->tp_btf);
	*missing = probe_select(p->proc->obj, &p->choice);
	p->proc->rodata->args_max = cfg->args_max;
	p->proc->rodata->raw_loads = p->raw;
	p->proc->rodata->agent_pid = getpid(); /* signals to it are reported, its own acts not */
	p->proc->rodata->wakeup_bytes = cfg->ring_buffer_size / 8;
	bpf_map__set_max_entries(p->proc->maps.events, cfg->ring_buffer_size);
	bpf_map__set_max_entries(p->proc->maps.recs, p->ncpus);
	/* confined processes and their verdicts: the containment object's pinned maps */
	if (p->contain_fds[4] >= 0 &&
	    (bpf_map__reuse_fd(p->proc->maps.vgl_confined, p->contain_fds[4]) ||
	     bpf_map__reuse_fd(p->proc->maps.vgl_verdicts, p->contain_fds[5]) ||
	     bpf_map__reuse_fd(p->proc->maps.vgl_sc_state, p->contain_fds[6]) ||
	     bpf_map__reuse_fd(p->proc->maps.vgl_cstate, p->contain_fds[2])))
		return log_error_errno(-errno, "sharing the seccomp maps failed");
	return vigil_process__load(p->proc);
}

static int load_process(struct probes *p, const struct vigil_config *cfg)
{
	unsigned missing;
	int r = open_process_skel(p, cfg, &missing);

	while (r && p->proc && step_down(p, p->proc->obj, r, "process")) {
		vigil_process__destroy(p->proc);
		r = open_process_skel(p, cfg, &missing);
	}
	if (r)
		return log_error_errno(r, "loading the process probes failed");
	p->info.skipped += missing; /* fexit programs of syscalls this kernel lacks */
	attach_all(p, p->proc->obj);
	return 0;
}

static int open_file_skel(struct probes *p, const struct vigil_config *cfg, unsigned *missing)
{
	int r;

	p->file = vigil_file_open_build(p->typed);
	if (!p->file)
		return -errno;
	p->file->rodata->agent_pid = getpid(); /* its own opens are not the host's */
	p->file->rodata->wakeup_bytes = cfg->ring_buffer_size / 8;
	p->file->rodata->fold_ns = cfg->fold_window_ms * 1000000ull;
	p->file->rodata->raw_loads = p->raw;
	bpf_map__set_max_entries(p->file->maps.recs, p->ncpus);
	*missing = probe_select(p->file->obj, &p->choice);
	r = share_maps(p->file->obj, p->proc);
	/* deny-path state: the containment object's (pinned) maps */
	if (!r && p->contain_fds[0] >= 0)
		r = bpf_map__reuse_fd(p->file->maps.vgl_cells, p->contain_fds[0]);
	if (!r && p->contain_fds[1] >= 0)
		r = bpf_map__reuse_fd(p->file->maps.vgl_deny, p->contain_fds[1]);
	if (!r && p->contain_fds[2] >= 0)
		r = bpf_map__reuse_fd(p->file->maps.vgl_cstate, p->contain_fds[2]);
	if (!r && p->contain_fds[3] >= 0)
		r = bpf_map__reuse_fd(p->file->maps.vgl_tasks, p->contain_fds[3]);
	if (!r)
		r = vigil_file__load(p->file);
	return r;
}

static int load_file(struct probes *p, const struct vigil_config *cfg)
{
	unsigned missing;
	int r = open_file_skel(p, cfg, &missing);

	while (r && p->file && step_down(p, p->file->obj, r, "file")) {
		vigil_file__destroy(p->file);
		r = open_file_skel(p, cfg, &missing);
	}
	if (r)
		return log_error_errno(r, "loading the file probes failed");
	p->info.skipped += missing;
	p->open_via_lsm = p->info.open_via_lsm = p->choice.mech[FAM_OPEN] == MECH_LSM;
	probes_watch_names(p->file);
	probes_load_watches(p, cfg);
	attach_all(p, p->file->obj);
	return 0;
}

/*
 * Has the kernel the tracepoint a tp_btf program attaches to? libbpf looks
 * for its btf_trace_<name> typedef, and without one the whole object fails.
 */
static bool tp_btf_target_exists(const char *name)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	char tn[128];
	bool r;

	snprintf(tn, sizeof(tn), "btf_trace_%s", name);
	r = vmlinux && btf__find_by_name_kind(vmlinux, tn, BTF_KIND_TYPEDEF) > 0;
	btf__free(vmlinux);
	return r;
}

static int open_net_skel(struct probes *p, const struct vigil_config *cfg)
{
	bool send_tp = tp_btf_target_exists("sock_send_length"); /* 6.3+ */
	int r;

	p->net = vigil_net_open_build(p->typed);
	if (!p->net)
		return -errno;
	p->net->rodata->agent_pid = getpid(); /* nor its webhooks' connects */
	p->net->rodata->wakeup_bytes = cfg->ring_buffer_size / 8;
	bpf_map__set_max_entries(p->net->maps.recs, p->ncpus);
	bpf_map__set_max_entries(p->net->maps.udp_seen, cfg->udp_dedup_entries);
	p->net->rodata->udp_seen_max = cfg->udp_dedup_entries;
	choose_variants(p->net->obj, p->tp_btf);
	bpf_program__set_autoload(p->net->progs.udp_sent, send_tp);
	bpf_program__set_autoload(p->net->progs.udp_release, send_tp);
	r = share_maps(p->net->obj, p->proc);
	return r ? r : vigil_net__load(p->net);
}

static int load_net(struct probes *p, const struct vigil_config *cfg)
{
	int r = open_net_skel(p, cfg);

	while (r && p->net && step_down_loads(p, r, "network")) {
		vigil_net__destroy(p->net);
		r = open_net_skel(p, cfg);
	}
	if (r)
		return log_error_errno(r, "loading the network probes failed");
	if (cgroup2_root(p->info.cgroup_root, sizeof(p->info.cgroup_root)) < 0)
		log_warn("no cgroup v2 mount: UDP destinations will not be seen");
	else
		p->cgroup_fd = open(p->info.cgroup_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	attach_all(p, p->net->obj);
	attach_udp_send(p);
	return 0;
}

/* Loaded, the objects embedded in vigild are not read again (libbpf closed
 * their ELF): their ~2 MiB of resident pages go back (docs/performance.md). */
static void release_objects(void)
{
	const void *(*const objs[])(size_t *) = {
	    vigil_probe__elf_bytes,	     vigil_process__elf_bytes,
	    vigil_file__elf_bytes,	     vigil_net__elf_bytes,
	    vigil_process_compat__elf_bytes, vigil_file_compat__elf_bytes,
	    vigil_net_compat__elf_bytes};

	for (size_t i = 0; i < ARRAY_SIZE(objs); i++) {
		size_t n;
		const void *b = objs[i](&n);

		release_pages(b, n);
	}
}

/* What is in use, for the start line and `vigil status`: each family's mechanism first. */
static void describe(struct probes *p)
{
	bool sys = probe_choice_uses_tracepoints(&p->choice);
	char fams[64]; /* "lsm(file_open),fexit(renames/unlinks/chmods,ptrace)," at most */

	probe_choice_describe(&p->choice, fams, sizeof(fams));
	snprintf(p->info.mechanisms, sizeof(p->info.mechanisms), "%s%s%s", fams,
		 p->tp_btf ? (sys ? "tracepoint(syscalls exit-only),tp_btf(sched,signal_generate,"
				    "inet_sock_set_state)"
				  : "tp_btf(sched,signal_generate,inet_sock_set_state)")
		 : sys
		     ? "tracepoint(sched,signal,syscalls exit-only,sock),tp_btf(sched_process_fork)"
		     : "tracepoint(sched,signal,sock),tp_btf(sched_process_fork)",
		 p->cgroup_fd < 0	    ? ""
		 : p->net->bss->udp_on_send ? ",cgroup(connect4/6,sendmsg4/6,sock_release),"
					      "tp_btf(sock_send_length)"
					    : ",cgroup(connect4/6,sendmsg4/6)");
}

int probes_new(const struct vigil_config *cfg, const int contain_fds[7], probes_sample_fn fn,
	       void *ctx, struct probes **ret)
{
	struct probes *p = calloc(1, sizeof(*p));
	struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
	char tp_btf[64];
	int r;

	if (!p)
		return -ENOMEM;
	p->cgroup_fd = -1;
	p->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (p->ino_fd < 0)
		log_warn_errno(-errno,
			       "no inotify: watched paths made after start are not watched");
	for (int i = 0; i < 7; i++)
		p->contain_fds[i] = contain_fds ? contain_fds[i] : -1;
	libbpf_set_print(libbpf_print);
	setrlimit(RLIMIT_MEMLOCK, &rl); /* kernels before 5.11 charge BPF maps here */
	p->ncpus = libbpf_num_possible_cpus();
	if (p->ncpus <= 0) {
		free(p);
		return -EINVAL;
	}
	ensure_tracefs();
	probe_feature("probe_lsm", "lsm", true, p->info.lsm, sizeof(p->info.lsm));
	probe_feature("probe_fentry", "fentry", true, p->info.fentry, sizeof(p->info.fentry));
	probe_feature("probe_typed_loads", "typed_loads", false, p->info.typed_loads,
		      sizeof(p->info.typed_loads));
	p->typed = feature_on(p->info.typed_loads);
	if (p->typed)
		probe_feature("probe_raw_loads", "raw_loads", false, p->info.raw_loads,
			      sizeof(p->info.raw_loads));
	else
		snprintf(p->info.raw_loads, sizeof(p->info.raw_loads),
			 "unavailable (no typed loads)");
	p->raw = feature_on(p->info.raw_loads);
	probe_feature("probe_tp_btf", "tp_btf", true, tp_btf, sizeof(tp_btf));
	/* VIGIL_NO_TP_BTF=1 (or VIGIL_FORCE_FEATURES=tp_btf=0) takes the classic tracepoints */
	p->tp_btf = feature_on(tp_btf) && !getenv("VIGIL_NO_TP_BTF");
	probe_choose(&p->choice, feature_on(p->info.lsm), feature_on(p->info.fentry));
	r = load_process(p, cfg);
	if (!r)
		r = load_file(p, cfg);
	if (!r)
		r = load_net(p, cfg);
	if (!r) {
		p->rb = ring_buffer__new(bpf_map__fd(p->proc->maps.events), fn, ctx, NULL);
		if (!p->rb)
			r = -errno;
	}
	if (r) {
		probes_free(p);
		return r;
	}
	release_objects();
	describe(p);
	*ret = p;
	return 0;
}

struct probes *probes_free(struct probes *p)
{
	if (!p)
		return NULL;
	ring_buffer__free(p->rb);
	probes_seccomp_check(p, false);
	while (p->nlinks)
		bpf_link__destroy(p->links[--p->nlinks]);
	vigil_net__destroy(p->net);
	vigil_file__destroy(p->file);
	vigil_process__destroy(p->proc);
	if (p->cgroup_fd >= 0)
		close(p->cgroup_fd);
	if (p->ino_fd >= 0)
		close(p->ino_fd);
	strv_clear(&p->pending);
	strv_clear(&p->promoted);
	for (unsigned i = 0; i < p->nextras; i++)
		free(p->extras[i].path);
	free(p);
	return NULL;
}

/* Consume whatever is in the ring buffer: producers only wake us when it fills up. */
int probes_drain(struct probes *p)
{
	int r = ring_buffer__consume(p->rb);

	return r == -EINTR ? 0 : r;
}

int probes_epoll_fd(struct probes *p)
{
	return ring_buffer__epoll_fd(p->rb);
}

void probes_drops(struct probes *p, uint64_t out[VGL_DROP_NR])
{
	uint64_t vals[p->ncpus];
	int fd = bpf_map__fd(p->proc->maps.drops);

	for (uint32_t i = 0; i < VGL_DROP_NR; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, vals) == 0)
			for (int c = 0; c < p->ncpus; c++)
				out[i] += vals[c];
	}
}

const struct probes_info *probes_info(const struct probes *p)
{
	return &p->info;
}

int probes_seccomp_check(struct probes *p, bool on)
{
	uint32_t k = 0, v;

	if (on == (p->sc_link != NULL) || p->contain_fds[6] < 0)
		return 0;
	if (on) {
		p->sc_link = bpf_program__attach(p->proc->progs.seccomp_check);
		if (!p->sc_link)
			return log_warn_errno(-errno, "the seccomp check did not attach");
	} else {
		bpf_link__destroy(p->sc_link);
		p->sc_link = NULL;
	}
	v = on;
	bpf_map_update_elem(p->contain_fds[6], &k, &v, BPF_ANY);
	log_info("seccomp check %s", on ? "attached: confined processes are watched" : "detached");
	return 0;
}
