// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/util.h"
#include "ship/cmd_sign.h"

#define SIG_LEN	   64
#define SIG_B64	   88 /* 4 * ceil(64 / 3) */
#define NONCE_MIN  16
#define NONCE_MAX  64
#define NONCE_HASH 16

struct responder_key {
	char id[CMD_KEY_ID_MAX];
	enum rcmd_role role;
	EVP_PKEY *pk;
};

struct rcmd_keyring {
	struct responder_key keys[CMD_KEYS_MAX];
	unsigned n;
};

struct nonce_slot {
	uint8_t h[NONCE_HASH];
	int64_t expires; /* wall seconds; 0: free */
};

struct rcmd_guard {
	struct rcmd_keyring *kr;
	char *host;
	struct nonce_slot slots[CMD_NONCE_SLOTS];
};

static const struct {
	const char *name;
	enum rcmd_role needs;
} commands[] = {
    {"status", CMD_ROLE_READ},
    {"incidents", CMD_ROLE_READ},
    {"contain", CMD_ROLE_ACT},
    {"release", CMD_ROLE_ACT},
};

static const char *const verdicts[] = {
    [CMD_OK] = "ok",
    [CMD_MALFORMED] = "malformed",
    [CMD_UNKNOWN_KEY] = "unknown-key",
    [CMD_BAD_SIGNATURE] = "bad-signature",
    [CMD_WRONG_HOST] = "wrong-host",
    [CMD_STALE] = "stale",
    [CMD_REPLAY] = "replay",
    [CMD_UNKNOWN_COMMAND] = "unknown-command",
    [CMD_ROLE_DENIED] = "role-denied",
    [CMD_BUSY] = "busy",
};

const char *rcmd_verdict_name(enum rcmd_verdict v)
{
	return (unsigned)v < ARRAY_SIZE(verdicts) ? verdicts[v] : "?";
}

const char *rcmd_role_name(enum rcmd_role r)
{
	return r == CMD_ROLE_ACT ? "act" : "read";
}

int rcmd_key_id_check(const char *id)
{
	size_t n = strlen(id);

	if (!n || n >= CMD_KEY_ID_MAX || id[0] == '.')
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
			    id[i]))
			return -EINVAL;
	return 0;
}

/* ---- responder keys ---- */

int rcmd_keyring_new(struct rcmd_keyring **ret)
{
	*ret = calloc(1, sizeof(**ret));
	return *ret ? 0 : -ENOMEM;
}

struct rcmd_keyring *rcmd_keyring_free(struct rcmd_keyring *kr)
{
	if (!kr)
		return NULL;
	for (unsigned i = 0; i < kr->n; i++)
		EVP_PKEY_free(kr->keys[i].pk);
	free(kr);
	return NULL;
}

unsigned rcmd_keyring_count(const struct rcmd_keyring *kr)
{
	return kr->n;
}

static const struct responder_key *key_find(const struct rcmd_keyring *kr, const char *id)
{
	for (unsigned i = 0; i < kr->n; i++)
		if (!strcmp(kr->keys[i].id, id))
			return &kr->keys[i];
	return NULL;
}

/* The `role:` line outside the PEM block: 0 read, 1 act, -1 none or two, -2 a bad value. */
static int find_role(const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	bool in_pem = false;
	int role = -1;

	while (p < end) {
		const char *nl = memchr(p, '\n', end - p), *e = nl ? nl : end;
		size_t n = e - p;

		if (n >= 10 && !memcmp(p, "-----BEGIN", 10))
			in_pem = true;
		else if (n >= 8 && !memcmp(p, "-----END", 8))
			in_pem = false;
		else if (!in_pem && n >= 5 && !memcmp(p, "role:", 5)) {
			const char *v = p + 5;

			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == ' ' || e[-1] == '\r' || e[-1] == '\t'))
				e--;
			if (role != -1)
				return -1;
			if (e - v == 3 && !memcmp(v, "act", 3))
				role = CMD_ROLE_ACT;
			else if (e - v == 4 && !memcmp(v, "read", 4))
				role = CMD_ROLE_READ;
			else
				return -2;
		}
		p = nl ? nl + 1 : end;
	}
	return role;
}

