// SPDX-License-Identifier: GPL-2.0
/*
 * ecs.c — events as ECS JSON lines: the envelope (timestamps, sequence,
 * ids), files, network, ptrace and targets, and the agent's own state and
 * audit lines; the process part is ecs_process.c's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "vigil/abi.h"
#include "core/util.h"

#include "stream/ecs_internal.h"

int ecs_new(const char *host_name, const char *boot_id, struct proc_cache *pc,
	    struct ecs_writer **ret)
{
	struct ecs_writer *w = calloc(1, sizeof(*w));
	unsigned char rnd[8];

	if (!w)
		return -ENOMEM;
	if (jw_init(&w->ev, 64 * 1024) < 0 || jw_init(&w->agent, 16 * 1024) < 0) {
		ecs_free(w);
		return -ENOMEM;
	}
	snprintf(w->host_name, sizeof(w->host_name), "%s", host_name);
	w->ts_sec = -1;
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	for (int i = 0; i < 8; i++)
		snprintf(w->run_id + 2 * i, 3, "%02x", rnd[i]);
	w->pc = pc;
	ecs_sync_clock(w);
	*ret = w;
	return 0;
}

struct ecs_writer *ecs_free(struct ecs_writer *w)
{
	if (w) {
		jw_free(&w->ev);
		jw_free(&w->agent);
		free(w);
	}
	return NULL;
}

void ecs_sync_clock(struct ecs_writer *w)
{
	w->boot_to_real_ns = (int64_t)clock_ns(CLOCK_REALTIME) - (int64_t)clock_ns(CLOCK_BOOTTIME);
}

uint64_t ecs_next_sequence(const struct ecs_writer *w)
{
	return w->seq + 1;
}

size_t ecs_last_event_id(const struct ecs_writer *w, char *buf, size_t len)
{
	char digits[24], *d = u64_digits(digits + sizeof(digits), w->seq);
	size_t nd = digits + sizeof(digits) - d, nr = strlen(w->run_id);

	if (nr + 1 + nd >= len)
		return 0;
	memcpy(buf, w->run_id, nr);
	buf[nr] = '-';
	memcpy(buf + nr + 1, d, nd);
	buf[nr + 1 + nd] = 0;
	return nr + 1 + nd;
}

uint64_t ecs_claim_id(struct ecs_writer *w, char *id, size_t len)
{
	w->seq++;
	ecs_last_event_id(w, id, len);
	return w->seq;
}

const char *ecs_host_name(const struct ecs_writer *w)
{
	return w->host_name;
}

uint64_t ecs_realtime_ns(const struct ecs_writer *w, uint64_t boot_ns)
{
	return boot_ns + w->boot_to_real_ns;
}

size_t ecs_format_time(struct ecs_writer *w, uint64_t boot_ns, char *buf)
{
	uint64_t ns = boot_ns + w->boot_to_real_ns;
	time_t sec = ns / 1000000000ull;
	uint32_t frac = ns % 1000000000ull;

	if (sec != w->ts_sec) { /* one gmtime per second of events, not per event */
		struct tm tm;

		gmtime_r(&sec, &tm);
		w->ts_len = strftime(w->ts_prefix, sizeof(w->ts_prefix), "%Y-%m-%dT%H:%M:%S.", &tm);
		w->ts_sec = sec;
	}
	memcpy(buf, w->ts_prefix, w->ts_len);
	for (int i = 8; i >= 0; i--, frac /= 10)
		buf[w->ts_len + i] = '0' + frac % 10;
	buf[w->ts_len + 9] = 'Z';
	buf[w->ts_len + 10] = 0;
	return w->ts_len + 10;
}

void ecs_put_time(struct jw *j, const char *key, struct ecs_writer *w, uint64_t boot_ns)
{
	char buf[48];

	jw_strn(j, key, buf, ecs_format_time(w, boot_ns, buf));
}

static void put_list(struct jw *j, const char *key, const char *csv)
{
	char item[32];

	jw_arr_open(j, key);
	while (*csv) {
		size_t n = strcspn(csv, ",");

		snprintf(item, sizeof(item), "%.*s", (int)n, csv);
		jw_str(j, NULL, item);
		csv += n + (csv[n] == ',');
	}
	jw_arr_close(j);
}

