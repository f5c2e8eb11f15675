/* kcsi — the triage report as one self-contained HTML page: the verdict and
 * why (the findings that decided it), what the report says about itself
 * (archive sha256, versions, analysis time, warnings), the container, the
 * process tree, connections, findings with their evidence, IOCs and the
 * timeline.  Every string may come from the archive: first the
 * rule of kcsi/text.h, then HTML's escapes. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "triage/report.h"
#include "kcsi/text.h"

#define MAX_INDENT 64 /* levels of the process tree shown indented */

/* Text for the page: first the rule of kcsi/text.h (no controls, no bidi
 * overrides that reorder what the page shows, no invalid UTF-8), then HTML's
 * own escapes. */
static void h_as(FILE *f, const char *s, unsigned flags)
{
	char one[KCSI_ESC_MAX];
	size_t n = s ? strlen(s) : 0;
	for (size_t i = 0; i < n;) {
		i += kcsi_escape_char(s + i, n - i, flags, one);
		for (const char *q = one; *q; q++)
			switch (*q) {
			case '<': fputs("&lt;", f); break;
			case '>': fputs("&gt;", f); break;
			case '&': fputs("&amp;", f); break;
			case '"': fputs("&quot;", f); break;
			case '\'': fputs("&#39;", f); break;
			default: fputc(*q, f);
			}
	}
}

static void h(FILE *f, const char *s)
{
	h_as(f, s, 0);
}

/* An excerpt (raw bytes, NULs too) by the same rule, except that a line
 * break is shown as one (with a mark, so that it is not taken for the
 * page's own layout) instead of the text rule's "\n". */
static void h_excerpt(FILE *f, const char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		if (p[i] == '\n') {
			fputs("&#8629;<br>", f);
			i++;
			continue;
		}
		size_t end = i;
		while (end < n && p[end] != '\n')
			end++;
		char *piece = strndup(p + i, end - i);
		/* strndup stops at a NUL: what follows it goes through the rule on its own */
		size_t took = piece ? strlen(piece) : 0;
		if (piece && took) {
			h_as(f, piece, 0);
		} else {
			char one[KCSI_ESC_MAX];
			took = kcsi_escape_char(p + i, n - i, 0, one);
			fputs(one, f);
		}
		free(piece);
		i += took ? took : 1;
	}
}

static const char style[] =
	"<style>\n"
	"body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1d2330;background:#fafbfc}\n"
	"h1{margin:0 0 .2em}h2{margin-top:1.6em;border-bottom:1px solid #d8dde6;padding-bottom:.2em}\n"
	".verdict{display:inline-block;padding:.2em .7em;border-radius:4px;color:#fff;font-weight:600}\n"
	".malicious{background:#c62828}.suspicious{background:#ef8f00}.clean{background:#2e7d32}\n"
	"table{border-collapse:collapse;width:100%;margin:.5em 0}td,th{border:1px solid #d8dde6;padding:.3em .5em;text-align:left;vertical-align:top}\n"
	"th{background:#eef1f6}code,.mono{font-family:ui-monospace,monospace;font-size:12.5px}\n"
	".sev{font-weight:600}.critical{color:#b71c1c}.high{color:#c62828}.medium{color:#b26a00}.low{color:#546e7a}.info{color:#78909c}\n"
	".finding{background:#fff;border:1px solid #d8dde6;border-radius:6px;padding:.6em 1em;margin:.7em 0}\n"
	".meta{color:#5f6b7a}ul.tree{list-style:none;padding-left:1.2em}ul.tree li{margin:.15em 0}\n"
	".warning{background:#fff3cd;border:1px solid #e0b000;padding:.4em .7em;border-radius:4px;font-weight:600}\n"
	"</style></head><body>\n";

static void head(const kcsi_report *r, FILE *f, const kcsi_meta *m)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>kcsi report: ", f);
	h(f, m->container);
	fputs("</title>\n", f);
	fputs(style, f);
	fputs("<h1>", f);
	h(f, m->container ? m->container : "?");
	fprintf(f, " <span class=\"verdict %s\" id=\"verdict\">%s</span></h1>\n", r->verdict, r->verdict);
	fprintf(f, "<p class=\"meta\">score %u/100 &middot; image ", r->score);
	h(f, m->image);
	fputs(" &middot; engine ", f);
	h(f, m->engine);
	fputs(" &middot; checkpointed ", f);
	h(f, m->checkpointed);
	fputs(" &middot; archive <code>", f);
	h(f, r->archive);
	fprintf(f, "</code></p>\n");
}

