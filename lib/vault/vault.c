/* kcsi vault — the vault handle: stores, keys, configuration, the ledger as
 * loaded.  The evidence operations are in put.c, access.c (get, purge,
 * reports) and verify.c (list, log, verify).  See include/kcsi/vault.h and
 * docs/vault.md.
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

kcsi_code kv_nomem(kcsi_error *err)
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

/* Text recorded in the ledger must be UTF-8 without control characters.
 * what names it in the message ("the reason"), param is the API's name of
 * it (kcsi_error_param). */
kcsi_code kv_text_ok(const char *what, const char *param, const char *s, kcsi_error *err)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = s ? strlen(s) : 0;
	kcsi_code rc = KCSI_OK;
	if (n > KV_TEXT_MAX)
		rc = kcsi_error_set(err, KCSI_ERR_USAGE, "%s: at most %d bytes are recorded", what, KV_TEXT_MAX);
	for (size_t i = 0; !rc && i < n;) {
		size_t l = kcsi_utf8_seq(p + i, n - i);
		if (l == 0 || (l == 1 && (p[i] < 0x20 || p[i] == 0x7f)))
			rc = kcsi_error_set(err, KCSI_ERR_USAGE, "%s: only UTF-8 text without control characters is recorded",
					    what);
		i += l ? l : 1;
	}
	if (rc)
		kcsi_error_param(err, param);
	return rc;
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
char *kv_safe_name(const char *path)
{
	const char *b = strrchr(path, '/');
	return kv_safe_text(b ? b + 1 : path);
}

static char *default_actor(void)
{
	const char *e = getenv("KCSI_ACTOR"), *sudo = getenv("SUDO_USER");
	char host[256] = "?", *out, pwbuf[4096];
	struct passwd pwd, *pw = NULL; /* getpwuid_r: vaults are opened on several threads (hunt --store) */
	size_t n;
	if (getpwuid_r(geteuid(), &pwd, pwbuf, sizeof(pwbuf), &pw) != 0)
		pw = NULL;
	if (e && *e && kv_text_ok("KCSI_ACTOR", NULL, e, NULL) == KCSI_OK)
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
	if (!actor || kv_text_ok("the actor", "actor", actor, NULL) != KCSI_OK)
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
	kcsi_hex(h, 32, out);
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

/* No keys directory is known for the store. */
static kcsi_code no_keys_dir(const kcsi_vault *v, kcsi_error *err)
{
	kcsi_error_set(err, KCSI_ERR_NOTFOUND, "%s: where are the keys? (no keys directory given, KCSI_VAULT_KEYS not set)",
		       v->store);
	kcsi_error_param(err, "keys");
	return KCSI_ERR_NOTFOUND;
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
			return no_keys_dir(v, err);
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
		return no_keys_dir(v, err);
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
		return kv_nomem(err);
	v->store = strdup(store);
	keys = keys_default(store, o->keys_dir);
	if (!keys) {
		rc = kcsi_error_set(err, KCSI_ERR_USAGE, "%s: an S3 store needs a local keys directory", store);
		kcsi_error_param(err, "keys");
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
	kcsi_hex(v->pk, sizeof(v->pk), v->pk_hex);
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
	kcsi_rfc3339_now(now, sizeof(now), 6);
	randombytes_buf(rnd, sizeof(rnd));
	kcsi_hex(rnd, sizeof(rnd), sid);
	v->conf = json_pack("{s:s, s:i, s:s, s:s, s:s, s:o, s:i, s:i}", "format", "kcsi-vault", "version", 1,
			    "vault_id", sid, "created", now, "public_key", v->pk_hex, "key", key, "chunk",
			    (json_int_t)KV_CHUNK, "retain_days", (json_int_t)o->retain_days);
	key = NULL;
	conf = json_dumps(v->conf, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!conf) {
		rc = kv_nomem(err);
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
		rc = extra ? kv_ledger_append(v, &in, NULL, &lost, err) : kv_nomem(err);
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
		return kv_nomem(err);
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
			kcsi_hex(v->pk, sizeof(v->pk), v->pk_hex);
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
kcsi_code kv_ledger_snapshot(kcsi_vault *v, json_t *probs, kcsi_error *err)
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
	return kv_ledger_snapshot(v, NULL, err);
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
	if (!*store) {
		kcsi_error_set(err, KCSI_ERR_USAGE,
			       "which vault? none is given, KCSI_VAULT is not set and %s has no store = ... line", cf);
		kcsi_error_param(err, "store");
		return KCSI_ERR_USAGE;
	}
	return KCSI_OK;
}

