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
#include "base/hash.h"
#include "base/time.h"
#include "base/util.h"

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

int kv_unhex(const char *s, unsigned char *out, size_t n);

/* ---- store back ends ---- */
typedef struct kv_store kv_store;
typedef struct kv_upload kv_upload;

/* Bounds on what a store may hand the ledger code: a line longer than any
 * entry kcsi writes is not parsed (it is reported, by its length and hash),
 * and a ledger larger than KV_LEDGER_MAX is not read at all. */
#define KV_LINE_MAX (64u << 10)
#define KV_LEDGER_MAX ((uint64_t)1 << 30)
#define KV_TEXT_MAX 4096 /* case, note, reason, actor */

/* A line being read: its first KV_LINE_MAX bytes are kept, and once it is
 * longer only its length and SHA-256 (vault_ledger.c). */
typedef struct kv_line {
	kcsi_buf text;
	EVP_MD_CTX *md; /* set once the line is over KV_LINE_MAX */
	uint64_t len;
} kv_line;

void kv_line_init(kv_line *l);
int kv_line_add(kv_line *l, const void *p, size_t n);
/* append the line read to lines (a string, or {"length": N, "sha256": HEX}
 * for an over-long one) and start the next; -1 when out of memory */
int kv_line_take(kv_line *l, json_t *lines);
void kv_line_free(kv_line *l);

/* The ledger as a store read it.  ledger.head is read before the lines, so
 * the head read never records more entries than the lines read hold. */
typedef struct kv_ledger_raw {
	json_t *lines;     /* what kv_line_take appends, in ledger order */
	kcsi_buf head;     /* ledger.head's bytes (when head_rc is KCSI_OK) */
	kcsi_code head_rc; /* KCSI_OK, KCSI_ERR_NOTFOUND, or the error in head_why */
	char head_why[KCSI_ERRMSG_MAX];
	bool torn;         /* the last line has no newline: an append in progress, or cut */
	json_t *stray;     /* names in the ledger's place that are not entries (S3) */
} kv_ledger_raw;

void kv_ledger_raw_free(kv_ledger_raw *r);

enum kv_lock_mode { KV_LOCK_SHARED, KV_LOCK_EXCLUSIVE };

/* called for each stored name under a folder (e.g. "objects/ab/ab12..."),
 * with when it was last written (seconds since the epoch, -1 unknown) */
typedef int (*kv_name_fn)(void *ctx, const char *name, int64_t mtime);

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
	/* every stored name under folder ("objects/", "reports/"), in no order */
	kcsi_code (*list)(kv_store *s, const char *folder, kv_name_fn fn, void *ctx, kcsi_error *err);
	/* the ledger (see kv_ledger_raw) */
	kcsi_code (*ledger_read)(kv_store *s, kv_ledger_raw *out, kcsi_error *err);
	/* store entry seq; *lost (S3) when another writer stored entry seq first */
	kcsi_code (*ledger_append)(kv_store *s, uint64_t seq, const char *line, size_t n, bool *lost,
				   kcsi_error *err);
	/* the writers' lock (exclusive) or a reader's (shared); a no-op where the
	 * store has none (S3, whose writers rely on conditional writes) */
	kcsi_code (*lock)(kv_store *s, enum kv_lock_mode mode, kcsi_error *err);
	void (*unlock)(kv_store *s);
	void (*close)(kv_store *s);
	/* "ledger.jsonl line N" or "ledger/000000000N.json" */
	void (*ledger_where)(kv_store *s, uint64_t index, char *buf, size_t cap);
};

