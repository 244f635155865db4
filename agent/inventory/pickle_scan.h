/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pickle_scan.h — which Python callables a pickle would import and call,
 * read from its opcodes without running them.
 *
 * Owns: a walk of pickle opcodes (protocols 0-5, several pickles in a row
 * as legacy torch files hold) that follows a model of the unpickler's stack
 * and memo just far enough to name every import: GLOBAL and INST (module and
 * name inline), STACK_GLOBAL (the two strings below it, pushed by any string
 * opcode directly or through PUT/BINPUT/LONG_BINPUT/MEMOIZE and
 * GET/BINGET/LONG_BINGET); calls (REDUCE, BUILD, NEWOBJ, NEWOBJ_EX, OBJ,
 * INST) counted against the callable they call; each import classified
 * dangerous / safe / unknown after picklescan's lists. A deflated zip entry
 * is inflated as it is walked (zlib), never whole.
 *
 * Bounded: bytes, opcodes, stack depth, bytes read (struct pickle_limits)
 * end the walk with -E2BIG; memo entries past their bound are not kept but
 * the walk goes on, so padding the memo hides nothing that follows. A
 * corrupt, truncated or hostile pickle ends the walk with an error and the
 * report of what came before it; an import the walk cannot
 * name (a STACK_GLOBAL over a value it did not track) is reported as
 * "?.?" and counted dangerous, as picklescan does: a real checkpoint never
 * does that.
 *
 * Stage inventory/: includes core/ and sense/ only; does not execute,
 * import, or decide alerts (the callables and classes are the caller's).
 */
#ifndef VIGIL_PICKLE_SCAN_H
#define VIGIL_PICKLE_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "inventory/byte_src.h"
#include "inventory/model_header.h"

#define PICKLE_NAME_MAX	   128 /* "module.name", cut to fit */
#define PICKLE_GLOBALS_MAX 32  /* distinct imports kept; more are counted */
#define PICKLE_STR_MAX	   255 /* longest module or name the walk follows */

enum pickle_class {
	PICKLE_SAFE = 0,  /* a known reconstructor: torch._utils._rebuild_tensor_v2, ... */
	PICKLE_UNKNOWN,	  /* neither list */
	PICKLE_DANGEROUS, /* runs code or touches the system: os.system, builtins.eval, ... */
};

struct pickle_global {
	char name[PICKLE_NAME_MAX]; /* module + "." + name */
	enum pickle_class cls;
	uint32_t imports; /* times imported */
	uint32_t calls;	  /* times called (REDUCE, NEWOBJ, OBJ, INST, BUILD on it) */
};

struct pickle_limits {
	uint64_t max_bytes; /* pickle bytes walked (after inflating) */
	uint64_t max_ops;   /* opcodes */
	uint32_t max_memo;  /* memo entries kept; past it the walk goes on, see memo_dropped */
	uint32_t max_stack; /* stack + mark depth */
	uint64_t max_read;  /* bytes read from the source (compressed, for a deflated entry) */
};

/* Defaults: 256 MiB, 64 Mi opcodes, 256 Ki memo entries (4 MiB), 64 Ki deep, 256 MiB
 * read. A walk holds at most the memo, 512 KiB of stack and 4 MiB of strings. */
void pickle_limits_default(struct pickle_limits *lim);

struct pickle_report {
	struct pickle_global globals[PICKLE_GLOBALS_MAX];
	uint32_t n_globals;
	uint32_t globals_dropped; /* distinct imports not kept: beyond PICKLE_GLOBALS_MAX, a
				   * dangerous one takes the place of a safe or unknown one */
	uint32_t dangerous;	  /* distinct imports classed dangerous (dropped ones too) */
	uint32_t unknown;	  /* distinct imports classed unknown (dropped ones too) */
	uint32_t calls;		  /* call opcodes in all */
	uint32_t memo_dropped;	  /* memo entries past max_memo, not kept: an import through
				   * one shows as "?.?" (named unknown, counted dangerous) */
	uint32_t pickles;	  /* pickles that reached STOP */
	uint8_t protocol;	  /* the first PROTO's, 0 when none */
	uint64_t ops;		  /* opcodes walked */
	uint64_t bytes;		  /* pickle bytes walked */
	uint64_t bytes_read;	  /* bytes read from the source (compressed ones when deflated) */
	bool complete;		  /* the walk reached the end of the data, no bound hit */
	uint64_t trailing;	  /* bytes after the last STOP that start no pickle (legacy
				   * torch files keep raw tensor data there) */
	int error;		  /* why it stopped early (as returned); 0 when complete */
	uint64_t error_at;	  /* pickle offset where it stopped */
};

/*
 * Walk the pickle(s) in [off, off + len) of src (lim NULL: the defaults);
 * after a STOP the walk goes on only where the next byte is PROTO, the rest
 * is out->trailing. Returns 0 when every byte
 * was walked (out->complete), or: -EBADMSG (not a valid pickle there: an
 * unknown opcode, a stack underflow, a bad argument — where the unpickler
 * fails too), -E2BIG (a limit was reached: the rest was not looked at),
 * -ENOMEM, or a read's -errno. out holds what was found before either way.
 */
int pickle_scan(const struct byte_src *src, uint64_t off, uint64_t len,
		const struct pickle_limits *lim, struct pickle_report *out);

/* The same over a model's pickle as model_header_read located it: raw,
 * stored, or deflated (inflated as it goes). -ENOENT when h has no pickle. */
int pickle_scan_model(const struct byte_src *src, const struct model_pickle_loc *loc,
		      const struct pickle_limits *lim, struct pickle_report *out);

/* Classify module.name after picklescan's unsafe/safe lists (each at most
 * PICKLE_STR_MAX bytes; "?" or "" is an import the walk could not name). */
enum pickle_class pickle_classify(const char *module, const char *name);
const char *pickle_class_name(enum pickle_class cls); /* "safe", "unknown", "dangerous" */

#endif
