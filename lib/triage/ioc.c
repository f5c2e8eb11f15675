/* kcsi — indicators of compromise: extraction from text, classification,
 * deduplication and defanging. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <ctype.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "triage/analyze_int.h"

enum { RE_IPV4, RE_URL, RE_EMAIL, RE_XMR, RE_BTC, RE_UA, RE_IPV6, RE_DOMAIN, RE_N };

static const char *const patterns[RE_N] = {
	[RE_IPV4] = "(?<![0-9.])(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}"
		    "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?![0-9]|\\.[0-9])",
	[RE_URL] = "\\b(?:https?|ftp|irc|ircs|stratum\\+(?:tcp|ssl|tls)|tcp|udp)://[^\\s\"'<>\\\\^`{|}]{3,256}",
	[RE_EMAIL] = "(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{1,63}@[a-z0-9][a-z0-9-]{1,62}(?:\\.[a-z0-9-]{2,63})*\\."
		     "(?:com|net|org|io|info|biz|xyz|top|online|site|club|live|icu|tk|pw|cc|su|ru|cn|onion|ws|me|co|"
		     "cloud|dev|app|gov|edu|mil|int|de|uk|fr|nl|jp|br|in|it|es|ch|au|ca|se|no|fi|dk|pl|cz|at|be|kr|"
		     "tw|hk|sg|ua|il|za|mx|ar|tr|ir|vn|id|my|th|ph|nz|pt|gr|ro|hu|bg|sk|lt|lv|ee|by|kz|us|eu|dk)"
		     "(?![A-Za-z0-9])",
	[RE_XMR] = "\\b[48][0-9AB][1-9A-HJ-NP-Za-km-z]{93}\\b",
	[RE_BTC] = "\\bbc1[ac-hj-np-z02-9]{25,71}\\b",
	[RE_UA] = "\\b(?:Mozilla/[0-9.]+ \\([^)]{1,120}\\)[^\\r\\n\"]{0,120}|curl/[0-9][0-9.]{1,15}|Wget/[0-9][0-9.]{1,15}|"
		  "python-requests/[0-9.]{1,15}|Go-http-client/[0-9.]{1,8}|[Xx][Mm][Rr]ig/[0-9][0-9.]{1,15})",
	[RE_IPV6] = "(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}(?![0-9A-Fa-f:])",
	/* host names outside URLs: only with a common top-level domain, lower
	 * case, a label of 2+ characters before it (file names like libc.so.6 or
	 * x.pl are not domains) */
	[RE_DOMAIN] = "(?<![A-Za-z0-9@._/-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+"
		      "(?:com|net|org|io|info|biz|xyz|top|online|site|club|live|icu|tk|pw|cc|su|ru|cn|onion|"
		      "ws|me|co|cloud|dev|app|gov|edu|mil|int)(?![A-Za-z0-9.-])",
};

struct re_set {
	pcre2_code *re[RE_N];
	pcre2_match_data *md;
};

