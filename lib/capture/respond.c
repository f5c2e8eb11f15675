/* kcsi — the responder: Falco alerts in, container checkpoints out.
 *
 * Flow (docs/respond.md has the whole story):
 *
 *   HTTP (libmicrohttpd, TLS optional)  \
 *   JSON lines from files/stdin          >- accept: auth, size bound, parse,
 *   JSON lines from a unix socket       /   name check -> writer
 *   writer   one thread; group commit: every event waiting is INSERTed in one
 *            SQLite transaction (WAL, synchronous=FULL); only then do the
 *            accepting threads reply.  Replays (same uuid or same body) are
 *            found by the UNIQUE key and acknowledged, not stored twice.
 *   decider  one thread; policy, exclusions, cooldown per container; in one
 *            transaction per batch: the job (if any) is inserted and the event
 *            marked handled, so a crash re-decides it or not at all.
 *   workers  checkpoint.max_concurrent threads; a job first learns its node
 *            (the pod's spec.nodeName, cached), then waits in that node's
 *            queue (checkpoint.per_node running at once per node); checkpoint,
 *            sha256, hooks (vault, analyze), label, notify, incident line.
 *
 * Restart: events not yet decided are decided, jobs not finished are run;
 * the cooldown is read back from the jobs table. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "kcsi/jsonw.h"
#include "capture/respond_int.h"
#include "base/util.h"

#define LINE_MAX_BYTES (1u << 20)

enum mode { MODE_KUBELET, MODE_RECORD, MODE_PODMAN };
enum { JOB_PENDING = 0, JOB_DONE = 2, JOB_FAILED = 3 };

/* ---- metrics ------------------------------------------------------------- */

#define NBUCKETS 14
static const double bucket_s[NBUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					  0.1,	  0.25,	 0.5,	 1,	2.5,  5,    10};

struct hist {
	atomic_uint_fast64_t b[NBUCKETS + 1];
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t sum_ns;
};

static void hist_add(struct hist *h, uint64_t ns)
{
	double s = (double)ns / 1e9;
	int i = 0;
	while (i < NBUCKETS && s > bucket_s[i])
		i++;
	atomic_fetch_add(&h->b[i], 1);
	atomic_fetch_add(&h->count, 1);
	atomic_fetch_add(&h->sum_ns, ns);
}

struct metrics {
	atomic_uint_fast64_t received, accepted, duplicate, rejected_auth, rejected_bad, rejected_unsafe,
		rejected_size, matched, deduplicated, excluded, unmatched, no_target, ckpt_ok, ckpt_failed,
		ckpt_skipped, label_ok, label_failed, label_skipped, notify_ok, notify_failed, notify_skipped,
		hooks_failed, jobs_pending, conns_open, conns_refused_client, conns_cut_headers,
		conns_cut_request;
	struct hist accept, to_request, checkpoint;
};

/* ---- the responder --------------------------------------------------------- */

struct sub; /* an event waiting for the writer */
struct conn; /* an HTTP connection */
struct dev; /* an event waiting for the decider */
struct job;

struct node_q {
	char name[254];
	struct job *head, *tail;
	int running;
	struct node_q *next;
};

struct pod_cache {
	char key[400], node[254], ctr[64];
	uint64_t at;
	struct pod_cache *next;
};

struct cool {
	char *target;
	uint64_t at;
	struct cool *next;
};

struct kcsi_responder {
	char *config_path;
	json_t *cfg;
	kcsi_policy *policy;
	/* listen */
	const char *address;
	int port;
	char *tls_cert_pem, *tls_key_pem, *client_ca_pem;
	/* auth */
	char *bearer, *hmac;
	bool mtls, allow_unauth;
	size_t max_body;
	/* inputs */
	json_t *files;
	const char *unix_socket;
	/* state */
	const char *state_dir;
	char db_path[4096];
	sqlite3 *db;
	pthread_mutex_t db_lock;
	/* logging */
	FILE *log;
	FILE *incidents;
	pthread_mutex_t log_lock;
	bool debug;
	/* kubernetes & kubelet */
	enum mode mode;
	bool dry_run;
	char *api;
	kcsi_tls api_tls;
	char *api_token;
	const char *kubelet_url;
	json_t *kubelet_nodes;
	kcsi_tls kubelet_tls;
	long ckpt_timeout;
	double cooldown_s;
	int max_concurrent, per_node, attempts;
	const char *podman_dir;
	const char *label_key;
	const char *notify_url;
	const char *hook_vault, *hook_analyze;
	double hook_timeout;
	/* run state */
	atomic_bool stopping;
	atomic_bool ready;
	struct metrics m;
	pthread_mutex_t q_lock;
	pthread_cond_t q_cond;      /* writer: submissions; decider: events */
	pthread_cond_t w_cond;      /* workers */
	struct sub *subs, *subs_tail;
	struct dev *devs, *devs_tail;
	struct job *unresolved, *unresolved_tail;
	struct node_q *nodes;
	struct pod_cache *pods;
	struct cool *cools;
	int workers_busy;
	bool writer_done, decider_done;
	int inputs_running;
	pthread_t writer_t, decider_t, *worker_t, *input_t, sock_t;
	size_t ninputs;
	int sock_fd;
	struct MHD_Daemon *mhd;
	/* HTTP connections: limits and deadlines (see "HTTP connections") */
	int max_conns, max_conns_per_client;
	double header_timeout_s, request_timeout_s;
	pthread_mutex_t conn_lock;
	struct conn *conns;
	atomic_uint_fast64_t flood_sec, flood_skipped; /* log lines a flood repeats: one a second */
	atomic_int unix_conns; /* connections being read on inputs.unix_socket */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void iso_time(uint64_t ns, char *buf, size_t cap)
{
	time_t s = (time_t)(ns / 1000000000u);
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, cap - n, ".%06uZ", (unsigned)(ns % 1000000000u / 1000));
}

/* A structured log line: {"time", "level", "msg", then key/value pairs
 * given as ("key", json_t*) pairs ending with NULL; the values are stolen. */
static void logj(kcsi_responder *r, const char *level, const char *msg, ...)
{
	va_list ap;
	json_t *o;
	char t[40], *s;
	const char *k;
	if (!strcmp(level, "debug") && !r->debug) {
		va_start(ap, msg);
		while ((k = va_arg(ap, const char *)))
			json_decref(va_arg(ap, json_t *));
		va_end(ap);
		return;
	}
	iso_time(now_ns(), t, sizeof(t));
	o = json_object();
	json_object_set_new(o, "time", json_string(t));
	json_object_set_new(o, "level", json_string(level));
	json_object_set_new(o, "msg", json_string(msg));
	va_start(ap, msg);
	while ((k = va_arg(ap, const char *))) {
		json_t *v = va_arg(ap, json_t *);
		json_object_set_new(o, k, v ? v : json_null());
	}
	va_end(ap);
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	pthread_mutex_lock(&r->log_lock);
	if (s)
		fprintf(r->log, "%s\n", s);
	fflush(r->log);
	pthread_mutex_unlock(&r->log_lock);
	free(s);
	json_decref(o);
}

static json_t *jshown(const char *s, size_t n);

/* End s before its first byte that does not begin a whole UTF-8 sequence:
 * alert text cut to fit a buffer must stay text (JSON, labels, logs). */
static void utf8_cut(char *s)
{
	size_t n = 0, len = strlen(s), l;
	while (n < len && (l = kcsi_utf8_seq((const unsigned char *)s + n, len - n)))
		n += l;
	s[n] = '\0';
}

/* A string for the logs and the incident: null for NULL; text that is not
 * UTF-8 (a message quoting a hostile reply) shown escaped, not dropped. */
static json_t *jstr(const char *s)
{
	json_t *v;
	if (!s)
		return json_null();
	v = json_string(s);
	return v ? v : jshown(s, strlen(s));
}

/* A bounded, printable copy of untrusted text for logs. */
static json_t *jshown(const char *s, size_t n)
{
	char buf[200];
	size_t o = 0;
	for (size_t i = 0; i < n && o + 5 < sizeof(buf); i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f)
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\\x%02x", c);
	}
	buf[o] = '\0';
	return json_string(buf);
}

/* A refusal as the HTTP reply body: {"accepted": false, K: V}. */
static char *jmsg(const char *k, const char *v)
{
	json_t *o = json_pack("{s:b,s:s}", "accepted", 0, k, v);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

/* ---- files --------------------------------------------------------------- */

static char *read_file(const char *path, size_t max, size_t *len, kcsi_error *err)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;
	if (!f) {
		kcsi_error_set(err, KCSI_ERR_IO, "%s: cannot open: %m", path);
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
	char where[4400], *s = read_file(path, 8192, &n, err);
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

/* ---- config -------------------------------------------------------------- */

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
	char *text = read_file(path, 1 << 20, &len, err), dir[4096];
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

static kcsi_code load_config(kcsi_responder *r, kcsi_error *err)
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
	json_t *cfg = r->cfg, *s;
	kcsi_code rc;
	const char *v;
	double d;
	bool b;

	if ((rc = check_keys(cfg, "config", top, err)) ||
	    (rc = check_keys(section(cfg, "listen"), "listen", k_listen, err)) ||
	    (rc = check_keys(section(cfg, "auth"), "auth", k_auth, err)) ||
	    (rc = check_keys(section(cfg, "inputs"), "inputs", k_inputs, err)) ||
	    (rc = check_keys(section(cfg, "kubernetes"), "kubernetes", k_kube, err)) ||
	    (rc = check_keys(section(cfg, "kubelet"), "kubelet", k_kubelet, err)) ||
	    (rc = check_keys(section(cfg, "checkpoint"), "checkpoint", k_ckpt, err)) ||
	    (rc = check_keys(section(cfg, "label"), "label", k_label, err)) ||
	    (rc = check_keys(section(cfg, "notify"), "notify", k_notify, err)) ||
	    (rc = check_keys(section(cfg, "hooks"), "hooks", k_hooks, err)))
		return rc;
	if ((rc = kcsi_policy_from_json(cfg, "rules", &r->policy, err)))
		return rc;

	/* listen */
	s = section(cfg, "listen");
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
	if ((rc = kcsi_cfg_str(s, "tls_cert", &v, "listen", err)))
		return rc;
	if (v && !(r->tls_cert_pem = read_file(v, 1 << 20, NULL, err)))
		return err->code;
	if ((rc = kcsi_cfg_str(s, "tls_key", &v, "listen", err)))
		return rc;
	if (v && !(r->tls_key_pem = read_file(v, 1 << 20, NULL, err)))
		return err->code;
	if (!r->tls_cert_pem != !r->tls_key_pem)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "listen: tls_cert and tls_key go together");
	if ((rc = kcsi_cfg_str(s, "client_ca", &v, "listen", err)))
		return rc;
	if (v && !(r->client_ca_pem = read_file(v, 1 << 20, NULL, err)))
		return err->code;
	if (r->client_ca_pem && !r->tls_cert_pem)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "listen: client_ca needs tls_cert and tls_key");
	if (r->tls_cert_pem && (rc = check_tls(r, err)))
		return rc;

	/* auth */
	s = section(cfg, "auth");
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

	/* inputs */
	s = section(cfg, "inputs");
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

	/* state, logs */
	if ((rc = kcsi_cfg_str(cfg, "state_dir", &r->state_dir, "config", err)))
		return rc;
	if (!r->state_dir)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "state_dir: needed (the event queue lives there)");
	if ((rc = kcsi_cfg_str(cfg, "log_level", &v, "config", err)))
		return rc;
	r->debug = v && !strcmp(v, "debug");

	/* kubernetes API */
	s = section(cfg, "kubernetes");
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
	if ((rc = kcsi_cfg_str(s, "cacert", &v, "kubernetes", err)))
		return rc;
	if (v)
		r->api_tls.cacert = strdup(v);
	if ((rc = kcsi_cfg_str(s, "cert", &v, "kubernetes", err)))
		return rc;
	if (v)
		r->api_tls.cert = strdup(v);
	if ((rc = kcsi_cfg_str(s, "key", &v, "kubernetes", err)))
		return rc;
	if (v)
		r->api_tls.key = strdup(v);
	if ((rc = kcsi_cfg_bool(s, "insecure", false, &r->api_tls.insecure, "kubernetes", err)))
		return rc;
	r->api_tls.token = r->api_token;
	r->api_tls.timeout_s = 10;

	/* kubelet */
	s = section(cfg, "kubelet");
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

	/* checkpoint */
	s = section(cfg, "checkpoint");
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

