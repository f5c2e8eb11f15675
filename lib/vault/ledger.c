/* kcsi vault — the ledger: append-only JSON lines, hash-chained and signed.
 *
 * A line is a JSON object written with fixed key order:
 *   {"seq": N, "time": T, "actor": A, "action": X, "id": ..., ..., "prev": H, "sig": S}
 * S is the Ed25519 signature (base64) of "kcsi-ledger-v1\n" followed by the
 * line with its `, "sig": "..."` member removed; H is the hex SHA-256 of the
 * previous line's bytes (64 zeros for the first).  ledger.head records the
 * last seq and hash, signed the same way, so that removing entries from the
 * end is seen too.
 *
 * Writers hold the store's lock while they load, check and append (see
 * kv_ledger_record); on a store without a lock (S3) an entry is a
 * conditional write, and a writer that loses the race for a seq reloads and
 * decides again.  Readers load under the shared lock.  vault.json is checked
 * against the copy signed in the "created" entry. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kcsi/jsonw.h"
#include "vault/vault_int.h"

#define SIG_CTX "kcsi-ledger-v1\n"
#define HEAD_CTX "kcsi-head-v1\n"

static void sign_text(const kcsi_vault *v, const char *ctx, const char *msg, size_t n, char *b64, size_t cap)
{
	unsigned char sig[crypto_sign_BYTES];
	size_t cl = strlen(ctx);
	unsigned char *m = malloc(cl + n);
	if (!m) {
		b64[0] = '\0';
		return;
	}
	memcpy(m, ctx, cl);
	memcpy(m + cl, msg, n);
	crypto_sign_detached(sig, NULL, m, cl + n, v->sk);
	free(m);
	sodium_bin2base64(b64, cap, sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
}

/* Split a signed line into the signed text and the signature; verify it. */
static int check_sig(const char *ctx, const char *line, size_t len, const unsigned char pk[32], const char **why)
{
	const char *p = NULL;
	size_t pl = strlen(KV_SIG_PREFIX), cl = strlen(ctx);
	unsigned char sig[crypto_sign_BYTES];
	size_t siglen = 0;
	unsigned char *m;
	int ok;

	/* the last `, "sig": "` */
	for (size_t i = len >= pl ? len - pl + 1 : 0; i-- > 0;)
		if (memcmp(line + i, KV_SIG_PREFIX, pl) == 0) {
			p = line + i;
			break;
		}
	if (!p || len < 2 || line[len - 1] != '}' || line[len - 2] != '"' || p + pl > line + len - 2) {
		*why = "no signature";
		return -1;
	}
	if (sodium_base642bin(sig, sizeof(sig), p + pl, (size_t)(line + len - 2 - (p + pl)), NULL, &siglen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    siglen != sizeof(sig)) {
		*why = "malformed signature";
		return -1;
	}
	m = malloc(cl + (size_t)(p - line) + 1);
	if (!m) {
		*why = "out of memory";
		return -1;
	}
	memcpy(m, ctx, cl);
	memcpy(m + cl, line, (size_t)(p - line));
	m[cl + (size_t)(p - line)] = '}';
	ok = crypto_sign_verify_detached(sig, m, cl + (size_t)(p - line) + 1, pk) == 0;
	free(m);
	if (!ok) {
		*why = "bad signature (the entry was changed, or signed by another key)";
		return -1;
	}
	return 0;
}

json_t *kv_line_check(const char *line, size_t len, const unsigned char pk[32], const char **why)
{
	json_error_t je;
	json_t *j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		*why = "not a JSON object (the line was damaged)";
		return NULL;
	}
	if (check_sig(SIG_CTX, line, len, pk, why) != 0) {
		json_decref(j);
		return NULL;
	}
	if (!json_is_integer(json_object_get(j, "seq")) || json_integer_value(json_object_get(j, "seq")) < 1 ||
	    !json_is_string(json_object_get(j, "action")) || !json_is_string(json_object_get(j, "prev")) ||
	    !json_is_string(json_object_get(j, "time"))) {
		json_decref(j);
		*why = "missing seq, time, action or prev";
		return NULL;
	}
	/* these name objects in the store: never a path of another shape */
	static const char *const ids[] = {"id", "sha256", "report_sha256"};
	for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
		json_t *x = json_object_get(j, ids[k]);
		if (x && !kv_is_id(json_string_value(x))) {
			json_decref(j);
			*why = !strcmp(ids[k], "id")	     ? "its id is not a SHA-256 (64 lowercase hex digits)"
			       : !strcmp(ids[k], "sha256") ? "its sha256 is not 64 lowercase hex digits"
							     : "its report_sha256 is not 64 lowercase hex digits";
			return NULL;
		}
	}
	return j;
}

