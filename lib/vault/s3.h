/* kcsi vault — the S3 client (s3.c) used by the S3 store (store_s3.c). */
#ifndef KCSI_S3_H
#define KCSI_S3_H
#ifndef KCSI_INTERNAL
#error "s3.h is private to libkcsi"
#endif

#include <pthread.h>

#include "vault/vault_int.h"
#include "base/http.h"

typedef struct s3_conn {
	kcsi_http *http; /* the connection, kept between requests */
	char *endpoint, *region, *bucket, *prefix, *userpwd;
} s3_conn;

typedef struct s3_req {
	const char *method;      /* GET, HEAD, PUT, POST, DELETE */
	const char *name;        /* object name below the prefix; NULL: the bucket */
	const char *query;       /* e.g. "uploads", or NULL */
	const void *body;        /* request body (PUT, POST) */
	size_t body_len;
	bool md5;                /* send Content-MD5 (object lock needs it) */
	const char *headers[5];  /* extra "Name: value" headers, NULL-terminated */
	kv_sink sink;            /* GET: the body of a 2xx response goes here */
	void *ctx;
	kcsi_buf *response;      /* or here (small bodies) */
	uint64_t *content_length;
	char etag[128];          /* the ETag response header, when any */
	long status;
	kcsi_error *err;
} s3_req;

/* url: s3://BUCKET[/PREFIX]; endpoint, region, keys from the environment */
kcsi_code s3_setup(s3_conn *c, const char *url, kcsi_error *err);
void s3_free(s3_conn *c);
/* NOTFOUND on 404; the message names the object, method and S3 error code */
kcsi_code s3_request(s3_conn *c, s3_req *r);
/* "/BUCKET/PREFIX/NAME" for x-amz-copy-source */
char *s3_key_path(s3_conn *c, const char *name);
char *s3_xml_text(const char *xml, size_t len, const char *tag);
/* every key under PREFIX/folder (ListObjectsV2, page by page), given to fn
 * without the store's prefix */
kcsi_code s3_list(s3_conn *c, const char *folder, kv_name_fn fn, void *ctx, kcsi_error *err);

#endif