kcsi_code kcsi_respond_open(const char *config, kcsi_responder **out, kcsi_error *err)
{
	kcsi_responder *r = calloc(1, sizeof(*r));
	size_t len;
	char *text;
	kcsi_code rc;

	*out = NULL;
	if (!r)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	r->config_path = strdup(config);
	r->log = stderr;
	r->sock_fd = -1;
	pthread_mutex_init(&r->db_lock, NULL);
	pthread_mutex_init(&r->log_lock, NULL);
	pthread_mutex_init(&r->q_lock, NULL);
	pthread_mutex_init(&r->conn_lock, NULL);
	pthread_cond_init(&r->q_cond, NULL);
	pthread_cond_init(&r->w_cond, NULL);
	text = read_file(config, 1 << 20, &len, err);
	if (!text) {
		kcsi_respond_close(r);
		return err->code;
	}
	r->cfg = kcsi_yaml_load(text, len, config, err);
	free(text);
	if (!r->cfg || !json_is_object(r->cfg)) {
		rc = r->cfg ? kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: a mapping expected", config) : err->code;
		kcsi_respond_close(r);
		return rc;
	}
	if ((rc = load_config(r, err))) {
		kcsi_error_prefix(err, "%s", config);
		kcsi_respond_close(r);
		return rc;
	}
	*out = r;
	return KCSI_OK;
}

const kcsi_policy *kcsi_respond_policy(const kcsi_responder *r)
{
	return r->policy;
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
	json_object_set_new(o, "unix_socket", jstr(r->unix_socket));
	json_object_set_new(o, "state_dir", json_string(r->state_dir));
	json_object_set_new(o, "mode", json_string(modes[r->mode]));
	json_object_set_new(o, "dry_run", json_boolean(r->dry_run));
	json_object_set_new(o, "kubernetes_api", jstr(r->api));
	json_object_set_new(o, "kubelet_url", jstr(r->kubelet_url));
	json_object_set_new(o, "cooldown_seconds", json_real(r->cooldown_s));
	json_object_set_new(o, "max_concurrent", json_integer(r->max_concurrent));
	json_object_set_new(o, "per_node", json_integer(r->per_node));
	json_object_set_new(o, "rules", json_integer((json_int_t)kcsi_policy_nrules(r->policy)));
	json_object_set_new(o, "hooks", json_pack("{s:o,s:o}", "vault", jstr(r->hook_vault), "analyze",
						   jstr(r->hook_analyze)));
	json_object_set_new(o, "notify", jstr(r->notify_url));
	s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fprintf(f, "%s\n", s);
	free(s);
	json_decref(o);
}

/* ---- database ------------------------------------------------------------- */

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=FULL;"
	"CREATE TABLE IF NOT EXISTS events("
	" id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, received_ns INTEGER NOT NULL,"
	" input TEXT, body TEXT NOT NULL, state INTEGER NOT NULL DEFAULT 0, decision TEXT, job INTEGER);"
	"CREATE INDEX IF NOT EXISTS events_state ON events(state) WHERE state = 0;"
	"CREATE TABLE IF NOT EXISTS jobs("
	" id INTEGER PRIMARY KEY, target TEXT NOT NULL, ns TEXT, pod TEXT, container TEXT,"
	" container_id TEXT, node TEXT, event INTEGER NOT NULL, rule TEXT, priority TEXT, policy_rule TEXT,"
	" actions INTEGER NOT NULL, received_ns INTEGER, created_ns INTEGER NOT NULL,"
	" state INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, incident TEXT,"
	" archive TEXT, sha256 TEXT, error TEXT, requested_ns INTEGER, done_ns INTEGER, record TEXT);"
	"CREATE INDEX IF NOT EXISTS jobs_target ON jobs(target, created_ns);"
	"CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state) WHERE state = 0;"
	"CREATE TABLE IF NOT EXISTS requests("
	" id INTEGER PRIMARY KEY, job INTEGER NOT NULL UNIQUE, node TEXT, url TEXT, at_ns INTEGER);";