/* ---- reading lines with a bound ---- */

void kv_line_init(kv_line *l)
{
	memset(l, 0, sizeof(*l));
	kcsi_buf_init(&l->text, KV_LINE_MAX);
}

int kv_line_add(kv_line *l, const void *p, size_t n)
{
	l->len += n;
	if (!l->md && l->text.len + n <= KV_LINE_MAX)
		return kcsi_buf_add(&l->text, p, n);
	if (!l->md) {
		/* over the bound: from now on only its hash */
		l->md = EVP_MD_CTX_new();
		if (!l->md || !EVP_DigestInit_ex(l->md, EVP_sha256(), NULL))
			return -1;
		EVP_DigestUpdate(l->md, l->text.data ? l->text.data : "", l->text.len);
		kcsi_buf_free(&l->text);
		kcsi_buf_init(&l->text, KV_LINE_MAX);
	}
	EVP_DigestUpdate(l->md, p, n);
	return 0;
}

int kv_line_take(kv_line *l, json_t *lines)
{
	json_t *j;
	if (l->md) {
		unsigned char h[32];
		unsigned int hl = 32;
		char hex[65];
		EVP_DigestFinal_ex(l->md, h, &hl);
		EVP_MD_CTX_free(l->md);
		kcsi_hex(h, 32, hex);
		j = json_pack("{s:I, s:s}", "length", (json_int_t)l->len, "sha256", hex);
	} else {
		j = json_stringn_nocheck(l->text.data ? l->text.data : "", l->text.len);
	}
	kcsi_buf_free(&l->text);
	kv_line_init(l);
	return j && json_array_append_new(lines, j) == 0 ? 0 : -1;
}

void kv_line_free(kv_line *l)
{
	EVP_MD_CTX_free(l->md);
	kcsi_buf_free(&l->text);
	memset(l, 0, sizeof(*l));
}

void kv_ledger_raw_free(kv_ledger_raw *r)
{
	json_decref(r->lines);
	json_decref(r->stray);
	kcsi_buf_free(&r->head);
	r->lines = r->stray = NULL;
}

static void kstr_opt(kcsi_jsonw *w, const char *k, const char *v)
{
	if (v)
		kcsi_jw_kstr(w, k, v);
}

/* Write a signed one-line object through fill(); returns malloc'd line. */
static char *compose(kcsi_vault *v, const char *ctx, void (*fill)(kcsi_jsonw *, const void *), const void *arg,
		     size_t *len)
{
	char *buf = NULL, *line;
	size_t n = 0;
	char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	FILE *f = open_memstream(&buf, &n);
	kcsi_jsonw w;

	if (!f)
		return NULL;
	kcsi_jw_init(&w, f, 0);
	kcsi_jw_obj(&w);
	fill(&w, arg);
	kcsi_jw_obj_end(&w);
	if (fclose(f) != 0 || w.error) {
		free(buf);
		return NULL;
	}
	sign_text(v, ctx, buf, n, b64, sizeof(b64));
	line = malloc(n + strlen(KV_SIG_PREFIX) + strlen(b64) + 3);
	if (line) {
		n--; /* drop '}' */
		memcpy(line, buf, n);
		n += (size_t)sprintf(line + n, "%s%s\"}", KV_SIG_PREFIX, b64);
		*len = n;
	}
	free(buf);
	return line;
}

struct entry_arg {
	const kv_entry_in *in;
	uint64_t seq;
	const char *time, *actor, *prev;
};

