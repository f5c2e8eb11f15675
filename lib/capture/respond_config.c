/* kcsi respond — the configuration: the YAML file checked key by key,
 * secrets (inline or in files), the TLS files, a kubeconfig; and the
 * summary --check-config prints. */
#include <ctype.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/responder.h"

/* ---- secrets ---- */

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
		*out = kcsi_secret_inline(inl, header, where, err);
	else if (file)
		*out = kcsi_secret_file(file, header, where, err);
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
		if ((acts & KCSI_ACT_LABEL) && !r->api && !r->in_cluster_absent)
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
					  "hooks", "vault", "rules", "exclude", NULL};
	static const char *const k_listen[] = {"address", "port", "tls_cert", "tls_key", "client_ca", "max_body",
					       "max_connections", "max_connections_per_client", "header_timeout",
					       "request_timeout", NULL};
	static const char *const k_auth[] = {"bearer_token", "bearer_token_file", "hmac_secret", "hmac_secret_file",
					     "mtls", "allow_unauthenticated", NULL};
	static const char *const k_inputs[] = {"files", "unix_socket", NULL};
	static const char *const k_kube[] = {"api", "in_cluster", "kubeconfig", "context", "token_file", "cacert",
					     "cert", "key", "insecure_skip_verify", NULL};
	static const char *const k_kubelet[] = {"url", "nodes", "via_api_server", "cert", "key", "cacert",
						"insecure_skip_verify", "token_file", "service_account_token", "timeout",
						NULL};
	static const char *const k_vault[] = {"store", "poll_interval", "wait", NULL};
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
			{"hooks", k_hooks}, {"vault", k_vault}};
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
	if (v && !(*out = kcsi_capture_read_file(v, 1 << 20, NULL, err)))
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

/* ---- tokens ---- */

/* (Re)read t->path when it changed since the last read; lock held. */
static kcsi_code token_reread(struct rsp_token *t, kcsi_error *err)
{
	struct stat st;
	char *v;
	if (stat(t->path, &st) != 0)
		return kcsi_error_set(err, errno == ENOENT ? KCSI_ERR_NOTFOUND : KCSI_ERR_IO, "%s: %s: %s", t->key,
				      t->path, strerror(errno));
	if (t->value && st.st_mtim.tv_sec == t->mtime.tv_sec && st.st_mtim.tv_nsec == t->mtime.tv_nsec &&
	    (unsigned long)st.st_ino == t->ino)
		return KCSI_OK;
	if (!(v = kcsi_secret_file(t->path, true, t->key, err)))
		return err->code;
	free(t->value);
	t->value = v;
	t->mtime = st.st_mtim;
	t->ino = (unsigned long)st.st_ino;
	return KCSI_OK;
}

/* A token from a file: read now (an error when it cannot be). */
static kcsi_code token_from_file(struct rsp_token *t, const char *path, const char *key, kcsi_error *err)
{
	free(t->value);
	free(t->path);
	t->value = NULL;
	t->key = key;
	if (!(t->path = strdup(path)))
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	return token_reread(t, err);
}

char *rsp_token_now(struct rsp_token *t)
{
	char *v;
	kcsi_error e;
	pthread_mutex_lock(&t->lock);
	if (t->path)
		token_reread(t, &e); /* a rotation in progress: the last value still serves */
	v = t->value ? strdup(t->value) : NULL;
	pthread_mutex_unlock(&t->lock);
	return v;
}

void rsp_token_free(struct rsp_token *t)
{
	free(t->value);
	free(t->path);
	t->value = t->path = NULL;
}

void rsp_tls_now(const kcsi_tls *base, struct rsp_token *t, kcsi_tls *out, char **tok)
{
	*out = *base;
	*tok = t ? rsp_token_now(t) : NULL;
	out->token = *tok;
}

/* ---- warnings ---- */

