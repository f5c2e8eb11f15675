/* kcsi — the libcurl wrapper (see base/http.h). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/http.h"

#define DEFAULT_MAX_REPLY ((size_t)1 << 20)

struct kcsi_http {
	CURL *curl;
};

static pthread_once_t http_once = PTHREAD_ONCE_INIT;

static void http_init_once(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
}

void kcsi_http_init(void)
{
	pthread_once(&http_once, http_init_once);
}

kcsi_http *kcsi_http_new(void)
{
	kcsi_http *h;
	kcsi_http_init();
	if (!(h = calloc(1, sizeof(*h))))
		return NULL;
	if (!(h->curl = curl_easy_init())) {
		free(h);
		return NULL;
	}
	return h;
}

void kcsi_http_free(kcsi_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
}

void kcsi_http_resp_free(kcsi_http_resp *rs)
{
	kcsi_buf_free(&rs->body);
}

void kcsi_http_size_text(size_t n, char *buf, size_t cap)
{
	if (n && n % ((size_t)1 << 20) == 0)
		snprintf(buf, cap, "%zu MiB", n >> 20);
	else
		snprintf(buf, cap, "%zu bytes", n);
}

/* The state of one transfer, for the callbacks. */
struct xfer {
	const kcsi_http_req *rq;
	kcsi_http_resp *rs;
	CURL *curl;
	kcsi_error *err;
	int sink_rc;    /* the sink's failure */
	bool too_big;
};

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
	struct xfer *x = ud;
	size_t n = sz * nm;
	if (x->rs->status == 0)
		curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->rs->status);
	if (x->rq->sink && x->rs->status >= 200 && x->rs->status < 300) {
		if ((x->sink_rc = x->rq->sink(x->rq->sink_ctx, (const unsigned char *)p, n, x->err)) != 0)
			return 0;
		return n;
	}
	if (kcsi_buf_add(&x->rs->body, p, n) != 0) {
		x->too_big = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	return n;
}

/* The header value after "Name:" with the spaces and line end around it. */
static bool header_value(const char *p, size_t n, const char *name, const char **v, size_t *len)
{
	size_t k = strlen(name);
	if (n <= k || strncasecmp(p, name, k))
		return false;
	*v = p + k;
	*len = n - k;
	while (*len && (**v == ' ' || **v == '\t'))
		(*v)++, (*len)--;
	while (*len && ((*v)[*len - 1] == '\r' || (*v)[*len - 1] == '\n' || (*v)[*len - 1] == ' '))
		(*len)--;
	return true;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
	struct xfer *x = ud;
	size_t n = sz * nm, len;
	const char *v;
	if (n >= 5 && !strncmp(p, "HTTP/", 5)) { /* a new reply (after a 100 Continue) */
		x->rs->has_length = false;
		x->rs->etag[0] = '\0';
	} else if (header_value(p, n, "Content-Length:", &v, &len)) {
		x->rs->content_length = strtoull(v, NULL, 10);
		x->rs->has_length = true;
	} else if (header_value(p, n, "ETag:", &v, &len) && len < sizeof(x->rs->etag)) {
		memcpy(x->rs->etag, v, len);
		x->rs->etag[len] = '\0';
	}
	return n;
}

/* The request's headers; NULL when memory is short. */
static struct curl_slist *make_headers(const kcsi_http_req *rq, bool *ok)
{
	struct curl_slist *h = NULL, *t;
	*ok = true;
	for (size_t i = 0; rq->headers && rq->headers[i] && *ok; i++) {
		if (!(t = curl_slist_append(h, rq->headers[i])))
			*ok = false;
		else
			h = t;
	}
	if (*ok && rq->bearer && strlen(rq->bearer) < 4096) {
		char auth[4200];
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", rq->bearer);
		if (!(t = curl_slist_append(h, auth)))
			*ok = false;
		else
			h = t;
	}
	return h;
}

static void set_options(CURL *c, const kcsi_http_req *rq, struct xfer *x, char *ebuf)
{
	curl_easy_setopt(c, CURLOPT_URL, rq->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	if (rq->timeout_s > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT, rq->timeout_s);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, rq->connect_timeout_s > 0 ? rq->connect_timeout_s : 10L);
	if (rq->low_speed_s > 0) {
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, rq->low_speed_s);
	}
	if (!strcmp(rq->method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(rq->method, "GET") && !rq->body) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? (const char *)rq->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(rq->body ? rq->body_len : 0));
	}
	if (rq->cert)
		curl_easy_setopt(c, CURLOPT_SSLCERT, rq->cert);
	if (rq->key)
		curl_easy_setopt(c, CURLOPT_SSLKEY, rq->key);
	if (rq->cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, rq->cacert);
	if (rq->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (rq->aws_sigv4) {
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, rq->aws_sigv4);
		curl_easy_setopt(c, CURLOPT_USERPWD, rq->userpwd);
	}
}

kcsi_code kcsi_http_request(kcsi_http *h, const kcsi_http_req *rq, kcsi_http_resp *rs, kcsi_error *err)
{
	size_t max = rq->max_reply ? rq->max_reply : DEFAULT_MAX_REPLY;
	struct xfer x = {rq, rs, NULL, err, 0, false};
	char ebuf[CURL_ERROR_SIZE] = "", size[32];
	struct curl_slist *hdrs;
	CURL *c;
	CURLcode cc;
	kcsi_code rc = KCSI_OK;
	bool ok;

	memset(rs, 0, sizeof(*rs));
	kcsi_buf_init(&rs->body, max);
	kcsi_http_init();
	if (!(c = h ? h->curl : curl_easy_init()))
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "cannot start an HTTP request");
	if (h)
		curl_easy_reset(c);
	x.curl = c;
	hdrs = make_headers(rq, &ok);
	if (ok) {
		set_options(c, rq, &x, ebuf);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		cc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rs->status);
		if (x.sink_rc) {
			rc = (kcsi_code)x.sink_rc;
			rs->sink_failed = true;
		} else if (x.too_big || (cc == CURLE_OK && kcsi_buf_add(&rs->body, "", 0) != 0)) {
			kcsi_http_size_text(max, size, sizeof(size));
			rc = kcsi_error_set(err, KCSI_ERR_LIMIT, "reply larger than %s", size);
		} else if (cc != CURLE_OK) {
			rc = kcsi_error_set(err, KCSI_ERR_IO, "%s", ebuf[0] ? ebuf : curl_easy_strerror(cc));
		}
	} else {
		rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	/* the handle keeps no pointer into this call's memory */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hdrs);
	if (!h)
		curl_easy_cleanup(c);
	return rc;
}
