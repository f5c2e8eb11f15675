/* kcsi vault — a small S3 client on the HTTP client of base/http.h:
 * path-style requests signed with libcurl's AWS SigV4, bodies sent from
 * memory so that their SHA-256 is part of the signature, reads retried on
 * 500 and 503. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vault/s3.h"

kcsi_code s3_setup(s3_conn *c, const char *url, kcsi_error *err)
{
	const char *ep = getenv("KCSI_S3_ENDPOINT"), *rg = getenv("AWS_REGION");
	const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char *b = url + 5, *slash;

	memset(c, 0, sizeof(*c));
	if (!ep || !*ep)
		ep = getenv("AWS_ENDPOINT_URL");
	if (!ep || !*ep)
		return kcsi_error_set(err, KCSI_ERR_USAGE, "%s: set KCSI_S3_ENDPOINT (e.g. https://s3.eu-west-1.amazonaws.com)", url);
	if (!ak || !sk || !*ak || !*sk)
		return kcsi_error_set(err, KCSI_ERR_USAGE, "%s: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", url);
	slash = strchr(b, '/');
	c->bucket = slash ? strndup(b, (size_t)(slash - b)) : strdup(b);
	c->prefix = strdup(slash ? slash + 1 : "");
	/* no trailing slash on the prefix */
	if (c->prefix && *c->prefix && c->prefix[strlen(c->prefix) - 1] == '/')
		c->prefix[strlen(c->prefix) - 1] = '\0';
	c->endpoint = strdup(ep);
	if (c->endpoint && *c->endpoint && c->endpoint[strlen(c->endpoint) - 1] == '/')
		c->endpoint[strlen(c->endpoint) - 1] = '\0';
	c->region = strdup(rg && *rg ? rg : "us-east-1");
	c->userpwd = malloc(strlen(ak) + strlen(sk) + 2);
	if (c->userpwd)
		sprintf(c->userpwd, "%s:%s", ak, sk);
	c->http = kcsi_http_new();
	if (!c->bucket || !c->prefix || !c->endpoint || !c->region || !c->userpwd || !c->http) {
		s3_free(c);
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	if (!*c->bucket) {
		s3_free(c);
		return kcsi_error_set(err, KCSI_ERR_USAGE, "%s: no bucket name", url);
	}
	return KCSI_OK;
}

void s3_free(s3_conn *c)
{
	kcsi_http_free(c->http);
	if (c->userpwd)
		sodium_memzero(c->userpwd, strlen(c->userpwd));
	free(c->userpwd);
	free(c->bucket);
	free(c->prefix);
	free(c->endpoint);
	free(c->region);
	memset(c, 0, sizeof(*c));
}

/* the object key under the prefix, URL-encoded (slashes kept) */
static char *object_url(s3_conn *c, const char *name, const char *query)
{
	size_t n = strlen(c->endpoint) + strlen(c->bucket) + 3 * (strlen(c->prefix) + (name ? strlen(name) : 0)) + 16 +
		   (query ? strlen(query) : 0);
	char *u = malloc(n), *o;
	const char *parts[2] = {c->prefix, name};
	if (!u)
		return NULL;
	o = u + sprintf(u, "%s/%s", c->endpoint, c->bucket);
	for (int k = 0; k < 2 && name; k++) { /* no name: the bucket itself */
		if (k == 0 && !*c->prefix)
			continue;
		*o++ = '/';
		for (const unsigned char *p = (const unsigned char *)parts[k]; *p; p++) {
			if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			    strchr("-_.~/", *p))
				*o++ = (char)*p;
			else
				o += sprintf(o, "%%%02X", *p);
		}
	}
	if (query)
		o += sprintf(o, "?%s", query);
	*o = '\0';
	return u;
}

char *s3_key_path(s3_conn *c, const char *name)
{
	size_t n = strlen(c->bucket) + strlen(c->prefix) + strlen(name) + 4;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "/%s/%s%s%s", c->bucket, c->prefix, *c->prefix ? "/" : "", name);
	return p;
}

/* the text of <Tag>...</Tag> in an XML body, malloc'd */
char *s3_xml_text(const char *xml, size_t len, const char *tag)
{
	char open[64], close_[64];
	const char *a, *b;
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close_, sizeof(close_), "</%s>", tag);
	a = memmem(xml, len, open, strlen(open));
	if (!a)
		return NULL;
	a += strlen(open);
	b = memmem(a, len - (size_t)(a - xml), close_, strlen(close_));
	return b ? strndup(a, (size_t)(b - a)) : NULL;
}

