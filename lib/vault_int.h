/* kcsi vault — private interfaces: the object stream format, the ledger, and
 * the store back ends (directory, S3).  See docs/vault.md. */
#ifndef KCSI_VAULT_INT_H
#define KCSI_VAULT_INT_H
#ifndef KCSI_INTERNAL
#error "vault_int.h is private to libkcsi"
#endif

#include <jansson.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>

#include "kcsi/vault.h"
#include "util.h"

/* ---- encrypted object stream (vault_crypt.c) ----
 * "KCSIVLT1" | secretstream header (24) | chunks; a chunk is a u32 LE
 * ciphertext length (authenticated as additional data) and the ciphertext of
 * at most KV_CHUNK plaintext bytes.  The last chunk (TAG_FINAL) is the
 * 48-byte trailer "KVEND\0\0\0" | u64 LE plaintext size | SHA-256. */
#define KV_MAGIC "KCSIVLT1"
#define KV_MAGIC_LEN 8
#define KV_HDR_LEN (KV_MAGIC_LEN + crypto_secretstream_xchacha20poly1305_HEADERBYTES)
#define KV_CHUNK (1u << 20)
#define KV_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define KV_TRAILER_LEN 48
#define KV_CHUNK_MAX_OUT (4 + KV_CHUNK + KV_ABYTES)
#define KV_KEY_LEN crypto_secretstream_xchacha20poly1305_KEYBYTES

typedef struct kv_enc {
	crypto_secretstream_xchacha20poly1305_state st;
	EVP_MD_CTX *md;
	uint64_t total;
} kv_enc;

int kv_enc_start(kv_enc *e, const unsigned char key[KV_KEY_LEN], unsigned char out[KV_HDR_LEN]);
/* hash=false when the caller hashes the plaintext itself (kv_enc_final's sha then unused) */
size_t kv_enc_chunk(kv_enc *e, const unsigned char *in, size_t n, unsigned char *out, bool hash);
/* sha: the plaintext's SHA-256 (computed here, or given when the caller hashed) */
size_t kv_enc_final(kv_enc *e, unsigned char sha[32], bool computed, unsigned char *out);
void kv_enc_free(kv_enc *e);

typedef int (*kv_sink)(void *ctx, const unsigned char *p, size_t n, kcsi_error *err);

typedef struct kv_dec {
	crypto_secretstream_xchacha20poly1305_state st;
	unsigned char key[KV_KEY_LEN];
	EVP_MD_CTX *md;
	unsigned char *buf; /* one chunk */
	unsigned char *plain; /* its plaintext */
	size_t have, need;
	int phase; /* 0 header, 1 length, 2 chunk, 3 done */
	uint64_t off, chunkno, total;
	unsigned char sha[32];
	const char *what; /* object name for messages */
	kv_sink sink;
	void *ctx;
} kv_dec;

int kv_dec_init(kv_dec *d, const unsigned char key[KV_KEY_LEN], const char *what, kv_sink sink, void *ctx);
int kv_dec_feed(kv_dec *d, const unsigned char *p, size_t n, kcsi_error *err);
/* sha and size of the plaintext, after the trailer matched */
int kv_dec_finish(kv_dec *d, unsigned char sha[32], uint64_t *size, kcsi_error *err);
void kv_dec_free(kv_dec *d);

void kv_hex(const unsigned char *p, size_t n, char *out); /* out: 2n+1 */
int kv_unhex(const char *s, unsigned char *out, size_t n);
void kv_sha256(const void *p, size_t n, unsigned char out[32]);
void kv_now(char out[40]); /* RFC 3339 UTC with microseconds */

/* ---- store back ends ---- */
typedef struct kv_store kv_store;
typedef struct kv_upload kv_upload;

