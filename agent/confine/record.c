// SPDX-License-Identifier: GPL-2.0
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "record.skel.h"
#include "vigil/abi.h"
#include "sense/proc_tree.h"
#include "sense/cgroup.h"
#include "confine/record.h"
#include "core/util.h"

/*
 * What a launcher (vigil exec, runc, crun) may still call after installing
 * the filter and before the program's first instruction: exec itself, the
 * error path (write a message, exit) and freeing the filter.
 */
static const char *const launcher_calls[] = {"execve",	     "execveat", "write",  "exit",
					     "exit_group",   "brk",	 "munmap", "close",
					     "rt_sigreturn", "futex"};

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	interrupted = 1;
}

static int track_pid(struct vigil_record *skel, pid_t pid)
{
	struct proc_tree t;
	uint8_t one = 1;

	if (proc_tree_read(pid, true, &t) < 0)
		return -ESRCH;
	for (unsigned i = 0; i < t.n; i++) {
		uint32_t k = t.pids[i];

		bpf_map_update_elem(bpf_map__fd(skel->maps.rec_tasks), &k, &one, BPF_ANY);
	}
	proc_tree_free(&t);
	return 0;
}

static int set_cgroup(struct vigil_record *skel, const char *path)
{
	char root[256], full[1024];
	struct stat st;
	size_t rl;

	if (cgroup2_root(root, sizeof(root)) < 0)
		return -ENOENT;
	rl = strlen(root);
	if (!strncmp(path, root, rl) && (path[rl] == '/' || !path[rl]))
		snprintf(full, sizeof(full), "%s", path);
	else
		snprintf(full, sizeof(full), "%s%s%s", root, path[0] == '/' ? "" : "/", path);
	if (stat(full, &st) < 0 || !S_ISDIR(st.st_mode))
		return -ENOENT;
	skel->rodata->target_cgroup = st.st_ino;
	return 0;
}

