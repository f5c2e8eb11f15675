/* kcsi hunt — indicator sets: read from plain lines, STIX 2.1 bundles and MISP
 * events; typed by shape; compiled into Hyperscan databases (block mode for
 * memory windows and queues, stream mode for files read in pieces).
 *
 * Every indicator is matched in each byte form it may take in a process:
 *   text      the bytes as written (case-insensitive for names, addresses,
 *             e-mails and URLs)
 *   utf16le   the same text in UTF-16LE (Windows-born tools, Java, .NET)
 *   dns-wire  a domain as it travels in a DNS message (3www7example3com)
 *   bytes     a hex indicator's bytes
 *   regex     a regular expression (Hyperscan where it can, PCRE2 else)
 * Digests (MD5, SHA-1, SHA-256) are compared with the file objects' digests,
 * and IP addresses with the sockets' endpoints, as well as matched as text.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hunt/hunt_int.h"

#define IOC_MAX 1000000
#define IOC_MAX_LEN 4096
#define FEED_MAX (256u << 20)

static const char *const type_names[T_NTYPES] = {"literal", "hex", "regex", "ipv4", "ipv6", "domain",
						 "url", "email", "sha256", "sha1", "md5"};

const char *ioc_type_name(enum ioc_type t)
{
	return t < T_NTYPES ? type_names[t] : "?";
}

static kcsi_code nomem(kcsi_error *err)
{
	return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
}

kcsi_code kcsi_iocset_new(kcsi_iocset **out, kcsi_error *err)
{
	if (!(*out = calloc(1, sizeof(**out))))
		return nomem(err);
	return KCSI_OK;
}

void kcsi_iocset_free(kcsi_iocset *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].text);
		free(s->v[i].feed);
		free(s->v[i].ref);
		free(s->v[i].bytes);
	}
	free(s->v);
	kcsi_strmap_free(&s->seen);
	kcsi_strmap_free(&s->digests);
	kcsi_strmap_free(&s->endpoints);
	for (size_t i = 0; i < s->npats; i++)
		pcre2_code_free(s->pats[i].start_finder);
	free(s->pats);
	hs_free_database(s->lit);
	hs_free_database(s->re);
	for (size_t i = 0; i < s->npcre; i++)
		pcre2_code_free(s->pcre[i].code);
	free(s->pcre);
	free(s);
}

size_t kcsi_iocset_count(const kcsi_iocset *s)
{
	return s ? s->n : 0;
}

const char *kcsi_iocset_summary(kcsi_iocset *s)
{
	size_t cnt[T_NTYPES] = {0}, l = 0;
	for (size_t i = 0; i < s->n; i++)
		cnt[s->v[i].type]++;
	s->summary[0] = '\0';
	for (int t = 0; t < T_NTYPES; t++)
		if (cnt[t] && l < sizeof(s->summary))
			l += (size_t)snprintf(s->summary + l, sizeof(s->summary) - l, "%s%s %zu", l ? ", " : "", type_names[t],
					      cnt[t]);
	return s->summary;
}

/* ---- typing ---- */

/* hxxp -> http, [.] (.) {.} -> ., [@] [at] -> @: the defanged forms exports use */
static void refang(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; in[i] && o + 1 < cap;) {
		if (!strncasecmp(in + i, "hxxp", 4)) {
			memcpy(out + o, in[i] == 'H' ? "HTTP" : "http", 4 < cap - o - 1 ? 4 : cap - o - 1);
			o += 4 < cap - o - 1 ? 4 : cap - o - 1;
			i += 4;
		} else if ((in[i] == '[' || in[i] == '(' || in[i] == '{') && in[i + 1] == '.' &&
			   (in[i + 2] == ']' || in[i + 2] == ')' || in[i + 2] == '}')) {
			out[o++] = '.';
			i += 3;
		} else if (!strncmp(in + i, "[@]", 3) || !strncasecmp(in + i, "[at]", 4)) {
			out[o++] = '@';
			i += in[i + 1] == '@' ? 3 : 4;
		} else {
			out[o++] = in[i++];
		}
	}
	out[o] = '\0';
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return n > 0;
}

