/* kcsi — indicators of compromise: finding them in text (addresses, URLs
 * and their hosts, domains, e-mails, wallets, user agents), each with its
 * provenance (the process, the memory area and whether that area is a file
 * of the image, the queue, the file); then, once the rules have run, what
 * is exported: the image's own strings left out, repeated low-value ones
 * aggregated, and those worth blocking marked (docs/analyze.md,
 * "Indicators").  The IOCs go into the report's set (evidence/finding.h),
 * which counts, classes and defangs them. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <ctype.h>
#include <libpsl.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "triage/analyze_int.h"
#include "kcsi/recover.h"

enum { RE_IPV4, RE_URL, RE_EMAIL, RE_XMR, RE_BTC, RE_UA, RE_IPV6, RE_DOMAIN, RE_N };

/* Names in text are looked for in any case and with labels of one
 * character; what makes them names is checked after the match (the Public
 * Suffix List, kcsi_name_class).  A name touching an identifier character
 * (glibc.malloc.top_pad, sys.int_info, $obj.name, obj.name()) is code or a
 * configuration key, not a host.  An address with a prefix length shorter
 * than a host's (192.0.2.0/24, 2001:db8::/32) is a network, not a peer. */
#define LABEL "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
#define TLD "[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])"
static const char *const patterns[RE_N] = {
	[RE_IPV4] = "(?<![0-9.])(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}"
		    "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
		    "(?![0-9]|\\.[0-9A-Za-z]|/(?:[0-9]|[12][0-9]|3[01])(?![0-9]))",
	[RE_URL] = "\\b(?:https?|ftp|irc|ircs|stratum\\+(?:tcp|ssl|tls)|tcp|udp)://[^\\s\"'<>\\\\^`{|}]{3,256}",
	[RE_EMAIL] = "(?<![A-Za-z0-9._%+$-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:" LABEL "\\.)+" TLD
		     "(?![A-Za-z0-9_$-]|\\.[A-Za-z0-9_])",
	[RE_XMR] = "\\b[48][0-9AB][1-9A-HJ-NP-Za-km-z]{93}\\b",
	[RE_BTC] = "\\bbc1[ac-hj-np-z02-9]{25,71}\\b",
	[RE_UA] = "\\b(?:Mozilla/[0-9.]+ \\([^)]{1,120}\\)[^\\r\\n\"]{0,120}|curl/[0-9][0-9.]{1,15}|Wget/[0-9][0-9.]{1,15}|"
		  "python-requests/[0-9.]{1,15}|Go-http-client/[0-9.]{1,8}|[Xx][Mm][Rr]ig/[0-9][0-9.]{1,15})",
	[RE_IPV6] = "(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}"
		    "(?![0-9A-Fa-f:]|/(?:[0-9]{1,2}|1[01][0-9]|12[0-7])(?![0-9]))",
	[RE_DOMAIN] = "(?<![A-Za-z0-9@._/\\\\$%-])(?:" LABEL "\\.)+" TLD "(?![A-Za-z0-9_$(-]|\\.[A-Za-z0-9_])",
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

/* The area of pid holding addr (areas are sorted by address), or NULL. */
static const kcsi_vma *vma_of(az *a, uint32_t pid, uint64_t addr)
{
	az_proc *pm = az_proc_of(a, pid);
	size_t lo = 0, hi = pm ? pm->nvmas : 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (pm->vmas[mid].end <= addr)
			lo = mid + 1;
		else if (pm->vmas[mid].start > addr)
			hi = mid;
		else
			return &pm->vmas[mid];
	}
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
		p->area = !v ? "?" : v->path ? v->path : v->kind; /* as kcsi_area_name names it */
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

/* ---- what a match must be ---- */

/* A URL: its host an address or a host name (localhost, or dotted), and no
 * '%' but escapes of two hex digits (printf formats like http://%s/x or
 * 203.0.113.%d are not URLs). */
static bool url_ok(const char *v)
{
	char host[256];
	for (const char *q = strchr(v, '%'); q; q = strchr(q + 1, '%'))
		if (!isxdigit((unsigned char)q[1]) || !isxdigit((unsigned char)q[2]))
			return false;
	const char *tld;
	if (!kcsi_url_host(v, host, sizeof(host)) || !kcsi_host_class(host))
		return false;
	tld = strrchr(host, '.'); /* a name's last label: two letters or more (https://www.l is cut short) */
	return !tld || kcsi_addr_class(host) || (strlen(tld + 1) >= 2 && isalpha((unsigned char)tld[1]));
}

/* A name of two labels whose last is one of words? */
static bool two_labels_ending_in(const char *v, const char *const *words, size_t n)
{
	const char *dot = strrchr(v, '.');
	if (!dot || strchr(v, '.') != dot)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(dot + 1, words[i]))
			return true;
	return false;
}