static void warn(kcsi_responder *r, bool each_incident, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void warn(kcsi_responder *r, bool each_incident, const char *fmt, ...)
{
	char text[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	json_array_append_new(r->warnings, json_string(text));
	if (each_incident)
		json_array_append_new(r->incident_warnings, json_string(text));
}

size_t kcsi_respond_nwarnings(const kcsi_responder *r)
{
	return json_array_size(r->warnings);
}

const char *kcsi_respond_warning(const kcsi_responder *r, size_t i)
{
	return json_string_value(json_array_get(r->warnings, i));
}

/* ---- the Kubernetes API ---- */

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* kubernetes.in_cluster: the API from the environment, the service
 * account's token and CA.  Outside a pod (a configuration checked on a
 * workstation or in CI) this is only a warning here; starting fails. */
static kcsi_code load_in_cluster(kcsi_responder *r, kcsi_error *err)
{
	const char *h = getenv("KUBERNETES_SERVICE_HOST"), *p = getenv("KUBERNETES_SERVICE_PORT");
	kcsi_error e;
	if (!h || !p || !*h || !*p) {
		r->in_cluster_absent = true;
		warn(r, false, "kubernetes.in_cluster: KUBERNETES_SERVICE_HOST/PORT are not set (not in a pod): the "
			       "section's shape was checked, not the service account; kcsi respond will not start "
			       "like this");
		return KCSI_OK;
	}
	if (asprintf(&r->api, strchr(h, ':') ? "https://[%s]:%s" : "https://%s:%s", h, p) < 0)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	r->api_tls.cacert = strdup(SA_DIR "/ca.crt");
	kcsi_error_clear(&e);
	if (token_from_file(&r->api_token, SA_DIR "/token", "kubernetes.in_cluster (the service account token)", &e)) {
		if (e.code != KCSI_ERR_NOTFOUND) {
			*err = e;
			return e.code;
		}
		r->in_cluster_absent = true;
		warn(r, false, "kubernetes.in_cluster: no service account token at %s (automountServiceAccountToken: "
			       "false?): kcsi respond will not start like this", SA_DIR "/token");
	}
	return KCSI_OK;
}

/* kubernetes.kubeconfig: its context's server, CA, client certificate or token. */
static kcsi_code load_kubeconfig(kcsi_responder *r, json_t *s, const char *path, kcsi_error *err)
{
	const char *ctx;
	kcsi_code rc;
	if ((rc = kcsi_cfg_str(s, "context", &ctx, "kubernetes", err)))
		return rc;
	if ((rc = kcsi_kubeconfig_load(path, ctx, &r->kubeconfig, err))) {
		kcsi_error_prefix(err, "kubernetes.kubeconfig");
		return rc;
	}
	free(r->api);
	r->api = strdup(r->kubeconfig.server);
#define KDUP(f) (r->kubeconfig.f ? strdup(r->kubeconfig.f) : NULL)
	r->api_tls.cacert = KDUP(cacert);
	r->api_tls.cert = KDUP(cert);
	r->api_tls.key = KDUP(key);
#undef KDUP
	r->api_tls.insecure = r->kubeconfig.insecure;
	if (r->kubeconfig.token_file)
		return token_from_file(&r->api_token, r->kubeconfig.token_file, "kubernetes.kubeconfig tokenFile", err);
	if (r->kubeconfig.token && !(r->api_token.value = strdup(r->kubeconfig.token)))
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	return KCSI_OK;
}

static kcsi_code load_kube(kcsi_responder *r, json_t *s, kcsi_error *err)
{
	const char *v;
	kcsi_code rc;
	bool b;

	if ((rc = kcsi_cfg_bool(s, "in_cluster", false, &b, "kubernetes", err)))
		return rc;
	if (b && (rc = load_in_cluster(r, err)))
		return rc;
	if ((rc = kcsi_cfg_str(s, "kubeconfig", &v, "kubernetes", err)))
		return rc;
	if (v && b)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "kubernetes: in_cluster and kubeconfig: give one of them");
	if (v && (rc = load_kubeconfig(r, s, v, err)))
		return rc;
	if ((rc = kcsi_cfg_str(s, "api", &v, "kubernetes", err)))
		return rc;
	if (v) {
		free(r->api);
		r->api = strdup(v);
		r->in_cluster_absent = false;
	}
	if ((rc = kcsi_cfg_str(s, "token_file", &v, "kubernetes", err)))
		return rc;
	if (v && (rc = token_from_file(&r->api_token, v, "kubernetes.token_file", err)))
		return rc;
	if ((rc = cfg_path(s, "cacert", "kubernetes", &r->api_tls.cacert, err)) ||
	    (rc = cfg_path(s, "cert", "kubernetes", &r->api_tls.cert, err)) ||
	    (rc = cfg_path(s, "key", "kubernetes", &r->api_tls.key, err)) ||
	    (rc = kcsi_cfg_bool(s, "insecure_skip_verify", r->api_tls.insecure, &r->api_tls.insecure, "kubernetes", err)))
		return rc;
	if (r->api && r->api_tls.insecure)
		warn(r, true, "kubernetes: the API server's certificate is not verified (insecure_skip_verify): "
			      "whoever answers for its address gets the requests and their token");
	r->api_tls.timeout_s = 10;
	return KCSI_OK;
}

