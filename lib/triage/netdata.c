/* kcsi — what the network rule families share (see netdata.h): sockets as
 * connections, decoders, the classifier of outgoing data, the walk of one
 * process's writable memory and the content of files by path.
 *
 * The classifier looks at bytes that are the attacker's: every loop is
 * bounded by the bytes given (and at most AZD_MAX of them), decompression by
 * AZD_MAX_UNPACKED output bytes and AZD_MAX_MEMBERS archive members, and
 * decoding recurses AZD_DEPTH levels at most. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <fnmatch.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "kcsi/sources.h"
#include "triage/netdata.h"

#define AZD_MAX (16u << 20)          /* bytes of one piece of data looked at */
#define AZD_MAX_UNPACKED (16u << 20) /* bytes a compressed blob may unpack to */
#define AZD_MAX_MEMBERS 20000        /* archive members listed */
#define AZD_DEPTH 3                  /* encodings and compressions unwrapped, nested */
#define AZD_MIN_BLOB 64              /* shortest base64 or hex run decoded */
#define AZD_MAX_BLOBS 32             /* encoded runs decoded per piece of data */
#define AZD_WHAT_MAX 2048            /* bytes of description */
#define AZD_UNALIGNED (1u << 20)     /* bytes of a run cut at its start decoded (4 times) */

/* ---- connections ---- */

bool az_sock_inet(const kcsi_sock *s)
{
	return !strcmp(s->family, "INET") || !strcmp(s->family, "INET6");
}

bool az_listening_port(az *a, uint32_t port)
{
	for (size_t i = 0; i < a->nsocks; i++)
		if (!strcmp(a->socks[i].state, "LISTEN") && a->socks[i].sport == port && az_sock_inet(&a->socks[i]))
			return true;
	return false;
}

static bool wildcard(const char *addr)
{
	return !strcmp(addr, "0.0.0.0") || !strcmp(addr, "::") || !*addr;
}

/* Does the container hold the other end of s, or a listener it reached? */
static bool peer_inside(az *a, const kcsi_sock *s)
{
	for (size_t i = 0; i < a->nsocks; i++) {
		const kcsi_sock *o = &a->socks[i];
		if (o == s || !az_sock_inet(o) || o->sport != s->dport)
			continue;
		if (!strcmp(o->src, s->dst) || (!strcmp(o->state, "LISTEN") && wildcard(o->src)))
			return true;
	}
	return false;
}

/* An accepted connection: its local port is one the container listens on. */
static bool accepted(az *a, const kcsi_sock *s)
{
	for (size_t i = 0; i < a->nsocks; i++) {
		const kcsi_sock *o = &a->socks[i];
		if (az_sock_inet(o) && !strcmp(o->state, "LISTEN") && o->sport == s->sport &&
		    (!strcmp(o->src, s->src) || wildcard(o->src)))
			return true;
	}
	return false;
}

bool az_sock_external(az *a, const kcsi_sock *s)
{
	bool tcp = !strcmp(s->proto, "TCP"), udp = !strcmp(s->proto, "UDP");
	if (!az_sock_inet(s) || !s->dport || wildcard(s->dst) || (!tcp && !udp))
		return false;
	if (tcp && strcmp(s->state, "ESTABLISHED") && strcmp(s->state, "SYN_SENT") && strcmp(s->state, "CLOSE_WAIT") &&
	    strcmp(s->state, "FIN_WAIT1") && strcmp(s->state, "FIN_WAIT2"))
		return false;
	if (udp && strcmp(s->state, "ESTABLISHED"))
		return false;
	return !peer_inside(a, s);
}

bool az_sock_accepted(az *a, const kcsi_sock *s)
{
	return accepted(a, s);
}

bool az_sock_outbound(az *a, const kcsi_sock *s)
{
	return az_sock_external(a, s) && !accepted(a, s);
}

bool az_sock_first(az *a, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (a->socks[k].ino == a->socks[i].ino && !strcmp(a->socks[k].family, a->socks[i].family))
			return false;
	return true;
}