static kcsi_code db_open(kcsi_responder *r, kcsi_error *err)
{
	char *msg = NULL;
	if (mkdir(r->state_dir, 0700) && errno != EEXIST)
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: cannot create: %m", r->state_dir);
	snprintf(r->db_path, sizeof(r->db_path), "%s/queue.db", r->state_dir);
	if (sqlite3_open_v2(r->db_path, &r->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK)
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", r->db_path, sqlite3_errmsg(r->db));
	sqlite3_busy_timeout(r->db, 5000);
	if (sqlite3_exec(r->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", r->db_path, msg ? msg : "schema");
		sqlite3_free(msg);
		return KCSI_ERR_IO;
	}
	return KCSI_OK;
}

static bool db_exec(kcsi_responder *r, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(r->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		logj(r, "error", "database", "sql", json_string(sql), "error", json_string(msg ? msg : "?"), NULL);
		sqlite3_free(msg);
		return false;
	}
	return true;
}

/* ---- accept: submissions to the writer ------------------------------------ */

struct sub {
	char key[80];
	const char *input;
	const char *body;
	size_t len;
	uint64_t received_ns, t0;
	kcsi_falco_event ev; /* moved to the decider when new */
	/* result */
	bool done, ok, dup;
	int64_t id;
	struct sub *next;
	pthread_cond_t cond;
};

struct dev {
	int64_t id;
	uint64_t received_ns, t0; /* t0: monotonic time of receipt (0 after a restart) */
	kcsi_falco_event ev;
	struct dev *next;
};

static void event_key(const kcsi_falco_event *ev, const char *body, size_t len, char key[80])
{
	unsigned char d[32];
	if (ev->uuid && *ev->uuid && strlen(ev->uuid) < 64) {
		snprintf(key, 80, "uuid:%s", ev->uuid);
		return;
	}
	gnutls_hash_fast(GNUTLS_DIG_SHA256, body, len, d);
	memcpy(key, "sha256:", 7);
	for (int i = 0; i < 32; i++)
		snprintf(key + 7 + 2 * i, 3, "%02x", d[i]);
}

/* Parse, check and store one alert.  Returns the HTTP status to answer
 * with and a reply body (malloc'd).  Blocks until the event is durable. */
static int accept_event(kcsi_responder *r, const char *input, const char *body, size_t len, uint64_t t0,
			char **reply)
{
	struct sub s;
	kcsi_error err;
	kcsi_code rc;

	atomic_fetch_add(&r->m.received, 1);
	memset(&s, 0, sizeof(s));
	kcsi_error_clear(&err);
	rc = kcsi_falco_parse(body, len, &s.ev, &err);
	if (rc) {
		if (rc == KCSI_ERR_UNSAFE)
			atomic_fetch_add(&r->m.rejected_unsafe, 1);
		else
			atomic_fetch_add(&r->m.rejected_bad, 1);
		logj(r, "warning", "alert refused", "input", json_string(input), "reason", json_string(err.msg),
		     "body", jshown(body, len < 160 ? len : 160), NULL);
		*reply = jmsg("error", err.msg);
		return rc == KCSI_ERR_UNSAFE ? 422 : 400;
	}
	if (atomic_load(&r->stopping)) {
		kcsi_falco_free(&s.ev);
		*reply = strdup("{\"accepted\": false, \"error\": \"shutting down\"}");
		return 503;
	}
	event_key(&s.ev, body, len, s.key);
	s.input = input;
	s.body = body;
	s.len = len;
	s.received_ns = now_ns();
	s.t0 = t0;
	pthread_cond_init(&s.cond, NULL);
	pthread_mutex_lock(&r->q_lock);
	if (r->writer_done) {
		pthread_mutex_unlock(&r->q_lock);
		kcsi_falco_free(&s.ev);
		*reply = strdup("{\"accepted\": false, \"error\": \"shutting down\"}");
		return 503;
	}
	if (r->subs_tail)
		r->subs_tail->next = &s;
	else
		r->subs = &s;
	r->subs_tail = &s;
	pthread_cond_broadcast(&r->q_cond);
	while (!s.done)
		pthread_cond_wait(&s.cond, &r->q_lock);
	pthread_mutex_unlock(&r->q_lock);
	pthread_cond_destroy(&s.cond);
	if (!s.ok) {
		kcsi_falco_free(&s.ev);
		*reply = strdup("{\"accepted\": false, \"error\": \"the event queue cannot be written\"}");
		return 503;
	}
	if (s.dup) {
		atomic_fetch_add(&r->m.duplicate, 1);
		kcsi_falco_free(&s.ev);
	} else {
		atomic_fetch_add(&r->m.accepted, 1);
	}
	hist_add(&r->m.accept, mono_ns() - t0);
	if (asprintf(reply, "{\"accepted\": true, \"id\": %" PRId64 ", \"duplicate\": %s}", s.id,
		     s.dup ? "true" : "false") < 0)
		*reply = NULL;
	return 200;
}

static void push_dev(kcsi_responder *r, struct dev *d)
{
	if (r->devs_tail)
		r->devs_tail->next = d;
	else
		r->devs = d;
	r->devs_tail = d;
}

static void *writer_main(void *arg)
{
	kcsi_responder *r = arg;
	sqlite3_stmt *ins = NULL, *sel = NULL;

	sqlite3_prepare_v2(r->db, "INSERT OR IGNORE INTO events(key, received_ns, input, body) VALUES(?,?,?,?)", -1,
			   &ins, NULL);
	sqlite3_prepare_v2(r->db, "SELECT id FROM events WHERE key = ?", -1, &sel, NULL);
	pthread_mutex_lock(&r->q_lock);
	for (;;) {
		while (!r->subs && !(atomic_load(&r->stopping) && r->inputs_running == 0))
			pthread_cond_wait(&r->q_cond, &r->q_lock);
		if (!r->subs)
			break;
		struct sub *batch = r->subs;
		r->subs = r->subs_tail = NULL;
		pthread_mutex_unlock(&r->q_lock);

		bool ok;
		pthread_mutex_lock(&r->db_lock);
		ok = db_exec(r, "BEGIN IMMEDIATE");
		for (struct sub *s = batch; ok && s; s = s->next) {
			sqlite3_reset(ins);
			sqlite3_bind_text(ins, 1, s->key, -1, SQLITE_STATIC);
			sqlite3_bind_int64(ins, 2, (sqlite3_int64)s->received_ns);
			sqlite3_bind_text(ins, 3, s->input, -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 4, s->body, (int)s->len, SQLITE_STATIC);
			if (sqlite3_step(ins) != SQLITE_DONE) {
				ok = false;
				break;
			}
			if (sqlite3_changes(r->db) == 1) {
				s->id = sqlite3_last_insert_rowid(r->db);
			} else {
				s->dup = true;
				sqlite3_reset(sel);
				sqlite3_bind_text(sel, 1, s->key, -1, SQLITE_STATIC);
				if (sqlite3_step(sel) == SQLITE_ROW)
					s->id = sqlite3_column_int64(sel, 0);
			}
		}
		if (ok)
			ok = db_exec(r, "COMMIT");
		else {
			logj(r, "error", "event queue insert failed", "error", json_string(sqlite3_errmsg(r->db)), NULL);
			db_exec(r, "ROLLBACK");
		}
		pthread_mutex_unlock(&r->db_lock);

		pthread_mutex_lock(&r->q_lock);
		for (struct sub *s = batch, *next; s; s = next) {
			next = s->next;
			s->ok = ok;
			if (ok && !s->dup) {
				struct dev *d = calloc(1, sizeof(*d));
				if (d) {
					d->id = s->id;
					d->received_ns = s->received_ns;
					d->t0 = s->t0;
					d->ev = s->ev; /* moved */
					memset(&s->ev, 0, sizeof(s->ev));
					push_dev(r, d);
				}
				/* without memory the event stays undecided in the queue: next start */
			}
			s->done = true;
			pthread_cond_signal(&s->cond);
		}
		pthread_cond_broadcast(&r->q_cond);
	}
	r->writer_done = true;
	pthread_cond_broadcast(&r->q_cond);
	pthread_mutex_unlock(&r->q_lock);
	sqlite3_finalize(ins);
	sqlite3_finalize(sel);
	return NULL;
}

/* ---- decide ----------------------------------------------------------------- */

struct job {
	int64_t id, event;
	char target[400];
	char ns[64], pod[254], container[64], container_id[65], node[254];
	char rule[512], priority[32], policy_rule[128], hostname[254];
	unsigned actions;
	uint64_t received_ns, t0;
	int attempts;
	struct job *next;
};

static struct cool *cool_find(kcsi_responder *r, const char *target)
{
	for (struct cool *c = r->cools; c; c = c->next)
		if (!strcmp(c->target, target))
			return c;
	return NULL;
}

/* Forget cooldown entries that expired (called now and then). */
static void cool_prune(kcsi_responder *r, uint64_t now)
{
	uint64_t win = (uint64_t)(r->cooldown_s * 1e9);
	for (struct cool **pp = &r->cools; *pp;) {
		if (now - (*pp)->at > win) {
			struct cool *c = *pp;
			*pp = c->next;
			free(c->target);
			free(c);
		} else {
			pp = &(*pp)->next;
		}
	}
}

static void push_job(kcsi_responder *r, struct job *j)
{
	if (r->unresolved_tail)
		r->unresolved_tail->next = j;
	else
		r->unresolved = j;
	r->unresolved_tail = j;
	atomic_fetch_add(&r->m.jobs_pending, 1);
}

/* Decide one event; may fill *jp with a new job (not yet stored). */
static json_t *decide(kcsi_responder *r, struct dev *d, struct job **jp)
{
	kcsi_falco_event *ev = &d->ev;
	kcsi_decision dec;
	json_t *o = json_object();
	char target[400];
	uint64_t now = now_ns();

	*jp = NULL;
	kcsi_policy_decide(r->policy, ev, &dec);
	json_object_set_new(o, "rule", json_string(ev->rule));
	if (dec.excluded) {
		atomic_fetch_add(&r->m.excluded, 1);
		json_object_set_new(o, "result", json_string("excluded"));
		json_object_set_new(o, "by", json_string(dec.excluded));
		return o;
	}
	if (!dec.actions) {
		atomic_fetch_add(&r->m.unmatched, 1);
		json_object_set_new(o, "result", json_string("no rule matched"));
		return o;
	}
	atomic_fetch_add(&r->m.matched, 1);
	json_object_set_new(o, "policy_rule", json_string(dec.policy_rule));
	if (!ev->has_pod && (dec.actions & (KCSI_ACT_CHECKPOINT | KCSI_ACT_LABEL)) &&
	    !(r->mode == MODE_PODMAN && (ev->container_id[0] || kcsi_falco_field(ev, "container.name", target, 8)))) {
		atomic_fetch_add(&r->m.no_target, 1);
		json_object_set_new(o, "result", json_string("no target"));
		json_object_set_new(o, "reason", jstr(ev->reason));
		if (!(dec.actions & KCSI_ACT_NOTIFY))
			return o;
		/* the job notifies; its incident says why the rest was skipped */
	}
	if (ev->has_container)
		snprintf(target, sizeof(target), "%s/%s/%s", ev->ns, ev->pod, ev->container);
	else if (ev->has_pod && ev->container_id[0])
		snprintf(target, sizeof(target), "%s/%s/id:%s", ev->ns, ev->pod, ev->container_id);
	else if (ev->has_pod)
		snprintf(target, sizeof(target), "%s/%s/-", ev->ns, ev->pod);
	else if (r->mode == MODE_PODMAN && ev->container_id[0])
		snprintf(target, sizeof(target), "podman/id:%s", ev->container_id);
	else if (r->mode == MODE_PODMAN) {
		char buf[8];
		snprintf(target, sizeof(target), "podman/%s", kcsi_falco_field(ev, "container.name", buf, sizeof(buf)));
	} else
		snprintf(target, sizeof(target), "host:%s:%s", ev->hostname ? ev->hostname : "-", ev->rule);
	utf8_cut(target);
	json_object_set_new(o, "target", json_string(target));
	struct cool *c = cool_find(r, target);
	if (c && now - c->at < (uint64_t)(r->cooldown_s * 1e9)) {
		atomic_fetch_add(&r->m.deduplicated, 1);
		json_object_set_new(o, "result", json_string("deduplicated"));
		return o;
	}
	struct job *j = calloc(1, sizeof(*j));
	if (!j) {
		json_object_set_new(o, "result", json_string("out of memory"));
		return o;
	}
	snprintf(j->target, sizeof(j->target), "%s", target);
	snprintf(j->ns, sizeof(j->ns), "%s", ev->ns);
	snprintf(j->pod, sizeof(j->pod), "%s", ev->pod);
	snprintf(j->container, sizeof(j->container), "%s", ev->container);
	snprintf(j->container_id, sizeof(j->container_id), "%s", ev->container_id);
	if (r->mode == MODE_PODMAN && !ev->has_container && !ev->container_id[0]) {
		char buf[8];
		const char *cn = kcsi_falco_field(ev, "container.name", buf, sizeof(buf));
		snprintf(j->container, sizeof(j->container), "%.63s", cn ? cn : "");
		utf8_cut(j->container);
	}
	snprintf(j->rule, sizeof(j->rule), "%s", ev->rule);
	snprintf(j->priority, sizeof(j->priority), "%s", kcsi_priority_name(ev->priority));
	snprintf(j->policy_rule, sizeof(j->policy_rule), "%s", dec.policy_rule);
	snprintf(j->hostname, sizeof(j->hostname), "%s", ev->hostname ? ev->hostname : "");
	utf8_cut(j->rule);
	utf8_cut(j->policy_rule);
	utf8_cut(j->hostname);
	j->actions = dec.actions;
	j->event = d->id;
	j->received_ns = d->received_ns;
	j->t0 = d->t0;
	json_object_set_new(o, "result", json_string("job"));
	*jp = j;
	return o;
}

static void *decider_main(void *arg)
{
	kcsi_responder *r = arg;
	sqlite3_stmt *upd = NULL, *ins = NULL;
	uint64_t last_prune = 0;

	sqlite3_prepare_v2(r->db, "UPDATE events SET state = 1, decision = ?, job = ? WHERE id = ?", -1, &upd, NULL);
	sqlite3_prepare_v2(r->db,
			   "INSERT INTO jobs(target, ns, pod, container, container_id, event, rule, priority, "
			   "policy_rule, actions, received_ns, created_ns) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
			   -1, &ins, NULL);
	pthread_mutex_lock(&r->q_lock);
	for (;;) {
		while (!r->devs && !r->writer_done)
			pthread_cond_wait(&r->q_cond, &r->q_lock);
		if (!r->devs && r->writer_done)
			break;
		struct dev *batch = r->devs;
		r->devs = r->devs_tail = NULL;
		pthread_mutex_unlock(&r->q_lock);

		struct job *jobs = NULL, **jtail = &jobs;
		uint64_t now = now_ns();
		if (now - last_prune > 10000000000ull) {
			cool_prune(r, now);
			last_prune = now;
		}
		pthread_mutex_lock(&r->db_lock);
		bool ok = db_exec(r, "BEGIN IMMEDIATE");
		for (struct dev *d = batch; ok && d; d = d->next) {
			struct job *j;
			json_t *dec = decide(r, d, &j);
			if (j) {
				sqlite3_reset(ins);
				sqlite3_bind_text(ins, 1, j->target, -1, SQLITE_STATIC);
				sqlite3_bind_text(ins, 2, j->ns, -1, SQLITE_STATIC);
				sqlite3_bind_text(ins, 3, j->pod, -1, SQLITE_STATIC);
				sqlite3_bind_text(ins, 4, j->container, -1, SQLITE_STATIC);
				sqlite3_bind_text(ins, 5, j->container_id, -1, SQLITE_STATIC);
				sqlite3_bind_int64(ins, 6, j->event);
				sqlite3_bind_text(ins, 7, j->rule, -1, SQLITE_STATIC);
				sqlite3_bind_text(ins, 8, j->priority, -1, SQLITE_STATIC);
				sqlite3_bind_text(ins, 9, j->policy_rule, -1, SQLITE_STATIC);
				sqlite3_bind_int(ins, 10, (int)j->actions);
				sqlite3_bind_int64(ins, 11, (sqlite3_int64)j->received_ns);
				sqlite3_bind_int64(ins, 12, (sqlite3_int64)now);
				if (sqlite3_step(ins) != SQLITE_DONE) {
					ok = false;
					free(j);
					json_decref(dec);
					break;
				}
				j->id = sqlite3_last_insert_rowid(r->db);
				struct cool *c = cool_find(r, j->target);
				if (!c && (c = calloc(1, sizeof(*c)))) {
					c->target = strdup(j->target);
					c->next = r->cools;
					r->cools = c;
				}
				if (c)
					c->at = now;
				*jtail = j;
				jtail = &j->next;
			}
			char *ds = json_dumps(dec, JSON_COMPACT | JSON_PRESERVE_ORDER);
			logj(r, "debug", "event decided", "event", json_integer(d->id), "decision", dec, NULL);
			sqlite3_reset(upd);
			sqlite3_bind_text(upd, 1, ds, -1, SQLITE_TRANSIENT);
			if (j)
				sqlite3_bind_int64(upd, 2, j->id);
			else
				sqlite3_bind_null(upd, 2);
			sqlite3_bind_int64(upd, 3, d->id);
			free(ds);
			if (sqlite3_step(upd) != SQLITE_DONE)
				ok = false;
		}
		if (ok)
			ok = db_exec(r, "COMMIT");
		if (!ok) {
			logj(r, "error", "decisions could not be stored; the events stay queued for the next start",
			     "error", json_string(sqlite3_errmsg(r->db)), NULL);
			db_exec(r, "ROLLBACK");
			/* the in-memory cooldown may now hold targets of jobs never stored:
			 * harmless (those events are decided again at the next start) */
			for (struct job *j = jobs, *n; j; j = n) {
				n = j->next;
				free(j);
			}
			jobs = NULL;
		}
		pthread_mutex_unlock(&r->db_lock);
		for (struct dev *d = batch, *n; d; d = n) {
			n = d->next;
			kcsi_falco_free(&d->ev);
			free(d);
		}
		pthread_mutex_lock(&r->q_lock);
		for (struct job *j = jobs, *n; j; j = n) {
			n = j->next;
			j->next = NULL;
			push_job(r, j);
		}
		pthread_cond_broadcast(&r->w_cond);
	}
	r->decider_done = true;
	pthread_cond_broadcast(&r->w_cond);
	pthread_mutex_unlock(&r->q_lock);
	sqlite3_finalize(upd);
	sqlite3_finalize(ins);
	return NULL;
}

/* ---- act ------------------------------------------------------------------ */

/* Run a hook: the template split on spaces, {archive} {incident} {namespace}
 * {pod} {container} {node} {sha256} {rule} replaced inside each word (no
 * shell, so no value can become a command).  stdout goes to out_path. */
static json_t *run_hook(kcsi_responder *r, const char *tmpl, const char *out_path, const char *const *vars)
{
	char *argv[64], *copy = strdup(tmpl), *save = NULL;
	int argc = 0, status = 0;
	pid_t pid;
	json_t *res = json_object();
	uint64_t start = mono_ns();

	for (char *w = strtok_r(copy, " \t", &save); w && argc < 63; w = strtok_r(NULL, " \t", &save)) {
		kcsi_buf b;
		kcsi_buf_init(&b, 1 << 16);
		for (const char *p = w; *p;) {
			bool hit = false;
			if (*p == '{') {
				for (int i = 0; vars[i]; i += 2) {
					size_t kl = strlen(vars[i]);
					if (!strncmp(p + 1, vars[i], kl) && p[1 + kl] == '}') {
						kcsi_buf_add(&b, vars[i + 1], strlen(vars[i + 1]));
						p += kl + 2;
						hit = true;
						break;
					}
				}
			}
			if (!hit)
				kcsi_buf_addc(&b, *p++);
		}
		argv[argc++] = strdup(kcsi_buf_str(&b));
		kcsi_buf_free(&b);
	}
	argv[argc] = NULL;
	free(copy);
	json_object_set_new(res, "command", json_string(tmpl));
	if (!argc) {
		json_object_set_new(res, "error", json_string("empty command"));
		return res;
	}
	pid = fork();
	if (pid == 0) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int dn = open("/dev/null", O_RDONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (dn >= 0)
			dup2(dn, 0);
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		execvp(argv[0], argv);
		dprintf(2, "cannot run %s: %m\n", argv[0]);
		_exit(127);
	}
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	if (pid < 0) {
		json_object_set_new(res, "error", json_string("fork failed"));
		return res;
	}
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			break;
		if ((double)(mono_ns() - start) / 1e9 > r->hook_timeout) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			json_object_set_new(res, "error", json_string("timed out"));
			break;
		}
		usleep(5000);
	}
	json_object_set_new(res, "exit", json_integer(WIFEXITED(status) ? WEXITSTATUS(status) : -1));
	json_object_set_new(res, "output", json_string(out_path));
	json_object_set_new(res, "seconds", json_real((double)(mono_ns() - start) / 1e9));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		atomic_fetch_add(&r->m.hooks_failed, 1);
	return res;
}

