/* kcsi vault — case bundles: export and offline verification.
 *
 * A bundle is a plain tar:
 *   MANIFEST.json   {format, version, id, sha256, size, name, case, exported,
 *                    exported_by, vault_id, public_key, files {member: sha256}}
 *   MANIFEST.sig    base64 Ed25519 signature of "kcsi-bundle-v1\n" + MANIFEST.json
 *   evidence.tar    the archive, decrypted and verified
 *   ledger.jsonl    the evidence's ledger lines, as signed in the vault
 *   reports/SEQ-SHA12.EXT  analysis reports attached to it: the ledger
 *                   sequence number of its "analysed" entry, the first 12 hex
 *                   digits of its sha256, and .json, .html or .txt by its
 *                   content; MANIFEST.json's "reports" lists each with its
 *                   full sha256, sequence number, time and note
 *   public_key.txt  the vault's Ed25519 public key (hex)
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vault/vault_int.h"

#define BUNDLE_CTX "kcsi-bundle-v1\n"
/* what verify-bundle reads into memory, and the largest member it hashes
 * besides the evidence (whose size the manifest gives) */
#define BUNDLE_LEDGER_MAX ((size_t)64 << 20)
#define BUNDLE_MANIFEST_MAX ((size_t)16 << 20)
#define BUNDLE_SIG_MAX ((size_t)4096)
#define BUNDLE_REPORT_MAX ((uint64_t)1 << 30)

struct tw {
	struct archive *a;
	EVP_MD_CTX *md;
};

/* a report's file name extension, by what it holds: analyze writes JSON,
 * HTML or text, and an analyst opening the bundle wants the right viewer */
static const char *report_ext(const char *p, size_t n)
{
	while (n && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
		p++;
		n--;
	}
	if (n && (*p == '{' || *p == '['))
		return "json";
	if (n >= 5 && (strncasecmp(p, "<!doc", 5) == 0 || strncasecmp(p, "<html", 5) == 0))
		return "html";
	return "txt";
}

/* the same report attached twice is exported once */
static bool report_listed(json_t *reports, const char *sha)
{
	size_t i;
	json_t *r;
	json_array_foreach(reports, i, r) {
		if (strcmp(json_string_value(json_object_get(r, "sha256")), sha) == 0)
			return true;
	}
	return false;
}

static kcsi_code tar_err(struct archive *a, const char *bundle, kcsi_error *err)
{
	return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", bundle, archive_error_string(a) ? archive_error_string(a) : "write error");
}

static int add_header(struct archive *a, const char *name, int64_t size)
{
	struct archive_entry *e = archive_entry_new();
	int r;
	archive_entry_set_pathname(e, name);
	archive_entry_set_size(e, size);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0400);
	archive_entry_set_mtime(e, time(NULL), 0);
	r = archive_write_header(a, e);
	archive_entry_free(e);
	return r;
}

static kcsi_code add_mem(struct archive *a, const char *bundle, const char *name, const void *p, size_t n,
			 json_t *files, kcsi_error *err)
{
	unsigned char h[32];
	char hex[65];
	if (add_header(a, name, (int64_t)n) != ARCHIVE_OK || (n && archive_write_data(a, p, n) != (la_ssize_t)n))
		return tar_err(a, bundle, err);
	if (files) {
		kcsi_sha256(p, n, h);
		kcsi_hex(h, 32, hex);
		json_object_set_new(files, name, json_string(hex));
	}
	return KCSI_OK;
}

static int to_tar(void *ctx, const unsigned char *p, size_t n, kcsi_error *err)
{
	struct tw *t = ctx;
	if (archive_write_data(t->a, p, n) != (la_ssize_t)n)
		return kcsi_error_set(err, KCSI_ERR_IO, "writing the bundle: %s", archive_error_string(t->a));
	return 0;
}

struct mem {
	kcsi_buf *b;
};

static int to_mem(void *ctx, const unsigned char *p, size_t n, kcsi_error *err)
{
	struct mem *m = ctx;
	if (kcsi_buf_add(m->b, p, n) != 0)
		return kcsi_error_set(err, KCSI_ERR_LIMIT, "a report is too large");
	return 0;
}

