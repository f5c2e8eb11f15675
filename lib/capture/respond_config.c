/* kcsi respond — the configuration: the YAML file checked key by key,
 * secrets (inline or in files), the TLS files, a kubeconfig; and the
 * summary --check-config prints. */
#include <ctype.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/responder.h"

/* ---- files and secrets ---- */

char *rsp_read_file(const char *path, size_t max, size_t *len, kcsi_error *err)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;
	if (!f) {
		kcsi_error_set(err, KCSI_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc(max + 1);
	n = buf ? fread(buf, 1, max + 1, f) : 0;
	fclose(f);
	if (!buf) {
		kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (n > max) {
		free(buf);
		kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: larger than %zu bytes", path, max);
		return NULL;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* Refuse a secret that cannot protect anything: empty, only whitespace, with
 * a NUL byte (the rest would be ignored), or, for a token sent in an HTTP
 * header, with control characters or whitespace at either end (a header
 * cannot carry it, so nobody could present it).  `key` names it. */
static kcsi_code check_secret(const char *s, size_t n, bool header, const char *key, kcsi_error *err)
{
	bool blank = true;
	for (size_t i = 0; i < n; i++)
		blank &= isspace((unsigned char)s[i]) != 0;
	if (blank)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: empty secret", key);
	if (memchr(s, '\0', n))
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: the secret holds a NUL byte", key);
	if (!header)
		return KCSI_OK;
	if (isspace((unsigned char)s[0]) || isspace((unsigned char)s[n - 1]))
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: the token starts or ends with whitespace", key);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: the token holds a control character", key);
	return KCSI_OK;
}

/* A secret given inline (copied), or NULL when s is NULL. */
static char *inline_secret(const char *s, bool header, const char *key, kcsi_error *err)
{
	char *copy;
	if (!s || check_secret(s, strlen(s), header, key, err))
		return NULL;
	if (!(copy = strdup(s)))
		kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	return copy;
}

/* A secret from a file, trailing whitespace (the newline) removed. */
static char *read_secret(const char *path, bool header, const char *key, kcsi_error *err)
{
	size_t n;
	char where[4400], *s = rsp_read_file(path, 8192, &n, err);
	if (!s) {
		kcsi_error_prefix(err, "%s", key);
		return NULL;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	snprintf(where, sizeof(where), "%s: %s", key, path);
	if (check_secret(s, n, header, where, err)) {
		free(s);
		return NULL;
	}
	return s;
}

/* auth.NAME (inline) or auth.NAME_file: at most one of them. */
static kcsi_code auth_secret(json_t *s, const char *name, bool header, char **out, kcsi_error *err)
{
	char ikey[64], fkey[64], where[80];
	const char *inl, *file;
	kcsi_code rc;
	snprintf(ikey, sizeof(ikey), "%s", name);
	snprintf(fkey, sizeof(fkey), "%s_file", name);
	if ((rc = kcsi_cfg_str(s, ikey, &inl, "auth", err)) || (rc = kcsi_cfg_str(s, fkey, &file, "auth", err)))
		return rc;
	if (inl && file)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "auth.%s and auth.%s: give one of them", ikey, fkey);
	snprintf(where, sizeof(where), "auth.%s", inl ? ikey : fkey);
	if (inl)
		*out = inline_secret(inl, header, where, err);
	else if (file)
		*out = read_secret(file, header, where, err);
	return (inl || file) && !*out ? err->code : KCSI_OK;
}

/* ---- config ---- */

static json_t *section(json_t *cfg, const char *name)
{
	json_t *s = json_object_get(cfg, name);
	return json_is_object(s) ? s : NULL;
}

static kcsi_code check_keys(json_t *o, const char *where, const char *const *known, kcsi_error *err)
{
	const char *k;
	json_t *v;
	if (o && !json_is_object(o))
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: a mapping expected", where);
	json_object_foreach(o, k, v) {
		bool ok = false;
		for (int i = 0; known[i]; i++)
			ok |= !strcmp(k, known[i]);
		if (!ok)
			return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: unknown key \"%s\"", where, k);
	}
	return KCSI_OK;
}

/* The listening certificate and its private key must load and belong
 * together, and listen.client_ca must hold a certificate: found now rather
 * than as "cannot listen" at start-up. */
static kcsi_code check_tls(const kcsi_responder *r, kcsi_error *err)
{
	gnutls_certificate_credentials_t cred;
	gnutls_datum_t crt = {(unsigned char *)r->tls_cert_pem, (unsigned)strlen(r->tls_cert_pem)};
	gnutls_datum_t key = {(unsigned char *)r->tls_key_pem, (unsigned)strlen(r->tls_key_pem)};
	kcsi_code rc = KCSI_OK;
	int g;
	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	if ((g = gnutls_certificate_set_x509_key_mem(cred, &crt, &key, GNUTLS_X509_FMT_PEM)) < 0)
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "listen.tls_cert and listen.tls_key: %s", gnutls_strerror(g));
	if (!rc && r->client_ca_pem) {
		gnutls_datum_t ca = {(unsigned char *)r->client_ca_pem, (unsigned)strlen(r->client_ca_pem)};
		if ((g = gnutls_certificate_set_x509_trust_mem(cred, &ca, GNUTLS_X509_FMT_PEM)) <= 0)
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "listen.client_ca: %s",
					    g < 0 ? gnutls_strerror(g) : "no certificate in it");
	}
	gnutls_certificate_free_credentials(cred);
	return rc;
}