static bool is_domain(const char *s)
{
	size_t n = strlen(s), label = 0, labels = 0;
	const char *tld;
	if (n < 3 || n > 253 || s[0] == '.' || s[n - 1] == '.' || !strchr(s, '.'))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (!label || label > 63)
				return false;
			label = 0;
			labels++;
			continue;
		}
		if (!(isalnum(c) || c == '-' || c == '_'))
			return false;
		label++;
	}
	tld = strrchr(s, '.') + 1;
	for (const char *p = tld; *p; p++)
		if (!isalpha((unsigned char)*p))
			return false; /* 1.2.3.4 is an address; x.123 not a name */
	return labels >= 1 && strlen(tld) >= 2;
}

static enum ioc_type guess(const char *s)
{
	unsigned char a6[16];
	size_t n = strlen(s);
	const char *at = strchr(s, '@');
	if (n == 64 && all_hex(s, n))
		return T_SHA256;
	if (n == 40 && all_hex(s, n))
		return T_SHA1;
	if (n == 32 && all_hex(s, n))
		return T_MD5;
	if (inet_pton(AF_INET, s, a6) == 1)
		return T_IPV4;
	if (strchr(s, ':') && inet_pton(AF_INET6, s, a6) == 1)
		return T_IPV6;
	if (strstr(s, "://"))
		return T_URL;
	if (at && at != s && !strchr(at + 1, '@') && is_domain(at + 1) && !strchr(s, ' '))
		return T_EMAIL;
	if (is_domain(s))
		return T_DOMAIN;
	return T_LITERAL;
}

static const struct {
	const char *prefix;
	enum ioc_type type;
} prefixes[] = {
	{"literal:", T_LITERAL}, {"text:", T_LITERAL}, {"hex:", T_HEX}, {"regex:", T_REGEX}, {"re:", T_REGEX},
	{"ipv4:", T_IPV4},       {"ip:", T_IPV4},      {"ipv6:", T_IPV6}, {"domain:", T_DOMAIN}, {"url:", T_URL},
	{"email:", T_EMAIL},     {"sha256:", T_SHA256}, {"sha1:", T_SHA1}, {"md5:", T_MD5},
};

static kcsi_code add_typed(kcsi_iocset *s, enum ioc_type type, const char *value, const char *feed, const char *ref,
			   kcsi_error *err)
{
	char key[IOC_MAX_LEN + 16];
	struct ioc *e;
	size_t vl = strlen(value);
	if (s->compiled)
		return kcsi_error_set(err, KCSI_ERR_USAGE, "indicator set already compiled");
	if (!vl)
		return KCSI_OK;
	if (vl > IOC_MAX_LEN)
		return kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: an indicator of %zu bytes (at most %u)", feed, vl, IOC_MAX_LEN);
	if (s->n >= IOC_MAX)
		return kcsi_error_set(err, KCSI_ERR_LIMIT, "more than %u indicators", IOC_MAX);
	int kl = snprintf(key, sizeof(key), "%s", type_names[type]);
	memcpy(key + kl + 1, value, vl);
	if (kcsi_strmap_get(&s->seen, key, (size_t)kl + 1 + vl, -1) >= 0)
		return KCSI_OK; /* the same indicator from another feed: once */
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		struct ioc *nv = realloc(s->v, ncap * sizeof(*nv));
		if (!nv)
			return nomem(err);
		s->v = nv;
		s->cap = ncap;
	}
	e = &s->v[s->n];
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->caseless = type == T_DOMAIN || type == T_EMAIL || type == T_URL;
	if (!(e->text = strdup(value)) || !(e->feed = strdup(feed)) || (ref && !(e->ref = strdup(ref))))
		goto oom;
	if (type == T_HEX) {
		/* "de ad be ef", "deadbeef", "\xde\xad": the bytes */
		if (!(e->bytes = malloc(vl / 2 + 1)))
			goto oom;
		for (size_t i = 0; value[i];) {
			if (isspace((unsigned char)value[i]) || value[i] == '\\' || value[i] == 'x' || value[i] == ',') {
				i++;
				continue;
			}
			if (!isxdigit((unsigned char)value[i]) || !isxdigit((unsigned char)value[i + 1])) {
				free(e->text);
				free(e->feed);
				free(e->ref);
				free(e->bytes);
				return kcsi_error_set(err, KCSI_ERR_USAGE, "%s: '%.80s' is not hex bytes", feed, value);
			}
			unsigned b;
			sscanf(value + i, "%2x", &b);
			e->bytes[e->len++] = (unsigned char)b;
			i += 2;
		}
	} else {
		if (type == T_SHA256 || type == T_SHA1 || type == T_MD5)
			for (char *p = e->text; *p; p++)
				*p = (char)tolower((unsigned char)*p);
		if (!(e->bytes = (unsigned char *)strdup(e->text)))
			goto oom;
		e->len = strlen(e->text);
	}
	if (kcsi_strmap_put(&s->seen, key, (size_t)kl + 1 + vl, (int)s->n))
		goto oom;
	s->n++;
	return KCSI_OK;