static void fill_entry(kcsi_jsonw *w, const void *p)
{
	const struct entry_arg *a = p;
	const kv_entry_in *in = a->in;
	const char *k;
	json_t *val;

	kcsi_jw_kuint(w, "seq", a->seq);
	kcsi_jw_kstr(w, "time", a->time);
	kcsi_jw_kstr(w, "actor", a->actor);
	kcsi_jw_kstr(w, "action", in->action);
	kstr_opt(w, "id", in->id);
	kstr_opt(w, "sha256", in->sha256);
	if (in->has_size)
		kcsi_jw_kuint(w, "size", in->size);
	kstr_opt(w, "name", in->name);
	kstr_opt(w, "case", in->case_id);
	kstr_opt(w, "note", in->note);
	kstr_opt(w, "reason", in->reason);
	kstr_opt(w, "detail", in->detail);
	if (in->extra)
		json_object_foreach(in->extra, k, val) {
			kcsi_jw_key(w, k);
			if (json_is_string(val))
				kcsi_jw_strn(w, json_string_value(val), json_string_length(val));
			else if (json_is_integer(val))
				kcsi_jw_int(w, json_integer_value(val));
			else if (json_is_boolean(val))
				kcsi_jw_bool(w, json_is_true(val));
			else
				kcsi_jw_null(w);
		}
	kcsi_jw_kstr(w, "prev", a->prev);
}

struct head_arg {
	uint64_t seq;
	const char *hash, *time;
};

static void fill_head(kcsi_jsonw *w, const void *p)
{
	const struct head_arg *a = p;
	kcsi_jw_kuint(w, "seq", a->seq);
	kcsi_jw_kstr(w, "hash", a->hash);
	kcsi_jw_kstr(w, "time", a->time);
}

kcsi_code kv_ledger_append(kcsi_vault *v, const kv_entry_in *in, uint64_t *seq, bool *lost, kcsi_error *err)
{
	char now[40], hash[65];
	unsigned char h[32];
	struct entry_arg a = {in, v->last_seq + 1, now, v->actor, v->last_hash};
	struct head_arg ha;
	size_t len, hlen;
	char *line, *head;
	kcsi_code rc;
	const char *why;
	json_t *parsed;

	if ((rc = kv_need_secret(v, err)) != KCSI_OK)
		return rc;
	kcsi_rfc3339_now(now, sizeof(now), 6);
	line = compose(v, SIG_CTX, fill_entry, &a, &len);
	if (!line)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "composing a ledger entry: out of memory");
	parsed = kv_line_check(line, len, v->pk, &why);
	if (!parsed) {
		free(line);
		return kcsi_error_set(err, KCSI_ERR_GENERIC, "a new ledger entry does not check: %s", why);
	}
	*lost = false;
	rc = v->s->ops->ledger_append(v->s, a.seq, line, len, lost, err);
	if (rc != KCSI_OK) {
		json_decref(parsed);
		free(line);
		return rc;
	}
	kcsi_sha256(line, len, h);
	kcsi_hex(h, 32, hash);
	if (v->lines)
		json_array_append_new(v->lines, json_stringn_nocheck(line, len));
	free(line);
	v->last_seq = a.seq;
	memcpy(v->last_hash, hash, sizeof(hash));
	json_array_append_new(v->entries, parsed);
	if (seq)
		*seq = a.seq;
	ha = (struct head_arg){a.seq, hash, now};
	head = compose(v, HEAD_CTX, fill_head, &ha, &hlen);
	if (!head)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	rc = v->s->ops->write_file(v->s, "ledger.head", head, hlen, false, err);
	free(head);
	if (rc != KCSI_OK)
		kcsi_error_prefix(err, "entry %llu was recorded but the ledger head was not updated",
				  (unsigned long long)a.seq);
	return rc;
}

/* a JSON string of s, escaped (kv_safe_text) when it is not UTF-8 text */
static json_t *text_json(const char *s)
{
	json_t *j = json_string(s);
	char *t;
	if (j || !s)
		return j;
	t = kv_safe_text(s);
	j = t ? json_string(t) : NULL;
	free(t);
	return j ? j : json_string("?");
}

