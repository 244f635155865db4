/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fields.h — the event fields rules can name, and the flat view of one
 * event that the rule engine reads.
 *
 * Owns: the field table (ECS dotted names of the stream, their type and
 * whether they hold several values), name lookup with "did you mean", and
 * struct rule_view: per field, a chain of values pointing into memory the
 * producer keeps alive (a decoded record, the process cache, a replay line).
 * Filling a view is the producers' business (event_view.c for live events,
 * json_view.c for recorded NDJSON); matching is rules.c's.
 *
 * Stage detect/: includes core/, sense/, stream/; does not act: no signals, cells, webhooks.
 */
#ifndef VIGIL_FIELDS_H
#define VIGIL_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum field_type { FT_STR, FT_NUM, FT_IP, FT_BOOL };

/* X(id, "dotted.name", type, multi) — the order is the field id. */
#define VIGIL_FIELDS(X)                                                  \
	X(TIMESTAMP, "@timestamp", FT_STR, 0)                            \
	X(EVENT_ACTION, "event.action", FT_STR, 0)                       \
	X(EVENT_KIND, "event.kind", FT_STR, 0)                           \
	X(EVENT_CATEGORY, "event.category", FT_STR, 1)                   \
	X(EVENT_TYPE, "event.type", FT_STR, 1)                           \
	X(EVENT_OUTCOME, "event.outcome", FT_STR, 0)                     \
	X(EVENT_ID, "event.id", FT_STR, 0)                               \
	X(EVENT_SEQUENCE, "event.sequence", FT_NUM, 0)                   \
	X(EVENT_MODULE, "event.module", FT_STR, 0)                       \
	X(AGENT_TYPE, "agent.type", FT_STR, 0)                           \
	X(HOST_NAME, "host.name", FT_STR, 0)                             \
	X(PROC_PID, "process.pid", FT_NUM, 0)                            \
	X(PROC_ENTITY, "process.entity_id", FT_STR, 0)                   \
	X(PROC_NAME, "process.name", FT_STR, 0)                          \
	X(PROC_EXE, "process.executable", FT_STR, 0)                     \
	X(PROC_ARGS, "process.args", FT_STR, 1)                          \
	X(PROC_ARGC, "process.args_count", FT_NUM, 0)                    \
	X(PROC_CMDLINE, "process.command_line", FT_STR, 0)               \
	X(PROC_CWD, "process.working_directory", FT_STR, 0)              \
	X(PROC_EXIT_CODE, "process.exit_code", FT_NUM, 0)                \
	X(PROC_TID, "process.thread.id", FT_NUM, 0)                      \
	X(PROC_UID, "process.user.id", FT_STR, 0)                        \
	X(PROC_SID, "process.session_leader.pid", FT_NUM, 0)             \
	X(PARENT_PID, "process.parent.pid", FT_NUM, 0)                   \
	X(PARENT_ENTITY, "process.parent.entity_id", FT_STR, 0)          \
	X(PARENT_NAME, "process.parent.name", FT_STR, 0)                 \
	X(PARENT_EXE, "process.parent.executable", FT_STR, 0)            \
	X(PARENT_ARGS, "process.parent.args", FT_STR, 1)                 \
	X(PARENT_CMDLINE, "process.parent.command_line", FT_STR, 0)      \
	X(USER_ID, "user.id", FT_STR, 0)                                 \
	X(GROUP_ID, "group.id", FT_STR, 0)                               \
	X(CONTAINER_ID, "container.id", FT_STR, 0)                       \
	X(CONTAINER_RUNTIME, "container.runtime", FT_STR, 0)             \
	X(POD_UID, "orchestrator.resource.id", FT_STR, 0)                \
	X(FILE_PATH, "file.path", FT_STR, 0)                             \
	X(FILE_NAME, "file.name", FT_STR, 0)                             \
	X(FILE_DIR, "file.directory", FT_STR, 0)                         \
	X(FILE_EXT, "file.extension", FT_STR, 0)                         \
	X(FILE_INODE, "file.inode", FT_STR, 0)                           \
	X(FILE_TARGET_PATH, "file.target_path", FT_STR, 0)               \
	X(DST_IP, "destination.ip", FT_IP, 0)                            \
	X(DST_PORT, "destination.port", FT_NUM, 0)                       \
	X(SRC_IP, "source.ip", FT_IP, 0)                                 \
	X(SRC_PORT, "source.port", FT_NUM, 0)                            \
	X(NET_TRANSPORT, "network.transport", FT_STR, 0)                 \
	X(NET_TYPE, "network.type", FT_STR, 0)                           \
	X(NET_DIRECTION, "network.direction", FT_STR, 0)                 \
	X(ANC_PID, "vigil.process.ancestors.pid", FT_NUM, 1)             \
	X(ANC_ENTITY, "vigil.process.ancestors.entity_id", FT_STR, 1)    \
	X(ANC_NAME, "vigil.process.ancestors.name", FT_STR, 1)           \
	X(ANC_EXE, "vigil.process.ancestors.executable", FT_STR, 1)      \
	X(V_CGROUP, "vigil.process.cgroup", FT_STR, 0)                   \
	X(V_EXE_DELETED, "vigil.process.exe_deleted", FT_BOOL, 0)        \
	X(V_EXE_MEMFD, "vigil.process.exe_memfd", FT_BOOL, 0)            \
	X(V_ARGS_TRUNC, "vigil.process.args_truncated", FT_BOOL, 0)      \
	X(V_STDIN_SOCK, "vigil.process.stdin_socket", FT_BOOL, 0)        \
	X(V_STDOUT_SOCK, "vigil.process.stdout_socket", FT_BOOL, 0)      \
	X(V_INFERENCE, "vigil.workload.inference", FT_BOOL, 0)           \
	X(V_INFERENCE_TREE, "vigil.workload.inference_tree", FT_BOOL, 0) \
	X(V_GPU, "vigil.workload.gpu", FT_BOOL, 0)                       \
	X(V_WL_MATCH, "vigil.workload.match", FT_STR, 0)                 \
	X(V_WL_WORKER, "vigil.workload.runtime_worker", FT_BOOL, 0)      \
	X(V_FILE_KIND, "vigil.file.kind", FT_STR, 0)                     \
	X(V_FILE_OPENED, "vigil.file.opened_path", FT_STR, 0)            \
	X(V_FILE_ACCESS, "vigil.file.access", FT_STR, 1)                 \
	X(V_FILE_NEW_PATH, "vigil.file.new_path", FT_STR, 0)             \
	X(V_FILE_FORMAT, "vigil.file.format", FT_STR, 0)                 \
	X(V_FILE_EXPECTED, "vigil.file.expected_format", FT_STR, 0)      \
	X(V_FILE_MISMATCH, "vigil.file.format_mismatch", FT_BOOL, 0)     \
	X(V_FILE_PICKLE, "vigil.file.pickle", FT_BOOL, 0)                \
	X(V_COUNT, "vigil.count", FT_NUM, 0)                             \
	X(V_NET_ERRNO, "vigil.network.errno", FT_NUM, 0)                 \
	X(V_NET_VIA, "vigil.network.via", FT_STR, 0)                     \
	X(V_EXIT_SIGNAL, "vigil.exit.signal", FT_NUM, 0)                 \
	X(V_TARGET_PID, "vigil.target.pid", FT_NUM, 0)                   \
	X(V_TARGET_ENTITY, "vigil.target.entity_id", FT_STR, 0)          \
	X(V_TARGET_NAME, "vigil.target.name", FT_STR, 0)                 \
	X(V_TARGET_EXE, "vigil.target.executable", FT_STR, 0)            \
	X(V_TARGET_INFERENCE, "vigil.target.inference", FT_BOOL, 0)      \
	X(V_PTRACE_REQUEST, "vigil.ptrace.request", FT_STR, 0)           \
	X(V_SIGNAL, "vigil.signal.number", FT_NUM, 0)                    \
	X(V_SIGNAL_NAME, "vigil.signal.name", FT_STR, 0)                 \
	X(V_SECCOMP_SYSCALL, "vigil.seccomp.syscall", FT_STR, 0)         \
	X(V_SECCOMP_VERDICT, "vigil.seccomp.verdict", FT_STR, 0)         \
	X(FILE_SHA256, "file.hash.sha256", FT_STR, 0)                    \
	X(V_MODEL_FINDING, "vigil.model.finding", FT_STR, 0)             \
	X(V_MODEL_FORMAT, "vigil.model.format", FT_STR, 0)               \
	X(V_MODEL_DIGEST_SOURCE, "vigil.model.digest_source", FT_STR, 0) \
	X(V_MODEL_NAMED_SHA256, "vigil.model.named_sha256", FT_STR, 0)   \
	X(V_MODEL_CALLABLES, "vigil.model.callables", FT_STR, 1)

