/* kcsi — findings and their evidence: making, sorting and freeing them, and
 * the excerpts they quote (see evidence/finding.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "evidence/finding.h"
#include "kcsi/text.h"

static const char *const sev_names[] = {"info", "low", "medium", "high", "critical"};

const char *kcsi_severity_name(enum kcsi_severity s)
{
	return s <= KCSI_SEV_CRITICAL ? sev_names[s] : "info";
}

enum kcsi_severity kcsi_severity_parse(const char *s, enum kcsi_severity dflt)
{
	for (int i = KCSI_SEV_INFO; s && i <= KCSI_SEV_CRITICAL; i++)
		if (!strcasecmp(s, sev_names[i]))
			return (enum kcsi_severity)i;
	return dflt;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

kcsi_finding *kcsi_finding_add(kcsi_findings *fs, const char *id, enum kcsi_severity sev, char *title,
			       char *explanation, const char *mitre)
{
	kcsi_finding *f = NULL;
	if (fs->n == fs->cap) {
		size_t nc = fs->cap ? fs->cap * 2 : 32;
		kcsi_finding **q = realloc(fs->v, nc * sizeof(*q));
		if (!q)
			goto nomem;
		fs->v = q;
		fs->cap = nc;
	}
	if (!(f = calloc(1, sizeof(*f))))
		goto nomem;
	f->id = dup_or_null(id);
	f->severity = sev;
	f->title = title;
	f->explanation = explanation;
	f->seq = fs->made++;
	kcsi_finding_add_mitre(f, mitre);
	fs->v[fs->n++] = f;
	return f;
nomem:
	free(title);
	free(explanation);
	return NULL;
}

void kcsi_finding_add_mitre_id(kcsi_finding *f, const char *id)
{
	if (f && id && f->nmitre < KCSI_MITRE_MAX && (f->mitre[f->nmitre] = strdup(id)))
		f->nmitre++;
}

void kcsi_finding_add_mitre(kcsi_finding *f, const char *list)
{
	char *s, *tok, *save = NULL;
	if (!f || !list || !(s = strdup(list)))
		return;
	for (tok = strtok_r(s, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
		kcsi_finding_add_mitre_id(f, tok);
	free(s);
}

kcsi_evidence *kcsi_finding_evidence(kcsi_finding *f, const char *kind, int64_t pid, int64_t fd)
{
	kcsi_evidence *e;
	if (!f)
		return NULL;
	if (f->nev == f->capev) {
		size_t nc = f->capev ? f->capev * 2 : 4;
		if (!(e = realloc(f->ev, nc * sizeof(*e))))
			return NULL;
		f->ev = e;
		f->capev = nc;
	}
	e = &f->ev[f->nev++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->pid = pid;
	e->fd = fd;
	return e;
}

static int cmp_finding(const void *x, const void *y)
{
	const kcsi_finding *a = *(kcsi_finding *const *)x, *b = *(kcsi_finding *const *)y;
	int c;
	if (a->severity != b->severity)
		return a->severity > b->severity ? -1 : 1;
	if ((c = strcmp(a->id ? a->id : "", b->id ? b->id : "")))
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

void kcsi_findings_sort(kcsi_findings *fs)
{
	if (fs->n > 1)
		qsort(fs->v, fs->n, sizeof(*fs->v), cmp_finding);
}

static void conn_clear(kcsi_conn *c)
{
	free(c->proto);
	free(c->src);
	free(c->dst);
	free(c->state);
	memset(c, 0, sizeof(*c));
}

void kcsi_evidence_clear(kcsi_evidence *e)
{
	free(e->area);
	free(e->path);
	conn_clear(&e->conn);
	free(e->connection);
	free(e->excerpt);
	free(e->command);
	memset(e, 0, sizeof(*e));
}

void kcsi_findings_free(kcsi_findings *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		kcsi_finding *f = fs->v[i];
		for (size_t k = 0; k < f->nev; k++)
			kcsi_evidence_clear(&f->ev[k]);
		for (size_t k = 0; k < f->nmitre; k++)
			free(f->mitre[k]);
		free(f->ev);
		free(f->id);
		free(f->title);
		free(f->explanation);
		free(f);
	}
	free(fs->v);
	memset(fs, 0, sizeof(*fs));
}

/* ---- structured fields ---- */