/* A file name that looks like a name: two labels, the last a common file
 * extension that is also a top-level domain (run.sh, setup.py, libx.so,
 * README.md, lib.rs, notes.zip, Perl's syscall.ph, systemd's
 * multi-user.target). */
static bool file_name(const char *v)
{
	static const char *const ext[] = {"sh", "py", "pl", "pm", "so", "md", "rs", "zip", "mov", "ps", "cc",
					  "am", "ac", "ml", "mk", "bz", "la", "lo", "tk", "ph", "target"};
	return two_labels_ending_in(v, ext, sizeof(ext) / sizeof(ext[0]));
}

/* Two labels whose last is also a common method or attribute name:
 * obj.name, datetime.date, os.open, thread.run, pydoc.help (code, not a
 * host). */
static bool member_access(const char *v)
{
	static const char *const words[] = {"name", "date", "data", "open", "help", "abc", "family", "run", "read",
					    "select", "total", "center", "red", "blue", "green", "black", "white",
					    "link", "host", "page", "text", "style", "new", "call", "search", "email",
					    "id", "info", "show", "save", "play", "move", "one", "type", "map", "list",
					    "app"};
	return two_labels_ending_in(v, words, sizeof(words) / sizeof(words[0]));
}

static void lower(char *v)
{
	for (; *v; v++)
		*v = (char)tolower((unsigned char)*v);
}

/* Are the letters of s[0, n) all of one case (or none)? */
static bool one_case(const char *s, size_t n)
{
	bool up = false, low = false;
	for (size_t i = 0; i < n; i++) {
		up |= isupper((unsigned char)s[i]) != 0;
		low |= islower((unsigned char)s[i]) != 0;
	}
	return !(up && low);
}

/* A host name, lower-cased in place: a registrable domain in the public DNS
 * (kcsi_name_class "public"), whose registrable part was written in one
 * case (Color.RED, BeOpen.com are code or prose; base32 labels of a tunnel
 * under a lower-case zone are names). */
static bool host_ok(char *v)
{
	char low[256];
	const char *k, *reg;
	size_t n = strlen(v);
	if (n >= sizeof(low))
		return false;
	memcpy(low, v, n + 1);
	lower(low);
	if (!(k = kcsi_name_class(low)) || strcmp(k, "public"))
		return false;
	if (!(reg = psl_registrable_domain(psl_builtin(), low))) /* a suffix of the list's private part */
		reg = low;
	if (!one_case(v + (n - strlen(reg)), strlen(reg)) && !one_case(v, n))
		return false;
	memcpy(v, low, n + 1);
	return true;
}

/* An e-mail address, its domain lower-cased in place: in the public DNS. */
static bool email_ok(char *v)
{
	char *at = strrchr(v, '@');
	return at && host_ok(at + 1);
}

/* A host name in running text (not in a URL or an e-mail address): as
 * host_ok, not a file name or code, and set off by what sets off words in
 * text (space, quotes, brackets, '=' before; ',', ';', ':', '/', '.', '!',
 * '?' after) — not a run of random printable bytes. */