kcsi_code kcsi_vault_export(kcsi_vault *v, const char *id, const char *bundle, const char *reason, kcsi_error *err)
{
	struct archive *a = NULL;
	json_t *ing = NULL, *files = json_object(), *man = NULL, *l;
	kcsi_buf led, mb;
	char key[160], *tmp = NULL, *mtext = NULL, now[40];
	kcsi_code rc;
	size_t i;
	uint64_t size;
	int tmpfd = -1;

	kcsi_buf_init(&led, BUNDLE_LEDGER_MAX);
	if (access(bundle, F_OK) == 0) {
		json_decref(files);
		return kcsi_error_set(err, KCSI_ERR_USAGE, "%s exists; kcsi does not overwrite", bundle);
	}
	if ((rc = kv_ensure_loaded(v, err)) || (rc = kv_need_key(v, err)) || (rc = kv_need_secret(v, err)))
		goto out;
	if ((rc = v->s->ops->lock(v->s, KV_LOCK_EXCLUSIVE, err)) != KCSI_OK)
		goto out;
	{
		kv_entry_in in = {.action = "exported", .id = id, .sha256 = id, .reason = reason, .detail = bundle};
		rc = kv_ledger_record(v, kv_decide_held, &in, NULL, err);
	}
	/* this evidence's lines, as stored (the lines loaded and appended under the lock) */
	json_array_foreach(rc == KCSI_OK ? v->lines : NULL, i, l) {
		const char *why;
		json_t *e = json_is_string(l) ? kv_line_check(json_string_value(l), json_string_length(l), v->pk, &why) : NULL;
		const char *eid = e ? json_string_value(json_object_get(e, "id")) : NULL;
		if (eid && !strcmp(eid, id) &&
		    (kcsi_buf_add(&led, json_string_value(l), json_string_length(l)) != 0 || kcsi_buf_addc(&led, '\n') != 0))
			rc = kcsi_error_set(err, KCSI_ERR_LIMIT, "evidence %s: its ledger lines are too many for a bundle", id);
		json_decref(e);
	}
	v->s->ops->unlock(v->s);
	if (rc != KCSI_OK)
		goto out;
	kv_state(v, id, &ing);
	tmp = malloc(strlen(bundle) + 16);
	if (!tmp) {
		rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* a new file of this process (never one already there, nor a link's target) */
	sprintf(tmp, "%s.kcsi-XXXXXX", bundle);
	if ((tmpfd = mkstemp(tmp)) < 0) {
		rc = kcsi_error_set(err, KCSI_ERR_IO, "creating %s: %s", tmp, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (archive_write_open_fd(a, tmpfd) != ARCHIVE_OK) {
		rc = tar_err(a, tmp, err);
		goto out;
	}
	/* the evidence, decrypted and checked on the way */
	size = (uint64_t)json_integer_value(json_object_get(ing, "size"));
	if (add_header(a, "evidence.tar", (int64_t)size) != ARCHIVE_OK) {
		rc = tar_err(a, tmp, err);
		goto out;
	}
	{
		struct tw t = {a, NULL};
		uint64_t got = 0;
		kv_obj_key(id, key, sizeof(key));
		rc = kv_decrypt_obj(v, key, id, to_tar, &t, &got, err);
		if (rc == KCSI_OK && got != size)
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "evidence %s: %llu bytes, the ledger says %llu", id,
					    (unsigned long long)got, (unsigned long long)size);
		if (rc != KCSI_OK)
			goto out;
		json_object_set_new(files, "evidence.tar", json_string(id));
	}
	if ((rc = add_mem(a, tmp, "ledger.jsonl", led.data ? led.data : "", led.len, files, err)))
		goto out;
	if ((rc = add_mem(a, tmp, "public_key.txt", v->pk_hex, strlen(v->pk_hex), files, err)))
		goto out;
	/* reports */
	{
		json_t *e, *reports = json_array();
		if (!reports) {
			rc = kv_nomem(err);
			goto out;
		}
		json_object_set_new(files, "", reports); /* moved to the manifest below */
		json_array_foreach(v->entries, i, e) {
			const char *eid = json_string_value(json_object_get(e, "id"));
			const char *rs = json_string_value(json_object_get(e, "report_sha256"));
			char rkey[256], mname[100];
			kcsi_buf rb;
			struct mem m = {&rb};
			if (!eid || !rs || strcmp(eid, id) != 0)
				continue;
			if (!kv_is_id(rs) || report_listed(reports, rs))
				continue;
			snprintf(rkey, sizeof(rkey), "reports/%s/%s", id, rs);
			kcsi_buf_init(&rb, (size_t)1 << 30);
			rc = kv_decrypt_obj(v, rkey, rs, to_mem, &m, NULL, err);
			if (rc == KCSI_OK) {
				json_int_t seq = json_integer_value(json_object_get(e, "seq"));
				snprintf(mname, sizeof(mname), "reports/%lld-%.12s.%s", (long long)seq, rs,
					 report_ext(rb.data, rb.len));
				rc = add_mem(a, tmp, mname, rb.data ? rb.data : "", rb.len, files, err);
			}
			if (rc == KCSI_OK) {
				json_t *r = json_pack("{s:s, s:s, s:I, s:O?}", "member", mname, "sha256", rs, "seq",
						      json_integer_value(json_object_get(e, "seq")), "time",
						      json_object_get(e, "time"));
				if (r && json_object_get(e, "note"))
					json_object_set(r, "note", json_object_get(e, "note"));
				if (json_array_append_new(reports, r) != 0)
					rc = kv_nomem(err);
			}
			kcsi_buf_free(&rb);
			if (rc != KCSI_OK)
				goto out;
		}
	}
	kcsi_rfc3339_now(now, sizeof(now), 6);
	{
		json_t *reports = json_incref(json_object_get(files, ""));
		json_object_del(files, "");
		man = json_pack("{s:s, s:i, s:s, s:s, s:I, s:O?, s:O?, s:s, s:s, s:O?, s:s, s:O, s:o}", "format",
				"kcsi-bundle", "version", 1, "id", id, "sha256", id, "size", (json_int_t)size, "name",
				json_object_get(ing, "name"), "case", json_object_get(ing, "case"), "exported", now,
				"exported_by", v->actor, "vault_id", json_object_get(v->conf, "vault_id"), "public_key",
				v->pk_hex, "files", files, "reports", reports);
	}
	mtext = json_dumps(man, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!mtext) {
		rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = add_mem(a, tmp, "MANIFEST.json", mtext, strlen(mtext), NULL, err)))
		goto out;
	{
		unsigned char sig[crypto_sign_BYTES];
		char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL) + 1];
		size_t cl = strlen(BUNDLE_CTX), ml = strlen(mtext);
		kcsi_buf_init(&mb, (size_t)1 << 30);
		kcsi_buf_add(&mb, BUNDLE_CTX, cl);
		kcsi_buf_add(&mb, mtext, ml);
		crypto_sign_detached(sig, NULL, (unsigned char *)mb.data, mb.len, v->sk);
		kcsi_buf_free(&mb);
		sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
		strcat(b64, "\n");
		if ((rc = add_mem(a, tmp, "MANIFEST.sig", b64, strlen(b64), NULL, err)))
			goto out;
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		rc = tar_err(a, tmp, err);
		goto out;
	}
	if (link(tmp, bundle) != 0 && (errno == EEXIST || rename(tmp, bundle) != 0))
		rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", bundle, strerror(errno));
out:
	if (a)
		archive_write_free(a);
	if (tmpfd >= 0)
		close(tmpfd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	free(mtext);
	json_decref(man);
	json_decref(files);
	kcsi_buf_free(&led);
	return rc;
}

/* the bound on a member's size before anything is hashed or kept */
static uint64_t member_max(const char *name)
{
	if (!strcmp(name, "MANIFEST.json"))
		return BUNDLE_MANIFEST_MAX;
	if (!strcmp(name, "MANIFEST.sig") || !strcmp(name, "public_key.txt"))
		return BUNDLE_SIG_MAX;
	if (!strcmp(name, "ledger.jsonl"))
		return BUNDLE_LEDGER_MAX;
	if (!strcmp(name, "evidence.tar"))
		return UINT64_MAX; /* the manifest says (checked before it is hashed) */
	return BUNDLE_REPORT_MAX;
}

static struct archive *bundle_open(const char *bundle, kcsi_error *err)
{
	struct archive *a = archive_read_new();
	if (!a) {
		kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		return NULL;
	}
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, bundle, 1 << 16) != ARCHIVE_OK) {
		kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", bundle, archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* hash (and keep, when keep is not NULL) a member's data; -1 on a read error */
static int hash_member(struct archive *a, kcsi_buf *keep, char hex[65])
{
	unsigned char buf[1 << 16], h[32];
	unsigned int hl = 32;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	la_ssize_t n;
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(md);
		return -1;
	}
	while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
		EVP_DigestUpdate(md, buf, (size_t)n);
		if (keep && kcsi_buf_add(keep, buf, (size_t)n) != 0)
			n = -1; /* cannot happen: the size was checked */
	}
	EVP_DigestFinal_ex(md, h, &hl);
	EVP_MD_CTX_free(md);
	kcsi_hex(h, 32, hex);
	return n < 0 ? -1 : 0;
}

