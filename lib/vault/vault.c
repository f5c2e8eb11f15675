/* kcsi vault — stores, keys and the evidence operations (put, get, purge,
 * report, list, log, verify).  See include/kcsi/vault.h and docs/vault.md.
 *
 * Writers take the store's exclusive lock and record through
 * kv_ledger_record (load, check, decide, append, all under the lock); an
 * object is linked under objects/ inside that critical section, so a reader
 * holding the shared lock sees objects and ledger entries that agree. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kcsi/jsonw.h"
#include "vault/vault_int.h"

#define KEY_CHECK_CTX "kcsi-vault-key-check"

static kcsi_code nomem(kcsi_error *err)
{
	return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
}

bool kv_is_id(const char *s)
{
	if (!s || strlen(s) != KCSI_VAULT_ID_LEN)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

void kv_obj_key(const char *id, char *buf, size_t cap)
{
	snprintf(buf, cap, "objects/%.2s/%s", id, id);
}

static bool is_s3(const char *store)
{
	return strncmp(store, "s3://", 5) == 0;
}

static kcsi_code store_open(const char *store, bool create, kv_store **s, kcsi_error *err)
{
	if (is_s3(store))
		return kv_s3_open(store, create, s, err);
	return kv_dir_open(store, create, s, err);
}

/* Text recorded in the ledger must be UTF-8 without control characters. */
static kcsi_code text_ok(const char *what, const char *s, kcsi_error *err)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = s ? strlen(s) : 0;
	if (n > KV_TEXT_MAX)
		return kcsi_error_set(err, KCSI_ERR_USAGE, "%s: at most %d bytes are recorded", what, KV_TEXT_MAX);
	for (size_t i = 0; i < n;) {
		size_t l = kcsi_utf8_seq(p + i, n - i);
		if (l == 0 || (l == 1 && (p[i] < 0x20 || p[i] == 0x7f)))
			return kcsi_error_set(err, KCSI_ERR_USAGE, "%s: only UTF-8 text without control characters is recorded",
					      what);
		i += l;
	}
	return KCSI_OK;
}

/* bytes that are not UTF-8 text written \xNN (and a backslash as \x5c) */
char *kv_safe_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	char *out = malloc(4 * n + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t l = kcsi_utf8_seq(p + i, n - i);
		if (l == 0 || (l == 1 && (p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\'))) {
			o += sprintf(o, "\\x%02x", p[i]);
			i++;
		} else {
			memcpy(o, p + i, l);
			o += l;
			i += l;
		}
	}
	*o = '\0';
	return out;
}

/* a file name as recorded: its last component, as safe_text */
static char *safe_name(const char *path)
{
	const char *b = strrchr(path, '/');
	return kv_safe_text(b ? b + 1 : path);
}

static char *default_actor(void)
{
	const char *e = getenv("KCSI_ACTOR"), *sudo = getenv("SUDO_USER");
	char host[256] = "?", *out;
	struct passwd *pw = getpwuid(geteuid());
	size_t n;
	if (e && *e && text_ok("KCSI_ACTOR", e, NULL) == KCSI_OK)
		return strdup(e);
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	n = 600;
	out = malloc(n);
	if (!out)
		return NULL;
	if (sudo && *sudo)
		snprintf(out, n, "%s@%s (sudo:%s)", pw ? pw->pw_name : "?", host, sudo);
	else
		snprintf(out, n, "%s@%s", pw ? pw->pw_name : "?", host);
	return out;
}

void kcsi_vault_set_actor(kcsi_vault *v, const char *actor)
{
	if (!actor || text_ok("actor", actor, NULL) != KCSI_OK)
		return;
	free(v->actor);
	v->actor = strdup(actor);
}

const char *kcsi_vault_public_key(const kcsi_vault *v) { return v->pk_hex; }
const char *kcsi_vault_store(const kcsi_vault *v) { return v->store; }

static char *keys_default(const char *store, const char *given)
{
	const char *e = getenv("KCSI_VAULT_KEYS");
	size_t n;
	char *p;
	if (given)
		return strdup(given);
	if (e && *e)
		return strdup(e);
	if (is_s3(store))
		return NULL;
	n = strlen(store) + 6;
	p = malloc(n);
	if (p)
		snprintf(p, n, "%s/keys", store);
	return p;
}

static kcsi_code read_key_file(const char *path, unsigned char *out, size_t n, kcsi_error *err)
{
	unsigned char buf[256];
	ssize_t r;
	struct stat st;
	/* a regular file (a FIFO or a device named by a changed vault.json must
	 * not block or be read) */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return kcsi_error_set(err, errno == ENOENT ? KCSI_ERR_NOTFOUND : KCSI_ERR_IO, "key file %s: %s", path,
				      strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "key file %s: not a regular file", path);
	}
	r = read(fd, buf, sizeof(buf));
	close(fd);
	if (r == (ssize_t)n) {
		memcpy(out, buf, n);
		sodium_memzero(buf, sizeof(buf));
		return KCSI_OK;
	}
	/* or hex, optionally followed by a newline */
	while (r > 0 && (buf[r - 1] == '\n' || buf[r - 1] == '\r' || buf[r - 1] == ' '))
		r--;
	if (r == (ssize_t)(2 * n)) {
		char hex[2 * 64 + 1];
		memcpy(hex, buf, (size_t)r);
		hex[r] = '\0';
		sodium_memzero(buf, sizeof(buf));
		if (kv_unhex(hex, out, n) == 0)
			return KCSI_OK;
	}
	return kcsi_error_set(err, KCSI_ERR_FORMAT, "key file %s: expected %zu bytes or %zu hex digits", path, n, 2 * n);
}

static kcsi_code write_key_file(const char *path, const unsigned char *p, size_t n, kcsi_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
	ssize_t w;
	if (fd < 0)
		return kcsi_error_set(err, KCSI_ERR_IO, "creating %s: %s", path, strerror(errno));
	w = write(fd, p, n);
	if (w != (ssize_t)n || fsync(fd) != 0) {
		close(fd);
		unlink(path);
		return kcsi_error_set(err, KCSI_ERR_IO, "writing %s: %s", path, w < 0 ? strerror(errno) : "short write");
	}
	close(fd);
	return KCSI_OK;
}

static void key_check(const unsigned char key[KV_KEY_LEN], char out[65])
{
	unsigned char h[32];
	crypto_generichash(h, sizeof(h), (const unsigned char *)KEY_CHECK_CTX, strlen(KEY_CHECK_CTX), key, KV_KEY_LEN);
	kv_hex(h, 32, out);
}