static bool kubelet_base(kcsi_responder *r, const char *node, char *out, size_t cap)
{
	json_t *v = r->kubelet_nodes ? json_object_get(r->kubelet_nodes, node) : NULL;
	if (v && json_is_string(v)) {
		snprintf(out, cap, "%s", json_string_value(v));
		return true;
	}
	const char *p = strstr(r->kubelet_url, "{node}");
	if (!p) {
		snprintf(out, cap, "%s", r->kubelet_url);
		return true;
	}
	if (!kcsi_dns1123_subdomain(node))
		return false;
	snprintf(out, cap, "%.*s%s%s", (int)(p - r->kubelet_url), r->kubelet_url, node, p + 6);
	return true;
}

/* Resolve node (and container name when only the ID is known). */
static kcsi_code resolve(kcsi_responder *r, struct job *j, kcsi_error *err)
{
	char key[400];
	uint64_t now = mono_ns();
	if (r->mode == MODE_PODMAN) {
		snprintf(j->node, sizeof(j->node), "local");
		return KCSI_OK;
	}
	if (!j->pod[0]) {
		snprintf(j->node, sizeof(j->node), "-");
		return KCSI_OK;
	}
	snprintf(key, sizeof(key), "%s/%s/%s", j->ns, j->pod, j->container_id);
	pthread_mutex_lock(&r->q_lock);
	for (struct pod_cache *p = r->pods; p; p = p->next)
		if (!strcmp(p->key, key) && now - p->at < 30000000000ull) {
			snprintf(j->node, sizeof(j->node), "%s", p->node);
			if (!j->container[0])
				snprintf(j->container, sizeof(j->container), "%s", p->ctr);
			pthread_mutex_unlock(&r->q_lock);
			return KCSI_OK;
		}
	pthread_mutex_unlock(&r->q_lock);
	if (r->mode == MODE_RECORD && !r->api) {
		snprintf(j->node, sizeof(j->node), "record");
		if (!j->container[0])
			snprintf(j->container, sizeof(j->container), "id-%.12s", j->container_id);
		return KCSI_OK;
	}
	char ctr[64] = "";
	kcsi_code rc = kcsi_kube_pod(r->api, j->ns, j->pod,
				     !j->container[0] && j->container_id[0] ? j->container_id : NULL, &r->api_tls,
				     j->node, sizeof(j->node), ctr, sizeof(ctr), err);
	if (rc)
		return rc;
	if (!j->container[0])
		snprintf(j->container, sizeof(j->container), "%s", ctr);
	struct pod_cache *p = calloc(1, sizeof(*p));
	if (p) {
		snprintf(p->key, sizeof(p->key), "%s", key);
		snprintf(p->node, sizeof(p->node), "%s", j->node);
		snprintf(p->ctr, sizeof(p->ctr), "%s", j->container);
		p->at = now;
		pthread_mutex_lock(&r->q_lock);
		p->next = r->pods;
		r->pods = p;
		pthread_mutex_unlock(&r->q_lock);
	}
	return KCSI_OK;
}

static void finish_job(kcsi_responder *r, struct job *j, int state, json_t *inc, const char *archive,
		       const char *sha, const char *error, uint64_t requested_ns, const char *record_url)
{
	sqlite3_stmt *st = NULL;
	char *incs = json_dumps(inc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	pthread_mutex_lock(&r->db_lock);
	db_exec(r, "BEGIN IMMEDIATE");
	if (record_url) {
		sqlite3_prepare_v2(r->db, "INSERT OR IGNORE INTO requests(job, node, url, at_ns) VALUES(?,?,?,?)", -1,
				   &st, NULL);
		sqlite3_bind_int64(st, 1, j->id);
		sqlite3_bind_text(st, 2, j->node, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, record_url, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)requested_ns);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	sqlite3_prepare_v2(r->db,
			   "UPDATE jobs SET state = ?, node = ?, container = ?, attempts = ?, incident = ?, archive = ?, "
			   "sha256 = ?, error = ?, requested_ns = ?, done_ns = ?, record = ? WHERE id = ?",
			   -1, &st, NULL);
	sqlite3_bind_int(st, 1, state);
	sqlite3_bind_text(st, 2, j->node, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, j->container, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, j->attempts);
	sqlite3_bind_text(st, 5, json_string_value(json_object_get(inc, "incident")), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 6, archive, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, sha, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, error, -1, SQLITE_STATIC);
	if (requested_ns)
		sqlite3_bind_int64(st, 9, (sqlite3_int64)requested_ns);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)now_ns());
	sqlite3_bind_text(st, 11, incs, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 12, j->id);
	if (sqlite3_step(st) != SQLITE_DONE)
		logj(r, "error", "job state not stored", "job", json_integer(j->id), "error",
		     json_string(sqlite3_errmsg(r->db)), NULL);
	sqlite3_finalize(st);
	db_exec(r, "COMMIT");
	pthread_mutex_unlock(&r->db_lock);
	if (r->incidents && incs) {
		pthread_mutex_lock(&r->log_lock);
		fprintf(r->incidents, "%s\n", incs);
		fflush(r->incidents);
		pthread_mutex_unlock(&r->log_lock);
	}
	free(incs);
}

enum outcome { OUT_OK, OUT_SKIPPED, OUT_FAILED };

/* What the incident says about the actions asked for, and how many of each. */
struct results {
	json_t *obj; /* {"checkpoint": "ok" | "skipped: WHY" | "failed: WHY", ...} */
	int n[3];    /* by enum outcome */
};

/* Record one action's outcome in the incident and count it in the metrics. */
static void action_result(kcsi_responder *r, struct results *res, unsigned act, enum outcome o, const char *why)
{
	static const char *const words[] = {"ok", "skipped", "failed"};
	const struct {
		unsigned act;
		const char *name;
		atomic_uint_fast64_t *count[3];
	} acts[] = {
		{KCSI_ACT_CHECKPOINT, "checkpoint", {&r->m.ckpt_ok, &r->m.ckpt_skipped, &r->m.ckpt_failed}},
		{KCSI_ACT_LABEL, "label", {&r->m.label_ok, &r->m.label_skipped, &r->m.label_failed}},
		{KCSI_ACT_NOTIFY, "notify", {&r->m.notify_ok, &r->m.notify_skipped, &r->m.notify_failed}},
	};
	char text[700];
	for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
		if (acts[i].act != act)
			continue;
		if (o == OUT_OK)
			snprintf(text, sizeof(text), "ok");
		else
			snprintf(text, sizeof(text), "%s: %s", words[o], why ? why : "unknown");
		json_object_set_new(res->obj, acts[i].name, jstr(text));
		atomic_fetch_add(acts[i].count[o], 1);
		res->n[o]++;
	}
}

/* The incident's "result": ok when every action asked for was done. */
static const char *overall(const struct results *res)
{
	if (!res->n[OUT_FAILED] && !res->n[OUT_SKIPPED])
		return "ok";
	if (!res->n[OUT_OK])
		return res->n[OUT_FAILED] ? "failed" : "skipped";
	return "partial";
}

/* Carry out a job.  Returns true when it is finished (done or failed for
 * good), false when it should be tried again later.  Each action asked for
 * ends ok, skipped (with the reason) or failed (with the error). */