/* kubeconfig: the current context's server, CA, client certificate/key or
 * token (file paths; relative to the kubeconfig's directory). */
static kcsi_code load_kubeconfig(kcsi_responder *r, const char *path, kcsi_error *err)
{
	size_t len;
	char *text = rsp_read_file(path, 1 << 20, &len, err), dir[4096];
	json_t *kc, *x;
	const char *cur, *cluster = NULL, *user = NULL, *s;
	size_t i;
	kcsi_code rc = KCSI_OK;
	if (!text)
		return err->code;
	kc = kcsi_yaml_load(text, len, path, err);
	free(text);
	if (!kc)
		return err->code;
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		slash[1] = '\0';
	else
		snprintf(dir, sizeof(dir), "./");
	cur = json_string_value(json_object_get(kc, "current-context"));
	json_array_foreach(json_object_get(kc, "contexts"), i, x) {
		if (cur && !strcmp(json_string_value(json_object_get(x, "name")) ?: "", cur)) {
			cluster = json_string_value(json_object_get(json_object_get(x, "context"), "cluster"));
			user = json_string_value(json_object_get(json_object_get(x, "context"), "user"));
		}
	}
	if (!cluster) {
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: no current-context with a cluster", path);
		goto out;
	}
#define KPATH(v) ((v)[0] == '/' ? strdup(v) : (asprintf(&tmp, "%s%s", dir, (v)) < 0 ? NULL : tmp))
	json_array_foreach(json_object_get(kc, "clusters"), i, x) {
		if (!strcmp(json_string_value(json_object_get(x, "name")) ?: "", cluster)) {
			json_t *c = json_object_get(x, "cluster");
			char *tmp = NULL;
			if ((s = json_string_value(json_object_get(c, "server"))))
				r->api = strdup(s);
			if ((s = json_string_value(json_object_get(c, "certificate-authority"))))
				r->api_tls.cacert = KPATH(s);
			if (json_object_get(c, "certificate-authority-data")) {
				rc = kcsi_error_set(err, KCSI_ERR_UNSUPPORTED,
						    "%s: certificate-authority-data: give the CA as a file "
						    "(certificate-authority) or set kubernetes.cacert", path);
				goto out;
			}
		}
	}
	json_array_foreach(json_object_get(kc, "users"), i, x) {
		if (user && !strcmp(json_string_value(json_object_get(x, "name")) ?: "", user)) {
			json_t *u = json_object_get(x, "user");
			char *tmp = NULL;
			if ((s = json_string_value(json_object_get(u, "client-certificate"))))
				r->api_tls.cert = KPATH(s);
			if ((s = json_string_value(json_object_get(u, "client-key"))))
				r->api_tls.key = KPATH(s);
			char key[160];
			snprintf(key, sizeof(key), "%s: users.%s.token", path, user);
			if ((s = json_string_value(json_object_get(u, "token")))) {
				free(r->api_token);
				if (!(r->api_token = inline_secret(s, true, key, err))) {
					rc = err->code;
					goto out;
				}
			}
			snprintf(key, sizeof(key), "%s: users.%s.tokenFile", path, user);
			if ((s = json_string_value(json_object_get(u, "tokenFile")))) {
				free(r->api_token);
				if (!(r->api_token = read_secret(s, true, key, err))) {
					rc = err->code;
					goto out;
				}
			}
			if (json_object_get(u, "client-certificate-data") || json_object_get(u, "client-key-data")) {
				rc = kcsi_error_set(err, KCSI_ERR_UNSUPPORTED,
						    "%s: client-*-data: give client-certificate/client-key as files", path);
				goto out;
			}
		}
	}
#undef KPATH
	if (!r->api)
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: cluster %s has no server", path, cluster);
out:
	json_decref(kc);
	return rc;
}