static bool domain_ok(char *v, const char *p, size_t n, size_t mo, size_t ml)
{
	char before = mo ? p[mo - 1] : ' ', after = mo + ml < n ? p[mo + ml] : ' ';
	const char *dot = strchr(v, '.');
	if (!(isspace((unsigned char)before) || strchr("\"'`([{<=,;:", before)) ||
	    !(isspace((unsigned char)after) || strchr("\"'`)]}>,;:/.!?", after)))
		return false;
	/* two labels, the first of one to three characters (4q.ke, m.gg): as
	 * likely a piece of random bytes; a word of its own only */
	if (dot && !strchr(dot + 1, '.') && dot - v < 4 &&
	    !((isspace((unsigned char)before) || strchr("\"'`", before)) &&
	      (isspace((unsigned char)after) || strchr("\"'`", after))))
		return false;
	if (!host_ok(v))
		return false;
	return !file_name(v) && !member_access(v);
}

/* An address in text that no peer can have: "this network" (0.0.0.0/8),
 * 240.0.0.0/4 with the broadcast address and netmasks (255.255.255.0), and
 * IPv6 masks (ffff:ffff:...). */
static bool never_a_peer(const char *v, bool v6)
{
	unsigned a = (unsigned)atoi(v);
	if (v6)
		return !strncmp(v, "ffff:ffff", 9);
	return a == 0 || a >= 240;
}



/* The host part of a URL, as an IOC of its own (ipv4, ipv6, or a domain in
 * the public DNS). */
static void url_host(az_ioc_scanner *s, const char *url, unsigned rank, const kcsi_ioc_prov *where)
{
	char host[256];
	unsigned char tmp[16];
	if (!kcsi_url_host(url, host, sizeof(host)))
		return;
	if (inet_pton(AF_INET, host, tmp) == 1)
		kcsi_iocs_add_prov(s->out, "ipv4", host, rank, where);
	else if (inet_pton(AF_INET6, host, tmp) == 1)
		kcsi_iocs_add_prov(s->out, "ipv6", host, rank, where);
	else if (host_ok(host))
		kcsi_iocs_add_prov(s->out, "domain", host, rank, where);
}

/* Does v[0, l) open as many round brackets as it closes? */
static bool balanced_paren(const char *v, size_t l)
{
	long depth = 0;
	for (size_t i = 0; i < l; i++)
		depth += v[i] == '(' ? 1 : v[i] == ')' ? -1 : 0;
	return depth == 0;
}

size_t az_text_piece(const char *p, size_t s, size_t e, size_t max)
{
	size_t end = e - s <= max ? e : s + max;
	if (end == e)
		return e;
	for (size_t k = end; k > s + max / 2; k--) /* cut after a separator in the second half */
		if (!isalnum((unsigned char)p[k - 1]) && !strchr(".-_%+@:/~?#&=", p[k - 1]))
			return k;
	return end; /* one word of max bytes: no indicator is that long */
}

/* Does a dot in the text start something like a top-level domain (two
 * letters or more, then no letter or digit)? */
static bool has_tld_like(const char *p, size_t n)
{
	for (const char *d = memchr(p, '.', n); d; d = memchr(d + 1, '.', n - (size_t)(d + 1 - p))) {
		size_t k = 0, left = n - (size_t)(d + 1 - p);
		while (k < left && isalpha((unsigned char)d[1 + k]))
			k++;
		if (k >= 2 && (k == left || !isdigit((unsigned char)d[1 + k])))
			return true;
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
	if (n < 4)
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
	       (dots && has_tld_like(p, n));
}

void az_iocs_scan_text(az_ioc_scanner *s, const char *p, size_t n, unsigned rank, const kcsi_ioc_prov *where)
{
	struct re_set *rs = s->re;
	static const char *const types[RE_N] = {"ipv4", "url", "email", "wallet", "wallet", "user-agent", "ipv6",
						 "domain"};
	if (!rs || n < 4)
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
			if ((i == RE_IPV4 || i == RE_IPV6) && never_a_peer(v, i == RE_IPV6))
				continue;
			if (i == RE_IPV6 && !strchr(v, '.') && strlen(v) < 6)
				continue;
			if (i == RE_DOMAIN && (l != ml || !domain_ok(v, p, n, mo, ml)))
				continue;
			if (i == RE_EMAIL && !email_ok(v))
				continue;
			if (i == RE_URL) {
				/* trailing punctuation is rarely part of the URL; a closing
				 * bracket is when it closes one the URL opened (Tar_(computing)) */
				while (l && strchr(".,;:)]'", v[l - 1]) && !(v[l - 1] == ')' && balanced_paren(v, l)))
					v[--l] = '\0';
				if (!url_ok(v))
					continue;
				url_host(s, v, rank, at_match(where, mo, &here));
			}
			kcsi_iocs_add_prov(s->out, types[i], v, rank, at_match(where, mo, &here));
		}
	}
}

