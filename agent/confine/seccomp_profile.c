// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "vigil/abi.h"
#include "core/fileio.h"
#include "confine/seccomp_profile.h"
#include "core/util.h"

#define PROFILE_MAX (16u << 20)
#define NAMES_MAX   4096 /* per rule: hostile profiles are refused, not obeyed */
#define RULES_MAX   4096
#define ARCHES_MAX  16

/* ---- names ---- */

static const struct {
	const char *name;
	uint32_t action;
} actions[] = {
    {"SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0)},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0)},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY},
};

static const struct {
	const char *name;
	enum scmp_compare op;
} ops[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

static const char *const cap_names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

const char *sc_action_name(uint32_t action)
{
	uint32_t base = action & SCMP_ACT_KILL_PROCESS ? action : action & 0xffff0000u;

	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		if (actions[i].action == base && strcmp(actions[i].name, "SCMP_ACT_KILL"))
			return actions[i].name;
	return "?";
}

static int errno_by_name(const char *name)
{
	for (int e = 1; e < 4096; e++) {
		const char *n = strerrorname_np(e);

		if (n && !strcmp(n, name))
			return e;
	}
	return -1;
}

int sc_cap_by_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(cap_names); i++)
		if (!strcasecmp(cap_names[i], name))
			return (int)i;
	return -1;
}

/* ---- reading ---- */

struct reader {
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int fail(struct reader *rd, const char *path,
						      const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(rd->err, rd->errlen, "%s%s%s", path, path[0] ? ": " : "", msg);
	return -EINVAL;
}

static const char *type_name(const json_t *v)
{
	static const char *const n[] = {"an object", "an array", "a string", "an integer",
					"a number",  "true",	 "false",    "null"};

	return v ? n[json_typeof(v)] : "nothing";
}

/* A string array at path (absent: *out stays NULL). */
static int read_strings(struct reader *rd, json_t *v, const char *path, unsigned max, char ***out)
{
	size_t i;
	json_t *x;

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return fail(rd, path, "expected an array of strings, not %s", type_name(v));
	if (json_array_size(v) > max)
		return fail(rd, path, "%zu entries: more than %u", json_array_size(v), max);
	*out = calloc(json_array_size(v) + 1, sizeof(char *));
	if (!*out)
		return -ENOMEM;
	json_array_foreach (v, i, x) {
		if (!json_is_string(x) || !json_string_length(x))
			return fail(rd, path, "[%zu]: expected a non-empty string, not %s", i,
				    type_name(x));
		if (!((*out)[i] = strdup(json_string_value(x))))
			return -ENOMEM;
	}
	return 0;
}

static void strings_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static int read_action(struct reader *rd, json_t *v, const char *path, uint32_t *ret)
{
	const char *s = json_string_value(v);

	if (!s)
		return fail(rd, path, "expected an action such as \"SCMP_ACT_ERRNO\", not %s",
			    type_name(v));
	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		if (!strcmp(actions[i].name, s)) {
			*ret = actions[i].action;
			return 0;
		}
	return fail(rd, path, "unknown action \"%s\"", s);
}

/* errnoRet (a number) or containers/common's errno (a name); -1 if neither. */
static int read_errno(struct reader *rd, json_t *obj, const char *num_key, const char *name_key,
		      const char *path, int *ret)
{
	json_t *num = json_object_get(obj, num_key), *name = json_object_get(obj, name_key);
	char p[256];

	*ret = -1;
	if (num) {
		snprintf(p, sizeof(p), "%s%s%s", path, path[0] ? "." : "", num_key);
		if (!json_is_integer(num) || json_integer_value(num) < 0 ||
		    json_integer_value(num) > 4095)
			return fail(rd, p, "expected an errno number 0-4095");
		*ret = json_integer_value(num);
	}
	if (name && !num) {
		snprintf(p, sizeof(p), "%s%s%s", path, path[0] ? "." : "", name_key);
		if (!json_is_string(name))
			return fail(rd, p, "expected an errno name such as \"EPERM\"");
		if ((*ret = errno_by_name(json_string_value(name))) < 0)
			return fail(rd, p, "unknown errno name \"%s\"", json_string_value(name));
	}
	return 0;
}

/* "SCMP_ARCH_X86_64" → libseccomp's token (0: unknown to this libseccomp). */
static uint32_t arch_token(const char *s)
{
	char lower[64];
	size_t n = strlen(s + 10);

	if (n >= sizeof(lower))
		return 0;
	for (size_t i = 0; i <= n; i++)
		lower[i] = s[10 + i] >= 'A' && s[10 + i] <= 'Z' ? s[10 + i] - 'A' + 'a' : s[10 + i];
	return seccomp_arch_resolve_name(lower);
}

static bool known_arch(const char *s)
{
	return arch_token(s) != 0;
}

static int read_arch(struct reader *rd, json_t *v, const char *path, uint32_t *ret)
{
	const char *s = json_string_value(v);

	if (!s || strncmp(s, "SCMP_ARCH_", 10))
		return fail(rd, path, "expected an architecture such as \"SCMP_ARCH_X86_64\"");
	*ret = arch_token(s);
	if (!*ret)
		return fail(rd, path, "unknown architecture \"%s\"", s);
	return 0;
}

static int read_arches(struct reader *rd, json_t *v, const char *path, uint32_t **out, unsigned *n)
{
	size_t i;
	json_t *x;
	char p[256];

	*out = NULL;
	*n = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) > ARCHES_MAX)
		return fail(rd, path, "expected an array of at most %d architectures", ARCHES_MAX);
	*out = calloc(json_array_size(v) + 1, sizeof(uint32_t));
	if (!*out)
		return -ENOMEM;
	json_array_foreach (v, i, x) {
		snprintf(p, sizeof(p), "%s[%zu]", path, i);
		if (read_arch(rd, x, p, &(*out)[(*n)++]) < 0)
			return -EINVAL;
	}
	return 0;
}