void kv_problem(json_t *probs, const char *where, const char *id, const char *fmt, ...)
{
	char msg[1200];
	json_t *p;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p = json_object();
	json_object_set_new(p, "where", text_json(where));
	if (id)
		json_object_set_new(p, "id", text_json(id));
	json_object_set_new(p, "problem", text_json(msg));
	json_array_append_new(probs, p);
}

/* the head: the ledger must hold the entry it records (removal at the end) */
static void check_head(kcsi_vault *v, const kv_ledger_raw *raw, json_t *probs)
{
	size_t n = json_array_size(raw->lines);
	const char *why;
	json_t *hj;

	if (raw->head_rc == KCSI_ERR_NOTFOUND) {
		if (n > 1)
			kv_problem(probs, "ledger.head", NULL, "missing (the ledger cannot be checked for removal at the end)");
		return;
	}
	if (raw->head_rc != KCSI_OK) {
		kv_problem(probs, "ledger.head", NULL, "%s", raw->head_why);
		return;
	}
	hj = json_loadb(raw->head.data ? raw->head.data : "", raw->head.len, JSON_REJECT_DUPLICATES, NULL);
	if (!hj || check_sig(HEAD_CTX, raw->head.data, raw->head.len, v->pk, &why) != 0) {
		kv_problem(probs, "ledger.head", NULL, "%s", hj ? why : "not JSON (damaged)");
	} else {
		json_int_t hs = json_integer_value(json_object_get(hj, "seq"));
		const char *hh = json_string_value(json_object_get(hj, "hash"));
		json_t *hl = hs > 0 && (uint64_t)hs <= n ? json_array_get(raw->lines, (size_t)hs - 1) : NULL;
		if (hs > 0 && (uint64_t)hs > n) {
			kv_problem(probs, "ledger.head", NULL,
				"the head records entry %lld but the ledger has %zu lines: entries were removed from the end",
				(long long)hs, n);
		} else if (hl) {
			unsigned char h[32];
			char hx[65];
			if (json_is_string(hl)) {
				kcsi_sha256(json_string_value(hl), json_string_length(hl), h);
				kcsi_hex(h, 32, hx);
			} else {
				snprintf(hx, sizeof(hx), "%s", json_string_value(json_object_get(hl, "sha256")));
			}
			if (!hh || strcmp(hh, hx) != 0)
				kv_problem(probs, "ledger.head", NULL, "the head's hash of entry %lld does not match that line",
					(long long)hs);
		}
	}
	json_decref(hj);
}

/* the committed seq in the head, 0 when there is none */
static uint64_t head_seq(const kv_ledger_raw *raw)
{
	json_t *hj;
	json_int_t hs;
	if (raw->head_rc != KCSI_OK)
		return 0;
	hj = json_loadb(raw->head.data ? raw->head.data : "", raw->head.len, 0, NULL);
	hs = json_integer_value(json_object_get(hj, "seq"));
	json_decref(hj);
	return hs > 0 ? (uint64_t)hs : 0;
}

