// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "vigil/abi.h"
#include "core/config.h"
#include "confine/launch.h"
#include "confine/seccomp_filter.h"

#define CONFIG_PATH   "/etc/vigil/vigil.yaml"
#define EXIT_VIGIL    125
#define EXIT_NOEXEC   126
#define EXIT_NOTFOUND 127

struct warnings {
	unsigned n;
	char first[256];
};

/* Many unknown names are normal (a newer profile, an older libseccomp): one line, not twelve. */
static void count_warning(void *ctx, const char *msg)
{
	struct warnings *w = ctx;

	if (!w->n++)
		snprintf(w->first, sizeof(w->first), "%s", msg);
}

struct who {
	uid_t uid;
	gid_t gid;
	const char *name;
	bool switch_user;
};

/* A name or a number; numbers need not exist in /etc/passwd (like runc). */
static int resolve_user(const char *user, struct who *w)
{
	struct passwd *pw;
	char *end;
	long n;

	w->switch_user = user != NULL;
	w->uid = getuid();
	w->gid = getgid();
	w->name = NULL;
	if (!user)
		return 0;
	pw = getpwnam(user);
	if (!pw) {
		n = strtol(user, &end, 10);
		if (*end || n < 0 || end == user)
			return -ENOENT;
		pw = getpwuid((uid_t)n);
		w->uid = w->gid = (uid_t)n;
	}
	if (pw) {
		w->uid = pw->pw_uid;
		w->gid = pw->pw_gid;
		w->name = pw->pw_name;
	}
	return 0;
}

static int become(const struct who *w)
{
	if (!w->switch_user)
		return 0;
	if ((w->name ? initgroups(w->name, w->gid) : setgroups(0, NULL)) < 0 ||
	    setgid(w->gid) < 0 || setuid(w->uid) < 0)
		return -errno;
	return 0;
}

/* The pin directory of the local vigild: --pin-dir, else its config's, else the default. */
static void pin_dir_of(const struct launch_opts *o, char *out, size_t len)
{
	struct vigil_config *cfg = NULL;
	char err[256];

	if (o->pin_dir) {
		snprintf(out, len, "%s", o->pin_dir);
		return;
	}
	snprintf(out, len, "/sys/fs/bpf/vigil");
	if (config_defaults(&cfg) == 0 && access(CONFIG_PATH, R_OK) == 0 &&
	    config_load_file(cfg, CONFIG_PATH, err, sizeof(err)) == 0)
		snprintf(out, len, "%s", cfg->pin_dir);
	config_free(cfg);
}

/*
 * Tell vigild this process is confined, with its profile's verdicts, so the
 * calls the profile refuses (or logs) reach the stream; wait until vigild's
 * check is attached (its 1 s tick), so the first ones are not missed.
 */
static void register_with_vigild(const struct launch_opts *o, const struct sc_profile *p,
				 const struct sc_host *h)
{
	char dir[512], path[600];
	struct vgl_sc_verdicts v;
	uint32_t me = getpid(), zero = 0, on = 0, gate = VGL_CSTATE_CONFINED, one = 1;
	struct vgl_confined c = {.root = me}; /* armed by vigild's probe at exec */
	int fds[4];
	static const char *const maps[] = {"vgl_confined", "vgl_verdicts", "vgl_sc_state",
					   "vgl_cstate"};

	pin_dir_of(o, dir, sizeof(dir));
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, maps[i]);
		fds[i] = bpf_obj_get(path);
		if (fds[i] < 0) {
			if (!o->quiet)
				fprintf(stderr,
					"vigil: exec: note: violations will not be reported: "
					"no vigild containment state in %s\n",
					dir);
			for (int j = 0; j < i; j++)
				close(fds[j]);
			return;
		}
	}
	sc_verdicts(p, h, o->complain, &v);
	/* the gate opens after the entry is in: vigild clears it only on an empty map (abi.h) */
	if (bpf_map_update_elem(fds[1], &me, &v, BPF_ANY) == 0 &&
	    bpf_map_update_elem(fds[0], &me, &c, BPF_ANY) == 0 &&
	    bpf_map_update_elem(fds[3], &gate, &one, BPF_ANY) == 0)
		for (int waited = 0; waited < 3000; waited += 50) {
			if (bpf_map_lookup_elem(fds[2], &zero, &on) == 0 && on)
				break;
			usleep(50000);
		}
	if (!on && !o->quiet)
		fprintf(stderr, "vigil: exec: note: vigild did not start watching within 3 s\n");
	for (int i = 0; i < 4; i++)
		close(fds[i]);
}

int launch_exec(const struct launch_opts *o, char *const argv[])
{
	_cleanup_(sc_profile_freep) struct sc_profile *p = NULL;
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
	struct sc_report rep;
	struct sc_host host;
	struct warnings warns = {0};
	struct sc_opts so = {.complain = o->complain,
			     .strict_names = o->strict_names,
			     .warn = count_warning,
			     .ctx = &warns};
	struct who w;
	char err[512];
	int e;

	if (sc_profile_load(o->profile, &p, err, sizeof(err)) < 0) {
		fprintf(stderr, "vigil: exec: %s\n", err);
		return EXIT_VIGIL;
	}
	if (resolve_user(o->user, &w) < 0) {
		fprintf(stderr, "vigil: exec: --user %s: no such user\n", o->user);
		return EXIT_VIGIL;
	}
	/* the capabilities the command will hold: a non-root uid keeps none */
	sc_host_detect(&host, w.switch_user && w.uid != 0 ? 0 : sc_caps_current());
	e = sc_build(p, &host, &so, &ctx, &rep, err, sizeof(err));
	if (e == 0)
		register_with_vigild(o, p, &host);
	if (e < 0) {
		fprintf(stderr, "vigil: exec: %s: %s\n", o->profile, err);
		return EXIT_VIGIL;
	}
	if (warns.n == 1 && !o->quiet)
		fprintf(stderr, "vigil: exec: warning: %s\n", warns.first);
	else if (warns.n && !o->quiet)
		fprintf(stderr,
			"vigil: exec: warning: %s, and %u more (see vigil seccomp check %s)\n",
			warns.first, warns.n - 1, o->profile);
	if ((e = become(&w)) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		fprintf(stderr, "vigil: exec: %s: %s\n",
			e < 0 ? "cannot switch user" : "no_new_privs",
			strerror(e < 0 ? -e : errno));
		return EXIT_VIGIL;
	}
	/* from here on the filter applies: nothing is freed before the exec */
	e = seccomp_load(ctx);
	if (e < 0) {
		fprintf(stderr, "vigil: exec: cannot load the seccomp filter: %s\n", strerror(-e));
		return EXIT_VIGIL;
	}
	execvp(argv[0], argv);
	e = errno;
	fprintf(stderr, "vigil: exec: %s: %s\n", argv[0], strerror(e));
	return e == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC;
}