kcsi_evidence *az_sock_evidence(kcsi_finding *f, const kcsi_sock *s)
{
	kcsi_evidence *e = az_evidence(f, "socket", s->pid, s->fd);
	if (e) {
		kcsi_evidence_set_conn(e, s->proto, s->src, s->sport, s->dst, s->dport, s->state);
		e->command = strdup("kcsi net ARCHIVE");
	}
	return e;
}

/* ---- decoding ---- */

size_t az_unhex(const char *s, size_t n, unsigned char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i + 1 < n && o < cap; i += 2) {
		int hi = isxdigit((unsigned char)s[i]) ? (isdigit((unsigned char)s[i]) ? s[i] - '0' : (s[i] | 0x20) - 'a' + 10) : -1;
		int lo = isxdigit((unsigned char)s[i + 1])
				 ? (isdigit((unsigned char)s[i + 1]) ? s[i + 1] - '0' : (s[i + 1] | 0x20) - 'a' + 10)
				 : -1;
		if (hi < 0 || lo < 0)
			break;
		out[o++] = (unsigned char)(hi << 4 | lo);
	}
	return o;
}

size_t az_unbase32(const char *s, size_t n, unsigned char *out, size_t cap)
{
	uint64_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n && o < cap; i++) {
		int c = (unsigned char)s[i], v;
		if (c >= 'a' && c <= 'z')
			v = c - 'a';
		else if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= '2' && c <= '7')
			v = c - '2' + 26;
		else
			break;
		acc = (acc << 5 | (unsigned)v) & 0xffffffffffull;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return o;
}

size_t az_unbase64(const char *s, size_t n, unsigned char *out, size_t cap)
{
	return (size_t)kcsi_unbase64(s, n, out, cap, true); /* lenient: never -1 */
}

/* ---- what data is ---- */

enum {
	P_PRIVKEY, P_JWT, P_AWSID, P_AWSSECRET, P_GCPKEY, P_REFRESH, P_KUBECONFIG, P_DOCKER, P_AWSFILE, P_GITHUB,
	P_SLACK, P_STRIPE, P_SHADOW, P_PASSWD, P_N
};

static const struct {
	const char *re;
	unsigned kind;
	const char *name;  /* what a match is, in the description */
	int mask_group;    /* the secret in the match to mask: 0 the whole match, -1 none */
} pats[P_N] = {
	[P_PRIVKEY] = {"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY-----", AZD_PRIVKEY, "private key", -1},
	[P_JWT] = {"eyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}", AZD_TOKEN, "JWT", 0},
	[P_AWSID] = {"(?<![A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])", AZD_TOKEN, "AWS access key id", 0},
	[P_AWSSECRET] = {"(?i:aws_?secret_?access_?key)(?:\\W|\\\\[nt]){1,8}([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])",
			 AZD_CLOUDKEY, "AWS secret access key", 1},
	[P_GCPKEY] = {"private_key_id\\W{1,8}[0-9a-f]{16,}", AZD_CLOUDKEY, "GCP service-account key", -1},
	[P_REFRESH] = {"refresh_token\\W{1,8}([A-Za-z0-9/_.+-]{20,})", AZD_CLOUDKEY, "OAuth refresh token", 1},
	[P_KUBECONFIG] = {"client-key-data:|current-context:", AZD_CREDFILE, "kubeconfig", -1},
	[P_DOCKER] = {"auths\\W{1,8}\\{(?:\\W|\\\\[nt]){0,16}\\S{1,256}?auth\\W{1,8}[A-Za-z0-9+/=]{8,}", AZD_CREDFILE,
		      "registry credentials (docker config)", -1},
	[P_AWSFILE] = {"\\[[A-Za-z0-9_-]{1,64}\\](?:\\s|\\\\n){1,4}aws_access_key_id", AZD_CREDFILE, "AWS credentials file", -1},
	[P_GITHUB] = {"\\bgh[pousr]_[A-Za-z0-9]{36}\\b", AZD_TOKEN, "GitHub token", 0},
	[P_SLACK] = {"\\bxox[abprs]-[0-9A-Za-z-]{10,}", AZD_TOKEN, "Slack token", 0},
	[P_STRIPE] = {"\\b[rs]k_live_[0-9A-Za-z]{16,}", AZD_TOKEN, "Stripe live key", 0},
	[P_SHADOW] = {"(?:^|\\n|\\\\n)([a-z_][a-z0-9_.-]{0,31}):(\\$[0-9a-z]{1,3}\\$[^:\\s$]{1,64}\\$?[^:\\s]{0,200}|[*!]{1,2}):"
		      "[0-9]{0,6}:[0-9]{0,6}:[0-9]{0,6}:",
		      AZD_SHADOW, "shadow lines", -1},
	[P_PASSWD] = {"(?:^|\\n|\\\\n)([a-z_][a-z0-9_.-]{0,31}):[x*!]?:[0-9]{1,10}:[0-9]{1,10}:[^:\\n\\\\]{0,128}:/[^:\\n\\\\]{0,128}:",
		      AZD_ACCOUNTS, "account lines", -1},
};