static kcsi_code env_key(const char *name, unsigned char key[KV_KEY_LEN], kcsi_error *err)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return kcsi_error_set(err, KCSI_ERR_NOTFOUND, "the vault's key is in $%s, which is not set", name);
	if (kv_unhex(v, key, KV_KEY_LEN) != 0)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "$%s: expected %d hex digits", name, 2 * KV_KEY_LEN);
	return KCSI_OK;
}

kcsi_code kv_need_key(kcsi_vault *v, kcsi_error *err)
{
	json_t *k = json_object_get(v->conf, "key");
	const char *src = json_string_value(json_object_get(k, "source"));
	const char *check = json_string_value(json_object_get(k, "check"));
	char got[65], path[4096];
	kcsi_code rc;

	if (v->have_key)
		return KCSI_OK;
	if (src && !strcmp(src, "env")) {
		const char *name = json_string_value(json_object_get(k, "name"));
		if (!name || !*name)
			return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: vault.json names no key variable", v->store);
		rc = env_key(name, v->key, err);
	} else if (src && !strcmp(src, "file")) {
		const char *path_ = json_string_value(json_object_get(k, "path"));
		if (!path_ || !*path_)
			return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: vault.json names no key file", v->store);
		rc = read_key_file(path_, v->key, KV_KEY_LEN, err);
	} else {
		if (!v->keys_dir)
			return kcsi_error_set(err, KCSI_ERR_NOTFOUND,
					      "%s: where are the keys? (give --keys DIR or set KCSI_VAULT_KEYS)", v->store);
		snprintf(path, sizeof(path), "%s/enc.key", v->keys_dir);
		rc = read_key_file(path, v->key, KV_KEY_LEN, err);
	}
	if (rc != KCSI_OK)
		return rc;
	key_check(v->key, got);
	if (!check || strcmp(check, got) != 0)
		return kcsi_error_set(err, KCSI_ERR_GENERIC, "%s: the encryption key given is not this vault's key", v->store);
	v->have_key = true;
	return KCSI_OK;
}

kcsi_code kv_need_secret(kcsi_vault *v, kcsi_error *err)
{
	char path[4096];
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	kcsi_code rc;
	if (v->have_sk)
		return KCSI_OK;
	if (!v->keys_dir)
		return kcsi_error_set(err, KCSI_ERR_NOTFOUND,
				      "%s: where are the keys? (give --keys DIR or set KCSI_VAULT_KEYS)", v->store);
	snprintf(path, sizeof(path), "%s/sign.key", v->keys_dir);
	rc = read_key_file(path, v->sk, crypto_sign_SECRETKEYBYTES, err);
	if (rc != KCSI_OK)
		return rc;
	crypto_sign_ed25519_sk_to_pk(pk, v->sk);
	if (memcmp(pk, v->pk, sizeof(pk)) != 0)
		return kcsi_error_set(err, KCSI_ERR_GENERIC,
				      "%s: the signing key in %s does not match the vault's public key", v->store, path);
	v->have_sk = true;
	return KCSI_OK;
}

kcsi_code kcsi_vault_init(const char *store, const kcsi_vault_init_opts *o, kcsi_error *err)
{
	kcsi_vault_init_opts none = {0};
	kv_store *s = NULL;
	kcsi_vault *v = NULL;
	kcsi_code rc;
	char *keys = NULL, path[4096], check[65], now[40], sid[33];
	unsigned char rnd[16];
	json_t *key = NULL;
	char *conf = NULL;

	if (sodium_init() < 0)
		return kcsi_error_set(err, KCSI_ERR_GENERIC, "libsodium could not be initialised");
	if (!o)
		o = &none;
	v = calloc(1, sizeof(*v));
	if (!v)
		return nomem(err);
	v->store = strdup(store);
	keys = keys_default(store, o->keys_dir);
	if (!keys) {
		rc = kcsi_error_set(err, KCSI_ERR_USAGE, "%s: an S3 store needs a local keys directory (--keys DIR)", store);
		goto out;
	}
	v->keys_dir = keys;
	rc = store_open(store, true, &s, err);
	if (rc != KCSI_OK)
		goto out;
	v->s = s;
	s->retain_days = o->retain_days;
	{
		kcsi_buf b;
		kcsi_buf_init(&b, 1 << 20);
		rc = s->ops->read_file(s, "vault.json", &b, NULL);
		kcsi_buf_free(&b);
		if (rc == KCSI_OK) {
			rc = kcsi_error_set(err, KCSI_ERR_GENERIC, "%s: already a vault", store);
			goto out;
		}
	}
	if (mkdir(keys, 0700) != 0 && errno != EEXIST) {
		rc = kcsi_error_set(err, KCSI_ERR_IO, "creating %s: %s", keys, strerror(errno));
		goto out;
	}
	/* signing key pair */
	crypto_sign_keypair(v->pk, v->sk);
	v->have_sk = true;
	snprintf(path, sizeof(path), "%s/sign.key", keys);
	if ((rc = write_key_file(path, v->sk, sizeof(v->sk), err)) != KCSI_OK)
		goto out;
	kv_hex(v->pk, sizeof(v->pk), v->pk_hex);
	snprintf(path, sizeof(path), "%s/sign.pub", keys);
	{
		char line[80];
		snprintf(line, sizeof(line), "%s\n", v->pk_hex);
		if ((rc = write_key_file(path, (unsigned char *)line, strlen(line), err)) != KCSI_OK)
			goto out;
	}
	/* encryption key */
	if (o->key_file) {
		char abs[4096];
		if ((rc = read_key_file(o->key_file, v->key, KV_KEY_LEN, err)) != KCSI_OK)
			goto out;
		if (!realpath(o->key_file, abs)) {
			rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", o->key_file, strerror(errno));
			goto out;
		}
		key = json_pack("{s:s, s:s}", "source", "file", "path", abs);
	} else if (o->key_env) {
		if ((rc = env_key(o->key_env, v->key, err)) != KCSI_OK)
			goto out;
		key = json_pack("{s:s, s:s}", "source", "env", "name", o->key_env);
	} else {
		crypto_secretstream_xchacha20poly1305_keygen(v->key);
		snprintf(path, sizeof(path), "%s/enc.key", keys);
		if ((rc = write_key_file(path, v->key, KV_KEY_LEN, err)) != KCSI_OK)
			goto out;
		key = json_pack("{s:s}", "source", "keys");
	}
	v->have_key = true;
	key_check(v->key, check);
	json_object_set_new(key, "check", json_string(check));
	json_object_set_new(key, "cipher", json_string("xchacha20poly1305-secretstream"));
	kv_now(now);
	randombytes_buf(rnd, sizeof(rnd));
	kv_hex(rnd, sizeof(rnd), sid);
	v->conf = json_pack("{s:s, s:i, s:s, s:s, s:s, s:o, s:i, s:i}", "format", "kcsi-vault", "version", 1,
			    "vault_id", sid, "created", now, "public_key", v->pk_hex, "key", key, "chunk",
			    (json_int_t)KV_CHUNK, "retain_days", (json_int_t)o->retain_days);
	key = NULL;
	conf = json_dumps(v->conf, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!conf) {
		rc = nomem(err);
		goto out;
	}
	rc = s->ops->write_file(s, "vault.json", conf, strlen(conf), true, err);
	if (rc != KCSI_OK)
		goto out;
	v->actor = o->actor ? strdup(o->actor) : default_actor();
	memset(v->last_hash, '0', 64);
	v->entries = json_array();
	{
		/* vault.json as written, signed, so that a change to it is seen */
		json_t *extra = json_pack("{s:s, s:s, s:s}", "public_key", v->pk_hex, "vault_id", sid, "config", conf);
		kv_entry_in in = {.action = "created", .extra = extra};
		bool lost;
		rc = extra ? kv_ledger_append(v, &in, NULL, &lost, err) : nomem(err);
		json_decref(extra);
	}
out:
	free(conf);
	json_decref(key);
	kcsi_vault_close(v);
	return rc;
}

