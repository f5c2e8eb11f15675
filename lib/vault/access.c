/* kcsi vault — reading and changing held evidence: decrypt (into a file, or
 * into a descriptor the caller owns), purge, reports.  Evidence read into a descriptor the caller owns (a memfd: the
 * plaintext never reaches a disk), verified against its recorded SHA-256 and
 * recorded in the custody ledger as an access with its reason; the analysis
 * reports attached to evidence, read back (the index `kcsi hunt --store`
 * answers known indicators from without decrypting the evidence). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "kcsi/progress.h"
#include "vault/vault_int.h"

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
		return kv_nomem(err);
	}
	rc = v->s->ops->obj_read(v->s, key, feed, &s, err);
	if (rc == KCSI_OK && (rc = (kcsi_code)kv_dec_finish(&d, sha, &sz, err)) == KCSI_OK) {
		kcsi_hex(sha, 32, got);
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
		kcsi_progress_add((uint64_t)w);
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

	if ((rc = kv_text_ok("the reason", "reason", reason, err)) != KCSI_OK || (rc = kv_need_secret(v, err)) != KCSI_OK ||
	    (rc = kv_ensure_loaded(v, err)) != KCSI_OK || (rc = held(v, id, &ing, err)) != KCSI_OK)
		return rc;
	if (access(out_path, F_OK) == 0)
		return kcsi_error_set(err, KCSI_ERR_USAGE, "%s exists; kcsi does not overwrite", out_path);
	kv_obj_key(id, key, sizeof(key));
	tmp = malloc(strlen(out_path) + 16);
	if (!tmp)
		return kv_nomem(err);
	sprintf(tmp, "%s.kcsi-XXXXXX", out_path);
	f.fd = mkstemp(tmp);
	if (f.fd < 0) {
		rc = kcsi_error_set(err, KCSI_ERR_IO, "creating %s: %s", tmp, strerror(errno));
		free(tmp);
		return rc;
	}
	kcsi_progress_phase("reading the evidence", (uint64_t)json_integer_value(json_object_get(ing, "size")));
	rc = kv_decrypt_obj(v, key, id, to_file, &f, &size, err);
	kcsi_progress_done();
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

	if (!reason || !*reason) {
		kcsi_error_set(err, KCSI_ERR_USAGE, "a purge needs a reason");
		kcsi_error_param(err, "reason");
		return KCSI_ERR_USAGE;
	}
	if ((rc = kv_text_ok("the reason", "reason", reason, err)) != KCSI_OK || (rc = kv_need_secret(v, err)) != KCSI_OK)
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

	if ((rc = kv_text_ok("the note", "note", note, err)) || (rc = kv_ensure_loaded(v, err)) || (rc = kv_need_key(v, err)) ||
	    (rc = kv_need_secret(v, err)) || (rc = held(v, id, NULL, err)))
		return rc;
	out = malloc(KV_CHUNK_MAX_OUT);
	if (!out || kv_enc_start(&enc, v->key, hdr) != 0) {
		free(out);
		return kv_nomem(err);
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
	kcsi_hex(sha, 32, hex);
	snprintf(key, sizeof(key), "reports/%s/%s", id, hex);
	/* link it in and record it, both under the writers' lock */
	if ((rc = v->s->ops->lock(v->s, KV_LOCK_EXCLUSIVE, err)) != KCSI_OK)
		goto out;
	{
		json_t *extra = json_pack("{s:s, s:I}", "report_sha256", hex, "report_size", (json_int_t)len);
		struct report_rec r = {u, key, false, {.action = "analysed", .id = id, .sha256 = id, .note = note,
						       .extra = extra}};
		rc = extra ? kv_ledger_record(v, decide_report, &r, NULL, err) : kv_nomem(err);
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


static int to_fd(void *ctx, const unsigned char *p, size_t n, kcsi_error *err)
{
	int fd = *(int *)ctx;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return kcsi_error_set(err, KCSI_ERR_IO, "writing the decrypted evidence: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int to_buf(void *ctx, const unsigned char *p, size_t n, kcsi_error *err)
{
	if (kcsi_buf_add(ctx, p, n))
		return kcsi_error_set(err, KCSI_ERR_LIMIT, "a report over 256 MiB");
	return 0;
}

kcsi_code kcsi_vault_get_fd(kcsi_vault *v, const char *id, int fd, const char *reason, kcsi_error *err)
{
	char key[160];
	uint64_t size = 0;
	kcsi_code rc;
	int st;
	if (!reason || !*reason)
		return kcsi_error_set(err, KCSI_ERR_USAGE, "an access to evidence needs a reason");
	if ((rc = kv_need_secret(v, err)) != KCSI_OK || (rc = kv_ensure_loaded(v, err)) != KCSI_OK)
		return rc;
	if (!kv_is_id(id))
		return kcsi_error_set(err, KCSI_ERR_USAGE, "%.80s is not an evidence id", id);
	if ((st = kv_state(v, id, NULL)) != 1)
		return kcsi_error_set(err, KCSI_ERR_NOTFOUND, "evidence %s %s", id,
				      st == 2 ? "was purged" : "is not in the vault");
	kv_obj_key(id, key, sizeof(key));
	if ((rc = kv_decrypt_obj(v, key, id, to_fd, &fd, &size, err)) != KCSI_OK) {
		kcsi_error_prefix(err, "evidence %.16s", id);
		return rc;
	}
	if ((rc = v->s->ops->lock(v->s, KV_LOCK_EXCLUSIVE, err)) != KCSI_OK)
		return rc;
	kv_entry_in in = {.action = "accessed", .id = id, .sha256 = id, .size = size, .has_size = true, .reason = reason};
	rc = kv_ledger_record(v, kv_decide_held, &in, NULL, err);
	v->s->ops->unlock(v->s);
	return rc;
}

kcsi_code kcsi_vault_report_get(kcsi_vault *v, const char *id, const char *report_sha256, char **data, size_t *len,
				kcsi_error *err)
{
	char key[200];
	kcsi_buf b;
	kcsi_code rc;
	*data = NULL;
	*len = 0;
	if (!kv_is_id(id) || !kv_is_id(report_sha256))
		return kcsi_error_set(err, KCSI_ERR_USAGE, "not an evidence or report id");
	if ((rc = kv_ensure_loaded(v, err)) != KCSI_OK)
		return rc;
	snprintf(key, sizeof(key), "reports/%s/%s", id, report_sha256);
	kcsi_buf_init(&b, 256u << 20); /* a report is small; a huge one is not read */
	rc = kv_decrypt_obj(v, key, report_sha256, to_buf, &b, NULL, err);
	if (rc != KCSI_OK) {
		kcsi_buf_free(&b);
		return rc;
	}
	*len = b.len;
	kcsi_buf_str(&b); /* NUL-terminated */
	*data = b.data ? b.data : strdup("");
	return *data ? KCSI_OK : kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
}

kcsi_code kcsi_vault_note_access(kcsi_vault *v, const char *id, const char *reason, kcsi_error *err)
{
	kcsi_code rc;
	if (!reason || !*reason)
		return kcsi_error_set(err, KCSI_ERR_USAGE, "an access to evidence needs a reason");
	if ((rc = kv_need_secret(v, err)) != KCSI_OK || (rc = v->s->ops->lock(v->s, KV_LOCK_EXCLUSIVE, err)) != KCSI_OK)
		return rc;
	kv_entry_in in = {.action = "accessed", .id = id, .sha256 = id, .reason = reason};
	rc = kv_ledger_record(v, kv_decide_held, &in, NULL, err);
	v->s->ops->unlock(v->s);
	return rc;
}