struct az_classifier {
	pcre2_code *re[P_N];
	pcre2_match_data *md;
};

az_classifier *az_classifier_new(void)
{
	az_classifier *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	for (int i = 0; i < P_N; i++) {
		int ec;
		PCRE2_SIZE eo;
		if (!(k->re[i] = pcre2_compile((PCRE2_SPTR)pats[i].re, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL))) {
			az_classifier_free(k);
			return NULL;
		}
		pcre2_jit_compile(k->re[i], PCRE2_JIT_COMPLETE);
	}
	if (!(k->md = pcre2_match_data_create(4, NULL))) {
		az_classifier_free(k);
		return NULL;
	}
	return k;
}

void az_classifier_free(az_classifier *k)
{
	if (!k)
		return;
	for (int i = 0; i < P_N; i++)
		if (k->re[i])
			pcre2_code_free(k->re[i]);
	if (k->md)
		pcre2_match_data_free(k->md);
	free(k);
}

void az_data_init(az_data *d)
{
	memset(d, 0, sizeof(*d));
	kcsi_buf_init(&d->what, AZD_WHAT_MAX);
}

void az_data_free(az_data *d)
{
	kcsi_buf_free(&d->what);
	kcsi_strmap_free(&d->said);
}

const char *az_data_what(az_data *d)
{
	return kcsi_buf_str(&d->what);
}

