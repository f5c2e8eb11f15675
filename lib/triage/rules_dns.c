/* kcsi — triage rules on DNS tunnels and DNS exfiltration.
 *
 * Query names are gathered from where a tunnel leaves them: the writable
 * memory of every process that can send DNS (a UDP socket, or TCP with port
 * 53), as text and in DNS wire format (length-prefixed labels); the bytes
 * queued on TCP sockets of port 53; and the files the container wrote (the
 * rootfs diff, /dev/shm, deleted files kept open), where a tunnel stages its
 * query list.  The names are grouped by zone with evidence/dnsstat (the
 * registrable domain by the Public Suffix List) as detonate does: many
 * unique subdomains of long, high-entropy or encoded labels under one zone is
 * a tunnel when the labels carry payload (an encoded label of 24 characters
 * or more, or labels of 30 on average: high entropy alone is what the hashed
 * host names of pods and CDNs have).  A process often holds only the query it
 * is sending, so one name counts too when its labels carry encoded payload
 * (hex, base32, base64url; 48 characters or more).
 *
 *   KCSI-DNS-001  a process that can send DNS holds tunnel query names
 *                 (critical; high for a lone encoded name unless the payload
 *                 or the process's memory shows stolen data or a staged
 *                 encoded blob; medium when the process is a DNS server)
 *   KCSI-DNS-002  a file holds tunnel query names (a staged query list: high)
 *   KCSI-DNS-003  a DNS socket to a server that is not the container's
 *                 resolver, when resolv.conf is known (low)
 *
 * The labels are decoded (in sequence order when a label numbers them) and
 * what they carry is described with secrets masked.  The zone is one IOC;
 * the query names under it are payload, not indicators: they are taken out
 * of the IOCs. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "evidence/dnsstat.h"
#include "kcsi/sources.h"
#include "triage/netdata.h"

#define DNS_MEM_CAP (256u << 20)  /* bytes of one process's memory looked at */
#define DNS_FILE_MAX (8u << 20)   /* bytes of one file looked at */
#define DNS_NAMES_MAX 8192        /* names kept per source, for decoding and evidence */
#define DNS_MIN_PAYLOAD 48        /* encoded label characters that make one name a tunnel query */
#define DNS_MIN_LABEL 24          /* an encoded label this long in a zone of many unique names */
#define DNS_LONG_MEAN 30.0        /* or labels this long on average (an encoding not recognised) */
#define DNS_STAGED_BLOB 4096      /* an encoded run this long beside the queries is the payload */
#define DNS_ZONES_SHOWN 4         /* tunnel zones reported per source */

/* The names one source (a process, or a file) holds. */
typedef struct dns_src {
	uint32_t pid;            /* 0: a file */
	char *path;              /* the file */
	kcsi_dns_zones *zones;
	kcsi_strmap seen;        /* name -> index in names */
	struct dns_name {
		char *name;
		uint64_t addr;       /* where first seen (memory) */
		bool wire;           /* seen as a DNS message */
	} *names;
	size_t nnames;
	size_t blob[3];          /* longest hex, base32, base64 run in memory */
	az_data held;            /* what the process's memory holds (sensitive data) */
	bool classified;
} dns_src;

typedef struct dns_run {
	az *a;
	az_classifier *k;
	dns_src *v;
	size_t n;
	char resolvers[8][64];   /* nameserver lines seen (resolv.conf) */
	size_t nresolvers;
} dns_run;

static dns_src *src_new(dns_run *r, uint32_t pid, const char *path)
{
	dns_src *g = realloc(r->v, (r->n + 1) * sizeof(*g)), *s;
	if (!g)
		return NULL;
	r->v = g;
	s = &r->v[r->n];
	memset(s, 0, sizeof(*s));
	if (!(s->zones = kcsi_dns_zones_new()))
		return NULL;
	s->pid = pid;
	s->path = az_strdup(path);
	az_data_init(&s->held);
	r->n++;
	return s;
}

static void src_free(dns_src *s)
{
	kcsi_dns_zones_free(s->zones);
	kcsi_strmap_free(&s->seen);
	for (size_t i = 0; i < s->nnames; i++)
		free(s->names[i].name);
	free(s->names);
	free(s->path);
	az_data_free(&s->held);
}

static bool label_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_';
}

/* One candidate name (kept as found: the case of encoded labels is data);
 * the last label must look like a top-level domain (letters only) and there
 * must be three labels. */
