// SPDX-License-Identifier: GPL-2.0
/* seccomp_filter.c — a profile resolved for this host and built into a libseccomp filter. */
#include <errno.h>
#include <stdarg.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "vigil/abi.h"
#include "confine/seccomp_filter.h"
#include "core/util.h"

/* ---- the host ---- */

uint64_t sc_caps_current(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {0};

	if (syscall(SYS_capget, &h, d) < 0)
		return 0;
	return d[0].effective | (uint64_t)d[1].effective << 32;
}

static const char *go_arch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#elif defined(__i386__)
	return "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return "ppc64le";
#elif defined(__s390x__)
	return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
	return "riscv64";
#elif defined(__arm__)
	return "arm";
#else
	return "unknown";
#endif
}

int sc_host_detect(struct sc_host *h, uint64_t caps)
{
	struct utsname u;

	h->caps = caps;
	h->arch = go_arch();
	h->kmajor = h->kminor = 0;
	if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &h->kmajor, &h->kminor) != 2)
		return -EINVAL;
	return 0;
}

/* ---- Docker's includes / excludes ---- */

static bool has_string(char *const *v, const char *s)
{
	for (char *const *p = v; p && *p; p++)
		if (!strcmp(*p, s))
			return true;
	return false;
}

static bool has_cap(const struct sc_host *h, const char *name)
{
	int c = sc_cap_by_name(name);

	return c >= 0 && (h->caps >> c & 1);
}

static bool kernel_at_least(const struct sc_host *h, unsigned major, unsigned minor)
{
	return h->kmajor > major || (h->kmajor == major && h->kminor >= minor);
}

/* As moby's profiles/seccomp: excludes first (any match drops it), then includes (all must hold). */
bool sc_rule_applies(const struct sc_rule *r, const struct sc_host *h)
{
	if (r->exc.arches && has_string(r->exc.arches, h->arch))
		return false;
	for (char **c = r->exc.caps; c && *c; c++)
		if (has_cap(h, *c))
			return false;
	if (r->exc.has_min_kernel && kernel_at_least(h, r->exc.kmajor, r->exc.kminor))
		return false;
	if (r->inc.arches && r->inc.arches[0] && !has_string(r->inc.arches, h->arch))
		return false;
	for (char **c = r->inc.caps; c && *c; c++)
		if (!has_cap(h, *c))
			return false;
	if (r->inc.has_min_kernel && !kernel_at_least(h, r->inc.kmajor, r->inc.kminor))
		return false;
	return true;
}

/* ---- building the filter ---- */

/*
 * The errno of an ERRNO action: its own, else EPERM for a rule (runc, crun)
 * and defaultErrnoRet / defaultErrno for the default action (deflt).
 */
static uint32_t with_errno(uint32_t action, int errno_ret, int deflt)
{
	if ((action & 0xffff0000u) == SCMP_ACT_ERRNO(0))
		return SCMP_ACT_ERRNO(errno_ret >= 0 ? errno_ret : deflt);
	if ((action & 0xffff0000u) == SCMP_ACT_TRACE(0))
		return SCMP_ACT_TRACE(errno_ret >= 0 ? errno_ret : 0);
	return action;
}

static bool denies(uint32_t action)
{
	return action != SCMP_ACT_ALLOW && action != SCMP_ACT_LOG;
}

static uint32_t effective(const struct sc_opts *o, uint32_t action)
{
	return o->complain && denies(action) ? SCMP_ACT_LOG : action;
}