static int read_cond(struct reader *rd, json_t *a, const char *path, struct sc_cond *c)
{
	static const char *const keys[] = {"index", "value", "valueTwo", "op"};
	json_t *idx = json_object_get(a, "index"), *op = json_object_get(a, "op");
	const char *k, *ops_s;
	char p[320];
	json_t *x;

	if (!json_is_object(a))
		return fail(rd, path, "expected an object, not %s", type_name(a));
	json_object_foreach (a, k, x) {
		bool known = false;

		for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
			known |= !strcmp(k, keys[i]);
		if (!known)
			return fail(rd, path, "unknown key \"%s\"", k);
	}
	snprintf(p, sizeof(p), "%s.index", path);
	if (!json_is_integer(idx) || json_integer_value(idx) < 0 || json_integer_value(idx) > 5)
		return fail(rd, p, "expected an argument index 0-5");
	c->index = json_integer_value(idx);
	for (int i = 0; i < 2; i++) {
		json_t *val = json_object_get(a, i ? "valueTwo" : "value");

		snprintf(p, sizeof(p), "%s.%s", path, i ? "valueTwo" : "value");
		if (val && (!json_is_integer(val) || json_integer_value(val) < 0))
			return fail(rd, p, "expected an unsigned integer");
		*(i ? &c->value_two : &c->value) = val ? (uint64_t)json_integer_value(val) : 0;
	}
	snprintf(p, sizeof(p), "%s.op", path);
	ops_s = json_string_value(op);
	for (size_t i = 0; ops_s && i < ARRAY_SIZE(ops); i++)
		if (!strcmp(ops[i].name, ops_s)) {
			c->op = ops[i].op;
			return 0;
		}
	return ops_s ? fail(rd, p, "unknown operator \"%s\"", ops_s)
		     : fail(rd, p, "expected an operator such as \"SCMP_CMP_EQ\"");
}

static int read_when(struct reader *rd, json_t *v, const char *path, struct sc_when *w)
{
	json_t *mk;
	char p[320];

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return fail(rd, path, "expected an object, not %s", type_name(v));
	snprintf(p, sizeof(p), "%s.caps", path);
	if (read_strings(rd, json_object_get(v, "caps"), p, 64, &w->caps) < 0)
		return -EINVAL;
	for (char **c = w->caps; c && *c; c++)
		if (sc_cap_by_name(*c) < 0)
			return fail(rd, p, "unknown capability \"%s\"", *c);
	snprintf(p, sizeof(p), "%s.arches", path);
	if (read_strings(rd, json_object_get(v, "arches"), p, 64, &w->arches) < 0)
		return -EINVAL;
	mk = json_object_get(v, "minKernel");
	if (mk && !json_is_null(mk) && !(json_is_string(mk) && !json_string_length(mk))) {
		snprintf(p, sizeof(p), "%s.minKernel", path);
		if (!json_is_string(mk) ||
		    sscanf(json_string_value(mk), "%u.%u", &w->kmajor, &w->kminor) != 2)
			return fail(rd, p, "expected a kernel version such as \"4.8\"");
		w->has_min_kernel = true;
	}
	return 0;
}

