/* kcsi net — sockets per process and descriptor, queued TCP bytes. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct opt opts[] = {
	OPT_PID_FILTER,
	{"data", 'd', NULL, "text: also print the queued bytes (escaped)", .kind = OPT_FLAG},
	{"json", 'j', NULL, "print JSON (queued bytes as base64)", .kind = OPT_FLAG},
	{"ndjson", 0, NULL, "print JSON, a line per element (NDJSON)", .kind = OPT_FLAG},
	{"pretty", 0, NULL, "indent the JSON", .kind = OPT_FLAG},
	{0},
};

static void endpoint(const kcsi_sock *s, bool dst, char *buf, size_t cap)
{
	const char *a = dst ? s->dst : s->src;
	uint32_t port = dst ? s->dport : s->sport;
	if (!strcmp(s->family, "INET6"))
		snprintf(buf, cap, "[%s]:%u", a, port);
	else if (!strcmp(s->family, "INET"))
		snprintf(buf, cap, "%s:%u", a, port);
	else
		snprintf(buf, cap, "%s", *a ? a : "-");
}

static int run(struct args *a)
{
	kcsi_ckpt *c;
	kcsi_sock *v;
	size_t n;
	uint32_t pid = opt_pid(a);
	bool one = pid != 0;
	kcsi_error err;
	struct out o;
	int rc;
	const kcsi_meta *m;

	kcsi_error_clear(&err);
	if ((rc = open_view(a, 0, &c)))
		return rc;
	if (kcsi_ckpt_socks(c, &v, &n, &err) != KCSI_OK) {
		return ckpt_fail(c, a->pos[0], &err);
	}
	m = kcsi_ckpt_meta(c);
	out_open(&o, a);
	if (o.json) {
		kcsi_jsonw *w = &o.w;
		kcsi_jw_obj(w);
		kcsi_jw_key(w, "container");
		kcsi_jw_obj(w);
		kcsi_jw_kstr(w, "ip", m->ip);
		kcsi_jw_kstr(w, "mac", m->mac);
		kcsi_jw_kstr(w, "hostname", m->hostname);
		kcsi_jw_key(w, "network_status");
		jw_json(w, kcsi_ckpt_network(c));
		kcsi_jw_obj_end(w);
		kcsi_jw_key(w, "sockets");
		kcsi_jw_arr(w);
		for (size_t i = 0; i < n; i++) {
			const kcsi_sock *s = &v[i];
			if (one && s->pid != pid)
				continue;
			kcsi_jw_obj(w);
			kcsi_jw_kuint(w, "pid", s->pid);
			kcsi_jw_kint(w, "fd", s->fd);
			kcsi_jw_kuint(w, "ino", s->ino);
			kcsi_jw_kstr(w, "family", s->family);
			kcsi_jw_kstr(w, "type", s->type);
			kcsi_jw_kstr(w, "proto", s->proto);
			kcsi_jw_kstr(w, "state", s->state);
			kcsi_jw_kstr(w, "src", s->src);
			kcsi_jw_kuint(w, "sport", s->sport);
			kcsi_jw_kstr(w, "dst", s->dst);
			kcsi_jw_kuint(w, "dport", s->dport);
			if (!strcmp(s->family, "UNIX"))
				kcsi_jw_kuint(w, "peer_ino", s->peer_ino);
			kcsi_jw_key(w, "inq_len");
			if (s->has_queues) kcsi_jw_uint(w, s->inq_len); else kcsi_jw_null(w);
			kcsi_jw_key(w, "outq_len");
			if (s->has_queues) kcsi_jw_uint(w, s->outq_len); else kcsi_jw_null(w);
			if (s->has_queues) {
				kcsi_jw_key(w, "inq");
				kcsi_jw_base64(w, s->inq, (size_t)s->inq_len);
				kcsi_jw_key(w, "outq");
				kcsi_jw_base64(w, s->outq, (size_t)s->outq_len);
			}
			kcsi_jw_obj_end(w);
		}
		kcsi_jw_arr_end(w);
		kcsi_jw_obj_end(w);
		kcsi_jw_end(w);
	} else {
		struct table t;
		table_init(&t, 10);
		t.shown = 3u << 6; /* the library escapes unix socket names (\xNN) */
		table_add(&t, "PID", "FD", "FAMILY", "TYPE", "PROTO", "STATE", "LOCAL", "REMOTE", "RECV-Q", "SEND-Q");
		for (size_t i = 0; i < n; i++) {
			const kcsi_sock *s = &v[i];
			char p[16], fd[16], l[128], r[128], iq[32], oq[32];
			if (one && s->pid != pid)
				continue;
			snprintf(p, sizeof(p), "%u", s->pid);
			snprintf(fd, sizeof(fd), "%d", s->fd);
			endpoint(s, false, l, sizeof(l));
			endpoint(s, true, r, sizeof(r));
			snprintf(iq, sizeof(iq), s->has_queues ? "%" PRIu64 : "-", s->inq_len);
			snprintf(oq, sizeof(oq), s->has_queues ? "%" PRIu64 : "-", s->outq_len);
			table_add(&t, p, fd, s->family, s->type, s->proto, s->state, l, r, iq, oq);
		}
		fprintf(o.f, "%scontainer%s ip ", c_bold(&o), c_off(&o));
		print_escaped_str(o.f, m->ip ? m->ip : "- (host network or unknown)");
		fputs("  mac ", o.f);
		print_escaped_str(o.f, m->mac);
		fputs("  hostname ", o.f);
		print_escaped_str(o.f, m->hostname);
		fputs("\n\n", o.f);
		table_print(&t, &o);
		table_free(&t);
		if (opt_set(a, "data"))
			for (size_t i = 0; i < n; i++) {
				const kcsi_sock *s = &v[i];
				if ((one && s->pid != pid) || !s->has_queues || (!s->inq_len && !s->outq_len))
					continue;
				fprintf(o.f, "\npid %u fd %d receive queue (%" PRIu64 " bytes):\n  ", s->pid, s->fd, s->inq_len);
				print_escaped(o.f, (const char *)s->inq, (size_t)s->inq_len);
				fprintf(o.f, "\npid %u fd %d send queue (%" PRIu64 " bytes):\n  ", s->pid, s->fd, s->outq_len);
				print_escaped(o.f, (const char *)s->outq, (size_t)s->outq_len);
				fputc('\n', o.f);
			}
	}
	free(v);
	kcsi_ckpt_close(c);
	return out_close(&o, 0);
}