static struct jw *begin(struct ecs_writer *w, struct jw *j, uint64_t ts_boot_ns, const char *kind,
			const char *category, const char *type, const char *action,
			const char *outcome)
{
	char id[40];

	if (!ts_boot_ns)
		ts_boot_ns = clock_ns(CLOCK_BOOTTIME);
	w->seq++;
	jw_reset(j);
	jw_obj_open(j, NULL);
	ecs_put_time(j, "@timestamp", w, ts_boot_ns);
	jw_obj_open(j, "ecs");
	jw_str(j, "version", ECS_VERSION);
	jw_obj_close(j);
	jw_obj_open(j, "event");
	jw_str(j, "kind", kind);
	put_list(j, "category", category);
	put_list(j, "type", type);
	jw_str(j, "action", action);
	snprintf(id, sizeof(id), "%s-%llu", w->run_id, (unsigned long long)w->seq);
	jw_str(j, "id", id);
	jw_u64(j, "sequence", w->seq);
	jw_str(j, "module", "vigil");
	if (outcome)
		jw_str(j, "outcome", outcome);
	jw_obj_close(j);
	jw_obj_open(j, "agent");
	jw_str(j, "type", "vigil");
	jw_str(j, "version", VIGIL_VERSION);
	jw_str(j, "ephemeral_id", w->run_id);
	jw_obj_close(j);
	jw_obj_open(j, "host");
	jw_str(j, "name", w->host_name);
	jw_obj_close(j);
	return j;
}

struct jw *ecs_begin(struct ecs_writer *w, uint64_t ts_boot_ns, const char *kind,
		     const char *category, const char *type, const char *action)
{
	return begin(w, &w->agent, ts_boot_ns, kind, category, type, action, NULL);
}

struct jw *ecs_begin_outcome(struct ecs_writer *w, const char *kind, const char *category,
			     const char *type, const char *action, const char *outcome)
{
	return begin(w, &w->agent, 0, kind, category, type, action, outcome);
}

void ecs_watch_change(struct ecs_writer *w, const char *action, const char *path, const char *kind,
		      const char *reason, const char **line, size_t *len)
{
	struct jw *j = ecs_begin(w, 0, "state", "configuration", "change", action);

	j = ecs_vigil(w);
	jw_obj_open(j, "watch");
	jw_str(j, "path", path);
	jw_str(j, "kind", kind);
	jw_str(j, "reason", reason);
	jw_obj_close(j);
	ecs_end(w, line, len);
}

static struct jw *open_vigil(struct jw *j)
{
	jw_obj_open(j, "vigil");
	return j;
}

struct jw *ecs_vigil(struct ecs_writer *w)
{
	return open_vigil(&w->agent);
}

static void end(struct jw *j, const char **line, size_t *len)
{
	if (j->lossy)
		jw_bool(j, "lossy", true);
	jw_obj_close(j); /* vigil */
	jw_obj_close(j); /* event */
	*line = j->buf;
	*len = j->oom ? 0 : j->len;
}

void ecs_end(struct ecs_writer *w, const char **line, size_t *len)
{
	end(&w->agent, line, len);
}

const char *ecs_file_kind_name(uint32_t kind)
{
	switch (kind) {
	case VGL_KIND_MODEL:
	case VGL_KIND_MODEL_AMBIGUOUS:
		return "model";
	case VGL_KIND_GPU:
		return "gpu-device";
	case VGL_KIND_CREDENTIAL:
		return "credential";
	case VGL_KIND_PERSIST:
		return "persistence";
	case VGL_KIND_PROC_SECRET:
		return "proc-secret";
	default:
		return "watched";
	}
}

void ecs_path_parts(struct vstr path, struct vstr *name, struct vstr *dir, struct vstr *ext)
{
	const char *slash = memrchr(path.p, '/', path.n);
	const char *dot;

	name->p = slash ? slash + 1 : path.p;
	name->n = path.n - (name->p - path.p);
	dir->p = slash ? path.p : NULL;
	dir->n = !slash ? 0 : slash == path.p ? 1 : (size_t)(slash - path.p);
	dot = memrchr(name->p, '.', name->n);
	ext->p = dot && dot != name->p ? dot + 1 : NULL;
	ext->n = ext->p ? name->n - (ext->p - name->p) : 0;
}

static void put_file_names(struct jw *j, struct vstr path)
{
	struct vstr name, dir, ext;

	ecs_path_parts(path, &name, &dir, &ext);
	jw_strn(j, "path", path.p, path.n);
	jw_strn(j, "name", name.p, name.n);
	if (dir.p)
		jw_strn(j, "directory", dir.p, dir.n);
	if (ext.p)
		jw_strn(j, "extension", ext.p, ext.n);
}

#define O_ACCMODE_     03
#define FMODE_CREATED_ 0x100000

