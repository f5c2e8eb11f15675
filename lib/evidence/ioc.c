/* kcsi — indicators of compromise as the reports hold them: a set that
 * counts each (type, value) once, the class of an address, defanging (see
 * evidence/finding.h).  Finding IOCs in text is the triage engine's work
 * (lib/triage/ioc_extract.c). */
#include <arpa/inet.h>
#include <ctype.h>
#include <libpsl.h>
#include <stdlib.h>
#include <string.h>

#include "evidence/finding.h"

/* "type\0value": the key of the index */
static char *ioc_key(const char *type, const char *value, size_t *len)
{
	size_t tl = strlen(type), vl = strlen(value);
	char *k = malloc(tl + vl + 2);
	if (!k)
		return NULL;
	memcpy(k, type, tl + 1);
	memcpy(k + tl + 1, value, vl + 1);
	*len = tl + 1 + vl;
	return k;
}

kcsi_ioc *kcsi_iocs_find(const kcsi_iocs *s, const char *type, const char *value)
{
	size_t len;
	char *k = ioc_key(type, value, &len);
	int i = k ? kcsi_strmap_get(&s->ix, k, len, -1) : -1;
	free(k);
	return i >= 0 ? &s->v[i] : NULL;
}

/* ---- provenance ---- */

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* dst: the IOC's own copy of src (NULL: none) */
static void prov_copy(kcsi_ioc_prov *dst, const kcsi_ioc_prov *src)
{
	*dst = src ? *src : KCSI_IOC_PROV_NONE;
	dst->area = dup_or_null(dst->area);
	dst->path = dup_or_null(dst->path);
	dst->detail = dup_or_null(dst->detail);
}

static void prov_free(kcsi_ioc_prov *p)
{
	free((void *)p->area);
	free((void *)p->path);
	free((void *)p->detail);
	*p = KCSI_IOC_PROV_NONE;
}

char *kcsi_ioc_prov_text(const kcsi_ioc_prov *p)
{
	kcsi_buf b;
	const char *kind = p->kind;
	kcsi_buf_init(&b, 1u << 16);
	if (!kind) {
		kcsi_buf_printf(&b, "%s", p->detail ? p->detail : "");
	} else if (!strcmp(kind, "memory") && p->has_address) {
		kcsi_buf_printf(&b, "memory pid %lld 0x%llx (%s)", (long long)p->pid, (unsigned long long)p->address,
				p->area ? p->area : "?");
	} else if (!strcmp(kind, "connection")) {
		kcsi_buf_printf(&b, "connection pid %lld fd %lld", (long long)p->pid, (long long)p->fd);
	} else if (!strcmp(kind, "queue")) {
		kcsi_buf_printf(&b, "tcp-queue pid %lld fd %lld", (long long)p->pid, (long long)p->fd);
	} else if (!strcmp(kind, "file")) {
		const char *origin = p->origin ? p->origin : "file";
		if (p->path)
			kcsi_buf_printf(&b, "%s %s", origin, p->path);
		else
			kcsi_buf_printf(&b, "%s pid %lld fd %lld", origin, (long long)p->pid, (long long)p->fd);
	} else {
		kcsi_buf_printf(&b, "%s", p->detail ? p->detail : kind);
		if (p->pid >= 0)
			kcsi_buf_printf(&b, " pid %lld", (long long)p->pid);
		if (p->path)
			kcsi_buf_printf(&b, " %s", p->path);
	}
	return b.data ? b.data : strdup("");
}

/* it takes the provenance p (a copy) */
static void set_prov(kcsi_ioc *it, const kcsi_ioc_prov *p)
{
	prov_free(&it->prov);
	prov_copy(&it->prov, p);
	free(it->source);
	it->source = p ? kcsi_ioc_prov_text(&it->prov) : NULL;
}

/* ---- names ---- */

/* Is name (lower case) that zone or under it? */
static bool in_zone(const char *name, const char *zone)
{
	size_t n = strlen(name), z = strlen(zone);
	return n == z ? !strcmp(name, zone) : n > z && name[n - z - 1] == '.' && !strcmp(name + n - z, zone);
}

/* Is every label 1-63 letters, digits and hyphens, not at either end? */
static bool ldh_labels(const char *name)
{
	size_t len = 0;
	const char *label = name;
	if (!*name || strlen(name) > 253)
		return false;
	for (const char *p = name;; p++) {
		if (*p == '.' || !*p) {
			len = (size_t)(p - label);
			if (len == 0 || len > 63 || label[0] == '-' || p[-1] == '-')
				return false;
			if (!*p)
				return true;
			label = p + 1;
		} else if (!(isalnum((unsigned char)*p) || *p == '-') || isupper((unsigned char)*p)) {
			return false;
		}
	}
}