int rcmd_keyring_add(struct rcmd_keyring *kr, const char *key_id, const char *text, size_t len,
		     char *err, size_t errlen)
{
	int role = find_role(text, len);
	BIO *bio;
	EVP_PKEY *pk;

	if (rcmd_key_id_check(key_id) < 0)
		return snprintf(err, errlen, "bad key id \"%s\" (1-63 of A-Za-z0-9._-)", key_id),
		       -EINVAL;
	if (role < 0)
		return snprintf(err, errlen, "%s: needs one line \"role: read\" or \"role: act\"",
				key_id),
		       -EINVAL;
	if (key_find(kr, key_id))
		return snprintf(err, errlen, "%s: key id given twice", key_id), -EEXIST;
	if (kr->n >= CMD_KEYS_MAX)
		return snprintf(err, errlen, "more than %d responder keys", CMD_KEYS_MAX), -E2BIG;
	bio = BIO_new_mem_buf(text, len > INT32_MAX ? INT32_MAX : (int)len);
	pk = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!pk || EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pk);
		return snprintf(err, errlen, "%s: not a PEM Ed25519 public key", key_id), -EINVAL;
	}
	snprintf(kr->keys[kr->n].id, CMD_KEY_ID_MAX, "%s", key_id);
	kr->keys[kr->n].role = role;
	kr->keys[kr->n++].pk = pk;
	return 0;
}

static int load_one(struct rcmd_keyring *kr, const char *dir, const char *name, char *err,
		    size_t errlen)
{
	char path[4096], id[CMD_KEY_ID_MAX], why[512];
	_cleanup_free_ char *text = NULL;
	size_t len, stem = strlen(name) - 4;
	int r;

	if (stem >= sizeof(id))
		return snprintf(err, errlen, "%s/%s: key id too long", dir, name), -EINVAL;
	snprintf(id, sizeof(id), "%.*s", (int)stem, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	r = read_trusted_file(path, CMD_KEY_FILE_MAX, &text, &len, err, errlen);
	if (r < 0)
		return r;
	r = rcmd_keyring_add(kr, id, text, len, why, sizeof(why));
	if (r < 0)
		snprintf(err, errlen, "%s: %s", path, why);
	return r;
}

int rcmd_keyring_load_dir(struct rcmd_keyring *kr, const char *dir, char *err, size_t errlen)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort), r = 0;

	if (n < 0)
		return errno == ENOENT
			   ? 0
			   : (snprintf(err, errlen, "%s: %s", dir, strerror(errno)), -errno);
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;

		if (r == 0 && name[0] != '.' && str_has_suffix(name, ".pub"))
			r = load_one(kr, dir, name, err, errlen);
		free(names[i]);
	}
	free(names);
	return r;
}

/* ---- the checks ---- */

int rcmd_guard_new(struct rcmd_keyring *kr, const char *host, struct rcmd_guard **ret)
{
	struct rcmd_guard *g = calloc(1, sizeof(*g));

	if (!g || !(g->host = strdup(host))) {
		free(g);
		rcmd_keyring_free(kr);
		return -ENOMEM;
	}
	g->kr = kr;
	*ret = g;
	return 0;
}

struct rcmd_guard *rcmd_guard_free(struct rcmd_guard *g)
{
	if (!g)
		return NULL;
	rcmd_keyring_free(g->kr);
	free(g->host);
	free(g);
	return NULL;
}

void rcmd_request_fini(struct rcmd_request *r)
{
	json_decref(r->args);
	r->args = NULL;
}

char *rcmd_canonical(const json_t *req)
{
	_cleanup_(json_decrefp) json_t *c = json_deep_copy(req);

	if (!c)
		return NULL;
	json_object_del(c, "sig");
	return json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT);
}

