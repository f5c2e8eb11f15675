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

/* ---- HTTP (kubelet.c) ---- */

/* A request with the capture's TLS settings (client certificate, CA, bearer
 * token, time-out) through the HTTP client of base/http.h: a JSON body (or
 * none), "Accept: application/json".  The reply's status in *http, its body
 * (<= 1 MiB, malloc'd, NUL-terminated) in *reply when reply is given.
 * Errors name the method and the URL. */
kcsi_code kcsi_capture_send(const char *method, const char *url, const char *content_type, const char *body,
			    const kcsi_tls *tls, long *http, char **reply, kcsi_error *err);
#endif