static void add_name(dns_src *s, const char *p, size_t n, uint64_t addr, bool wire)
{
	size_t dots = 0, last = 0;
	char name[256];
	if (n < 5 || n > 253)
		return;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '.') {
			if (i == 0 || p[i - 1] == '.' || i - last > 63)
				return;
			dots++;
			last = i + 1;
		}
		name[i] = p[i];
	}
	name[n] = '\0';
	if (dots < 2 || n - last < 2 || n - last > 24 || n - last > 63)
		return;
	for (size_t i = last; i < n; i++)
		if (!isalpha((unsigned char)name[i]))
			return;
	kcsi_dns_zones_add(s->zones, name, n);
	if (s->nnames >= DNS_NAMES_MAX || kcsi_strmap_get(&s->seen, name, n, -1) >= 0)
		return;
	struct dns_name *g = realloc(s->names, (s->nnames + 1) * sizeof(*g));
	if (!g)
		return;
	s->names = g;
	if (!(g[s->nnames].name = strdup(name)))
		return;
	g[s->nnames].addr = addr;
	g[s->nnames].wire = wire;
	if (kcsi_strmap_put(&s->seen, name, n, (int)s->nnames)) {
		free(g[s->nnames].name);
		return;
	}
	s->nnames++;
}

/* Host names in text: runs of label characters and dots. */
static void names_in_text(dns_src *s, const unsigned char *p, size_t n, uint64_t addr)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && (label_char(p[j]) || p[j] == '.'))
			j++;
		if (j > i) {
			size_t a0 = i, b0 = j;
			while (a0 < b0 && p[a0] == '.')
				a0++;
			while (b0 > a0 && p[b0 - 1] == '.')
				b0--;
			if (memchr(p + a0, '.', b0 - a0))
				add_name(s, (const char *)p + a0, b0 - a0, addr + a0, false);
			i = j;
		} else {
			i++;
		}
	}
}

/* Names in DNS wire format: length-prefixed labels ending with a zero byte. */
static void names_in_wire(dns_src *s, const unsigned char *p, size_t n, size_t own, uint64_t addr)
{
	for (size_t i = 0; i < own && i < n; i++) {
		size_t j = i, labels = 0, len = 0;
		char name[256];
		if (p[i] < 1 || p[i] > 63 || i + 1 >= n || !label_char(p[i + 1]))
			continue;
		while (j < n && p[j] >= 1 && p[j] <= 63 && j + 1 + p[j] < n && len + p[j] + 1 < sizeof(name)) {
			size_t l = p[j], k;
			for (k = 0; k < l && label_char(p[j + 1 + k]); k++)
				;
			if (k < l)
				break;
			if (len)
				name[len++] = '.';
			memcpy(name + len, p + j + 1, l);
			len += l;
			labels++;
			j += 1 + l;
		}
		if (labels >= 3 && j < n && p[j] == 0) {
			add_name(s, name, len, addr + i, true);
			i = j;
		}
	}
}

/* ---- processes: memory ---- */

struct mem_ctx {
	dns_run *r;
	dns_src *s;
	const unsigned char *win;
	uint64_t addr;
};

static void on_run(void *ctx, size_t off, size_t len)
{
	struct mem_ctx *m = ctx;
	const unsigned char *p = m->win + off;
	names_in_text(m->s, p, len, m->addr + off);
	/* resolv.conf as read into memory */
	for (const unsigned char *q = p; (q = memmem(q, (size_t)(p + len - q), "nameserver", 10)); q += 10) {
		char ip[64];
		size_t k = 0;
		const unsigned char *v = q + 10;
		if ((q > p && q[-1] != '\n') || v >= p + len || (*v != ' ' && *v != '\t'))
			continue;
		while (v < p + len && (*v == ' ' || *v == '\t'))
			v++;
		while (v + k < p + len && k < sizeof(ip) - 1 && (isxdigit(v[k]) || v[k] == '.' || v[k] == ':'))
			k++;
		memcpy(ip, v, k);
		ip[k] = '\0';
		if (kcsi_addr_class(ip) && m->r->nresolvers < 8) {
			bool dup = false;
			for (size_t i = 0; i < m->r->nresolvers; i++)
				dup |= !strcmp(m->r->resolvers[i], ip);
			if (!dup)
				snprintf(m->r->resolvers[m->r->nresolvers++], 64, "%s", ip);
		}
	}
	/* the longest encoded runs (a staged payload) */
	if (len >= DNS_STAGED_BLOB) {
		const char *e = kcsi_label_encoding((const char *)p, len < 4096 ? len : 4096);
		int k = !e ? -1 : !strcmp(e, "hex") ? 0 : !strcmp(e, "base32") ? 1 : 2;
		if (k >= 0 && len > m->s->blob[k])
			m->s->blob[k] = len;
	}
}