/* One part of the description, once (by its key). */
static void say(az_data *d, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(az_data *d, const char *key, const char *fmt, ...)
{
	char part[600];
	va_list ap;
	if (kcsi_strmap_get(&d->said, key, strlen(key), 0) || kcsi_strmap_put(&d->said, key, strlen(key), 1))
		return;
	va_start(ap, fmt);
	vsnprintf(part, sizeof(part), fmt, ap);
	va_end(ap);
	if (d->what.len)
		kcsi_buf_add_some(&d->what, "; ", 2);
	kcsi_buf_add_some(&d->what, part, strlen(part));
}

void az_mask(char *out, size_t cap, const char *s, size_t n)
{
	char pre[9];
	size_t k = n < 8 ? n : 8;
	for (size_t i = 0; i < k; i++)
		pre[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	pre[k] = '\0';
	snprintf(out, cap, "%s... (%zu characters)", pre, n);
}

bool az_sensitive_path(const char *path)
{
	static const char *const globs[] = {
		"*/shadow", "*/gshadow", "*/shadow-", "*/.ssh/id_*", "*/ssh_host_*_key", "*/.aws/credentials",
		"*/.kube/config", "*/.docker/config.json", "*/serviceaccount/token", "*/.git-credentials", "*/.netrc",
		"*/.pgpass", "*/.my.cnf", "*/gcloud/*credentials*.json", "*/.vault-token", "*/.bash_history",
		"*.key", "*private*.pem", "*/master.passwd", "*/.env",
	};
	char p[4200];
	if (!path || !*path)
		return false;
	snprintf(p, sizeof(p), "%s%s", path[0] == '/' ? "" : "/", path);
	if (fnmatch("*.pub", p, 0) == 0)
		return false;
	for (size_t i = 0; i < sizeof(globs) / sizeof(globs[0]); i++)
		if (fnmatch(globs[i], p, 0) == 0)
			return true;
	return false;
}

/* ---- archives ---- */

typedef struct members {
	size_t n;
	char sensitive[4][128]; /* the first sensitive ones */
	size_t nsens;
	char first[3][128];
	size_t nfirst;
} members;

static void member(members *m, const char *name)
{
	m->n++;
	if (az_sensitive_path(name)) {
		if (m->nsens < 4)
			snprintf(m->sensitive[m->nsens], sizeof(m->sensitive[0]), "%s", name);
		m->nsens++;
	} else if (m->nfirst < 3) {
		snprintf(m->first[m->nfirst++], sizeof(m->first[0]), "%s", name);
	}
}

static void say_members(az_data *d, const char *what, const members *m)
{
	char list[600] = "";
	size_t l = 0;
	if (!m->n)
		return;
	d->kinds |= AZD_ARCHIVE;
	if (m->nsens)
		d->kinds |= AZD_SENSITIVE_MEMBER;
	for (size_t i = 0; i < (m->nsens ? (m->nsens < 4 ? m->nsens : 4) : m->nfirst) && l < sizeof(list); i++)
		l += (size_t)snprintf(list + l, sizeof(list) - l, "%s%s", i ? ", " : "",
				      m->nsens ? m->sensitive[i] : m->first[i]);
	say(d, what, "%s with %zu member%s seen, %s %s", what, m->n, m->n == 1 ? "" : "s",
	    m->nsens ? "among them" : "e.g.", list);
}

static unsigned long octal(const unsigned char *p, size_t n)
{
	unsigned long v = 0;
	size_t i = 0;
	while (i < n && (p[i] == ' ' || p[i] == 0))
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++)
		v = v * 8 + (unsigned long)(p[i] - '0');
	return v;
}

/* tar headers anywhere in the bytes (a stream cut anywhere): "ustar" at
 * offset 257 of a 512-byte header whose checksum holds */
static void tar_headers(az_data *d, const unsigned char *p, size_t n)
{
	members m = {0};
	for (const unsigned char *q = p; q < p + n && m.n < AZD_MAX_MEMBERS;) {
		const unsigned char *u = memmem(q, (size_t)(p + n - q), "ustar", 5);
		if (!u)
			break;
		q = u + 5;
		if ((size_t)(u - p) < 257 || (size_t)(u - p) - 257 + 512 > n)
			continue;
		const unsigned char *h = u - 257;
		unsigned long sum = 0;
		for (int i = 0; i < 512; i++)
			sum += i >= 148 && i < 156 ? ' ' : h[i];
		if (sum != octal(h + 148, 8))
			continue;
		char name[260];
		int pl = (int)strnlen((const char *)h + 345, 155), nl = (int)strnlen((const char *)h, 100);
		snprintf(name, sizeof(name), "%.*s%s%.*s", pl, h + 345, pl ? "/" : "", nl, h);
		for (char *c = name; *c; c++)
			if (!isprint((unsigned char)*c))
				*c = '?';
		member(&m, name);
		q = h + 512;
	}
	say_members(d, "tar archive", &m);
}

/* zip local file headers anywhere in the bytes: "PK\3\4", then the name */
static void zip_headers(az_data *d, const unsigned char *p, size_t n)
{
	members m = {0};
	for (const unsigned char *q = p; q + 30 <= p + n && m.n < AZD_MAX_MEMBERS;) {
		const unsigned char *h = memmem(q, (size_t)(p + n - q), "PK\x03\x04", 4);
		size_t nl;
		char name[260];
		bool ok = true;
		if (!h || h + 30 > p + n)
			break;
		q = h + 4;
		nl = (size_t)h[26] | (size_t)h[27] << 8;
		if (h[4] > 63 || !nl || nl > 255 || h + 30 + nl > p + n)
			continue;
		for (size_t i = 0; i < nl && ok; i++)
			ok = isprint(h[30 + i]);
		if (!ok)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)nl, h + 30);
		member(&m, name);
		q = h + 30 + nl;
	}
	say_members(d, "zip archive", &m);
}