const char *kcsi_name_class(const char *name)
{
	/* RFC 2606, 6761, 6762, 9476, ICANN's .internal, and .arpa (reverse
	 * names, home.arpa): not hosts of the public DNS */
	static const char *const documentation[] = {"example", "example.com", "example.net", "example.org"};
	static const char *const reserved[] = {"test", "invalid", "localhost", "local", "internal", "alt", "arpa"};
	const psl_ctx_t *psl = psl_builtin();
	const char *tld;
	if (!name || !ldh_labels(name))
		return NULL;
	for (size_t i = 0; i < sizeof(documentation) / sizeof(documentation[0]); i++)
		if (in_zone(name, documentation[i]))
			return "documentation";
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (in_zone(name, reserved[i]))
			return "reserved";
	if (!(tld = strrchr(name, '.')))
		return NULL; /* one label: a host of a local network, or a word */
	tld++;
	if (isdigit((unsigned char)*tld))
		return NULL; /* 10.1.2.999, a version */
	if (!psl || !psl_is_public_suffix2(psl, tld, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE))
		return "internal";
	/* a suffix itself (co.uk) is no host; one of the list's private part
	 * (googleapis.com, github.io) is */
	return psl_is_public_suffix2(psl, name, PSL_TYPE_ICANN | PSL_TYPE_NO_STAR_RULE) ? NULL : "public";
}

bool kcsi_reference_name(const char *name)
{
	static const char *const sites[] = {
		/* standards and registries of numbers */
		"iana.org", "ietf.org", "rfc-editor.org", "w3.org", "whatwg.org", "unicode.org", "json.org",
		"ecma-international.org", "iso.org", "itu.int", "ieee.org", "oasis-open.org", "spdx.org",
		"opensource.org", "creativecommons.org", "semver.org", "schema.org",
		/* languages and runtimes (their documentation sites) */
		"python.org", "perl.org", "cpan.org", "ruby-lang.org", "php.net", "nodejs.org", "golang.org", "go.dev",
		"rust-lang.org", "openjdk.org", "isocpp.org", "cppreference.com", "tcl-lang.org", "lua.org",
		/* free-software projects, foundations and distributions */
		"gnu.org", "fsf.org", "kernel.org", "debian.org", "ubuntu.com", "freedesktop.org", "gnome.org", "kde.org",
		"apache.org", "mozilla.org", "openssl.org", "gnupg.org", "sourceware.org", "translationproject.org",
		"sqlite.org", "zlib.net", "curl.se", "haxx.se", "busybox.net", "alpinelinux.org", "archlinux.org",
		"fedoraproject.org", "openbsd.org", "freebsd.org", "netbsd.org", "samba.org", "x.org", "openssh.com",
		/* encyclopaedia and news of the field */
		"wikipedia.org", "wikimedia.org", "lwn.net",
	};
	for (size_t i = 0; name && i < sizeof(sites) / sizeof(sites[0]); i++)
		if (in_zone(name, sites[i]))
			return true;
	return false;
}

size_t kcsi_url_host(const char *url, char *host, size_t cap)
{
	const char *h = strstr(url, "://"), *at, *end;
	size_t n = 0;
	if (!cap)
		return 0;
	host[0] = '\0';
	if (!h)
		return 0;
	h += 3;
	end = h + strcspn(h, "/?#");
	if ((at = memchr(h, '@', (size_t)(end - h))))
		h = at + 1;
	if (*h == '[') {
		h++;
		while (h < end && h[n] != ']' && n < cap - 1)
			n++;
	} else {
		while (h + n < end && h[n] != ':' && n < cap - 1)
			n++;
	}
	memcpy(host, h, n);
	host[n] = '\0';
	for (size_t i = 0; i < n; i++)
		host[i] = (char)tolower((unsigned char)host[i]);
	return n;
}

const char *kcsi_host_class(const char *host)
{
	const char *k = kcsi_addr_class(host);
	return k ? k : kcsi_name_class(host);
}

/* the class of an IOC's value: addresses, names, and the host of URLs and
 * e-mail addresses; NULL for other types */
static const char *value_class(const char *type, const char *value)
{
	char host[256];
	const char *at;
	if (!strcmp(type, "ipv4") || !strcmp(type, "ipv6"))
		return kcsi_addr_class(value);
	if (!strcmp(type, "domain"))
		return kcsi_name_class(value[0] == '*' && value[1] == '.' ? value + 2 : value);
	if (!strcmp(type, "url"))
		return kcsi_url_host(value, host, sizeof(host)) ? kcsi_host_class(host) : NULL;
	if (!strcmp(type, "email") && (at = strrchr(value, '@'))) {
		snprintf(host, sizeof(host), "%s", at + 1);
		for (char *q = host; *q; q++)
			*q = (char)tolower((unsigned char)*q);
		return kcsi_name_class(host);
	}
	return NULL;
}

/* ---- the set ---- */

