// SPDX-License-Identifier: GPL-2.0
#include <dlfcn.h>
#include <pthread.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "ship/natslib.h"

/*
 * libnats is loaded, not linked: it brings protobuf-c and its own threads,
 * which a host without output.nats should not carry (vigild starts without
 * the package installed; it is a Recommends).
 */
int natslib_load(struct natslib *nl, char *err, size_t errlen)
{
	struct {
		void *slot;
		const char *name;
	} syms[] = {
#define NATSLIB_SYM(f) {&nl->f, #f},
	    NATSLIB_FUNCS(NATSLIB_SYM)
#undef NATSLIB_SYM
	};
	sigset_t all, old;
	natsStatus st;
	void *so;

	if (nl->so)
		return 0;
	so = dlopen(NATSLIB_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!so) {
		snprintf(err, errlen, "cannot load %s (package libnats3.4): %s", NATSLIB_SONAME,
			 dlerror());
		return -ENOENT;
	}
	for (size_t i = 0; i < ARRAY_SIZE(syms); i++) {
		void *f = dlsym(so, syms[i].name);

		if (!f) {
			snprintf(err, errlen, "cannot load %s (package libnats3.4): it has no %s",
				 NATSLIB_SONAME, syms[i].name);
			dlclose(so);
			return -ENOENT;
		}
		memcpy(syms[i].slot, &f,
		       sizeof(f)); /* object to function pointer, as POSIX allows */
	}
	/* nats_Open starts libnats's timer and callback threads: they inherit this mask
	 * and must take no signal (vigild's are for its signalfd) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	st = nl->nats_Open(-1); /* -1: libnats's default lock spin count */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (st != NATS_OK) {
		snprintf(err, errlen, "%s: nats_Open failed", NATSLIB_SONAME);
		dlclose(so);
		return -EIO;
	}
	nl->so = so;
	return 0;
}

/* libnats's last error starts with where it was raised, "(conn.c:2088): ": not for users */
static const char *strip_location(const char *detail)
{
	const char *p = detail[0] == '(' ? strstr(detail, "): ") : NULL;

	return p ? p + 3 : detail;
}

const char *natslib_error(const struct natslib *nl, natsStatus s, char *buf, size_t len)
{
	natsStatus last = NATS_OK;
	const char *text, *detail;

	if (!nl->so) {
		snprintf(buf, len, "libnats not loaded");
		return buf;
	}
	text = nl->natsStatus_GetText(s);
	detail = nl->nats_GetLastError(&last);
	detail = detail && last == s ? strip_location(detail) : "";
	if (*detail && strcmp(detail, text))
		snprintf(buf, len, "%s: %s", text, detail);
	else
		snprintf(buf, len, "%s", text);
	return buf;
}