struct kv_store {
	const struct kv_store_ops *ops;
	char *url;
	unsigned retain_days;
	bool has_lock;     /* the store has a lock at all (a directory) */
	int lock_held;     /* 0 none, else 1 + enum kv_lock_mode (marked on S3 too) */
	unsigned lock_gen; /* counts lock acquisitions */
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

/* Compose, sign and append one entry after the ledger's last (lock held).
 * *lost: another writer took that seq first (S3); reload and decide again. */
kcsi_code kv_ledger_append(kcsi_vault *v, const kv_entry_in *in, uint64_t *seq, bool *lost, kcsi_error *err);
/* Load the ledger (parsed entries into v->entries) and check it; problems
 * are appended to probs (may be NULL: first problem is an error).  The
 * caller holds the store's lock in either mode, or has none to take. */
kcsi_code kv_ledger_load(kcsi_vault *v, json_t *probs, kcsi_error *err);
/* check one stored line's signature against pk; returns the parsed entry or
 * NULL with *why set */
json_t *kv_line_check(const char *line, size_t len, const unsigned char pk[32], const char **why);

/* Append {where, id (when not NULL), problem} to probs; text that is not
 * UTF-8 is escaped as kv_safe_text does. */
void kv_problem(json_t *probs, const char *where, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Decide the entry to record from the ledger as loaded (v->entries); may
 * refuse with an error.  Called again after a lost race (S3). */
typedef kcsi_code (*kv_decide_fn)(kcsi_vault *v, void *ctx, kv_entry_in *in, kcsi_error *err);
/* With the writers' lock held: load and check the ledger, decide, append. */
kcsi_code kv_ledger_record(kcsi_vault *v, kv_decide_fn decide, void *ctx, uint64_t *seq, kcsi_error *err);
/* a kv_decide_fn: ctx is the kv_entry_in to record about evidence that
 * must still be held (NOTFOUND when it is unknown or purged) */
kcsi_code kv_decide_held(kcsi_vault *v, void *ctx, kv_entry_in *in, kcsi_error *err);
/* Compare vault.json with the copy signed in the "created" entry (or, for a
 * vault made before that copy was kept, with what this version writes). */
void kv_config_check(kcsi_vault *v, json_t *probs);

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
	char *conf_text; /* vault.json as read */
	/* loaded ledger */
	json_t *entries;      /* parsed entries */
	json_t *lines;        /* the lines as stored (strings; see kv_ledger_raw) */
	uint64_t last_seq;
	char last_hash[65];
	bool loaded;
	unsigned load_gen;    /* the store's lock_gen when it was loaded */
};

kcsi_code kv_nomem(kcsi_error *err);
/* the ledger loaded again under the shared lock (problems into probs) */
kcsi_code kv_ledger_snapshot(kcsi_vault *v, json_t *probs, kcsi_error *err);
/* Text recorded in the ledger must be UTF-8 without control characters
 * (what names it in messages, param is its API name). */
kcsi_code kv_text_ok(const char *what, const char *param, const char *s, kcsi_error *err);
/* a file name as recorded: its last component, as kv_safe_text */
char *kv_safe_name(const char *path);

/* object keys; an id is 64 lowercase hex digits (checked before it names a path) */
bool kv_is_id(const char *s);
/* s as recorded or reported: bytes that are not UTF-8 text written \xNN (malloc'd) */
char *kv_safe_text(const char *s);
void kv_obj_key(const char *id, char *buf, size_t cap);
kcsi_code kv_need_secret(kcsi_vault *v, kcsi_error *err);
/* the ledger loaded (under the shared lock) and checked, unless it is already */
kcsi_code kv_ensure_loaded(kcsi_vault *v, kcsi_error *err);
kcsi_code kv_need_key(kcsi_vault *v, kcsi_error *err);
/* the state of an id after replaying the ledger: 0 unknown, 1 held, 2 purged */
int kv_state(kcsi_vault *v, const char *id, json_t **ingest);
/* decrypt an object through sink, checking sha against want (hex, may be NULL) */
kcsi_code kv_decrypt_obj(kcsi_vault *v, const char *key, const char *want_hex, kv_sink sink, void *ctx,
			 uint64_t *size, kcsi_error *err);

#endif
