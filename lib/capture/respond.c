/* kcsi respond — the responder's life: open (the config), run (the threads,
 * the signals, the drain at the end), stop, close; and the log helpers its
 * files share.  capture/responder.h maps the other files. */
#include <gnutls/gnutls.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "kcsi/jsonw.h"
#include "capture/responder.h"
#include "base/http.h"
#include "base/time.h"

/* ---- the log ---- */

void rsp_log(kcsi_responder *r, kcsi_log_level level, const char *msg, ...)
{
	va_list ap;
	va_start(ap, msg);
	kcsi_log_vwrite(level == KCSI_LOG_DEBUG && !r->debug ? NULL : r->log, level, "respond", msg, ap);
	va_end(ap);
}

bool rsp_flood_ok(kcsi_responder *r, uint64_t *skipped)
{
	uint_fast64_t sec = kcsi_mono_ns() / 1000000000u, last = atomic_load(&r->flood_sec);
	if (sec != last && atomic_compare_exchange_strong(&r->flood_sec, &last, sec)) {
		*skipped = atomic_exchange(&r->flood_skipped, 0);
		return true;
	}
	atomic_fetch_add(&r->flood_skipped, 1);
	return false;
}

/* alert text cut to fit a buffer must stay text (JSON, labels, logs) */
void rsp_utf8_cut(char *s)
{
	size_t n = 0, len = strlen(s), l;
	while (n < len && (l = kcsi_utf8_seq((const unsigned char *)s + n, len - n)))
		n += l;
	s[n] = '\0';
}

/* (a message quoting a hostile reply may not be UTF-8) */
json_t *rsp_jstr(const char *s)
{
	json_t *v;
	if (!s)
		return json_null();
	v = json_string(s);
	return v ? v : rsp_jshown(s, strlen(s));
}

json_t *rsp_jshown(const char *s, size_t n)
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