/* A Kubernetes label key: [DNS-1123 subdomain "/"] NAME, NAME 1-63 of
 * [A-Za-z0-9-_.] beginning and ending with an alphanumeric. */
static bool label_key_ok(const char *k)
{
	const char *slash = strrchr(k, '/'), *name = slash ? slash + 1 : k;
	size_t n = strlen(name);
	if (slash) {
		char prefix[254];
		if ((size_t)(slash - k) >= sizeof(prefix))
			return false;
		snprintf(prefix, sizeof(prefix), "%.*s", (int)(slash - k), k);
		if (!kcsi_dns1123_subdomain(prefix))
			return false;
	}
	if (n == 0 || n > 63 || !isalnum((unsigned char)name[0]) || !isalnum((unsigned char)name[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("-_.", name[i]))
			return false;
	return true;
}

/* Every action a rule asks for must be able to run with this config. */
static kcsi_code check_actions(kcsi_responder *r, kcsi_error *err)
{
	const char *const hooks[][2] = {{"vault", r->hook_vault}, {"analyze", r->hook_analyze}};
	if (r->notify_url && strncmp(r->notify_url, "http://", 7) && strncmp(r->notify_url, "https://", 8))
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "notify.url: http:// or https:// expected");
	if (!label_key_ok(r->label_key))
		return kcsi_error_set(err, KCSI_ERR_FORMAT,
				      "label.key \"%s\": not a Kubernetes label key ([PREFIX/]NAME)", r->label_key);
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
		if (hooks[i][1] && !hooks[i][1][strspn(hooks[i][1], " \t")])
			return kcsi_error_set(err, KCSI_ERR_FORMAT, "hooks.%s: an empty command", hooks[i][0]);
	for (size_t i = 0; i < kcsi_policy_nrules(r->policy); i++) {
		unsigned acts;
		const char *name = kcsi_policy_rule(r->policy, i, &acts);
		if ((acts & KCSI_ACT_LABEL) && !r->api)
			return kcsi_error_set(err, KCSI_ERR_FORMAT,
					      "rules[%zu] (%s): action label needs the Kubernetes API (kubernetes.api, "
					      "kubernetes.in_cluster or kubernetes.kubeconfig)", i, name);
		if ((acts & KCSI_ACT_NOTIFY) && !r->notify_url)
			return kcsi_error_set(err, KCSI_ERR_FORMAT, "rules[%zu] (%s): action notify needs notify.url",
					      i, name);
	}
	return KCSI_OK;
}

static kcsi_code check_sections(json_t *cfg, kcsi_error *err)
{
	static const char *const top[] = {"listen", "auth", "inputs", "state_dir", "log", "log_level",
					  "incident_log", "kubernetes", "kubelet", "checkpoint", "label", "notify",
					  "hooks", "rules", "exclude", NULL};
	static const char *const k_listen[] = {"address", "port", "tls_cert", "tls_key", "client_ca", "max_body",
					       "max_connections", "max_connections_per_client", "header_timeout",
					       "request_timeout", NULL};
	static const char *const k_auth[] = {"bearer_token", "bearer_token_file", "hmac_secret", "hmac_secret_file",
					     "mtls", "allow_unauthenticated", NULL};
	static const char *const k_inputs[] = {"files", "unix_socket", NULL};
	static const char *const k_kube[] = {"api", "in_cluster", "kubeconfig", "token_file", "cacert", "cert",
					     "key", "insecure", NULL};
	static const char *const k_kubelet[] = {"url", "nodes", "cert", "key", "cacert", "insecure", "timeout", NULL};
	static const char *const k_ckpt[] = {"mode", "dry_run", "cooldown", "max_concurrent", "per_node",
					     "attempts", "podman_dir", NULL};
	static const char *const k_label[] = {"key", NULL};
	static const char *const k_notify[] = {"url", NULL};
	static const char *const k_hooks[] = {"vault", "analyze", "timeout", NULL};
	static const struct {
		const char *name;
		const char *const *known;
	} sections[] = {{"listen", k_listen}, {"auth", k_auth}, {"inputs", k_inputs}, {"kubernetes", k_kube},
			{"kubelet", k_kubelet}, {"checkpoint", k_ckpt}, {"label", k_label}, {"notify", k_notify},
			{"hooks", k_hooks}};
	kcsi_code rc;

	if ((rc = check_keys(cfg, "config", top, err)))
		return rc;
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if ((rc = check_keys(section(cfg, sections[i].name), sections[i].name, sections[i].known, err)))
			return rc;
	return KCSI_OK;
}

/* A PEM file named by key (NULL when the key is absent) into *out. */
static kcsi_code pem_file(json_t *s, const char *key, char **out, kcsi_error *err)
{
	const char *v;
	kcsi_code rc;
	if ((rc = kcsi_cfg_str(s, key, &v, "listen", err)))
		return rc;
	if (v && !(*out = rsp_read_file(v, 1 << 20, NULL, err)))
		return err->code;
	return KCSI_OK;
}

static kcsi_code load_listen(kcsi_responder *r, json_t *s, kcsi_error *err)
{
	kcsi_code rc;
	double d;

	if ((rc = kcsi_cfg_str(s, "address", &r->address, "listen", err)))
		return rc;
	if ((rc = kcsi_cfg_num(s, "port", 0, 0, 65535, &d, "listen", err)))
		return rc;
	r->port = (int)d;
	if (!r->address)
		r->address = "127.0.0.1";
	if ((rc = kcsi_cfg_num(s, "max_body", 1 << 20, 256, 64 << 20, &d, "listen", err)))
		return rc;
	r->max_body = (size_t)d;
	if ((rc = kcsi_cfg_num(s, "max_connections", 512, 1, 4096, &d, "listen", err)))
		return rc;
	r->max_conns = (int)d;
	if ((rc = kcsi_cfg_num(s, "max_connections_per_client", r->max_conns < 64 ? r->max_conns : 64, 1,
			       r->max_conns, &d, "listen", err)))
		return rc;
	r->max_conns_per_client = (int)d;
	if ((rc = kcsi_cfg_num(s, "header_timeout", 10, 0.1, 3600, &r->header_timeout_s, "listen", err)) ||
	    (rc = kcsi_cfg_num(s, "request_timeout", r->header_timeout_s > 30 ? r->header_timeout_s : 30,
			       r->header_timeout_s, 3600, &r->request_timeout_s, "listen", err)))
		return rc;
	if ((rc = pem_file(s, "tls_cert", &r->tls_cert_pem, err)) || (rc = pem_file(s, "tls_key", &r->tls_key_pem, err)))
		return rc;
	if (!r->tls_cert_pem != !r->tls_key_pem)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "listen: tls_cert and tls_key go together");
	if ((rc = pem_file(s, "client_ca", &r->client_ca_pem, err)))
		return rc;
	if (r->client_ca_pem && !r->tls_cert_pem)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "listen: client_ca needs tls_cert and tls_key");
	if (r->tls_cert_pem && (rc = check_tls(r, err)))
		return rc;
	return KCSI_OK;
}

