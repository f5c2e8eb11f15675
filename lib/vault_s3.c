/* kcsi vault — the S3 store.
 *
 * PREFIX/vault.json, PREFIX/ledger.head, PREFIX/ledger/NNNNNNNNNNNN.json (one
 * object per entry: S3 has no append), PREFIX/objects/XX/ID, PREFIX/reports/.
 * An object up to one part is a single PUT to its final key; a larger one is
 * a multipart upload to PREFIX/tmp/ followed by a server-side copy to its
 * final key, so that a crashed upload is never visible under objects/.  With
 * retain_days, objects and ledger entries are sent with object-lock
 * (COMPLIANCE) retention headers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3.h"

#define MAX_PARTS 10000

typedef struct s3_store {
	kv_store base;
	s3_conn c;
	uint64_t *seqs; /* seq of each line returned by the last ledger_read */
	size_t nseqs;
} s3_store;

struct kv_upload {
	s3_store *s;
	unsigned char *buf;
	size_t len, part_size;
	char tmpkey[96];
	char *upload_id;
	kcsi_buf etags; /* <Part>...</Part> list */
	int parts;
};

static void retention(s3_store *s, char *mode, char *until, size_t cap)
{
	time_t t = time(NULL) + (time_t)s->base.retain_days * 86400;
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(mode, cap, "x-amz-object-lock-mode: COMPLIANCE");
	strftime(until, cap, "x-amz-object-lock-retain-until-date: %Y-%m-%dT%H:%M:%SZ", &tm);
}

static kcsi_code put(s3_store *s, const char *name, const void *p, size_t n, const char *extra, kcsi_error *err)
{
	char mode[96], until[128];
	s3_req r = {.method = "PUT", .name = name, .body = p, .body_len = n, .err = err};
	int h = 0;
	if (s->base.retain_days) {
		retention(s, mode, until, sizeof(mode) < sizeof(until) ? sizeof(mode) : sizeof(until));
		r.headers[h++] = mode;
		r.headers[h++] = until;
		r.md5 = true;
	}
	if (extra)
		r.headers[h++] = extra;
	return s3_request(&s->c, &r);
}

static kcsi_code s_stat(kv_store *st, const char *key, uint64_t *size, kcsi_error *err)
{
	s3_store *s = (s3_store *)st;
	uint64_t len = 0;
	s3_req r = {.method = "HEAD", .name = key, .content_length = &len, .err = err};
	kcsi_code rc = s3_request(&s->c, &r);
	if (rc == KCSI_OK)
		*size = len;
	return rc;
}

static kcsi_code s_read_file(kv_store *st, const char *name, kcsi_buf *out, kcsi_error *err)
{
	s3_store *s = (s3_store *)st;
	s3_req r = {.method = "GET", .name = name, .response = out, .err = err};
	return s3_request(&s->c, &r);
}

static kcsi_code s_write_file(kv_store *st, const char *name, const void *p, size_t n, bool excl, kcsi_error *err)
{
	s3_store *s = (s3_store *)st;
	uint64_t sz;
	if (excl) {
		kcsi_code rc = s_stat(st, name, &sz, NULL);
		if (rc == KCSI_OK)
			return kcsi_error_set(err, KCSI_ERR_GENERIC, "%s/%s already exists", st->url, name);
	}
	/* If-None-Match: * makes the put conditional where the server supports it */
	return put(s, name, p, n, excl ? "If-None-Match: *" : NULL, err);
}

static size_t part_size(void)
{
	const char *e = getenv("KCSI_S3_PART_SIZE");
	uint64_t v;
	if (e && kcsi_parse_size(e, &v) == 0 && v >= (1u << 20) && v <= ((uint64_t)1 << 30))
		return (size_t)v;
	return (size_t)16 << 20;
}

