/* kcsi vault — evidence read into a descriptor the caller owns (a memfd: the
 * plaintext never reaches a disk), verified against its recorded SHA-256 and
 * recorded in the custody ledger as an access with its reason; the analysis
 * reports attached to evidence, read back (the index `kcsi hunt --store`
 * answers known indicators from without decrypting the evidence). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "vault/vault_int.h"

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
