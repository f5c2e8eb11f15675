/* kcsi vault — the S3 store.
 *
 * PREFIX/vault.json, PREFIX/ledger.head, PREFIX/ledger/NNNNNNNNNNNN.json (one
 * object per entry: S3 has no append), PREFIX/objects/XX/ID, PREFIX/reports/.
 * An object up to one part is a single PUT to its final key; a larger one is
 * a multipart upload to PREFIX/tmp/ followed by a server-side copy to its
 * final key, so that a crashed upload is never visible under objects/.  With
 * retain_days, objects and ledger entries are sent with object-lock
 * (COMPLIANCE) retention headers.
 *
 * There is no lock: a ledger entry is written with If-None-Match: *, so of
 * two writers that want the same seq one gets 412 (or 409) and reloads (see
 * kv_ledger_record).  The ledger is read from a listing of ledger/, after
 * ledger.head. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vault/s3.h"

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
	char t[KCSI_TIME_MAX];
	kcsi_rfc3339(t, sizeof(t), (int64_t)time(NULL) + (int64_t)s->base.retain_days * 86400, 0, 0);
	snprintf(mode, cap, "x-amz-object-lock-mode: COMPLIANCE");
	snprintf(until, cap, "x-amz-object-lock-retain-until-date: %s", t);
}

static kcsi_code put(s3_store *s, const char *name, const void *p, size_t n, const char *extra, long *status,
		     kcsi_error *err)
{
	kcsi_code rc;
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
	rc = s3_request(&s->c, &r);
	if (status)
		*status = r.status;
	return rc;
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
	return put(s, name, p, n, excl ? "If-None-Match: *" : NULL, NULL, err);
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
	kcsi_hex(rnd, sizeof(rnd), hex);
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
		rc = *existed ? KCSI_OK : put(s, key, u->buf, u->len, NULL, NULL, err);
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

static int line_sink(void *ctx, const unsigned char *p, size_t n, kcsi_error *err)
{
	if (kv_line_add(ctx, p, n) != 0)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	return 0;
}

struct ledger_names {
	uint64_t *seqs;
	size_t n, cap;
	json_t *stray;
};

static int ledger_name(void *ctx, const char *name, int64_t mtime)
{
	struct ledger_names *ln = ctx;
	const char *d = name + strlen("ledger/");
	uint64_t seq = 0;
	size_t i;
	(void)mtime;
	for (i = 0; i < 12 && d[i] >= '0' && d[i] <= '9'; i++)
		seq = seq * 10 + (uint64_t)(d[i] - '0');
	if (i != 12 || strcmp(d + 12, ".json") != 0 || seq == 0)
		return json_array_append_new(ln->stray, json_string(name)) == 0 ? 0 : -1;
	if (ln->n == ln->cap) {
		size_t nc = ln->cap ? 2 * ln->cap : 256;
		uint64_t *p = realloc(ln->seqs, nc * sizeof(*p));
		if (!p)
			return -1;
		ln->seqs = p;
		ln->cap = nc;
	}
	ln->seqs[ln->n++] = seq;
	return 0;
}

static int by_seq(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* ledger.head, then the entries listed under ledger/, in seq order (a gap is
 * left for the check to report) */
static kcsi_code s_ledger_read(kv_store *st, kv_ledger_raw *out, kcsi_error *err)
{
	s3_store *s = (s3_store *)st;
	struct ledger_names ln = {NULL, 0, 0, json_array()};
	kcsi_error herr;
	uint64_t total = 0;
	kcsi_code rc;

	kcsi_error_clear(&herr);
	out->head_rc = s_read_file(st, "ledger.head", &out->head, &herr);
	snprintf(out->head_why, sizeof(out->head_why), "%s", herr.msg);
	out->lines = json_array();
	out->stray = ln.stray;
	free(s->seqs);
	s->seqs = NULL;
	s->nseqs = 0;
	if (!out->lines || !ln.stray)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	rc = s3_list(&s->c, "ledger/", ledger_name, &ln, err);
	if (rc != KCSI_OK) {
		free(ln.seqs);
		return rc;
	}
	qsort(ln.seqs, ln.n, sizeof(*ln.seqs), by_seq);
	s->seqs = malloc((ln.n ? ln.n : 1) * sizeof(*s->seqs));
	if (!s->seqs) {
		free(ln.seqs);
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < ln.n && rc == KCSI_OK; i++) {
		char name[64];
		kv_line line;
		s3_req r = {.method = "GET", .name = name, .sink = line_sink, .ctx = &line, .err = err};
		entry_name(ln.seqs[i], name, sizeof(name));
		kv_line_init(&line);
		rc = s3_request(&s->c, &r);
		if (rc == KCSI_ERR_NOTFOUND) {
			rc = KCSI_OK; /* removed since the listing */
		} else if (rc == KCSI_OK) {
			total += line.len;
			if (total > KV_LEDGER_MAX)
				rc = kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: the ledger holds more than %llu bytes", st->url,
						    (unsigned long long)KV_LEDGER_MAX);
			else if (kv_line_take(&line, out->lines) != 0)
				rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
			else
				s->seqs[s->nseqs++] = ln.seqs[i];
		}
		kv_line_free(&line);
	}
	free(ln.seqs);
	return rc;
}

static kcsi_code s_ledger_append(kv_store *st, uint64_t seq, const char *line, size_t n, bool *lost,
				 kcsi_error *err)
{
	s3_store *s = (s3_store *)st;
	char name[64];
	long status = 0;
	kcsi_code rc;
	entry_name(seq, name, sizeof(name));
	/* 412: the entry exists; 409: another conditional write of it is under way */
	rc = put(s, name, line, n, "If-None-Match: *", &status, err);
	*lost = rc != KCSI_OK && (status == 412 || status == 409);
	return rc;
}

static kcsi_code s_list(kv_store *st, const char *folder, kv_name_fn fn, void *ctx, kcsi_error *err)
{
	return s3_list(&((s3_store *)st)->c, folder, fn, ctx, err);
}

/* no lock to take: only marks the section (writers then load afresh) */
static kcsi_code s_lock(kv_store *st, enum kv_lock_mode mode, kcsi_error *err)
{
	(void)err;
	st->lock_held = 1 + (int)mode;
	st->lock_gen++;
	return KCSI_OK;
}

static void s_unlock(kv_store *st) { st->lock_held = 0; }

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
	.read_file = s_read_file,
	.write_file = s_write_file,
	.obj_begin = s_obj_begin,
	.obj_write = s_obj_write,
	.obj_commit = s_obj_commit,
	.obj_abort = s_obj_abort,
	.obj_read = s_obj_read,
	.obj_stat = s_stat,
	.obj_delete = s_obj_delete,
	.list = s_list,
	.ledger_read = s_ledger_read,
	.ledger_append = s_ledger_append,
	.lock = s_lock,
	.unlock = s_unlock,
	.close = s_close,
	.ledger_where = s_where,
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
