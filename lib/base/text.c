/* kcsi — untrusted strings as text for a terminal (see kcsi/text.h). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcsi/jsonw.h"
#include "kcsi/text.h"

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