/* A child that execs argv once told to (so tracking starts before its first call). */
static pid_t start_held(char *const argv[], int *go)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		char c;

		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(125);
		execvp(argv[0], argv);
		fprintf(stderr, "vigil: seccomp record: %s: %s\n", argv[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	close(p[0]);
	*go = p[1];
	return pid;
}

static void wait_done(pid_t child, uint64_t duration_ms, int *status)
{
	uint64_t end = clock_ns(CLOCK_MONOTONIC) + duration_ms * 1000000ull;

	while (!interrupted) {
		if (child > 0 && waitpid(child, status, WNOHANG) == child)
			return;
		if (duration_ms && clock_ns(CLOCK_MONOTONIC) >= end)
			return;
		poll(NULL, 0, 20);
	}
}

struct seen {
	char **names;
	unsigned n;
	bool compat;
};

static bool seen_has(const struct seen *s, const char *name)
{
	for (unsigned i = 0; i < s->n; i++)
		if (!strcmp(s->names[i], name))
			return true;
	return false;
}

static void seen_add(struct seen *s, const char *name)
{
	char **n;

	if (!name || seen_has(s, name) || !(n = realloc(s->names, (s->n + 1) * sizeof(char *))))
		return;
	s->names = n;
	s->names[s->n++] = strdup(name);
}

/* Per-CPU counters → the names of the syscalls that were made. */
static int collect(struct vigil_record *skel, struct seen *s, uint64_t *calls)
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(skel->maps.rec_counts);
	uint64_t *v = calloc(ncpu, sizeof(uint64_t));
	uint32_t native = seccomp_arch_native();

	if (!v)
		return -ENOMEM;
	for (uint32_t k = 0; k < 2 * VGL_REC_SYSCALLS; k++) {
		uint64_t sum = 0;
		bool compat = k >= VGL_REC_SYSCALLS;
		char *name;

		if (bpf_map_lookup_elem(fd, &k, v) < 0)
			continue;
		for (int c = 0; c < ncpu; c++)
			sum += v[c];
		if (!sum)
			continue;
		*calls += sum;
		name = seccomp_syscall_resolve_num_arch(compat ? SCMP_ARCH_X86 : native,
							k % VGL_REC_SYSCALLS);
		s->compat |= compat;
		seen_add(s, name);
		free(name);
	}
	free(v);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The observed calls not already allowed unconditionally by one of the profile's rules. */
static bool allowed_by(json_t *profile, const char *name)
{
	json_t *r, *n;
	size_t i, j;

	json_array_foreach (json_object_get(profile, "syscalls"), i, r) {
		const char *a = json_string_value(json_object_get(r, "action"));

		if (!a || strcmp(a, "SCMP_ACT_ALLOW") ||
		    json_array_size(json_object_get(r, "args")) ||
		    json_object_size(json_object_get(r, "includes")))
			continue;
		json_array_foreach (json_object_get(r, "names"), j, n)
			if (json_is_string(n) && !strcmp(json_string_value(n), name))
				return true;
	}
	return false;
}

static const char *native_arch_name(void)
{
	switch (seccomp_arch_native()) {
	case SCMP_ARCH_AARCH64:
		return "SCMP_ARCH_AARCH64";
	case SCMP_ARCH_PPC64LE:
		return "SCMP_ARCH_PPC64LE";
	case SCMP_ARCH_S390X:
		return "SCMP_ARCH_S390X";
	case SCMP_ARCH_RISCV64:
		return "SCMP_ARCH_RISCV64";
	default:
		return "SCMP_ARCH_X86_64";
	}
}

static json_t *profile_json(const struct seen *s, const char *merge, char *err, size_t errlen)
{
	json_t *p, *names = json_array(), *arches;
	json_error_t jerr;

	if (merge) {
		p = json_load_file(merge, JSON_REJECT_DUPLICATES, &jerr);
		if (!p || !json_is_object(p)) {
			snprintf(err, errlen, "--merge %s: %s", merge,
				 p ? "not a profile" : jerr.text);
			json_decref(p);
			json_decref(names);
			return NULL;
		}
	} else {
		arches = json_pack("[s]", native_arch_name());
		if (s->compat)
			json_array_append_new(arches, json_string("SCMP_ARCH_X86"));
		p = json_pack("{s:s, s:i, s:o, s:[]}", "defaultAction", "SCMP_ACT_ERRNO",
			      "defaultErrnoRet", EPERM, "architectures", arches, "syscalls");
	}
	for (unsigned i = 0; i < s->n; i++)
		if (!merge || !allowed_by(p, s->names[i]))
			json_array_append_new(names, json_string(s->names[i]));
	if (!json_is_array(json_object_get(p, "syscalls")))
		json_object_set_new(p, "syscalls", json_array());
	if (json_array_size(names))
		json_array_append_new(
		    json_object_get(p, "syscalls"),
		    json_pack("{s:o, s:s}", "names", names, "action", "SCMP_ACT_ALLOW"));
	else
		json_decref(names);
	return p;
}

static int write_profile(const char *out, json_t *p)
{
	char tmp[4096];

	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	if (json_dump_file(p, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
		return -EIO;
	chmod(tmp, 0644);
	return rename(tmp, out) < 0 ? -errno : 0;
}

static int attach(struct vigil_record *skel, const struct record_opts *o, char *const argv[],
		  pid_t *child, int *go, char *err, size_t errlen)
{
	int r;

	if (o->cgroup && set_cgroup(skel, o->cgroup) < 0) {
		snprintf(err, errlen, "--cgroup %s: no such cgroup", o->cgroup);
		return -ENOENT;
	}
	r = vigil_record__load(skel);
	if (r == 0)
		r = vigil_record__attach(skel);
	if (r < 0) {
		snprintf(err, errlen, "cannot load the syscall counter: %s (run as root)",
			 strerror(-r));
		return r;
	}
	if (o->pid > 0 && track_pid(skel, o->pid) < 0) {
		snprintf(err, errlen, "--pid %d: no such process", o->pid);
		return -ESRCH;
	}
	if (argv && argv[0]) {
		uint8_t one = 1;
		uint32_t k;

		*child = start_held(argv, go);
		if (*child < 0) {
			snprintf(err, errlen, "fork: %s", strerror(errno));
			return -errno;
		}
		k = *child;
		bpf_map_update_elem(bpf_map__fd(skel->maps.rec_tasks), &k, &one, BPF_ANY);
	}
	return 0;
}

DEFINE_CLEANUP(struct vigil_record *, vigil_record__destroy)

int record_run(const struct record_opts *o, char *const argv[])
{
	_cleanup_(vigil_record__destroyp) struct vigil_record *skel = vigil_record__open();
	struct sigaction sa = {.sa_handler = on_sigint};
	struct seen s = {0};
	uint64_t calls = 0;
	pid_t child = -1;
	int go = -1, status = 0, rc = 1;
	char err[512] = "";
	_cleanup_(json_decrefp) json_t *p = NULL;

	if (!skel) {
		fprintf(stderr, "vigil: seccomp record: cannot open the BPF object\n");
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	if (attach(skel, o, argv, &child, &go, err, sizeof(err)) == 0) {
		if (go >= 0) {
			if (write(go, "g", 1) != 1)
				kill(child, SIGKILL);
			close(go);
		}
		wait_done(child, o->duration_ms, &status);
		vigil_record__detach(skel);
		for (size_t i = 0; i < ARRAY_SIZE(launcher_calls); i++)
			seen_add(&s, launcher_calls[i]);
		collect(skel, &s, &calls);
		qsort(s.names, s.n, sizeof(char *), cmp_str);
		p = profile_json(&s, o->merge, err, sizeof(err));
	}
	if (p && write_profile(o->out, p) < 0)
		snprintf(err, sizeof(err), "%s: %s", o->out, strerror(errno));
	else if (p)
		rc = 0;
	if (rc == 0)
		fprintf(stderr,
			"vigil: seccomp record: %llu calls, %u distinct syscalls%s → %s%s\n",
			(unsigned long long)calls, s.n, s.compat ? " (some 32-bit)" : "", o->out,
			child > 0 && WIFEXITED(status) && WEXITSTATUS(status)
			    ? " (the command exited non-zero)"
			    : "");
	else
		fprintf(stderr, "vigil: seccomp record: %s\n", err);
	for (unsigned i = 0; i < s.n; i++)
		free(s.names[i]);
	free(s.names);
	return rc;
}