kcsi_ioc *kcsi_iocs_add_prov(kcsi_iocs *s, const char *type, const char *value, unsigned rank,
			     const kcsi_ioc_prov *prov)
{
	kcsi_ioc *it = kcsi_iocs_find(s, type, value);
	bool image = prov && prov->image;
	size_t len;
	char *k;
	if (it) {
		it->count++;
		if (rank < it->rank || (rank == it->rank && it->prov.image && !image)) {
			it->rank = rank;
			set_prov(it, prov);
		}
		it->image_only &= image;
		return it;
	}
	if (s->n >= KCSI_IOCS_MAX)
		return NULL;
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 64;
		kcsi_ioc *q = realloc(s->v, nc * sizeof(*q));
		if (!q)
			return NULL;
		s->v = q;
		s->cap = nc;
	}
	if (!(k = ioc_key(type, value, &len)) || kcsi_strmap_put(&s->ix, k, len, (int)s->n) != 0) {
		free(k);
		return NULL;
	}
	free(k);
	it = &s->v[s->n++];
	memset(it, 0, sizeof(*it));
	it->type = type;
	it->value = strdup(value);
	it->rank = rank;
	it->prov = KCSI_IOC_PROV_NONE;
	set_prov(it, prov);
	it->count = 1;
	it->image_only = image;
	it->klass = value_class(type, value);
	return it;
}

kcsi_ioc *kcsi_iocs_add(kcsi_iocs *s, const char *type, const char *value, unsigned rank, const char *source)
{
	kcsi_ioc_prov p = KCSI_IOC_PROV_NONE;
	p.detail = source;
	return kcsi_iocs_add_prov(s, type, value, rank, source ? &p : NULL);
}

/* the index anew: same keys, new places */
static void reindex(kcsi_iocs *s)
{
	kcsi_strmap_free(&s->ix);
	for (size_t i = 0; i < s->n; i++) {
		size_t len;
		char *k = ioc_key(s->v[i].type, s->v[i].value, &len);
		if (k)
			kcsi_strmap_put(&s->ix, k, len, (int)i);
		free(k);
	}
}

static void ioc_free(kcsi_ioc *io)
{
	free(io->value);
	free(io->source);
	prov_free(&io->prov);
}

void kcsi_iocs_filter(kcsi_iocs *s, bool (*keep)(const kcsi_ioc *io, void *ctx), void *ctx)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (keep(&s->v[i], ctx))
			s->v[n++] = s->v[i];
		else
			ioc_free(&s->v[i]);
	}
	if (n != s->n) {
		s->n = n;
		reindex(s);
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

void kcsi_iocs_sort(kcsi_iocs *s)
{
	if (s->n < 2)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmp_ioc);
	reindex(s);
}

void kcsi_iocs_free(kcsi_iocs *s)
{
	for (size_t i = 0; i < s->n; i++)
		ioc_free(&s->v[i]);
	free(s->v);
	kcsi_strmap_free(&s->ix);
	memset(s, 0, sizeof(*s));
}

static const char *ipv4_class(const unsigned char a[4])
{
	if (a[0] == 127)
		return "loopback";
	if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168))
		return "private";
	if (a[0] == 100 && (a[1] & 0xc0) == 64) /* shared address space (carrier-grade NAT) */
		return "private";
	if (a[0] == 169 && a[1] == 254)
		return "link-local";
	if ((a[0] == 192 && a[1] == 0 && a[2] == 2) || (a[0] == 198 && a[1] == 51 && a[2] == 100) ||
	    (a[0] == 203 && a[1] == 0 && a[2] == 113))
		return "documentation";
	if (a[0] >= 224 && a[0] <= 239)
		return "multicast";
	if (a[0] == 0 || a[0] >= 240 || (a[0] == 198 && (a[1] & 0xfe) == 18) || (a[0] == 192 && a[1] == 0 && a[2] == 0))
		return "reserved";
	return "public";
}

static const char *ipv6_class(const unsigned char a[16])
{
	static const unsigned char lo[16] = {[15] = 1};
	if (!memcmp(a, lo, 16))
		return "loopback";
	if ((a[0] & 0xfe) == 0xfc)
		return "private";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return "link-local";
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
		return "documentation";
	if (a[0] == 0xff)
		return "multicast";
	if (a[0] == 0 && a[1] == 0)
		return "reserved";
	return "public";
}

const char *kcsi_addr_class(const char *ip)
{
	unsigned char a[16];
	if (inet_pton(AF_INET, ip, a) == 1)
		return ipv4_class(a);
	if (inet_pton(AF_INET6, ip, a) == 1)
		return ipv6_class(a);
	return NULL;
}

bool kcsi_ioc_type_is_network(const char *t)
{
	return !strcmp(t, "ipv4") || !strcmp(t, "ipv6") || !strcmp(t, "domain") || !strcmp(t, "url") ||
	       !strcmp(t, "email");
}

char *kcsi_defang(const char *type, const char *v)
{
	kcsi_buf b;
	kcsi_buf_init(&b, 1u << 16);
	if (!strcmp(type, "ipv6")) {
		for (const char *p = v; *p; p++)
			if (*p == ':')
				kcsi_buf_add(&b, "[:]", 3);
			else
				kcsi_buf_addc(&b, *p);
	} else if (kcsi_ioc_type_is_network(type)) {
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
	} else {
		kcsi_buf_add(&b, v, strlen(v));
	}
	return b.data ? b.data : strdup("");
}
