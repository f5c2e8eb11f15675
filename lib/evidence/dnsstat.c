/* kcsi — DNS names grouped by zone, with the marks of tunnels.  See dnsstat.h.
 *
 * A zone "looks like a tunnel" when it carries at least DNS_MIN_UNIQUE
 * different subdomains and these are what encoders make: long labels (mean
 * of 24 characters or more, or one of 40 or more), high entropy (3.5 bits
 * per character over labels of 16+ characters) or mostly encoded payload
 * (hex, base32, base64url).  Ordinary names repeat (www, api, mail) or are few;
 * a CDN's hashed host names are few per zone. */
#include <ctype.h>
#include <libpsl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "evidence/dnsstat.h"
#include "base/util.h"

#define DNS_MAX_ZONES 4096
#define DNS_MAX_UNIQUE 65536  /* subdomains remembered per zone */
#define DNS_MIN_UNIQUE 8
#define DNS_EXAMPLES 5

struct zone {
	char *name;
	size_t queries;
	kcsi_strmap subs;      /* unique subdomain strings */
	size_t labels, label_chars, max_label, encoded[3], long_labels;
	double entropy_sum;    /* over labels of 16+ characters */
	size_t entropy_n;
	char *examples[DNS_EXAMPLES];
	size_t nexamples;
};

struct kcsi_dns_zones {
	struct zone *z;
	size_t n;
	kcsi_strmap index;     /* zone name -> position */
};

static const char *const enc_names[] = {"hex", "base32", "base64url"};

double kcsi_entropy(const char *s, size_t n)
{
	unsigned cnt[256] = {0};
	double h = 0;
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		cnt[(unsigned char)s[i]]++;
	for (int c = 0; c < 256; c++)
		if (cnt[c]) {
			double p = (double)cnt[c] / (double)n;
			h -= p * log2(p);
		}
	return h;
}

const char *kcsi_label_encoding(const char *s, size_t n)
{
	bool hex = true, b32 = true, b64 = true, upper = false, lower = false, digit = false;
	if (n < 16)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool d = c >= '0' && c <= '9';
		upper |= c >= 'A' && c <= 'Z';
		lower |= c >= 'a' && c <= 'z';
		digit |= d;
		if (!(d || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			hex = false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7')))
			b32 = false;
		if (!(isalnum(c) || c == '-' || c == '_'))
			b64 = false;
	}
	if (hex && digit && (upper != lower || (!upper && !lower)))
		return "hex";
	if (b32 && digit && (upper != lower))
		return "base32";
	if (b64 && digit && upper && lower)
		return "base64url";
	return NULL;
}

kcsi_dns_zones *kcsi_dns_zones_new(void)
{
	return calloc(1, sizeof(kcsi_dns_zones));
}

static const psl_ctx_t *psl(void)
{
	static const psl_ctx_t *ctx;
	if (!ctx)
		ctx = psl_builtin();
	return ctx;
}

/* The zone of a lower-cased host name: its registrable domain, or its last
 * two labels when the suffix list does not know it. */
static const char *zone_of(const char *host)
{
	const char *reg = psl() ? psl_registrable_domain(psl(), host) : NULL;
	if (reg)
		return reg;
	const char *last = strrchr(host, '.');
	if (!last)
		return host;
	for (const char *p = last - 1; p >= host; p--)
		if (*p == '.')
			return p + 1;
	return host;
}

void kcsi_dns_zones_add(kcsi_dns_zones *zs, const char *name, size_t len)
{
	char host[256];
	size_t n = 0;
	if (!zs || len == 0 || len >= sizeof(host))
		return;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!(isalnum(c) || c == '-' || c == '_' || c == '.'))
			return; /* not a host name (binary labels are not counted) */
		host[n++] = (char)tolower(c);
	}
	while (n && host[n - 1] == '.')
		n--;
	host[n] = '\0';
	if (!strchr(host, '.') || host[0] == '.' || strstr(host, ".."))
		return;
	const char *zname = zone_of(host);
	size_t zl = strlen(zname);
	int at = kcsi_strmap_get(&zs->index, zname, zl, -1);
	if (at < 0) {
		if (zs->n >= DNS_MAX_ZONES)
			return;
		if (zs->n % 64 == 0) {
			struct zone *g = realloc(zs->z, (zs->n + 64) * sizeof(*g));
			if (!g)
				return;
			zs->z = g;
		}
		struct zone *nz = &zs->z[zs->n];
		memset(nz, 0, sizeof(*nz));
		if (!(nz->name = strdup(zname)) || kcsi_strmap_put(&zs->index, zname, zl, (int)zs->n)) {
			free(nz->name);
			return;
		}
		at = (int)zs->n++;
	}
	struct zone *z = &zs->z[at];
	z->queries++;
	size_t sl = (size_t)(zname - host);
	if (sl < 2)
		return; /* the zone itself */
	sl--;      /* the dot before the zone */
	if (kcsi_strmap_get(&z->subs, host, sl, 0) || z->subs.n >= DNS_MAX_UNIQUE)
		return;
	if (kcsi_strmap_put(&z->subs, host, sl, 1))
		return;
	if (z->nexamples < DNS_EXAMPLES)
		z->examples[z->nexamples++] = strdup(host);
	for (size_t i = 0; i < sl;) {
		size_t l = strcspn(host + i, ".");
		if (l > sl - i)
			l = sl - i;
		const char *e = kcsi_label_encoding(host + i, l);
		z->labels++;
		z->label_chars += l;
		if (l > z->max_label)
			z->max_label = l;
		if (l >= 24)
			z->long_labels++;
		if (l >= 16) {
			z->entropy_sum += kcsi_entropy(host + i, l);
			z->entropy_n++;
		}
		for (int k = 0; e && k < 3; k++)
			if (!strcmp(e, enc_names[k]))
				z->encoded[k]++;
		i += l + 1;
	}
}