oom:
	free(e->text);
	free(e->feed);
	free(e->ref);
	free(e->bytes);
	return nomem(err);
}

kcsi_code kcsi_iocset_add(kcsi_iocset *s, const char *text, const char *feed, kcsi_error *err)
{
	char buf[IOC_MAX_LEN + 1];
	const char *v = text;
	while (isspace((unsigned char)*v))
		v++;
	size_t n = strlen(v);
	while (n && isspace((unsigned char)v[n - 1]))
		n--;
	if (!n || v[0] == '#')
		return KCSI_OK;
	if (n > IOC_MAX_LEN)
		return kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: an indicator of %zu bytes (at most %u)", feed, n, IOC_MAX_LEN);
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t pl = strlen(prefixes[i].prefix);
		if (n > pl && !strncasecmp(v, prefixes[i].prefix, pl)) {
			snprintf(buf, sizeof(buf), "%.*s", (int)(n - pl), v + pl);
			return add_typed(s, prefixes[i].type, buf, feed, NULL, err);
		}
	}
	if (v[0] == '/' && n > 2 && memrchr(v + 1, '/', n - 1)) {
		snprintf(buf, sizeof(buf), "%.*s", (int)n, v);
		return add_typed(s, T_REGEX, buf, feed, NULL, err);
	}
	char raw[IOC_MAX_LEN + 1];
	snprintf(raw, sizeof(raw), "%.*s", (int)n, v);
	refang(raw, buf, sizeof(buf));
	return add_typed(s, guess(buf), buf, feed, NULL, err);
}

/* ---- STIX 2.1 ---- */

/* One comparison of a STIX pattern: object path and value, e.g.
 * [ipv4-addr:value = '1.2.3.4'] or [file:hashes.'SHA-256' = '...'] */
static enum ioc_type stix_type(const char *obj, const char *prop, const char *op)
{
	if (!strcasecmp(op, "MATCHES"))
		return T_REGEX;
	if (!strcmp(obj, "ipv4-addr"))
		return T_IPV4;
	if (!strcmp(obj, "ipv6-addr"))
		return T_IPV6;
	if (!strcmp(obj, "domain-name"))
		return T_DOMAIN;
	if (!strcmp(obj, "url"))
		return T_URL;
	if (!strcmp(obj, "email-addr"))
		return T_EMAIL;
	if (!strcmp(obj, "file") && strstr(prop, "hashes")) {
		if (strcasestr(prop, "SHA-256") || strcasestr(prop, "SHA256"))
			return T_SHA256;
		if (strcasestr(prop, "SHA-1") || strcasestr(prop, "SHA1"))
			return T_SHA1;
		if (strcasestr(prop, "MD5"))
			return T_MD5;
	}
	if (!strcmp(obj, "artifact") && strstr(prop, "payload_bin"))
		return T_NTYPES; /* base64: not taken */
	return T_LITERAL;
}