/* What the checks learn about a bundle as they go. */
struct bcheck {
	const char *bundle;
	json_t *probs, *hashes, *members, *man;
	kcsi_buf mtext, msig, led;
	unsigned char pk[32];
	const char *id;
	uint64_t size, evsize;
	size_t nent;
	bool have_ev;
};

/* pass 1: the headers, and the small members kept (manifest, signature,
 * ledger); a member that is not a regular file, is sparse, or claims more
 * than its bound or than the bundle holds is refused */
static void pass_headers(struct bcheck *b, struct archive *a)
{
	struct archive_entry *ae;
	int r;
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		char *name = kv_safe_text(archive_entry_pathname(ae) ? archive_entry_pathname(ae) : "");
		int64_t size = archive_entry_size(ae), pos = archive_read_header_position(a);
		kcsi_buf *keep = NULL;
		bool refused = true;
		char hex[65];
		if (!name)
			break;
		if (json_object_get(b->members, name))
			kv_problem(b->probs, name, NULL, "appears twice in the bundle");
		else if (archive_entry_filetype(ae) != AE_IFREG || archive_entry_hardlink(ae))
			kv_problem(b->probs, name, NULL, "not a regular file: refused");
		else if (archive_entry_sparse_count(ae) > 0)
			kv_problem(b->probs, name, NULL, "a sparse member (it claims %lld bytes, few of them stored): refused",
				   (long long)size);
		else if (!archive_entry_size_is_set(ae) || size < 0 || (uint64_t)size > member_max(name))
			kv_problem(b->probs, name, NULL, "%lld bytes, more than such a member may hold: refused", (long long)size);
		else if (pos < 0 || !kcsi_fits((uint64_t)pos, (uint64_t)size, b->size))
			kv_problem(b->probs, name, NULL, "claims %lld bytes, more than the bundle holds: refused", (long long)size);
		else
			refused = false;
		if (!refused) {
			keep = !strcmp(name, "MANIFEST.json") ? &b->mtext : !strcmp(name, "MANIFEST.sig") ? &b->msig
							     : !strcmp(name, "ledger.jsonl") ? &b->led : NULL;
			if (keep && hash_member(a, keep, hex) != 0) {
				kv_problem(b->probs, name, NULL, "unreadable: %s", archive_error_string(a));
				free(name);
				break;
			}
			if (keep)
				json_object_set_new(b->hashes, name, json_string(hex));
		}
		if (!strcmp(name, "evidence.tar") && !json_object_get(b->members, name)) {
			b->evsize = size > 0 ? (uint64_t)size : 0;
			b->have_ev = true;
		}
		if (!json_object_get(b->members, name))
			json_object_set_new(b->members, name,
					    json_pack("{s:I, s:b}", "size", (json_int_t)(size > 0 ? size : 0), "refused", refused));
		free(name);
	}
	if (r != ARCHIVE_EOF && r != ARCHIVE_OK)
		kv_problem(b->probs, b->bundle, NULL, "not a complete tar: %s", archive_error_string(a));
}