/* What the report says about itself, and its warnings. */
static void stamp(const kcsi_report *r, FILE *f)
{
	char t[40], rs[160];
	fputs("<p class=\"meta\" id=\"stamp\">archive sha256 <code>", f);
	h(f, r->archive_sha256 ? r->archive_sha256 : "unknown");
	fputs("</code> &middot; kcsi ", f);
	h(f, r->tool_version);
	fputs(" &middot; rules ", f);
	h(f, az_ruleset(r, rs, sizeof(rs)));
	fputs(" &middot; analysed ", f);
	h(f, az_analysis_time(r, t, sizeof(t)));
	fputs("</p>\n", f);
	for (size_t i = 0; i < r->nwarnings; i++) {
		fputs("<p class=\"warning\">warning: ", f);
		h(f, r->warnings[i]);
		fputs("</p>\n", f);
	}
}

/* Why the verdict is what it is: the rule that applied and the findings that
 * decided it, first on the page. */
static void why(const kcsi_report *r, FILE *f)
{
	const kcsi_finding *basis[16];
	const char *rule = "";
	size_t n = az_verdict_basis(r, basis, 16, &rule);
	fprintf(f, "<section id=\"why\"><h2>Why %s</h2><p>", r->verdict);
	h(f, rule);
	fprintf(f, " (score %u/100).</p>", r->score);
	if (n) {
		fputs("<ul>", f);
		for (size_t i = 0; i < n; i++) {
			fprintf(f, "<li><span class=\"sev %s\">%s</span> <code>", kcsi_severity_name(basis[i]->severity),
				kcsi_severity_name(basis[i]->severity));
			h(f, basis[i]->id);
			fputs("</code> ", f);
			h(f, basis[i]->title);
			fputs("</li>", f);
		}
		fputs("</ul>", f);
	}
	fputs("</section>\n", f);
}

static void container(FILE *f, const kcsi_meta *m)
{
	const struct { const char *k, *v; } rows[] = {
		{"name", m->container}, {"id", m->id}, {"image", m->image}, {"engine", m->engine},
		{"runtime", m->runtime}, {"pod", m->pod}, {"namespace", m->namespace_}, {"hostname", m->hostname},
		{"created", m->created}, {"checkpointed", m->checkpointed}};
	fputs("<h2>Container</h2><table id=\"container\">", f);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		fputs("<tr><th>", f);
		h(f, rows[i].k);
		fputs("</th><td class=\"mono\">", f);
		h(f, rows[i].v ? rows[i].v : "-");
		fputs("</td></tr>", f);
	}
	fputs("</table>\n", f);
}

/* a process row, indented under its parent */
static void proc_row(FILE *f, const kcsi_proc *p, size_t depth)
{
	int d = depth < MAX_INDENT ? (int)depth : MAX_INDENT;
	fprintf(f, "<tr><td>%u</td><td>%u</td><td class=\"mono\">", p->pid, p->ppid);
	h(f, p->comm);
	fputs("</td><td class=\"mono\">", f);
	h(f, p->exe ? p->exe : "-");
	fprintf(f, "</td><td class=\"mono\" style=\"padding-left:%dem\">%s", d * 2, d ? "&#x2514; " : "");
	for (size_t k = 0; k < p->argc; k++) {
		if (k)
			fputc(' ', f);
		h(f, p->argv[k]);
	}
	if (p->argv_rewritten)
		fputs(" <em>(rewritten)</em>", f);
	fputs("</td></tr>\n", f);
}

static void processes(FILE *f, kcsi_ckpt *c)
{
	size_t *order, *depth;
	fputs("<h2>Processes</h2><table id=\"processes\"><tr><th>pid</th><th>ppid</th><th>comm</th><th>exe</th>"
	      "<th>command line (tree)</th></tr>\n", f);
	if (kcsi_ckpt_tree(c, &order, &depth, NULL) == KCSI_OK) {
		for (size_t i = 0; i < kcsi_ckpt_nprocs(c); i++)
			proc_row(f, kcsi_ckpt_proc(c, order[i]), depth[i]);
		free(order);
		free(depth);
	}
	fputs("</table>\n", f);
}

static void connections(FILE *f, kcsi_ckpt *c)
{
	kcsi_sock *socks = NULL;
	size_t ns = 0;
	kcsi_ckpt_socks(c, &socks, &ns, NULL);
	fputs("<h2>Connections</h2><table id=\"connections\"><tr><th>pid</th><th>fd</th><th>proto</th><th>state</th>"
	      "<th>local</th><th>remote</th></tr>\n", f);
	for (size_t i = 0; i < ns; i++) {
		if (strcmp(socks[i].family, "INET") && strcmp(socks[i].family, "INET6"))
			continue;
		fprintf(f, "<tr><td>%u</td><td>%d</td><td>", socks[i].pid, socks[i].fd);
		h(f, socks[i].proto);
		fputs("</td><td>", f);
		h(f, socks[i].state);
		fprintf(f, "</td><td class=\"mono\">");
		h(f, socks[i].src);
		fprintf(f, ":%u</td><td class=\"mono\">", socks[i].sport);
		h(f, socks[i].dst);
		fprintf(f, ":%u</td></tr>\n", socks[i].dport);
	}
	free(socks);
	fputs("</table>\n", f);
}