static kcsi_code load_auth(kcsi_responder *r, json_t *s, kcsi_error *err)
{
	kcsi_code rc;

	if ((rc = auth_secret(s, "bearer_token", true, &r->bearer, err)) ||
	    (rc = auth_secret(s, "hmac_secret", false, &r->hmac, err)))
		return rc;
	if ((rc = kcsi_cfg_bool(s, "mtls", r->client_ca_pem != NULL, &r->mtls, "auth", err)))
		return rc;
	if (r->mtls && !r->client_ca_pem)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "auth.mtls needs listen.client_ca");
	if ((rc = kcsi_cfg_bool(s, "allow_unauthenticated", false, &r->allow_unauth, "auth", err)))
		return rc;
	if (r->port && !r->bearer && !r->hmac && !r->mtls && !r->allow_unauth)
		return kcsi_error_set(err, KCSI_ERR_FORMAT,
				      "auth: no bearer token, HMAC secret or mutual TLS; say "
				      "\"allow_unauthenticated: true\" to accept alerts from anyone");
	return KCSI_OK;
}

/* inputs, state_dir and log_level */
static kcsi_code load_inputs(kcsi_responder *r, json_t *cfg, kcsi_error *err)
{
	json_t *s = section(cfg, "inputs");
	const char *v;
	kcsi_code rc;

	r->files = s ? json_object_get(s, "files") : NULL;
	if (r->files && json_is_string(r->files)) {
		json_t *a = json_array();
		json_array_append(a, r->files);
		json_object_set_new(s, "files", a);
		r->files = a;
	}
	if (r->files && !json_is_array(r->files))
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "inputs.files: a list of paths expected");
	if ((rc = kcsi_cfg_str(s, "unix_socket", &r->unix_socket, "inputs", err)))
		return rc;
	if (!r->port && !r->unix_socket && json_array_size(r->files) == 0)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "no input: set listen.port, inputs.files or inputs.unix_socket");
	if ((rc = kcsi_cfg_str(cfg, "state_dir", &r->state_dir, "config", err)))
		return rc;
	if (!r->state_dir)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "state_dir: needed (the event queue lives there)");
	if ((rc = kcsi_cfg_str(cfg, "log_level", &v, "config", err)))
		return rc;
	r->debug = v && !strcmp(v, "debug");
	return KCSI_OK;
}

