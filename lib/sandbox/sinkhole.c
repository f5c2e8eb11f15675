/* kcsi detonate — the sinkhole: every TCP and UDP flow leaving the sandbox's
 * processes is handed here by nftables TPROXY (the sockets are transparent, so
 * getsockname() and IP_ORIGDSTADDR give the address the program meant to reach).
 * It speaks just enough to keep malware talking and records everything:
 *   IRC      welcome, PING/PONG, JOIN acknowledgement, an optional operator who
 *            sends scripted commands to the joined channel and collects answers
 *   HTTP     200 with an empty body for every request
 *   stratum  JSON-RPC answers to subscribe/authorize/login/submit
 *   DNS      UDP and TCP (by destination port 53): every name exists, see
 *            sinkhole_dns.c for the answers; each query is logged
 *   raw      any other TCP stream or UDP datagram is recorded, never answered
 * The protocol of a TCP stream is told from its first bytes, not its port.
 * One thread, poll(); every session's bytes go to a transcript file. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/sandbox_int.h"
#include "evidence/dnsstat.h"
#include "kcsi/text.h"

#define MAX_SESS 256
#define LINE_MAX_ 4096
#define MAX_RECORDED (1u << 20) /* bytes per session kept in the transcript */

enum svc { SVC_UNKNOWN, SVC_IRC, SVC_HTTP, SVC_STRATUM, SVC_RAW, SVC_DNS };
static const char *svc_name[] = {"unknown", "irc", "http", "stratum", "raw", "dns"};

struct sess {
	int fd;
	unsigned id;
	enum svc svc;
	char src[64], dst[64];
	unsigned sport, dport;
	double opened, closed, last_rx;
	uint64_t bytes_in, bytes_out;
	FILE *tx;                /* transcript */
	char txname[128];
	char line[LINE_MAX_];
	size_t linelen;
	json_t *j;               /* protocol details */
	/* irc */
	bool welcomed, joined;
	char nick[64], chan[128];
	size_t next_cmd;
	double next_cmd_at;
	json_t *cur_cmd;
	char first[64];
	size_t nfirst;
	/* dns over tcp: the message being assembled (2-byte length prefix) */
	unsigned char dnsbuf[2 + 65535];
	size_t dnslen;
};

struct det_sinkhole {
	char dir[4096];
	const char *const *irc_commands;
	double wall0, mono0;
	int ltcp, ludp, ldns;
	unsigned ptcp, pudp, pdns;
	int stop_pipe[2];
	pthread_t thr;
	bool started;
	pthread_mutex_t lock;
	struct sess *sess[MAX_SESS];
	unsigned nsess_total;
	json_t *sessions, *dns, *udp;
	size_t dns_dropped;        /* queries beyond DET_DNS_RECORDED (still counted by zone) */
	kcsi_dns_zones *zones;
	int nsfd;                  /* the sandbox's network namespace, for the thread */
	FILE *dnslog;
};

static double rel(const det_sinkhole *s)
{
	return det_now() - s->mono0;
}

static void when(const det_sinkhole *s, char *buf, size_t cap)
{
	det_iso_time(s->wall0 + rel(s), buf, cap);
}