kcsi_code kv_ledger_load(kcsi_vault *v, json_t *probs, kcsi_error *err)
{
	json_t *own = probs ? NULL : json_array();
	kv_ledger_raw raw;
	kcsi_code rc;
	char prev_hash[65];
	uint64_t prev_seq = 0;
	size_t i, n;
	json_t *l;

	if (!probs)
		probs = own;
	json_decref(v->entries);
	json_decref(v->lines);
	v->entries = json_array();
	v->lines = NULL;
	v->loaded = false;
	memset(&raw, 0, sizeof(raw));
	kcsi_buf_init(&raw.head, 1 << 16);
	rc = v->s->ops->ledger_read(v->s, &raw, err);
	if (rc != KCSI_OK) {
		kv_ledger_raw_free(&raw);
		json_decref(own);
		return rc;
	}
	n = json_array_size(raw.lines);
	if (raw.torn) {
		char where[96];
		v->s->ops->ledger_where(v->s, n - 1, where, sizeof(where));
		if (!v->s->lock_held && n > head_seq(&raw)) {
			/* read without the lock: an append in progress, not yet committed by the head */
			json_array_remove(raw.lines, --n);
		} else {
			kv_problem(probs, where, NULL, "the last line is incomplete (no newline): a writer died while appending it, "
				"or the ledger was cut (remove the partial line once checked)");
		}
	}
	memset(prev_hash, '0', 64);
	prev_hash[64] = '\0';
	json_array_foreach(raw.lines, i, l) {
		const char *line = json_string_value(l), *why = NULL;
		size_t len = json_string_length(l);
		char where[96], msg[512] = "";
		json_t *e = NULL;
		uint64_t seq;

		v->s->ops->ledger_where(v->s, i, where, sizeof(where));
		if (!line) {
			snprintf(msg, sizeof(msg), "a line of %lld bytes, longer than any entry (%u bytes): not read",
				 (long long)json_integer_value(json_object_get(l, "length")), KV_LINE_MAX);
			seq = prev_seq + 1;
		} else if (!(e = kv_line_check(line, len, v->pk, &why))) {
			snprintf(msg, sizeof(msg), "%s", why);
			seq = prev_seq + 1;
		} else {
			const char *prev = json_string_value(json_object_get(e, "prev"));
			seq = (uint64_t)json_integer_value(json_object_get(e, "seq"));
			if (seq == prev_seq + 1)
				;
			else if (seq <= prev_seq)
				snprintf(msg, sizeof(msg), "entry %llu comes after entry %llu (entries reordered or duplicated)",
					 (unsigned long long)seq, (unsigned long long)prev_seq);
			else if (seq == prev_seq + 2)
				snprintf(msg, sizeof(msg), "entry %llu is missing before this line (removed)",
					 (unsigned long long)prev_seq + 1);
			else
				snprintf(msg, sizeof(msg), "entries %llu to %llu are missing before this line (removed)",
					 (unsigned long long)prev_seq + 1, (unsigned long long)seq - 1);
			if (strcmp(prev, prev_hash) != 0) {
				size_t ml = strlen(msg);
				snprintf(msg + ml, sizeof(msg) - ml, "%sits prev hash does not match the line before it "
					 "(a line was changed, removed, inserted or reordered)", ml ? "; " : "");
			}
			json_array_append(v->entries, e);
		}
		if (msg[0]) {
			char w2[160];
			snprintf(w2, sizeof(w2), "%s (entry %llu)", where, (unsigned long long)seq);
			kv_problem(probs, w2, e ? json_string_value(json_object_get(e, "id")) : NULL, "%s", msg);
		}
		json_decref(e);
		if (line) {
			unsigned char h[32];
			kcsi_sha256(line, len, h);
			kcsi_hex(h, 32, prev_hash);
		} else {
			snprintf(prev_hash, sizeof(prev_hash), "%s", json_string_value(json_object_get(l, "sha256")));
		}
		prev_seq = seq;
	}
	v->last_seq = prev_seq;
	memcpy(v->last_hash, prev_hash, sizeof(prev_hash));
	check_head(v, &raw, probs);
	{
		const char *name;
		json_array_foreach(raw.stray, i, l)
			if ((name = json_string_value(l)))
				kv_problem(probs, name, NULL, "in the ledger's place but not a ledger entry (added to the store)");
	}
	if (n == 0)
		kv_problem(probs, "ledger", NULL, "empty (the \"created\" entry is missing)");
	kv_config_check(v, probs);
	v->lines = raw.lines;
	raw.lines = NULL;
	kv_ledger_raw_free(&raw);
	v->loaded = true;
	v->load_gen = v->s->lock_gen;
	rc = KCSI_OK;
	if (own) {
		if (json_array_size(own) > 0) {
			json_t *p0 = json_array_get(own, 0);
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: %s: %s (run kcsi vault verify)", v->store,
					    json_string_value(json_object_get(p0, "where")),
					    json_string_value(json_object_get(p0, "problem")));
			v->loaded = false;
		}
		json_decref(own);
	}
	return rc;
}

/* ---- writers: load, decide, append ---- */

#define LOST_RACES_MAX 64

