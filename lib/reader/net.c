/* kcsi — sockets per process and descriptor, with the bytes queued in TCP
 * streams (tcp-stream-INO.img) and unix peers. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader/ckpt_int.h"

static const char *family_name(uint32_t f)
{
	switch (f) {
	case 1: return "UNIX";
	case 2: return "INET";
	case 10: return "INET6";
	case 16: return "NETLINK";
	case 17: return "PACKET";
	default: return "OTHER";
	}
}

static const char *type_name(uint32_t t)
{
	switch (t) {
	case 1: return "STREAM";
	case 2: return "DGRAM";
	case 3: return "RAW";
	case 5: return "SEQPACKET";
	case 10: return "PACKET";
	default: return "OTHER";
	}
}

static const char *proto_name(kcsi_ckpt *c, uint32_t p)
{
	switch (p) {
	case 0: return "IP";
	case 1: return "ICMP";
	case 6: return "TCP";
	case 17: return "UDP";
	case 58: return "ICMPV6";
	case 136: return "UDPLITE";
	case 255: return "RAW";
	default: return ck_printf(c, "%u", p);
	}
}

static const char *state_name(uint32_t s)
{
	static const char *const names[] = {
		"UNKNOWN", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
		"TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
	};
	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "UNKNOWN";
}

/* CRIU keeps addresses as u32 words in network byte order. */
static void addr_text(uint32_t family, const uint32_t *w, size_t n, char *out, size_t cap)
{
	if (family == 2 && n >= 1) {
		inet_ntop(AF_INET, &w[0], out, (socklen_t)cap);
	} else if (family == 10 && n >= 4) {
		inet_ntop(AF_INET6, w, out, (socklen_t)cap);
	} else {
		snprintf(out, cap, "%s", n ? "?" : "");
	}
}

static kcsi_code tcp_queues(kcsi_ckpt *c, kcsi_sock *s, kcsi_error *err)
{
	char name[64];
	const unsigned char *data;
	size_t size;
	bool present;
	kcsi_image img;
	ProtobufCMessage *m;
	kcsi_code rc;
	char full[600];

	snprintf(name, sizeof(name), "tcp-stream-%x.img", s->ino);
	if ((rc = ck_image_data(c, name, &data, &size, &present, err)) != KCSI_OK || !present)
		return rc;
	snprintf(full, sizeof(full), "%s%s", c->prefix, name);
	if ((rc = kcsi_image_open(&img, full, data, size, kcsi_image_desc_by_name("TCP_STREAM"), err)) != KCSI_OK ||
	    (rc = kcsi_image_next(&img, NULL, &m, err)) != KCSI_OK)
		return rc;
	if (!m)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: no entry", full);
	ck_own(c, m);
	TcpStreamEntry *t = (TcpStreamEntry *)m;
	if ((rc = kcsi_image_raw(&img, t->inq_len, &s->inq, err)) != KCSI_OK ||
	    (rc = kcsi_image_raw(&img, t->outq_len, &s->outq, err)) != KCSI_OK)
		return rc;
	s->inq_len = t->inq_len;
	s->outq_len = t->outq_len;
	s->has_queues = true;
	return KCSI_OK;
}

static UnixSkEntry *unix_by_ino(kcsi_ckpt *c, uint32_t ino)
{
	for (size_t i = 0; i < c->nfiles; i++)
		if (c->files[i]->type == FD_TYPES__UNIXSK && c->files[i]->usk && c->files[i]->usk->ino == ino)
			return c->files[i]->usk;
	return NULL;
}

static void unix_name(const UnixSkEntry *u, char *out, size_t cap)
{
	size_t n = u->name.len, o = 0;
	if (n == 0) {
		out[0] = '\0';
		return;
	}
	for (size_t i = 0; i < n && o + 5 < cap; i++) {
		unsigned char ch = u->name.data[i];
		if (i == 0 && ch == 0)
			out[o++] = '@'; /* abstract namespace, as ss shows it */
		else if (ch < 32 || ch >= 127)
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
		else
			out[o++] = (char)ch;
	}
	out[o] = '\0';
}

