/* kcsi respond — the HTTP(S) input (libmicrohttpd): a thread per
 * connection, a bound per client, deadlines a trickle cannot push back,
 * authentication (bearer token, HMAC of the body, client certificates)
 * before a body is read; GET /healthz, /readyz, /metrics. */
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "capture/responder.h"
#include "base/hash.h"
#include "base/time.h"

/* libmicrohttpd's own messages, as log lines (a flood of them is thinned). */
__attribute__((format(printf, 2, 0)))
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	kcsi_responder *r = cls;
	char msg[512];
	uint64_t skipped;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	if (rsp_flood_ok(r, &skipped))
		rsp_log(r, KCSI_LOG_WARNING, "http server", "detail", rsp_jshown(msg, strlen(msg)), "suppressed",
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
	if (rsp_flood_ok(r, &skipped)) {
		char peer[64];
		peer_text(addr, peer, sizeof(peer));
		rsp_log(r, KCSI_LOG_WARNING, "connection refused: too many from one client", "peer", json_string(peer), "open",
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
		k->start = kcsi_mono_ns();
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
		k->start = kcsi_mono_ns();
	pthread_mutex_unlock(&r->conn_lock);
}

void rsp_reap_connections(kcsi_responder *r)
{
	uint64_t now = kcsi_mono_ns(), hdr = (uint64_t)(r->header_timeout_s * 1e9),
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
		char hex[72] = "sha256=";
		if (!h)
			return "missing X-Kcsi-Signature";
		if (!body)
			return NULL;
		kcsi_hmac_sha256_hex(r->hmac, strlen(r->hmac), body, len, hex + 7);
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
	if (rsp_flood_ok(r, &skipped))
		rsp_log(r, KCSI_LOG_WARNING, "alert refused", "input", json_string("http"), "reason", json_string(why), "peer",
			json_string(peer), "suppressed", json_integer((json_int_t)skipped), NULL);
	return reply(c, 401, "application/json", rsp_jmsg("error", why));
}

static enum MHD_Result refuse_size(kcsi_responder *r, struct MHD_Connection *c, bool answer)
{
	uint64_t skipped;
	atomic_fetch_add(&r->m.received, 1);
	atomic_fetch_add(&r->m.rejected_size, 1);
	if (rsp_flood_ok(r, &skipped))
		rsp_log(r, KCSI_LOG_WARNING, "alert refused", "input", json_string("http"), "reason",
			json_sprintf("body larger than %zu bytes (listen.max_body)", r->max_body), "suppressed",
			json_integer((json_int_t)skipped), NULL);
	/* in the middle of a body there is no answering: the connection is dropped */
	return answer ? reply(c, 413, "application/json", rsp_jmsg("error", "body too large")) : MHD_NO;
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
		rsp_metrics_text(&r->m, &b);
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
		q->t0 = kcsi_mono_ns();
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
	int status = rsp_accept(r, "http", q->body.data ? q->body.data : "", q->body.len, q->t0, &text);
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

kcsi_code rsp_start_http(kcsi_responder *r, kcsi_error *err)
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