static int on_window(void *ctx, uint64_t addr, const unsigned char *p, size_t n, size_t own)
{
	struct mem_ctx *m = ctx;
	m->win = p;
	m->addr = addr;
	names_in_wire(m->s, p, n, own, addr);
	az_text_runs(p, n, own, 8, on_run, m);
	return 0;
}

/* Can this socket carry DNS: UDP, or TCP with port 53 at either end? */
static bool dns_capable(const kcsi_sock *s)
{
	return az_sock_inet(s) && (!strcmp(s->proto, "UDP") || s->dport == 53 || s->sport == 53);
}

static void processes(dns_run *r)
{
	az *a = r->a;
	for (size_t i = 0; i < kcsi_ckpt_nprocs(a->c); i++) {
		const kcsi_proc *p = kcsi_ckpt_proc(a->c, i);
		bool dns = false;
		dns_src *s;
		for (size_t k = 0; k < a->nsocks && !dns; k++)
			dns = a->socks[k].pid == p->pid && dns_capable(&a->socks[k]);
		if (!dns || !(s = src_new(r, p->pid, NULL)))
			continue;
		struct mem_ctx m = {r, s, NULL, 0};
		az_walk_anon(a, p->pid, DNS_MEM_CAP, on_window, &m);
		/* DNS over TCP: the queued messages */
		for (size_t k = 0; k < a->nsocks; k++) {
			const kcsi_sock *q = &a->socks[k];
			if (q->pid != p->pid || !q->has_queues || (q->dport != 53 && q->sport != 53))
				continue;
			if (q->outq_len)
				names_in_wire(s, q->outq, (size_t)q->outq_len, (size_t)q->outq_len, 0);
			if (q->inq_len)
				names_in_wire(s, q->inq, (size_t)q->inq_len, (size_t)q->inq_len, 0);
		}
	}
}

/* ---- files ---- */

struct file_ctx {
	dns_run *r;
	dns_src *s;
	kcsi_buf text;
};

static int f_begin(void *ctx, const kcsi_object *o)
{
	struct file_ctx *f = ctx;
	f->s = NULL;
	if (o->size < 16 || o->size > DNS_FILE_MAX)
		return 1;
	kcsi_buf_free(&f->text);
	kcsi_buf_init(&f->text, DNS_FILE_MAX);
	return 0;
}

static int f_data(void *ctx, const kcsi_object *o, uint64_t off, const unsigned char *p, size_t len)
{
	struct file_ctx *f = ctx;
	(void)o;
	(void)off;
	kcsi_buf_add_some(&f->text, p, len);
	return 0;
}

static int f_end(void *ctx, const kcsi_object *o)
{
	struct file_ctx *f = ctx;
	dns_src probe;
	memset(&probe, 0, sizeof(probe));
	if (!f->text.len)
		return 0;
	if (!strcmp(o->path, "/etc/resolv.conf")) {
		struct mem_ctx m = {f->r, &probe, (const unsigned char *)f->text.data, 0};
		if ((probe.zones = kcsi_dns_zones_new()))
			on_run(&m, 0, f->text.len);
		kcsi_dns_zones_free(probe.zones);
		return 0;
	}
	/* only files that hold a tunnel get a source of their own */
	if (!(probe.zones = kcsi_dns_zones_new()))
		return 0;
	names_in_text(&probe, (const unsigned char *)f->text.data, f->text.len, 0);
	if (kcsi_dns_zones_tunnel(probe.zones)) {
		dns_src *s = src_new(f->r, 0, o->path);
		if (s) {
			kcsi_dns_zones_free(s->zones);
			s->zones = probe.zones;
			s->seen = probe.seen;
			s->names = probe.names;
			s->nnames = probe.nnames;
			return 0;
		}
	}
	src_free(&probe);
	return 0;
}

static void files(dns_run *r)
{
	struct file_ctx f = {r, NULL, {0}};
	kcsi_object_cbs cb = {f_begin, f_data, f_end};
	kcsi_error err;
	kcsi_error_clear(&err);
	kcsi_buf_init(&f.text, DNS_FILE_MAX);
	kcsi_walk_objects(r->a->c, KCSI_SRC_ROOTFS | KCSI_SRC_DEVSHM | KCSI_SRC_GHOST, &cb, &f, &err);
	kcsi_buf_free(&f.text);
}

/* ---- what a zone's names carry ---- */