static int transparent_socket(int type, unsigned *port, kcsi_error *err)
{
	int one = 1, mark = DET_MARK_SINKHOLE;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return kcsi_error_set(err, KCSI_ERR_GENERIC, "sinkhole: socket: %s", strerror(errno)), -1;
	if (setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (type == SOCK_DGRAM && setsockopt(fd, SOL_IP, IP_RECVORIGDSTADDR, &one, sizeof(one)) < 0)) {
		kcsi_error_set(err, KCSI_ERR_UNSUPPORTED, "sinkhole: transparent socket options: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || (type == SOCK_STREAM && listen(fd, 128) < 0) ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		kcsi_error_set(err, KCSI_ERR_GENERIC, "sinkhole: bind/listen: %s", strerror(errno));
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

/* The state without sockets, transcripts directory or thread. */
static det_sinkhole *sinkhole_new(const char *dir, const char *const *irc_commands, double wall0)
{
	det_sinkhole *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	s->irc_commands = irc_commands;
	s->wall0 = wall0;
	s->mono0 = det_now();
	s->ltcp = s->ludp = s->ldns = -1;
	s->stop_pipe[0] = s->stop_pipe[1] = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->sessions = json_array();
	s->dns = json_array();
	s->zones = kcsi_dns_zones_new();
	s->udp = json_array();
	return s;
}

kcsi_code det_sinkhole_open(det_sinkhole **out, const char *dir, const char *const *irc_commands, double wall0,
			    kcsi_error *err)
{
	det_sinkhole *s = sinkhole_new(dir, irc_commands, wall0);
	char p[4200];
	if (!s)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	snprintf(p, sizeof(p), "%s/transcripts", dir);
	if (mkdir(p, 0700) < 0 && errno != EEXIST) {
		kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", p, strerror(errno));
		goto fail;
	}
	if ((s->ltcp = transparent_socket(SOCK_STREAM, &s->ptcp, err)) < 0 ||
	    (s->ludp = transparent_socket(SOCK_DGRAM, &s->pudp, err)) < 0 ||
	    (s->ldns = transparent_socket(SOCK_DGRAM, &s->pdns, err)) < 0)
		goto fail;
	if (pipe2(s->stop_pipe, O_CLOEXEC) < 0) {
		kcsi_error_set(err, KCSI_ERR_GENERIC, "pipe: %s", strerror(errno));
		goto fail;
	}
	snprintf(p, sizeof(p), "%s/transcripts/dns.txt", dir);
	s->dnslog = fopen(p, "w");
	*out = s;
	return KCSI_OK;
fail:
	det_sinkhole_free(s);
	return err->code;
}

void det_sinkhole_ports(const det_sinkhole *s, unsigned *tcp, unsigned *udp, unsigned *dns)
{
	*tcp = s->ptcp;
	*udp = s->pudp;
	*dns = s->pdns;
}

/* ---- transcripts ---- */

static void tx_write(det_sinkhole *s, struct sess *x, char dir, const unsigned char *p, size_t n)
{
	if (!x->tx || (dir == '>' ? x->bytes_in : x->bytes_out) > MAX_RECORDED)
		return;
	fprintf(x->tx, "%+9.3f %c ", rel(s), dir);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];
		if (c == '\n') {
			fputs("\\n", x->tx);
			if (i + 1 < n)
				fprintf(x->tx, "\n%9s %c ", "", dir);
		} else if (c == '\r')
			fputs("\\r", x->tx);
		else if (c == '\\')
			fputs("\\\\", x->tx);
		else if (c >= 0x20 && c < 0x7f)
			fputc(c, x->tx);
		else
			fprintf(x->tx, "\\x%02x", c);
	}
	fputc('\n', x->tx);
	fflush(x->tx);
}

static void sess_send(det_sinkhole *s, struct sess *x, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void sess_send(det_sinkhole *s, struct sess *x, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	if (send(x->fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) > 0) {
		tx_write(s, x, '<', (unsigned char *)buf, (size_t)n);
		x->bytes_out += (uint64_t)n;
	}
}

/* ---- IRC ---- */

static void irc_line(det_sinkhole *s, struct sess *x, char *l)
{
	char *arg;
	json_t *lines = json_object_get(x->j, "lines");
	if (json_array_size(lines) < 500)
		json_array_append_new(lines, json_string(l));
	if (!strncasecmp(l, "NICK ", 5)) {
		snprintf(x->nick, sizeof(x->nick), "%s", l + 5 + (l[5] == ':'));
		json_object_set_new(x->j, "nick", json_string(x->nick));
	} else if (!strncasecmp(l, "USER ", 5)) {
		char user[128] = "";
		sscanf(l + 5, "%127s", user);
		json_object_set_new(x->j, "user", json_string(user));
		arg = strstr(l, " :");
		json_object_set_new(x->j, "realname", json_string(arg ? arg + 2 : ""));
	} else if (!strncasecmp(l, "PING", 4)) {
		sess_send(s, x, ":irc.sinkhole PONG irc.sinkhole %s\r\n", l[4] ? l + 5 : "");
	} else if (!strncasecmp(l, "PONG", 4)) {
		/* nothing */
	} else if (!strncasecmp(l, "JOIN ", 5)) {
		char chan[128] = "", key[128] = "";
		sscanf(l + 5, "%127s %127s", chan, key);
		snprintf(x->chan, sizeof(x->chan), "%s", chan[0] == ':' ? chan + 1 : chan);
		json_array_append_new(json_object_get(x->j, "channels"), json_pack("{s:s, s:s?}", "channel", x->chan,
										   "key", key[0] ? key : NULL));
		sess_send(s, x, ":%s!%s@sandbox JOIN %s\r\n:irc.sinkhole 332 %s %s :\r\n:irc.sinkhole 353 %s = %s :%s @op\r\n"
				":irc.sinkhole 366 %s %s :End of /NAMES list.\r\n",
			  x->nick, x->nick, x->chan, x->nick, x->chan, x->nick, x->chan, x->nick, x->nick, x->chan);
		if (!x->joined) {
			x->joined = true;
			x->next_cmd_at = rel(s) + 1.0;
		}
	} else if (!strncasecmp(l, "PRIVMSG ", 8) || !strncasecmp(l, "NOTICE ", 7)) {
		arg = strstr(l, " :");
		if (x->cur_cmd && arg)
			json_array_append_new(json_object_get(x->cur_cmd, "output"), json_string(arg + 2));
		if (arg)
			json_array_append_new(json_object_get(x->j, "messages"), json_string(arg + 2));
	} else if (!strncasecmp(l, "QUIT", 4)) {
		sess_send(s, x, "ERROR :Closing link\r\n");
	}
	if (!x->welcomed && x->nick[0] && json_object_get(x->j, "user")) {
		x->welcomed = true;
		sess_send(s, x,
			  ":irc.sinkhole 001 %s :Welcome to the network %s\r\n:irc.sinkhole 002 %s :Your host is irc.sinkhole\r\n"
			  ":irc.sinkhole 003 %s :This server was created today\r\n:irc.sinkhole 004 %s irc.sinkhole 1.0 o o\r\n"
			  ":irc.sinkhole 376 %s :End of /MOTD command.\r\n",
			  x->nick, x->nick, x->nick, x->nick, x->nick, x->nick);
		/* a bot that never joins still gets the operator's commands, by private message */
		x->next_cmd_at = rel(s) + 3.0;
	}
}

static void irc_tick(det_sinkhole *s, struct sess *x)
{
	const char *cmd;
	if (!x->welcomed || !s->irc_commands || !(cmd = s->irc_commands[x->next_cmd]) || rel(s) < x->next_cmd_at)
		return;
	x->cur_cmd = json_pack("{s:s, s:s, s:f, s:[]}", "command", cmd, "to", x->chan[0] ? x->chan : x->nick, "t",
			       rel(s), "output");
	json_array_append_new(json_object_get(x->j, "commands"), x->cur_cmd);
	sess_send(s, x, ":op!op@irc.sinkhole PRIVMSG %s :%s\r\n", x->chan[0] ? x->chan : x->nick, cmd);
	x->next_cmd++;
	x->next_cmd_at = rel(s) + 2.0;
}

/* ---- HTTP ---- */

static void http_line(det_sinkhole *s, struct sess *x, char *l)
{
	json_t *reqs = json_object_get(x->j, "requests"), *cur;
	size_t n = json_array_size(reqs);
	cur = n ? json_array_get(reqs, n - 1) : NULL;
	if (!cur || json_is_true(json_object_get(cur, "done"))) {
		char m[16] = "", path[1024] = "", ver[16] = "";
		if (sscanf(l, "%15s %1023s %15s", m, path, ver) < 2)
			return;
		if (n < 200)
			json_array_append_new(reqs, json_pack("{s:s, s:s, s:s, s:f, s:b}", "method", m, "path", path,
							      "version", ver, "t", rel(s), "done", 0));
		return;
	}
	if (!*l) { /* end of head: answer (bodies of POSTs are in the transcript) */
		json_object_del(cur, "done");
		json_object_set_new(cur, "done", json_true());
		sess_send(s, x, "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: 0\r\n\r\n");
		return;
	}
	if (!strncasecmp(l, "Host:", 5))
		json_object_set_new(cur, "host", json_string(l + 5 + strspn(l + 5, " ")));
	else if (!strncasecmp(l, "User-Agent:", 11))
		json_object_set_new(cur, "user_agent", json_string(l + 11 + strspn(l + 11, " ")));
}

/* ---- stratum JSON-RPC ---- */

static void stratum_line(det_sinkhole *s, struct sess *x, char *l)
{
	json_error_t je;
	json_t *m = json_loads(l, 0, &je), *id, *params;
	const char *method;
	char idbuf[64] = "null";
	if (!m)
		return;
	method = json_string_value(json_object_get(m, "method"));
	id = json_object_get(m, "id");
	params = json_object_get(m, "params");
	if (id) {
		char *d = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
		if (d && strlen(d) < sizeof(idbuf))
			snprintf(idbuf, sizeof(idbuf), "%s", d);
		free(d);
	}
	if (method) {
		json_t *ms = json_object_get(x->j, "methods");
		if (json_array_size(ms) < 200)
			json_array_append_new(ms, json_string(method));
	}
	if (method && !strcmp(method, "mining.subscribe")) {
		if (json_is_string(json_array_get(params, 0)))
			json_object_set(x->j, "agent", json_array_get(params, 0));
		sess_send(s, x,
			  "{\"id\":%s,\"result\":[[[\"mining.set_difficulty\",\"1\"],[\"mining.notify\",\"1\"]],\"08000002\",4],"
			  "\"error\":null}\n",
			  idbuf);
	} else if (method && !strcmp(method, "mining.authorize")) {
		if (json_is_string(json_array_get(params, 0)))
			json_object_set(x->j, "login", json_array_get(params, 0));
		if (json_is_string(json_array_get(params, 1)))
			json_object_set(x->j, "pass", json_array_get(params, 1));
		sess_send(s, x, "{\"id\":%s,\"result\":true,\"error\":null}\n", idbuf);
		sess_send(s, x, "{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":[1]}\n");
		sess_send(s, x,
			  "{\"id\":null,\"method\":\"mining.notify\",\"params\":[\"1\",\"%064d\",\"\",\"\",[],\"20000000\","
			  "\"1d00ffff\",\"00000000\",true]}\n",
			  0);
	} else if (method && !strcmp(method, "login")) { /* xmrig's dialect */
		json_t *p = json_is_object(params) ? params : NULL;
		const char *k[] = {"login", "pass", "agent", "algo", "rigid"};
		for (size_t i = 0; p && i < 5; i++)
			if (json_object_get(p, k[i]))
				json_object_set(x->j, k[i], json_object_get(p, k[i]));
		sess_send(s, x,
			  "{\"id\":%s,\"jsonrpc\":\"2.0\",\"error\":null,\"result\":{\"id\":\"1\",\"job\":{\"blob\":\"%076d\","
			  "\"job_id\":\"1\",\"target\":\"ffffff00\",\"id\":\"1\"},\"status\":\"OK\"}}\n",
			  idbuf, 0);
	} else if (method && (!strcmp(method, "mining.submit") || !strcmp(method, "submit"))) {
		json_object_set_new(x->j, "submits",
				    json_integer(json_integer_value(json_object_get(x->j, "submits")) + 1));
		sess_send(s, x, "{\"id\":%s,\"jsonrpc\":\"2.0\",\"result\":{\"status\":\"OK\"},\"error\":null}\n", idbuf);
	} else if (method) {
		sess_send(s, x, "{\"id\":%s,\"result\":true,\"error\":null}\n", idbuf);
	}
	json_decref(m);
}

static enum svc sniff(const char *p, size_t n)
{
	static const char *irc[] = {"NICK ", "USER ", "CAP ", "PASS ", NULL};
	static const char *http[] = {"GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "CONNECT ", "PATCH ", NULL};
	for (int i = 0; irc[i]; i++)
		if (n >= strlen(irc[i]) && !strncasecmp(p, irc[i], strlen(irc[i])))
			return SVC_IRC;
	for (int i = 0; http[i]; i++)
		if (n >= strlen(http[i]) && !strncmp(p, http[i], strlen(http[i])))
			return SVC_HTTP;
	if (n && p[0] == '{' && memmem(p, n, "\"method\"", 8))
		return SVC_STRATUM;
	return SVC_RAW;
}

/* Log one DNS query (and what it was answered) in the record and dns.txt. */
static void dns_log(det_sinkhole *s, const det_dns_query *q, const char *transport, const char *src, unsigned sport,
		    const char *dst, unsigned dport, const char *answer)
{
	char ts[40];
	char *name = kcsi_escape_text(q->name, q->name_len, 0);
	when(s, ts, sizeof(ts));
	pthread_mutex_lock(&s->lock);
	if (json_array_size(s->dns) < DET_DNS_RECORDED)
		json_array_append_new(s->dns, json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:i, s:i, s:s, s:s, s:f}",
							"time", ts, "name", name ? name : "", "transport", transport, "src", src, "sport", sport,
							"server", dst, "dport", dport, "qtype", q->qtype, "type",
							det_dns_type_name(q->qtype), "answer", answer, "t", rel(s)));
	else
		s->dns_dropped++;
	kcsi_dns_zones_add(s->zones, q->name, q->name_len);
	pthread_mutex_unlock(&s->lock);
	if (s->dnslog) {
		fprintf(s->dnslog, "%+9.3f %s %s:%u -> %s:%u  query %s type %s(%u)  answer %s\n", rel(s), transport, src,
			sport, dst, dport, name ? name : "", det_dns_type_name(q->qtype), q->qtype, answer);
		fflush(s->dnslog);
	}
	free(name);
}

/* DNS over TCP: messages with a 2-byte length prefix, answered in kind. */
static void dns_stream(det_sinkhole *s, struct sess *x, const unsigned char *p, size_t n)
{
	while (n) {
		size_t want = x->dnslen < 2 ? 2 : 2 + ((size_t)x->dnsbuf[0] << 8 | x->dnsbuf[1]);
		size_t k = want - x->dnslen < n ? want - x->dnslen : n;
		memcpy(x->dnsbuf + x->dnslen, p, k);
		x->dnslen += k;
		p += k;
		n -= k;
		if (want == 2) {
			/* the length prefix is complete; a message of length 0
			 * is dropped (it holds nothing to answer) */
			if (x->dnslen == 2 && !x->dnsbuf[0] && !x->dnsbuf[1])
				x->dnslen = 0;
			continue;
		}
		if (x->dnslen < want)
			continue;
		unsigned char ans[2 + 4200];
		char text[96] = "";
		det_dns_query q;
		size_t al = 0;
		if (det_dns_parse(x->dnsbuf + 2, x->dnslen - 2, &q) == 0)
			al = det_dns_answer(x->dnsbuf + 2, x->dnslen - 2, &q, ans + 2, sizeof(ans) - 2, text, sizeof(text));
		else
			al = det_dns_formerr(x->dnsbuf + 2, x->dnslen - 2, ans + 2, sizeof(ans) - 2);
		x->dnslen = 0;
		if (!al)
			continue;
		ans[0] = (unsigned char)(al >> 8);
		ans[1] = (unsigned char)al;
		if (send(x->fd, ans, al + 2, MSG_DONTWAIT | MSG_NOSIGNAL) > 0) {
			x->bytes_out += al + 2;
			tx_write(s, x, '<', ans, al + 2);
		}
		if (text[0]) {
			pthread_mutex_unlock(&s->lock);
			dns_log(s, &q, "tcp", x->src, x->sport, x->dst, x->dport, text);
			pthread_mutex_lock(&s->lock);
		}
	}
}

static void sess_data(det_sinkhole *s, struct sess *x, const unsigned char *p, size_t n)
{
	tx_write(s, x, '>', p, n);
	x->bytes_in += n;
	x->last_rx = rel(s);
	if (x->nfirst < sizeof(x->first) - 1) {
		size_t k = n < sizeof(x->first) - 1 - x->nfirst ? n : sizeof(x->first) - 1 - x->nfirst;
		memcpy(x->first + x->nfirst, p, k);
		x->nfirst += k;
	}
	if (x->svc == SVC_UNKNOWN && x->dport == 53)
		x->svc = SVC_DNS;
	if (x->svc == SVC_DNS) {
		json_object_set_new(x->j, "service", json_string("dns"));
		dns_stream(s, x, p, n);
		return;
	}
	if (x->svc == SVC_UNKNOWN) {
		x->svc = sniff((const char *)p, n);
		json_object_set_new(x->j, "service", json_string(svc_name[x->svc]));
		if (x->svc == SVC_IRC)
		{
			json_t *t = json_pack("{s:[], s:[], s:[], s:[]}", "lines", "channels", "commands", "messages");
			json_object_update(x->j, t);
			json_decref(t);
		}
		else if (x->svc == SVC_HTTP)
			json_object_set_new(x->j, "requests", json_array());
		else if (x->svc == SVC_STRATUM)
			json_object_set_new(x->j, "methods", json_array());
	}
	if (x->svc == SVC_RAW)
		return;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' || x->linelen == sizeof(x->line) - 1) {
			x->line[x->linelen] = '\0';
			if (x->linelen && x->line[x->linelen - 1] == '\r')
				x->line[--x->linelen] = '\0';
			if (x->svc == SVC_IRC)
				irc_line(s, x, x->line);
			else if (x->svc == SVC_HTTP)
				http_line(s, x, x->line);
			else
				stratum_line(s, x, x->line);
			x->linelen = 0;
			if (p[i] == '\n')
				continue;
		}
		x->line[x->linelen++] = (char)p[i];
	}
}

