/* kcsi — the evidence vault.
 *
 * A vault holds checkpoint archives encrypted (libsodium secretstream,
 * XChaCha20-Poly1305 in 1 MiB chunks), content-addressed by the SHA-256 of
 * the original archive (the evidence id) and immutable, in a directory or an
 * S3 bucket.  Every operation is recorded in an append-only ledger of JSON
 * lines, each chained to the previous one by its SHA-256 and signed with the
 * vault's Ed25519 key.  The layout and formats are in docs/vault.md.
 *
 * Stores: a directory path, or s3://BUCKET/PREFIX (endpoint, region and
 * credentials from the environment: KCSI_S3_ENDPOINT or AWS_ENDPOINT_URL,
 * AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).
 *
 * Results returned as json_t are new references owned by the caller
 * (json_decref).  Nothing here prints.
 */
#ifndef KCSI_VAULT_H
#define KCSI_VAULT_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "kcsi/error.h"
#include "kcsi/log.h"

#define KCSI_VAULT_ID_LEN 64 /* hex SHA-256 */

typedef struct kcsi_vault kcsi_vault;

typedef struct kcsi_vault_init_opts {
	const char *keys_dir;  /* where the private keys go (default: STORE/keys for a
	                          directory store; required for S3 unless configured) */
	const char *key_file;  /* use this encryption key (32 bytes, raw or 64 hex digits) */
	const char *key_env;   /* or the key in this environment variable (64 hex digits) */
	unsigned retain_days;  /* S3 object-lock retention (0: none) */
	const char *actor;     /* who (default: see kcsi_vault_set_actor) */
} kcsi_vault_init_opts;

/* Create a store: vault.json, keys, an empty ledger with its "created" entry. */
kcsi_code kcsi_vault_init(const char *store, const kcsi_vault_init_opts *o, kcsi_error *err);

/* Open an existing store.  keys_dir may be NULL (default as above). */
kcsi_code kcsi_vault_open(const char *store, const char *keys_dir, kcsi_vault **out, kcsi_error *err);
void kcsi_vault_close(kcsi_vault *v);

/* The actor recorded in ledger entries: by default $KCSI_ACTOR, else
 * USER@HOST (with "sudo:USER" when run through sudo). */
void kcsi_vault_set_actor(kcsi_vault *v, const char *actor);

/* Resolve a full id or a unique prefix of at least 8 hex digits. */
kcsi_code kcsi_vault_resolve(kcsi_vault *v, const char *prefix, char id[KCSI_VAULT_ID_LEN + 1],
			     kcsi_error *err);

typedef struct kcsi_vault_put_info {
	char id[KCSI_VAULT_ID_LEN + 1];
	uint64_t size;
	uint64_t seq;     /* the ledger entry written */
	bool duplicate;   /* the content was already held */
} kcsi_vault_put_info;

/* Read ARCHIVE once: hash, encrypt, store, record "ingested". */
kcsi_code kcsi_vault_put(kcsi_vault *v, const char *path, const char *case_id, const char *note,
			 kcsi_vault_put_info *info, kcsi_error *err);

/* Decrypt and verify the evidence into out_path (created 0600; written under a
 * temporary name and renamed only once the hash matched); records "accessed". */
kcsi_code kcsi_vault_get(kcsi_vault *v, const char *id, const char *out_path, const char *reason,
			 kcsi_error *err);

/* Decrypt and verify the evidence into fd (the caller's: a memfd keeps the
 * plaintext off the disk); records "accessed" with the reason. */
kcsi_code kcsi_vault_get_fd(kcsi_vault *v, const char *id, int fd, const char *reason, kcsi_error *err);

/* A report attached to evidence (its sha256 is in the "analysed" entry),
 * decrypted into memory (*data malloc'd, NUL-terminated). */
kcsi_code kcsi_vault_report_get(kcsi_vault *v, const char *id, const char *report_sha256, char **data, size_t *len,
				kcsi_error *err);
/* Record that evidence was looked at (through its report) for a reason. */
kcsi_code kcsi_vault_note_access(kcsi_vault *v, const char *id, const char *reason, kcsi_error *err);

/* Delete the content; record a "purged" tombstone (reason required). */
kcsi_code kcsi_vault_purge(kcsi_vault *v, const char *id, const char *reason, kcsi_error *err);

/* Attach an analysis report (any bytes, usually JSON) to held evidence;
 * stored encrypted, recorded as "analysed" with its sha256. */
kcsi_code kcsi_vault_report(kcsi_vault *v, const char *id, const void *data, size_t len,
			    const char *note, kcsi_error *err);

/* Evidence held or once held: an array of {id, sha256, size, name, case, note,
 * state ("held"|"purged"), ingested, ingested_by, accesses, last_action,
 * last_time}; case_id filters when not NULL. */
kcsi_code kcsi_vault_list(kcsi_vault *v, const char *case_id, json_t **out, kcsi_error *err);

/* Ledger entries (parsed), all or those of one id. */
kcsi_code kcsi_vault_log(kcsi_vault *v, const char *id, json_t **out, kcsi_error *err);