/* ---- the kubelet ---- */

/* The URL template's placeholders are {node}, {address} and {port}. */
static kcsi_code check_url_template(kcsi_responder *r, kcsi_error *err)
{
	static const char *const names[] = {"{node}", "{address}", "{port}"};
	const char *u = r->kubelet_url;
	if (strncmp(u, "https://", 8) && strncmp(u, "http://", 7))
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "kubelet.url \"%s\": https://... expected", u);
	for (const char *p = strchr(u, '{'); p; p = strchr(p + 1, '{')) {
		bool known = false;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			known |= !strncmp(p, names[i], strlen(names[i]));
		if (!known)
			return kcsi_error_set(err, KCSI_ERR_FORMAT,
					      "kubelet.url \"%s\": only {node}, {address} and {port} are replaced", u);
	}
	r->kubelet_by_address = strstr(u, "{address}") || strstr(u, "{port}");
	return KCSI_OK;
}

/* How the kubelet is authenticated to and verified. */
static kcsi_code kubelet_credentials(kcsi_responder *r, json_t *s, kcsi_error *err)
{
	const char *tf;
	bool sa;
	kcsi_code rc;

	if ((rc = kcsi_cfg_str(s, "cert", &r->kubelet_tls.cert, "kubelet", err)) ||
	    (rc = kcsi_cfg_str(s, "key", &r->kubelet_tls.key, "kubelet", err)) ||
	    (rc = kcsi_cfg_str(s, "cacert", &r->kubelet_tls.cacert, "kubelet", err)) ||
	    (rc = kcsi_cfg_bool(s, "insecure_skip_verify", false, &r->kubelet_tls.insecure, "kubelet", err)) ||
	    (rc = kcsi_cfg_str(s, "token_file", &tf, "kubelet", err)) ||
	    (rc = kcsi_cfg_bool(s, "service_account_token", false, &sa, "kubelet", err)))
		return rc;
	if (!r->kubelet_tls.cert != !r->kubelet_tls.key)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "kubelet: cert and key go together");
	if ((tf || sa) && r->kubelet_tls.cert)
		return kcsi_error_set(err, KCSI_ERR_FORMAT,
				      "kubelet: a client certificate (cert, key) or a token (token_file, "
				      "service_account_token): give one of them");
	if (tf && sa)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "kubelet: token_file and service_account_token: give one");
	if (r->kubelet_tls.cacert && r->kubelet_tls.insecure)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "kubelet: cacert and insecure_skip_verify: give one of them");
	if (tf && (rc = token_from_file(&r->kubelet_token, tf, "kubelet.token_file", err)))
		return rc;
	r->kubelet_tok = tf ? &r->kubelet_token : sa ? &r->api_token : NULL;
	if (sa && !r->api_token.value && !r->in_cluster_absent)
		return kcsi_error_set(err, KCSI_ERR_FORMAT,
				      "kubelet.service_account_token: the Kubernetes API has no token to send "
				      "(kubernetes.in_cluster, token_file or a kubeconfig token)");
	/* the kubelet's serving certificate: its CA, else the cluster's (which
	 * signs it when the kubelets bootstrap their serving certificates) */
	if (!r->kubelet_tls.cacert && !r->kubelet_tls.insecure)
		r->kubelet_tls.cacert = r->api_tls.cacert;
	if (r->kubelet_tls.insecure)
		warn(r, true, "kubelet: the kubelet's serving certificate is not verified (insecure_skip_verify)%s",
		     r->kubelet_tok ? ": whoever answers for a node's address gets the checkpoint request and its token"
				    : ": whoever answers for a node's address gets the checkpoint request");
	if (!r->kubelet_tls.cert && !r->kubelet_tok)
		warn(r, false, "kubelet: no client certificate and no token: only a kubelet that lets anonymous "
			       "requests checkpoint will do it");
	return KCSI_OK;
}