kcsi_code kcsi_iocs_init(kcsi_iocset *s, kcsi_report *r, kcsi_error *err)
{
	struct re_set *rs = calloc(1, sizeof(*rs));
	memset(s, 0, sizeof(*s));
	s->r = r;
	if (!rs)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	for (int i = 0; i < RE_N; i++) {
		int ec;
		PCRE2_SIZE eo;
		rs->re[i] = pcre2_compile((PCRE2_SPTR)patterns[i], PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
		if (!rs->re[i]) {
			s->re = rs;
			kcsi_iocs_free(s);
			return kcsi_error_set(err, KCSI_ERR_GENERIC, "internal: IOC pattern %d does not compile", i);
		}
		pcre2_jit_compile(rs->re[i], PCRE2_JIT_COMPLETE);
	}
	rs->md = pcre2_match_data_create(8, NULL);
	s->re = rs;
	return rs->md ? KCSI_OK : kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
}

void kcsi_iocs_free(kcsi_iocset *s)
{
	struct re_set *rs = s->re;
	if (!rs)
		return;
	for (int i = 0; i < RE_N; i++)
		if (rs->re[i])
			pcre2_code_free(rs->re[i]);
	if (rs->md)
		pcre2_match_data_free(rs->md);
	free(rs);
	s->re = NULL;
}

void kcsi_ioc_add(kcsi_iocset *s, const char *type, const char *value, unsigned rank, const char *source)
{
	kcsi_report *r = s->r;
	kcsi_ioc *it;
	for (size_t i = 0; i < r->niocs; i++) {
		it = &r->iocs[i];
		if (strcmp(it->type, type) == 0 && strcmp(it->value, value) == 0) {
			it->count++;
			if (rank < it->rank) {
				it->rank = rank;
				free(it->source);
				it->source = strdup(source ? source : "");
			}
			return;
		}
	}
	if (r->niocs >= 100000)
		return; /* bound: a hostile image could hold millions */
	if (r->niocs == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 64;
		kcsi_ioc *q = realloc(r->iocs, nc * sizeof(*q));
		if (!q)
			return;
		r->iocs = q;
		s->cap = nc;
	}
	it = &r->iocs[r->niocs++];
	memset(it, 0, sizeof(*it));
	it->type = type;
	it->value = strdup(value);
	it->rank = rank;
	it->source = strdup(source ? source : "");
	it->count = 1;
	if (!strcmp(type, "ipv4") || !strcmp(type, "ipv6"))
		it->klass = kcsi_ip_class(value);
}

const char *kcsi_ip_class(const char *ip)
{
	unsigned char a[16];
	if (inet_pton(AF_INET, ip, a) == 1) {
		if (a[0] == 127) return "loopback";
		if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168)) return "private";
		if (a[0] == 100 && (a[1] & 0xc0) == 64) return "private";
		if (a[0] == 169 && a[1] == 254) return "link-local";
		if ((a[0] == 192 && a[1] == 0 && a[2] == 2) || (a[0] == 198 && a[1] == 51 && a[2] == 100) ||
		    (a[0] == 203 && a[1] == 0 && a[2] == 113))
			return "documentation";
		if (a[0] >= 224 && a[0] <= 239) return "multicast";
		if (a[0] == 0 || a[0] >= 240 || (a[0] == 198 && (a[1] & 0xfe) == 18) || (a[0] == 192 && a[1] == 0 && a[2] == 0))
			return "reserved";
		return "public";
	}
	if (inet_pton(AF_INET6, ip, a) == 1) {
		static const unsigned char lo[16] = {[15] = 1};
		if (!memcmp(a, lo, 16)) return "loopback";
		if ((a[0] & 0xfe) == 0xfc) return "private";
		if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return "link-local";
		if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8) return "documentation";
		if (a[0] == 0xff) return "multicast";
		if (a[0] == 0 && a[1] == 0) return "reserved";
		return "public";
	}
	return "invalid";
}

static int match(struct re_set *rs, int i, const char *p, size_t n, size_t start, size_t *mo, size_t *ml)
{
	int r = pcre2_match(rs->re[i], (PCRE2_SPTR)p, n, start, 0, rs->md, NULL);
	PCRE2_SIZE *ov;
	if (r < 0)
		return 0;
	ov = pcre2_get_ovector_pointer(rs->md);
	*mo = ov[0];
	*ml = ov[1] - ov[0];
	return 1;
}

/* The host part of a URL, as an IOC of its own (ipv4, ipv6 or domain). */
static void url_host(kcsi_iocset *s, const char *url, unsigned rank, const char *source)
{
	const char *h = strstr(url, "://");
	char host[256];
	size_t n = 0;
	unsigned char tmp[16];
	if (!h)
		return;
	h += 3;
	if (strchr(h, '@') && strchr(h, '@') < h + strcspn(h, "/"))
		h = strchr(h, '@') + 1;
	if (*h == '[') {
		h++;
		while (h[n] && h[n] != ']' && n < sizeof(host) - 1)
			n++;
	} else {
		while (h[n] && !strchr(":/?#", h[n]) && n < sizeof(host) - 1)
			n++;
	}
	memcpy(host, h, n);
	host[n] = '\0';
	if (!n)
		return;
	if (inet_pton(AF_INET, host, tmp) == 1)
		kcsi_ioc_add(s, "ipv4", host, rank, source);
	else if (inet_pton(AF_INET6, host, tmp) == 1)
		kcsi_ioc_add(s, "ipv6", host, rank, source);
	else if (strchr(host, '.'))
		kcsi_ioc_add(s, "domain", host, rank, source);
}

/* Does a dot in the text start one of the top-level domains the domain
 * pattern knows? */
static bool has_common_tld(const char *p, size_t n)
{
	static const char *const tlds[] = {"com", "net", "org", "io", "info", "biz", "xyz", "top", "online", "site",
					   "club", "live", "icu", "tk", "pw", "cc", "su", "ru", "cn", "onion", "ws",
					   "me", "co", "cloud", "dev", "app", "gov", "edu", "mil", "int"};
	for (const char *d = memchr(p, '.', n); d; d = memchr(d + 1, '.', n - (size_t)(d + 1 - p))) {
		size_t left = n - (size_t)(d + 1 - p);
		for (size_t i = 0; i < sizeof(tlds) / sizeof(tlds[0]); i++) {
			size_t l = strlen(tlds[i]);
			if (left >= l && !memcmp(d + 1, tlds[i], l) &&
			    (left == l || !(isalnum((unsigned char)d[1 + l]) || d[1 + l] == '-')))
				return true;
		}
		if (d + 1 >= p + n)
			break;
	}
	return false;
}