/* Is name under zone (dnsstat's zones are lower case; names keep theirs)? */
static bool under(const char *name, const char *zone)
{
	size_t nl = strlen(name), zl = strlen(zone);
	return nl > zl + 1 && name[nl - zl - 1] == '.' && !strcasecmp(name + nl - zl, zone);
}

/* Encoded payload characters in the labels of a name before its zone. */
static size_t payload_chars(const char *name, size_t sub)
{
	size_t total = 0;
	for (size_t i = 0; i < sub;) {
		size_t l = strcspn(name + i, ".");
		if (l > sub - i)
			l = sub - i;
		if (kcsi_label_encoding(name + i, l))
			total += l;
		i += l + 1;
	}
	return total;
}

/* The number label of a name (a sequence number), or -1. */
static long seq_of(const char *name, size_t sub)
{
	for (size_t i = 0; i < sub;) {
		size_t l = strcspn(name + i, ".");
		bool digits = l > 0 && l <= 9;
		for (size_t k = 0; k < l && digits; k++)
			digits = isdigit((unsigned char)name[i + k]);
		if (digits)
			return strtol(name + i, NULL, 10);
		i += l + 1;
	}
	return -1;
}

typedef struct zone_view {
	const char *zone;
	size_t names, max_payload, payload_total;
	const char *encoding;    /* of the payload labels */
	const struct dns_name *example;
	json_t *stats;           /* the zone's dnsstat record */
	bool tunnel;             /* by dnsstat (many unique names) */
} zone_view;

struct seq_name {
	long seq;
	const char *name;
};

