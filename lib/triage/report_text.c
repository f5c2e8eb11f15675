/* kcsi — the triage report as text for a terminal: the verdict, the
 * findings above info with up to three evidence items, the first 25 IOCs.
 * Every string may come from the archive: shown by the rule of kcsi/text.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "triage/report.h"
#include "kcsi/text.h"

struct colors {
	const char *bold, *red, *yellow, *green, *dim, *off;
};

/* An excerpt is cut at 100 bytes, on a character boundary. */
static size_t excerpt_cut(const char *s)
{
	size_t n = strlen(s);
	if (n <= 100)
		return n;
	n = 100;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* A string of the report, escaped; NULL shows as "?". */
static void tx(FILE *f, const char *s)
{
	if (!s)
		s = "?";
	kcsi_escape_write(f, s, strlen(s), 0);
}

static void header(const kcsi_report *r, kcsi_ckpt *c, FILE *f, const struct colors *k)
{
	const kcsi_meta *m = kcsi_ckpt_meta(c);
	const char *vc = !strcmp(r->verdict, "malicious") ? k->red : !strcmp(r->verdict, "suspicious") ? k->yellow : k->green;
	fputs(k->bold, f);
	tx(f, m->container);
	fprintf(f, "%s  %s%s%s (score %u/100)\n%simage ", k->off, vc, r->verdict, k->off, r->score, k->dim);
	tx(f, m->image);
	fputs(", ", f);
	tx(f, m->engine);
	fputs(", checkpointed ", f);
	tx(f, m->checkpointed);
	fprintf(f, ", %zu processes, %.1f MiB of memory scanned, %u YARA rules%s\n", kcsi_ckpt_nprocs(c),
		(double)r->bytes_scanned / 1048576.0, r->yara_rules, k->off);
	for (size_t i = 0; i < r->nwarnings; i++) {
		fprintf(f, "%swarning: ", k->yellow);
		tx(f, r->warnings[i]);
		fprintf(f, "%s\n", k->off);
	}
	fputc('\n', f);
}

static void evidence(FILE *f, const kcsi_evidence *e, const struct colors *k)
{
	fprintf(f, "         %s", k->dim);
	if (e->pid < 0 && e->fd < 0 && !e->has_address && !e->area && !e->path && !e->has_offset && !e->connection &&
	    !e->excerpt) { /* nothing but where to look: say that, never a blank line */
		tx(f, e->kind);
		fputs(": ", f);
		tx(f, e->command);
		fprintf(f, "%s\n", k->off);
		return;
	}
	if (e->pid >= 0)
		fprintf(f, "pid %" PRId64 " ", e->pid);
	if (e->fd >= 0)
		fprintf(f, "fd %" PRId64 " ", e->fd);
	if (e->has_address)
		fprintf(f, "0x%" PRIx64 " ", e->address);
	if (e->area) {
		fputc('(', f);
		tx(f, e->area);
		fputs(") ", f);
	}
	if (e->path) {
		tx(f, e->path);
		fputc(' ', f);
	}
	if (e->has_offset)
		fprintf(f, "offset %" PRIu64 " ", e->offset);
	if (e->connection) {
		tx(f, e->connection);
		fputc(' ', f);
	}
	if (e->excerpt) {
		char *x = kcsi_evidence_shown_excerpt(e);
		fputc('"', f);
		if (x)
			fwrite(x, 1, excerpt_cut(x), f);
		fputc('"', f);
		free(x);
	}
	fprintf(f, "%s\n", k->off);
}

static void finding(FILE *f, const kcsi_finding *fd, const struct colors *k)
{
	const char *sc = fd->severity >= KCSI_SEV_HIGH ? k->red : fd->severity == KCSI_SEV_MEDIUM ? k->yellow : k->dim;
	fprintf(f, "%s%-8s%s %s", sc, kcsi_severity_name(fd->severity), k->off, k->bold);
	tx(f, fd->id);
	fprintf(f, "%s  ", k->off);
	tx(f, fd->title);
	if (fd->nmitre) {
		fprintf(f, "  %s[", k->dim);
		for (size_t i = 0; i < fd->nmitre; i++) {
			fputs(i ? " " : "", f);
			tx(f, fd->mitre[i]);
		}
		fprintf(f, "]%s", k->off);
	}
	fputc('\n', f);
	for (size_t i = 0, shown = 0; i < fd->nev && shown < 3; i++)
		if (!kcsi_evidence_is_empty(&fd->ev[i])) {
			evidence(f, &fd->ev[i], k);
			shown++;
		}
}

static void iocs(const kcsi_report *r, FILE *f, bool defang, const struct colors *k)
{
	fprintf(f, "\n%sIOCs%s\n", k->bold, k->off);
	for (size_t i = 0; i < r->iocs.n && i < 25; i++) {
		const kcsi_ioc *io = &r->iocs.v[i];
		char *v = defang ? kcsi_defang(io->type, io->value) : NULL;
		fprintf(f, "  %-11s ", io->type);
		tx(f, v ? v : io->value);
		if (io->klass) {
			fputs(" (", f);
			tx(f, io->klass);
			fputc(')', f);
		}
		fprintf(f, "  %s", k->dim);
		tx(f, io->source);
		fprintf(f, "%s\n", k->off);
		free(v);
	}
	if (r->iocs.n > 25)
		fprintf(f, "  %s... %zu more (--format json)%s\n", k->dim, r->iocs.n - 25, k->off);
}

void az_report_text(const kcsi_report *r, kcsi_ckpt *c, FILE *f, bool defang, bool color)
{
	const struct colors k = {color ? "\033[1m" : "", color ? "\033[31m" : "", color ? "\033[33m" : "",
				 color ? "\033[32m" : "", color ? "\033[2m" : "", color ? "\033[0m" : ""};
	size_t info = 0;
	header(r, c, f, &k);
	for (size_t i = 0; i < r->findings.n; i++) {
		if (r->findings.v[i]->severity == KCSI_SEV_INFO)
			info++;
		else
			finding(f, r->findings.v[i], &k);
	}
	if (info)
		fprintf(f, "%s(%zu informational findings: --format json shows them)%s\n", k.dim, info, k.off);
	if (r->iocs.n)
		iocs(r, f, defang, &k);
}