kcsi_code kcsi_vault_open(const char *store, const char *keys_dir, kcsi_vault **out, kcsi_error *err)
{
	kcsi_vault *v;
	kcsi_code rc;
	kcsi_buf b;
	const char *pk;

	if (sodium_init() < 0)
		return kcsi_error_set(err, KCSI_ERR_GENERIC, "libsodium could not be initialised");
	v = calloc(1, sizeof(*v));
	if (!v)
		return nomem(err);
	v->store = strdup(store);
	v->keys_dir = keys_default(store, keys_dir);
	v->actor = default_actor();
	memset(v->last_hash, '0', 64);
	rc = store_open(store, false, &v->s, err);
	if (rc != KCSI_OK)
		goto fail;
	kcsi_buf_init(&b, 1 << 20);
	rc = v->s->ops->read_file(v->s, "vault.json", &b, err);
	if (rc == KCSI_OK) {
		v->conf = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
		v->conf_text = strndup(b.data ? b.data : "", b.len);
		pk = json_string_value(json_object_get(v->conf, "public_key"));
		if (!v->conf || !json_is_object(v->conf) || !pk || kv_unhex(pk, v->pk, sizeof(v->pk)) != 0)
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: vault.json is damaged", store);
		else
			kv_hex(v->pk, sizeof(v->pk), v->pk_hex);
	} else if (rc == KCSI_ERR_NOTFOUND) {
		rc = kcsi_error_set(err, KCSI_ERR_NOTFOUND, "%s: no vault here (kcsi vault init makes one)", store);
	}
	kcsi_buf_free(&b);
	if (rc != KCSI_OK)
		goto fail;
	{
		/* out of range is reported by kv_config_check; never used as such */
		json_int_t days = json_integer_value(json_object_get(v->conf, "retain_days"));
		v->s->retain_days = days > 0 && days <= 36500 ? (unsigned)days : 0;
	}
	/* a local public key, when there is one, must be the store's */
	if (v->keys_dir) {
		char path[4096];
		unsigned char lpk[32];
		snprintf(path, sizeof(path), "%s/sign.pub", v->keys_dir);
		if (read_key_file(path, lpk, sizeof(lpk), NULL) == KCSI_OK && memcmp(lpk, v->pk, 32) != 0) {
			rc = kcsi_error_set(err, KCSI_ERR_GENERIC,
					    "%s: vault.json's public key is not the one in %s (the store was replaced?)",
					    store, path);
			goto fail;
		}
	}
	*out = v;
	return KCSI_OK;
fail:
	kcsi_vault_close(v);
	return rc;
}

void kcsi_vault_close(kcsi_vault *v)
{
	if (!v)
		return;
	if (v->s)
		v->s->ops->close(v->s);
	sodium_memzero(v->sk, sizeof(v->sk));
	sodium_memzero(v->key, sizeof(v->key));
	json_decref(v->conf);
	json_decref(v->entries);
	json_decref(v->lines);
	free(v->conf_text);
	free(v->store);
	free(v->actor);
	free(v->keys_dir);
	free(v);
}

/* the ledger as a reader sees it: loaded under the store's shared lock, so
 * that no append is half seen */
static kcsi_code ledger_snapshot(kcsi_vault *v, json_t *probs, kcsi_error *err)
{
	kcsi_code rc = v->s->ops->lock(v->s, KV_LOCK_SHARED, err);
	if (rc != KCSI_OK)
		return rc;
	rc = kv_ledger_load(v, probs, err);
	v->s->ops->unlock(v->s);
	return rc;
}

kcsi_code kv_ensure_loaded(kcsi_vault *v, kcsi_error *err)
{
	if (v->loaded)
		return KCSI_OK;
	return ledger_snapshot(v, NULL, err);
}

int kv_state(kcsi_vault *v, const char *id, json_t **ingest)
{
	size_t i;
	json_t *e;
	int st = 0;
	if (ingest)
		*ingest = NULL;
	json_array_foreach(v->entries, i, e) {
		const char *eid = json_string_value(json_object_get(e, "id"));
		const char *a = json_string_value(json_object_get(e, "action"));
		if (!eid || strcmp(eid, id) != 0)
			continue;
		if (!strcmp(a, "ingested")) {
			if (st != 1 && ingest)
				*ingest = e;
			st = 1;
		} else if (!strcmp(a, "purged")) {
			st = 2;
		}
	}
	return st;
}

kcsi_code kcsi_vault_resolve(kcsi_vault *v, const char *prefix, char id[KCSI_VAULT_ID_LEN + 1], kcsi_error *err)
{
	size_t n = strlen(prefix), i;
	json_t *e;
	kcsi_code rc = kv_ensure_loaded(v, err);
	const char *found = NULL;
	if (rc != KCSI_OK)
		return rc;
	for (size_t k = 0; k < n; k++)
		if (!strchr("0123456789abcdef", prefix[k]))
			return kcsi_error_set(err, KCSI_ERR_USAGE, "'%s' is not an evidence id (lowercase hex)", prefix);
	if (n < 8 || n > KCSI_VAULT_ID_LEN)
		return kcsi_error_set(err, KCSI_ERR_USAGE, "'%s': give at least 8 hex digits of the evidence id", prefix);
	json_array_foreach(v->entries, i, e) {
		const char *eid = json_string_value(json_object_get(e, "id"));
		if (!eid || strncmp(eid, prefix, n) != 0)
			continue;
		if (found && strcmp(found, eid) != 0)
			return kcsi_error_set(err, KCSI_ERR_USAGE, "evidence id '%s' is ambiguous (%.16s..., %.16s...)", prefix,
					      found, eid);
		found = eid;
	}
	if (!found)
		return kcsi_error_set(err, KCSI_ERR_NOTFOUND, "%s: no evidence %s in the ledger", v->store, prefix);
	snprintf(id, KCSI_VAULT_ID_LEN + 1, "%s", found);
	return KCSI_OK;
}

