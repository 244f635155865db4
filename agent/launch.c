// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "vigil/launch.h"
#include "vigil/seccomp_profile.h"

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

int launch_exec(const struct launch_opts *o, char *const argv[])
{
	struct sc_profile *p = NULL;
	struct sc_report rep;
	struct sc_host host;
	scmp_filter_ctx ctx = NULL;
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
		sc_profile_free(p);
		return EXIT_VIGIL;
	}
	/* the capabilities the command will hold: a non-root uid keeps none */
	sc_host_detect(&host, w.switch_user && w.uid != 0 ? 0 : sc_caps_current());
	e = sc_build(p, &host, &so, &ctx, &rep, err, sizeof(err));
	sc_profile_free(p);
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
		seccomp_release(ctx);
		return EXIT_VIGIL;
	}
	e = seccomp_load(ctx);
	seccomp_release(ctx);
	if (e < 0) {
		fprintf(stderr, "vigil: exec: cannot load the seccomp filter: %s\n", strerror(-e));
		return EXIT_VIGIL;
	}
	execvp(argv[0], argv);
	e = errno;
	fprintf(stderr, "vigil: exec: %s: %s\n", argv[0], strerror(e));
	return e == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC;
}