const char *ecs_open_type(const struct vigil_event *ev)
{
	if (ev->open.fmode & FMODE_CREATED_)
		return "creation";
	if ((ev->open.open_flags & O_ACCMODE_) != O_RDONLY || (ev->open.open_flags & O_TRUNC))
		return "change";
	return "access";
}

static void put_open(struct jw *j, const struct vigil_event *ev)
{
	char ino[24];

	jw_obj_open(j, "file");
	put_file_names(j, ev->open.path);
	snprintf(ino, sizeof(ino), "%llu", (unsigned long long)ev->open.ino);
	jw_str(j, "inode", ino);
	if (S_ISREG(ev->open.imode))
		jw_str(j, "type", "file");
	jw_obj_close(j);
}

static void put_open_vigil(struct jw *j, const struct vigil_event *ev)
{
	uint64_t fl = ev->open.open_flags;

	jw_obj_open(j, "file");
	jw_str(j, "kind", ecs_file_kind_name(ev->open.kind));
	if (ev->open.opened.n && (ev->open.opened.n != ev->open.path.n ||
				  memcmp(ev->open.opened.p, ev->open.path.p, ev->open.path.n)))
		jw_strn(j, "opened_path", ev->open.opened.p, ev->open.opened.n);
	jw_arr_open(j, "access");
	if ((fl & O_ACCMODE_) == O_RDONLY || (fl & O_ACCMODE_) == O_RDWR)
		jw_str(j, NULL, "read");
	if ((fl & O_ACCMODE_) == O_WRONLY || (fl & O_ACCMODE_) == O_RDWR)
		jw_str(j, NULL, "write");
	if (fl & O_CREAT)
		jw_str(j, NULL, "create");
	if (fl & O_TRUNC)
		jw_str(j, NULL, "truncate");
	jw_arr_close(j);
	if (ev->open.sflags & VGL_SF_PATH_TRUNC)
		jw_bool(j, "path_truncated", true);
	if (ev->open.sflags & VGL_SF_DENIED)
		jw_bool(j, "denied", true);
	jw_obj_close(j);
	if (ev->open.folded)
		jw_u64(j, "count", ev->open.folded + 1ull);
}

static void put_addr(struct jw *j, const char *obj, const uint8_t *addr, uint16_t port, int family)
{
	char buf[INET6_ADDRSTRLEN];

	if (!inet_ntop(family, addr, buf, sizeof(buf)))
		return;
	jw_obj_open(j, obj);
	jw_str(j, "ip", buf);
	jw_str(j, "address", buf);
	if (port)
		jw_u64(j, "port", port);
	jw_obj_close(j);
}

const char *ecs_net_outcome(const struct vigil_event *ev)
{
	if (ev->net.error == 0)
		return "success";
	return ev->net.error > 0 ? "failure" : "unknown";
}

static void put_net(struct jw *j, const struct vigil_event *ev)
{
	static const uint8_t zero[16];
	int fam = ev->net.family == 10 ? AF_INET6 : AF_INET;
	bool tcp = ev->net.protocol == 6;

	if (ev->action == VA_CONNECT) {
		put_addr(j, "destination", ev->net.daddr, ev->net.dport, fam);
		if (memcmp(ev->net.saddr, zero, fam == AF_INET ? 4 : 16) || ev->net.sport)
			put_addr(j, "source", ev->net.saddr, ev->net.sport, fam);
	} else {
		put_addr(j, "source", ev->net.saddr, ev->net.sport, fam);
	}
	jw_obj_open(j, "network");
	jw_str(j, "transport", tcp ? "tcp" : "udp");
	jw_str(j, "type", fam == AF_INET6 ? "ipv6" : "ipv4");
	jw_str(j, "iana_number", tcp ? "6" : "17");
	if (ev->action == VA_CONNECT)
		jw_str(j, "direction", "egress");
	jw_obj_close(j);
}

static void put_file(struct jw *j, struct vstr path)
{
	jw_obj_open(j, "file");
	put_file_names(j, path);
	jw_obj_close(j);
}

/* file.*: the changed path; a link's or symlink's target as ECS file.target_path. */
static void put_change_file(struct jw *j, const struct vigil_event *ev)
{
	jw_obj_open(j, "file");
	put_file_names(j, ev->change.path);
	if ((ev->action == VA_LINK || ev->action == VA_SYMLINK) && ev->change.target.n)
		jw_strn(j, "target_path", ev->change.target.p, ev->change.target.n);
	if (ev->action == VA_SYMLINK)
		jw_str(j, "type", "symlink");
	jw_obj_close(j);
}

