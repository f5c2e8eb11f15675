/* kcsi vault — the ledger: append-only JSON lines, hash-chained and signed.
 *
 * A line is a JSON object written with fixed key order:
 *   {"seq": N, "time": T, "actor": A, "action": X, "id": ..., ..., "prev": H, "sig": S}
 * S is the Ed25519 signature (base64) of "kcsi-ledger-v1\n" followed by the
 * line with its `, "sig": "..."` member removed; H is the hex SHA-256 of the
 * previous line's bytes (64 zeros for the first).  ledger.head records the
 * last seq and hash, signed the same way, so that removing entries from the
 * end is seen too. */
#include <stdarg.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcsi/jsonw.h"
#include "vault_int.h"

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
	if (!p || len < 2 || line[len - 1] != '}' || line[len - 2] != '"') {
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
	if (!json_is_integer(json_object_get(j, "seq")) || !json_is_string(json_object_get(j, "action")) ||
	    !json_is_string(json_object_get(j, "prev")) || !json_is_string(json_object_get(j, "time"))) {
		json_decref(j);
		*why = "missing seq, time, action or prev";
		return NULL;
	}
	return j;
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

kcsi_code kv_ledger_append(kcsi_vault *v, const kv_entry_in *in, uint64_t *seq, kcsi_error *err)
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
	kv_now(now);
	line = compose(v, SIG_CTX, fill_entry, &a, &len);
	if (!line)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "composing a ledger entry: out of memory");
	parsed = kv_line_check(line, len, v->pk, &why);
	if (!parsed) {
		free(line);
		return kcsi_error_set(err, KCSI_ERR_GENERIC, "a new ledger entry does not check: %s", why);
	}
	rc = v->s->ops->ledger_append(v->s, a.seq, line, len, err);
	if (rc != KCSI_OK) {
		json_decref(parsed);
		free(line);
		return rc;
	}
	kv_sha256(line, len, h);
	kv_hex(h, 32, hash);
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

static void problem(json_t *probs, const char *where, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void problem(json_t *probs, const char *where, const char *id, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_array_append_new(probs, json_pack("{s:s, s:s?, s:s}", "where", where, "id", id, "problem", msg));
}

kcsi_code kv_ledger_load(kcsi_vault *v, json_t *probs, kcsi_error *err)
{
	json_t *lines = NULL, *own = probs ? NULL : json_array();
	kcsi_code rc;
	char prev_hash[65];
	uint64_t prev_seq = 0;
	size_t i;
	json_t *l;
	kcsi_buf hb;

	if (!probs)
		probs = own;
	json_decref(v->entries);
	v->entries = json_array();
	rc = v->s->ops->ledger_read(v->s, &lines, err);
	if (rc != KCSI_OK) {
		json_decref(own);
		return rc;
	}
	memset(prev_hash, '0', 64);
	prev_hash[64] = '\0';
	json_array_foreach(lines, i, l) {
		const char *line = json_string_value(l), *why = NULL;
		size_t len = json_string_length(l);
		char where[96], msg[512] = "";
		unsigned char h[32];
		json_t *e;
		uint64_t seq;

		v->s->ops->ledger_where(v->s, i, where, sizeof(where));
		e = kv_line_check(line, len, v->pk, &why);
		if (!e) {
			snprintf(msg, sizeof(msg), "%s", why);
			seq = prev_seq + 1;
		} else {
			const char *prev = json_string_value(json_object_get(e, "prev"));
			json_int_t s = json_integer_value(json_object_get(e, "seq"));
			seq = s > 0 ? (uint64_t)s : 0;
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
			json_decref(e);
		}
		if (msg[0]) {
			const char *id = e ? json_string_value(json_object_get(e, "id")) : NULL;
			char w2[160];
			snprintf(w2, sizeof(w2), "%s (entry %llu)", where, (unsigned long long)seq);
			problem(probs, w2, id, "%s", msg);
		}
		kv_sha256(line, len, h);
		kv_hex(h, 32, prev_hash);
		prev_seq = seq;
	}
	v->last_seq = prev_seq;
	memcpy(v->last_hash, prev_hash, sizeof(prev_hash));
	/* the head: truncation at the end */
	kcsi_buf_init(&hb, 1 << 16);
	rc = v->s->ops->read_file(v->s, "ledger.head", &hb, err);
	if (rc == KCSI_OK) {
		const char *why;
		json_t *hj = json_loadb(hb.data, hb.len, 0, NULL);
		if (!hj || check_sig(HEAD_CTX, hb.data, hb.len, v->pk, &why) != 0) {
			problem(probs, "ledger.head", NULL, "%s", hj ? why : "not JSON (damaged)");
		} else {
			uint64_t hs = (uint64_t)json_integer_value(json_object_get(hj, "seq"));
			const char *hh = json_string_value(json_object_get(hj, "hash"));
			if (hs > json_array_size(lines))
				problem(probs, "ledger.head", NULL,
					"the head records entry %llu but the ledger has %zu lines: entries were removed from the end",
					(unsigned long long)hs, json_array_size(lines));
			else if (hs > 0) {
				unsigned char h[32];
				char hx[65];
				json_t *hl = json_array_get(lines, hs - 1);
				kv_sha256(json_string_value(hl), json_string_length(hl), h);
				kv_hex(h, 32, hx);
				if (!hh || strcmp(hh, hx) != 0)
					problem(probs, "ledger.head", NULL,
						"the head's hash of entry %llu does not match that line",
						(unsigned long long)hs);
			}
		}
		json_decref(hj);
	} else if (rc == KCSI_ERR_NOTFOUND) {
		if (json_array_size(lines) > 1)
			problem(probs, "ledger.head", NULL, "missing (the ledger cannot be checked for removal at the end)");
		rc = KCSI_OK;
	} else {
		problem(probs, "ledger.head", NULL, "%s", err ? err->msg : "unreadable");
		rc = KCSI_OK;
	}
	kcsi_buf_free(&hb);
	if (json_array_size(lines) == 0)
		problem(probs, "ledger", NULL, "empty (the \"created\" entry is missing)");
	json_decref(lines);
	v->loaded = true;
	if (own) {
		if (json_array_size(own) > 0) {
			json_t *p0 = json_array_get(own, 0);
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: %s: %s (run kcsi vault verify)", v->store,
					    json_string_value(json_object_get(p0, "where")),
					    json_string_value(json_object_get(p0, "problem")));
		}
		json_decref(own);
	}
	return rc;
}