static bool sig_ok(EVP_PKEY *pk, const char *msg, const char *b64)
{
	uint8_t raw[SIG_B64];
	EVP_MD_CTX *ctx;
	bool ok;

	if (strlen(b64) != SIG_B64 ||
	    EVP_DecodeBlock(raw, (const unsigned char *)b64, SIG_B64) != SIG_LEN + 2)
		return false; /* 64 bytes in 88 characters: two of them are padding */
	ctx = EVP_MD_CTX_new();
	ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1 &&
	     EVP_DigestVerify(ctx, raw, SIG_LEN, (const unsigned char *)msg, strlen(msg)) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* The request's shape: exactly these members, of these types. */
static bool well_formed(const json_t *o, char *why, size_t whylen)
{
	static const char *const strs[] = {"cmd", "host", "nonce", "key_id", "sig"};
	size_t nonce_len;

	if (!json_is_object(o))
		return snprintf(why, whylen, "not a JSON object"), false;
	if (json_object_size(o) != 7)
		return snprintf(why, whylen,
				"expected exactly cmd, host, args, ts, nonce, key_id, "
				"sig"),
		       false;
	for (size_t i = 0; i < ARRAY_SIZE(strs); i++)
		if (!json_is_string(json_object_get(o, strs[i])))
			return snprintf(why, whylen, "%s: expected a string", strs[i]), false;
	if (!json_is_object(json_object_get(o, "args")))
		return snprintf(why, whylen, "args: expected an object"), false;
	if (!json_is_integer(json_object_get(o, "ts")))
		return snprintf(why, whylen, "ts: expected an integer (Unix seconds)"), false;
	nonce_len = json_string_length(json_object_get(o, "nonce"));
	if (nonce_len < NONCE_MIN || nonce_len > NONCE_MAX)
		return snprintf(why, whylen, "nonce: %d to %d characters", NONCE_MIN, NONCE_MAX),
		       false;
	return true;
}

/* Seen before (CMD_REPLAY), remembered now (CMD_OK), or no room (CMD_BUSY). */
static enum rcmd_verdict nonce_admit(struct rcmd_guard *g, const char *key_id, const char *nonce,
				     int64_t ts, int64_t now)
{
	uint8_t md[32];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	struct nonce_slot *free_slot = NULL;
	bool hashed = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
		      EVP_DigestUpdate(ctx, key_id, strlen(key_id) + 1) == 1 &&
		      EVP_DigestUpdate(ctx, nonce, strlen(nonce)) == 1 &&
		      EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;

	EVP_MD_CTX_free(ctx);
	if (!hashed)
		return CMD_BUSY;
	for (unsigned i = 0; i < CMD_NONCE_SLOTS; i++) {
		struct nonce_slot *s = &g->slots[i];

		if (s->expires && s->expires < now)
			s->expires = 0; /* its request is stale now: a replay fails on ts */
		if (s->expires && !memcmp(s->h, md, NONCE_HASH))
			return CMD_REPLAY;
		if (!s->expires && !free_slot)
			free_slot = s;
	}
	if (!free_slot)
		return CMD_BUSY;
	memcpy(free_slot->h, md, NONCE_HASH);
	free_slot->expires = ts + CMD_SKEW_S;
	return CMD_OK;
}

static int command_role(const char *cmd)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, cmd))
			return commands[i].needs;
	return -1;
}