/* ---- what is exported ---- */

#define AGGREGATE_OVER 8 /* distinct e-mails, URLs or names of one domain, host or zone in one place */

/* The place an IOC was first seen, as a key: a process's memory, a file, a
 * queue. */
static void place_key(const kcsi_ioc *io, char *out, size_t cap)
{
	const kcsi_ioc_prov *p = &io->prov;
	if (p->kind && !strcmp(p->kind, "memory"))
		snprintf(out, cap, "%s|memory|%lld", io->type, (long long)p->pid);
	else
		snprintf(out, cap, "%s|%s|%lld|%lld|%s", io->type, p->kind ? p->kind : "", (long long)p->pid,
			 (long long)p->fd, p->path ? p->path : p->detail ? p->detail : "");
}

/* What an aggregate of a low-value IOC stands for: *@domain for e-mails,
 * scheme://host/... for URLs, *.zone for names; false for other types. */
static bool aggregate_value(const kcsi_ioc *io, char *out, size_t cap)
{
	const char *v = io->value, *at, *reg, *sep;
	if (!strcmp(io->type, "email") && (at = strrchr(v, '@')))
		snprintf(out, cap, "*%s", at);
	else if (!strcmp(io->type, "url") && (sep = strstr(v, "://")))
		snprintf(out, cap, "%.*s/*", (int)(sep + 3 - v + strcspn(sep + 3, "/?#")), v);
	else if (!strcmp(io->type, "domain"))
		snprintf(out, cap, "*.%s", (reg = psl_registrable_domain(psl_builtin(), v)) ? reg : v);
	else
		return false;
	return true;
}

struct fold {
	const kcsi_ioc *base;
	const bool *folded;
};

static bool unfolded(const kcsi_ioc *io, void *ctx)
{
	const struct fold *f = ctx;
	return !f->folded[io - f->base];
}

/* Repeated low-value IOCs of one place (the e-mails of a log, the URLs of a
 * mail queue, the names of a resolver's cache): more than AGGREGATE_OVER
 * distinct ones of one domain, host or zone become one aggregate, with the
 * sightings counted and the distinct values it stands for. */
