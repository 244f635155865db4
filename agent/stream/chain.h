/* SPDX-License-Identifier: GPL-2.0 */
/*
 * chain.h — the tamper-evident hash chain of the file sink.
 *
 * Every line's `vigil.chain` is the hex SHA-256 of the previous line's exact
 * bytes (without its newline); the first line ever written carries
 * CHAIN_GENESIS. The chain continues across rotation and restarts. Owns
 * hashing, reading the tail of existing files (chain head, the previous
 * run's last sequence) and verification.
 *
 * Stage stream/: includes core/ and sense/; does not decide (detect) or act.
 */
#ifndef VIGIL_CHAIN_H
#define VIGIL_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHAIN_HEX_LEN 64
#define CHAIN_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

struct chain_hasher;

/* A reusable SHA-256 context: one per writer, so a line costs no allocation. */
struct chain_hasher *chain_hasher_new(void);
struct chain_hasher *chain_hasher_free(struct chain_hasher *h);
void chain_hash(struct chain_hasher *h, const char *line, size_t len, char out[CHAIN_HEX_LEN + 1]);
/* What the last complete line of an events file says about the run that wrote it. */
struct chain_tail {
	char head[CHAIN_HEX_LEN + 1]; /* hash of the line: the chain continues from it */
	uint64_t sequence;	      /* its event.sequence (0: none) */
	char run_id[40];	      /* its agent.ephemeral_id ("" if none) */
	bool clean;		      /* it is agent-stop: that run stopped cleanly */
};

/*
 * The last complete line of path (a torn tail after it is ignored) into ret;
 * -ENOENT/-ENODATA if there is none, -E2BIG if it is longer than 8 MiB.
 */
int chain_tail_read(const char *path, struct chain_tail *ret);

struct chain_result {
	uint64_t lines;	 /* lines checked */
	uint64_t breaks; /* breaks found */
	char file[4096]; /* a file that could not be read (error) */
};

/* One break: file, 1-based line, what is wrong there. */
typedef void (*chain_break_fn)(void *ctx, const char *file, uint64_t line, const char *reason);

struct chain_verify_opts {
	/* the oldest file is not the stream's first (older ones rotated away) */
	bool continued;
	chain_break_fn on_break;
	void *ctx;
};

/*
 * Verify files, oldest first, as one chain, reporting every break and going
 * on after it; the first line of the oldest file must carry CHAIN_GENESIS
 * unless opts->continued. Returns the number of breaks (0 = intact), or <0 on
 * a read error (res->file says which).
 */
int chain_verify(char *const *files, unsigned n, const struct chain_verify_opts *opts,
		 struct chain_result *res);

#endif