static bool magic_compressed(const unsigned char *p, size_t n, const char **what)
{
	if (n >= 3 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 8)
		*what = "gzip";
	else if (n >= 4 && !memcmp(p, "BZh", 3) && p[3] >= '1' && p[3] <= '9')
		*what = "bzip2";
	else if (n >= 6 && !memcmp(p, "\xfd" "7zXZ\0", 6))
		*what = "xz";
	else if (n >= 4 && !memcmp(p, "\x28\xb5\x2f\xfd", 4))
		*what = "zstd";
	else if (n >= 4 && !memcmp(p, "PK\x03\x04", 4))
		*what = "zip";
	else
		return false;
	return true;
}

static void classify(az_classifier *k, az_data *d, const unsigned char *p, size_t n, bool start, int depth);

/* A compressed stream or zip from its start: its archive members, or what
 * the raw stream holds.  Output bounded by AZD_MAX_UNPACKED. */
static void unpack(az_classifier *k, az_data *d, const unsigned char *p, size_t n, const char *what, int depth)
{
	struct archive *ar = archive_read_new();
	struct archive_entry *e;
	members m = {0};
	unsigned char *raw = NULL;
	size_t rawlen = 0, budget = AZD_MAX_UNPACKED;
	bool is_raw = false;
	if (!ar)
		return;
	archive_read_support_filter_all(ar);
	archive_read_support_format_tar(ar);
	archive_read_support_format_zip(ar);
	archive_read_support_format_cpio(ar);
	archive_read_support_format_raw(ar);
	if (archive_read_open_memory(ar, p, n) != ARCHIVE_OK)
		goto out;
	while (m.n < AZD_MAX_MEMBERS && archive_read_next_header(ar, &e) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		is_raw = archive_format(ar) == ARCHIVE_FORMAT_RAW;
		if (is_raw) {
			if (!(raw = malloc(AZD_MAX_UNPACKED)))
				break;
			for (;;) {
				ssize_t r = archive_read_data(ar, raw + rawlen, budget);
				if (r <= 0)
					break;
				rawlen += (size_t)r;
				budget -= (size_t)r;
				if (!budget)
					break;
			}
			break;
		}
		member(&m, name ? name : "?");
	}
	d->kinds |= AZD_COMPRESSED;
	if (is_raw) {
		say(d, what, "%s-compressed data (%zu bytes unpacked)", what, rawlen);
		if (rawlen)
			classify(k, d, raw, rawlen, true, depth + 1);
	} else {
		say_members(d, !strcmp(what, "zip") ? "zip archive" : "compressed archive", &m);
	}
out:
	free(raw);
	archive_read_free(ar);
}

/* ---- text: credentials and account lists ---- */

