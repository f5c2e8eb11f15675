/* kcsi vault — a small S3 client on libcurl: path-style requests signed with
 * libcurl's AWS SigV4 (CURLOPT_AWS_SIGV4), bodies sent from memory so that
 * their SHA-256 is part of the signature. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vault/s3.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

kcsi_code s3_setup(s3_conn *c, const char *url, kcsi_error *err)
{
	const char *ep = getenv("KCSI_S3_ENDPOINT"), *rg = getenv("AWS_REGION");
	const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char *b = url + 5, *slash;

	memset(c, 0, sizeof(*c));
	pthread_once(&curl_once, curl_init_once);
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
	c->curl = curl_easy_init();
	if (!c->bucket || !c->prefix || !c->endpoint || !c->region || !c->userpwd || !c->curl) {
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
	if (c->curl)
		curl_easy_cleanup(c->curl);
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

struct recv {
	s3_req *r;
	kcsi_buf *body;
	long status;
	CURL *curl;
	bool sink_failed;
};

static size_t on_data(char *p, size_t sz, size_t nm, void *ud)
{
	struct recv *rv = ud;
	size_t n = sz * nm;
	if (rv->status == 0)
		curl_easy_getinfo(rv->curl, CURLINFO_RESPONSE_CODE, &rv->status);
	if (rv->status >= 200 && rv->status < 300 && rv->r->sink) {
		if (rv->r->sink(rv->r->ctx, (const unsigned char *)p, n, rv->r->err) != 0) {
			rv->sink_failed = true;
			return 0;
		}
		return n;
	}
	kcsi_buf_add(rv->body, p, n); /* error documents, small responses */
	return n;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
	struct recv *rv = ud;
	size_t n = sz * nm;
	if (rv->r->content_length && n > 16 && !strncasecmp(p, "Content-Length:", 15))
		*rv->r->content_length = strtoull(p + 15, NULL, 10);
	if (n > 6 && !strncasecmp(p, "ETag:", 5)) {
		size_t l = n - 5;
		const char *v = p + 5;
		while (l && (*v == ' '))
			v++, l--;
		while (l && (v[l - 1] == '\r' || v[l - 1] == '\n' || v[l - 1] == ' '))
			l--;
		if (l < sizeof(rv->r->etag))
			snprintf(rv->r->etag, sizeof(rv->r->etag), "%.*s", (int)l, v);
	}
	return n;
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

kcsi_code s3_request(s3_conn *c, s3_req *r)
{
	CURL *h = c->curl;
	struct curl_slist *hdrs = NULL;
	kcsi_buf body;
	struct recv rv = {r, &body, 0, h, false};
	char sigv4[128], line[256], *url = object_url(c, r->name, r->query);
	CURLcode cc;
	kcsi_code rc = KCSI_OK;

	kcsi_buf_init(&body, 1 << 20);
	if (!url)
		return kcsi_error_set(r->err, KCSI_ERR_NOMEM, "out of memory");
	curl_easy_reset(h);
	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", c->region);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
	curl_easy_setopt(h, CURLOPT_USERPWD, c->userpwd);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &rv);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &rv);
	if (!strcmp(r->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "GET") != 0) {
		unsigned char sha[32];
		char hex[65];
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? (const char *)r->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
		kv_sha256(r->body ? r->body : (const void *)"", r->body_len, sha);
		kv_hex(sha, 32, hex);
		snprintf(line, sizeof(line), "x-amz-content-sha256: %s", hex);
		hdrs = curl_slist_append(hdrs, line);
		hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
		if (r->md5) {
			unsigned char md[16];
			unsigned int ml = 16;
			char b64[32];
			EVP_Digest(r->body ? r->body : (const void *)"", r->body_len, md, &ml, EVP_md5(), NULL);
			sodium_bin2base64(b64, sizeof(b64), md, 16, sodium_base64_VARIANT_ORIGINAL);
			snprintf(line, sizeof(line), "Content-MD5: %s", b64);
			hdrs = curl_slist_append(hdrs, line);
		}
	}
	if (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD"))
		hdrs = curl_slist_append(hdrs, "x-amz-content-sha256: "
					       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	for (int i = 0; i < 4 && r->headers[i]; i++)
		hdrs = curl_slist_append(hdrs, r->headers[i]);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	/* a stalled connection is an error, not a hang */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 120L);
	for (int attempt = 0;; attempt++) {
		rv.status = 0; /* on_data asks for it again */
		cc = curl_easy_perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rv.status);
		/* S3 asks to retry on 500 and 503; a read has had nothing delivered
		 * to its sink yet (only 2xx bodies go there), so it can be */
		if (cc != CURLE_OK || rv.sink_failed || attempt >= 4 || (rv.status != 500 && rv.status != 503) ||
		    (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0))
			break;
		body.len = 0;
		r->etag[0] = '\0';
		{
			struct timespec ts = {0, (long)(50 << attempt) * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	r->status = rv.status;
	if (rv.sink_failed) {
		rc = r->err ? r->err->code : KCSI_ERR_IO;
	} else if (cc != CURLE_OK) {
		rc = kcsi_error_set(r->err, KCSI_ERR_IO, "s3://%s/%s%s%s: %s %s", c->bucket, c->prefix, *c->prefix ? "/" : "",
				    r->name, r->method, curl_easy_strerror(cc));
	} else if (rv.status == 404) {
		rc = kcsi_error_set(r->err, KCSI_ERR_NOTFOUND, "s3://%s/%s%s%s: not found", c->bucket, c->prefix,
				    *c->prefix ? "/" : "", r->name ? r->name : "");
	} else if (rv.status < 200 || rv.status >= 300) {
		char *code = s3_xml_text(body.data ? body.data : "", body.len, "Code");
		char *msg = s3_xml_text(body.data ? body.data : "", body.len, "Message");
		rc = kcsi_error_set(r->err, rv.status == 403 ? KCSI_ERR_GENERIC : KCSI_ERR_IO,
				    "s3://%s/%s%s%s: %s: HTTP %ld %s%s%s", c->bucket, c->prefix, *c->prefix ? "/" : "",
				    r->name ? r->name : "", r->method, rv.status, code ? code : "", msg ? ": " : "", msg ? msg : "");
		free(code);
		free(msg);
	}
	if (rc == KCSI_OK && r->response) {
		kcsi_buf_add(r->response, body.data ? body.data : "", body.len);
	}
	curl_slist_free_all(hdrs);
	kcsi_buf_free(&body);
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