static void addr_str(const struct sockaddr_in *a, char *buf, size_t cap, unsigned *port)
{
	inet_ntop(AF_INET, &a->sin_addr, buf, (socklen_t)cap);
	*port = ntohs(a->sin_port);
}

/* A new TCP session on fd from peer to local, listed in the record. */
static struct sess *sess_new(det_sinkhole *s, int fd, const struct sockaddr_in *peer, const struct sockaddr_in *local)
{
	char ts[40];
	struct sess *x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->fd = fd;
	x->id = ++s->nsess_total;
	addr_str(peer, x->src, sizeof(x->src), &x->sport);
	addr_str(local, x->dst, sizeof(x->dst), &x->dport);
	x->opened = rel(s);
	snprintf(x->txname, sizeof(x->txname), "transcripts/tcp-%03u-%s-%u.txt", x->id, x->dst, x->dport);
	when(s, ts, sizeof(ts));
	x->j = json_pack("{s:i, s:s, s:s, s:i, s:s, s:i, s:s, s:f, s:s, s:s}", "id", x->id, "proto", "tcp", "src", x->src,
			 "sport", x->sport, "dst", x->dst, "dport", x->dport, "opened", ts, "t", x->opened, "service",
			 "unknown", "transcript", x->txname);
	pthread_mutex_lock(&s->lock);
	json_array_append(s->sessions, x->j);
	pthread_mutex_unlock(&s->lock);
	return x;
}