/* A path setting copied into *out (replacing what was there). */
static kcsi_code cfg_path(json_t *s, const char *key, const char *where, const char **out, kcsi_error *err)
{
	const char *v;
	kcsi_code rc = kcsi_cfg_str(s, key, &v, where, err);
	if (!rc && v) {
		free((char *)*out);
		if (!(*out = strdup(v)))
			rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	return rc;
}

static kcsi_code load_kube(kcsi_responder *r, json_t *s, kcsi_error *err)
{
	const char *v;
	kcsi_code rc;
	bool b;

	if ((rc = kcsi_cfg_bool(s, "in_cluster", false, &b, "kubernetes", err)))
		return rc;
	if (b) {
		const char *h = getenv("KUBERNETES_SERVICE_HOST"), *p = getenv("KUBERNETES_SERVICE_PORT");
		if (!h || !p)
			return kcsi_error_set(err, KCSI_ERR_FORMAT,
					      "kubernetes.in_cluster: KUBERNETES_SERVICE_HOST/PORT are not set");
		if (asprintf(&r->api, strchr(h, ':') ? "https://[%s]:%s" : "https://%s:%s", h, p) < 0)
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		if (!(r->api_token = read_secret("/var/run/secrets/kubernetes.io/serviceaccount/token", true,
						 "kubernetes.in_cluster", err)))
			return err->code;
		r->api_tls.cacert = strdup("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
	}
	if ((rc = kcsi_cfg_str(s, "kubeconfig", &v, "kubernetes", err)))
		return rc;
	if (v && (rc = load_kubeconfig(r, v, err)))
		return rc;
	if ((rc = kcsi_cfg_str(s, "api", &v, "kubernetes", err)))
		return rc;
	if (v) {
		free(r->api);
		r->api = strdup(v);
	}
	if ((rc = kcsi_cfg_str(s, "token_file", &v, "kubernetes", err)))
		return rc;
	if (v) {
		free(r->api_token);
		if (!(r->api_token = read_secret(v, true, "kubernetes.token_file", err)))
			return err->code;
	}
	if ((rc = cfg_path(s, "cacert", "kubernetes", &r->api_tls.cacert, err)) ||
	    (rc = cfg_path(s, "cert", "kubernetes", &r->api_tls.cert, err)) ||
	    (rc = cfg_path(s, "key", "kubernetes", &r->api_tls.key, err)) ||
	    (rc = kcsi_cfg_bool(s, "insecure", false, &r->api_tls.insecure, "kubernetes", err)))
		return rc;
	r->api_tls.token = r->api_token;
	r->api_tls.timeout_s = 10;
	return KCSI_OK;
}

static kcsi_code load_kubelet(kcsi_responder *r, json_t *s, kcsi_error *err)
{
	kcsi_code rc;
	double d;

	if ((rc = kcsi_cfg_str(s, "url", &r->kubelet_url, "kubelet", err)))
		return rc;
	if (!r->kubelet_url)
		r->kubelet_url = "https://{node}:10250";
	r->kubelet_nodes = s ? json_object_get(s, "nodes") : NULL;
	if (r->kubelet_nodes && !json_is_object(r->kubelet_nodes))
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "kubelet.nodes: a mapping NODE: URL expected");
	if ((rc = kcsi_cfg_str(s, "cert", &r->kubelet_tls.cert, "kubelet", err)) ||
	    (rc = kcsi_cfg_str(s, "key", &r->kubelet_tls.key, "kubelet", err)) ||
	    (rc = kcsi_cfg_str(s, "cacert", &r->kubelet_tls.cacert, "kubelet", err)) ||
	    (rc = kcsi_cfg_bool(s, "insecure", false, &r->kubelet_tls.insecure, "kubelet", err)) ||
	    (rc = kcsi_cfg_num(s, "timeout", 60, 0, 3600, &d, "kubelet", err)))
		return rc;
	r->ckpt_timeout = (long)d;
	r->kubelet_tls.timeout_s = r->ckpt_timeout + 30;
	return KCSI_OK;
}

static kcsi_code load_checkpoint(kcsi_responder *r, json_t *s, kcsi_error *err)
{
	const char *v;
	kcsi_code rc;
	double d;

	if ((rc = kcsi_cfg_str(s, "mode", &v, "checkpoint", err)))
		return rc;
	if (!v || !strcmp(v, "kubelet"))
		r->mode = MODE_KUBELET;
	else if (!strcmp(v, "record"))
		r->mode = MODE_RECORD;
	else if (!strcmp(v, "podman"))
		r->mode = MODE_PODMAN;
	else
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "checkpoint.mode: kubelet, podman or record, not \"%s\"", v);
	if ((rc = kcsi_cfg_bool(s, "dry_run", false, &r->dry_run, "checkpoint", err)) ||
	    (rc = kcsi_cfg_num(s, "cooldown", 300, 0, 86400 * 30, &r->cooldown_s, "checkpoint", err)))
		return rc;
	if ((rc = kcsi_cfg_num(s, "max_concurrent", 4, 1, 64, &d, "checkpoint", err)))
		return rc;
	r->max_concurrent = (int)d;
	if ((rc = kcsi_cfg_num(s, "per_node", 1, 1, 64, &d, "checkpoint", err)))
		return rc;
	r->per_node = (int)d;
	if ((rc = kcsi_cfg_num(s, "attempts", 3, 1, 20, &d, "checkpoint", err)))
		return rc;
	r->attempts = (int)d;
	if ((rc = kcsi_cfg_str(s, "podman_dir", &r->podman_dir, "checkpoint", err)))
		return rc;
	if (r->mode == MODE_KUBELET && !r->api)
		return kcsi_error_set(err, KCSI_ERR_FORMAT,
				      "checkpoint.mode kubelet needs the Kubernetes API (kubernetes.api, "
				      "kubernetes.in_cluster or kubernetes.kubeconfig) to find the pod's node");
	if (r->mode == MODE_PODMAN && !r->podman_dir)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "checkpoint.mode podman needs checkpoint.podman_dir");
	return KCSI_OK;
}