static void patterns(az_classifier *k, az_data *d, const unsigned char *p, size_t n)
{
	for (int i = 0; i < P_N; i++) {
		size_t start = 0, count = 0;
		char first[200] = "", more[200] = "";
		while (start < n && count < 64) {
			PCRE2_SIZE *ov;
			if (pcre2_match(k->re[i], (PCRE2_SPTR)p, n, start, 0, k->md, NULL) < 0)
				break;
			ov = pcre2_get_ovector_pointer(k->md);
			start = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
			count++;
			if (i == P_SHADOW || i == P_PASSWD) {
				/* the user names, and for shadow the kind of hash */
				size_t ul = ov[3] - ov[2];
				char *dst = count == 1 ? first : more;
				size_t l = strlen(dst);
				if (count <= 3 && l + ul + 8 < sizeof(first))
					snprintf(dst + l, sizeof(first) - l, "%s%.*s%s", l ? ", " : "", (int)ul, p + ov[2],
						 i == P_SHADOW && p[ov[4]] == '$' ? " (hashed)" : "");
				continue;
			}
			if (count == 1 && pats[i].mask_group >= 0) {
				int g = pats[i].mask_group;
				az_mask(first, sizeof(first), (const char *)p + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
			}
		}
		if (!count)
			continue;
		if (i == P_PASSWD && count < 3)
			continue; /* one line like a:b:1:2:... is not a list */
		if (i == P_SHADOW && count < 2 && !strstr(first, "(hashed)"))
			continue;
		d->kinds |= pats[i].kind;
		if (pats[i].kind & (AZD_TOKEN | AZD_CLOUDKEY | AZD_PRIVKEY | AZD_CREDFILE) &&
		    !kcsi_strmap_get(&d->said, pats[i].name, strlen(pats[i].name), 0))
			d->secrets++;
		if (i == P_SHADOW || i == P_PASSWD)
			say(d, pats[i].name, "%s%s (%s%s%s)", count >= 64 ? "64+ " : "", pats[i].name, first,
			    more[0] ? ", " : "", more);
		else if (first[0])
			say(d, pats[i].name, "%s %s%s", pats[i].name, first, count > 1 ? " and more" : "");
		else
			say(d, pats[i].name, "%s", pats[i].name);
	}
}

/* ---- encoded blobs ---- */

static bool is_b64(int c)
{
	return kcsi_base64_value((unsigned char)c) >= 0 || c == '=';
}

/* Decode an encoded run and look at what it holds. */
static void decode_run(az_classifier *k, az_data *d, const unsigned char *p, size_t n, bool aligned, int depth)
{
	size_t hexn = 0, cap = n < AZD_MAX ? n : AZD_MAX;
	unsigned char *out;
	while (hexn < n && isxdigit(p[hexn]))
		hexn++;
	if (!(out = malloc(cap)))
		return;
	if (hexn == n && n >= AZD_MIN_BLOB) {
		size_t o = az_unhex((const char *)p, n, out, cap);
		d->kinds |= AZD_ENCODED;
		say(d, "hex", "hex-encoded data (%zu bytes)", n);
		classify(k, d, out, o, aligned, depth + 1);
	} else {
		/* base64: from its start when known, else the first MiB at each
		 * of the 4 alignments (only the right one gives more than noise) */
		size_t len = aligned || n < AZD_UNALIGNED ? n : AZD_UNALIGNED;
		d->kinds |= AZD_ENCODED;
		say(d, "base64", "base64-encoded data (%zu bytes)", n);
		for (size_t off = 0; off < (aligned ? 1u : 4u) && off < len; off++) {
			size_t o = az_unbase64((const char *)p + off, len - off, out, cap);
			classify(k, d, out, o, aligned, depth + 1);
		}
	}
	free(out);
}

/* Runs of the base64 alphabet (newlines inside allowed) long enough to be a
 * blob; the one at p[0] of data that does not start there has no known
 * alignment. */
static void blobs(az_classifier *k, az_data *d, const unsigned char *p, size_t n, bool start, int depth)
{
	size_t i = 0, done = 0;
	while (i < n && done < AZD_MAX_BLOBS) {
		size_t j = i, letters = 0;
		unsigned char *flat;
		/* a line break continues a run of wrapped lines (60 characters
		 * or more before it), not a header's value */
		while (j < n && (is_b64(p[j]) || ((p[j] == '\n' || p[j] == '\r' || p[j] == '\\') && j - i >= 60))) {
			letters += is_b64(p[j]);
			j++;
		}
		if (letters >= AZD_MIN_BLOB * 4) {
			/* without the line breaks (and JSON's \n) */
			if ((flat = malloc(j - i))) {
				size_t fl = 0;
				for (size_t q = i; q < j; q++) {
					if (p[q] == '\\' && q + 1 < j && p[q + 1] == 'n')
						q++;
					else if (is_b64(p[q]) && p[q] != '=')
						flat[fl++] = p[q];
				}
				decode_run(k, d, flat, fl, start || i > 0, depth);
				free(flat);
			}
			done++;
		}
		i = j > i ? j : i + 1;
	}
}

static void classify(az_classifier *k, az_data *d, const unsigned char *p, size_t n, bool start, int depth)
{
	const char *what;
	size_t printable = 0;
	if (!k || depth > AZD_DEPTH || !n)
		return;
	if (n > AZD_MAX)
		n = AZD_MAX;
	if (start && magic_compressed(p, n, &what)) {
		unpack(k, d, p, n, what, depth);
		return;
	}
	tar_headers(d, p, n);
	zip_headers(d, p, n);
	patterns(k, d, p, n);
	for (size_t i = 0; i < n && i < 4096; i++)
		printable += az_char_class[p[i]] != 0;
	if (printable * 10 >= (n < 4096 ? n : 4096) * 9)
		blobs(k, d, p, n, start, depth);
}

void az_data_classify(az_classifier *k, az_data *d, const unsigned char *p, size_t n, bool start)
{
	classify(k, d, p, n, start, 0);
}

/* ---- the memory of one process ---- */

struct anon_walk {
	az_proc *pm;
	uint64_t left;
	az_anon_cb cb;
	void *ctx;
};

static bool anon_area(const kcsi_vma *v)
{
	return v->prot_text[1] == 'w' && !v->path &&
	       (!strcmp(v->kind, "heap") || !strcmp(v->kind, "stack") || !strcmp(v->kind, "anon"));
}

static int anon_window(void *ctx, const kcsi_window *w)
{
	struct anon_walk *aw = ctx;
	uint64_t end = w->addr + w->len;
	if (w->cross || w->shmid)
		return 0; /* stitched seams and shared memory: not a process's own heap */
	for (size_t i = 0; i < aw->pm->nvmas; i++) {
		const kcsi_vma *v = &aw->pm->vmas[i];
		uint64_t lo = v->start > w->addr ? v->start : w->addr, hi = v->end < end ? v->end : end;
		uint64_t own;
		if (hi <= lo || lo >= w->to || !anon_area(v))
			continue;
		own = (v->end < w->to ? v->end : w->to) - lo;
		if (own > aw->left)
			own = aw->left;
		aw->left -= own;
		if (aw->cb(aw->ctx, lo, w->p + (lo - w->addr), (size_t)(hi - lo), (size_t)own) || !aw->left)
			return 1;
	}
	return 0;
}

void az_walk_anon(az *a, uint32_t pid, uint64_t cap, az_anon_cb cb, void *ctx)
{
	struct anon_walk aw = {az_proc_of(a, pid), cap, cb, ctx};
	kcsi_error err;
	kcsi_error_clear(&err);
	if (!aw.pm || !pid)
		return;
	kcsi_walk_memory(a->c, pid, anon_window, &aw, &err);
}

const unsigned char az_char_class[256] = {
	['\t'] = AZ_CH_LINE, ['\n'] = AZ_CH_BREAK, ['\r'] = AZ_CH_BREAK,
#define L8(x)                                                                                                      \
	[x] = AZ_CH_LINE, [x + 1] = AZ_CH_LINE, [x + 2] = AZ_CH_LINE, [x + 3] = AZ_CH_LINE, [x + 4] = AZ_CH_LINE,  \
	[x + 5] = AZ_CH_LINE, [x + 6] = AZ_CH_LINE, [x + 7] = AZ_CH_LINE
	L8(0x20), L8(0x28), L8(0x30), L8(0x38), L8(0x40), L8(0x48), L8(0x50), L8(0x58), L8(0x60), L8(0x68), L8(0x70),
	[0x78] = AZ_CH_LINE, [0x79] = AZ_CH_LINE, [0x7a] = AZ_CH_LINE, [0x7b] = AZ_CH_LINE, [0x7c] = AZ_CH_LINE,
	[0x7d] = AZ_CH_LINE, [0x7e] = AZ_CH_LINE,
#undef L8
};

#ifdef __SSE2__
#include <emmintrin.h>

/* A bit per byte of p[0, 64): set where the byte is of `classes`. */
static uint64_t class_mask64(const unsigned char *p, unsigned classes)
{
	const __m128i lo = _mm_set1_epi8(0x1f), hi = _mm_set1_epi8(0x7f), tab = _mm_set1_epi8('\t'),
		      lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
	const __m128i line = _mm_set1_epi8(classes & AZ_CH_LINE ? -1 : 0),
		      brk = _mm_set1_epi8(classes & AZ_CH_BREAK ? -1 : 0);
	uint64_t m = 0;
	for (int k = 0; k < 4; k++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
		/* signed compares: 0x20..0x7e are the bytes above 0x1f and below 0x7f */
		__m128i l = _mm_or_si128(_mm_and_si128(_mm_cmpgt_epi8(v, lo), _mm_cmplt_epi8(v, hi)), _mm_cmpeq_epi8(v, tab));
		__m128i b = _mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr));
		__m128i t = _mm_or_si128(_mm_and_si128(l, line), _mm_and_si128(b, brk));
		m |= (uint64_t)(uint16_t)_mm_movemask_epi8(t) << (16 * k);
	}
	return m;
}
#endif