static void aggregate(kcsi_iocs *s)
{
	kcsi_strmap places = {0};
	int *distinct = calloc(s->n + 1, sizeof(int)), *place_of = calloc(s->n + 1, sizeof(int));
	bool *folded = calloc(s->n + 1, sizeof(bool)), any = false;
	kcsi_iocs agg = {0};
	size_t np = 0;
	char key[4400], v[600];
	if (!distinct || !place_of || !folded)
		goto out;
	for (size_t i = 0; i < s->n; i++) {
		int at;
		place_of[i] = -1;
		size_t kl;
		if (!aggregate_value(&s->v[i], v, sizeof(v)))
			continue;
		place_key(&s->v[i], key, sizeof(key) - sizeof(v));
		kl = strlen(key);
		snprintf(key + kl, sizeof(key) - kl, "|%s", v);
		if ((at = kcsi_strmap_get(&places, key, strlen(key), -1)) < 0) {
			if (kcsi_strmap_put(&places, key, strlen(key), (int)np) != 0)
				continue;
			at = (int)np++;
		}
		place_of[i] = at;
		distinct[at]++;
	}
	for (size_t i = 0; i < s->n; i++) {
		const kcsi_ioc *io = &s->v[i];
		kcsi_ioc *g;
		kcsi_ioc_prov where = io->prov;
		if (place_of[i] < 0 || distinct[place_of[i]] <= AGGREGATE_OVER)
			continue;
		aggregate_value(io, v, sizeof(v));
		where.has_address = where.has_offset = false; /* the place, not one spot in it */
		if (!(g = kcsi_iocs_find(&agg, io->type, v)) && !(g = kcsi_iocs_add_prov(&agg, io->type, v, io->rank, &where)))
			continue;
		g->count = g->distinct ? g->count + io->count : io->count;
		g->distinct++;
		g->rank = io->rank < g->rank ? io->rank : g->rank;
		folded[i] = any = true;
	}
	if (any)
		kcsi_iocs_filter(s, unfolded, &(struct fold){s->v, folded});
	for (size_t i = 0; i < agg.n; i++) { /* the aggregates join the set */
		const kcsi_ioc *x = &agg.v[i];
		kcsi_ioc *g = kcsi_iocs_find(s, x->type, x->value);
		if (g) {
			g->count += x->count;
			g->distinct += x->distinct;
		} else if ((g = kcsi_iocs_add_prov(s, x->type, x->value, x->rank, &x->prov))) {
			g->count = x->count;
			g->distinct = x->distinct;
		}
	}
out:
	kcsi_iocs_free(&agg);
	kcsi_strmap_free(&places);
	free(distinct);
	free(place_of);
	free(folded);
}

/* ---- worth blocking ---- */

/* The indicators the medium and high findings point at: found in their
 * evidence (the peer of a connection, excerpts, paths, titles), into
 * named; the paths of their files into paths. */
static void pointed_at(az_ioc_scanner *sc, const kcsi_findings *fs, kcsi_iocs *named, kcsi_strmap *paths)
{
	kcsi_iocs *out = sc->out;
	sc->out = named;
	for (size_t i = 0; i < fs->n; i++) {
		const kcsi_finding *f = fs->v[i];
		if (f->severity < KCSI_SEV_MEDIUM)
			continue;
		if (f->title)
			az_iocs_scan_text(sc, f->title, strlen(f->title), 0, NULL);
		for (size_t k = 0; k < f->nev; k++) {
			const kcsi_evidence *e = &f->ev[k];
			unsigned char tmp[16];
			if (e->has_conn) /* the peer; the source is the container's own address */
				kcsi_iocs_add_prov(named, inet_pton(AF_INET6, e->conn.dst, tmp) == 1 ? "ipv6" : "ipv4",
						   e->conn.dst, 0, NULL);
			else if (e->connection)
				az_iocs_scan_text(sc, e->connection, strlen(e->connection), 0, NULL);
			if (e->excerpt)
				az_iocs_scan_text(sc, e->excerpt, e->excerpt_len, 0, NULL);
			if (e->path) {
				az_iocs_scan_text(sc, e->path, strlen(e->path), 0, NULL);
				kcsi_strmap_put(paths, e->path, strlen(e->path), 1);
			}
		}
	}
	sc->out = out;
}

/* What the medium and high findings point at (pointed_at). */
struct pointed {
	kcsi_iocs named;
	kcsi_strmap paths;
};

static bool is_pointed(const kcsi_ioc *io, const struct pointed *pt)
{
	return kcsi_iocs_find(&pt->named, io->type, io->value) ||
	       (io->prov.path && kcsi_strmap_get(&pt->paths, io->prov.path, strlen(io->prov.path), 0));
}

/* Worth blocking: a finding of medium severity or above points at it, and
 * its class means something on other networks (public addresses, names in
 * the public DNS); hashes and wallets need the finding only.  Aggregates,
 * user agents and IRC names are observables. */
static bool worth_blocking(const kcsi_ioc *io, const struct pointed *pt)
{
	if (io->distinct || !is_pointed(io, pt))
		return false;
	if (!strcmp(io->type, "sha256") || !strcmp(io->type, "wallet"))
		return true;
	/* a name or address must be named by the finding itself: text that
	 * merely lies in a flagged file (a renamed copy of an image program
	 * carries its vendor's URLs) is not what the finding is about */
	return kcsi_ioc_type_is_network(io->type) && io->klass && !strcmp(io->klass, "public") &&
	       kcsi_iocs_find(&pt->named, io->type, io->value);
}