/* "s3://BUCKET/PREFIX/NAME" for messages */
static void object_text(s3_conn *c, const s3_req *r, char *buf, size_t cap)
{
	snprintf(buf, cap, "s3://%s/%s%s%s", c->bucket, c->prefix, *c->prefix ? "/" : "", r->name ? r->name : "");
}

/* The request's headers into hdrs (at most 9 and the NULL); the lines are
 * kept in sha_line and md5_line. */
static void request_headers(const s3_req *r, const char **hdrs, char *sha_line, char *md5_line, size_t cap)
{
	bool read = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
	size_t h = 0;
	if (!read) {
		unsigned char sha[32];
		char hex[65];
		kcsi_sha256(r->body ? r->body : (const void *)"", r->body_len, sha);
		kcsi_hex(sha, 32, hex);
		snprintf(sha_line, cap, "x-amz-content-sha256: %s", hex);
		hdrs[h++] = sha_line;
		hdrs[h++] = "Content-Type: application/octet-stream";
		if (r->md5) {
			unsigned char md[16];
			unsigned int ml = 16;
			char b64[32];
			EVP_Digest(r->body ? r->body : (const void *)"", r->body_len, md, &ml, EVP_md5(), NULL);
			sodium_bin2base64(b64, sizeof(b64), md, 16, sodium_base64_VARIANT_ORIGINAL);
			snprintf(md5_line, cap, "Content-MD5: %s", b64);
			hdrs[h++] = md5_line;
		}
	} else {
		hdrs[h++] = "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	}
	for (int i = 0; i < 4 && r->headers[i]; i++)
		hdrs[h++] = r->headers[i];
	hdrs[h] = NULL;
}

kcsi_code s3_request(s3_conn *c, s3_req *r)
{
	kcsi_http_resp rs;
	const char *hdrs[10];
	char sigv4[128], sha_line[128], md5_line[128], what[2048], *url = object_url(c, r->name, r->query);
	bool read = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
	kcsi_code rc;

	if (!url)
		return kcsi_error_set(r->err, KCSI_ERR_NOMEM, "out of memory");
	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", c->region);
	request_headers(r, hdrs, sha_line, md5_line, sizeof(sha_line));
	kcsi_http_req rq = {.method = r->method, .url = url, .headers = hdrs, .aws_sigv4 = sigv4, .userpwd = c->userpwd,
			    .connect_timeout_s = 30, .low_speed_s = 120, /* a stalled connection is an error, not a hang */
			    .max_reply = r->response && r->response->max > r->response->len
						 ? r->response->max - r->response->len : 1 << 20,
			    .sink = r->sink, .sink_ctx = r->ctx};
	if (!read) {
		rq.body = r->body ? r->body : (const void *)"";
		rq.body_len = r->body_len;
	}
	for (int attempt = 0;; attempt++) {
		rc = kcsi_http_request(c->http, &rq, &rs, r->err);
		/* S3 asks to retry on 500 and 503; a read has had nothing delivered
		 * to its sink yet (only 2xx bodies go there), so it can be */
		if (rc != KCSI_OK || attempt >= 4 || (rs.status != 500 && rs.status != 503) || !read)
			break;
		kcsi_http_resp_free(&rs);
		struct timespec ts = {0, (long)(50 << attempt) * 1000000L};
		nanosleep(&ts, NULL);
	}
	r->status = rs.status;
	snprintf(r->etag, sizeof(r->etag), "%s", rs.etag);
	if (r->content_length && rs.has_length)
		*r->content_length = rs.content_length;
	object_text(c, r, what, sizeof(what));
	if (rc != KCSI_OK && !rs.sink_failed) {
		char why[KCSI_ERRMSG_MAX];
		snprintf(why, sizeof(why), "%s", r->err ? r->err->msg : "");
		rc = kcsi_error_set(r->err, rc, "%s: %s %s", what, r->method, why);
	} else if (rc == KCSI_OK && rs.status == 404) {
		rc = kcsi_error_set(r->err, KCSI_ERR_NOTFOUND, "%s: not found", what);
	} else if (rc == KCSI_OK && (rs.status < 200 || rs.status >= 300)) {
		const char *body = kcsi_buf_str(&rs.body);
		char *code = s3_xml_text(body, rs.body.len, "Code"), *msg = s3_xml_text(body, rs.body.len, "Message");
		rc = kcsi_error_set(r->err, rs.status == 403 ? KCSI_ERR_GENERIC : KCSI_ERR_IO, "%s: %s: HTTP %ld %s%s%s",
				    what, r->method, rs.status, code ? code : "", msg ? ": " : "", msg ? msg : "");
		free(code);
		free(msg);
	}
	if (rc == KCSI_OK && r->response)
		kcsi_buf_add(r->response, kcsi_buf_str(&rs.body), rs.body.len);
	kcsi_http_resp_free(&rs);
	free(url);
	return rc;
}

/* a query value as SigV4 wants it: unreserved characters kept, others %XX */
static void query_value(kcsi_buf *q, const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-_.~", *p))
			kcsi_buf_addc(q, (char)*p);
		else
			kcsi_buf_printf(q, "%%%02X", *p);
	}
}