/* Most of memory is not text.  With SSE2, 64 bytes are classified at once
 * and a block with no min wanted bytes in a row is passed over whole; else
 * (and for the last bytes) a run of min bytes starting at i holds
 * p[i + min - 1]: that byte is looked at first, then backwards, and the
 * first byte that is not wanted moves i past it, so a byte is seldom read
 * twice.  At the loop's top p[i - 1] is never wanted. */
void az_char_runs(const unsigned char *p, size_t n, size_t own, size_t min, unsigned classes,
		  void (*cb)(void *ctx, size_t off, size_t len), void *ctx)
{
	size_t i = 0;
#define WANTED(c) (az_char_class[c] & classes)
	if (!min)
		min = 1;
	while (i < own && i + min <= n) {
		size_t k = i + min - 1, t = k, e;
#ifdef __SSE2__
		if (min <= 32 && i + 64 <= n) {
			uint64_t m = class_mask64(p + i, classes), r = m;
			for (size_t s = 1; s < min; s++)
				r &= m >> s; /* bit b: bytes b .. b + min - 1 are wanted */
			if (!r) {
				/* no run of min inside: go past the last byte that is not
				 * wanted (one is there, or r would not be 0) */
				i += 64 - (size_t)__builtin_clzll(~m);
				continue;
			}
			size_t b = (size_t)__builtin_ctzll(r);
			uint64_t below = b ? ~m & (((uint64_t)1 << b) - 1) : 0; /* not wanted, before b */
			size_t start = i + (below ? 64 - (size_t)__builtin_clzll(below) : 0);
			for (e = i + b + min; e < n && WANTED(p[e]); e++)
				;
			if (start < own)
				cb(ctx, start, e - start);
			i = e + 1;
			continue;
		}
#endif
		if (!WANTED(p[k])) {
			i = k + 1;
			continue;
		}
		while (t > i && WANTED(p[t - 1]))
			t--;
		if (t > i) {
			i = t;
			continue;
		}
		for (e = k + 1; e < n && WANTED(p[e]); e++)
			;
		cb(ctx, i, e - i);
		i = e + 1;
	}
#undef WANTED
}