__attribute__((format(printf, 2, 3))) static void warn(const struct sc_opts *o, const char *fmt,
						       ...)
{
	char msg[512];
	va_list ap;

	if (!o->warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o->warn(o->ctx, msg);
}

static bool repeats_an_argument(const struct sc_rule *r)
{
	for (unsigned i = 0; i < r->nconds; i++)
		for (unsigned j = i + 1; j < r->nconds; j++)
			if (r->conds[i].index == r->conds[j].index)
				return true;
	return false;
}

static struct scmp_arg_cmp to_cmp(const struct sc_cond *c)
{
	return (struct scmp_arg_cmp){c->index, c->op, c->value, c->value_two};
}

/*
 * One syscall of a rule. Conditions on distinct arguments are AND'ed; when
 * an argument is tested more than once each condition becomes a rule of its
 * own (OR'ed), as runc and crun do. A rule for a syscall that already has a
 * conflicting one is skipped: the first rule in the profile wins.
 */
static int add_syscall(scmp_filter_ctx ctx, const struct sc_rule *r, int nr, uint32_t action,
		       const struct sc_opts *o, struct sc_report *rep, const char *name)
{
	struct scmp_arg_cmp cmp[SC_CONDS_MAX];
	int e = 0;

	if (repeats_an_argument(r)) {
		for (unsigned i = 0; i < r->nconds && e == 0; i++) {
			cmp[0] = to_cmp(&r->conds[i]);
			e = seccomp_rule_add_array(ctx, action, nr, 1, cmp);
		}
	} else {
		for (unsigned i = 0; i < r->nconds; i++)
			cmp[i] = to_cmp(&r->conds[i]);
		e = seccomp_rule_add_array(ctx, action, nr, r->nconds, cmp);
	}
	if (e == -EEXIST) {
		warn(o, "syscalls[%u]: %s already has a conflicting rule; the first one wins",
		     r->index, name);
		rep->conflicts++;
		return 0;
	}
	return e;
}

static int add_arches(scmp_filter_ctx ctx, const struct sc_profile *p)
{
	uint32_t native = seccomp_arch_native();
	int e = 0;

	for (unsigned i = 0; i < p->narches && e == 0; i++)
		if (p->arches[i] != native)
			e = seccomp_arch_add(ctx, p->arches[i]);
	for (unsigned i = 0; i < p->narchmap && e == 0; i++) {
		const struct sc_archmap *m = &p->archmap[i];

		if (m->arch != native)
			continue; /* Docker: only the entry for the running architecture */
		for (unsigned j = 0; j < m->nsubs && e == 0; j++)
			e = seccomp_arch_add(ctx, m->subs[j]);
	}
	return e == -EEXIST ? 0 : e;
}

static int add_rule(scmp_filter_ctx ctx, const struct sc_rule *r, uint32_t def,
		    const struct sc_opts *o, struct sc_report *rep, char *err, size_t errlen)
{
	uint32_t action = effective(o, with_errno(r->action, r->errno_ret, EPERM));

	for (char **n = r->names; *n; n++) {
		int nr = seccomp_syscall_resolve_name(*n), e;

		if (nr == __NR_SCMP_ERROR) {
			if (o->strict_names) {
				snprintf(err, errlen, "syscalls[%u].names: unknown syscall \"%s\"",
					 r->index, *n);
				return -EINVAL;
			}
			warn(o, "syscalls[%u]: unknown syscall \"%s\" skipped", r->index, *n);
			rep->unknown_names++;
			continue;
		}
		if (action == def && !r->nconds) {
			rep->skipped_default++;
			continue;
		}
		e = add_syscall(ctx, r, nr, action, o, rep, *n);
		if (e < 0) {
			snprintf(err, errlen, "syscalls[%u]: %s: %s", r->index, *n, strerror(-e));
			return e;
		}
		if (denies(action))
			rep->syscalls_denied++;
		else
			rep->syscalls_allowed++;
		rep->rules_added++;
	}
	return 0;
}

int sc_build(const struct sc_profile *p, const struct sc_host *h, const struct sc_opts *o,
	     scmp_filter_ctx *ret, struct sc_report *rep, char *err, size_t errlen)
{
	uint32_t def = effective(o, with_errno(p->default_action, p->default_errno, EPERM));
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
	int e;

	memset(rep, 0, sizeof(*rep));
	if (p->default_action == SCMP_ACT_NOTIFY) {
		snprintf(err, errlen,
			 "defaultAction: SCMP_ACT_NOTIFY needs a listener; not supported");
		return -ENOTSUP;
	}
	ctx = seccomp_init(def);
	if (!ctx) {
		snprintf(err, errlen, "seccomp_init failed");
		return -ENOMEM;
	}
	e = add_arches(ctx, p);
	if (e < 0)
		snprintf(err, errlen, "architectures: %s", strerror(-e));
	/* the runtime sets these: threads share the filter, no_new_privs before loading */
	if (e == 0)
		e = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (e == 0 && p->flag_log)
		e = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
	if (e == 0 && p->flag_spec_allow)
		e = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1);
	for (unsigned i = 0; e == 0 && i < p->nrules; i++) {
		const struct sc_rule *r = &p->rules[i];

		if (r->action == SCMP_ACT_NOTIFY) {
			snprintf(err, errlen,
				 "syscalls[%u].action: SCMP_ACT_NOTIFY is not supported", r->index);
			e = -ENOTSUP;
		} else if (!sc_rule_applies(r, h)) {
			rep->skipped_conditional++;
		} else {
			e = add_rule(ctx, r, def, o, rep, err, errlen);
		}
	}
	if (e < 0)
		return e;
	*ret = TAKE_PTR(ctx);
	return 0;
}

#define NATIVE_MAX 512

void sc_verdicts(const struct sc_profile *p, const struct sc_host *h, bool complain,
		 struct vgl_sc_verdicts *out)
{
	/* 0: no rule yet; 1: a rule with arguments came first; else the action + 2 */
	uint64_t decided[NATIVE_MAX];
	uint32_t def = p->default_action;

	memset(out, 0, sizeof(*out));
	memset(decided, 0, sizeof(decided));
	for (unsigned i = 0; i < p->nrules; i++) {
		const struct sc_rule *r = &p->rules[i];

		if (!sc_rule_applies(r, h))
			continue;
		for (char **n = r->names; *n; n++) {
			int nr = seccomp_syscall_resolve_name(*n);

			if (nr >= 0 && nr < NATIVE_MAX && !decided[nr])
				decided[nr] = r->nconds ? 1 : (uint64_t)r->action + 2;
		}
	}
	for (int nr = 0; nr < NATIVE_MAX; nr++) {
		uint32_t a = decided[nr] == 1 ? SCMP_ACT_ALLOW
			     : decided[nr]    ? decided[nr] - 2
					      : def;
		bool deny = denies(a), logged = a == SCMP_ACT_LOG;

		if (complain && deny) {
			deny = false;
			logged = true;
		}
		if (deny)
			out->deny[nr / 64] |= 1ull << (nr % 64);
		if (logged)
			out->logged[nr / 64] |= 1ull << (nr % 64);
	}
}
