/* kcsi — triage reports: the choice of format (text, JSON, HTML, STIX 2.1,
 * MISP, Timesketch; one file each, report_*.c), defanging the text and HTML
 * formats, and the helpers the formats share. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "triage/report.h"
#include "base/safeout.h"
#include "kcsi/text.h"

const char *az_event_time(int64_t us, char *buf, size_t cap)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	char base[32];
	if (!gmtime_r(&t, &tm))
		return "";
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, cap, "%s.%06lldZ", base, (long long)(us % 1000000));
	return buf;
}

const char *az_report_time(kcsi_ckpt *c, char *buf, size_t cap)
{
	const kcsi_meta *m = kcsi_ckpt_meta(c);
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (m->checkpointed && strptime(m->checkpointed, "%Y-%m-%dT%H:%M:%S", &tm)) {
		strftime(buf, cap, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
		return buf;
	}
	snprintf(buf, cap, "1970-01-01T00:00:00.000Z");
	return buf;
}

void az_uuid(const char *name, char out[37])
{
	char hex[65];
	kcsi_sha256_hex(name, strlen(name), hex);
	hex[12] = '5';
	hex[16] = "89ab"[(hex[16] >= 'a' ? hex[16] - 'a' + 10 : hex[16] - '0') & 3];
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

/* in replaced by with in cur (a new string; cur is freed) */
static char *replace_all(char *cur, const char *v, const char *with)
{
	kcsi_buf b;
	const char *p = cur, *hit;
	size_t vl = strlen(v);
	kcsi_buf_init(&b, SIZE_MAX / 2);
	while (vl && (hit = strstr(p, v))) {
		kcsi_buf_add(&b, p, (size_t)(hit - p));
		kcsi_buf_add(&b, with, strlen(with));
		p = hit + vl;
	}
	kcsi_buf_add(&b, p, strlen(p));
	free(cur);
	return b.data ? b.data : strdup("");
}

/* Defang every network indicator wherever it appears in a text: the IOCs'
 * values (longest first, so a URL goes before the address inside it), as the
 * text shows them (escaped). */
static char *defang_text(const kcsi_report *r, const char *in)
{
	const kcsi_iocs *s = &r->iocs;
	char *cur = strdup(in);
	size_t *order = calloc(s->n + 1, sizeof(size_t)), n = 0;
	if (!cur || !order) {
		free(order);
		return cur;
	}
	for (size_t i = 0; i < s->n; i++)
		if (kcsi_ioc_type_is_network(s->v[i].type))
			order[n++] = i;
	for (size_t i = 1; i < n; i++) /* by length, longest first */
		for (size_t j = i; j > 0 && strlen(s->v[order[j]].value) > strlen(s->v[order[j - 1]].value); j--) {
			size_t t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	for (size_t k = 0; k < n && cur; k++) {
		const char *raw = s->v[order[k]].value;
		char *dr = kcsi_defang(s->v[order[k]].type, raw);
		char *v = kcsi_escape_text(raw, strlen(raw), 0), *d = dr ? kcsi_escape_text(dr, strlen(dr), 0) : NULL;
		if (v && d)
			cur = replace_all(cur, v, d);
		free(v);
		free(d);
		free(dr);
	}
	free(order);
	return cur;
}

/* Text and HTML are written, then defanged as a whole. */
static kcsi_code write_defanged(const kcsi_report *r, kcsi_ckpt *c, const char *format, FILE *f, bool color,
				kcsi_error *err)
{
	char *buf = NULL, *out;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (!m)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	if (!strcmp(format, "text"))
		az_report_text(r, c, m, true, color);
	else
		az_report_html(r, c, m, true);
	fclose(m);
	out = defang_text(r, buf ? buf : "");
	fputs(out ? out : "", f);
	free(out);
	free(buf);
	return KCSI_OK;
}

kcsi_code kcsi_report_write(const kcsi_report *r, kcsi_ckpt *c, const char *format, FILE *f, bool defang,
			    bool color, kcsi_error *err)
{
	if (defang && (!strcmp(format, "text") || !strcmp(format, "html")))
		return write_defanged(r, c, format, f, color, err);
	if (!strcmp(format, "json"))
		az_report_json(r, c, f, defang);
	else if (!strcmp(format, "text"))
		az_report_text(r, c, f, defang, color);
	else if (!strcmp(format, "html"))
		az_report_html(r, c, f, defang);
	else if (!strcmp(format, "stix"))
		az_report_stix(r, c, f);
	else if (!strcmp(format, "misp"))
		az_report_misp(r, c, f);
	else if (!strcmp(format, "timeline"))
		az_report_timeline(r, c, f);
	else
		return kcsi_error_set(err, KCSI_ERR_USAGE, "unknown format '%s' (text, json, html, stix, misp, timeline)", format);
	return KCSI_OK;
}
