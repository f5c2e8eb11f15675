/* kcsi — streaming JSON writer.  See include/kcsi/jsonw.h. */
#include <inttypes.h>
#include <string.h>

#include "kcsi/jsonw.h"
#include "base/util.h"

void kcsi_jw_init(kcsi_jsonw *w, FILE *f, int indent)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->indent = indent;
	w->first[0] = true;
}

static void newline(kcsi_jsonw *w)
{
	fputc('\n', w->f);
	for (int i = 0; i < w->depth * w->indent; i++)
		fputc(' ', w->f);
}

/* Separator before a value or a key. */
static void before(kcsi_jsonw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth == 0)
		return;
	if (w->in_lines && w->depth == 1) { /* NDJSON: a value of the top-level array is a line */
		if (!w->first[1])
			fputc('\n', w->f);
		w->first[1] = false;
		return;
	}
	if (!w->first[w->depth])
		fputs(w->indent ? "," : ", ", w->f);
	w->first[w->depth] = false;
	if (w->indent)
		newline(w);
}

static void open_(kcsi_jsonw *w, char c)
{
	before(w);
	if (w->lines && w->depth == 0 && c == '[') {
		w->in_lines = true;
		w->first[0] = true; /* no line yet */
	} else {
		fputc(c, w->f);
		if (w->depth == 0)
			w->first[0] = false;
	}
	if (w->depth + 1 >= KCSI_JSONW_DEPTH) {
		w->error = true;
		return;
	}
	w->depth++;
	w->first[w->depth] = true;
}

static void close_(kcsi_jsonw *w, char c)
{
	bool empty;
	if (w->depth == 0) {
		w->error = true;
		return;
	}
	empty = w->first[w->depth];
	w->depth--;
	if (w->in_lines && w->depth == 0 && c == ']') {
		w->in_lines = false;
		w->first[0] = empty; /* the last line ends, or there was none */
		return;
	}
	if (w->indent && !empty)
		newline(w);
	fputc(c, w->f);
}

void kcsi_jw_obj(kcsi_jsonw *w) { open_(w, '{'); }
void kcsi_jw_obj_end(kcsi_jsonw *w) { close_(w, '}'); }
void kcsi_jw_arr(kcsi_jsonw *w) { open_(w, '['); }
void kcsi_jw_arr_end(kcsi_jsonw *w) { close_(w, ']'); }

size_t kcsi_utf8_seq(const unsigned char *p, size_t n)
{
	uint32_t cp;
	size_t len;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void kcsi_json_escape(FILE *f, const void *s, size_t n)
{
	const unsigned char *p = s;
	size_t i = 0;

	while (i < n) {
		unsigned char c = p[i];
		size_t l;
		switch (c) {
		case '"': fputs("\\\"", f); i++; continue;
		case '\\': fputs("\\\\", f); i++; continue;
		case '\n': fputs("\\n", f); i++; continue;
		case '\r': fputs("\\r", f); i++; continue;
		case '\t': fputs("\\t", f); i++; continue;
		case '\b': fputs("\\b", f); i++; continue;
		case '\f': fputs("\\f", f); i++; continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
			i++;
			continue;
		}
		l = kcsi_utf8_seq(p + i, n - i);
		if (l == 0) {
			fprintf(f, "\\udc%02x", c);
			i++;
			continue;
		}
		fwrite(p + i, 1, l, f);
		i += l;
	}
}

void kcsi_jw_key(kcsi_jsonw *w, const char *key)
{
	before(w);
	fputc('"', w->f);
	kcsi_json_escape(w->f, key, strlen(key));
	fputs("\": ", w->f);
	w->after_key = true;
}

void kcsi_jw_strn(kcsi_jsonw *w, const void *s, size_t n)
{
	before(w);
	fputc('"', w->f);
	kcsi_json_escape(w->f, s, n);
	fputc('"', w->f);
}

void kcsi_jw_str(kcsi_jsonw *w, const char *s)
{
	if (!s)
		kcsi_jw_null(w);
	else
		kcsi_jw_strn(w, s, strlen(s));
}

void kcsi_jw_int(kcsi_jsonw *w, int64_t v)
{
	before(w);
	fprintf(w->f, "%" PRId64, v);
}

void kcsi_jw_uint(kcsi_jsonw *w, uint64_t v)
{
	before(w);
	fprintf(w->f, "%" PRIu64, v);
}

void kcsi_jw_bool(kcsi_jsonw *w, bool v)
{
	before(w);
	fputs(v ? "true" : "false", w->f);
}

void kcsi_jw_null(kcsi_jsonw *w)
{
	before(w);
	fputs("null", w->f);
}

void kcsi_jw_raw(kcsi_jsonw *w, const char *tok)
{
	before(w);
	fputs(tok, w->f);
}

void kcsi_jw_base64(kcsi_jsonw *w, const void *p, size_t n)
{
	kcsi_buf b;
	kcsi_buf_init(&b, SIZE_MAX / 2);
	if (kcsi_base64(&b, p, n, false) != 0) {
		w->error = true;
		kcsi_jw_null(w);
	} else {
		kcsi_jw_strn(w, kcsi_buf_str(&b), b.len);
	}
	kcsi_buf_free(&b);
}

void kcsi_jw_end(kcsi_jsonw *w)
{
	if (w->depth != 0)
		w->error = true;
	if (!(w->lines && w->first[0]))
		fputc('\n', w->f);
}

void kcsi_jw_kstr(kcsi_jsonw *w, const char *k, const char *v) { kcsi_jw_key(w, k); kcsi_jw_str(w, v); }
void kcsi_jw_kint(kcsi_jsonw *w, const char *k, int64_t v) { kcsi_jw_key(w, k); kcsi_jw_int(w, v); }
void kcsi_jw_kuint(kcsi_jsonw *w, const char *k, uint64_t v) { kcsi_jw_key(w, k); kcsi_jw_uint(w, v); }
void kcsi_jw_kbool(kcsi_jsonw *w, const char *k, bool v) { kcsi_jw_key(w, k); kcsi_jw_bool(w, v); }
