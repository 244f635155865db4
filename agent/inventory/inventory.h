/* SPDX-License-Identifier: GPL-2.0 */
/*
 * inventory.h — the model inventory (AI-BOM): every model file a workload
 * opened for reading, as it really was.
 *
 * Owns: one entry per file version (device, inode, size, mtime): its paths,
 * format and header summary, the SHA-256 and how it was established (a
 * content-addressed name, verified or not, or hashed), the pickle scan's
 * verdict, the workloads that loaded it (executable, unit or container,
 * inference tag; first/last seen, loads), first/last seen and load count.
 * Bounded (max models, paths and workloads per model: the least recently
 * seen model goes first, counted). The JSON form for the state file and
 * `vigil bom`, read back at start so the inventory survives restarts.
 * Content-addressed names: Hugging Face's blobs/<sha256>, Ollama's
 * sha256-<hex>.
 *
 * Stage inventory/: includes core/ and sense/ only; does not read model
 * files, emit events or decide alerts (daemon/models.c wires it).
 */
#ifndef VIGIL_INVENTORY_H
#define VIGIL_INVENTORY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define INV_PATHS_MAX	  4
#define INV_WORKLOADS_MAX 16
#define INV_CALLABLES_MAX 8
#define INV_SHA_HEX	  65 /* 64 hex digits and the NUL */
#define INV_MAX_DEFAULT	  1024

/* How the digest was established. */
enum inv_digest {
	INV_DIGEST_NONE = 0, /* not yet: waiting for the hasher */
	INV_DIGEST_NAME,     /* the content-addressed name says so; not verified yet */
	INV_DIGEST_VERIFIED, /* the name, and the content hashed to it */
	INV_DIGEST_HASHED,   /* hashed (no name to go by) */
	INV_DIGEST_MISMATCH, /* the content does not match its name: tampered */
};

/* The file version: the cache key of everything below. */
struct inv_key {
	uint64_t dev, ino, size;
	int64_t mtime_ns;
};

/* What the header and the pickle scan said (filled in the sniffer's worker). */
struct inv_summary {
	char format[24];
	char arch[64], name[128], quant[32], producer[64];
	uint64_t params, tensors, context_length;
	uint32_t opset; /* the default domain's */
	bool pickle, scanned, scan_complete;
	uint32_t globals, unknown, dangerous;
	uint32_t n_callables;
	char callables[INV_CALLABLES_MAX][128]; /* the dangerous imports, "module.name" */
};

struct inv_workload {
	char *exe;
	char *unit; /* systemd unit, or "container:<id>", or "" */
	bool inference;
	uint64_t loads;
	int64_t first_ns, last_ns; /* realtime */
};

struct inv_model {
	struct inv_key key;
	char *paths[INV_PATHS_MAX];
	unsigned n_paths;
	struct inv_summary sum;
	char sha256[INV_SHA_HEX];
	char named_sha256[INV_SHA_HEX]; /* what a content-addressed name promises, "" if none */
	enum inv_digest digest;
	bool hash_queued; /* the hasher has it (not persisted) */
	struct inv_workload workloads[INV_WORKLOADS_MAX];
	unsigned n_workloads;
	uint64_t workloads_dropped, loads;
	int64_t first_ns, last_ns;
};

struct inventory;

/* One load: a workload opened this file version for reading. */
struct inv_load {
	struct inv_key key;
	const char *path, *exe, *unit, *format;
	bool inference;
	int64_t now_ns;
	const struct inv_summary *sum; /* NULL when the sniffer answered from its cache */
};

struct inv_change {
	bool new_model, new_workload;
	unsigned workload; /* index of the workload that loaded it */
};

int inventory_new(unsigned max_models, struct inventory **ret);
struct inventory *inventory_free(struct inventory *inv);
/* Record a load; *ret the entry (valid until the next record or load). -ENOMEM. */
int inventory_record(struct inventory *inv, const struct inv_load *l, struct inv_model **ret,
		     struct inv_change *chg);
struct inv_model *inventory_find(struct inventory *inv, const struct inv_key *k);
/* The hasher's answer for a file version: sets sha256 and the digest's source. */
struct inv_model *inventory_hashed(struct inventory *inv, const struct inv_key *k,
				   const char *sha256);
unsigned inventory_count(const struct inventory *inv);
struct inv_model *inventory_at(struct inventory *inv, unsigned i);
uint64_t inventory_evicted(const struct inventory *inv);
/* Changed since the last inventory_save (or load). */
bool inventory_dirty(const struct inventory *inv);

/* {"version":1, "models":[...]} (the state file's and `vigil bom`'s form). */
json_t *inventory_json(const struct inventory *inv);
/* Entries from that form (a state file from an earlier run); bad entries skipped. */
int inventory_from_json(struct inventory *inv, const json_t *doc);
/* Atomically written, 0600; read back (a missing file is an empty inventory). */
int inventory_save(struct inventory *inv, const char *path);
int inventory_load(struct inventory *inv, const char *path);

/* The SHA-256 a content-addressed path promises (HF blobs/<hex>, Ollama sha256-<hex>). */
bool inventory_name_digest(const char *path, char out[INV_SHA_HEX]);
const char *inventory_digest_name(enum inv_digest d);

/* s[0..n) is a SHA-256 as vigil writes it: 64 lowercase hex digits. */
bool inv_is_sha256_hex(const char *s, size_t n);

#endif