static int read_rule(struct reader *rd, json_t *s, unsigned i, struct sc_rule *r)
{
	static const char *const keys[] = {"names",    "name",	   "action", "args",   "includes",
					   "excludes", "errnoRet", "errno",  "comment"};
	char path[64], p[128];
	json_t *names, *args, *x;
	const char *k;
	size_t j;

	r->index = i;
	snprintf(path, sizeof(path), "syscalls[%u]", i);
	if (!json_is_object(s))
		return fail(rd, path, "expected an object, not %s", type_name(s));
	json_object_foreach (s, k, x) {
		bool known = false;

		for (size_t n = 0; n < ARRAY_SIZE(keys); n++)
			known |= !strcmp(k, keys[n]);
		if (!known)
			return fail(rd, path, "unknown key \"%s\"", k);
	}
	names = json_object_get(s, "names");
	snprintf(p, sizeof(p), "%s.names", path);
	if (names && read_strings(rd, names, p, NAMES_MAX, &r->names) < 0)
		return -EINVAL;
	if (!names) { /* the runtime-spec's older single `name` */
		json_t *name = json_object_get(s, "name");

		snprintf(p, sizeof(p), "%s.name", path);
		if (!json_is_string(name))
			return fail(rd, path, "needs \"names\" (or \"name\")");
		r->names = calloc(2, sizeof(char *));
		if (!r->names || !(r->names[0] = strdup(json_string_value(name))))
			return -ENOMEM;
	}
	snprintf(p, sizeof(p), "%s.action", path);
	if (read_action(rd, json_object_get(s, "action"), p, &r->action) < 0 ||
	    read_errno(rd, s, "errnoRet", "errno", path, &r->errno_ret) < 0)
		return -EINVAL;
	args = json_object_get(s, "args");
	if (args && !json_is_null(args)) {
		snprintf(p, sizeof(p), "%s.args", path);
		if (!json_is_array(args) || json_array_size(args) > SC_CONDS_MAX)
			return fail(rd, p, "expected an array of at most %d conditions",
				    SC_CONDS_MAX);
		r->conds = calloc(json_array_size(args) + 1, sizeof(*r->conds));
		if (!r->conds)
			return -ENOMEM;
		json_array_foreach (args, j, x) {
			snprintf(p, sizeof(p), "%s.args[%zu]", path, j);
			if (read_cond(rd, x, p, &r->conds[r->nconds++]) < 0)
				return -EINVAL;
		}
	}
	snprintf(p, sizeof(p), "%s.includes", path);
	if (read_when(rd, json_object_get(s, "includes"), p, &r->inc) < 0)
		return -EINVAL;
	snprintf(p, sizeof(p), "%s.excludes", path);
	return read_when(rd, json_object_get(s, "excludes"), p, &r->exc);
}

static int read_archmap(struct reader *rd, json_t *v, struct sc_profile *p)
{
	size_t i;
	json_t *x;
	char path[64];

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) > ARCHES_MAX)
		return fail(rd, "archMap", "expected an array of at most %d entries", ARCHES_MAX);
	p->archmap = calloc(json_array_size(v) + 1, sizeof(*p->archmap));
	if (!p->archmap)
		return -ENOMEM;
	json_array_foreach (v, i, x) {
		struct sc_archmap *m = &p->archmap[p->narchmap];
		const char *name = json_string_value(json_object_get(x, "architecture"));

		snprintf(path, sizeof(path), "archMap[%zu].architecture", i);
		/*
		 * Only the running architecture's entry is used (as Docker does):
		 * one this libseccomp does not know (e.g. LOONGARCH64 for 2.5) is not it.
		 */
		if (name && !strncmp(name, "SCMP_ARCH_", 10) && !known_arch(name))
			continue;
		p->narchmap++;
		if (read_arch(rd, json_object_get(x, "architecture"), path, &m->arch) < 0)
			return -EINVAL;
		snprintf(path, sizeof(path), "archMap[%zu].subArchitectures", i);
		if (read_arches(rd, json_object_get(x, "subArchitectures"), path, &m->subs,
				&m->nsubs) < 0)
			return -EINVAL;
	}
	return 0;
}