/* ---- put ---- */

/* Two threads on two cores: the reader hashes, the main thread encrypts and
 * writes.  Buffers circulate through a small ring, so memory stays flat. */
#define RING 4

struct ring {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned char *buf[RING];
	size_t len[RING];
	int state[RING]; /* 0 free, 1 full */
	int err;         /* errno of a read failure */
	bool eof;
	int fd;
	EVP_MD_CTX *md;
	uint64_t total;
};

static void *reader(void *arg)
{
	struct ring *r = arg;
	for (unsigned k = 0;; k = (k + 1) % RING) {
		size_t got = 0;
		pthread_mutex_lock(&r->mu);
		while (r->state[k] != 0 && r->err == 0)
			pthread_cond_wait(&r->cv, &r->mu);
		pthread_mutex_unlock(&r->mu);
		if (r->err)
			return NULL;
		while (got < KV_CHUNK) {
			ssize_t n = read(r->fd, r->buf[k] + got, KV_CHUNK - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				pthread_mutex_lock(&r->mu);
				r->err = errno;
				pthread_cond_broadcast(&r->cv);
				pthread_mutex_unlock(&r->mu);
				return NULL;
			}
			if (n == 0)
				break;
			got += (size_t)n;
		}
		EVP_DigestUpdate(r->md, r->buf[k], got);
		r->total += got;
		pthread_mutex_lock(&r->mu);
		r->len[k] = got;
		r->state[k] = 1;
		if (got < KV_CHUNK)
			r->eof = true;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		if (got < KV_CHUNK)
			return NULL;
	}
}

/* under the writers' lock: link the object in (once), then say what to record */
struct put_rec {
	kv_upload *u;
	const char *key;
	bool committed, existed, duplicate;
	kv_entry_in in;
};

static kcsi_code decide_put(kcsi_vault *v, void *ctx, kv_entry_in *in, kcsi_error *err)
{
	struct put_rec *p = ctx;
	if (!p->committed) {
		kcsi_code rc = v->s->ops->obj_commit(p->u, p->key, &p->existed, err);
		p->u = NULL;
		p->committed = true;
		if (rc != KCSI_OK)
			return rc;
	}
	*in = p->in;
	p->duplicate = p->existed && kv_state(v, p->in.id, NULL) == 1;
	if (p->duplicate)
		in->detail = "content already held";
	return KCSI_OK;
}

kcsi_code kcsi_vault_put(kcsi_vault *v, const char *path, const char *case_id, const char *note,
			 kcsi_vault_put_info *info, kcsi_error *err)
{
	struct ring r;
	pthread_t th;
	bool started = false;
	kv_enc enc;
	kv_upload *u = NULL;
	unsigned char *out = NULL, sha[32], hdr[KV_HDR_LEN];
	char id[65], key[160], *name = NULL;
	kcsi_code rc;
	struct stat st;
	int fd;

	memset(info, 0, sizeof(*info));
	memset(&r, 0, sizeof(r));
	memset(&enc, 0, sizeof(enc));
	if ((rc = text_ok("--case", case_id, err)) || (rc = text_ok("--note", note, err)))
		return rc;
	/* the ledger (and vault.json, which says where the key is) must be sound
	 * before anything is added */
	if ((rc = kv_ensure_loaded(v, err)) != KCSI_OK)
		return rc;
	if ((rc = kv_need_key(v, err)) != KCSI_OK || (rc = kv_need_secret(v, err)) != KCSI_OK)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kcsi_error_set(err, errno == ENOENT ? KCSI_ERR_NOTFOUND : KCSI_ERR_IO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return kcsi_error_set(err, KCSI_ERR_USAGE, "%s: not a regular file", path);
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	r.fd = fd;
	r.md = EVP_MD_CTX_new();
	out = malloc(KV_CHUNK_MAX_OUT);
	bool bufs = out != NULL;
	for (int k = 0; k < RING; k++)
		if (!(r.buf[k] = malloc(KV_CHUNK)))
			bufs = false;
	if (!bufs || !r.md || !EVP_DigestInit_ex(r.md, EVP_sha256(), NULL)) {
		rc = nomem(err);
		goto out;
	}
	if (kv_enc_start(&enc, v->key, hdr) != 0) {
		rc = nomem(err);
		goto out;
	}
	if ((rc = v->s->ops->obj_begin(v->s, &u, err)) != KCSI_OK)
		goto out;
	if ((rc = v->s->ops->obj_write(u, hdr, sizeof(hdr), err)) != KCSI_OK)
		goto out;
	if (pthread_create(&th, NULL, reader, &r) != 0) {
		rc = kcsi_error_set(err, KCSI_ERR_GENERIC, "starting the reader: %s", strerror(errno));
		goto out;
	}
	started = true;
	for (unsigned k = 0;; k = (k + 1) % RING) {
		size_t n, len;
		bool last;
		pthread_mutex_lock(&r.mu);
		while (r.state[k] != 1 && r.err == 0)
			pthread_cond_wait(&r.cv, &r.mu);
		if (r.err) {
			pthread_mutex_unlock(&r.mu);
			errno = r.err;
			rc = kcsi_error_set(err, KCSI_ERR_IO, "reading %s: %s", path, strerror(r.err));
			goto out;
		}
		len = r.len[k];
		last = len < KV_CHUNK;
		pthread_mutex_unlock(&r.mu);
		if (len) {
			n = kv_enc_chunk(&enc, r.buf[k], len, out, false);
			if ((rc = v->s->ops->obj_write(u, out, n, err)) != KCSI_OK) {
				pthread_mutex_lock(&r.mu);
				r.err = EIO;
				pthread_cond_broadcast(&r.cv);
				pthread_mutex_unlock(&r.mu);
				goto out;
			}
		}
		pthread_mutex_lock(&r.mu);
		r.state[k] = 0;
		pthread_cond_broadcast(&r.cv);
		pthread_mutex_unlock(&r.mu);
		if (last)
			break;
	}
	pthread_join(th, NULL);
	started = false;
	{
		unsigned int hl = 32;
		size_t n;
		EVP_DigestFinal_ex(r.md, sha, &hl);
		n = kv_enc_final(&enc, sha, true, out);
		if ((rc = v->s->ops->obj_write(u, out, n, err)) != KCSI_OK)
			goto out;
	}
	kv_hex(sha, 32, id);
	kv_obj_key(id, key, sizeof(key));
	/* link it in and record it, both under the writers' lock */
	if (!(name = safe_name(path))) {
		rc = nomem(err);
		goto out;
	}
	if ((rc = v->s->ops->lock(v->s, KV_LOCK_EXCLUSIVE, err)) != KCSI_OK)
		goto out;
	{
		struct put_rec pr = {.u = u, .key = key};
		pr.in = (kv_entry_in){.action = "ingested", .id = id, .sha256 = id, .size = r.total, .has_size = true,
				      .name = name, .case_id = case_id, .note = note};
		rc = kv_ledger_record(v, decide_put, &pr, &info->seq, err);
		u = pr.u; /* still ours when the ledger did not load */
		info->duplicate = pr.duplicate;
	}
	v->s->ops->unlock(v->s);
	if (rc == KCSI_OK) {
		memcpy(info->id, id, sizeof(id));
		info->size = r.total;
	}
out:
	if (started) {
		pthread_mutex_lock(&r.mu);
		if (!r.err)
			r.err = ECANCELED;
		pthread_cond_broadcast(&r.cv);
		pthread_mutex_unlock(&r.mu);
		pthread_join(th, NULL);
	}
	if (u)
		v->s->ops->obj_abort(u);
	kv_enc_free(&enc);
	EVP_MD_CTX_free(r.md);
	for (int k = 0; k < RING; k++)
		free(r.buf[k]);
	free(out);
	free(name);
	close(fd);
	pthread_mutex_destroy(&r.mu);
	pthread_cond_destroy(&r.cv);
	return rc;
}

/* ---- decrypt ---- */

struct dsink {
	kv_dec *d;
};

static int feed(void *ctx, const unsigned char *p, size_t n, kcsi_error *err)
{
	struct dsink *s = ctx;
	return kv_dec_feed(s->d, p, n, err);
}

kcsi_code kv_decrypt_obj(kcsi_vault *v, const char *key, const char *want_hex, kv_sink sink, void *ctx,
			 uint64_t *size, kcsi_error *err)
{
	kv_dec d;
	struct dsink s = {&d};
	unsigned char sha[32];
	char got[65], what[256];
	uint64_t sz = 0;
	kcsi_code rc;

	if ((rc = kv_need_key(v, err)) != KCSI_OK)
		return rc;
	snprintf(what, sizeof(what), "object %s", key);
	if (kv_dec_init(&d, v->key, what, sink, ctx) != 0) {
		kv_dec_free(&d);
		return nomem(err);
	}
	rc = v->s->ops->obj_read(v->s, key, feed, &s, err);
	if (rc == KCSI_OK && (rc = (kcsi_code)kv_dec_finish(&d, sha, &sz, err)) == KCSI_OK) {
		kv_hex(sha, 32, got);
		if (want_hex && strcmp(got, want_hex) != 0)
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "object %s: content SHA-256 %s is not the recorded %s", key,
					    got, want_hex);
	}
	kv_dec_free(&d);
	if (size)
		*size = sz;
	return rc;
}