/* the XML text of a key, its entities decoded; NULL when malformed */
static char *xml_unescape(const char *s, size_t n)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
	char *out = malloc(n + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t k;
		if (s[i] != '&') {
			*o++ = s[i++];
			continue;
		}
		for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++)
			if (n - i >= strlen(ents[k].ent) && !memcmp(s + i, ents[k].ent, strlen(ents[k].ent)))
				break;
		if (k == sizeof(ents) / sizeof(ents[0])) {
			/* &#NN; and &#xNN; for bytes; anything else is refused */
			char *end = NULL;
			unsigned long v = 0;
			if (n - i > 3 && s[i + 1] == '#')
				v = s[i + 2] == 'x' ? strtoul(s + i + 3, &end, 16) : strtoul(s + i + 2, &end, 10);
			if (!v || v > 255 || (size_t)(end - s) >= n || *end != ';') {
				free(out);
				return NULL;
			}
			*o++ = (char)v;
			i = (size_t)(end - s) + 1;
			continue;
		}
		*o++ = ents[k].c;
		i += strlen(ents[k].ent);
	}
	*o = '\0';
	return out;
}

/* "2026-11-27T01:49:58.000Z" -> seconds since the epoch, -1 when not that */
static int64_t iso_time(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
		   &tm.tm_sec) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

kcsi_code s3_list(s3_conn *c, const char *folder, kv_name_fn fn, void *ctx, kcsi_error *err)
{
	char *token = NULL, *full;
	size_t plen = *c->prefix ? strlen(c->prefix) + 1 : 0;
	kcsi_code rc = KCSI_OK;

	full = malloc(plen + strlen(folder) + 1);
	if (!full)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	sprintf(full, "%s%s%s", c->prefix, *c->prefix ? "/" : "", folder);
	for (int page = 0; rc == KCSI_OK; page++) {
		kcsi_buf q, resp;
		s3_req r = {.method = "GET", .name = NULL, .response = &resp, .err = err};
		char *more;
		bool truncated = false;
		kcsi_buf_init(&q, 1 << 12);
		kcsi_buf_init(&resp, 16 << 20);
		/* the query's keys in SigV4's order */
		if (token) {
			kcsi_buf_add(&q, "continuation-token=", 19);
			query_value(&q, token);
			kcsi_buf_addc(&q, '&');
		}
		kcsi_buf_add(&q, "list-type=2&prefix=", 19);
		query_value(&q, full);
		r.query = kcsi_buf_str(&q);
		rc = s3_request(c, &r);
		free(token);
		token = NULL;
		if (rc == KCSI_OK) {
			const char *p = resp.data ? resp.data : "", *end = p + resp.len;
			for (;;) {
				const char *a = memmem(p, (size_t)(end - p), "<Contents>", 10), *b;
				char *k, *key, *lm;
				if (!a)
					break;
				b = memmem(a, (size_t)(end - a), "</Contents>", 11);
				if (!b)
					break;
				k = s3_xml_text(a, (size_t)(b - a), "Key");
				lm = s3_xml_text(a, (size_t)(b - a), "LastModified");
				key = k ? xml_unescape(k, strlen(k)) : NULL;
				if (!key) {
					rc = kcsi_error_set(err, KCSI_ERR_IO, "s3://%s/%s: a listed key is not well-formed XML text",
							    c->bucket, full);
				} else if (strlen(key) >= plen && !strncmp(key, full, strlen(full)) &&
					   fn(ctx, key + plen, lm ? iso_time(lm) : -1) != 0) {
					rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
				}
				free(k);
				free(lm);
				free(key);
				p = b + 11;
				if (rc != KCSI_OK)
					break;
			}
			more = s3_xml_text(resp.data ? resp.data : "", resp.len, "IsTruncated");
			truncated = more && !strcmp(more, "true");
			free(more);
			if (rc == KCSI_OK && truncated) {
				token = s3_xml_text(resp.data ? resp.data : "", resp.len, "NextContinuationToken");
				if (!token || page > 1000000)
					rc = kcsi_error_set(err, KCSI_ERR_IO, "s3://%s/%s: a truncated listing without a way on",
							    c->bucket, full);
			}
		}
		kcsi_buf_free(&q);
		kcsi_buf_free(&resp);
		if (!truncated || rc != KCSI_OK)
			break;
	}
	free(token);
	free(full);
	return rc;
}