static int read_flags(struct reader *rd, json_t *v, struct sc_profile *p)
{
	size_t i;
	json_t *x;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return fail(rd, "flags", "expected an array of strings");
	json_array_foreach (v, i, x) {
		const char *f = json_string_value(x);
		char path[32];

		snprintf(path, sizeof(path), "flags[%zu]", i);
		if (f && !strcmp(f, "SECCOMP_FILTER_FLAG_TSYNC"))
			p->flag_tsync = true;
		else if (f && !strcmp(f, "SECCOMP_FILTER_FLAG_LOG"))
			p->flag_log = true;
		else if (f && !strcmp(f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"))
			p->flag_spec_allow = true;
		else if (!f || strcmp(f, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"))
			return fail(rd, path, "unknown flag %s", f ? f : "(not a string)");
	}
	return 0;
}

static int read_top(struct reader *rd, json_t *root, struct sc_profile *p)
{
	static const char *const keys[] = {"defaultAction", "defaultErrnoRet", "defaultErrno",
					   "architectures", "archMap",	       "flags",
					   "syscalls",	    "listenerPath",    "listenerMetadata"};
	json_t *sys = json_object_get(root, "syscalls"), *x;
	const char *k;
	size_t i;

	if (!json_is_object(root))
		return fail(rd, "", "expected a JSON object, not %s", type_name(root));
	json_object_foreach (root, k, x) {
		bool known = false;

		for (size_t n = 0; n < ARRAY_SIZE(keys); n++)
			known |= !strcmp(k, keys[n]);
		if (!known)
			return fail(rd, k, "unknown key");
	}
	if (read_action(rd, json_object_get(root, "defaultAction"), "defaultAction",
			&p->default_action) < 0 ||
	    read_errno(rd, root, "defaultErrnoRet", "defaultErrno", "", &p->default_errno) < 0 ||
	    read_arches(rd, json_object_get(root, "architectures"), "architectures", &p->arches,
			&p->narches) < 0 ||
	    read_archmap(rd, json_object_get(root, "archMap"), p) < 0 ||
	    read_flags(rd, json_object_get(root, "flags"), p) < 0)
		return -EINVAL;
	if (p->narches && p->narchmap)
		return fail(rd, "architectures", "give architectures or archMap, not both");
	if (!sys || json_is_null(sys))
		return 0;
	if (!json_is_array(sys) || json_array_size(sys) > RULES_MAX)
		return fail(rd, "syscalls", "expected an array of at most %d rules", RULES_MAX);
	p->rules = calloc(json_array_size(sys) + 1, sizeof(*p->rules));
	if (!p->rules)
		return -ENOMEM;
	json_array_foreach (sys, i, x) {
		int r = read_rule(rd, x, i, &p->rules[p->nrules++]);

		if (r < 0)
			return r;
	}
	return 0;
}

int sc_profile_parse(const char *text, size_t len, struct sc_profile **ret, char *err,
		     size_t errlen)
{
	struct reader rd = {err, errlen};
	struct sc_profile *p = calloc(1, sizeof(*p));
	json_error_t jerr;
	json_t *root;
	int r;

	if (!p)
		return -ENOMEM;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errlen, "line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
		free(p);
		return -EINVAL;
	}
	r = read_top(&rd, root, p);
	json_decref(root);
	if (r < 0) {
		if (r == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		sc_profile_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

int sc_profile_load(const char *path, struct sc_profile **ret, char *err, size_t errlen)
{
	_cleanup_free_ char *buf = NULL;
	char inner[512];
	size_t len;
	int r = read_trusted_file(path, PROFILE_MAX, &buf, &len, err, errlen);

	if (r < 0)
		return r;
	r = sc_profile_parse(buf, len, ret, inner, sizeof(inner));
	if (r < 0)
		snprintf(err, errlen, "%s: %s", path, inner);
	return r;
}

static void when_free(struct sc_when *w)
{
	strings_free(w->caps);
	strings_free(w->arches);
}

struct sc_profile *sc_profile_free(struct sc_profile *p)
{
	if (!p)
		return NULL;
	for (unsigned i = 0; i < p->nrules; i++) {
		strings_free(p->rules[i].names);
		free(p->rules[i].conds);
		when_free(&p->rules[i].inc);
		when_free(&p->rules[i].exc);
	}
	free(p->rules);
	for (unsigned i = 0; i < p->narchmap; i++)
		free(p->archmap[i].subs);
	free(p->archmap);
	free(p->arches);
	free(p);
	return NULL;
}