/* the manifest: JSON, the key it names (the expected one), its signature,
 * and the evidence's size as the manifest gives it; false when the checks
 * cannot go on */
static bool check_manifest(struct bcheck *b, const char *pubkey_hex)
{
	b->man = b->mtext.len ? json_loadb(b->mtext.data, b->mtext.len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	if (!b->man || !json_is_object(b->man)) {
		kv_problem(b->probs, "MANIFEST.json", NULL, "%s", b->mtext.len ? "not a JSON object" : "missing");
		return false;
	}
	b->id = json_string_value(json_object_get(b->man, "id"));
	const char *mpk = json_string_value(json_object_get(b->man, "public_key"));
	if (!mpk || kv_unhex(mpk, b->pk, 32) != 0) {
		kv_problem(b->probs, "MANIFEST.json", NULL, "no public key");
		return false;
	}
	if (pubkey_hex && strcasecmp(pubkey_hex, mpk) != 0) {
		kv_problem(b->probs, "MANIFEST.json", NULL, "signed by %s, not the expected key %.64s", mpk, pubkey_hex);
		return false;
	}
	unsigned char sig[crypto_sign_BYTES];
	size_t sl = 0, cl = strlen(BUNDLE_CTX);
	unsigned char *m = malloc(cl + b->mtext.len);
	while (b->msig.len && (b->msig.data[b->msig.len - 1] == '\n'))
		b->msig.len--;
	if (!m || !b->msig.len ||
	    sodium_base642bin(sig, sizeof(sig), b->msig.data, b->msig.len, NULL, &sl, NULL, sodium_base64_VARIANT_ORIGINAL) !=
		    0 ||
	    sl != sizeof(sig)) {
		kv_problem(b->probs, "MANIFEST.sig", NULL, "missing or malformed");
	} else {
		memcpy(m, BUNDLE_CTX, cl);
		memcpy(m + cl, b->mtext.data, b->mtext.len);
		if (crypto_sign_verify_detached(sig, m, cl + b->mtext.len, b->pk) != 0)
			kv_problem(b->probs, "MANIFEST.sig", NULL,
				   "bad signature: MANIFEST.json was changed or signed by another key");
	}
	free(m);
	/* the evidence's size must be the manifest's before it is hashed */
	json_t *ev = json_object_get(b->members, "evidence.tar"), *msize = json_object_get(b->man, "size");
	if (ev && !json_is_true(json_object_get(ev, "refused")) &&
	    (!json_is_integer(msize) || json_integer_value(msize) != json_integer_value(json_object_get(ev, "size")))) {
		kv_problem(b->probs, "evidence.tar", NULL, "%lld bytes, the manifest says %lld: refused",
			   (long long)json_integer_value(json_object_get(ev, "size")), (long long)json_integer_value(msize));
		json_object_set_new(ev, "refused", json_true());
	}
	return true;
}

/* pass 2: hash the other members that passed */
static void pass_hashes(struct bcheck *b, struct archive *a)
{
	struct archive_entry *ae;
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		char *name = kv_safe_text(archive_entry_pathname(ae) ? archive_entry_pathname(ae) : "");
		json_t *m = name ? json_object_get(b->members, name) : NULL;
		char hex[65];
		if (!name)
			break;
		if (m && !json_is_true(json_object_get(m, "refused")) && !json_object_get(b->hashes, name)) {
			if (hash_member(a, NULL, hex) != 0) {
				kv_problem(b->probs, name, NULL, "unreadable: %s", archive_error_string(a));
				free(name);
				break;
			}
			json_object_set_new(b->hashes, name, json_string(hex));
		}
		free(name);
	}
}