enum {
	KCSI_VAULT_VERIFY_NORECORD = 1u << 0, /* do not append "verified" entries */
	KCSI_VAULT_VERIFY_LEDGER_ONLY = 1u << 1, /* skip decrypting objects */
};

/* Check the ledger (signatures, chain, order, head) and the content of every
 * held evidence (or of id): {ok, entries, evidence_checked, head: {seq, hash},
 * problems: [{where, id, problem}]}.  Returns KCSI_OK when the check could be
 * run, even if it found problems (*out's "ok" says). */
kcsi_code kcsi_vault_verify(kcsi_vault *v, const char *id, unsigned flags, json_t **out,
			    kcsi_error *err);

/* Write a case bundle (a tar) for offline verification; records "exported". */
kcsi_code kcsi_vault_export(kcsi_vault *v, const char *id, const char *bundle, const char *reason,
			    kcsi_error *err);

/* Verify a bundle offline: {ok, id, sha256, size, public_key, entries, problems}.
 * pubkey_hex, when not NULL, is the key the bundle must be signed with. */
kcsi_code kcsi_vault_verify_bundle(const char *bundle, const char *pubkey_hex, json_t **out,
				   kcsi_error *err);

/* Which store and keys directory: the options when given, else $KCSI_VAULT
 * and $KCSI_VAULT_KEYS, else the config file ($KCSI_VAULT_CONFIG, default
 * /etc/kcsi/vault.conf: `store = ...` and `keys = ...` lines).  *store and
 * *keys are malloc'd (*keys may be NULL). */
kcsi_code kcsi_vault_config(const char *store_opt, const char *keys_opt, char **store, char **keys,
			    kcsi_error *err);

/* The store's public signing key (hex) and description. */
const char *kcsi_vault_public_key(const kcsi_vault *v);
const char *kcsi_vault_store(const kcsi_vault *v);

/* ---- the node agent (kcsi collect) ---- */

typedef struct kcsi_collect_opts {
	const char *watch;        /* the directory the kubelet writes checkpoints to */
	const char *case_id;      /* record the evidence under this case, or NULL */
	unsigned settle_s;        /* a file must be unchanged this long before it is taken */
	bool once;                /* take the complete archives there now, then return */
	bool keep;                /* keep the node copy after it verified in the vault */
	/* A report for each archive: this command with the archive's path
	 * appended, run with a time-out; its stdout is attached (NULL: none). */
	const char *const *analyze_argv;
	const char *analyze_file; /* the program (e.g. /proc/self/exe); NULL: analyze_argv[0] on PATH */
	const char *analyze_note; /* what made the report, for the ledger */
	double analyze_timeout_s;
	bool analyze_missing;     /* a report was asked for, but there is no command to make it */
	const volatile sig_atomic_t *stop; /* watching ends when this is set (a signal handler's flag) */
	kcsi_log *log;            /* one record per event (component "collect") */
	const char *node;         /* the node's name, for the receipts (NULL: none said) */
} kcsi_collect_opts;

/* Take finished checkpoints from the directory into the vault: a file that
 * has been unchanged for settle_s, that no process holds open for writing and
 * that is a complete archive is put in the vault, verified there, optionally
 * analysed, its receipt written (see kcsi_collect_receipt), and its node copy
 * overwritten and deleted.  When the put or the receipt fails the node copy
 * is kept and taken again later.  Watches with inotify until *stop, or
 * (once) takes what is there and returns. */
kcsi_code kcsi_collect(kcsi_vault *v, const kcsi_collect_opts *o, kcsi_error *err);

/* The receipt kcsi collect wrote for the archive of this file name (the
 * kubelet's name, no directory) once the vault's copy verified: an object
 * {format "kcsi-collect-receipt", version, name, node, id, sha256, size,
 * store, ledger_seq, actor, time, case, report, node_copy}.
 * KCSI_ERR_NOTFOUND while there is none; needs no keys. */
kcsi_code kcsi_collect_receipt(kcsi_vault *v, const char *archive_name, json_t **out, kcsi_error *err);

/* ---- node agent helpers ---- */

/* Is the file at path a complete archive?  A plain tar must end with its
 * end-of-archive blocks after whole members; a compressed one must decompress
 * to the end.  Returns KCSI_OK (complete), KCSI_ERR_FORMAT (incomplete or not
 * an archive, with the reason) or an I/O error. */
kcsi_code kcsi_archive_complete(const char *path, kcsi_error *err);

/* Does any process hold path open for writing?  (A read lease cannot be taken
 * while one does.)  -1 when this cannot be told (not owner, no leases). */
int kcsi_file_busy(const char *path);

/* Overwrite a file's blocks with zeros where that reaches the disk blocks
 * (not on copy-on-write or network filesystems), sync, unlink.  *overwritten
 * says whether the overwrite was done. */
kcsi_code kcsi_secure_delete(const char *path, bool *overwritten, kcsi_error *err);

#endif
