/* SPDX-License-Identifier: GPL-2.0 */
/*
 * chain.h — the tamper-evident hash chain of the file sink.
 *
 * Every line's `vigil.chain` is the hex SHA-256 of the previous line's exact
 * bytes (without its newline); the first line ever written carries
 * CHAIN_GENESIS. The chain continues across rotation and restarts. Owns
 * hashing, finding the chain head of existing files, and verification.
 */
#ifndef VIGIL_CHAIN_H
#define VIGIL_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#define CHAIN_HEX_LEN 64
#define CHAIN_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

struct chain_hasher;

/* A reusable SHA-256 context: one per writer, so a line costs no allocation. */
struct chain_hasher *chain_hasher_new(void);
struct chain_hasher *chain_hasher_free(struct chain_hasher *h);
void chain_hash(struct chain_hasher *h, const char *line, size_t len, char out[CHAIN_HEX_LEN + 1]);
/* Hash of the last complete line of path into out; -ENOENT/-ENODATA if none. */
int chain_last_line_hash(const char *path, char out[CHAIN_HEX_LEN + 1]);

struct chain_result {
	uint64_t lines;	 /* lines checked */
	char file[4096]; /* where it broke */
	uint64_t line;	 /* line number in file (1-based) */
	char reason[256];
};

/* Verify files, oldest first, as one chain. 0 = intact, 1 = broken (res says where), <0 error. */
int chain_verify(char *const *files, unsigned n, struct chain_result *res);

#endif