/* Past the signature: host, time, nonce, command and role. */
static enum rcmd_verdict check_signed(struct rcmd_guard *g, const json_t *o, int64_t now,
				      const struct responder_key *k, struct rcmd_request *ret,
				      char *why, size_t whylen)
{
	const char *host = json_string_value(json_object_get(o, "host"));
	int64_t ts = json_integer_value(json_object_get(o, "ts"));
	int needs = command_role(ret->cmd);
	enum rcmd_verdict v;

	if (strcmp(host, g->host))
		return snprintf(why, whylen, "for host \"%.64s\", this is \"%.64s\"", host,
				g->host),
		       CMD_WRONG_HOST;
	if (ts < now - CMD_SKEW_S || ts > now + CMD_SKEW_S)
		return snprintf(why, whylen, "timestamp %lld is %lld s from now (allowed: %d)",
				(long long)ts, (long long)(ts - now), CMD_SKEW_S),
		       CMD_STALE;
	v = nonce_admit(g, k->id, json_string_value(json_object_get(o, "nonce")), ts, now);
	if (v == CMD_REPLAY)
		return snprintf(why, whylen, "nonce already used"), v;
	if (v == CMD_BUSY)
		return snprintf(why, whylen, "%d commands inside the window already",
				CMD_NONCE_SLOTS),
		       v;
	if (needs < 0)
		return snprintf(why, whylen,
				"\"%s\" is not a remote command (status, incidents, "
				"contain, release)",
				ret->cmd),
		       CMD_UNKNOWN_COMMAND;
	if (needs == CMD_ROLE_ACT && k->role != CMD_ROLE_ACT)
		return snprintf(why, whylen, "key \"%s\" has role read; %s needs act", k->id,
				ret->cmd),
		       CMD_ROLE_DENIED;
	ret->ts = ts;
	ret->role = k->role;
	ret->args = json_incref(json_object_get(o, "args"));
	return CMD_OK;
}

enum rcmd_verdict rcmd_verify(struct rcmd_guard *g, const char *data, size_t len, int64_t now_s,
			      struct rcmd_request *ret, char *why, size_t whylen)
{
	_cleanup_(json_decrefp) json_t *o = NULL;
	_cleanup_free_ char *canon = NULL;
	const struct responder_key *k;
	json_error_t jerr;

	memset(ret, 0, sizeof(*ret));
	snprintf(why, whylen, "%s", "");
	if (len > CMD_REQUEST_MAX)
		return snprintf(why, whylen, "request over %u bytes", CMD_REQUEST_MAX),
		       CMD_MALFORMED;
	o = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return snprintf(why, whylen, "not JSON: %s", jerr.text), CMD_MALFORMED;
	/* what it claims, for the audit, before anything is trusted */
	snprintf(ret->key_id, sizeof(ret->key_id), "%s",
		 json_string_value(json_object_get(o, "key_id")) ?: "");
	snprintf(ret->cmd, sizeof(ret->cmd), "%s",
		 json_string_value(json_object_get(o, "cmd")) ?: "");
	if (!well_formed(o, why, whylen))
		return CMD_MALFORMED;
	k = key_find(g->kr, ret->key_id);
	if (!k)
		return snprintf(why, whylen, "no responder key \"%s\"", ret->key_id),
		       CMD_UNKNOWN_KEY;
	canon = rcmd_canonical(o);
	if (!canon || !sig_ok(k->pk, canon, json_string_value(json_object_get(o, "sig"))))
		return snprintf(why, whylen, "signature does not verify with key \"%s\"", k->id),
		       CMD_BAD_SIGNATURE;
	return check_signed(g, o, now_s, k, ret, why, whylen);
}

/* ---- the responder's side ---- */

char *rcmd_sign_request(EVP_PKEY *key, const char *key_id, const char *cmd, const char *host,
			const json_t *args, int64_t ts, const char *nonce)
{
	_cleanup_(json_decrefp) json_t *o =
	    json_pack("{s:s, s:s, s:o, s:I, s:s, s:s}", "cmd", cmd, "host", host, "args",
		      args ? json_incref((json_t *)args) : json_object(), "ts", (json_int_t)ts,
		      "nonce", nonce, "key_id", key_id);
	_cleanup_free_ char *canon = o ? rcmd_canonical(o) : NULL;
	uint8_t sig[SIG_LEN];
	char b64[SIG_B64 + 1];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *ctx;
	bool ok;

	if (!canon)
		return NULL;
	ctx = EVP_MD_CTX_new();
	ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
	     EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)canon, strlen(canon)) == 1 &&
	     siglen == SIG_LEN;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return NULL;
	EVP_EncodeBlock((unsigned char *)b64, sig, SIG_LEN);
	json_object_set_new(o, "sig", json_string(b64));
	return json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
}