static bool run_job(kcsi_responder *r, struct job *j)
{
	kcsi_error err;
	json_t *inc = json_object(), *actions = json_array();
	char incident[96], t[40], base[1024], url[2048], sha[65] = "", *archive = NULL;
	const char *error = NULL, *ck_skip = NULL;
	uint64_t requested = 0;
	bool ok = true, finished = true, resolved = false;
	bool want_ck = j->actions & KCSI_ACT_CHECKPOINT, want_lb = j->actions & KCSI_ACT_LABEL,
	     want_nt = j->actions & KCSI_ACT_NOTIFY;
	long http = 0;
	char record_url[2048] = "";
	struct results res = {json_object(), {0}};

	kcsi_error_clear(&err);
	j->attempts++;
	iso_time(j->received_ns, t, sizeof(t));
	{
		char ts[32];
		time_t s = (time_t)(j->received_ns / 1000000000u);
		struct tm tm;
		gmtime_r(&s, &tm);
		strftime(ts, sizeof(ts), "%Y%m%dt%H%M%Sz", &tm);
		snprintf(incident, sizeof(incident), "inc-%s-%" PRId64, ts, j->id);
	}
	json_object_set_new(inc, "incident", json_string(incident));
	json_object_set_new(inc, "time", json_string(t));
	json_object_set_new(inc, "event", json_integer(j->event));
	json_object_set_new(inc, "job", json_integer(j->id));
	json_object_set_new(inc, "rule", jstr(j->rule));
	json_object_set_new(inc, "priority", json_string(j->priority));
	json_object_set_new(inc, "policy_rule", jstr(j->policy_rule));
	json_object_set_new(inc, "namespace", j->ns[0] ? json_string(j->ns) : json_null());
	json_object_set_new(inc, "pod", j->pod[0] ? json_string(j->pod) : json_null());
	json_object_set_new(inc, "container_id", j->container_id[0] ? json_string(j->container_id) : json_null());
	json_object_set_new(inc, "dry_run", json_boolean(r->dry_run));
	if (want_ck)
		json_array_append_new(actions, json_string("checkpoint"));
	if (want_lb)
		json_array_append_new(actions, json_string("label"));
	if (want_nt)
		json_array_append_new(actions, json_string("notify"));
	json_object_set_new(inc, "actions", actions);

	/* a checkpoint needs a target: a pod (kubelet, record) or a container (podman) */
	if (want_ck && r->mode != MODE_PODMAN && !j->pod[0])
		ck_skip = "no target: the alert names no pod";
	else if (want_ck && r->mode == MODE_PODMAN && !j->container[0] && !j->container_id[0])
		ck_skip = "no target: the alert names no container";
	if (((want_ck && !ck_skip) || (want_lb && j->pod[0])) && resolve(r, j, &err)) {
		error = err.msg;
		ok = false;
		/* an API that cannot be reached is tried again; a missing pod is not */
		finished = err.code != KCSI_ERR_IO || j->attempts >= r->attempts;
	} else {
		resolved = true;
	}
	json_object_set_new(inc, "container", j->container[0] ? jstr(j->container) : json_null());
	json_object_set_new(inc, "node", j->node[0] ? json_string(j->node) : json_null());

	if (want_ck && !ck_skip && ok && r->dry_run)
		ck_skip = "dry run";
	if (want_ck && !ck_skip && ok) {
		uint64_t c0 = mono_ns();
		requested = now_ns();
		if (j->t0)
			hist_add(&r->m.to_request, c0 - j->t0);
		if (r->mode == MODE_RECORD) {
			if (!kubelet_base(r, j->node, base, sizeof(base)))
				snprintf(base, sizeof(base), "invalid-node");
			snprintf(record_url, sizeof(record_url), "%s/checkpoint/%s/%s/%s?timeout=%ld", base, j->ns,
				 j->pod, j->container, r->ckpt_timeout);
			json_object_set_new(inc, "recorded_request", jstr(record_url));
		} else if (r->mode == MODE_PODMAN) {
			const char *name = j->container[0] ? j->container : j->container_id;
			if (kcsi_podman_checkpoint(name, r->podman_dir, &archive, &err)) {
				error = err.msg;
				ok = false;
			}
		} else if (!kubelet_base(r, j->node, base, sizeof(base))) {
			error = "the node name is not a DNS-1123 name: refused";
			ok = false;
		} else if (!j->container[0]) {
			error = "no container name";
			ok = false;
		} else {
			snprintf(url, sizeof(url), "%s", base);
			if (kcsi_kubelet_checkpoint(url, j->ns, j->pod, j->container, r->ckpt_timeout, &r->kubelet_tls,
						    &archive, &http, &err)) {
				error = err.msg;
				ok = false;
				/* no reply or 5xx: try again; 4xx: a fact that will not change */
				finished = (http >= 400 && http < 500) || j->attempts >= r->attempts;
			}
			json_object_set_new(inc, "kubelet", jstr(base));
			json_object_set_new(inc, "kubelet_status", http ? json_integer(http) : json_null());
		}
		hist_add(&r->m.checkpoint, mono_ns() - c0);
		json_object_set_new(inc, "checkpoint_seconds", json_real((double)(mono_ns() - c0) / 1e9));
		if (j->t0)
			json_object_set_new(inc, "alert_to_request_ms", json_real((double)(c0 - j->t0) / 1e6));
	}
	if (!ok && !finished) {
		logj(r, "warning", "job failed, will try again", "job", json_integer(j->id), "attempt",
		     json_integer(j->attempts), "error", jstr(error), NULL);
		json_decref(inc);
		json_decref(res.obj);
		free(archive);
		return false;
	}
	if (want_ck)
		action_result(r, &res, KCSI_ACT_CHECKPOINT, ck_skip ? OUT_SKIPPED : ok ? OUT_OK : OUT_FAILED,
			      ck_skip ? ck_skip : error);
	json_object_set_new(inc, "archive", jstr(archive));
	if (archive) {
		kcsi_error e2;
		if (kcsi_sha256_file(archive, sha, &e2) == KCSI_OK)
			json_object_set_new(inc, "sha256", json_string(sha));
		else
			json_object_set_new(inc, "sha256_error", jstr(e2.msg));
		char dir[4200];
		snprintf(dir, sizeof(dir), "%s/incidents", r->state_dir);
		mkdir(dir, 0700);
		const char *vars[] = {"archive", archive, "incident", incident, "namespace", j->ns, "pod", j->pod,
				      "container", j->container, "node", j->node, "sha256", sha, "rule", j->rule,
				      NULL};
		json_t *hooks = json_object();
		if (r->hook_vault) {
			snprintf(dir, sizeof(dir), "%s/incidents/%s.vault.out", r->state_dir, incident);
			json_object_set_new(hooks, "vault", run_hook(r, r->hook_vault, dir, vars));
		}
		if (r->hook_analyze) {
			snprintf(dir, sizeof(dir), "%s/incidents/%s.analyze.out", r->state_dir, incident);
			json_object_set_new(hooks, "analyze", run_hook(r, r->hook_analyze, dir, vars));
		}
		json_object_set_new(inc, "hooks", hooks);
	}
	if (want_lb) {
		if (r->dry_run)
			action_result(r, &res, KCSI_ACT_LABEL, OUT_SKIPPED, "dry run");
		else if (!j->pod[0])
			action_result(r, &res, KCSI_ACT_LABEL, OUT_SKIPPED, "no pod to label: the alert names none");
		else if (!r->api)
			action_result(r, &res, KCSI_ACT_LABEL, OUT_SKIPPED, "no Kubernetes API is configured");
		else if (!resolved)
			action_result(r, &res, KCSI_ACT_LABEL, OUT_FAILED, error);
		else if (!ok)
			action_result(r, &res, KCSI_ACT_LABEL, OUT_SKIPPED, "the checkpoint failed");
		else {
			json_t *patch = json_pack("{s:{s:{s:s},s:{s:s,s:s,s:o,s:o}}}", "metadata", "labels",
						  r->label_key, incident, "annotations", "kcsi.io/rule", j->rule,
						  "kcsi.io/priority", j->priority, "kcsi.io/archive", jstr(archive),
						  "kcsi.io/sha256", sha[0] ? json_string(sha) : json_null());
			char *ps = patch ? json_dumps(patch, JSON_COMPACT) : NULL;
			kcsi_error e3;
			if (!ps)
				action_result(r, &res, KCSI_ACT_LABEL, OUT_FAILED, "the patch could not be made");
			else if (kcsi_kube_patch_pod(r->api, j->ns, j->pod, ps, &r->api_tls, &e3) == KCSI_OK)
				action_result(r, &res, KCSI_ACT_LABEL, OUT_OK, NULL);
			else
				action_result(r, &res, KCSI_ACT_LABEL, OUT_FAILED, e3.msg);
			free(ps);
			json_decref(patch);
		}
	}
	json_object_set(inc, "results", res.obj);
	json_object_set_new(inc, "result", json_string(overall(&res)));
	json_object_set_new(inc, "error", jstr(error));
	if (want_nt) {
		if (r->dry_run) {
			action_result(r, &res, KCSI_ACT_NOTIFY, OUT_SKIPPED, "dry run");
		} else if (!r->notify_url) {
			action_result(r, &res, KCSI_ACT_NOTIFY, OUT_SKIPPED, "notify.url is not configured");
		} else {
			/* the webhook gets the incident as it stands: every result but its own */
			char *body = json_dumps(inc, JSON_COMPACT | JSON_PRESERVE_ORDER), *rep = NULL;
			kcsi_error e4;
			long h = 0;
			kcsi_tls nt = {.timeout_s = 10};
			kcsi_error_clear(&e4);
			if (body && kcsi_http_send("POST", r->notify_url, "application/json", body, &nt, &h, &rep, &e4) ==
					    KCSI_OK && h >= 200 && h < 300) {
				action_result(r, &res, KCSI_ACT_NOTIFY, OUT_OK, NULL);
			} else {
				char why[64];
				snprintf(why, sizeof(why), "HTTP %ld", h);
				action_result(r, &res, KCSI_ACT_NOTIFY, OUT_FAILED,
					      h ? why : body ? e4.msg : "the incident could not be written");
			}
			free(rep);
			free(body);
		}
		json_object_set_new(inc, "result", json_string(overall(&res)));
	}
	json_decref(res.obj);
	finish_job(r, j, res.n[OUT_FAILED] ? JOB_FAILED : JOB_DONE, inc, archive, sha[0] ? sha : NULL, error,
		   requested, record_url[0] ? record_url : NULL);
	logj(r, res.n[OUT_FAILED] ? "error" : "info", "incident", "incident", json_deep_copy(inc), NULL);
	json_decref(inc);
	free(archive);
	return true;
}

static struct node_q *node_get(kcsi_responder *r, const char *name)
{
	for (struct node_q *n = r->nodes; n; n = n->next)
		if (!strcmp(n->name, name))
			return n;
	struct node_q *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->next = r->nodes;
	r->nodes = n;
	return n;
}

static void *worker_main(void *arg)
{
	kcsi_responder *r = arg;
	pthread_mutex_lock(&r->q_lock);
	for (;;) {
		struct job *j = NULL;
		struct node_q *nq = NULL;
		/* a job whose node has room */
		for (struct node_q *n = r->nodes; n && !j; n = n->next)
			if (n->head && n->running < r->per_node) {
				j = n->head;
				n->head = j->next;
				if (!n->head)
					n->tail = NULL;
				n->running++;
				nq = n;
			}
		if (j) {
			pthread_mutex_unlock(&r->q_lock);
			j->next = NULL;
			bool fin = run_job(r, j);
			pthread_mutex_lock(&r->q_lock);
			nq->running--;
			if (fin) {
				atomic_fetch_sub(&r->m.jobs_pending, 1);
				free(j);
			} else {
				/* again after a pause, at the end of its node's queue */
				pthread_mutex_unlock(&r->q_lock);
				usleep(200000u * (unsigned)j->attempts);
				pthread_mutex_lock(&r->q_lock);
				if (nq->tail)
					nq->tail->next = j;
				else
					nq->head = j;
				nq->tail = j;
			}
			pthread_cond_broadcast(&r->w_cond);
			continue;
		}
		if (r->unresolved && !atomic_load(&r->stopping)) {
			j = r->unresolved;
			r->unresolved = j->next;
			if (!r->unresolved)
				r->unresolved_tail = NULL;
			j->next = NULL;
			pthread_mutex_unlock(&r->q_lock);
			kcsi_error err;
			kcsi_error_clear(&err);
			bool fail = false;
			if ((j->actions & (KCSI_ACT_CHECKPOINT | KCSI_ACT_LABEL)) && resolve(r, j, &err))
				fail = true;
			if (fail || !j->node[0])
				snprintf(j->node, sizeof(j->node), "%s", fail ? "unresolved" : "-");
			pthread_mutex_lock(&r->q_lock);
			struct node_q *n = node_get(r, j->node);
			if (!n) {
				free(j);
				continue;
			}
			if (n->tail)
				n->tail->next = j;
			else
				n->head = j;
			n->tail = j;
			continue;
		}
		if (atomic_load(&r->stopping) && r->decider_done)
			break;
		pthread_cond_wait(&r->w_cond, &r->q_lock);
	}
	pthread_mutex_unlock(&r->q_lock);
	return NULL;
}

/* ---- recovery ------------------------------------------------------------- */