kcsi_code rsp_load_config(kcsi_responder *r, kcsi_error *err)
{
	json_t *cfg = r->cfg;
	kcsi_code rc;

	if ((rc = check_sections(cfg, err)) || (rc = kcsi_policy_from_json(cfg, "rules", &r->policy, err)) ||
	    (rc = load_listen(r, section(cfg, "listen"), err)) || (rc = load_auth(r, section(cfg, "auth"), err)) ||
	    (rc = load_inputs(r, cfg, err)) || (rc = load_kube(r, section(cfg, "kubernetes"), err)) ||
	    (rc = load_kubelet(r, section(cfg, "kubelet"), err)) ||
	    (rc = load_checkpoint(r, section(cfg, "checkpoint"), err)))
		return rc;
	if ((rc = kcsi_cfg_str(section(cfg, "label"), "key", &r->label_key, "label", err)) ||
	    (rc = kcsi_cfg_str(section(cfg, "notify"), "url", &r->notify_url, "notify", err)) ||
	    (rc = kcsi_cfg_str(section(cfg, "hooks"), "vault", &r->hook_vault, "hooks", err)) ||
	    (rc = kcsi_cfg_str(section(cfg, "hooks"), "analyze", &r->hook_analyze, "hooks", err)) ||
	    (rc = kcsi_cfg_num(section(cfg, "hooks"), "timeout", 300, 1, 86400, &r->hook_timeout, "hooks", err)))
		return rc;
	if (!r->label_key)
		r->label_key = "kcsi.io/incident";
	return check_actions(r, err);
}

