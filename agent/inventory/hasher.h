/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hasher.h — SHA-256 of model files in the background, within an I/O budget.
 *
 * Owns: one low-priority thread (nice 19, idle I/O class) that hashes the
 * files handed to it as open descriptors (the sniffer's, already checked to
 * be the file the event saw: nothing is reopened by path), reading at most
 * `rate` bytes a second, a bounded queue (overflow counted, the descriptor
 * closed), the results for the event loop to take, and the counters.
 * SHA-256 is OpenSSL's EVP (libcrypto, which vigild links for entity ids
 * already). A file that changed while it was
 * hashed (size or mtime) is reported as changed, not with a digest.
 *
 * Stage inventory/: includes core/ and sense/ only; does not decide what is
 * hashed, emit events or alert.
 */
#ifndef VIGIL_HASHER_H
#define VIGIL_HASHER_H

#include <stdbool.h>
#include <stdint.h>

#include "inventory/inventory.h"

#define HASHER_QUEUE	    256
#define HASHER_RATE_DEFAULT (32ull << 20) /* bytes per second */

struct hash_result {
	struct inv_key key;
	char sha256[INV_SHA_HEX];
	int error; /* 0, -ESTALE (the file changed meanwhile), -errno */
};

struct hasher_stats {
	uint64_t queued, hashed, failed, dropped; /* dropped: the queue was full */
	uint64_t bytes, backlog, backlog_bytes;	  /* backlog: queued or being hashed now */
	const char *error;			  /* why nothing is hashed, or NULL */
};

struct hasher;

/* rate: bytes per second (0: the default). The thread starts at the first submit. */
int hasher_new(uint64_t rate, struct hasher **ret);
struct hasher *hasher_free(struct hasher *h);
/* Hash fd (taken: closed when done) as the file version k. False (fd closed) when full. */
bool hasher_submit(struct hasher *h, int fd, const struct inv_key *k);
/* One finished hash, or false. */
bool hasher_result(struct hasher *h, struct hash_result *ret);
void hasher_stats(struct hasher *h, struct hasher_stats *ret);

/* SHA-256 of the whole fd, at most rate bytes/s (0: unlimited); hex in out. 0 or -errno. */
int hasher_sha256_fd(struct hasher *h, int fd, uint64_t rate, char out[INV_SHA_HEX]);

#endif