struct action_meta ecs_action_meta(const struct vigil_event *ev)
{
	switch (ev->action) {
	case VA_EXEC:
		return (struct action_meta){"process", "start"};
	case VA_EXIT:
		return (struct action_meta){"process", "end"};
	case VA_OPEN:
		return (struct action_meta){"file", ecs_open_type(ev)};
	case VA_UNLINK:
		return (struct action_meta){"file", "deletion"};
	case VA_RENAME:
	case VA_TRUNCATE:
	case VA_CHMOD:
		return (struct action_meta){"file", "change"};
	case VA_LINK:
	case VA_SYMLINK:
		return (struct action_meta){"file", "creation"};
	case VA_CONNECT:
		return (struct action_meta){"network", "connection,start"};
	case VA_LISTEN:
		return (struct action_meta){"network", "start"};
	case VA_IOURING:
		return (struct action_meta){"process", "info"};
	case VA_PTRACE:
		return (struct action_meta){"process", "access"};
	case VA_MODEL_FORMAT:
	case VA_MODEL_FINDING:
		return (struct action_meta){"file", "info"};
	case VA_SIGNAL:
		return (struct action_meta){"process", "info"};
	case VA_SECCOMP:
		return (struct action_meta){"intrusion_detection",
					    ev->seccomp.denied ? "denied" : "info"};
	default:
		return (struct action_meta){"host", "info"};
	}
}

/* vigild, or (SIGSYS from a seccomp filter) the process itself. */
const char *ecs_signal_target_name(const struct vigil_event *ev)
{
	if (ev->signal.sig == SIGSYS && ev->signal.target == ev->pid && ev->proc)
		return ev->proc->name;
	return ev->signal.sig == SIGSYS ? "" : "vigild";
}

size_t ecs_signal_name(int sig, char *buf, size_t len)
{
	const char *abbrev = sigabbrev_np(sig);

	return snprintf(buf, len, "SIG%s", abbrev ? abbrev : "?");
}

const char *ecs_ptrace_request_name(uint32_t request)
{
	switch (request) {
	case 16:
		return "attach";
	case 0x4206:
		return "seize";
	case VGL_PTRACE_VM_READV:
		return "process_vm_readv";
	case VGL_PTRACE_VM_WRITEV:
		return "process_vm_writev";
	default:
		return "other";
	}
}

/* vigil.target: the process whose memory (ptrace) or /proc file (proc-secret) was asked for. */
static void put_target(struct jw *j, struct ecs_writer *w, uint32_t pid, const struct proc *t)
{
	jw_obj_open(j, "target");
	jw_u64(j, "pid", pid);
	if (t) {
		jw_str(j, "entity_id", proc_cache_entity_id(w->pc, t));
		jw_str(j, "name", t->name);
		if (t->exe)
			jw_str(j, "executable", t->exe);
		jw_bool(j, "inference", t->flags & (PROC_INFERENCE | PROC_INFERENCE_TREE));
	}
	jw_obj_close(j);
}

/* vigil.ptrace: how the memory was asked for. */
static void put_ptrace(struct jw *j, struct ecs_writer *w, const struct vigil_event *ev)
{
	put_target(j, w, ev->ptrace.target, ev->ptrace.target_proc);
	jw_obj_open(j, "ptrace");
	jw_str(j, "request", ecs_ptrace_request_name(ev->ptrace.request));
	jw_i64(j, "result", ev->ptrace.ret);
	jw_obj_close(j);
}

/* file.* of a model finding: the path and, where known, the content's digest (ECS file.hash). */
static void put_model_file(struct jw *j, const struct vigil_event *ev)
{
	jw_obj_open(j, "file");
	put_file_names(j, ev->model.path);
	if (ev->model.sha256[0]) {
		jw_obj_open(j, "hash");
		jw_str(j, "sha256", ev->model.sha256);
		jw_obj_close(j);
	}
	jw_obj_close(j);
}

/* vigil.model: what the inventory found (docs/inventory.md). */
static void put_model_vigil(struct jw *j, const struct vigil_event *ev)
{
	jw_obj_open(j, "model");
	jw_str(j, "finding", ev->model.finding);
	jw_str(j, "format", ev->model.format);
	if (ev->model.digest_source[0])
		jw_str(j, "digest_source", ev->model.digest_source);
	if (ev->model.named_sha256[0])
		jw_str(j, "named_sha256", ev->model.named_sha256);
	if (ev->model.n_callables) {
		jw_arr_open(j, "callables");
		for (unsigned i = 0; i < ev->model.n_callables; i++)
			jw_str(j, NULL, ev->model.callables[i]);
		jw_arr_close(j);
	}
	jw_obj_close(j);
}