void kcsi_respond_describe(kcsi_responder *r, FILE *f)
{
	static const char *const modes[] = {"kubelet", "record", "podman"};
	json_t *o = json_object();
	char *s;
	json_object_set_new(o, "config", json_string(r->config_path));
	json_object_set_new(o, "listen", r->port ? json_sprintf("%s%s:%d", r->tls_cert_pem ? "https://" : "http://",
							       r->address, r->port) : json_null());
	json_object_set_new(o, "tls", json_boolean(r->tls_cert_pem != NULL));
	json_object_set_new(o, "http_limits",
			    json_pack("{s:i,s:i,s:f,s:f,s:I}", "max_connections", r->max_conns,
				      "max_connections_per_client", r->max_conns_per_client, "header_timeout",
				      r->header_timeout_s, "request_timeout", r->request_timeout_s, "max_body",
				      (json_int_t)r->max_body));
	json_t *a = json_array();
	if (r->bearer)
		json_array_append_new(a, json_string("bearer"));
	if (r->hmac)
		json_array_append_new(a, json_string("hmac"));
	if (r->mtls)
		json_array_append_new(a, json_string("mtls"));
	if (r->allow_unauth)
		json_array_append_new(a, json_string("none"));
	json_object_set_new(o, "auth", a);
	json_object_set_new(o, "files", r->files ? json_deep_copy(r->files) : json_array());
	json_object_set_new(o, "unix_socket", rsp_jstr(r->unix_socket));
	json_object_set_new(o, "state_dir", json_string(r->state_dir));
	json_object_set_new(o, "mode", json_string(modes[r->mode]));
	json_object_set_new(o, "dry_run", json_boolean(r->dry_run));
	json_object_set_new(o, "kubernetes_api", rsp_jstr(r->api));
	json_object_set_new(o, "kubelet_url", rsp_jstr(r->kubelet_url));
	json_object_set_new(o, "cooldown_seconds", json_real(r->cooldown_s));
	json_object_set_new(o, "max_concurrent", json_integer(r->max_concurrent));
	json_object_set_new(o, "per_node", json_integer(r->per_node));
	json_object_set_new(o, "rules", json_integer((json_int_t)kcsi_policy_nrules(r->policy)));
	json_object_set_new(o, "hooks", json_pack("{s:o,s:o}", "vault", rsp_jstr(r->hook_vault), "analyze",
						       rsp_jstr(r->hook_analyze)));
	json_object_set_new(o, "notify", rsp_jstr(r->notify_url));
	s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fprintf(f, "%s\n", s);
	free(s);
	json_decref(o);
}
