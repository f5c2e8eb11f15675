/* kcsi — small internal helpers. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcsi/jsonw.h"
#include "kcsi/text.h"
#include "base/util.h"

int kcsi_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case '\0': break;
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default: return -1;
	}
	if (*end == 'i' || *end == 'B')
		end++;
	if (*end == 'B')
		end++;
	if (*end)
		return -1;
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

void kcsi_buf_init(kcsi_buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

void kcsi_buf_free(kcsi_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static int buf_reserve(kcsi_buf *b, size_t n)
{
	size_t need, ncap;
	char *p;

	if (n > b->max || b->len > b->max - n)
		return -1;
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap *= 2;
	p = realloc(b->data, ncap);
	if (!p)
		return -1;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int kcsi_buf_add(kcsi_buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) != 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int kcsi_buf_addc(kcsi_buf *b, char c)
{
	return kcsi_buf_add(b, &c, 1);
}

int kcsi_buf_printf(kcsi_buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return kcsi_buf_add(b, small, (size_t)n);
	if (buf_reserve(b, (size_t)n) != 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

const char *kcsi_buf_str(kcsi_buf *b)
{
	return b->data ? b->data : "";
}

int kcsi_base64(kcsi_buf *out, const unsigned char *p, size_t n, bool lines)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t col = 0;
	char q[4];

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t left = n - i;
		if (left > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (left > 2)
			v |= p[i + 2];
		q[0] = tab[(v >> 18) & 63];
		q[1] = tab[(v >> 12) & 63];
		q[2] = left > 1 ? tab[(v >> 6) & 63] : '=';
		q[3] = left > 2 ? tab[v & 63] : '=';
		if (kcsi_buf_add(out, q, 4) != 0)
			return -1;
		col += 4;
		if (lines && col == 76) {
			if (kcsi_buf_addc(out, '\n') != 0)
				return -1;
			col = 0;
		}
	}
	if (lines && col)
		return kcsi_buf_addc(out, '\n');
	return kcsi_buf_add(out, "", 0);
}

/* ---- text for terminals (see kcsi/text.h) ---- */

/* Unicode controls that a terminal or a browser acts on instead of showing:
 * C1, bidi embeddings, overrides, isolates and marks, line breaks. */
static bool unsafe_code_point(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t kcsi_escape_char(const void *s, size_t n, unsigned flags, char out[KCSI_ESC_MAX])
{
	const unsigned char *p = s;
	bool json = flags & KCSI_ESC_JSON;
	size_t l;
	uint32_t cp;

	if (p[0] < 0x80) {
		unsigned char c = p[0];
		if (json && (c == '\n' || (c >= 0x20 && c < 0x7f)))
			out[0] = (char)c, out[1] = '\0';
		else if (json)
			snprintf(out, KCSI_ESC_MAX, "\\u%04x", c);
		else if (c == '\\')
			strcpy(out, flags & KCSI_ESC_ESCAPED ? "\\" : "\\\\");
		else if (c >= 0x20 && c < 0x7f)
			out[0] = (char)c, out[1] = '\0';
		else if (c == '\n')
			strcpy(out, "\\n");
		else if (c == '\t')
			strcpy(out, "\\t");
		else if (c == '\r')
			strcpy(out, "\\r");
		else
			snprintf(out, KCSI_ESC_MAX, "\\x%02x", c);
		return 1;
	}
	l = kcsi_utf8_seq(p, n);
	if (l == 0) {
		snprintf(out, KCSI_ESC_MAX, json ? "\\udc%02x" : "\\x%02x", p[0]);
		return 1;
	}
	cp = l == 2 ? p[0] & 0x1fu : l == 3 ? p[0] & 0x0fu : p[0] & 0x07u;
	for (size_t i = 1; i < l; i++)
		cp = cp << 6 | (p[i] & 0x3fu);
	if (unsafe_code_point(cp)) {
		snprintf(out, KCSI_ESC_MAX, "\\u%04x", (unsigned)cp);
	} else {
		memcpy(out, p, l);
		out[l] = '\0';
	}
	return l;
}

void kcsi_escape_write(FILE *f, const void *s, size_t n, unsigned flags)
{
	const unsigned char *p = s;
	char buf[4096], one[KCSI_ESC_MAX];
	size_t used = 0;

	for (size_t i = 0; i < n;) {
		size_t k;
		i += kcsi_escape_char(p + i, n - i, flags, one);
		k = strlen(one);
		if (used + k > sizeof(buf)) {
			fwrite(buf, 1, used, f);
			used = 0;
		}
		memcpy(buf + used, one, k);
		used += k;
	}
	fwrite(buf, 1, used, f);
}

char *kcsi_escape_text(const void *s, size_t n, unsigned flags)
{
	const unsigned char *p = s;
	char one[KCSI_ESC_MAX], *buf, *o;
	size_t len = 0;

	for (size_t i = 0; i < n;) { /* first the length, then the text */
		i += kcsi_escape_char(p + i, n - i, flags, one);
		len += strlen(one);
	}
	buf = malloc(len + 1);
	if (!buf)
		return NULL;
	o = buf;
	for (size_t i = 0; i < n;) {
		size_t k;
		i += kcsi_escape_char(p + i, n - i, flags, one);
		k = strlen(one);
		memcpy(o, one, k);
		o += k;
	}
	*o = '\0';
	return buf;
}

/* ---- string map ---- */

static size_t strmap_hash(const char *s, size_t n)
{
	size_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static size_t strmap_slot(const kcsi_strmap *m, const char *key, size_t len)
{
	size_t i = strmap_hash(key, len) & (m->cap - 1);
	while (m->keys[i] && (m->lens[i] != len || memcmp(m->keys[i], key, len)))
		i = (i + 1) & (m->cap - 1);
	return i;
}

int kcsi_strmap_put(kcsi_strmap *m, const char *key, size_t len, int val)
{
	if ((m->n + 1) * 2 > m->cap) {
		kcsi_strmap g = {.cap = m->cap ? m->cap * 2 : 64};
		g.keys = calloc(g.cap, sizeof(*g.keys));
		g.lens = calloc(g.cap, sizeof(*g.lens));
		g.vals = calloc(g.cap, sizeof(*g.vals));
		if (!g.keys || !g.lens || !g.vals) {
			free(g.keys);
			free(g.lens);
			free(g.vals);
			return -1;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->keys[i]) {
				size_t j = strmap_slot(&g, m->keys[i], m->lens[i]);
				g.keys[j] = m->keys[i];
				g.lens[j] = m->lens[i];
				g.vals[j] = m->vals[i];
			}
		g.n = m->n;
		free(m->keys);
		free(m->lens);
		free(m->vals);
		*m = g;
	}
	size_t i = strmap_slot(m, key, len);
	if (!m->keys[i]) {
		if (!(m->keys[i] = malloc(len + 1)))
			return -1;
		memcpy(m->keys[i], key, len);
		m->keys[i][len] = '\0';
		m->lens[i] = len;
		m->n++;
	}
	m->vals[i] = val;
	return 0;
}

int kcsi_strmap_get(const kcsi_strmap *m, const char *key, size_t len, int missing)
{
	if (!m->cap)
		return missing;
	size_t i = strmap_slot(m, key, len);
	return m->keys[i] ? m->vals[i] : missing;
}

void kcsi_strmap_free(kcsi_strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->lens);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}