/* every member against the manifest, the evidence against its id */
static void compare_manifest(struct bcheck *b)
{
	json_t *files = json_object_get(b->man, "files"), *val;
	const char *k;
	json_object_foreach(files, k, val) {
		json_t *got = json_object_get(b->hashes, k), *m = json_object_get(b->members, k);
		if (!m)
			kv_problem(b->probs, k, NULL, "listed in the manifest but missing from the bundle");
		else if (json_is_true(json_object_get(m, "refused")))
			; /* said already */
		else if (!got || !json_equal(got, val))
			kv_problem(b->probs, k, NULL, "SHA-256 %s, the manifest says %s (changed)",
				   got ? json_string_value(got) : "-", json_is_string(val) ? json_string_value(val) : "-");
	}
	json_object_foreach(b->members, k, val)
		if (strcmp(k, "MANIFEST.json") && strcmp(k, "MANIFEST.sig") && !json_object_get(files, k))
			kv_problem(b->probs, k, NULL, "in the bundle but not in the manifest (added)");
	if (!b->have_ev)
		kv_problem(b->probs, "evidence.tar", NULL, "missing");
	if (b->id && b->have_ev && !json_is_true(json_object_get(json_object_get(b->members, "evidence.tar"), "refused")) &&
	    (!json_object_get(b->hashes, "evidence.tar") ||
	     strcmp(b->id, json_string_value(json_object_get(b->hashes, "evidence.tar"))) != 0))
		kv_problem(b->probs, "evidence.tar", NULL, "its SHA-256 is not the evidence id %s", b->id);
}

