/* kcsi — the HTTP client: one wrapper of libcurl for every request the
 * library makes (kubelet, Kubernetes API, webhooks, S3).  http:// and
 * https:// only, no redirects followed, a bound on the reply kept, time-outs
 * always.  Built only with the parts that need it (capture, vault). */
#ifndef KCSI_HTTP_H
#define KCSI_HTTP_H
#ifndef KCSI_INTERNAL
#error "http.h is private to libkcsi"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kcsi/error.h"
#include "base/buf.h"

/* A connection kept between requests (keep-alive); one thread at a time. */
typedef struct kcsi_http kcsi_http;

/* Where the body of a 2xx reply goes when given: 0, or a kcsi_code with
 * *err set, which stops the transfer. */
typedef int (*kcsi_http_sink)(void *ctx, const unsigned char *p, size_t n, kcsi_error *err);

typedef struct kcsi_http_req {
	const char *method;           /* GET, HEAD, POST, PUT, PATCH, DELETE */
	const char *url;
	const char *const *headers;   /* "Name: value" lines, NULL-terminated, or NULL */
	const void *body;             /* sent as it is; NULL with POST, PUT, PATCH: an empty body */
	size_t body_len;
	/* TLS: PEM files (NULL: none / the system's CAs); insecure skips the
	 * server's verification (tests only) */
	const char *cert, *key, *cacert;
	bool insecure;
	const char *bearer;           /* "Authorization: Bearer ..." (a token under 4 KiB) */
	const char *aws_sigv4;        /* signed by libcurl: "aws:amz:REGION:SERVICE" ... */
	const char *userpwd;          /* ... with "ACCESS_KEY:SECRET_KEY" */
	long timeout_s;               /* the whole request; 0: no bound (then low_speed_s is needed) */
	long connect_timeout_s;       /* 0: 10 seconds */
	long low_speed_s;             /* fail when under 1 byte/s for this long; 0: not checked */
	size_t max_reply;             /* the most of a reply body kept (0: 1 MiB); more fails */
	kcsi_http_sink sink;          /* 2xx bodies go here instead */
	void *sink_ctx;
} kcsi_http_req;

typedef struct kcsi_http_resp {
	long status;                  /* 0: no reply */
	kcsi_buf body;                /* NUL-terminated; free with kcsi_http_resp_free */
	uint64_t content_length;      /* from the Content-Length header, when has_length */
	bool has_length;
	char etag[128];               /* the ETag header, "" when none or too long */
	bool sink_failed;             /* the sink stopped it (*err is the sink's) */
} kcsi_http_resp;

/* curl_global_init, once (each request also makes sure of it); call it before
 * threads start. */
void kcsi_http_init(void);
kcsi_http *kcsi_http_new(void);
void kcsi_http_free(kcsi_http *h);

/* One request on h (NULL: a connection for this request alone).  KCSI_OK when
 * a reply came, whatever its status (in rs->status); KCSI_ERR_IO when none
 * did (the message is curl's reason, the caller says which request);
 * KCSI_ERR_LIMIT for a reply over max_reply; the sink's code when it failed.
 * rs is filled also on failure and must be freed. */
kcsi_code kcsi_http_request(kcsi_http *h, const kcsi_http_req *rq, kcsi_http_resp *rs, kcsi_error *err);
void kcsi_http_resp_free(kcsi_http_resp *rs);

/* "1 MiB" for multiples of a MiB, else "N bytes" (for messages). */
void kcsi_http_size_text(size_t n, char *buf, size_t cap);

#endif