static kcsi_code s_obj_begin(kv_store *st, kv_upload **out, kcsi_error *err)
{
	kv_upload *u = calloc(1, sizeof(*u));
	unsigned char rnd[12];
	char hex[25];
	if (!u)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	u->s = (s3_store *)st;
	u->part_size = part_size();
	u->buf = malloc(u->part_size);
	if (!u->buf) {
		free(u);
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	randombytes_buf(rnd, sizeof(rnd));
	kv_hex(rnd, sizeof(rnd), hex);
	snprintf(u->tmpkey, sizeof(u->tmpkey), "tmp/upload-%s", hex);
	kcsi_buf_init(&u->etags, (size_t)MAX_PARTS * 200);
	*out = u;
	return KCSI_OK;
}

static kcsi_code flush_part(kv_upload *u, kcsi_error *err)
{
	s3_store *s = u->s;
	char q[200], etag[256];
	kcsi_code rc;
	if (!u->upload_id) {
		kcsi_buf resp;
		/* no retention on the temporary object: it is deleted after the copy.
		 * "uploads=" and not "uploads": libcurl 7.88 signs the query as written,
		 * and SigV4 wants the "=" */
		s3_req r = {.method = "POST", .name = u->tmpkey, .query = "uploads=", .response = &resp, .err = err};
		kcsi_buf_init(&resp, 1 << 16);
		rc = s3_request(&s->c, &r);
		if (rc == KCSI_OK) {
			u->upload_id = s3_xml_text(resp.data ? resp.data : "", resp.len, "UploadId");
			if (!u->upload_id)
				rc = kcsi_error_set(err, KCSI_ERR_IO, "%s/%s: no UploadId in the server's answer", s->base.url,
						    u->tmpkey);
		}
		kcsi_buf_free(&resp);
		if (rc != KCSI_OK)
			return rc;
	}
	if (u->parts >= MAX_PARTS)
		return kcsi_error_set(err, KCSI_ERR_LIMIT, "more than %d parts: raise KCSI_S3_PART_SIZE", MAX_PARTS);
	u->parts++;
	snprintf(q, sizeof(q), "partNumber=%d&uploadId=%s", u->parts, u->upload_id);
	{
		s3_req r = {.method = "PUT", .name = u->tmpkey, .query = q, .body = u->buf, .body_len = u->len, .err = err};
		rc = s3_request(&s->c, &r);
		if (rc != KCSI_OK)
			return rc;
		if (!r.etag[0])
			return kcsi_error_set(err, KCSI_ERR_IO, "%s/%s: part %d: no ETag in the server's answer", s->base.url,
					      u->tmpkey, u->parts);
		/* the ETags go back in the completion request */
		snprintf(etag, sizeof(etag), "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", u->parts, r.etag);
		kcsi_buf_add(&u->etags, etag, strlen(etag));
	}
	u->len = 0;
	return KCSI_OK;
}

static kcsi_code s_obj_write(kv_upload *u, const void *p, size_t n, kcsi_error *err)
{
	const unsigned char *c = p;
	while (n) {
		size_t take = u->part_size - u->len;
		if (take > n)
			take = n;
		memcpy(u->buf + u->len, c, take);
		u->len += take;
		c += take;
		n -= take;
		if (u->len == u->part_size) {
			kcsi_code rc = flush_part(u, err);
			if (rc != KCSI_OK)
				return rc;
		}
	}
	return KCSI_OK;
}

static void s_obj_abort(kv_upload *u)
{
	if (!u)
		return;
	if (u->upload_id) {
		char q[160];
		s3_req r = {.method = "DELETE", .name = u->tmpkey, .query = q};
		snprintf(q, sizeof(q), "uploadId=%s", u->upload_id);
		s3_request(&u->s->c, &r);
	}
	free(u->upload_id);
	free(u->buf);
	kcsi_buf_free(&u->etags);
	free(u);
}

static kcsi_code s_obj_commit(kv_upload *u, const char *key, bool *existed, kcsi_error *err)
{
	s3_store *s = u->s;
	uint64_t sz;
	kcsi_code rc;

	*existed = s_stat(&s->base, key, &sz, NULL) == KCSI_OK;
	if (!u->upload_id) {
		rc = *existed ? KCSI_OK : put(s, key, u->buf, u->len, NULL, err);
		s_obj_abort(u);
		return rc;
	}
	if (u->len && (rc = flush_part(u, err)) != KCSI_OK)
		goto out;
	{
		char q[160];
		kcsi_buf body;
		s3_req r = {.method = "POST", .name = u->tmpkey, .query = q, .err = err};
		kcsi_buf_init(&body, (size_t)MAX_PARTS * 200 + 100);
		kcsi_buf_add(&body, "<CompleteMultipartUpload>", 25);
		kcsi_buf_add(&body, u->etags.data, u->etags.len);
		kcsi_buf_add(&body, "</CompleteMultipartUpload>", 26);
		snprintf(q, sizeof(q), "uploadId=%s", u->upload_id);
		r.body = body.data;
		r.body_len = body.len;
		rc = s3_request(&s->c, &r);
		kcsi_buf_free(&body);
		if (rc != KCSI_OK)
			goto out;
		free(u->upload_id);
		u->upload_id = NULL;
	}
	if (!*existed) {
		char *src = s3_key_path(&s->c, u->tmpkey), hdr[300], mode[96], until[128];
		s3_req r = {.method = "PUT", .name = key, .err = err};
		int h = 0;
		snprintf(hdr, sizeof(hdr), "x-amz-copy-source: %s", src ? src : "");
		free(src);
		r.headers[h++] = hdr;
		if (s->base.retain_days) {
			retention(s, mode, until, sizeof(mode));
			r.headers[h++] = mode;
			r.headers[h++] = until;
		}
		rc = s3_request(&s->c, &r);
	}
	{
		s3_req d = {.method = "DELETE", .name = u->tmpkey};
		s3_request(&s->c, &d);
	}
out:
	s_obj_abort(u);
	return rc;
}

static kcsi_code s_obj_read(kv_store *st, const char *key, kv_sink sink, void *ctx, kcsi_error *err)
{
	s3_store *s = (s3_store *)st;
	s3_req r = {.method = "GET", .name = key, .sink = sink, .ctx = ctx, .err = err};
	return s3_request(&s->c, &r);
}

static kcsi_code s_obj_delete(kv_store *st, const char *key, kcsi_error *err)
{
	s3_store *s = (s3_store *)st;
	uint64_t sz;
	kcsi_code rc = s_stat(st, key, &sz, err);
	s3_req r = {.method = "DELETE", .name = key, .err = err};
	if (rc != KCSI_OK)
		return rc;
	return s3_request(&s->c, &r);
}

static void entry_name(uint64_t seq, char *buf, size_t cap)
{
	snprintf(buf, cap, "ledger/%012llu.json", (unsigned long long)seq);
}

static kcsi_code s_ledger_read(kv_store *st, json_t **lines, kcsi_error *err)
{
	s3_store *s = (s3_store *)st;
	uint64_t head = 0;
	kcsi_buf hb;
	kcsi_code rc;

	kcsi_buf_init(&hb, 1 << 16);
	if (s_read_file(st, "ledger.head", &hb, NULL) == KCSI_OK) {
		json_t *j = json_loadb(hb.data, hb.len, 0, NULL);
		json_int_t v = json_integer_value(json_object_get(j, "seq"));
		head = v > 0 ? (uint64_t)v : 0;
		json_decref(j);
	}
	kcsi_buf_free(&hb);
	*lines = json_array();
	free(s->seqs);
	s->seqs = NULL;
	s->nseqs = 0;
	/* entries 1..head must all be there; then any written after the head */
	for (uint64_t seq = 1;; seq++) {
		char name[64];
		kcsi_buf b;
		uint64_t *ns;
		entry_name(seq, name, sizeof(name));
		kcsi_buf_init(&b, 1 << 20);
		rc = s_read_file(st, name, &b, err);
		if (rc == KCSI_ERR_NOTFOUND) {
			kcsi_buf_free(&b);
			if (seq <= head)
				continue; /* a hole: the check reports the missing entry */
			rc = KCSI_OK;
			break;
		}
		if (rc != KCSI_OK) {
			kcsi_buf_free(&b);
			json_decref(*lines);
			return rc;
		}
		json_array_append_new(*lines, json_stringn_nocheck(b.data ? b.data : "", b.len));
		kcsi_buf_free(&b);
		ns = realloc(s->seqs, (s->nseqs + 1) * sizeof(*ns));
		if (ns) {
			s->seqs = ns;
			s->seqs[s->nseqs++] = seq;
		}
	}
	return KCSI_OK;
}

static kcsi_code s_ledger_append(kv_store *st, uint64_t seq, const char *line, size_t n, kcsi_error *err)
{
	s3_store *s = (s3_store *)st;
	char name[64];
	entry_name(seq, name, sizeof(name));
	return put(s, name, line, n, "If-None-Match: *", err);
}

static kcsi_code s_lock(kv_store *st, kcsi_error *err) { return KCSI_OK; }
static void s_unlock(kv_store *st) {}

static void s_close(kv_store *st)
{
	s3_store *s = (s3_store *)st;
	s3_free(&s->c);
	free(s->seqs);
	free(s->base.url);
	free(s);
}

static void s_where(kv_store *st, uint64_t index, char *buf, size_t cap)
{
	s3_store *s = (s3_store *)st;
	if (index < s->nseqs)
		entry_name(s->seqs[index], buf, cap);
	else
		snprintf(buf, cap, "ledger object %llu", (unsigned long long)index + 1);
}

static const struct kv_store_ops s3_ops = {
	s_read_file, s_write_file, s_obj_begin, s_obj_write, s_obj_commit, s_obj_abort, s_obj_read,
	s_stat, s_obj_delete, s_ledger_read, s_ledger_append, s_lock, s_unlock, s_close, s_where,
};

kcsi_code kv_s3_open(const char *url, bool create, kv_store **out, kcsi_error *err)
{
	s3_store *s = calloc(1, sizeof(*s));
	kcsi_code rc;
	if (!s)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	s->base.ops = &s3_ops;
	s->base.url = strdup(url);
	rc = s3_setup(&s->c, url, err);
	if (rc != KCSI_OK) {
		free(s->base.url);
		free(s);
		return rc;
	}
	(void)create; /* the bucket must exist; the prefix needs no creation */
	*out = &s->base;
	return KCSI_OK;
}