static kcsi_code stix_pattern(kcsi_iocset *s, const char *pat, const char *feed, const char *ref, kcsi_error *err)
{
	/* every  OBJECT:PROPERTY OP 'VALUE'  comparison of the pattern */
	static const char re_src[] =
		"([a-z0-9-]+):([A-Za-z0-9_.'\\-]+)\\s*(=|MATCHES|LIKE)\\s*'((?:\\\\.|[^'\\\\])*)'";
	int e;
	PCRE2_SIZE eo;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)re_src, PCRE2_ZERO_TERMINATED, PCRE2_CASELESS, &e, &eo, NULL);
	pcre2_match_data *md = re ? pcre2_match_data_create_from_pattern(re, NULL) : NULL;
	size_t len = strlen(pat), at = 0;
	kcsi_code rc = KCSI_OK;
	if (!re || !md) {
		pcre2_match_data_free(md);
		pcre2_code_free(re);
		return nomem(err);
	}
	while (!rc && at < len && pcre2_match(re, (PCRE2_SPTR)pat, len, at, 0, md, NULL) > 0) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		char obj[64], prop[128], op[16], val[IOC_MAX_LEN + 1];
		size_t vl = 0;
		snprintf(obj, sizeof(obj), "%.*s", (int)(ov[3] - ov[2]), pat + ov[2]);
		snprintf(prop, sizeof(prop), "%.*s", (int)(ov[5] - ov[4]), pat + ov[4]);
		snprintf(op, sizeof(op), "%.*s", (int)(ov[7] - ov[6]), pat + ov[6]);
		for (size_t i = ov[8]; i < ov[9] && vl < IOC_MAX_LEN; i++) {
			if (pat[i] == '\\' && i + 1 < ov[9])
				i++;
			val[vl++] = pat[i];
		}
		val[vl] = '\0';
		at = ov[1];
		enum ioc_type t = stix_type(obj, prop, op);
		if (t == T_NTYPES)
			continue;
		if (t == T_REGEX) {
			char rx[IOC_MAX_LEN + 4];
			snprintf(rx, sizeof(rx), "/%s/", val);
			rc = add_typed(s, T_REGEX, rx, feed, ref, err);
			continue;
		}
		if (!strcasecmp(op, "LIKE")) { /* 'evil%': the fixed part */
			char *pc = strpbrk(val, "%_");
			if (pc)
				*pc = '\0';
			t = T_LITERAL;
		}
		rc = add_typed(s, t, val, feed, ref, err);
	}
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	return rc;
}

static kcsi_code load_stix(kcsi_iocset *s, json_t *bundle, const char *feed, kcsi_error *err)
{
	json_t *o;
	size_t i;
	json_array_foreach(json_object_get(bundle, "objects"), i, o) {
		const char *type = json_string_value(json_object_get(o, "type"));
		const char *pat = json_string_value(json_object_get(o, "pattern"));
		const char *ptype = json_string_value(json_object_get(o, "pattern_type"));
		if (!type || strcmp(type, "indicator") || !pat || (ptype && strcmp(ptype, "stix")))
			continue;
		if (stix_pattern(s, pat, feed, json_string_value(json_object_get(o, "id")), err))
			return err->code;
	}
	return KCSI_OK;
}

/* ---- MISP ---- */

static enum ioc_type misp_type(const char *t, const char **value)
{
	static const struct {
		const char *misp;
		enum ioc_type type;
	} map[] = {
		{"ip-dst", T_IPV4},     {"ip-src", T_IPV4},      {"domain", T_DOMAIN},    {"hostname", T_DOMAIN},
		{"url", T_URL},         {"uri", T_LITERAL},      {"link", T_URL},          {"email", T_EMAIL},
		{"email-src", T_EMAIL}, {"email-dst", T_EMAIL},  {"sha256", T_SHA256},     {"sha1", T_SHA1},
		{"md5", T_MD5},         {"filename", T_LITERAL}, {"user-agent", T_LITERAL}, {"btc", T_LITERAL},
		{"xmr", T_LITERAL},     {"text", T_LITERAL},     {"pattern-in-memory", T_LITERAL},
		{"pattern-in-traffic", T_LITERAL}, {"pattern-in-file", T_LITERAL}, {"mutex", T_LITERAL},
		{"regkey", T_LITERAL},  {"named pipe", T_LITERAL}, {"AS", T_NTYPES},      {"comment", T_NTYPES},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(t, map[i].misp))
			return map[i].type;
	/* composite "ip-dst|port", "filename|sha256", "domain|ip": the part kcsi can match */
	const char *bar = strchr(t, '|');
	const char *vbar = *value ? strchr(*value, '|') : NULL;
	if (bar && vbar) {
		if (!strncmp(t, "ip-", 3) || !strncmp(t, "domain|", 7))
			return !strncmp(t, "ip-", 3) ? T_IPV4 : T_DOMAIN; /* the first part; the value is cut by the caller */
		if (strstr(bar, "sha256") || strstr(bar, "sha1") || strstr(bar, "md5")) {
			*value = vbar + 1;
			return strstr(bar, "sha256") ? T_SHA256 : strstr(bar, "sha1") ? T_SHA1 : T_MD5;
		}
	}
	return T_NTYPES;
}