static kcsi_code recover(kcsi_responder *r, kcsi_error *err)
{
	sqlite3_stmt *st = NULL;
	uint64_t now = now_ns(), since = now - (uint64_t)(r->cooldown_s * 1e9);
	size_t nev = 0, njobs = 0;

	/* the cooldown */
	sqlite3_prepare_v2(r->db, "SELECT target, MAX(created_ns) FROM jobs WHERE created_ns > ? GROUP BY target", -1,
			   &st, NULL);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)since);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct cool *c = calloc(1, sizeof(*c));
		if (!c)
			break;
		c->target = strdup((const char *)sqlite3_column_text(st, 0));
		c->at = (uint64_t)sqlite3_column_int64(st, 1);
		c->next = r->cools;
		r->cools = c;
	}
	sqlite3_finalize(st);
	/* jobs not finished */
	sqlite3_prepare_v2(r->db,
			   "SELECT id, target, ns, pod, container, container_id, event, rule, priority, policy_rule, "
			   "actions, received_ns, attempts FROM jobs WHERE state = 0 ORDER BY id",
			   -1, &st, NULL);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct job *j = calloc(1, sizeof(*j));
		if (!j)
			break;
#define COL(i) ((const char *)sqlite3_column_text(st, i) ?: "")
		j->id = sqlite3_column_int64(st, 0);
		snprintf(j->target, sizeof(j->target), "%s", COL(1));
		snprintf(j->ns, sizeof(j->ns), "%s", COL(2));
		snprintf(j->pod, sizeof(j->pod), "%s", COL(3));
		snprintf(j->container, sizeof(j->container), "%s", COL(4));
		snprintf(j->container_id, sizeof(j->container_id), "%s", COL(5));
		j->event = sqlite3_column_int64(st, 6);
		snprintf(j->rule, sizeof(j->rule), "%s", COL(7));
		snprintf(j->priority, sizeof(j->priority), "%s", COL(8));
		snprintf(j->policy_rule, sizeof(j->policy_rule), "%s", COL(9));
		j->actions = (unsigned)sqlite3_column_int(st, 10);
		j->received_ns = (uint64_t)sqlite3_column_int64(st, 11);
		j->attempts = sqlite3_column_int(st, 12);
#undef COL
		push_job(r, j);
		njobs++;
	}
	sqlite3_finalize(st);
	/* events not decided */
	sqlite3_prepare_v2(r->db, "SELECT id, received_ns, body FROM events WHERE state = 0 ORDER BY id", -1, &st, NULL);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct dev *d = calloc(1, sizeof(*d));
		kcsi_error e;
		if (!d)
			break;
		d->id = sqlite3_column_int64(st, 0);
		d->received_ns = (uint64_t)sqlite3_column_int64(st, 1);
		if (kcsi_falco_parse(sqlite3_column_text(st, 2), (size_t)sqlite3_column_bytes(st, 2), &d->ev, &e)) {
			/* stored events were parsed before; a failure here means the
			 * parser changed: mark it so that it is not retried forever */
			char sql[128];
			snprintf(sql, sizeof(sql), "UPDATE events SET state = 2 WHERE id = %" PRId64, d->id);
			db_exec(r, sql);
			free(d);
			continue;
		}
		push_dev(r, d);
		nev++;
	}
	sqlite3_finalize(st);
	if (nev || njobs)
		logj(r, "info", "recovered from the queue", "events", json_integer((json_int_t)nev), "jobs",
		     json_integer((json_int_t)njobs), NULL);
	(void)err;
	return KCSI_OK;
}

/* ---- HTTP ----------------------------------------------------------------- */

/* A flood repeats its log lines: let one through a second.  *skipped gets
 * how many were held back since the last one. */
static bool flood_log_ok(kcsi_responder *r, uint64_t *skipped)
{
	uint_fast64_t sec = mono_ns() / 1000000000u, last = atomic_load(&r->flood_sec);
	if (sec != last && atomic_compare_exchange_strong(&r->flood_sec, &last, sec)) {
		*skipped = atomic_exchange(&r->flood_skipped, 0);
		return true;
	}
	atomic_fetch_add(&r->flood_skipped, 1);
	return false;
}

/* libmicrohttpd's own messages, as log lines (a flood of them is thinned). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	kcsi_responder *r = cls;
	char msg[512];
	uint64_t skipped;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	if (flood_log_ok(r, &skipped))
		logj(r, "warning", "http server", "detail", jshown(msg, strlen(msg)), "suppressed",
		     json_integer((json_int_t)skipped), NULL);
}

/* ---- HTTP connections: a slot per client bounded, and deadlines a trickle
 * cannot push back.  libmicrohttpd's timeout counts idleness, so a client
 * sending a byte now and then keeps a connection forever; here each request
 * has an absolute deadline from its start (the accept, or the end of the
 * previous request on a kept-alive connection): header_timeout for the
 * headers, request_timeout for headers and body.  A connection past its
 * deadline is shut down (the main thread checks a few times a second);
 * libmicrohttpd then sees the end of the stream and closes it.  The socket
 * is shut down only while libmicrohttpd holds it open: the CLOSED
 * notification (which comes before the close) takes the entry out under the
 * same lock. */

enum conn_phase { PHASE_HEADERS, PHASE_BODY, PHASE_ANSWER };

struct conn {
	int fd;
	struct in_addr peer;
	uint64_t start; /* monotonic: when the current request began */
	enum conn_phase phase;
	bool trusted; /* an alert from it was authenticated and accepted */
	bool cut;
	struct conn *prev, *next;
};

static void peer_text(const struct sockaddr *sa, char *buf, size_t cap)
{
	snprintf(buf, cap, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)cap);
}

/* Accept policy: at most listen.max_connections_per_client from one address. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	kcsi_responder *r = cls;
	int n = 0;
	uint64_t skipped;
	(void)addrlen;
	if (!addr || addr->sa_family != AF_INET)
		return MHD_YES;
	struct in_addr a = ((const struct sockaddr_in *)addr)->sin_addr;
	pthread_mutex_lock(&r->conn_lock);
	for (struct conn *k = r->conns; k; k = k->next)
		n += k->peer.s_addr == a.s_addr;
	pthread_mutex_unlock(&r->conn_lock);
	if (n < r->max_conns_per_client)
		return MHD_YES;
	atomic_fetch_add(&r->m.conns_refused_client, 1);
	if (flood_log_ok(r, &skipped)) {
		char peer[64];
		peer_text(addr, peer, sizeof(peer));
		logj(r, "warning", "connection refused: too many from one client", "peer", json_string(peer), "open",
		     json_integer(n), "limit", json_string("listen.max_connections_per_client"), "suppressed",
		     json_integer((json_int_t)skipped), NULL);
	}
	return MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	kcsi_responder *r = cls;
	struct conn *k = *socket_context;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *ad = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (!fd || !(k = calloc(1, sizeof(*k))))
			return; /* not tracked: libmicrohttpd's idle timeout still applies */
		k->fd = fd->connect_fd;
		if (ad && ad->client_addr && ad->client_addr->sa_family == AF_INET)
			k->peer = ((const struct sockaddr_in *)ad->client_addr)->sin_addr;
		k->start = mono_ns();
		pthread_mutex_lock(&r->conn_lock);
		k->next = r->conns;
		if (r->conns)
			r->conns->prev = k;
		r->conns = k;
		pthread_mutex_unlock(&r->conn_lock);
		*socket_context = k;
		atomic_fetch_add(&r->m.conns_open, 1);
	} else if (k) {
		pthread_mutex_lock(&r->conn_lock);
		if (k->prev)
			k->prev->next = k->next;
		else
			r->conns = k->next;
		if (k->next)
			k->next->prev = k->prev;
		pthread_mutex_unlock(&r->conn_lock);
		free(k);
		*socket_context = NULL;
		atomic_fetch_sub(&r->m.conns_open, 1);
	}
}

/* The connection enters a phase (PHASE_HEADERS: a new request begins now);
 * trust: it sent an authenticated alert. */
static void conn_phase(kcsi_responder *r, struct MHD_Connection *c, enum conn_phase phase, bool trust)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn *k = ci ? ci->socket_context : NULL;
	if (!k)
		return;
	pthread_mutex_lock(&r->conn_lock);
	k->phase = phase;
	k->trusted |= trust;
	if (phase == PHASE_HEADERS)
		k->start = mono_ns();
	pthread_mutex_unlock(&r->conn_lock);
}