static void evidence(FILE *f, const kcsi_evidence *e)
{
	fputs("<li class=\"mono\">", f);
	h(f, e->kind);
	if (e->pid >= 0)
		fprintf(f, " pid %" PRId64, e->pid);
	if (e->fd >= 0)
		fprintf(f, " fd %" PRId64, e->fd);
	if (e->has_address)
		fprintf(f, " 0x%" PRIx64, e->address);
	if (e->area) {
		fputs(" (", f);
		h(f, e->area);
		fputs(")", f);
	}
	if (e->path) {
		fputc(' ', f);
		h(f, e->path);
	}
	if (e->has_offset)
		fprintf(f, " offset %" PRIu64, e->offset);
	if (e->connection) {
		fputc(' ', f);
		h(f, e->connection);
	}
	if (e->excerpt) {
		fputs(" &ldquo;", f);
		h_excerpt(f, e->excerpt, e->excerpt_len);
		fputs("&rdquo;", f);
	}
	if (e->command) {
		fputs(" &rarr; <code>", f);
		h(f, e->command);
		fputs("</code>", f);
	}
	fputs("</li>", f);
}

static void finding(FILE *f, const kcsi_finding *fd)
{
	fprintf(f, "<div class=\"finding\"><span class=\"sev %s\">%s</span> <code>", kcsi_severity_name(fd->severity),
		kcsi_severity_name(fd->severity));
	h(f, fd->id);
	fputs("</code> <strong>", f);
	h(f, fd->title);
	fputs("</strong>", f);
	for (size_t k = 0; k < fd->nmitre; k++) {
		char *tech = strdup(fd->mitre[k]);
		for (char *q = tech; q && *q; q++)
			if (*q == '.')
				*q = '/';
		fputs(" <a class=\"mono\" href=\"https://attack.mitre.org/techniques/", f);
		h(f, tech);
		free(tech);
		fputs("/\">", f);
		h(f, fd->mitre[k]);
		fputs("</a>", f);
	}
	fputs("<p>", f);
	h(f, fd->explanation);
	fputs("</p><ul>", f);
	for (size_t k = 0; k < fd->nev; k++)
		if (!kcsi_evidence_is_empty(&fd->ev[k]))
			evidence(f, &fd->ev[k]);
	fputs("</ul></div>\n", f);
}

static void iocs(const kcsi_report *r, FILE *f, bool defang)
{
	fputs("<h2>IOCs</h2><table id=\"iocs\"><tr><th>type</th><th>value</th><th>class</th><th>first seen</th>"
	      "<th>count</th></tr>\n", f);
	for (size_t i = 0; i < r->iocs.n; i++) {
		const kcsi_ioc *io = &r->iocs.v[i];
		char *v = defang ? kcsi_defang(io->type, io->value) : NULL;
		fputs("<tr><td>", f);
		h(f, io->type);
		fputs("</td><td class=\"mono\">", f);
		h(f, v ? v : io->value);
		fputs("</td><td>", f);
		h(f, io->klass ? io->klass : "");
		fputs("</td><td class=\"mono\">", f);
		h(f, io->source);
		fprintf(f, "</td><td>%" PRIu64 "</td></tr>\n", io->count);
		free(v);
	}
	fputs("</table>\n", f);
}

static void timeline(const kcsi_report *r, FILE *f)
{
	fputs("<h2>Timeline</h2><table id=\"timeline\"><tr><th>time (UTC)</th><th>what</th><th>event</th></tr>\n", f);
	for (size_t i = 0; i < r->nevents; i++) {
		char t[48];
		fputs("<tr><td class=\"mono\">", f);
		h(f, az_event_time(r->events[i].time_us, t, sizeof(t)));
		fputs("</td><td>", f);
		h(f, r->events[i].desc);
		fputs("</td><td>", f);
		h(f, r->events[i].message);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

void az_report_html(const kcsi_report *r, kcsi_ckpt *c, FILE *f, bool defang)
{
	const kcsi_meta *m = kcsi_ckpt_meta(c);
	head(r, f, m);
	why(r, f);
	stamp(r, f);
	container(f, m);
	processes(f, c);
	connections(f, c);
	fprintf(f, "<h2>Findings (%zu)</h2><div id=\"findings\">\n", r->findings.n);
	for (size_t i = 0; i < r->findings.n; i++)
		finding(f, r->findings.v[i]);
	fputs("</div>\n", f);
	iocs(r, f, defang);
	timeline(r, f);
	fprintf(f, "<p class=\"meta\">kcsi report schema %s &middot; %" PRIu64 " bytes of memory scanned &middot; %u YARA "
		   "rules</p>\n</body></html>\n",
		KCSI_REPORT_SCHEMA_VERSION, r->bytes_scanned, r->yara_rules);
}