static kcsi_code misp_attrs(kcsi_iocset *s, json_t *attrs, const char *feed, kcsi_error *err)
{
	json_t *a;
	size_t i;
	json_array_foreach(attrs, i, a) {
		const char *t = json_string_value(json_object_get(a, "type"));
		const char *v = json_string_value(json_object_get(a, "value"));
		char first[IOC_MAX_LEN + 1];
		if (!t || !v)
			continue;
		enum ioc_type ty = misp_type(t, &v);
		if (ty == T_NTYPES)
			continue;
		const char *bar = strchr(v, '|');
		if (bar) { /* "1.2.3.4|443": the address */
			snprintf(first, sizeof(first), "%.*s", (int)(bar - v), v);
			v = first;
		}
		if (ty == T_IPV4 && strchr(v, ':'))
			ty = T_IPV6;
		if (add_typed(s, ty, v, feed, json_string_value(json_object_get(a, "uuid")), err))
			return err->code;
	}
	return KCSI_OK;
}

static kcsi_code load_misp(kcsi_iocset *s, json_t *j, const char *feed, kcsi_error *err)
{
	json_t *ev = json_object_get(j, "Event") ? json_object_get(j, "Event") : j, *o;
	size_t i;
	if (json_is_array(j))
		return misp_attrs(s, j, feed, err);
	if (misp_attrs(s, json_object_get(ev, "Attribute"), feed, err))
		return err->code;
	json_array_foreach(json_object_get(ev, "Object"), i, o)
		if (misp_attrs(s, json_object_get(o, "Attribute"), feed, err))
			return err->code;
	return KCSI_OK;
}

/* ---- files ---- */

kcsi_code kcsi_iocset_load(kcsi_iocset *s, const char *path, kcsi_error *err)
{
	FILE *f = fopen(path, "re");
	char *data = NULL;
	size_t n = 0, cap = 0;
	kcsi_code rc = KCSI_OK;
	if (!f)
		return kcsi_error_set(err, errno == ENOENT ? KCSI_ERR_NOTFOUND : KCSI_ERR_IO, "%s: %s", path, strerror(errno));
	for (;;) {
		if (n + 65536 > cap) {
			char *g;
			if (cap >= FEED_MAX) {
				rc = kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: an indicator feed over %u MiB", path, FEED_MAX >> 20);
				break;
			}
			if (!(g = realloc(data, cap = cap ? cap * 2 : 1 << 20))) {
				rc = nomem(err);
				break;
			}
			data = g;
		}
		size_t r = fread(data + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	if (rc) {
		free(data);
		return rc;
	}
	data[n] = '\0';
	size_t lead = strspn(data, " \t\r\n");
	if (data[lead] == '{' || data[lead] == '[') {
		json_error_t je;
		json_t *j = json_loadb(data, n, 0, &je);
		if (!j) {
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: line %d: %s", path, je.line, je.text);
		} else {
			const char *t = json_string_value(json_object_get(j, "type"));
			if (t && !strcmp(t, "bundle"))
				rc = load_stix(s, j, path, err);
			else if (json_object_get(j, "Event") || json_object_get(j, "Attribute") || json_is_array(j))
				rc = load_misp(s, j, path, err);
			else
				rc = kcsi_error_set(err, KCSI_ERR_FORMAT,
						    "%s: JSON that is neither a STIX 2.1 bundle nor a MISP event", path);
			json_decref(j);
		}
		free(data);
		return rc;
	}
	for (char *line = data, *next; line && *line && !rc; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		rc = kcsi_iocset_add(s, line, path, err);
	}
	free(data);
	return rc;
}

bool kcsi_iocset_find(const kcsi_iocset *s, const char *type, const char *value, const char **indicator,
		      const char **feed, const char **ref)
{
	char key[IOC_MAX_LEN + 16];
	size_t vl = strlen(value);
	enum ioc_type t = T_LITERAL;
	if (vl > IOC_MAX_LEN)
		return false;
	for (int i = 0; i < T_NTYPES; i++)
		if (!strcmp(type, type_names[i]))
			t = (enum ioc_type)i;
	/* the typed indicator, else the same text given as a literal */
	for (int pass = 0; pass < 2; pass++) {
		enum ioc_type want = pass ? T_LITERAL : t;
		int kl = snprintf(key, sizeof(key), "%s", type_names[want]);
		memcpy(key + kl + 1, value, vl);
		int i = kcsi_strmap_get(&s->seen, key, (size_t)kl + 1 + vl, -1);
		if (i >= 0) {
			*indicator = s->v[i].text;
			*feed = s->v[i].feed;
			*ref = s->v[i].ref;
			return true;
		}
	}
	return false;
}