const struct cmd cmd_net = {
	.synopsis = "[--pid N] [--data] [--json] ARCHIVE",
	.summary = "show sockets per process, with the bytes queued in TCP streams",
	.description =
		"Every socket descriptor: family, type, protocol, state, local and remote address\n"
		"and port (IPv4 and IPv6), unix socket paths and peers, and for TCP the bytes\n"
		"waiting in the receive and send queues as CRIU saved them (tcp-stream images).\n"
		"Queue lengths are the queued bytes, not buffer sizes.  The container's address\n"
		"comes from network.status or the CRI-O annotations.",
	.json_doc =
		"An object:\n"
		"  container  {ip, mac, hostname, network_status (network.status as it is, or null)}\n"
		"  sockets    array of {pid, fd, ino, family, type, proto, state, src, sport, dst, dport,\n"
		"             peer_ino (unix), inq_len, outq_len (null when no queue image), inq, outq\n"
		"             (the queued bytes, base64)}",
	.example =
		"$ kcsi net checkpoint-perlbot.tar\n"
		"...\n"
		"PID  FD  FAMILY  TYPE    PROTO  STATE        LOCAL            REMOTE          RECV-Q  SEND-Q\n"
		"15   5   INET    STREAM  TCP    ESTABLISHED  127.0.0.1:38898  127.6.6.6:6667  0       0",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.run = run,
};