static int cmp_seq(const void *x, const void *y)
{
	const struct seq_name *a = x, *b = y;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Decode the payload labels of the zone's names, in sequence order when
 * they are numbered, and say what they carry. */
static void decode_zone(dns_run *r, dns_src *s, const zone_view *z, az_data *d)
{
	struct seq_name *v = calloc(s->nnames ? s->nnames : 1, sizeof(*v));
	kcsi_buf out;
	size_t n = 0, zl = strlen(z->zone);
	if (!v)
		return;
	for (size_t i = 0; i < s->nnames; i++)
		if (under(s->names[i].name, z->zone)) {
			v[n].name = s->names[i].name;
			v[n].seq = seq_of(v[n].name, strlen(v[n].name) - zl - 1);
			n++;
		}
	qsort(v, n, sizeof(*v), cmp_seq);
	kcsi_buf_init(&out, 4u << 20);
	for (size_t i = 0; i < n; i++) {
		const char *nm = v[i].name;
		size_t sub = strlen(nm) - zl - 1;
		for (size_t p = 0; p < sub;) {
			size_t l = strcspn(nm + p, ".");
			const char *e;
			unsigned char buf[64];
			if (l > sub - p)
				l = sub - p;
			if ((e = kcsi_label_encoding(nm + p, l)) && z->encoding && !strcmp(e, z->encoding)) {
				size_t o = !strcmp(e, "hex") ? az_unhex(nm + p, l, buf, sizeof(buf))
					   : !strcmp(e, "base32") ? az_unbase32(nm + p, l, buf, sizeof(buf))
								   : az_unbase64(nm + p, l, buf, sizeof(buf));
				kcsi_buf_add_some(&out, buf, o);
			}
			p += l + 1;
		}
	}
	if (out.len)
		az_data_classify(r->k, d, (const unsigned char *)out.data, out.len, n && v[0].seq == 0);
	if (out.len && !(d->kinds & AZD_SENSITIVE)) {
		char pre[48];
		size_t k = 0;
		for (; k < out.len && k < sizeof(pre) - 1; k++)
			pre[k] = isprint((unsigned char)out.data[k]) ? out.data[k] : '.';
		pre[k] = '\0';
		kcsi_buf_printf(&d->what, "%sdecoded %zu bytes from %zu name%s, beginning \"%s\"",
				d->what.len ? "; " : "", out.len, n, n == 1 ? "" : "s", pre);
	} else if (out.len) {
		kcsi_buf_printf(&d->what, " (decoded %zu bytes from %zu name%s)", out.len, n, n == 1 ? "" : "s");
	}
	kcsi_buf_free(&out);
	free(v);
}

/* What the zone's names of a source look like. */
static void view_zone(dns_src *s, json_t *zj, zone_view *z)
{
	size_t zl;
	size_t enc_count[3] = {0};
	static const char *const encs[] = {"hex", "base32", "base64url"};
	memset(z, 0, sizeof(*z));
	z->zone = json_string_value(json_object_get(zj, "zone"));
	z->stats = zj;
	z->tunnel = json_is_true(json_object_get(zj, "tunnel"));
	if (!z->zone)
		return;
	zl = strlen(z->zone);
	for (size_t i = 0; i < s->nnames; i++) {
		const char *nm = s->names[i].name;
		size_t sub, pc;
		if (!under(nm, z->zone))
			continue;
		sub = strlen(nm) - zl - 1;
		pc = payload_chars(nm, sub);
		z->names++;
		z->payload_total += pc;
		if (pc > z->max_payload || !z->example || (s->names[i].wire && !z->example->wire && pc >= z->max_payload)) {
			z->max_payload = pc > z->max_payload ? pc : z->max_payload;
			z->example = &s->names[i];
		}
		for (size_t p = 0; p < sub;) {
			size_t l = strcspn(nm + p, ".");
			const char *e = kcsi_label_encoding(nm + p, l > sub - p ? sub - p : l);
			for (int k = 0; e && k < 3; k++)
				enc_count[k] += !strcmp(e, encs[k]);
			p += l + 1;
		}
	}
	for (int k = 0, best = -1; k < 3; k++)
		if (enc_count[k] && (best < 0 || enc_count[k] > enc_count[best])) {
			best = k;
			z->encoding = encs[k];
		}
}

/* ---- findings ---- */

/* Each (type domain) IOC under a tunnel zone leaves the set; the zone stays,
 * counted once for each name folded into it. */
struct fold_zone {
	const char *zone;
	uint64_t folded;
};

static bool outside_zone(const kcsi_ioc *io, void *ctx)
{
	struct fold_zone *fz = ctx;
	if (!strcmp(io->type, "domain") && under(io->value, fz->zone) && strcmp(io->value, fz->zone) != 0) {
		fz->folded += io->count ? io->count : 1;
		return false;
	}
	return true;
}

static void fold_names(kcsi_iocs *s, const char *zone, const kcsi_ioc_prov *where)
{
	struct fold_zone fz = {zone, 0};
	kcsi_ioc *z;
	kcsi_iocs_filter(s, outside_zone, &fz);
	if ((z = kcsi_iocs_add_prov(s, "domain", zone, 1, where)) && fz.folded)
		z->count += fz.folded;
}

static void add_mitre_for(kcsi_finding *f, unsigned kinds)
{
	if (kinds & (AZD_SHADOW | AZD_ACCOUNTS))
		kcsi_finding_add_mitre(f, "T1003.008");
	else if (kinds & (AZD_PRIVKEY | AZD_CLOUDKEY | AZD_TOKEN | AZD_CREDFILE))
		kcsi_finding_add_mitre(f, "T1552.001");
}

static const kcsi_sock *dns_socket(az *a, uint32_t pid, bool *server)
{
	const kcsi_sock *best = NULL;
	*server = false;
	for (size_t k = 0; k < a->nsocks; k++) {
		const kcsi_sock *q = &a->socks[k];
		if (q->pid != pid || !dns_capable(q))
			continue;
		if (q->sport == 53 && (!strcmp(q->state, "LISTEN") || !q->dport))
			*server = true;
		if (!best || (q->dport == 53 && best->dport != 53) || (q->dport && !best->dport))
			best = q;
	}
	return best;
}

static bool is_resolver(dns_run *r, const char *ip)
{
	for (size_t i = 0; i < r->nresolvers; i++)
		if (!strcmp(r->resolvers[i], ip))
			return true;
	return false;
}

static void resolver_list(dns_run *r, char *out, size_t cap)
{
	size_t l = 0;
	out[0] = '\0';
	for (size_t i = 0; i < r->nresolvers && l < cap; i++)
		l += (size_t)snprintf(out + l, cap - l, "%s%s", i ? ", " : "", r->resolvers[i]);
}

/* Memory of a tunnelling process: what it holds besides the names. */
struct held_ctx {
	dns_run *r;
	dns_src *s;
	const unsigned char *win;
};

static void held_run(void *ctx, size_t off, size_t len)
{
	struct held_ctx *h = ctx;
	az_data_classify(h->r->k, &h->s->held, h->win + off, len, true);
}

static int held_window(void *ctx, uint64_t addr, const unsigned char *p, size_t n, size_t own)
{
	struct held_ctx *h = ctx;
	(void)addr;
	h->win = p;
	az_text_runs(p, n, own, 32, held_run, h);
	return 0;
}

static void process_finding(dns_run *r, dns_src *s, const zone_view *z)
{
	az *a = r->a;
	bool server = false;
	const kcsi_sock *sock = dns_socket(a, s->pid, &server);
	const kcsi_proc *p = kcsi_ckpt_proc_by_pid(a->c, s->pid);
	int ek = z->encoding ? (!strcmp(z->encoding, "hex") ? 0 : !strcmp(z->encoding, "base32") ? 1 : 2) : -1;
	bool staged = ek >= 0 && s->blob[ek] >= DNS_STAGED_BLOB;
	bool foreign = sock && sock->dport && r->nresolvers && !is_resolver(r, sock->dst);
	enum kcsi_severity sev;
	az_data d;
	kcsi_finding *f;
	kcsi_evidence *e;
	char rs[200];

	if (!s->classified) {
		struct held_ctx h = {r, s, NULL};
		az_walk_anon(a, s->pid, DNS_MEM_CAP, held_window, &h);
		s->classified = true;
	}
	az_data_init(&d);
	decode_zone(r, s, z, &d);
	sev = z->tunnel || (d.kinds & AZD_SENSITIVE) || (s->held.kinds & AZD_SECRET) || staged || foreign
		      ? KCSI_SEV_CRITICAL
		      : KCSI_SEV_HIGH;
	if (server)
		sev = KCSI_SEV_MEDIUM; /* a DNS server relays others' queries */
	f = az_finding(a, "KCSI-DNS-001", sev,
		       az_printf("DNS tunnel: process %u (%s) sends data in query names under %s", s->pid,
				 p ? az_base(p->exe) : "?", z->zone),
		       az_printf("Process %u holds %zu DNS query name%s under %s whose labels carry encoded data (up to "
				 "%zu %s characters in one name)%s, and a socket that %s DNS%s. Each query carries a "
				 "piece of a file or of a command channel to whoever answers for the zone: DNS tunnelling "
				 "or exfiltration.",
				 s->pid, z->names, z->names == 1 ? "" : "s", z->zone, z->max_payload,
				 z->encoding ? z->encoding : "encoded", z->tunnel ? ", many of them unique" : "",
				 server ? "serves" : "sends", server ? " (a DNS server: the names may be others' queries)" : ""),
		       "T1071.004 T1048.003 T1572 T1132.001");
	if (z->names > 1)
		kcsi_finding_add_mitre(f, "T1030");
	add_mitre_for(f, d.kinds | s->held.kinds);
	if (sock && (e = az_sock_evidence(f, sock)) && foreign) {
		resolver_list(r, rs, sizeof(rs));
		kcsi_evidence_excerptf(e, "%s:%u is not the container's resolver (%s)", sock->dst, sock->dport, rs);
	}
	if ((e = az_evidence(f, "dns", s->pid, -1))) {
		json_t *reasons = json_object_get(z->stats, "reasons");
		kcsi_buf b;
		kcsi_buf_init(&b, 1200);
		long long uq = (long long)json_integer_value(json_object_get(z->stats, "unique_subdomains"));
		kcsi_buf_printf(&b, "%zu name%s under %s (%lld seen in all, %lld unique subdomain%s)", z->names,
				z->names == 1 ? "" : "s", z->zone,
				(long long)json_integer_value(json_object_get(z->stats, "queries")), uq, uq == 1 ? "" : "s");
		for (size_t i = 0; i < json_array_size(reasons); i++)
			kcsi_buf_printf(&b, "; %s", json_string_value(json_array_get(reasons, i)));
		if (z->example)
			kcsi_buf_printf(&b, "; e.g. %.120s%s%s", z->example->name, strlen(z->example->name) > 120 ? "..." : "",
					z->example->wire ? " (as a DNS message)" : "");
		kcsi_evidence_excerpt(e, b.data ? b.data : "", b.len, 600);
		if (z->example && z->example->addr) {
			e->address = z->example->addr;
			e->has_address = true;
			e->area = az_strdup(az_area_of(a, s->pid, z->example->addr));
		}
		e->command = az_printf("kcsi memgrep --pid %u ARCHIVE %s", s->pid, z->zone);
		kcsi_buf_free(&b);
	}
	if (d.what.len && (e = az_evidence(f, "dns", s->pid, -1)))
		kcsi_evidence_excerptf(e, "the labels decode to: %s", az_data_what(&d));
	if ((staged || (s->held.kinds & AZD_SENSITIVE)) && (e = az_evidence(f, "memory", s->pid, -1))) {
		if (staged)
			kcsi_evidence_excerptf(e, "a %zu-character %s run waits in its memory: the rest of the payload%s%s",
					       s->blob[ek], z->encoding, s->held.kinds & AZD_SENSITIVE ? "; it holds " : "",
					       s->held.kinds & AZD_SENSITIVE ? az_data_what(&s->held) : "");
		else
			kcsi_evidence_excerptf(e, "its memory holds %s", az_data_what(&s->held));
		e->command = az_printf("kcsi strings --pid %u -n 64 ARCHIVE", s->pid);
	}
	az_data_free(&d);
}

static void file_finding(dns_run *r, dns_src *s, const zone_view *z)
{
	az_data d;
	kcsi_finding *f;
	kcsi_evidence *e;
	az_data_init(&d);
	decode_zone(r, s, z, &d);
	f = az_finding(r->a, "KCSI-DNS-002", KCSI_SEV_HIGH,
		       az_printf("DNS query names with encoded data staged in %s (zone %s)", s->path, z->zone),
		       az_printf("The file %s holds %zu query names under %s whose labels carry encoded data: a list of "
				 "queries written for a DNS tunnel to send (a file's content, cut to the size of labels).",
				 s->path, z->names, z->zone),
		       "T1074.001 T1071.004 T1048.003 T1132.001 T1030");
	add_mitre_for(f, d.kinds);
	if ((e = az_evidence(f, "file", -1, -1))) {
		e->path = az_strdup(s->path);
		if (z->example)
			kcsi_evidence_excerptf(e, "%zu names with up to %zu %s characters each, e.g. %.120s", z->names,
					       z->max_payload, z->encoding ? z->encoding : "encoded", z->example->name);
		e->command = az_printf("kcsi recover --out DIR ARCHIVE  # then DIR/rootfs%s", s->path);
	}
	if (d.what.len && (e = az_evidence(f, "file", -1, -1))) {
		e->path = az_strdup(s->path);
		kcsi_evidence_excerptf(e, "the labels decode to: %s", az_data_what(&d));
	}
	az_data_free(&d);
}

/* Tunnel zones of one source: findings, and the zone as the IOC. */
static void judge_source(dns_run *r, dns_src *s)
{
	json_t *zs = kcsi_dns_zones_json(s->zones);
	size_t shown = 0;
	for (size_t i = 0; i < json_array_size(zs) && shown < DNS_ZONES_SHOWN; i++) {
		zone_view z;
		view_zone(s, json_array_get(zs, i), &z);
		if (!z.zone || !z.names)
			continue;
		/* many unique tunnel-like names that carry a payload (entropy
		 * alone is what hashed host names have: pods, CDNs), or (a
		 * process) one name whose labels carry DNS_MIN_PAYLOAD */
		z.tunnel = z.tunnel && (z.max_payload >= DNS_MIN_LABEL ||
					json_real_value(json_object_get(z.stats, "mean_label")) >= DNS_LONG_MEAN);
		if (!z.tunnel && (s->pid == 0 || z.max_payload < DNS_MIN_PAYLOAD))
			continue;
		if (s->pid)
			process_finding(r, s, &z);
		else
			file_finding(r, s, &z);
		kcsi_ioc_prov where = KCSI_IOC_PROV_NONE;
		where.kind = s->pid ? "memory" : "file";
		where.pid = s->pid ? (int64_t)s->pid : -1;
		where.path = s->pid ? NULL : s->path;
		where.detail = "dns tunnel zone";
		fold_names(&r->a->r->iocs, z.zone, &where);
		shown++;
	}
	json_decref(zs);
}

/* KCSI-DNS-003: DNS straight to a server that is not the container's resolver */
static void foreign_servers(dns_run *r)
{
	az *a = r->a;
	char rs[200];
	if (!r->nresolvers)
		return;
	resolver_list(r, rs, sizeof(rs));
	for (size_t i = 0; i < a->nsocks; i++) {
		const kcsi_sock *q = &a->socks[i];
		bool reported = false;
		if (!az_sock_first(a, i) || q->dport != 53 || !az_sock_outbound(a, q) || is_resolver(r, q->dst))
			continue;
		for (size_t k = 0; k < a->r->findings.n && !reported; k++) {
			const kcsi_finding *f = a->r->findings.v[k];
			if (f->id && !strcmp(f->id, "KCSI-DNS-001"))
				for (size_t e = 0; e < f->nev; e++)
					reported |= f->ev[e].pid == (int64_t)q->pid;
		}
		if (reported)
			continue;
		kcsi_finding *f = az_finding(a, "KCSI-DNS-003", KCSI_SEV_LOW,
					     az_printf("Process %u sends DNS to %s, not the container's resolver", q->pid, q->dst),
					     az_printf("A %s socket to port 53 of %s, while the container's resolv.conf names %s: "
						       "a program that picks its own DNS server (a tunnel's, or one that escapes "
						       "DNS monitoring) — or a tool such as dig pointed at one.",
						       q->proto, q->dst, rs),
					     "T1071.004");
		az_sock_evidence(f, q);
	}
}

void az_family_dns(az *a)
{
	dns_run r = {a, az_classifier_new(), NULL, 0, {{0}}, 0};
	processes(&r);
	files(&r);
	for (size_t i = 0; i < r.n; i++)
		judge_source(&r, &r.v[i]);
	foreign_servers(&r);
	for (size_t i = 0; i < r.n; i++)
		src_free(&r.v[i]);
	free(r.v);
	az_classifier_free(r.k);
}

/* ---- a merged detonation's DNS log ---- */

/* Has the report a tunnel finding about this zone already (the detonation's
 * KCSI-DYN-DNSTUN-001, or this family's)? */
static bool zone_reported(const kcsi_report *rep, const char *zone)
{
	for (size_t i = 0; i < rep->findings.n; i++) {
		const kcsi_finding *f = rep->findings.v[i];
		if (f->id && f->title && strstr(f->title, zone) &&
		    (!strcmp(f->id, "KCSI-DYN-DNSTUN-001") || !strncmp(f->id, "KCSI-DNS-", 9)))
			return true;
	}
	return false;
}

void az_dns_merged(kcsi_report *rep, const json_t *dns)
{
	dns_run r = {NULL, az_classifier_new(), NULL, 0, {{0}}, 0};
	dns_src *s = src_new(&r, 0, "transcripts/dns.txt");
	json_t *zs, *q;
	size_t i;
	if (!s || !json_is_array(dns))
		goto out;
	json_array_foreach(dns, i, q) {
		const char *name = json_string_value(json_object_get(q, "name"));
		if (i >= (size_t)DNS_NAMES_MAX * 8)
			break;
		if (name)
			add_name(s, name, strlen(name), 0, true);
	}
	zs = kcsi_dns_zones_json(s->zones);
	for (i = 0; i < json_array_size(zs); i++) {
		zone_view z;
		az_data d;
		kcsi_finding *f;
		kcsi_evidence *e;
		view_zone(s, json_array_get(zs, i), &z);
		z.tunnel = z.tunnel && (z.max_payload >= DNS_MIN_LABEL ||
					json_real_value(json_object_get(z.stats, "mean_label")) >= DNS_LONG_MEAN);
		/* sent for real: one name with a payload is a tunnel's query */
		if (!z.zone || (!z.tunnel && z.max_payload < DNS_MIN_PAYLOAD) || zone_reported(rep, z.zone))
			continue;
		az_data_init(&d);
		decode_zone(&r, s, &z, &d);
		f = kcsi_finding_add(&rep->findings, "KCSI-DNS-004",
				     z.tunnel || (d.kinds & AZD_SENSITIVE) ? KCSI_SEV_CRITICAL : KCSI_SEV_HIGH,
				     az_printf("DNS tunnel in the detonation's queries: data in names under %s", z.zone),
				     az_printf("During the detonation the program sent %zu DNS quer%s under %s whose labels carry "
					       "encoded data (up to %zu %s characters in one name): DNS tunnelling or "
					       "exfiltration.", z.names, z.names == 1 ? "y" : "ies", z.zone, z.max_payload,
					       z.encoding ? z.encoding : "encoded"),
				     "T1071.004 T1048.003 T1572 T1132.001");
		if (z.names > 1)
			kcsi_finding_add_mitre(f, "T1030");
		add_mitre_for(f, d.kinds);
		if ((e = kcsi_finding_evidence(f, "dns", -1, -1))) {
			e->path = strdup("transcripts/dns.txt");
			kcsi_evidence_excerptf(e, "%zu names under %s; e.g. %.120s", z.names, z.zone,
					       z.example ? z.example->name : "");
		}
		if (d.what.len && (e = kcsi_finding_evidence(f, "dns", -1, -1)))
			kcsi_evidence_excerptf(e, "the labels decode to: %s", az_data_what(&d));
		kcsi_ioc_prov where = KCSI_IOC_PROV_NONE;
		where.kind = "detonation";
		where.detail = "detonation: DNS tunnel zone";
		fold_names(&rep->iocs, z.zone, &where);
		az_data_free(&d);
	}
	json_decref(zs);
out:
	for (i = 0; i < r.n; i++)
		src_free(&r.v[i]);
	free(r.v);
	az_classifier_free(r.k);
}