void az_text_runs(const unsigned char *p, size_t n, size_t own, size_t min,
		  void (*cb)(void *ctx, size_t off, size_t len), void *ctx)
{
	az_char_runs(p, n, own, min, AZ_CH_LINE | AZ_CH_BREAK, cb, ctx);
}

/* ---- files by path ---- */

struct file_read {
	az_file_want *w;
	size_t n, max;
	az_file_want *cur;
};

static int fr_begin(void *ctx, const kcsi_object *o)
{
	struct file_read *fr = ctx;
	fr->cur = NULL;
	for (size_t i = 0; i < fr->n; i++)
		if (!fr->w[i].data && !strcmp(fr->w[i].path, o->path)) {
			size_t cap = o->size < fr->max ? (size_t)o->size : fr->max;
			if (!(fr->w[i].data = calloc(1, cap ? cap : 1)))
				return 1;
			fr->w[i].len = cap;
			fr->w[i].truncated = o->size > fr->max;
			fr->cur = &fr->w[i];
			return 0;
		}
	return 1;
}

static int fr_data(void *ctx, const kcsi_object *o, uint64_t off, const unsigned char *p, size_t len)
{
	struct file_read *fr = ctx;
	(void)o;
	if (fr->cur && off < fr->cur->len)
		memcpy(fr->cur->data + off, p, len < fr->cur->len - off ? len : (size_t)(fr->cur->len - off));
	return 0;
}

void az_read_files(az *a, az_file_want *w, size_t n, size_t max)
{
	struct file_read fr = {w, n, max, NULL};
	kcsi_object_cbs cb = {fr_begin, fr_data, NULL};
	kcsi_error err;
	kcsi_error_clear(&err);
	if (n)
		kcsi_walk_objects(a->c, KCSI_SRC_ROOTFS | KCSI_SRC_DEVSHM | KCSI_SRC_GHOST, &cb, &fr, &err);
}