enum field_id {
#define FIELD_ENUM(id, name, type, multi) F_##id,
	VIGIL_FIELDS(FIELD_ENUM)
#undef FIELD_ENUM
	    F__COUNT
};

struct field_def {
	const char *name;
	enum field_type type;
	bool multi;
};

extern const struct field_def field_defs[F__COUNT];

/* Field id of a dotted name, or -1. */
int field_lookup(const char *name, size_t len);
/* The known name closest to an unknown one (for "did you mean"), or NULL. */
const char *field_suggest(const char *name, size_t len);
const char *field_type_name(enum field_type t);

/* The event actions rules can be indexed by (event.action values). */
/* X(id, "event.action value") */
// clang-format off
#define VIGIL_ACTIONS(X)                        \
	X(exec, "exec")                         \
	X(exit, "exit")                         \
	X(open, "open")                         \
	X(rename, "rename")                     \
	X(unlink, "unlink")                     \
	X(truncate, "truncate")                 \
	X(chmod, "chmod")                       \
	X(link, "link")                         \
	X(symlink, "symlink")                   \
	X(connect, "connect")                   \
	X(listen, "listen")                     \
	X(ptrace, "ptrace")                     \
	X(model_format, "model-format")         \
	X(signal, "signal")                     \
	X(seccomp, "seccomp")                   \
	X(model_finding, "model-finding")