void ecs_format_event(struct ecs_writer *w, const struct vigil_event *ev, const char **line,
		      size_t *len)
{
	struct action_meta m = ecs_action_meta(ev);
	struct jw *j = begin(
	    w, &w->ev, ev->ts_boot_ns, "event", m.category, m.type, vigil_action_name(ev->action),
	    ev->action == VA_CONNECT   ? ecs_net_outcome(ev)
	    : ev->action == VA_PTRACE  ? (ev->ptrace.ret < 0 ? "failure" : "success")
	    : ev->action == VA_SECCOMP ? (ev->seccomp.denied ? "failure" : "success")
				       : NULL);

	ecs_put_process(j, w, ev);
	if (ev->action == VA_OPEN)
		put_open(j, ev);
	else if (ev->action >= VA_RENAME && ev->action <= VA_SYMLINK)
		put_change_file(j, ev);
	else if (ev->action == VA_CONNECT || ev->action == VA_LISTEN)
		put_net(j, ev);
	else if (ev->action == VA_MODEL_FORMAT)
		put_file(j, ev->sniff.path);
	else if (ev->action == VA_MODEL_FINDING)
		put_model_file(j, ev);
	j = open_vigil(j);
	if (ev->proc)
		ecs_put_ancestry(j, w, ev);
	if (ev->action == VA_OPEN)
		put_open_vigil(j, ev);
	if (ev->action == VA_OPEN && ev->open.target)
		put_target(j, w, ev->open.target, ev->open.target_proc);
	if (ev->action >= VA_RENAME && ev->action <= VA_SYMLINK) {
		jw_obj_open(j, "file");
		jw_str(j, "kind", ecs_file_kind_name(ev->change.kind));
		if (ev->action == VA_RENAME && ev->change.target.n)
			jw_strn(j, "new_path", ev->change.target.p, ev->change.target.n);
		jw_obj_close(j);
	}
	if (ev->action == VA_CONNECT) {
		jw_obj_open(j, "network");
		if (ev->net.error > 0)
			jw_i64(j, "errno", ev->net.error);
		jw_str(j, "via",
		       ev->net.via == VGL_VIA_SENDMSG	? "sendmsg"
		       : ev->net.via == VGL_VIA_CONNECT ? "connect"
							: "tcp");
		jw_obj_close(j);
	}
	if (ev->action == VA_IOURING) {
		jw_obj_open(j, "io_uring");
		jw_u64(j, "sq_entries", ev->iouring.sq_entries);
		jw_u64(j, "cq_entries", ev->iouring.cq_entries);
		jw_u64(j, "flags", ev->iouring.flags);
		jw_obj_close(j);
	}
	if (ev->action == VA_PTRACE)
		put_ptrace(j, w, ev);
	if (ev->action == VA_SIGNAL) {
		char name[24];

		ecs_signal_name(ev->signal.sig, name, sizeof(name));
		jw_obj_open(j, "target");
		jw_u64(j, "pid", ev->signal.target);
		jw_str(j, "name", ecs_signal_target_name(ev));
		jw_obj_close(j);
		jw_obj_open(j, "signal");
		jw_i64(j, "number", ev->signal.sig);
		jw_str(j, "name", name);
		jw_i64(j, "code", ev->signal.code);
		jw_obj_close(j);
	}
	if (ev->action == VA_SECCOMP) {
		jw_obj_open(j, "seccomp");
		jw_str(j, "syscall", ev->seccomp.name);
		jw_u64(j, "number", ev->seccomp.nr);
		jw_str(j, "arch", ev->seccomp.compat ? "x86" : "native");
		jw_str(j, "verdict", ev->seccomp.denied ? "denied" : "logged");
		jw_u64(j, "confined_root", ev->seccomp.profile);
		jw_obj_close(j);
	}
	if (ev->action == VA_MODEL_FORMAT) {
		jw_obj_open(j, "file");
		jw_str(j, "kind", ecs_file_kind_name(ev->sniff.kind));
		jw_str(j, "format", ev->sniff.format);
		if (ev->sniff.expected[0])
			jw_str(j, "expected_format", ev->sniff.expected);
		jw_bool(j, "format_mismatch", ev->sniff.mismatch);
		jw_bool(j, "pickle", ev->sniff.pickle);
		jw_obj_close(j);
	}
	if (ev->action == VA_MODEL_FINDING)
		put_model_vigil(j, ev);
	if (ev->action == VA_EXIT && ev->exit.signal) {
		jw_obj_open(j, "exit");
		jw_u64(j, "signal", ev->exit.signal);
		jw_bool(j, "core_dumped", ev->exit.core);
		jw_obj_close(j);
	}
	end(j, line, len);
}