/* Why a zone looks like a tunnel: reasons appended to r, true if any. */
static bool tunnel_reasons(const struct zone *z, json_t *r)
{
	size_t uniq = z->subs.n;
	double mean = z->labels ? (double)z->label_chars / (double)z->labels : 0;
	double ent = z->entropy_n ? z->entropy_sum / (double)z->entropy_n : 0;
	size_t enc = z->encoded[0] + z->encoded[1] + z->encoded[2];
	bool hit = false;
	if (uniq < DNS_MIN_UNIQUE)
		return false;
	if (mean >= 24 || z->max_label >= 40) {
		json_array_append_new(r, json_sprintf("%zu unique subdomains with labels of %.0f characters on average "
						      "(longest %zu)", uniq, mean, z->max_label));
		hit = true;
	}
	if (z->entropy_n >= DNS_MIN_UNIQUE && ent >= 3.5) {
		json_array_append_new(r, json_sprintf("label entropy %.2f bits per character", ent));
		hit = true;
	}
	if (enc * 2 >= z->labels && enc >= DNS_MIN_UNIQUE) {
		int k = z->encoded[0] >= z->encoded[1] && z->encoded[0] >= z->encoded[2] ? 0
			: z->encoded[1] >= z->encoded[2]                                ? 1
											: 2;
		json_array_append_new(r, json_sprintf("%zu of %zu labels are %s-encoded payload", enc, z->labels,
						      enc_names[k]));
		hit = true;
	}
	return hit;
}

static int cmp_zone(const void *a, const void *b)
{
	const struct zone *x = a, *y = b;
	if (x->subs.n != y->subs.n)
		return x->subs.n > y->subs.n ? -1 : 1;
	if (x->queries != y->queries)
		return x->queries > y->queries ? -1 : 1;
	return strcmp(x->name, y->name);
}

json_t *kcsi_dns_zones_json(const kcsi_dns_zones *zs)
{
	json_t *out = json_array();
	struct zone *sorted;
	if (!zs || !zs->n)
		return out;
	if (!(sorted = malloc(zs->n * sizeof(*sorted))))
		return out;
	memcpy(sorted, zs->z, zs->n * sizeof(*sorted));
	qsort(sorted, zs->n, sizeof(*sorted), cmp_zone);
	for (size_t i = 0; i < zs->n; i++) {
		const struct zone *z = &sorted[i];
		json_t *reasons = json_array(), *ex = json_array();
		bool tunnel = tunnel_reasons(z, reasons);
		for (size_t k = 0; k < z->nexamples; k++)
			if (z->examples[k])
				json_array_append_new(ex, json_string(z->examples[k]));
		json_array_append_new(
			out, json_pack("{s:s, s:I, s:I, s:I, s:I, s:f, s:f, s:{s:I, s:I, s:I}, s:b, s:o, s:o}", "zone", z->name,
				       "queries", (json_int_t)z->queries, "unique_subdomains", (json_int_t)z->subs.n,
				       "labels", (json_int_t)z->labels, "max_label", (json_int_t)z->max_label, "mean_label",
				       z->labels ? (double)z->label_chars / (double)z->labels : 0.0, "mean_entropy",
				       z->entropy_n ? z->entropy_sum / (double)z->entropy_n : 0.0, "encodings", "hex",
				       (json_int_t)z->encoded[0], "base32", (json_int_t)z->encoded[1], "base64url",
				       (json_int_t)z->encoded[2], "tunnel", tunnel, "reasons", reasons, "examples", ex));
	}
	free(sorted);
	return out;
}

bool kcsi_dns_zones_tunnel(const kcsi_dns_zones *zs)
{
	for (size_t i = 0; zs && i < zs->n; i++) {
		json_t *r = json_array();
		bool t = tunnel_reasons(&zs->z[i], r);
		json_decref(r);
		if (t)
			return true;
	}
	return false;
}

void kcsi_dns_zones_free(kcsi_dns_zones *zs)
{
	if (!zs)
		return;
	for (size_t i = 0; i < zs->n; i++) {
		free(zs->z[i].name);
		kcsi_strmap_free(&zs->z[i].subs);
		for (size_t k = 0; k < zs->z[i].nexamples; k++)
			free(zs->z[i].examples[k]);
	}
	free(zs->z);
	kcsi_strmap_free(&zs->index);
	free(zs);
}