/* an address as a connection's text shows it: IPv6 in brackets */
static const char *bracket_open(const char *addr)
{
	return addr && strchr(addr, ':') ? "[" : "";
}

static const char *bracket_close(const char *addr)
{
	return addr && strchr(addr, ':') ? "]" : "";
}

void kcsi_evidence_set_conn(kcsi_evidence *e, const char *proto, const char *src, uint32_t sport, const char *dst,
			    uint32_t dport, const char *state)
{
	char *text = NULL;
	if (!e)
		return;
	conn_clear(&e->conn);
	e->conn.proto = dup_or_null(proto ? proto : "?");
	e->conn.src = dup_or_null(src ? src : "?");
	e->conn.dst = dup_or_null(dst ? dst : "?");
	e->conn.sport = sport;
	e->conn.dport = dport;
	e->conn.state = dup_or_null(state && *state ? state : NULL);
	e->has_conn = e->conn.proto && e->conn.src && e->conn.dst;
	if (asprintf(&text, "%s %s%s%s:%u -> %s%s%s:%u%s%s", e->conn.proto ? e->conn.proto : "?", bracket_open(src),
		     src ? src : "?", bracket_close(src), sport, bracket_open(dst), dst ? dst : "?", bracket_close(dst),
		     dport, e->conn.state ? " " : "", e->conn.state ? e->conn.state : "") < 0)
		text = NULL;
	free(e->connection);
	e->connection = text;
}

void kcsi_evidence_set_offset(kcsi_evidence *e, uint64_t offset)
{
	if (e) {
		e->offset = offset;
		e->has_offset = true;
	}
}

bool kcsi_evidence_is_empty(const kcsi_evidence *e)
{
	return e->pid < 0 && e->fd < 0 && !e->has_address && !e->has_offset && !(e->area && *e->area) &&
	       !(e->path && *e->path) && !e->has_conn && !(e->connection && *e->connection) && !e->excerpt &&
	       !(e->command && *e->command);
}

/* ---- excerpts ---- */

static void set_excerpt(kcsi_evidence *e, const void *p, size_t n)
{
	free(e->excerpt);
	e->excerpt = malloc(n + 1);
	e->excerpt_len = e->excerpt ? n : 0;
	if (e->excerpt) {
		if (n)
			memcpy(e->excerpt, p, n);
		e->excerpt[n] = '\0';
	}
}

size_t kcsi_excerpt_fit(const void *p, size_t n, size_t max)
{
	const char *s = p;
	size_t i = 0, shown = 0;
	char one[KCSI_ESC_MAX];
	while (i < n && shown < max) { /* whole characters, as the renderers show them */
		i += kcsi_escape_char(s + i, n - i, 0, one);
		shown += strlen(one);
	}
	return i;
}

void kcsi_evidence_excerpt(kcsi_evidence *e, const void *p, size_t n, size_t max)
{
	set_excerpt(e, p, kcsi_excerpt_fit(p, n, max));
}

void kcsi_evidence_excerptf(kcsi_evidence *e, const char *fmt, ...)
{
	char *s = NULL;
	int n;
	va_list ap;
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	free(e->excerpt);
	e->excerpt = s;
	e->excerpt_len = (size_t)n;
}

char *kcsi_evidence_shown_excerpt(const kcsi_evidence *e)
{
	return e->excerpt ? kcsi_escape_text(e->excerpt, e->excerpt_len, 0) : NULL;
}

void kcsi_evidence_copy(kcsi_evidence *dst, const kcsi_evidence *src)
{
	*dst = *src;
	dst->area = dup_or_null(src->area);
	dst->path = dup_or_null(src->path);
	dst->connection = dup_or_null(src->connection);
	dst->conn.proto = dup_or_null(src->conn.proto);
	dst->conn.src = dup_or_null(src->conn.src);
	dst->conn.dst = dup_or_null(src->conn.dst);
	dst->conn.state = dup_or_null(src->conn.state);
	dst->command = dup_or_null(src->command);
	dst->excerpt = NULL;
	dst->excerpt_len = 0;
	if (src->excerpt)
		set_excerpt(dst, src->excerpt, src->excerpt_len);
}