static void sess_accept(det_sinkhole *s)
{
	struct sockaddr_in peer, local;
	socklen_t pl = sizeof(peer), ll = sizeof(local);
	char path[4400];
	struct sess *x;
	int slot = -1;
	int fd = accept4(s->ltcp, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	for (int i = 0; i < MAX_SESS; i++)
		if (!s->sess[i]) {
			slot = i;
			break;
		}
	getsockname(fd, (struct sockaddr *)&local, &ll);
	if (slot < 0 || !(x = sess_new(s, fd, &peer, &local))) {
		close(fd);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", s->dir, x->txname);
	x->tx = fopen(path, "w");
	if (x->tx)
		fprintf(x->tx, "# TCP %s:%u -> %s:%u  (> from the sandbox, < from the sinkhole; seconds since start)\n",
			x->src, x->sport, x->dst, x->dport);
	s->sess[slot] = x;
}

static void sess_close(det_sinkhole *s, int slot, const char *why)
{
	struct sess *x = s->sess[slot];
	char ts[40];
	when(s, ts, sizeof(ts));
	pthread_mutex_lock(&s->lock);
	json_object_set_new(x->j, "closed", json_string(ts));
	json_object_set_new(x->j, "closed_by", json_string(why));
	json_object_set_new(x->j, "bytes_in", json_integer((json_int_t)x->bytes_in));
	json_object_set_new(x->j, "bytes_out", json_integer((json_int_t)x->bytes_out));
	/* the bytes as text a reader and every JSON parser take (NUL, control
	 * bytes and invalid UTF-8 escaped) */
	char *fb = kcsi_escape_text(x->first, x->nfirst, 0);
	json_object_set_new(x->j, "first_bytes", json_string(fb ? fb : ""));
	free(fb);
	if (x->svc == SVC_UNKNOWN)
		json_object_set_new(x->j, "service", json_string("silent"));
	pthread_mutex_unlock(&s->lock);
	if (x->tx)
		fclose(x->tx);
	close(x->fd);
	json_decref(x->j);
	free(x);
	s->sess[slot] = NULL;
}

static void dgram(det_sinkhole *s, int fd, bool dns)
{
	unsigned char buf[4096], ans[4200];
	char cbuf[256], src[64], dst[64], ts[40], text[96] = "";
	struct sockaddr_in peer = {0}, orig = {0};
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr mh = {.msg_name = &peer, .msg_namelen = sizeof(peer), .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	unsigned sport, dport;
	det_dns_query q;
	size_t al = 0;
	ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);
	if (n < 0)
		return;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_ORIGDSTADDR)
			memcpy(&orig, CMSG_DATA(c), sizeof(orig));
	addr_str(&peer, src, sizeof(src), &sport);
	addr_str(&orig, dst, sizeof(dst), &dport);
	when(s, ts, sizeof(ts));
	if (dns && det_dns_parse(buf, (size_t)n, &q) == 0)
		al = det_dns_answer(buf, (size_t)n, &q, ans, sizeof(ans), text, sizeof(text));
	else if (dns)
		al = det_dns_formerr(buf, (size_t)n, ans, sizeof(ans));
	if (!dns || !al || text[0] == '\0') {
		pthread_mutex_lock(&s->lock);
		if (json_array_size(s->udp) < 2000)
		{
			char *fb = kcsi_escape_text(buf, (size_t)(n < 48 ? n : 48), 0);
			json_array_append_new(s->udp, json_pack("{s:s, s:s, s:i, s:s, s:i, s:i, s:s, s:f}", "time", ts,
								"src", src, "sport", sport, "dst", dst, "dport", dport,
								"bytes", (int)n, "first_bytes", fb ? fb : "", "t", rel(s)));
			free(fb);
		}
		pthread_mutex_unlock(&s->lock);
	}
	if (!al)
		return;
	/* the answer comes from the address the query went to; this thread
	 * lives in the sandbox's network namespace, so does the socket */
	int one = 1, mark = DET_MARK_SINKHOLE;
	int r = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (r >= 0) {
		setsockopt(r, SOL_IP, IP_TRANSPARENT, &one, sizeof(one));
		setsockopt(r, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
		setsockopt(r, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(r, (struct sockaddr *)&orig, sizeof(orig)) == 0)
			sendto(r, ans, al, MSG_DONTWAIT, (struct sockaddr *)&peer, sizeof(peer));
		close(r);
	}
	if (text[0])
		dns_log(s, &q, "udp", src, sport, dst, dport, text);
}

static void *loop(void *arg)
{
	det_sinkhole *s = arg;
	/* every socket this thread makes (DNS answers) belongs in the sandbox */
	if (setns(s->nsfd, CLONE_NEWNET) != 0)
		return NULL;
	struct pollfd pf[MAX_SESS + 4];
	int map[MAX_SESS + 4];
	for (;;) {
		int n = 0;
		pf[n] = (struct pollfd){s->stop_pipe[0], POLLIN, 0};
		map[n++] = -1;
		pf[n] = (struct pollfd){s->ltcp, POLLIN, 0};
		map[n++] = -2;
		pf[n] = (struct pollfd){s->ludp, POLLIN, 0};
		map[n++] = -3;
		pf[n] = (struct pollfd){s->ldns, POLLIN, 0};
		map[n++] = -4;
		for (int i = 0; i < MAX_SESS; i++)
			if (s->sess[i]) {
				pf[n] = (struct pollfd){s->sess[i]->fd, POLLIN, 0};
				map[n++] = i;
			}
		if (poll(pf, (nfds_t)n, 200) < 0 && errno != EINTR)
			break;
		if (pf[0].revents)
			break;
		for (int k = 1; k < n; k++) {
			if (!pf[k].revents)
				continue;
			if (map[k] == -2)
				sess_accept(s);
			else if (map[k] == -3 || map[k] == -4)
				dgram(s, pf[k].fd, map[k] == -4);
			else {
				unsigned char buf[8192];
				ssize_t r = recv(pf[k].fd, buf, sizeof(buf), MSG_DONTWAIT);
				if (r > 0) {
					pthread_mutex_lock(&s->lock);
					sess_data(s, s->sess[map[k]], buf, (size_t)r);
					pthread_mutex_unlock(&s->lock);
				} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
					sess_close(s, map[k], r == 0 ? "sandbox" : "error");
				}
			}
		}
		for (int i = 0; i < MAX_SESS; i++)
			if (s->sess[i] && s->sess[i]->svc == SVC_IRC) {
				pthread_mutex_lock(&s->lock);
				irc_tick(s, s->sess[i]);
				pthread_mutex_unlock(&s->lock);
			}
	}
	for (int i = 0; i < MAX_SESS; i++)
		if (s->sess[i])
			sess_close(s, i, "end of run");
	return NULL;
}

kcsi_code det_sinkhole_start(det_sinkhole *s, int netns_fd, kcsi_error *err)
{
	int e;
	s->nsfd = netns_fd;
	e = pthread_create(&s->thr, NULL, loop, s);
	if (e)
		return kcsi_error_set(err, KCSI_ERR_GENERIC, "sinkhole thread: %s", strerror(e));
	s->started = true;
	return KCSI_OK;
}

void det_sinkhole_stop(det_sinkhole *s)
{
	if (!s || !s->started)
		return;
	if (write(s->stop_pipe[1], "x", 1) < 0) {
		/* the pipe cannot be full; the thread also stops on close below */
	}
	pthread_join(s->thr, NULL);
	s->started = false;
}

json_t *det_sinkhole_record(det_sinkhole *s)
{
	json_t *r;
	pthread_mutex_lock(&s->lock);
	r = json_pack("{s:O, s:O, s:o, s:I, s:O, s:{s:i, s:i, s:i}}", "sessions", s->sessions, "dns", s->dns, "dns_zones",
		      kcsi_dns_zones_json(s->zones), "dns_not_recorded", (json_int_t)s->dns_dropped, "udp", s->udp, "ports",
		      "tcp", s->ptcp, "udp", s->pudp, "dns", s->pdns);
	pthread_mutex_unlock(&s->lock);
	return r;
}

void det_sinkhole_free(det_sinkhole *s)
{
	if (!s)
		return;
	det_sinkhole_stop(s);
	if (s->ltcp >= 0)
		close(s->ltcp);
	if (s->ludp >= 0)
		close(s->ludp);
	if (s->ldns >= 0)
		close(s->ldns);
	if (s->stop_pipe[0] >= 0) {
		close(s->stop_pipe[0]);
		close(s->stop_pipe[1]);
	}
	if (s->dnslog)
		fclose(s->dnslog);
	json_decref(s->sessions);
	json_decref(s->dns);
	json_decref(s->udp);
	kcsi_dns_zones_free(s->zones);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ---- one session fed from memory (the fuzzer; see sandbox_int.h) ---- */

json_t *det_sinkhole_feed(unsigned dport, const unsigned char *p, size_t n, size_t chunk, FILE *transcript)
{
	struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(40000)};
	struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons((uint16_t)dport)};
	det_sinkhole *s = sinkhole_new("", NULL, det_wall());
	json_t *rec = NULL;
	int sv[2] = {-1, -1};
	if (!s || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
		goto out;
	inet_pton(AF_INET, DET_IFACE_ADDR, &peer.sin_addr);
	inet_pton(AF_INET, DET_SINK_ADDR, &local.sin_addr);
	if (!(s->sess[0] = sess_new(s, sv[0], &peer, &local)))
		goto out;
	sv[0] = -1; /* the session's now */
	s->sess[0]->tx = transcript;
	transcript = NULL;
	while (n) {
		size_t k = chunk && chunk < n ? chunk : n;
		unsigned char answers[8192];
		pthread_mutex_lock(&s->lock);
		sess_data(s, s->sess[0], p, k);
		pthread_mutex_unlock(&s->lock);
		while (read(sv[1], answers, sizeof(answers)) > 0)
			; /* what the sinkhole answered: read and dropped */
		p += k;
		n -= k;
	}
	sess_close(s, 0, "sandbox");
	rec = det_sinkhole_record(s);
out:
	if (transcript)
		fclose(transcript);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	det_sinkhole_free(s);
	return rec;
}