/* the ledger lines: each signed, this id, in order, from ingest to export */
static void check_ledger(struct bcheck *b)
{
	uint64_t prev = 0;
	bool ingested = false, exported = false;
	for (size_t i = 0, ln = 1; i < b->led.len; ln++) {
		char *nl = memchr(b->led.data + i, '\n', b->led.len - i);
		size_t e = nl ? (size_t)(nl - b->led.data) : b->led.len;
		char where[64];
		const char *why;
		json_t *j = e - i <= KV_LINE_MAX ? kv_line_check(b->led.data + i, e - i, b->pk, &why) : NULL;
		snprintf(where, sizeof(where), "ledger.jsonl line %zu", ln);
		if (e - i > KV_LINE_MAX) {
			kv_problem(b->probs, where, NULL, "a line of %zu bytes, longer than any entry: not read", e - i);
		} else if (!j) {
			kv_problem(b->probs, where, NULL, "%s", why);
		} else {
			uint64_t seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));
			const char *act = json_string_value(json_object_get(j, "action"));
			const char *eid = json_string_value(json_object_get(j, "id"));
			if (!eid || !b->id || strcmp(eid, b->id) != 0)
				kv_problem(b->probs, where, NULL, "entry %llu is about other evidence", (unsigned long long)seq);
			if (seq <= prev)
				kv_problem(b->probs, where, NULL, "entry %llu comes after entry %llu (reordered)",
					   (unsigned long long)seq, (unsigned long long)prev);
			prev = seq;
			if (!strcmp(act, "ingested")) {
				ingested = true;
				if (json_integer_value(json_object_get(j, "size")) != (json_int_t)b->evsize)
					kv_problem(b->probs, where, NULL, "the ingested size is not the evidence's");
			}
			if (!strcmp(act, "exported"))
				exported = true;
			b->nent++;
		}
		json_decref(j);
		i = e + 1;
	}
	if (!ingested)
		kv_problem(b->probs, "ledger.jsonl", NULL, "no ingested entry for the evidence");
	if (!exported)
		kv_problem(b->probs, "ledger.jsonl", NULL, "no exported entry for the evidence");
}

/* Two passes over the bundle.  The first reads only the headers (and the
 * small members: manifest, signature, ledger), refusing a member that is
 * not a regular file, is sparse, or claims more bytes than its bound or than
 * the bundle holds.  The second hashes the members that passed, the
 * evidence only when its size is the one the manifest gives: the time spent
 * is bounded by the bundle's size on disk. */
kcsi_code kcsi_vault_verify_bundle(const char *bundle, const char *pubkey_hex, json_t **out, kcsi_error *err)
{
	struct bcheck b = {.bundle = bundle, .probs = json_array(), .hashes = json_object(), .members = json_object()};
	struct archive *a;
	struct stat st;
	kcsi_code rc = KCSI_OK;

	if (sodium_init() < 0)
		return kcsi_error_set(err, KCSI_ERR_GENERIC, "libsodium could not be initialised");
	kcsi_buf_init(&b.mtext, BUNDLE_MANIFEST_MAX);
	kcsi_buf_init(&b.msig, BUNDLE_SIG_MAX);
	kcsi_buf_init(&b.led, BUNDLE_LEDGER_MAX);
	if (stat(bundle, &st) != 0) {
		rc = kcsi_error_set(err, errno == ENOENT ? KCSI_ERR_NOTFOUND : KCSI_ERR_IO, "%s: %s", bundle, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = kcsi_error_set(err, KCSI_ERR_USAGE, "%s: not a regular file", bundle);
		goto out;
	}
	b.size = (uint64_t)st.st_size;
	if (!(a = bundle_open(bundle, err))) {
		rc = err ? err->code : KCSI_ERR_IO;
		goto out;
	}
	pass_headers(&b, a);
	archive_read_free(a);
	if (check_manifest(&b, pubkey_hex)) {
		if (!(a = bundle_open(bundle, err))) {
			rc = err ? err->code : KCSI_ERR_IO;
			goto out;
		}
		pass_hashes(&b, a);
		archive_read_free(a);
		compare_manifest(&b);
		check_ledger(&b);
	}
	*out = json_pack("{s:b, s:s?, s:s?, s:I, s:s?, s:I, s:O}", "ok", json_array_size(b.probs) == 0, "id", b.id,
			 "sha256", json_string_value(json_object_get(b.hashes, "evidence.tar")), "size", (json_int_t)b.evsize,
			 "public_key", b.man ? json_string_value(json_object_get(b.man, "public_key")) : NULL, "entries",
			 (json_int_t)b.nent, "problems", b.probs);
out:
	json_decref(b.man);
	json_decref(b.probs);
	json_decref(b.hashes);
	json_decref(b.members);
	kcsi_buf_free(&b.mtext);
	kcsi_buf_free(&b.msig);
	kcsi_buf_free(&b.led);
	return rc;
}