/* A dotted quad that crypto libraries hold as an ASN.1 object identifier
 * (X.500 attributes 2.5.4.x, certificate extensions 2.5.29.x, the EdDSA and
 * X25519/X448 keys 1.3.101.110-113, the internet arc 1.3.6.x), not an
 * address anyone connects to. */
static bool object_identifier(const char *v)
{
	static const char *const arcs[] = {"2.5.4.", "2.5.29.", "1.3.101.", "1.3.6."};
	for (size_t i = 0; i < sizeof(arcs) / sizeof(arcs[0]); i++)
		if (!strncmp(v, arcs[i], strlen(arcs[i])))
			return true;
	return false;
}

/* The host an e-mail address, URL or name stands for (lower case). */
static bool ioc_host(const kcsi_ioc *io, char *host, size_t cap)
{
	const char *at;
	if (!strcmp(io->type, "url"))
		return kcsi_url_host(io->value, host, cap) > 0;
	if (!strcmp(io->type, "email") && (at = strrchr(io->value, '@')))
		snprintf(host, cap, "%s", at + 1);
	else if (!strcmp(io->type, "domain"))
		snprintf(host, cap, "%s", io->value);
	else
		return false;
	lower(host);
	return true;
}

/* Worth listing at all: not only the image's own bytes, unless a finding
 * points at it (text a rule found in a page of an image file is not the
 * file's); unless a finding names it, not, in text (memory, files, socket queues), an address no
 * peer has (documentation, reserved: RFC 5737 examples in a library's
 * docstrings) or a documentation name (example.com; the special-use names
 * .internal, .local, .test are a network's own and stay), nor an object
 * identifier that looks like an address; not a reference site's name (documentation links
 * and author addresses of a runtime's code). */
static bool worth_listing(const kcsi_ioc *io, void *ctx)
{
	const struct pointed *pt = ctx;
	const char *kind = io->prov.kind;
	char host[256];
	if (io->image_only && !is_pointed(io, pt))
		return false;
	/* the rest must be named by a finding: a flagged file (a renamed copy
	 * of coreutils) holds its vendor's links all the same */
	if (kcsi_iocs_find(&pt->named, io->type, io->value))
		return true;
	bool in_text = kind && (!strcmp(kind, "memory") || !strcmp(kind, "file") || !strcmp(kind, "queue"));
	if (in_text && io->klass &&
	    (!strcmp(io->klass, "documentation") ||
	     (!strcmp(io->klass, "reserved") && (!strcmp(io->type, "ipv4") || !strcmp(io->type, "ipv6")))))
		return false;
	if (in_text && !strcmp(io->type, "ipv4") && object_identifier(io->value))
		return false;
	return !(ioc_host(io, host, sizeof(host)) && kcsi_reference_name(host));
}

static void mark_ids(az_ioc_scanner *sc, kcsi_report *r, bool finish)
{
	struct pointed pt = {0};
	pointed_at(sc, &r->findings, &pt.named, &pt.paths);
	if (finish) {
		kcsi_iocs_filter(&r->iocs, worth_listing, &pt);
		aggregate(&r->iocs);
	}
	for (size_t i = 0; i < r->iocs.n; i++)
		r->iocs.v[i].ids = worth_blocking(&r->iocs.v[i], &pt);
	kcsi_iocs_free(&pt.named);
	kcsi_strmap_free(&pt.paths);
}

void az_iocs_mark_ids(kcsi_report *r)
{
	az_ioc_scanner sc;
	kcsi_error err;
	if (az_ioc_scanner_init(&sc, NULL, &err) == KCSI_OK)
		mark_ids(&sc, r, false);
	az_ioc_scanner_free(&sc);
}

void az_iocs_finish(az *a)
{
	mark_ids(&a->iocs, a->r, true);
}