static kcsi_code load_kubelet(kcsi_responder *r, json_t *s, kcsi_error *err)
{
	kcsi_code rc;
	double d;

	if ((rc = kcsi_cfg_str(s, "url", &r->kubelet_url, "kubelet", err)) ||
	    (rc = kcsi_cfg_bool(s, "via_api_server", false, &r->kubelet_via_api, "kubelet", err)) ||
	    (rc = kcsi_cfg_num(s, "timeout", 60, 0, 3600, &d, "kubelet", err)))
		return rc;
	r->ckpt_timeout = (long)d;
	r->kubelet_nodes = s ? json_object_get(s, "nodes") : NULL;
	if (r->kubelet_nodes && !json_is_object(r->kubelet_nodes))
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "kubelet.nodes: a mapping NODE: URL expected");
	if (r->kubelet_via_api) {
		/* the API server's node proxy: its address, its TLS, its token */
		if (r->kubelet_url || r->kubelet_nodes || json_object_get(s, "cert") || json_object_get(s, "cacert") ||
		    json_object_get(s, "token_file") || json_object_get(s, "service_account_token") ||
		    json_object_get(s, "insecure_skip_verify"))
			return kcsi_error_set(err, KCSI_ERR_FORMAT,
					      "kubelet.via_api_server: the API server's node proxy is reached with the "
					      "kubernetes settings; url, nodes and the kubelet's TLS settings go without it");
		if (r->mode == MODE_KUBELET && !r->api && !r->in_cluster_absent)
			return kcsi_error_set(err, KCSI_ERR_FORMAT, "kubelet.via_api_server needs the Kubernetes API");
		r->kubelet_url = "";
		r->kubelet_tls = r->api_tls;
		r->kubelet_tok = &r->api_token;
	} else {
		if (!r->kubelet_url)
			r->kubelet_url = "https://{address}:{port}";
		if ((rc = check_url_template(r, err)))
			return rc;
		if (r->mode == MODE_KUBELET && (rc = kubelet_credentials(r, s, err)))
			return rc;
	}
	r->kubelet_tls.timeout_s = r->ckpt_timeout + 30;
	return KCSI_OK;
}

/* vault: the node agents' receipts */
static kcsi_code load_vault(kcsi_responder *r, json_t *s, kcsi_error *err)
{
	kcsi_code rc;
	if (!(r->want_receipts = s != NULL))
		return KCSI_OK;
	if ((rc = kcsi_cfg_str(s, "store", &r->vault_store, "vault", err)) ||
	    (rc = kcsi_cfg_num(s, "poll_interval", 10, 1, 3600, &r->receipt_poll_s, "vault", err)) ||
	    (rc = kcsi_cfg_num(s, "wait", 3600, 1, 86400 * 30, &r->receipt_wait_s, "vault", err)))
		return rc;
	if (r->mode != MODE_KUBELET)
		warn(r, false, "vault: receipts come from kcsi collect on the nodes, for archives the kubelet writes: "
			       "with checkpoint.mode %s none is waited for", r->mode == MODE_RECORD ? "record" : "podman");
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
	if (r->mode == MODE_KUBELET && !r->api && !r->in_cluster_absent)
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
	    (rc = load_checkpoint(r, section(cfg, "checkpoint"), err)) ||
	    (rc = load_kubelet(r, section(cfg, "kubelet"), err)) || (rc = load_vault(r, section(cfg, "vault"), err)))
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
	json_object_set_new(o, "kubelet_url", r->kubelet_via_api ? json_string("the API server's node proxy")
								 : rsp_jstr(r->kubelet_url));
	if (r->mode == MODE_KUBELET)
		json_object_set_new(o, "kubelet_auth", json_string(r->kubelet_tls.cert ? "client certificate"
								   : r->kubelet_tok == &r->api_token ? "service account token"
								   : r->kubelet_tok ? "token" : "none"));
	json_object_set_new(o, "vault_receipts", r->want_receipts ? json_pack("{s:o,s:f,s:f}", "store",
						 rsp_jstr(r->vault_store), "poll_interval", r->receipt_poll_s, "wait",
						 r->receipt_wait_s) : json_null());
	json_object_set_new(o, "cooldown_seconds", json_real(r->cooldown_s));
	json_object_set_new(o, "max_concurrent", json_integer(r->max_concurrent));
	json_object_set_new(o, "per_node", json_integer(r->per_node));
	json_object_set_new(o, "rules", json_integer((json_int_t)kcsi_policy_nrules(r->policy)));
	json_object_set_new(o, "hooks", json_pack("{s:o,s:o}", "vault", rsp_jstr(r->hook_vault), "analyze",
						       rsp_jstr(r->hook_analyze)));
	json_object_set_new(o, "notify", rsp_jstr(r->notify_url));
	json_object_set(o, "warnings", r->warnings);
	s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fprintf(f, "%s\n", s);
	free(s);
	json_decref(o);
}