/* Shut down the connections past their deadline. */
static void reap_connections(kcsi_responder *r)
{
	uint64_t now = mono_ns(), hdr = (uint64_t)(r->header_timeout_s * 1e9),
		 req = (uint64_t)(r->request_timeout_s * 1e9);
	pthread_mutex_lock(&r->conn_lock);
	for (struct conn *k = r->conns; k; k = k->next) {
		if (k->cut || k->phase == PHASE_ANSWER || now < k->start)
			continue;
		/* a client that sent an authenticated alert may keep its connection
		 * idle up to request_timeout before the next one */
		if (k->phase == PHASE_HEADERS && now - k->start > (k->trusted ? req : hdr))
			atomic_fetch_add(&r->m.conns_cut_headers, 1);
		else if (now - k->start > req)
			atomic_fetch_add(&r->m.conns_cut_request, 1);
		else
			continue;
		k->cut = true;
		shutdown(k->fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&r->conn_lock);
}

/* ---- HTTP requests ---- */

/* A body over listen.max_body is read and thrown away up to this many times
 * max_body, so that the client can read the 413 (a client still sending
 * when the connection closes sees a reset instead); beyond it, or announced
 * beyond it, the connection is closed. */
#define DISCARD_FACTOR 8

struct req {
	kcsi_buf body;
	bool too_big;
	size_t discarded;
	uint64_t t0;
};

/* Queue a reply.  Anything but a success closes the connection, so a client
 * that was refused does not keep its slot. */
static enum MHD_Result reply(struct MHD_Connection *c, int status, const char *type, char *text)
{
	const char *t = text ? text : "{}";
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(t), (void *)t, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;
	free(text);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", type);
	if (status >= 300)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	rc = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static void metrics_text(kcsi_responder *r, kcsi_buf *b)
{
	struct {
		const char *name, *help;
		atomic_uint_fast64_t *v;
		const char *labels;
	} c[] = {
		{"kcsi_respond_events_received_total", "Alerts received on any input", &r->m.received, ""},
		{"kcsi_respond_events_accepted_total", "Alerts stored in the queue", &r->m.accepted, ""},
		{"kcsi_respond_events_replayed_total", "Alerts received again (same uuid or body): acknowledged, not stored twice", &r->m.duplicate, ""},
		{"kcsi_respond_events_rejected_total", "Alerts refused", &r->m.rejected_auth, "{reason=\"auth\"}"},
		{"kcsi_respond_events_rejected_total", NULL, &r->m.rejected_bad, "{reason=\"malformed\"}"},
		{"kcsi_respond_events_rejected_total", NULL, &r->m.rejected_unsafe, "{reason=\"unsafe_name\"}"},
		{"kcsi_respond_events_rejected_total", NULL, &r->m.rejected_size, "{reason=\"too_large\"}"},
		{"kcsi_respond_events_matched_total", "Alerts a policy rule matched", &r->m.matched, ""},
		{"kcsi_respond_events_deduplicated_total", "Matched alerts within a target's cooldown", &r->m.deduplicated, ""},
		{"kcsi_respond_events_excluded_total", "Alerts excluded by namespace or image", &r->m.excluded, ""},
		{"kcsi_respond_events_unmatched_total", "Alerts no rule matched", &r->m.unmatched, ""},
		{"kcsi_respond_events_no_target_total", "Matched alerts that name no container", &r->m.no_target, ""},
		{"kcsi_respond_checkpoints_total", "Checkpoint actions: taken or requested, failed, skipped (no target, dry run)", &r->m.ckpt_ok, "{result=\"ok\"}"},
		{"kcsi_respond_checkpoints_total", NULL, &r->m.ckpt_failed, "{result=\"failed\"}"},
		{"kcsi_respond_checkpoints_total", NULL, &r->m.ckpt_skipped, "{result=\"skipped\"}"},
		{"kcsi_respond_labels_total", "Pod label actions", &r->m.label_ok, "{result=\"ok\"}"},
		{"kcsi_respond_labels_total", NULL, &r->m.label_failed, "{result=\"failed\"}"},
		{"kcsi_respond_labels_total", NULL, &r->m.label_skipped, "{result=\"skipped\"}"},
		{"kcsi_respond_notifications_total", "Webhook notification actions", &r->m.notify_ok, "{result=\"ok\"}"},
		{"kcsi_respond_notifications_total", NULL, &r->m.notify_failed, "{result=\"failed\"}"},
		{"kcsi_respond_notifications_total", NULL, &r->m.notify_skipped, "{result=\"skipped\"}"},
		{"kcsi_respond_hooks_failed_total", "Hook commands that failed", &r->m.hooks_failed, ""},
		{"kcsi_respond_connections_refused_total", "HTTP connections refused at accept", &r->m.conns_refused_client, "{reason=\"per_client_limit\"}"},
		{"kcsi_respond_connections_closed_total", "HTTP connections closed at a deadline", &r->m.conns_cut_headers, "{reason=\"header_deadline\"}"},
		{"kcsi_respond_connections_closed_total", NULL, &r->m.conns_cut_request, "{reason=\"request_deadline\"}"},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		if (c[i].help)
			kcsi_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", c[i].name, c[i].help, c[i].name);
		kcsi_buf_printf(b, "%s%s %" PRIuFAST64 "\n", c[i].name, c[i].labels, atomic_load(c[i].v));
	}
	kcsi_buf_printf(b, "# HELP kcsi_respond_jobs_pending Jobs not finished\n# TYPE kcsi_respond_jobs_pending gauge\n"
			   "kcsi_respond_jobs_pending %" PRIuFAST64 "\n", atomic_load(&r->m.jobs_pending));
	kcsi_buf_printf(b, "# HELP kcsi_respond_connections_open HTTP connections open\n"
			   "# TYPE kcsi_respond_connections_open gauge\nkcsi_respond_connections_open %" PRIuFAST64 "\n",
			atomic_load(&r->m.conns_open));
	struct {
		const char *name, *help;
		struct hist *h;
	} hs[] = {
		{"kcsi_respond_accept_seconds", "Receipt to durable acknowledgement", &r->m.accept},
		{"kcsi_respond_alert_to_request_seconds", "Receipt to the checkpoint request", &r->m.to_request},
		{"kcsi_respond_checkpoint_seconds", "Checkpoint request to its reply", &r->m.checkpoint},
	};
	for (size_t i = 0; i < 3; i++) {
		uint64_t cum = 0;
		kcsi_buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", hs[i].name, hs[i].help, hs[i].name);
		for (int k = 0; k <= NBUCKETS; k++) {
			cum += atomic_load(&hs[i].h->b[k]);
			if (k < NBUCKETS)
				kcsi_buf_printf(b, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", hs[i].name, bucket_s[k], cum);
			else
				kcsi_buf_printf(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", hs[i].name, cum);
		}
		kcsi_buf_printf(b, "%s_sum %.9f\n%s_count %" PRIuFAST64 "\n", hs[i].name,
				(double)atomic_load(&hs[i].h->sum_ns) / 1e9, hs[i].name, atomic_load(&hs[i].h->count));
	}
}

/* a == b in a time that depends on the length of a (what the client sent)
 * only; an empty b (no secret) never matches. */
static bool ct_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = (unsigned char)(la != lb || lb == 0);
	for (size_t i = 0; i < la; i++)
		d |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
	return d == 0;
}

/* NULL when the request may go on, else the reason it may not.  With the
 * headers only (body NULL): the client certificate, the bearer token, the
 * presence of the signature; with the body: the signature. */
static const char *auth_check(kcsi_responder *r, struct MHD_Connection *c, const char *body, size_t len)
{
	if (!body && r->mtls) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		gnutls_session_t s = ci ? (gnutls_session_t)ci->tls_session : NULL;
		unsigned status = 1, n = 0;
		if (!s || !gnutls_certificate_get_peers(s, &n) || n == 0)
			return "no client certificate";
		if (gnutls_certificate_verify_peers2(s, &status) < 0 || status != 0)
			return "client certificate not signed by listen.client_ca";
	}
	if (!body && r->bearer) {
		const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
		if (!h || strncasecmp(h, "Bearer ", 7) || !ct_eq(h + 7, r->bearer))
			return "missing or wrong bearer token";
	}
	if (r->hmac) {
		const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Kcsi-Signature");
		unsigned char d[32];
		char hex[72] = "sha256=";
		if (!h)
			return "missing X-Kcsi-Signature";
		if (!body)
			return NULL;
		gnutls_hmac_fast(GNUTLS_MAC_SHA256, r->hmac, strlen(r->hmac), body, len, d);
		for (int i = 0; i < 32; i++)
			snprintf(hex + 7 + 2 * i, 3, "%02x", d[i]);
		if (!ct_eq(h, hex))
			return "wrong X-Kcsi-Signature (sha256=HMAC-SHA256 of the body, hex)";
	}
	return NULL;
}

static enum MHD_Result refuse_auth(kcsi_responder *r, struct MHD_Connection *c, const char *why)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char peer[64];
	uint64_t skipped;
	peer_text(ci ? ci->client_addr : NULL, peer, sizeof(peer));
	atomic_fetch_add(&r->m.received, 1);
	atomic_fetch_add(&r->m.rejected_auth, 1);
	if (flood_log_ok(r, &skipped))
		logj(r, "warning", "alert refused", "input", json_string("http"), "reason", json_string(why), "peer",
		     json_string(peer), "suppressed", json_integer((json_int_t)skipped), NULL);
	return reply(c, 401, "application/json", jmsg("error", why));
}

static enum MHD_Result refuse_size(kcsi_responder *r, struct MHD_Connection *c, bool answer)
{
	uint64_t skipped;
	atomic_fetch_add(&r->m.received, 1);
	atomic_fetch_add(&r->m.rejected_size, 1);
	if (flood_log_ok(r, &skipped))
		logj(r, "warning", "alert refused", "input", json_string("http"), "reason",
		     json_sprintf("body larger than %zu bytes (listen.max_body)", r->max_body), "suppressed",
		     json_integer((json_int_t)skipped), NULL);
	/* in the middle of a body there is no answering: the connection is dropped */
	return answer ? reply(c, 413, "application/json", jmsg("error", "body too large")) : MHD_NO;
}

static enum MHD_Result serve_get(kcsi_responder *r, struct MHD_Connection *c, const char *url)
{
	if (!strcmp(url, "/healthz"))
		return reply(c, 200, "text/plain", strdup("ok\n"));
	if (!strcmp(url, "/readyz"))
		return atomic_load(&r->ready) && !atomic_load(&r->stopping)
			       ? reply(c, 200, "text/plain", strdup("ready\n"))
			       : reply(c, 503, "text/plain", strdup("not ready\n"));
	if (!strcmp(url, "/metrics")) {
		kcsi_buf b;
		kcsi_buf_init(&b, 1 << 20);
		metrics_text(r, &b);
		char *s = strdup(kcsi_buf_str(&b));
		kcsi_buf_free(&b);
		return reply(c, 200, "text/plain; version=0.0.4", s);
	}
	return reply(c, 404, "application/json", strdup("{\"error\": \"not found\"}"));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	kcsi_responder *r = cls;
	struct req *q = *con_cls;
	(void)version;

	if (!q) {
		/* the headers are complete: all that needs no body is decided now,
		 * before a refused client can send (or trickle) one */
		conn_phase(r, c, PHASE_BODY, false);
		if (!strcmp(method, "GET") || !strcmp(method, "HEAD")) {
			conn_phase(r, c, PHASE_ANSWER, false);
			return serve_get(r, c, url);
		}
		if (strcmp(method, "POST"))
			return reply(c, 405, "application/json", strdup("{\"error\": \"POST an alert\"}"));
		if (strcmp(url, "/") && strcmp(url, "/events") && strcmp(url, "/falco"))
			return reply(c, 404, "application/json", strdup("{\"error\": \"POST alerts to / or /events\"}"));
		const char *why = auth_check(r, c, NULL, 0);
		if (why)
			return refuse_auth(r, c, why);
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > (unsigned long long)r->max_body * DISCARD_FACTOR)
			return refuse_size(r, c, true);
		if (!(q = calloc(1, sizeof(*q))))
			return MHD_NO;
		kcsi_buf_init(&q->body, r->max_body);
		q->t0 = mono_ns();
		*con_cls = q;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!q->too_big && kcsi_buf_add(&q->body, upload, *upload_size)) {
			q->too_big = true;
			kcsi_buf_free(&q->body);
		}
		if (q->too_big && (q->discarded += *upload_size) > r->max_body * DISCARD_FACTOR)
			return refuse_size(r, c, false);
		*upload_size = 0;
		return MHD_YES;
	}
	conn_phase(r, c, PHASE_ANSWER, false);
	if (q->too_big)
		return refuse_size(r, c, true);
	const char *why = auth_check(r, c, q->body.data ? q->body.data : "", q->body.len);
	if (why)
		return refuse_auth(r, c, why);
	char *text = NULL;
	int status = accept_event(r, "http", q->body.data ? q->body.data : "", q->body.len, q->t0, &text);
	if (status == 200)
		conn_phase(r, c, PHASE_ANSWER, true);
	return reply(c, status, "application/json", text);
}

/* A request is over (answered or abandoned): the next one on this
 * connection starts its deadlines now. */
static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	kcsi_responder *r = cls;
	struct req *q = *con_cls;
	(void)toe;
	if (q) {
		kcsi_buf_free(&q->body);
		free(q);
		*con_cls = NULL;
	}
	conn_phase(r, c, PHASE_HEADERS, false);
}

static kcsi_code start_http(kcsi_responder *r, kcsi_error *err)
{
	struct sockaddr_in sin;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)r->port);
	if (inet_pton(AF_INET, r->address, &sin.sin_addr) != 1)
		return kcsi_error_set(err, KCSI_ERR_USAGE, "listen.address \"%s\": an IPv4 address expected", r->address);
	if (r->tls_cert_pem)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem opts[12];
	int n = 0;
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, r}; /* first */
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &sin};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_done, r};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, r};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, r->max_conns, NULL};
	/* idleness (a reply the client does not read); the deadlines do the rest */
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)(r->request_timeout_s + 0.999), NULL};
	if (r->tls_cert_pem) {
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, r->tls_cert_pem};
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, r->tls_key_pem};
		if (r->client_ca_pem)
			opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, r->client_ca_pem};
	}
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	r->mhd = MHD_start_daemon(flags, 0, on_accept, r, on_request, r, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!r->mhd)
		return kcsi_error_set(err, KCSI_ERR_IO, "cannot listen on %s:%d (in use, or TLS files unusable)",
				      r->address, r->port);
	return KCSI_OK;
}

/* ---- JSON-lines inputs -------------------------------------------------------- */

