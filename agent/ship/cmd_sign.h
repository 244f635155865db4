/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cmd_sign.h — signed remote commands: what a responder sends over NATS
 * and what vigild checks before it acts on it.
 *
 * Owns: the request `{cmd, host, args, ts, nonce, key_id, sig}`; the
 * canonical bytes the signature covers (the object without `sig`, keys
 * sorted, no whitespace: jansson JSON_SORT_KEYS|JSON_COMPACT, the same as
 * Python's json.dumps(o, sort_keys=True, separators=(",", ":"),
 * ensure_ascii=False)); Ed25519 signing and verifying (OpenSSL libcrypto,
 * PureEdDSA, no digest); responder keys (`/etc/vigil/responders.d/ID.pub`:
 * a PEM public key and a line `role: read|act`; the key id is the file
 * name without `.pub`; root-owned files only); the checks, in this order:
 * malformed, unknown key, bad signature, wrong host, timestamp outside
 * ±CMD_SKEW_S, replayed nonce (a bounded cache that covers the window),
 * unknown command, role (read may run status and incidents only). Key
 * generation and the private key file for the CLI. Sending, replying and
 * running the command are the caller's.
 *
 * Stage ship/: includes core/ and the stages below it; does not own the
 * connection, the loop or what a command does.
 */
#ifndef VIGIL_CMD_SIGN_H
#define VIGIL_CMD_SIGN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define CMD_SKEW_S	 60   /* accepted |now - ts|, seconds */
#define CMD_NONCE_SLOTS	 4096 /* requests remembered inside the window */
#define CMD_REQUEST_MAX	 (64u << 10)
#define CMD_KEY_ID_MAX	 64 /* with its NUL */
#define CMD_KEYS_MAX	 256
#define CMD_KEY_FILE_MAX (16u << 10)

enum rcmd_role { CMD_ROLE_READ, CMD_ROLE_ACT };

enum rcmd_verdict {
	CMD_OK,
	CMD_MALFORMED,
	CMD_UNKNOWN_KEY,
	CMD_BAD_SIGNATURE,
	CMD_WRONG_HOST,
	CMD_STALE,
	CMD_REPLAY,
	CMD_UNKNOWN_COMMAND,
	CMD_ROLE_DENIED,
	CMD_BUSY, /* the nonce cache is full of live entries: refused rather than forgotten */
};

struct rcmd_keyring;
struct rcmd_guard;
typedef struct evp_pkey_st EVP_PKEY;

/* A verified request: what to run and who asked (args: a reference the caller drops). */
struct rcmd_request {
	char cmd[32];
	char key_id[CMD_KEY_ID_MAX]; /* as claimed until the signature checks */
	enum rcmd_role role;
	int64_t ts;
	json_t *args;
};

int rcmd_keyring_new(struct rcmd_keyring **ret);
struct rcmd_keyring *rcmd_keyring_free(struct rcmd_keyring *kr);
/* One `.pub` file's text under key_id; -EINVAL (and a line in err) if it is not one. */
int rcmd_keyring_add(struct rcmd_keyring *kr, const char *key_id, const char *text, size_t len,
		     char *err, size_t errlen);
/* Every .pub file in dir, through read_trusted_file; a missing dir holds no keys (0). */
int rcmd_keyring_load_dir(struct rcmd_keyring *kr, const char *dir, char *err, size_t errlen);
unsigned rcmd_keyring_count(const struct rcmd_keyring *kr);

/* The checks for host (kr taken over, freed with the guard, also on failure). */
int rcmd_guard_new(struct rcmd_keyring *kr, const char *host, struct rcmd_guard **ret);
struct rcmd_guard *rcmd_guard_free(struct rcmd_guard *g);
/*
 * data (len bytes) through every check at wall time now_s. CMD_OK fills
 * *ret; anything else says why in why. ret->key_id and ret->cmd are filled
 * as far as the request could be read, for the audit.
 */
enum rcmd_verdict rcmd_verify(struct rcmd_guard *g, const char *data, size_t len, int64_t now_s,
			      struct rcmd_request *ret, char *why, size_t whylen);
void rcmd_request_fini(struct rcmd_request *r);
/* "ok", "malformed", "unknown-key", ... (the audit's vigil.fleet.outcome). */
const char *rcmd_verdict_name(enum rcmd_verdict v);
const char *rcmd_role_name(enum rcmd_role r);

/* The bytes a signature covers: req without "sig", canonical (malloc'd) or NULL. */
char *rcmd_canonical(const json_t *req);
/* A signed request as one JSON line (malloc'd), or NULL. args: borrowed (NULL: {}). */
char *rcmd_sign_request(EVP_PKEY *key, const char *key_id, const char *cmd, const char *host,
			const json_t *args, int64_t ts, const char *nonce);
/* 32 random hex digits into nonce (33 bytes). */
int rcmd_nonce(char *nonce);
/*
 * The CLI's key: a PEM Ed25519 private key readable by its owner only; the
 * key id is the file name without `.key`. 0 or -errno with a line in err.
 */
int rcmd_key_load(const char *path, EVP_PKEY **ret, char *key_id, char *err, size_t errlen);
void rcmd_key_free(EVP_PKEY *key);
/* DIR/ID.key (0600) and DIR/ID.pub (0644, with `role: ROLE`); neither may exist yet. */
int rcmd_keygen(const char *dir, const char *id, enum rcmd_role role, char *err, size_t errlen);
/* A key id: 1-63 of [A-Za-z0-9._-], not starting with a dot. */
int rcmd_key_id_check(const char *id);

#endif