int rcmd_nonce(char *nonce)
{
	uint8_t raw[16];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(nonce + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

int rcmd_key_load(const char *path, EVP_PKEY **ret, char *key_id, char *err, size_t errlen)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t stem = str_has_suffix(base, ".key") ? strlen(base) - 4 : strlen(base);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	struct stat st;
	EVP_PKEY *pk;

	if (!f || fstat(fileno(f), &st) < 0)
		return snprintf(err, errlen, "%s: %s", path, strerror(errno)), -errno;
	if (st.st_mode & 077)
		return snprintf(err, errlen, "%s: readable by others (mode %03o): chmod 600 it",
				path, st.st_mode & 0777),
		       -EPERM;
	snprintf(key_id, CMD_KEY_ID_MAX, "%.*s", (int)(stem < CMD_KEY_ID_MAX ? stem : 0), base);
	if (rcmd_key_id_check(key_id) < 0)
		return snprintf(err, errlen,
				"%s: the file name (without .key) is the key id: "
				"1-63 of A-Za-z0-9._-",
				path),
		       -EINVAL;
	pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	if (!pk || EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pk);
		return snprintf(err, errlen, "%s: not a PEM Ed25519 private key", path), -EINVAL;
	}
	*ret = pk;
	return 0;
}

void rcmd_key_free(EVP_PKEY *key)
{
	EVP_PKEY_free(key);
}

/* PEM of pk (private or public) into a malloc'd string. */
static char *pem_string(EVP_PKEY *pk, bool private)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *out = NULL;
	long n;

	if (b && (private ? PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL)
			  : PEM_write_bio_PUBKEY(b, pk)) == 1) {
		n = BIO_get_mem_data(b, &p);
		out = n > 0 ? strndup(p, n) : NULL;
	}
	BIO_free(b);
	return out;
}

/* dir/name with data, created (O_EXCL) with mode. */
static int write_new(const char *dir, const char *name, const char *data, mode_t mode, char *err,
		     size_t errlen)
{
	char path[4096];
	_cleanup_close_ int fd = -1;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return snprintf(err, errlen, "%s: %s", path, strerror(errno)), -errno;
	r = fd_write_all(fd, data, strlen(data));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r < 0)
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
	return r;
}

int rcmd_keygen(const char *dir, const char *id, enum rcmd_role role, char *err, size_t errlen)
{
	EVP_PKEY *pk = NULL;
	_cleanup_free_ char *priv = NULL, *pub = NULL, *pubfile = NULL;
	char name[CMD_KEY_ID_MAX + 8];
	int r;

	if (rcmd_key_id_check(id) < 0)
		return snprintf(err, errlen, "bad key id \"%s\" (1-63 of A-Za-z0-9._-)", id),
		       -EINVAL;
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	priv = pk ? pem_string(pk, true) : NULL;
	pub = pk ? pem_string(pk, false) : NULL;
	EVP_PKEY_free(pk);
	if (!priv || !pub ||
	    asprintf(&pubfile, "# vigil responder key %s\nrole: %s\n%s", id, rcmd_role_name(role),
		     pub) < 0)
		return snprintf(err, errlen, "cannot generate an Ed25519 key"), -ENOMEM;
	snprintf(name, sizeof(name), "%s.key", id);
	r = write_new(dir, name, priv, 0600, err, errlen);
	if (r < 0)
		return r;
	snprintf(name, sizeof(name), "%s.pub", id);
	return write_new(dir, name, pubfile, 0644, err, errlen);
}