struct kv_store_ops {
	/* small named files (vault.json, ledger.head); NOTFOUND when absent */
	kcsi_code (*read_file)(kv_store *s, const char *name, kcsi_buf *out, kcsi_error *err);
	kcsi_code (*write_file)(kv_store *s, const char *name, const void *p, size_t n, bool excl,
				kcsi_error *err);
	/* objects written as a stream, then committed under a key (never replaced) */
	kcsi_code (*obj_begin)(kv_store *s, kv_upload **u, kcsi_error *err);
	kcsi_code (*obj_write)(kv_upload *u, const void *p, size_t n, kcsi_error *err);
	kcsi_code (*obj_commit)(kv_upload *u, const char *key, bool *existed, kcsi_error *err);
	void (*obj_abort)(kv_upload *u);
	kcsi_code (*obj_read)(kv_store *s, const char *key, kv_sink sink, void *ctx, kcsi_error *err);
	/* KCSI_OK and *size, or KCSI_ERR_NOTFOUND */
	kcsi_code (*obj_stat)(kv_store *s, const char *key, uint64_t *size, kcsi_error *err);
	kcsi_code (*obj_delete)(kv_store *s, const char *key, kcsi_error *err);
	/* the ledger's lines in order, each without its newline; *where[i] names
	 * the line (e.g. "ledger.jsonl line 3") */
	kcsi_code (*ledger_read)(kv_store *s, json_t **lines, kcsi_error *err);
	kcsi_code (*ledger_append)(kv_store *s, uint64_t seq, const char *line, size_t n, kcsi_error *err);
	/* an exclusive lock for writers (no-op where none exists) */
	kcsi_code (*lock)(kv_store *s, kcsi_error *err);
	void (*unlock)(kv_store *s);
	void (*close)(kv_store *s);
	/* "ledger.jsonl line N" or "ledger/000000000N.json" */
	void (*ledger_where)(kv_store *s, uint64_t index, char *buf, size_t cap);
};

struct kv_store {
	const struct kv_store_ops *ops;
	char *url;
	unsigned retain_days;
};

kcsi_code kv_dir_open(const char *path, bool create, kv_store **out, kcsi_error *err);
kcsi_code kv_s3_open(const char *url, bool create, kv_store **out, kcsi_error *err);

/* ---- the ledger (vault_ledger.c) ---- */
#define KV_SIG_PREFIX ", \"sig\": \""

typedef struct kv_entry_in {
	const char *action, *id, *sha256, *case_id, *name, *note, *reason, *detail;
	uint64_t size;
	bool has_size;
	json_t *extra; /* more members (borrowed), may be NULL */
} kv_entry_in;

/* Compose, sign and append one entry after the ledger's last (lock held). */
kcsi_code kv_ledger_append(kcsi_vault *v, const kv_entry_in *in, uint64_t *seq, kcsi_error *err);
/* Load the ledger (parsed entries into v->entries) and check it; problems
 * are appended to probs (may be NULL: first problem is an error). */
kcsi_code kv_ledger_load(kcsi_vault *v, json_t *probs, kcsi_error *err);
/* check one stored line's signature against pk; returns the parsed entry or
 * NULL with *why set */
json_t *kv_line_check(const char *line, size_t len, const unsigned char pk[32], const char **why);

struct kcsi_vault {
	kv_store *s;
	char *store;
	json_t *conf;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	bool have_sk;
	unsigned char key[KV_KEY_LEN];
	bool have_key;
	char pk_hex[2 * crypto_sign_PUBLICKEYBYTES + 1];
	char *actor;
	char *keys_dir;
	/* loaded ledger */
	json_t *entries;      /* parsed entries */
	uint64_t last_seq;
	char last_hash[65];
	bool loaded;
};

/* object keys */
void kv_obj_key(const char *id, char *buf, size_t cap);
kcsi_code kv_need_secret(kcsi_vault *v, kcsi_error *err);
kcsi_code kv_need_key(kcsi_vault *v, kcsi_error *err);
/* the state of an id after replaying the ledger: 0 unknown, 1 held, 2 purged */
int kv_state(kcsi_vault *v, const char *id, json_t **ingest);
/* decrypt an object through sink, checking sha against want (hex, may be NULL) */
kcsi_code kv_decrypt_obj(kcsi_vault *v, const char *key, const char *want_hex, kv_sink sink, void *ctx,
			 uint64_t *size, kcsi_error *err);

#endif