kcsi_code kv_ledger_record(kcsi_vault *v, kv_decide_fn decide, void *ctx, uint64_t *seq, kcsi_error *err)
{
	for (unsigned attempt = 0;; attempt++) {
		kv_entry_in in;
		bool lost = false;
		kcsi_code rc = KCSI_OK;
		/* loaded since this writer took the lock: under a directory store's
		 * lock nobody else appends; on S3 a stale load loses the race */
		bool fresh = v->loaded && v->s->lock_held == 1 + KV_LOCK_EXCLUSIVE && v->load_gen == v->s->lock_gen;
		if (!fresh)
			rc = kv_ledger_load(v, NULL, err);
		memset(&in, 0, sizeof(in));
		if (rc == KCSI_OK)
			rc = decide(v, ctx, &in, err);
		if (rc != KCSI_OK || !in.action)
			return rc;
		rc = kv_ledger_append(v, &in, seq, &lost, err);
		if (!lost)
			return rc;
		v->loaded = false;
		if (attempt + 1 >= LOST_RACES_MAX)
			return kcsi_error_set(err, KCSI_ERR_IO, "%s: other writers took the next ledger entry %u times in a row",
					      v->store, LOST_RACES_MAX);
		/* back off a random while, growing, before reloading */
		{
			unsigned ms = 5 + randombytes_uniform(10u * (attempt < 20 ? attempt + 1 : 20));
			struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
}

/* ---- vault.json against its signed copy ---- */

static void value_text(json_t *j, char *buf, size_t cap)
{
	char *t = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	snprintf(buf, cap, "%s", t ? t : "absent");
	if (t && strlen(t) >= cap && cap > 4)
		memcpy(buf + cap - 4, "...", 4);
	free(t);
}

/* report each member of have that differs from want, by its dotted path */
static void config_diff(json_t *probs, const char *path, json_t *have, json_t *want, const char *whence)
{
	const char *k;
	json_t *x;
	char sub[256], a[120], b[120];
	if (json_is_object(have) && json_is_object(want)) {
		json_object_foreach(have, k, x) {
			snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", k);
			config_diff(probs, sub, x, json_object_get(want, k), whence);
		}
		json_object_foreach(want, k, x)
			if (!json_object_get(have, k)) {
				snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", k);
				config_diff(probs, sub, NULL, x, whence);
			}
		return;
	}
	if (have && want && json_equal(have, want))
		return;
	value_text(have, a, sizeof(a));
	value_text(want, b, sizeof(b));
	kv_problem(probs, "vault.json", NULL, "\"%s\" is %s; %s says %s (vault.json was changed)", path, a, whence, b);
}

void kv_config_check(kcsi_vault *v, json_t *probs)
{
	json_t *created = json_array_get(v->entries, 0), *want = NULL;
	const char *copy = json_string_value(json_object_get(created, "config"));
	const char *act = json_string_value(json_object_get(created, "action"));

	if (!created || !act || strcmp(act, "created") != 0 ||
	    json_integer_value(json_object_get(created, "seq")) != 1)
		return; /* the ledger's own problems say why */
	if (copy) {
		want = json_loads(copy, JSON_REJECT_DUPLICATES, NULL);
		if (!want)
			kv_problem(probs, "ledger.jsonl (entry 1)", NULL, "its copy of vault.json is not JSON");
		else
			config_diff(probs, "", v->conf, want, "the copy signed in the created entry");
		json_decref(want);
		return;
	}
	/* a vault made before the copy was kept: what can be told */
	want = json_pack("{s:s, s:i, s:O?, s:O?, s:I}", "format", "kcsi-vault", "version", 1, "vault_id",
			 json_object_get(created, "vault_id"), "public_key", json_object_get(created, "public_key"),
			 "chunk", (json_int_t)KV_CHUNK);
	if (want) {
		const char *k;
		json_t *x;
		json_object_foreach(want, k, x)
			config_diff(probs, k, json_object_get(v->conf, k), x, "the vault's format and created entry");
		json_decref(want);
	}
	{
		json_t *rd = json_object_get(v->conf, "retain_days");
		if (rd && (!json_is_integer(rd) || json_integer_value(rd) < 0 || json_integer_value(rd) > 36500))
			kv_problem(probs, "vault.json", NULL, "\"retain_days\" is not a number of days (vault.json was changed)");
	}
}