/* Could this text hold any IOC at all?  (Most strings in memory cannot.) */
bool kcsi_iocs_may_match(const char *p, size_t n)
{
	unsigned dots = 0, colons = 0, digits = 0;
	bool at = false, slash = false;
	if (n < 7)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		dots += ch == '.';
		colons += ch == ':';
		digits += ch >= '0' && ch <= '9';
		at |= ch == '@';
		slash |= ch == '/';
	}
	return (dots >= 3 && digits >= 4) || (at && dots) || slash || colons >= 2 || n >= 42 ||
	       (dots && has_common_tld(p, n));
}

void kcsi_iocs_scan_text(kcsi_iocset *s, const char *p, size_t n, unsigned rank, const char *source)
{
	struct re_set *rs = s->re;
	static const char *const types[RE_N] = {"ipv4", "url", "email", "wallet", "wallet", "user-agent", "ipv6",
						 "domain"};
	if (!rs || n < 7)
		return;
	for (int i = 0; i < RE_N; i++) {
		size_t start = 0, mo, ml;
		/* cheap filters before the regex */
		if (i == RE_URL && !memmem(p, n, "://", 3))
			continue;
		if ((i == RE_UA) && !memchr(p, '/', n))
			continue;
		if (i == RE_BTC && !memmem(p, n, "bc1", 3))
			continue;
		if (i == RE_DOMAIN && !memchr(p, '.', n))
			continue;
		if (i == RE_EMAIL && !memchr(p, '@', n))
			continue;
		if ((i == RE_IPV4) && !memchr(p, '.', n))
			continue;
		if (i == RE_IPV6 && !memchr(p, ':', n))
			continue;
		if ((i == RE_XMR) && n < 95)
			continue;
		while (start < n && match(rs, i, p, n, start, &mo, &ml)) {
			char v[512];
			size_t l = ml < sizeof(v) - 1 ? ml : sizeof(v) - 1;
			unsigned char tmp[16];
			memcpy(v, p + mo, l);
			v[l] = '\0';
			start = mo + (ml ? ml : 1);
			if (i == RE_IPV6 && inet_pton(AF_INET6, v, tmp) != 1)
				continue;
			if (i == RE_IPV6 && !strchr(v, '.') && strlen(v) < 6)
				continue;
			if (i == RE_DOMAIN && (strlen(v) < 6 || !strchr(v, '.') || strchr(v, '.') - v < 2))
				continue;
			if (i == RE_URL) {
				/* trailing punctuation is rarely part of the URL */
				while (l && strchr(".,;:)]'", v[l - 1]))
					v[--l] = '\0';
				url_host(s, v, rank, source);
			}
			kcsi_ioc_add(s, types[i], v, rank, source);
		}
	}
}

static int cmp_ioc(const void *a, const void *b)
{
	const kcsi_ioc *x = a, *y = b;
	int c;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	if ((c = strcmp(x->type, y->type)))
		return c;
	return strcmp(x->value, y->value);
}

void kcsi_iocs_sort(kcsi_iocset *s)
{
	if (s->r->niocs)
		qsort(s->r->iocs, s->r->niocs, sizeof(kcsi_ioc), cmp_ioc);
}

char *kcsi_defang(const char *type, const char *v)
{
	kcsi_buf b;
	kcsi_buf_init(&b, 1u << 16);
	if (!strcmp(type, "ipv4") || !strcmp(type, "domain") || !strcmp(type, "url") || !strcmp(type, "email")) {
		const char *p = v;
		if (!strncmp(p, "http", 4)) {
			kcsi_buf_add(&b, "hxxp", 4);
			p += 4;
		}
		for (; *p; p++) {
			if (*p == '.')
				kcsi_buf_add(&b, "[.]", 3);
			else if (*p == '@')
				kcsi_buf_add(&b, "[@]", 3);
			else if (*p == ':' && p[1] == '/' && p[2] == '/') {
				kcsi_buf_add(&b, "[://]", 5);
				p += 2;
			} else
				kcsi_buf_addc(&b, *p);
		}
	} else if (!strcmp(type, "ipv6")) {
		for (const char *p = v; *p; p++)
			if (*p == ':')
				kcsi_buf_add(&b, "[:]", 3);
			else
				kcsi_buf_addc(&b, *p);
	} else {
		kcsi_buf_add(&b, v, strlen(v));
	}
	return b.data ? b.data : strdup("");
}
