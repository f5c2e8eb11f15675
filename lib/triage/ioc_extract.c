/* kcsi — finding indicators of compromise in text: addresses, URLs (and
 * their hosts), domains, e-mails, wallets, user agents, each with its
 * provenance (where it was seen: the process, the memory area and whether
 * that area is a file of the image, the queue, the file).  The IOCs go into
 * the report's set (evidence/finding.h), which counts, classes and defangs
 * them. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <ctype.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "triage/analyze_int.h"
#include "kcsi/recover.h"

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
	/* the files the container changed: the rootfs diff, deleted.files and
	 * the deleted files processes hold or map (made when first needed) */
	kcsi_strmap changed;
	bool changed_made, changed_known;
};

kcsi_code az_ioc_scanner_init(az_ioc_scanner *s, kcsi_iocs *out, kcsi_error *err)
{
	struct re_set *rs = calloc(1, sizeof(*rs));
	memset(s, 0, sizeof(*s));
	s->out = out;
	if (!rs)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	for (int i = 0; i < RE_N; i++) {
		int ec;
		PCRE2_SIZE eo;
		rs->re[i] = pcre2_compile((PCRE2_SPTR)patterns[i], PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
		if (!rs->re[i]) {
			s->re = rs;
			az_ioc_scanner_free(s);
			return kcsi_error_set(err, KCSI_ERR_GENERIC, "internal: IOC pattern %d does not compile", i);
		}
		pcre2_jit_compile(rs->re[i], PCRE2_JIT_COMPLETE);
	}
	rs->md = pcre2_match_data_create(8, NULL);
	s->re = rs;
	return rs->md ? KCSI_OK : kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
}

void az_ioc_scanner_free(az_ioc_scanner *s)
{
	struct re_set *rs = s->re;
	if (!rs)
		return;
	for (int i = 0; i < RE_N; i++)
		if (rs->re[i])
			pcre2_code_free(rs->re[i]);
	if (rs->md)
		pcre2_match_data_free(rs->md);
	kcsi_strmap_free(&rs->changed);
	free(rs);
	s->re = NULL;
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

/* ---- provenance ---- */

/* path as an absolute path ("./usr/x", "usr/x" -> "/usr/x") into out */
static const char *abs_path(const char *path, char *out, size_t cap)
{
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	while (*path == '/')
		path++;
	snprintf(out, cap, "/%s", path);
	return out;
}

static void changed_put(struct re_set *rs, const char *path)
{
	char p[4096];
	abs_path(path, p, sizeof(p));
	kcsi_strmap_put(&rs->changed, p, strlen(p), 1);
}

/* The files the container changed, once: what cannot be read leaves every
 * file possibly changed (changed_known false). */
static void changed_files(az *a, struct re_set *rs)
{
	kcsi_rootfs_entry *v;
	size_t n;
	if (rs->changed_made)
		return;
	rs->changed_made = true;
	if (kcsi_rootfs_list(a->c, &v, &n, NULL) != KCSI_OK)
		return;
	for (size_t i = 0; i < n; i++)
		if (v[i].path)
			changed_put(rs, v[i].path);
	kcsi_rootfs_free(v, n);
	for (size_t i = 0; i < a->nfds; i++)
		if (a->fds[i].deleted && a->fds[i].path)
			changed_put(rs, a->fds[i].path);
	rs->changed_known = true;
}

/* Is this area a file-backed mapping of a file of the image, unchanged? */
static bool image_mapping(az *a, const kcsi_vma *v)
{
	struct re_set *rs = a->iocs.re;
	char p[4096];
	if (!rs || !v || !v->kind || strcmp(v->kind, "file") || !v->path || v->path[0] != '/' ||
	    strstr(v->path, " (deleted)"))
		return false;
	changed_files(a, rs);
	return rs->changed_known && kcsi_strmap_get(&rs->changed, abs_path(v->path, p, sizeof(p)), strlen(p), 0) == 0;
}

static const kcsi_vma *vma_of(az *a, uint32_t pid, uint64_t addr)
{
	az_proc *pm = az_proc_of(a, pid);
	for (size_t i = 0; pm && i < pm->nvmas; i++)
		if (addr >= pm->vmas[i].start && addr < pm->vmas[i].end)
			return &pm->vmas[i];
	return NULL;
}

/* the static name of a file's origin */
static const char *file_origin(const char *kind)
{
	static const char *const origins[] = {"rootfs-diff", "ghost-file", "memfd", "devshm"};
	for (size_t i = 0; kind && i < sizeof(origins) / sizeof(origins[0]); i++)
		if (!strcmp(kind, origins[i]))
			return origins[i];
	return NULL;
}

const kcsi_ioc_prov *az_ioc_prov_file(kcsi_ioc_prov *p, const char *origin, const char *path, int64_t pid, int64_t fd)
{
	*p = KCSI_IOC_PROV_NONE;
	p->kind = "file";
	p->origin = file_origin(origin);
	p->path = path;
	p->pid = pid > 0 ? pid : -1;
	p->fd = p->pid >= 0 ? fd : -1;
	return p;
}

void az_ioc_prov_of(az *a, kcsi_ioc_prov *p, const char *kind, uint32_t pid, int64_t fd, uint64_t at, bool has_addr,
		    const char *path)
{
	*p = KCSI_IOC_PROV_NONE;
	if (has_addr) {
		const kcsi_vma *v = vma_of(a, pid, at);
		p->kind = "memory";
		p->pid = pid;
		p->address = at;
		p->has_address = true;
		p->area = az_area_of(a, pid, at);
		p->image = image_mapping(a, v);
		return;
	}
	if (kind && !strcmp(kind, "tcp-queue")) {
		p->kind = "queue";
		p->pid = pid ? (int64_t)pid : -1;
		p->fd = fd;
	} else {
		az_ioc_prov_file(p, kind, path, pid ? (int64_t)pid : -1, fd);
	}
	p->offset = at;
	p->has_offset = true;
}

/* the provenance of a match mo bytes into text whose provenance is where */
static const kcsi_ioc_prov *at_match(const kcsi_ioc_prov *where, size_t mo, kcsi_ioc_prov *out)
{
	if (!where)
		return NULL;
	*out = *where;
	if (out->has_address)
		out->address += mo;
	if (out->has_offset)
		out->offset += mo;
	return out;
}

/* The host part of a URL, as an IOC of its own (ipv4, ipv6 or domain). */
static void url_host(az_ioc_scanner *s, const char *url, unsigned rank, const kcsi_ioc_prov *where)
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
		kcsi_iocs_add_prov(s->out, "ipv4", host, rank, where);
	else if (inet_pton(AF_INET6, host, tmp) == 1)
		kcsi_iocs_add_prov(s->out, "ipv6", host, rank, where);
	else if (strchr(host, '.'))
		kcsi_iocs_add_prov(s->out, "domain", host, rank, where);
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
bool az_iocs_may_match(const char *p, size_t n)
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

void az_iocs_scan_text(az_ioc_scanner *s, const char *p, size_t n, unsigned rank, const kcsi_ioc_prov *where)
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
			kcsi_ioc_prov here;
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
				url_host(s, v, rank, at_match(where, mo, &here));
			}
			kcsi_iocs_add_prov(s->out, types[i], v, rank, at_match(where, mo, &here));
		}
	}
}