// clang-format on
enum action_bit {
#define ACTION_ENUM(a, name) AB_##a,
	VIGIL_ACTIONS(ACTION_ENUM)
#undef ACTION_ENUM
	    AB_OTHER, /* any other event.action (agent health, alerts…) */
	AB__COUNT
};
#define ACTIONS_ALL ((1u << AB__COUNT) - 1)
/* Bit number of an event.action value (AB_OTHER if unknown). */
enum action_bit action_bit_of(const char *s, size_t n);

struct ipaddr {
	uint8_t a[16];
	bool v6; /* v4 lives in a[0..3]; v4-mapped v6 is stored as v4 */
};

struct rval {
	union {
		struct {
			const char *p;
			uint32_t n;
		} s;
		int64_t i;
		struct ipaddr ip;
		bool b;
	};
	uint16_t next; /* index of the field's next value, 0 = none */
};

#define VIEW_MAX_VALS 1024

/* One event, flattened. Reset before each fill; values chain per field. */
struct rule_view {
	uint64_t ts_ns; /* event time (@timestamp), realtime ns: windows run on it */
	enum action_bit action;
	uint16_t head[F__COUNT], tail[F__COUNT]; /* 0 = absent (vals[0] unused) */
	uint16_t nvals;
	bool overflow; /* values were dropped (argv longer than VIEW_MAX_VALS) */
	/*
	 * Fields whose value is not known (replay of another collector's line:
	 * neither carried nor derived). A test on one is neither true nor false
	 * and a rule that depends on it does not fire (rule_eval.c). Empty live.
	 */
	bool has_unknown;
	uint64_t unknown[(F__COUNT + 63) / 64];
	struct rval vals[VIEW_MAX_VALS];
	/* room for strings the producer derives (command lines, unescaped JSON) */
	char *scratch;
	size_t scratch_len, scratch_cap;
};

int view_init(struct rule_view *v, size_t scratch_cap);
void view_fini(struct rule_view *v);
void view_reset(struct rule_view *v);
/* Append a value to field f; NULL when the view is full (v->overflow set). */
struct rval *view_add(struct rule_view *v, enum field_id f);
void view_add_str(struct rule_view *v, enum field_id f, const char *p, size_t n);
void view_add_num(struct rule_view *v, enum field_id f, int64_t i);
void view_add_bool(struct rule_view *v, enum field_id f, bool b);
/* Parse text as an IPv4/IPv6 address; false if it is not one. */
bool ip_parse(const char *p, size_t n, struct ipaddr *ret);
void view_add_ip(struct rule_view *v, enum field_id f, const struct ipaddr *ip);
/* Copy n bytes into the scratch area; NULL when it is full. */
char *view_stash(struct rule_view *v, const char *p, size_t n);
static inline void view_set_unknown(struct rule_view *v, enum field_id f)
{
	v->unknown[f / 64] |= 1ull << (f % 64);
	v->has_unknown = true;
}
static inline bool view_is_unknown(const struct rule_view *v, enum field_id f)
{
	return (v->unknown[f / 64] >> (f % 64)) & 1;
}
static inline const struct rval *view_first(const struct rule_view *v, enum field_id f)
{
	return v->head[f] ? &v->vals[v->head[f]] : NULL;
}
static inline const struct rval *view_next(const struct rule_view *v, const struct rval *r)
{
	return r->next ? &v->vals[r->next] : NULL;
}

#endif