struct fsink {
	int fd;
	const char *path;
};

static int to_file(void *ctx, const unsigned char *p, size_t n, kcsi_error *err)
{
	struct fsink *f = ctx;
	while (n) {
		ssize_t w = write(f->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return kcsi_error_set(err, KCSI_ERR_IO, "writing %s: %s", f->path, strerror(errno));
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static kcsi_code held(kcsi_vault *v, const char *id, json_t **ing, kcsi_error *err)
{
	int st = kv_state(v, id, ing);
	if (st == 2)
		return kcsi_error_set(err, KCSI_ERR_NOTFOUND, "evidence %s was purged", id);
	if (st != 1)
		return kcsi_error_set(err, KCSI_ERR_NOTFOUND, "evidence %s is not in the vault", id);
	return KCSI_OK;
}

kcsi_code kv_decide_held(kcsi_vault *v, void *ctx, kv_entry_in *in, kcsi_error *err)
{
	const kv_entry_in *want = ctx;
	kcsi_code rc = held(v, want->id, NULL, err);
	if (rc == KCSI_OK)
		*in = *want;
	return rc;
}

kcsi_code kcsi_vault_get(kcsi_vault *v, const char *id, const char *out_path, const char *reason, kcsi_error *err)
{
	char key[160], *tmp = NULL;
	struct fsink f = {-1, out_path};
	kcsi_code rc;
	json_t *ing;
	uint64_t size = 0;

	if ((rc = text_ok("--reason", reason, err)) != KCSI_OK || (rc = kv_need_secret(v, err)) != KCSI_OK ||
	    (rc = kv_ensure_loaded(v, err)) != KCSI_OK || (rc = held(v, id, &ing, err)) != KCSI_OK)
		return rc;
	if (access(out_path, F_OK) == 0)
		return kcsi_error_set(err, KCSI_ERR_USAGE, "%s exists; kcsi does not overwrite", out_path);
	kv_obj_key(id, key, sizeof(key));
	tmp = malloc(strlen(out_path) + 16);
	if (!tmp)
		return nomem(err);
	sprintf(tmp, "%s.kcsi-XXXXXX", out_path);
	f.fd = mkstemp(tmp);
	if (f.fd < 0) {
		rc = kcsi_error_set(err, KCSI_ERR_IO, "creating %s: %s", tmp, strerror(errno));
		free(tmp);
		return rc;
	}
	rc = kv_decrypt_obj(v, key, id, to_file, &f, &size, err);
	if (rc == KCSI_OK && fsync(f.fd) != 0)
		rc = kcsi_error_set(err, KCSI_ERR_IO, "writing %s: %s", tmp, strerror(errno));
	close(f.fd);
	if (rc != KCSI_OK) {
		kcsi_error_prefix(err, "evidence %.16s", id);
		goto fail;
	}
	if ((rc = v->s->ops->lock(v->s, KV_LOCK_EXCLUSIVE, err)) != KCSI_OK)
		goto fail;
	{
		kv_entry_in in = {.action = "accessed", .id = id, .sha256 = id, .size = size, .has_size = true,
				  .reason = reason};
		rc = kv_ledger_record(v, kv_decide_held, &in, NULL, err);
	}
	v->s->ops->unlock(v->s);
	if (rc != KCSI_OK)
		goto fail;
	if (link(tmp, out_path) != 0) {
		if (errno == EEXIST || rename(tmp, out_path) != 0) {
			rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", out_path, strerror(errno));
			goto fail;
		}
	} else {
		unlink(tmp);
	}
	free(tmp);
	return KCSI_OK;
fail:
	unlink(tmp);
	free(tmp);
	return rc;
}

struct purge_rec {
	const char *id, *reason, *key;
};

static kcsi_code decide_purge(kcsi_vault *v, void *ctx, kv_entry_in *in, kcsi_error *err)
{
	struct purge_rec *p = ctx;
	uint64_t size;
	int st = kv_state(v, p->id, NULL);
	if (st == 0)
		return kcsi_error_set(err, KCSI_ERR_NOTFOUND, "evidence %s is not in the vault", p->id);
	if (st == 2 && v->s->ops->obj_stat(v->s, p->key, &size, NULL) != KCSI_OK)
		return kcsi_error_set(err, KCSI_ERR_NOTFOUND, "evidence %s was already purged", p->id);
	/* the tombstone first: an interrupted purge leaves intent, not a hole;
	 * a purge interrupted after it only deletes (in->action stays NULL) */
	if (st == 1)
		*in = (kv_entry_in){.action = "purged", .id = p->id, .sha256 = p->id, .reason = p->reason};
	return KCSI_OK;
}

kcsi_code kcsi_vault_purge(kcsi_vault *v, const char *id, const char *reason, kcsi_error *err)
{
	char key[160];
	kcsi_code rc;
	struct purge_rec p = {id, reason, key};

	if (!reason || !*reason)
		return kcsi_error_set(err, KCSI_ERR_USAGE, "a purge needs a reason (--reason)");
	if ((rc = text_ok("--reason", reason, err)) != KCSI_OK || (rc = kv_need_secret(v, err)) != KCSI_OK)
		return rc;
	if (!kv_is_id(id))
		return kcsi_error_set(err, KCSI_ERR_USAGE, "'%s' is not an evidence id", id);
	kv_obj_key(id, key, sizeof(key));
	if ((rc = v->s->ops->lock(v->s, KV_LOCK_EXCLUSIVE, err)) != KCSI_OK)
		return rc;
	rc = kv_ledger_record(v, decide_purge, &p, NULL, err);
	if (rc == KCSI_OK) {
		rc = v->s->ops->obj_delete(v->s, key, err);
		if (rc == KCSI_ERR_NOTFOUND)
			rc = KCSI_OK;
	}
	v->s->ops->unlock(v->s);
	return rc;
}

struct report_rec {
	kv_upload *u;
	const char *key;
	bool committed;
	kv_entry_in in;
};

/* the evidence must still be held; then the report is linked in (once) */
static kcsi_code decide_report(kcsi_vault *v, void *ctx, kv_entry_in *in, kcsi_error *err)
{
	struct report_rec *r = ctx;
	kcsi_code rc = held(v, r->in.id, NULL, err);
	bool existed;
	if (rc == KCSI_OK && !r->committed) {
		rc = v->s->ops->obj_commit(r->u, r->key, &existed, err);
		r->u = NULL;
		r->committed = true;
	}
	if (rc == KCSI_OK)
		*in = r->in;
	return rc;
}

kcsi_code kcsi_vault_report(kcsi_vault *v, const char *id, const void *data, size_t len, const char *note,
			    kcsi_error *err)
{
	kv_enc enc;
	kv_upload *u = NULL;
	unsigned char hdr[KV_HDR_LEN], sha[32], *out = NULL;
	char hex[65], key[256];
	kcsi_code rc;
	const unsigned char *p = data;

	if ((rc = text_ok("--note", note, err)) || (rc = kv_ensure_loaded(v, err)) || (rc = kv_need_key(v, err)) ||
	    (rc = kv_need_secret(v, err)) || (rc = held(v, id, NULL, err)))
		return rc;
	out = malloc(KV_CHUNK_MAX_OUT);
	if (!out || kv_enc_start(&enc, v->key, hdr) != 0) {
		free(out);
		return nomem(err);
	}
	if ((rc = v->s->ops->obj_begin(v->s, &u, err)) != KCSI_OK || (rc = v->s->ops->obj_write(u, hdr, sizeof(hdr), err)))
		goto out;
	for (size_t off = 0; off < len || off == 0;) {
		size_t n = len - off > KV_CHUNK ? KV_CHUNK : len - off, m;
		if (n == 0)
			break;
		m = kv_enc_chunk(&enc, p + off, n, out, true);
		if ((rc = v->s->ops->obj_write(u, out, m, err)) != KCSI_OK)
			goto out;
		off += n;
	}
	{
		size_t m = kv_enc_final(&enc, sha, false, out);
		if ((rc = v->s->ops->obj_write(u, out, m, err)) != KCSI_OK)
			goto out;
	}
	kv_hex(sha, 32, hex);
	snprintf(key, sizeof(key), "reports/%s/%s", id, hex);
	/* link it in and record it, both under the writers' lock */
	if ((rc = v->s->ops->lock(v->s, KV_LOCK_EXCLUSIVE, err)) != KCSI_OK)
		goto out;
	{
		json_t *extra = json_pack("{s:s, s:I}", "report_sha256", hex, "report_size", (json_int_t)len);
		struct report_rec r = {u, key, false, {.action = "analysed", .id = id, .sha256 = id, .note = note,
						       .extra = extra}};
		rc = extra ? kv_ledger_record(v, decide_report, &r, NULL, err) : nomem(err);
		u = r.u;
		json_decref(extra);
	}
	v->s->ops->unlock(v->s);
out:
	if (u)
		v->s->ops->obj_abort(u);
	kv_enc_free(&enc);
	free(out);
	return rc;
}

/* ---- list, log ---- */

kcsi_code kcsi_vault_list(kcsi_vault *v, const char *case_id, json_t **out, kcsi_error *err)
{
	json_t *by = json_object(), *order = json_array(), *e;
	kcsi_code rc = kv_ensure_loaded(v, err);
	size_t i;

	if (rc != KCSI_OK) {
		json_decref(by);
		json_decref(order);
		return rc;
	}
	json_array_foreach(v->entries, i, e) {
		const char *id = json_string_value(json_object_get(e, "id"));
		const char *a = json_string_value(json_object_get(e, "action"));
		json_t *o;
		if (!id)
			continue;
		o = json_object_get(by, id);
		if (!o) {
			if (strcmp(a, "ingested") != 0)
				continue;
			/* a signed entry need not name its actor */
			o = json_pack("{s:s, s:O?, s:O?, s:O?, s:O?, s:s, s:O, s:O?, s:i}", "id", id, "sha256",
				      json_object_get(e, "sha256"), "size", json_object_get(e, "size"), "name",
				      json_object_get(e, "name"), "case", json_object_get(e, "case"), "state", "held",
				      "ingested", json_object_get(e, "time"), "ingested_by", json_object_get(e, "actor"),
				      "accesses", 0);
			if (!o) {
				json_decref(by);
				json_decref(order);
				return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
			}
			json_object_set(o, "note", json_object_get(e, "note") ? json_object_get(e, "note") : json_null());
			json_object_set_new(by, id, o);
			json_array_append(order, o);
		}
		if (!strcmp(a, "purged"))
			json_object_set_new(o, "state", json_string("purged"));
		else if (!strcmp(a, "ingested") && !strcmp(json_string_value(json_object_get(o, "state")), "purged")) {
			json_object_set_new(o, "state", json_string("held"));
			json_object_set(o, "ingested", json_object_get(e, "time"));
		} else if (!strcmp(a, "accessed"))
			json_object_set_new(o, "accesses",
					    json_integer(json_integer_value(json_object_get(o, "accesses")) + 1));
		if (!json_object_get(o, "case") && json_object_get(e, "case"))
			json_object_set(o, "case", json_object_get(e, "case"));
		json_object_set_new(o, "last_action", json_string(a));
		json_object_set(o, "last_time", json_object_get(e, "time"));
	}
	json_decref(by);
	if (case_id) {
		json_t *f = json_array();
		json_array_foreach(order, i, e) {
			const char *c = json_string_value(json_object_get(e, "case"));
			if (c && !strcmp(c, case_id))
				json_array_append(f, e);
		}
		json_decref(order);
		order = f;
	}
	*out = order;
	return KCSI_OK;
}

kcsi_code kcsi_vault_log(kcsi_vault *v, const char *id, json_t **out, kcsi_error *err)
{
	kcsi_code rc = kv_ensure_loaded(v, err);
	size_t i;
	json_t *e;
	if (rc != KCSI_OK)
		return rc;
	*out = json_array();
	json_array_foreach(v->entries, i, e) {
		const char *eid = json_string_value(json_object_get(e, "id"));
		if (!id || (eid && !strcmp(eid, id)))
			json_array_append(*out, e);
	}
	return KCSI_OK;
}

/* ---- verify ---- */

static int collect_name(void *ctx, const char *name, int64_t mtime)
{
	return json_object_set_new_nocheck(ctx, name, json_integer(mtime));
}

/* Without a lock (S3) a put stores its object before it wins the race for
 * its ledger entry: an object younger than this with no entry is taken to
 * be one being recorded */
#define UNRECORDED_GRACE 600

/* What is stored must be what the ledger recorded: an object under
 * objects/XX/ID for evidence ingested, a report under reports/ID/SHA for an
 * analysed entry.  names: {name: mtime}.  Problems go to probs. */
static void check_unrecorded(kcsi_vault *v, json_t *names, json_t *probs)
{
	json_t *ids = json_object(), *reports = json_object(), *e, *mt;
	const char *name;
	int64_t now = (int64_t)time(NULL);
	size_t i;
	json_array_foreach(v->entries, i, e) {
		const char *id = json_string_value(json_object_get(e, "id"));
		const char *rs = json_string_value(json_object_get(e, "report_sha256"));
		const char *a = json_string_value(json_object_get(e, "action"));
		char k[160];
		if (!id)
			continue;
		if (!strcmp(a, "ingested"))
			json_object_set_new(ids, id, json_true());
		if (rs && !strcmp(a, "analysed")) {
			snprintf(k, sizeof(k), "%s/%s", id, rs);
			json_object_set_new(reports, k, json_true());
		}
	}
	json_object_foreach(names, name, mt) {
		const char *why = NULL;
		char id[KCSI_VAULT_ID_LEN + 1] = "", rs[KCSI_VAULT_ID_LEN + 1] = "";
		int used = 0;
		json_int_t when = json_integer_value(mt);
		if (sscanf(name, "objects/%*2[0-9a-f]/%64[0-9a-f]%n", id, &used) == 1 && name[used] == '\0' &&
		    kv_is_id(id) && !strncmp(name + 8, id, 2)) {
			if (!json_object_get(ids, id))
				why = "no ledger entry records this object (it was added to the store, or a put died "
				      "before recording it)";
		} else if (sscanf(name, "reports/%64[0-9a-f]/%64[0-9a-f]%n", id, rs, &used) == 2 && name[used] == '\0' &&
			   kv_is_id(id) && kv_is_id(rs)) {
			char k[160];
			snprintf(k, sizeof(k), "%s/%s", id, rs);
			if (!json_object_get(reports, k))
				why = "no analysed entry in the ledger records this report (it was added to the store)";
		} else {
			why = "not a vault object (it was added to the store)";
		}
		if (why && !v->s->has_lock && when >= 0 && now - when < UNRECORDED_GRACE)
			why = NULL;
		if (why)
			kv_problem(probs, name, NULL, "%s", why);
	}
	json_decref(ids);
	json_decref(reports);
}

struct verified_rec {
	const char *id;
	char detail[700];
};

static kcsi_code decide_verified(kcsi_vault *v, void *ctx, kv_entry_in *in, kcsi_error *err)
{
	struct verified_rec *r = ctx;
	(void)err;
	if (kv_state(v, r->id, NULL) == 1) /* not purged meanwhile */
		*in = (kv_entry_in){.action = "verified", .id = r->id, .sha256 = r->id, .detail = r->detail};
	return KCSI_OK;
}

kcsi_code kcsi_vault_verify(kcsi_vault *v, const char *id, unsigned flags, json_t **out, kcsi_error *err)
{
	json_t *probs = json_array(), *ids = json_array(), *names = json_object(), *res = NULL, *e;
	kcsi_code rc;
	size_t i, ledger_probs, checked = 0;
	bool record = !(flags & KCSI_VAULT_VERIFY_NORECORD);

	if (!probs || !ids || !names) {
		rc = nomem(err);
		goto fail;
	}
	if (record && (rc = kv_need_secret(v, err)) != KCSI_OK)
		goto fail;
	/* what is stored, then the ledger, as one snapshot: objects are linked
	 * and recorded under the writers' lock */
	if ((rc = v->s->ops->lock(v->s, KV_LOCK_SHARED, err)) != KCSI_OK)
		goto fail;
	if (!id && ((rc = v->s->ops->list(v->s, "objects/", collect_name, names, err)) != KCSI_OK ||
		    (rc = v->s->ops->list(v->s, "reports/", collect_name, names, err)) != KCSI_OK)) {
		v->s->ops->unlock(v->s);
		goto fail;
	}
	rc = kv_ledger_load(v, probs, err);
	v->s->ops->unlock(v->s);
	if (rc != KCSI_OK)
		goto fail;
	ledger_probs = json_array_size(probs);
	if (!id)
		check_unrecorded(v, names, probs);
	if (!(flags & KCSI_VAULT_VERIFY_LEDGER_ONLY)) {
		kcsi_error e2;
		kcsi_error_clear(&e2);
		/* a vault.json that was changed may name a key that is not there:
		 * report that beside what was found, and check what can be */
		if ((rc = kv_need_key(v, &e2)) != KCSI_OK && ledger_probs == 0) {
			if (err)
				*err = e2;
			goto fail;
		}
		if (rc != KCSI_OK) {
			kv_problem(probs, "vault.json", NULL, "the content cannot be checked: %s", e2.msg);
			flags |= KCSI_VAULT_VERIFY_LEDGER_ONLY;
		}
	}
	/* the evidence to check */
	json_array_foreach(v->entries, i, e) {
		const char *eid = json_string_value(json_object_get(e, "id"));
		const char *a = json_string_value(json_object_get(e, "action"));
		bool seen = false;
		size_t k;
		json_t *x;
		if (!eid || strcmp(a, "ingested") != 0 || (id && strcmp(id, eid) != 0))
			continue;
		json_array_foreach(ids, k, x) if (!strcmp(json_string_value(x), eid)) seen = true;
		if (!seen)
			json_array_append_new(ids, json_string(eid));
	}
	json_array_foreach(ids, i, e) {
		const char *eid = json_string_value(e);
		char key[160], where[200];
		uint64_t size = 0;
		int st = kv_state(v, eid, NULL);
		json_t *ing = NULL;
		kcsi_error e2;
		kcsi_error_clear(&e2);
		kv_obj_key(eid, key, sizeof(key));
		snprintf(where, sizeof(where), "%s", key);
		if (st == 2) {
			if (v->s->ops->obj_stat(v->s, key, &size, NULL) == KCSI_OK)
				kv_problem(probs, where, eid, "purged in the ledger, but the content is still stored");
			continue;
		}
		kv_state(v, eid, &ing);
		checked++;
		if (flags & KCSI_VAULT_VERIFY_LEDGER_ONLY) {
			if (v->s->ops->obj_stat(v->s, key, &size, &e2) != KCSI_OK)
				kv_problem(probs, where, eid, "%s", e2.msg);
			continue;
		}
		if (kv_decrypt_obj(v, key, eid, NULL, NULL, &size, &e2) != KCSI_OK) {
			/* purged since the ledger was read (a purge overwrites, then
			 * deletes, under the writers' lock, after its tombstone)? */
			if (ledger_snapshot(v, NULL, NULL) == KCSI_OK && kv_state(v, eid, NULL) == 2) {
				checked--;
				continue;
			}
			kv_problem(probs, where, eid, "%s", e2.code == KCSI_ERR_NOTFOUND ? "content missing" : e2.msg);
			if (e2.code == KCSI_ERR_GENERIC && !v->have_key) {
				rc = e2.code;
				if (err)
					*err = e2;
				goto fail;
			}
		} else if (ing && json_integer_value(json_object_get(ing, "size")) != (json_int_t)size) {
			kv_problem(probs, where, eid, "size differs from the ingested entry's");
		}
	}
	res = json_pack("{s:b, s:I, s:I, s:{s:I, s:s}, s:s, s:O}", "ok", json_array_size(probs) == 0, "entries",
			(json_int_t)json_array_size(v->entries), "evidence_checked", (json_int_t)checked, "head", "seq",
			(json_int_t)v->last_seq, "hash", v->last_hash, "public_key", v->pk_hex, "problems", probs);
	/* record the check on a sound ledger */
	if (record && ledger_probs == 0) {
		if ((rc = v->s->ops->lock(v->s, KV_LOCK_EXCLUSIVE, err)) != KCSI_OK)
			goto fail;
		json_array_foreach(ids, i, e) {
			struct verified_rec r = {json_string_value(e), "ok"};
			size_t k;
			json_t *p;
			json_array_foreach(probs, k, p) {
				const char *pid = json_string_value(json_object_get(p, "id"));
				if (pid && !strcmp(pid, r.id))
					snprintf(r.detail, sizeof(r.detail), "FAILED: %s",
						 json_string_value(json_object_get(p, "problem")));
			}
			if ((rc = kv_ledger_record(v, decide_verified, &r, NULL, err)) != KCSI_OK)
				break;
		}
		v->s->ops->unlock(v->s);
		if (rc != KCSI_OK)
			goto fail;
		json_object_set_new(json_object_get(res, "head"), "seq", json_integer((json_int_t)v->last_seq));
		json_object_set_new(json_object_get(res, "head"), "hash", json_string(v->last_hash));
	}
	json_decref(probs);
	json_decref(ids);
	json_decref(names);
	*out = res;
	return KCSI_OK;
fail:
	json_decref(res);
	json_decref(probs);
	json_decref(ids);
	json_decref(names);
	return rc;
}

static char *conf_value(const char *text, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = text; p && *p;) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		while (len && (*p == ' ' || *p == '\t'))
			p++, len--;
		if (len > nl && !strncmp(p, name, nl) && (p[nl] == ' ' || p[nl] == '=' || p[nl] == '\t')) {
			const char *v = p + nl;
			size_t vl = len - nl;
			while (vl && (*v == ' ' || *v == '\t' || *v == '='))
				v++, vl--;
			while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t' || v[vl - 1] == '\r'))
				vl--;
			return vl ? strndup(v, vl) : NULL;
		}
		p = e ? e + 1 : NULL;
	}
	return NULL;
}

kcsi_code kcsi_vault_config(const char *store_opt, const char *keys_opt, char **store, char **keys,
			    kcsi_error *err)
{
	const char *cf = getenv("KCSI_VAULT_CONFIG"), *es = getenv("KCSI_VAULT"), *ek = getenv("KCSI_VAULT_KEYS");
	char *text = NULL;
	FILE *f;

	*store = NULL;
	*keys = NULL;
	if (!cf || !*cf)
		cf = "/etc/kcsi/vault.conf";
	f = fopen(cf, "re");
	if (f) {
		size_t n = 0;
		if (getdelim(&text, &n, '\0', f) < 0) {
			free(text);
			text = NULL;
		}
		fclose(f);
	}
	if (store_opt)
		*store = strdup(store_opt);
	else if (es && *es)
		*store = strdup(es);
	else if (text)
		*store = conf_value(text, "store");
	if (keys_opt)
		*keys = strdup(keys_opt);
	else if (ek && *ek)
		*keys = strdup(ek);
	else if (text)
		*keys = conf_value(text, "keys");
	free(text);
	if (!*store)
		return kcsi_error_set(err, KCSI_ERR_USAGE,
				      "which vault? give --store DIR|s3://BUCKET/PREFIX, set KCSI_VAULT, or write store = ... in %s",
				      cf);
	return KCSI_OK;
}
