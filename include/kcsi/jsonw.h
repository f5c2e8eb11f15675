/* kcsi — a streaming JSON writer with deterministic layout.
 *
 * Layout: indent 0 writes one line with ", " and ": " separators (the layout
 * of Python's json.dump, which crit uses); indent N > 0 writes one member per
 * line indented by N spaces.  Strings are written as UTF-8; a byte that is not
 * part of valid UTF-8 is written as \udcXX (Python's "surrogateescape"), so
 * that no byte of evidence is lost or replaced.
 */
#ifndef KCSI_JSONW_H
#define KCSI_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define KCSI_JSONW_DEPTH 64

typedef struct kcsi_jsonw {
	FILE *f;
	int indent;
	int depth;
	bool first[KCSI_JSONW_DEPTH];
	bool after_key;
	bool error; /* nesting deeper than KCSI_JSONW_DEPTH or unbalanced */
	/* NDJSON: the top-level array is not written, each of its values is a
	 * line of its own (set after kcsi_jw_init; indent is then 0) */
	bool lines;
	bool in_lines; /* inside that top-level array */
} kcsi_jsonw;

void kcsi_jw_init(kcsi_jsonw *w, FILE *f, int indent);
void kcsi_jw_obj(kcsi_jsonw *w);
void kcsi_jw_obj_end(kcsi_jsonw *w);
void kcsi_jw_arr(kcsi_jsonw *w);
void kcsi_jw_arr_end(kcsi_jsonw *w);
void kcsi_jw_key(kcsi_jsonw *w, const char *key);
void kcsi_jw_str(kcsi_jsonw *w, const char *s);          /* NULL writes null */
void kcsi_jw_strn(kcsi_jsonw *w, const void *s, size_t n);
void kcsi_jw_int(kcsi_jsonw *w, int64_t v);
void kcsi_jw_uint(kcsi_jsonw *w, uint64_t v);
void kcsi_jw_bool(kcsi_jsonw *w, bool v);
void kcsi_jw_null(kcsi_jsonw *w);
/* a ready-made JSON token, e.g. a number */
void kcsi_jw_raw(kcsi_jsonw *w, const char *tok);
void kcsi_jw_base64(kcsi_jsonw *w, const void *p, size_t n);
/* Finish the document (newline). */
void kcsi_jw_end(kcsi_jsonw *w);

/* key + value shorthands */
void kcsi_jw_kstr(kcsi_jsonw *w, const char *k, const char *v);
void kcsi_jw_kint(kcsi_jsonw *w, const char *k, int64_t v);
void kcsi_jw_kuint(kcsi_jsonw *w, const char *k, uint64_t v);
void kcsi_jw_kbool(kcsi_jsonw *w, const char *k, bool v);

/* Write bytes as a JSON string body (no quotes) to f. */
void kcsi_json_escape(FILE *f, const void *s, size_t n);
/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
size_t kcsi_utf8_seq(const unsigned char *p, size_t n);

#endif