kcsi_code kcsi_ckpt_socks(kcsi_ckpt *c, kcsi_sock **out, size_t *n, kcsi_error *err)
{
	kcsi_sock *v = NULL;
	size_t cnt = 0, cap = 0;
	kcsi_code rc;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < c->nprocs; i++) {
		struct proc_priv *p = &c->procs[i];
		for (size_t k = 0; k < p->nfdinfo; k++) {
			FdinfoEntry *fi = (FdinfoEntry *)p->fdinfo[k];
			FileEntry *f = ck_file(c, fi->id);
			kcsi_sock *s;
			if (!f || (f->type != FD_TYPES__INETSK && f->type != FD_TYPES__UNIXSK &&
				   f->type != FD_TYPES__PACKETSK && f->type != FD_TYPES__NETLINKSK))
				continue;
			if (cnt == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				kcsi_sock *q = realloc(v, ncap * sizeof(*q));
				if (!q) {
					free(v);
					return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
				}
				v = q;
				cap = ncap;
			}
			s = &v[cnt++];
			memset(s, 0, sizeof(*s));
			s->pid = p->pub.pid;
			s->fd = (int)fi->fd;
			if (f->type == FD_TYPES__INETSK && f->isk) {
				InetSkEntry *k2 = f->isk;
				s->ino = k2->ino;
				s->family = family_name(k2->family);
				s->type = type_name(k2->type);
				s->proto = proto_name(c, k2->proto);
				s->state = state_name(k2->state);
				addr_text(k2->family, k2->src_addr, k2->n_src_addr, s->src, sizeof(s->src));
				addr_text(k2->family, k2->dst_addr, k2->n_dst_addr, s->dst, sizeof(s->dst));
				s->sport = k2->src_port;
				s->dport = k2->dst_port;
				s->backlog = k2->backlog;
				if (k2->proto == 6 && (rc = tcp_queues(c, s, err)) != KCSI_OK) {
					free(v);
					return rc;
				}
			} else if (f->type == FD_TYPES__UNIXSK && f->usk) {
				UnixSkEntry *u = f->usk;
				s->ino = u->ino;
				s->family = "UNIX";
				s->type = type_name(u->type);
				s->proto = "";
				s->state = state_name(u->state);
				unix_name(u, s->src, sizeof(s->src));
				s->peer_ino = u->peer;
				s->backlog = u->backlog;
				if (u->peer) {
					UnixSkEntry *peer = unix_by_ino(c, u->peer);
					if (peer)
						unix_name(peer, s->dst, sizeof(s->dst));
					if (!s->dst[0])
						snprintf(s->dst, sizeof(s->dst), "socket:[%u]", u->peer);
				}
			} else if (f->type == FD_TYPES__PACKETSK && f->psk) {
				s->ino = f->psk->id;
				s->family = "PACKET";
				s->type = type_name(f->psk->type);
				s->proto = ck_printf(c, "0x%04x", ntohs((uint16_t)f->psk->protocol));
				s->state = "";
				snprintf(s->src, sizeof(s->src), "ifindex %u", f->psk->ifindex);
			} else if (f->type == FD_TYPES__NETLINKSK && f->nlsk) {
				s->ino = f->nlsk->ino;
				s->family = "NETLINK";
				s->type = "RAW";
				s->proto = ck_printf(c, "%u", f->nlsk->protocol);
				s->state = state_name(f->nlsk->state);
				snprintf(s->src, sizeof(s->src), "portid %u", f->nlsk->portid);
			} else {
				s->family = ck_fd_type_name(f->type);
				s->type = s->proto = s->state = "";
			}
		}
	}
	*out = v;
	*n = cnt;
	return KCSI_OK;
}