char *rsp_jmsg(const char *k, const char *v)
{
	json_t *o = json_pack("{s:b,s:s}", "accepted", 0, k, v);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

/* ---- open ---- */

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
	r->sock_fd = -1;
	pthread_mutex_init(&r->db_lock, NULL);
	pthread_mutex_init(&r->incident_lock, NULL);
	pthread_mutex_init(&r->q_lock, NULL);
	pthread_mutex_init(&r->conn_lock, NULL);
	pthread_cond_init(&r->q_cond, NULL);
	pthread_cond_init(&r->w_cond, NULL);
	pthread_cond_init(&r->receipts_cond, NULL);
	pthread_mutex_init(&r->api_token.lock, NULL);
	pthread_mutex_init(&r->kubelet_token.lock, NULL);
	r->warnings = json_array();
	r->incident_warnings = json_array();
	text = kcsi_capture_read_file(config, 1 << 20, &len, err);
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
	if ((rc = rsp_load_config(r, err))) {
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

void kcsi_respond_set_log(kcsi_responder *r, kcsi_log *log)
{
	if (!r->own_log)
		r->log = log;
}

bool kcsi_respond_wants_receipts(const kcsi_responder *r, const char **store)
{
	if (store)
		*store = r->vault_store;
	return r->want_receipts && r->mode == MODE_KUBELET;
}

void kcsi_respond_set_receipts(kcsi_responder *r, kcsi_receipt_fn fn, void *ctx)
{
	r->receipt_fn = fn;
	r->receipt_ctx = ctx;
}

/* ---- run ---- */

void kcsi_respond_stop(kcsi_responder *r)
{
	atomic_store(&r->stopping, true);
	pthread_mutex_lock(&r->q_lock);
	pthread_cond_broadcast(&r->q_cond);
	pthread_cond_broadcast(&r->w_cond);
	pthread_mutex_unlock(&r->q_lock);
}

/* The config's log file and incident log. */
static kcsi_code open_outputs(kcsi_responder *r, kcsi_error *err)
{
	const char *v;
	kcsi_code rc;

	if ((rc = kcsi_cfg_str(r->cfg, "log", &v, "config", err)))
		return rc;
	if (v && strcmp(v, "-")) {
		if (!(r->own_log = kcsi_log_open(v, err))) {
			kcsi_error_prefix(err, "log");
			return err->code;
		}
		r->log = r->own_log;
	}
	if ((rc = kcsi_cfg_str(r->cfg, "incident_log", &v, "config", err)))
		return rc;
	if (v && !(r->incidents = fopen(v, "a")))
		return kcsi_error_set(err, KCSI_ERR_IO, "incident_log %s: cannot open: %m", v);
	return KCSI_OK;
}

/* The threads: writer, decider, workers, the inputs; then the HTTP server. */
static kcsi_code start(kcsi_responder *r, kcsi_error *err)
{
	kcsi_code rc;

	pthread_create(&r->writer_t, NULL, rsp_writer_main, r);
	pthread_create(&r->decider_t, NULL, rsp_decider_main, r);
	r->worker_t = calloc((size_t)r->max_concurrent, sizeof(pthread_t));
	for (int i = 0; i < r->max_concurrent; i++)
		pthread_create(&r->worker_t[i], NULL, rsp_worker_main, r);
	if (r->unix_socket && (rc = rsp_start_unix(r, err)))
		return rc;
	if (r->unix_socket) {
		r->inputs_running++;
		pthread_create(&r->sock_t, NULL, rsp_sock_main, r);
	}
	r->ninputs = json_array_size(r->files);
	r->input_t = calloc(r->ninputs + 1, sizeof(pthread_t));
	for (size_t i = 0; i < r->ninputs; i++) {
		struct input_arg *a = malloc(sizeof(*a));
		if (!a)
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		a->r = r;
		a->path = json_string_value(json_array_get(r->files, i));
		if (!a->path) {
			free(a);
			return kcsi_error_set(err, KCSI_ERR_FORMAT, "inputs.files[%zu]: a path expected", i);
		}
		pthread_mutex_lock(&r->q_lock);
		r->inputs_running++;
		pthread_mutex_unlock(&r->q_lock);
		pthread_create(&r->input_t[i], NULL, rsp_file_main, a);
	}
	if (r->want_receipts && r->mode == MODE_KUBELET && r->receipt_fn)
		pthread_create(&r->receipts_t, NULL, rsp_receipts_main, r);
	if (r->port && (rc = rsp_start_http(r, err)))
		return rc;
	return KCSI_OK;
}

/* Until a signal (or, with files alone, until they are read and all is
 * done); returns the signal, 0 for none. */
static int wait_for_end(kcsi_responder *r, const sigset_t *set)
{
	if (!r->port && !r->unix_socket) {
		for (;;) {
			struct timespec ts = {0, 50000000};
			bool idle;
			pthread_mutex_lock(&r->q_lock);
			idle = r->inputs_running == 0 && !r->subs && !r->devs && atomic_load(&r->m.jobs_pending) == 0;
			pthread_mutex_unlock(&r->q_lock);
			if (idle)
				return 0;
			if (sigtimedwait(set, NULL, &ts) > 0)
				return 0;
		}
	}
	/* meanwhile enforce the HTTP deadlines */
	for (;;) {
		struct timespec ts = {0, 200000000};
		int got = sigtimedwait(set, NULL, &ts);
		if (got > 0 && got != SIGHUP)
			return got;
		if (r->mhd)
			rsp_reap_connections(r);
	}
}

/* Stop taking alerts, finish what was taken, end the threads. */
static void drain(kcsi_responder *r)
{
	atomic_store(&r->ready, false);
	if (r->mhd) {
		/* no new connections; the requests in progress finish (and are stored) */
		MHD_quiesce_daemon(r->mhd);
	}
	kcsi_respond_stop(r);
	pthread_mutex_lock(&r->q_lock);
	pthread_cond_broadcast(&r->receipts_cond);
	pthread_mutex_unlock(&r->q_lock);
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
	for (int i = 0; r->worker_t && i < r->max_concurrent; i++)
		pthread_join(r->worker_t[i], NULL);
	if (r->receipts_t)
		pthread_join(r->receipts_t, NULL);
	pthread_mutex_lock(&r->db_lock);
	sqlite3_close(r->db);
	r->db = NULL;
	pthread_mutex_unlock(&r->db_lock);
}

kcsi_code kcsi_respond_run(kcsi_responder *r, kcsi_error *err)
{
	static const char *const modes[] = {"kubelet", "record", "podman"};
	kcsi_code rc;
	sigset_t set, old;
	int sig = 0;

	if (r->in_cluster_absent)
		return kcsi_error_set(err, KCSI_ERR_USAGE,
				      "kubernetes.in_cluster: not in a pod with a service account (KUBERNETES_SERVICE_HOST/"
				      "PORT or the token missing): the responder cannot reach the Kubernetes API");
	if (r->want_receipts && r->mode == MODE_KUBELET && !r->receipt_fn)
		return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED,
				      "vault: receipts are asked for but there is no vault to read them from");
	kcsi_http_init();
	gnutls_global_init();
	if ((rc = open_outputs(r, err)) || (rc = rsp_db_open(r, err)) || (rc = rsp_recover(r, err)))
		return rc;

	/* signals go to this thread only, through sigwait */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	signal(SIGPIPE, SIG_IGN);

	if (!(rc = start(r, err))) {
		atomic_store(&r->ready, true);
		rsp_log(r, KCSI_LOG_INFO, "kcsi respond started", "listen",
			r->port ? json_sprintf("%s:%d", r->address, r->port) : json_null(), "tls",
			json_boolean(r->tls_cert_pem != NULL), "mode", json_string(modes[r->mode]), "dry_run",
			json_boolean(r->dry_run), "rules", json_integer((json_int_t)kcsi_policy_nrules(r->policy)), "pid",
			json_integer(getpid()), NULL);
		for (size_t i = 0; i < json_array_size(r->warnings); i++)
			rsp_log(r, KCSI_LOG_WARNING, kcsi_respond_warning(r, i), NULL);
		sig = wait_for_end(r, &set);
		rsp_log(r, KCSI_LOG_INFO, "stopping", "signal", sig ? json_string(strsignal(sig)) : json_null(), NULL);
	}
	drain(r);
	rsp_log(r, KCSI_LOG_INFO, "stopped", "jobs_left", json_integer((json_int_t)atomic_load(&r->m.jobs_pending)), NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* ---- close ---- */

static void free_queues(kcsi_responder *r)
{
	for (struct cool *c = r->cools, *n; c; c = n) {
		n = c->next;
		free(c->target);
		free(c);
	}
	for (struct pod_cache *p = r->pods, *n; p; p = n) {
		n = p->next;
		free(p);
	}
	for (struct node_cache *p = r->node_addrs, *n; p; p = n) {
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
	rsp_token_free(&r->api_token);
	rsp_token_free(&r->kubelet_token);
	kcsi_kubeconfig_free(&r->kubeconfig);
	json_decref(r->warnings);
	json_decref(r->incident_warnings);
	free((char *)r->api_tls.cacert);
	free((char *)r->api_tls.cert);
	free((char *)r->api_tls.key);
	free_queues(r);
	kcsi_log_close(r->own_log);
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
