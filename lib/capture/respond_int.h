/* kcsi — private helpers shared by the capture modules (falco, policy,
 * kubelet, respond). */
#ifndef KCSI_RESPOND_INT_H
#define KCSI_RESPOND_INT_H
#ifndef KCSI_INTERNAL
#error "respond_int.h is private to libkcsi"
#endif

#include <jansson.h>

#include "kcsi/respond.h"

/* YAML (one document) as a JSON tree: mappings -> objects, sequences ->
 * arrays, every scalar -> a string.  Duplicate keys, anchors and aliases are
 * refused.  Errors name the file and the line. */
json_t *kcsi_yaml_load(const char *text, size_t len, const char *name, kcsi_error *err);

/* The policy from a tree that holds `rules:` and optionally `exclude:`. */
kcsi_code kcsi_policy_from_json(json_t *root, const char *name, kcsi_policy **out, kcsi_error *err);

/* Config value helpers: strings in the tree; "where" names the key path. */
kcsi_code kcsi_cfg_bool(json_t *o, const char *key, bool def, bool *out, const char *where,
			kcsi_error *err);
kcsi_code kcsi_cfg_num(json_t *o, const char *key, double def, double min, double max, double *out,
		       const char *where, kcsi_error *err);
/* NULL when absent; an error when not a string. */
kcsi_code kcsi_cfg_str(json_t *o, const char *key, const char **out, const char *where,
		       kcsi_error *err);

/* ---- files and secrets (kubelet.c) ---- */

/* A whole file of at most max bytes, NUL-terminated (malloc). */
char *kcsi_capture_read_file(const char *path, size_t max, size_t *len, kcsi_error *err);
/* Refuse a secret that cannot protect anything: empty, only whitespace, with
 * a NUL byte (the rest would be ignored), or, for a token sent in an HTTP
 * header, with control characters or whitespace at either end (a header
 * cannot carry it, so nobody could present it).  `key` names it. */
kcsi_code kcsi_secret_check(const char *s, size_t n, bool header, const char *key, kcsi_error *err);
/* A secret given inline (copied, checked); NULL with *err. */
char *kcsi_secret_inline(const char *s, bool header, const char *key, kcsi_error *err);
/* A secret from a file, trailing whitespace (the newline) removed, checked. */
char *kcsi_secret_file(const char *path, bool header, const char *key, kcsi_error *err);

/* ---- HTTP (kubelet.c) ---- */

/* A request with the capture's TLS settings (client certificate, CA, bearer
 * token, time-out) through the HTTP client of base/http.h: a JSON body (or
 * none), "Accept: application/json".  The reply's status in *http, its body
 * (<= 1 MiB, malloc'd, NUL-terminated) in *reply when reply is given.
 * Errors name the method and the URL. */
kcsi_code kcsi_capture_send(const char *method, const char *url, const char *content_type, const char *body,
			    const kcsi_tls *tls, long *http, char **reply, kcsi_error *err);
#endif