/* Read alerts, one per line, from fd until EOF or stop. */
static void read_lines(kcsi_responder *r, int fd, const char *input)
{
	kcsi_buf b;
	char chunk[65536];
	bool skipping = false;
	kcsi_buf_init(&b, LINE_MAX_BYTES);
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		if (atomic_load(&r->stopping))
			break;
		int pr = poll(&p, 1, 200);
		if (pr <= 0)
			continue;
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (chunk[i] != '\n') {
				if (!skipping && kcsi_buf_addc(&b, chunk[i])) {
					skipping = true;
					atomic_fetch_add(&r->m.received, 1);
					atomic_fetch_add(&r->m.rejected_size, 1);
					logj(r, "warning", "alert refused", "input", json_string(input), "reason",
					     json_string("line longer than 1 MiB"), NULL);
				}
				continue;
			}
			if (!skipping && b.len) {
				char *rep = NULL;
				size_t l = b.len;
				while (l && (b.data[l - 1] == '\r' || b.data[l - 1] == ' '))
					l--;
				if (l)
					accept_event(r, input, b.data, l, mono_ns(), &rep);
				free(rep);
			}
			b.len = 0;
			skipping = false;
		}
	}
	if (!skipping && b.len) {
		char *rep = NULL;
		accept_event(r, input, b.data, b.len, mono_ns(), &rep);
		free(rep);
	}
	kcsi_buf_free(&b);
}

struct input_arg {
	kcsi_responder *r;
	const char *path;
};

static void input_end(kcsi_responder *r)
{
	pthread_mutex_lock(&r->q_lock);
	r->inputs_running--;
	pthread_cond_broadcast(&r->q_cond);
	pthread_mutex_unlock(&r->q_lock);
}

static void *file_main(void *arg)
{
	struct input_arg *a = arg;
	kcsi_responder *r = a->r;
	bool std = !strcmp(a->path, "-");
	int fd = std ? 0 : open(a->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		logj(r, "error", "input cannot be opened", "input", json_string(a->path), "error",
		     json_string(strerror(errno)), NULL);
	} else {
		read_lines(r, fd, std ? "stdin" : "file");
		logj(r, "info", "input finished", "input", json_string(a->path), NULL);
		if (!std)
			close(fd);
	}
	free(a);
	input_end(r);
	return NULL;
}

struct conn_arg {
	kcsi_responder *r;
	int fd;
};

/* Connections read at once on the unix socket (a thread each); more are
 * closed at accept. */
#define UNIX_CONNS_MAX 64

static void *sock_conn_main(void *arg)
{
	struct conn_arg *a = arg;
	read_lines(a->r, a->fd, "unix");
	close(a->fd);
	atomic_fetch_sub(&a->r->unix_conns, 1);
	input_end(a->r);
	free(a);
	return NULL;
}

static void *sock_main(void *arg)
{
	kcsi_responder *r = arg;
	for (;;) {
		struct pollfd p = {r->sock_fd, POLLIN, 0};
		if (atomic_load(&r->stopping))
			break;
		if (poll(&p, 1, 200) <= 0)
			continue;
		int fd = accept4(r->sock_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if (atomic_load(&r->unix_conns) >= UNIX_CONNS_MAX) {
			uint64_t skipped;
			close(fd);
			if (flood_log_ok(r, &skipped))
				logj(r, "warning", "connection refused: too many on the unix socket", "limit",
				     json_integer(UNIX_CONNS_MAX), "suppressed", json_integer((json_int_t)skipped), NULL);
			continue;
		}
		struct conn_arg *a = malloc(sizeof(*a));
		pthread_t t;
		if (!a) {
			close(fd);
			continue;
		}
		a->r = r;
		a->fd = fd;
		pthread_mutex_lock(&r->q_lock);
		r->inputs_running++;
		pthread_mutex_unlock(&r->q_lock);
		atomic_fetch_add(&r->unix_conns, 1);
		if (pthread_create(&t, NULL, sock_conn_main, a)) {
			close(fd);
			free(a);
			atomic_fetch_sub(&r->unix_conns, 1);
			input_end(r);
			continue;
		}
		pthread_detach(t);
	}
	input_end(r);
	return NULL;
}

static kcsi_code start_unix(kcsi_responder *r, kcsi_error *err)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(r->unix_socket) >= sizeof(sa.sun_path))
		return kcsi_error_set(err, KCSI_ERR_USAGE, "inputs.unix_socket: path too long");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", r->unix_socket);
	unlink(r->unix_socket);
	r->sock_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* the socket is made 0600, not made and then changed (a peer could
	 * connect in between) */
	mode_t old_mask = umask(0177);
	int bound = r->sock_fd >= 0 ? bind(r->sock_fd, (struct sockaddr *)&sa, sizeof(sa)) : -1;
	umask(old_mask);
	if (bound || listen(r->sock_fd, 64))
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: cannot listen: %m", r->unix_socket);
	return KCSI_OK;
}

/* ---- run ------------------------------------------------------------------ */

static kcsi_responder *g_running;

void kcsi_respond_stop(kcsi_responder *r)
{
	atomic_store(&r->stopping, true);
	pthread_mutex_lock(&r->q_lock);
	pthread_cond_broadcast(&r->q_cond);
	pthread_cond_broadcast(&r->w_cond);
	pthread_mutex_unlock(&r->q_lock);
}

kcsi_code kcsi_respond_run(kcsi_responder *r, kcsi_error *err)
{
	kcsi_code rc;
	const char *v;
	sigset_t set, old;
	int sig = 0;

	kcsi_http_init();
	gnutls_global_init();
	if ((rc = kcsi_cfg_str(r->cfg, "log", &v, "config", err)))
		return rc;
	if (v && strcmp(v, "-")) {
		FILE *f = fopen(v, "a");
		if (!f)
			return kcsi_error_set(err, KCSI_ERR_IO, "log %s: cannot open: %m", v);
		r->log = f;
	}
	if ((rc = kcsi_cfg_str(r->cfg, "incident_log", &v, "config", err)))
		return rc;
	if (v && !(r->incidents = fopen(v, "a")))
		return kcsi_error_set(err, KCSI_ERR_IO, "incident_log %s: cannot open: %m", v);
	if ((rc = db_open(r, err)))
		return rc;
	if ((rc = recover(r, err)))
		return rc;

	/* signals go to this thread only, through sigwait */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	signal(SIGPIPE, SIG_IGN);
	g_running = r;

	pthread_create(&r->writer_t, NULL, writer_main, r);
	pthread_create(&r->decider_t, NULL, decider_main, r);
	r->worker_t = calloc((size_t)r->max_concurrent, sizeof(pthread_t));
	for (int i = 0; i < r->max_concurrent; i++)
		pthread_create(&r->worker_t[i], NULL, worker_main, r);
	if (r->unix_socket && (rc = start_unix(r, err)))
		goto stop;
	if (r->unix_socket) {
		r->inputs_running++;
		pthread_create(&r->sock_t, NULL, sock_main, r);
	}
	r->ninputs = json_array_size(r->files);
	r->input_t = calloc(r->ninputs + 1, sizeof(pthread_t));
	for (size_t i = 0; i < r->ninputs; i++) {
		struct input_arg *a = malloc(sizeof(*a));
		a->r = r;
		a->path = json_string_value(json_array_get(r->files, i));
		if (!a->path) {
			free(a);
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "inputs.files[%zu]: a path expected", i);
			goto stop;
		}
		pthread_mutex_lock(&r->q_lock);
		r->inputs_running++;
		pthread_mutex_unlock(&r->q_lock);
		pthread_create(&r->input_t[i], NULL, file_main, a);
	}
	if (r->port && (rc = start_http(r, err)))
		goto stop;
	atomic_store(&r->ready, true);
	logj(r, "info", "kcsi respond started", "listen",
	     r->port ? json_sprintf("%s:%d", r->address, r->port) : json_null(), "tls",
	     json_boolean(r->tls_cert_pem != NULL), "mode",
	     json_string(r->mode == MODE_KUBELET ? "kubelet" : r->mode == MODE_RECORD ? "record" : "podman"),
	     "dry_run", json_boolean(r->dry_run), "rules", json_integer((json_int_t)kcsi_policy_nrules(r->policy)),
	     "pid", json_integer(getpid()), NULL);
	if (!r->port && !r->unix_socket) {
		/* only files: stop when they are read and everything is done */
		for (;;) {
			struct timespec ts = {0, 50000000};
			bool idle;
			pthread_mutex_lock(&r->q_lock);
			idle = r->inputs_running == 0 && !r->subs && !r->devs && atomic_load(&r->m.jobs_pending) == 0;
			pthread_mutex_unlock(&r->q_lock);
			if (idle)
				break;
			if (sigtimedwait(&set, NULL, &ts) > 0)
				break;
		}
	} else {
		/* wait for a signal; meanwhile enforce the HTTP deadlines */
		for (;;) {
			struct timespec ts = {0, 200000000};
			int got = sigtimedwait(&set, NULL, &ts);
			if (got > 0 && got != SIGHUP) {
				sig = got;
				break;
			}
			if (r->mhd)
				reap_connections(r);
		}
	}
	logj(r, "info", "stopping", "signal", sig ? json_string(strsignal(sig)) : json_null(), NULL);
stop:
	atomic_store(&r->ready, false);
	if (r->mhd) {
		/* no new connections; the requests in progress finish (and are stored) */
		MHD_quiesce_daemon(r->mhd);
	}
	kcsi_respond_stop(r);
	if (r->mhd) {
		MHD_stop_daemon(r->mhd);
		r->mhd = NULL;
	}
	for (size_t i = 0; i < r->ninputs; i++)
		if (r->input_t[i])
			pthread_join(r->input_t[i], NULL);
	if (r->sock_t)
		pthread_join(r->sock_t, NULL);
	pthread_mutex_lock(&r->q_lock);
	while (r->inputs_running > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&r->q_cond, &r->q_lock, &ts);
	}
	pthread_cond_broadcast(&r->q_cond);
	pthread_mutex_unlock(&r->q_lock);
	pthread_join(r->writer_t, NULL);
	pthread_join(r->decider_t, NULL);
	for (int i = 0; i < r->max_concurrent; i++)
		pthread_join(r->worker_t[i], NULL);
	pthread_mutex_lock(&r->db_lock);
	sqlite3_close(r->db);
	r->db = NULL;
	pthread_mutex_unlock(&r->db_lock);
	logj(r, "info", "stopped", "jobs_left", json_integer((json_int_t)atomic_load(&r->m.jobs_pending)), NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	g_running = NULL;
	return rc;
}

void kcsi_respond_close(kcsi_responder *r)
{
	if (!r)
		return;
	if (r->db)
		sqlite3_close(r->db);
	kcsi_policy_free(r->policy);
	json_decref(r->cfg);
	free(r->config_path);
	free(r->tls_cert_pem);
	free(r->tls_key_pem);
	free(r->client_ca_pem);
	free(r->bearer);
	free(r->hmac);
	free(r->api);
	free(r->api_token);
	free((char *)r->api_tls.cacert);
	free((char *)r->api_tls.cert);
	free((char *)r->api_tls.key);
	for (struct cool *c = r->cools, *n; c; c = n) {
		n = c->next;
		free(c->target);
		free(c);
	}
	for (struct pod_cache *p = r->pods, *n; p; p = n) {
		n = p->next;
		free(p);
	}
	for (struct node_q *q = r->nodes, *n; q; q = n) {
		n = q->next;
		for (struct job *j = q->head, *jn; j; j = jn) {
			jn = j->next;
			free(j);
		}
		free(q);
	}
	for (struct job *j = r->unresolved, *jn; j; j = jn) {
		jn = j->next;
		free(j);
	}
	for (struct dev *d = r->devs, *dn; d; d = dn) {
		dn = d->next;
		kcsi_falco_free(&d->ev);
		free(d);
	}
	if (r->log && r->log != stderr)
		fclose(r->log);
	if (r->incidents)
		fclose(r->incidents);
	if (r->sock_fd >= 0) {
		close(r->sock_fd);
		if (r->unix_socket)
			unlink(r->unix_socket);
	}
	free(r->worker_t);
	free(r->input_t);
	free(r);
}
