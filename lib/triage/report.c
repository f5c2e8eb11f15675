/* kcsi — triage reports: text, JSON, HTML, STIX 2.1, MISP, Timesketch. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "triage/analyze_int.h"
#include "kcsi/jsonw.h"
#include "kcsi/text.h"
#include "base/safeout.h"

static const char *fmt_time(int64_t us, char *buf, size_t cap)
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

static const char *stix_time(const kcsi_report *r, kcsi_ckpt *c, char *buf, size_t cap)
{
	/* deterministic: the checkpoint time, not now */
	const kcsi_meta *m = kcsi_ckpt_meta(c);
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	(void)r;
	if (m->checkpointed && strptime(m->checkpointed, "%Y-%m-%dT%H:%M:%S", &tm)) {
		strftime(buf, cap, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
		return buf;
	}
	snprintf(buf, cap, "1970-01-01T00:00:00.000Z");
	return buf;
}

/* ---- JSON ---- */

static void json_evidence(kcsi_jsonw *w, const kcsi_evidence *e)
{
	char a[32];
	kcsi_jw_obj(w);
	kcsi_jw_kstr(w, "kind", e->kind);
	if (e->pid >= 0) kcsi_jw_kint(w, "pid", e->pid);
	if (e->fd >= 0) kcsi_jw_kint(w, "fd", e->fd);
	if (e->has_address) {
		snprintf(a, sizeof(a), "0x%" PRIx64, e->address);
		kcsi_jw_kstr(w, "address", a);
	}
	if (e->area) kcsi_jw_kstr(w, "area", e->area);
	if (e->path) kcsi_jw_kstr(w, "path", e->path);
	if (e->connection) kcsi_jw_kstr(w, "connection", e->connection);
	if (e->excerpt) kcsi_jw_kstr(w, "excerpt", e->excerpt);
	if (e->command) kcsi_jw_kstr(w, "command", e->command);
	kcsi_jw_obj_end(w);
}

static void json_processes(kcsi_jsonw *w, kcsi_ckpt *c)
{
	kcsi_jw_arr(w);
	for (size_t i = 0; i < kcsi_ckpt_nprocs(c); i++) {
		const kcsi_proc *p = kcsi_ckpt_proc(c, i);
		kcsi_jw_obj(w);
		kcsi_jw_kuint(w, "pid", p->pid);
		kcsi_jw_kuint(w, "ppid", p->ppid);
		kcsi_jw_kstr(w, "comm", p->comm);
		kcsi_jw_kstr(w, "exe", p->exe);
		kcsi_jw_key(w, "cmdline");
		kcsi_jw_arr(w);
		for (size_t k = 0; k < p->argc; k++)
			kcsi_jw_str(w, p->argv[k]);
		kcsi_jw_arr_end(w);
		kcsi_jw_kuint(w, "uid", p->uid);
		kcsi_jw_obj_end(w);
	}
	kcsi_jw_arr_end(w);
}

static void write_json(const kcsi_report *r, kcsi_ckpt *c, FILE *f, bool defang)
{
	const kcsi_meta *m = kcsi_ckpt_meta(c);
	kcsi_jsonw w;
	kcsi_jw_init(&w, f, 2);
	kcsi_jw_obj(&w);
	kcsi_jw_kstr(&w, "schema_version", KCSI_REPORT_SCHEMA_VERSION);
	kcsi_jw_kstr(&w, "verdict", r->verdict);
	kcsi_jw_kuint(&w, "score", r->score);
	kcsi_jw_key(&w, "verdict_reasons");
	kcsi_jw_arr(&w);
	for (size_t i = 0; i < r->nreasons; i++)
		kcsi_jw_str(&w, r->verdict_reasons[i]);
	kcsi_jw_arr_end(&w);
	kcsi_jw_key(&w, "container");
	kcsi_jw_obj(&w);
	kcsi_jw_kstr(&w, "archive", r->archive);
	kcsi_jw_kstr(&w, "name", m->container);
	kcsi_jw_kstr(&w, "id", m->id);
	kcsi_jw_kstr(&w, "image", m->image);
	kcsi_jw_kstr(&w, "engine", m->engine);
	kcsi_jw_kstr(&w, "pod", m->pod);
	kcsi_jw_kstr(&w, "namespace", m->namespace_);
	kcsi_jw_kstr(&w, "created", m->created);
	kcsi_jw_kstr(&w, "checkpointed", m->checkpointed);
	kcsi_jw_kstr(&w, "hostname", m->hostname);
	kcsi_jw_obj_end(&w);
	kcsi_jw_key(&w, "processes");
	json_processes(&w, c);
	kcsi_jw_key(&w, "findings");
	kcsi_jw_arr(&w);
	for (size_t i = 0; i < r->nfindings; i++) {
		const kcsi_finding *fd = &r->findings[i];
		kcsi_jw_obj(&w);
		kcsi_jw_kstr(&w, "id", fd->id);
		kcsi_jw_kstr(&w, "severity", kcsi_severity_name(fd->severity));
		kcsi_jw_kstr(&w, "title", fd->title);
		kcsi_jw_kstr(&w, "explanation", fd->explanation);
		kcsi_jw_key(&w, "mitre");
		kcsi_jw_arr(&w);
		for (size_t k = 0; k < fd->nmitre; k++)
			kcsi_jw_str(&w, fd->mitre[k]);
		kcsi_jw_arr_end(&w);
		kcsi_jw_key(&w, "evidence");
		kcsi_jw_arr(&w);
		for (size_t k = 0; k < fd->nev; k++)
			json_evidence(&w, &fd->ev[k]);
		kcsi_jw_arr_end(&w);
		kcsi_jw_obj_end(&w);
	}
	kcsi_jw_arr_end(&w);
	kcsi_jw_key(&w, "iocs");
	kcsi_jw_arr(&w);
	for (size_t i = 0; i < r->niocs; i++) {
		const kcsi_ioc *io = &r->iocs[i];
		char *v = defang ? kcsi_defang(io->type, io->value) : NULL;
		kcsi_jw_obj(&w);
		kcsi_jw_kstr(&w, "type", io->type);
		kcsi_jw_kstr(&w, "value", v ? v : io->value);
		if (io->klass)
			kcsi_jw_kstr(&w, "class", io->klass);
		kcsi_jw_kstr(&w, "source", io->source);
		kcsi_jw_kuint(&w, "count", io->count);
		kcsi_jw_obj_end(&w);
		free(v);
	}
	kcsi_jw_arr_end(&w);
	kcsi_jw_key(&w, "stats");
	kcsi_jw_obj(&w);
	kcsi_jw_kuint(&w, "memory_bytes_scanned", r->bytes_scanned);
	kcsi_jw_kuint(&w, "yara_rules", r->yara_rules);
	kcsi_jw_obj_end(&w);
	kcsi_jw_obj_end(&w);
	kcsi_jw_end(&w);
}

/* ---- text ---- */

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

/* Every string of the report may come from the archive: shown by the rule
 * of kcsi/text.h.  NULL shows as "?". */
static void tx(FILE *f, const char *s)
{
	if (!s)
		s = "?";
	kcsi_escape_write(f, s, strlen(s), 0);
}

static void write_text(const kcsi_report *r, kcsi_ckpt *c, FILE *f, bool defang, bool color)
{
	const kcsi_meta *m = kcsi_ckpt_meta(c);
	const char *B = color ? "\033[1m" : "", *R = color ? "\033[31m" : "", *Y = color ? "\033[33m" : "",
		   *G = color ? "\033[32m" : "", *D = color ? "\033[2m" : "", *O = color ? "\033[0m" : "";
	const char *vc = !strcmp(r->verdict, "malicious") ? R : !strcmp(r->verdict, "suspicious") ? Y : G;
	fputs(B, f);
	tx(f, m->container);
	fprintf(f, "%s  %s%s%s (score %u/100)\n%simage ", O, vc, r->verdict, O, r->score, D);
	tx(f, m->image);
	fputs(", ", f);
	tx(f, m->engine);
	fputs(", checkpointed ", f);
	tx(f, m->checkpointed);
	fprintf(f, ", %zu processes, %.1f MiB of memory scanned, %u YARA rules%s\n\n", kcsi_ckpt_nprocs(c),
		(double)r->bytes_scanned / 1048576.0, r->yara_rules, O);
	for (size_t i = 0; i < r->nfindings; i++) {
		const kcsi_finding *fd = &r->findings[i];
		const char *sc = fd->severity >= KCSI_SEV_HIGH ? R : fd->severity == KCSI_SEV_MEDIUM ? Y : D;
		if (fd->severity == KCSI_SEV_INFO)
			continue;
		fprintf(f, "%s%-8s%s %s", sc, kcsi_severity_name(fd->severity), O, B);
		tx(f, fd->id);
		fprintf(f, "%s  ", O);
		tx(f, fd->title);
		if (fd->nmitre) {
			fprintf(f, "  %s[", D);
			for (size_t k = 0; k < fd->nmitre; k++) {
				fputs(k ? " " : "", f);
				tx(f, fd->mitre[k]);
			}
			fprintf(f, "]%s", O);
		}
		fputc('\n', f);
		for (size_t k = 0; k < fd->nev && k < 3; k++) {
			const kcsi_evidence *e = &fd->ev[k];
			fprintf(f, "         %s", D);
			if (e->pid >= 0) fprintf(f, "pid %" PRId64 " ", e->pid);
			if (e->fd >= 0) fprintf(f, "fd %" PRId64 " ", e->fd);
			if (e->has_address) fprintf(f, "0x%" PRIx64 " ", e->address);
			if (e->area) { fputc('(', f); tx(f, e->area); fputs(") ", f); }
			if (e->path) { tx(f, e->path); fputc(' ', f); }
			if (e->connection) { tx(f, e->connection); fputc(' ', f); }
			if (e->excerpt) { /* escaped text already (\xNN): its backslashes stay */
				fputc('"', f);
				kcsi_escape_write(f, e->excerpt, excerpt_cut(e->excerpt), KCSI_ESC_ESCAPED);
				fputc('"', f);
			}
			fprintf(f, "%s\n", O);
		}
	}
	{
		size_t info = 0;
		for (size_t i = 0; i < r->nfindings; i++)
			info += r->findings[i].severity == KCSI_SEV_INFO;
		if (info)
			fprintf(f, "%s(%zu informational findings: --format json shows them)%s\n", D, info, O);
	}
	if (r->niocs) {
		fprintf(f, "\n%sIOCs%s\n", B, O);
		for (size_t i = 0; i < r->niocs && i < 25; i++) {
			const kcsi_ioc *io = &r->iocs[i];
			char *v = defang ? kcsi_defang(io->type, io->value) : NULL;
			fprintf(f, "  %-11s ", io->type);
			tx(f, v ? v : io->value);
			if (io->klass) {
				fputs(" (", f);
				tx(f, io->klass);
				fputc(')', f);
			}
			fprintf(f, "  %s", D);
			tx(f, io->source);
			fprintf(f, "%s\n", O);
			free(v);
		}
		if (r->niocs > 25)
			fprintf(f, "  %s... %zu more (--format json)%s\n", D, r->niocs - 25, O);
	}
}

/* ---- Timesketch ---- */

static void write_timeline(const kcsi_report *r, kcsi_ckpt *c, FILE *f)
{
	const kcsi_meta *m = kcsi_ckpt_meta(c);
	for (size_t i = 0; i < r->nevents; i++) {
		const kcsi_event *e = &r->events[i];
		char t[48];
		kcsi_jsonw w;
		kcsi_jw_init(&w, f, 0);
		kcsi_jw_obj(&w);
		kcsi_jw_kstr(&w, "message", e->message);
		kcsi_jw_kstr(&w, "datetime", fmt_time(e->time_us, t, sizeof(t)));
		kcsi_jw_kstr(&w, "timestamp_desc", e->desc);
		kcsi_jw_kint(&w, "timestamp", e->time_us);
		kcsi_jw_kstr(&w, "data_type", "kcsi:checkpoint");
		kcsi_jw_kstr(&w, "container", m->container);
		kcsi_jw_kstr(&w, "archive", r->archive);
		if (e->path)
			kcsi_jw_kstr(&w, "file_path", e->path);
		if (e->pid >= 0)
			kcsi_jw_kint(&w, "pid", e->pid);
		kcsi_jw_kstr(&w, "verdict", r->verdict);
		kcsi_jw_obj_end(&w);
		kcsi_jw_end(&w);
	}
}

/* ---- STIX 2.1 ---- */

/* A deterministic UUID (version 5 layout) from a name. */
static void uuid_of(const char *name, char out[37])
{
	char hex[65];
	kcsi_sha256_hex(name, strlen(name), hex);
	hex[12] = '5';
	hex[16] = "89ab"[(hex[16] >= 'a' ? hex[16] - 'a' + 10 : hex[16] - '0') & 3];
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static void stix_id(const char *type, const char *name, char *out, size_t cap)
{
	char u[37];
	char key[1200];
	snprintf(key, sizeof(key), "%s|%s", type, name);
	uuid_of(key, u);
	snprintf(out, cap, "%s--%s", type, u);
}

/* STIX patterns quote with single quotes; escape ' and \ */
static void stix_quote(kcsi_buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\'' || *v == '\\')
			kcsi_buf_addc(b, '\\');
		kcsi_buf_addc(b, *v);
	}
}

static const char *sco_type(const char *t)
{
	if (!strcmp(t, "ipv4")) return "ipv4-addr";
	if (!strcmp(t, "ipv6")) return "ipv6-addr";
	if (!strcmp(t, "domain")) return "domain-name";
	if (!strcmp(t, "url")) return "url";
	if (!strcmp(t, "email")) return "email-addr";
	if (!strcmp(t, "sha256")) return "file";
	return NULL;
}

static void write_stix(const kcsi_report *r, kcsi_ckpt *c, FILE *f)
{
	const kcsi_meta *m = kcsi_ckpt_meta(c);
	char ts[40], id[128], ident[128], malware[128], od[128];
	kcsi_jsonw w;
	bool malicious = strcmp(r->verdict, "clean") != 0;
	char **sco_ids = calloc(r->niocs + 1, sizeof(char *));
	size_t nsco = 0;

	stix_time(r, c, ts, sizeof(ts));
	stix_id("bundle", r->archive, id, sizeof(id));
	stix_id("identity", "kcsi", ident, sizeof(ident));
	stix_id("malware", r->archive, malware, sizeof(malware));
	stix_id("observed-data", r->archive, od, sizeof(od));
	kcsi_jw_init(&w, f, 2);
	kcsi_jw_obj(&w);
	kcsi_jw_kstr(&w, "type", "bundle");
	kcsi_jw_kstr(&w, "id", id);
	kcsi_jw_key(&w, "objects");
	kcsi_jw_arr(&w);
	/* the producer */
	kcsi_jw_obj(&w);
	kcsi_jw_kstr(&w, "type", "identity");
	kcsi_jw_kstr(&w, "spec_version", "2.1");
	kcsi_jw_kstr(&w, "id", ident);
	kcsi_jw_kstr(&w, "created", ts);
	kcsi_jw_kstr(&w, "modified", ts);
	kcsi_jw_kstr(&w, "name", "kcsi");
	kcsi_jw_kstr(&w, "identity_class", "system");
	kcsi_jw_obj_end(&w);
	if (malicious) {
		kcsi_jw_obj(&w);
		kcsi_jw_kstr(&w, "type", "malware");
		kcsi_jw_kstr(&w, "spec_version", "2.1");
		kcsi_jw_kstr(&w, "id", malware);
		kcsi_jw_kstr(&w, "created", ts);
		kcsi_jw_kstr(&w, "modified", ts);
		kcsi_jw_kstr(&w, "created_by_ref", ident);
		{
			char name[512];
			snprintf(name, sizeof(name), "activity in container %s", m->container ? m->container : "?");
			kcsi_jw_kstr(&w, "name", name);
		}
		kcsi_jw_kbool(&w, "is_family", false);
		kcsi_jw_key(&w, "malware_types");
		kcsi_jw_arr(&w);
		{
			static const struct { const char *needle, *type; } kinds[] = {
				{"IRC", "bot"}, {"STRATUM", "resource-exploitation"}, {"POOL", "resource-exploitation"},
				{"SHELL", "remote-access-trojan"}, {"DL-", "dropper"}, {"STAGE", "spyware"},
			};
			bool any = false;
			for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
				bool dup = false, hit = false;
				for (size_t j = 0; j < k; j++)
					dup |= !strcmp(kinds[j].type, kinds[k].type);
				for (size_t i = 0; i < r->nfindings && !dup && !hit; i++)
					hit = strstr(r->findings[i].id, kinds[k].needle) != NULL;
				if (hit && !dup) {
					kcsi_jw_str(&w, kinds[k].type);
					any = true;
				}
			}
			if (!any)
				kcsi_jw_str(&w, "unknown");
		}
		kcsi_jw_arr_end(&w);
		kcsi_jw_kstr(&w, "description", r->nreasons ? r->verdict_reasons[0] : r->verdict);
		kcsi_jw_obj_end(&w);
	}
	/* cyber observables and an indicator per IOC that has a STIX pattern */
	for (size_t i = 0; i < r->niocs; i++) {
		const kcsi_ioc *io = &r->iocs[i];
		const char *st = sco_type(io->type);
		char sid[128], iid[128], rid[128];
		kcsi_buf pat;
		if (!st)
			continue;
		stix_id(st, io->value, sid, sizeof(sid));
		sco_ids[nsco++] = strdup(sid);
		kcsi_jw_obj(&w);
		kcsi_jw_kstr(&w, "type", st);
		kcsi_jw_kstr(&w, "spec_version", "2.1");
		kcsi_jw_kstr(&w, "id", sid);
		if (!strcmp(st, "file")) {
			kcsi_jw_key(&w, "hashes");
			kcsi_jw_obj(&w);
			kcsi_jw_kstr(&w, "SHA-256", io->value);
			kcsi_jw_obj_end(&w);
		} else {
			kcsi_jw_kstr(&w, "value", io->value);
		}
		kcsi_jw_obj_end(&w);
		kcsi_buf_init(&pat, 1u << 16);
		if (!strcmp(st, "file"))
			kcsi_buf_printf(&pat, "[file:hashes.'SHA-256' = '");
		else
			kcsi_buf_printf(&pat, "[%s:value = '", st);
		stix_quote(&pat, io->value);
		kcsi_buf_add(&pat, "']", 2);
		stix_id("indicator", io->value, iid, sizeof(iid));
		kcsi_jw_obj(&w);
		kcsi_jw_kstr(&w, "type", "indicator");
		kcsi_jw_kstr(&w, "spec_version", "2.1");
		kcsi_jw_kstr(&w, "id", iid);
		kcsi_jw_kstr(&w, "created", ts);
		kcsi_jw_kstr(&w, "modified", ts);
		kcsi_jw_kstr(&w, "created_by_ref", ident);
		{
			char name[600];
			snprintf(name, sizeof(name), "%s %s", io->type, io->value);
			kcsi_jw_kstr(&w, "name", name);
			snprintf(name, sizeof(name), "seen in %s (%s)", io->source, io->klass ? io->klass : io->type);
			kcsi_jw_kstr(&w, "description", name);
		}
		kcsi_jw_key(&w, "indicator_types");
		kcsi_jw_arr(&w);
		kcsi_jw_str(&w, malicious ? "malicious-activity" : "unknown");
		kcsi_jw_arr_end(&w);
		kcsi_jw_kstr(&w, "pattern", kcsi_buf_str(&pat));
		kcsi_jw_kstr(&w, "pattern_type", "stix");
		kcsi_jw_kstr(&w, "valid_from", ts);
		kcsi_jw_obj_end(&w);
		kcsi_buf_free(&pat);
		if (malicious) {
			stix_id("relationship", iid, rid, sizeof(rid));
			kcsi_jw_obj(&w);
			kcsi_jw_kstr(&w, "type", "relationship");
			kcsi_jw_kstr(&w, "spec_version", "2.1");
			kcsi_jw_kstr(&w, "id", rid);
			kcsi_jw_kstr(&w, "created", ts);
			kcsi_jw_kstr(&w, "modified", ts);
			kcsi_jw_kstr(&w, "relationship_type", "indicates");
			kcsi_jw_kstr(&w, "source_ref", iid);
			kcsi_jw_kstr(&w, "target_ref", malware);
			kcsi_jw_obj_end(&w);
		}
	}
	if (nsco) {
		kcsi_jw_obj(&w);
		kcsi_jw_kstr(&w, "type", "observed-data");
		kcsi_jw_kstr(&w, "spec_version", "2.1");
		kcsi_jw_kstr(&w, "id", od);
		kcsi_jw_kstr(&w, "created", ts);
		kcsi_jw_kstr(&w, "modified", ts);
		kcsi_jw_kstr(&w, "created_by_ref", ident);
		kcsi_jw_kstr(&w, "first_observed", ts);
		kcsi_jw_kstr(&w, "last_observed", ts);
		kcsi_jw_kuint(&w, "number_observed", 1);
		kcsi_jw_key(&w, "object_refs");
		kcsi_jw_arr(&w);
		for (size_t i = 0; i < nsco; i++)
			kcsi_jw_str(&w, sco_ids[i]);
		kcsi_jw_arr_end(&w);
		kcsi_jw_obj_end(&w);
	}
	kcsi_jw_arr_end(&w);
	kcsi_jw_obj_end(&w);
	kcsi_jw_end(&w);
	for (size_t i = 0; i < nsco; i++)
		free(sco_ids[i]);
	free(sco_ids);
}

/* ---- MISP ---- */

static void misp_type(const kcsi_ioc *io, const char **type, const char **cat, bool *ids)
{
	*ids = true;
	*cat = "Network activity";
	if (!strcmp(io->type, "ipv4") || !strcmp(io->type, "ipv6")) *type = "ip-dst";
	else if (!strcmp(io->type, "domain")) *type = "domain";
	else if (!strcmp(io->type, "url")) *type = "url";
	else if (!strcmp(io->type, "email")) { *type = "email-src"; *cat = "Payload delivery"; }
	else if (!strcmp(io->type, "sha256")) { *type = "sha256"; *cat = "Artifacts dropped"; }
	else if (!strcmp(io->type, "wallet")) { *type = io->value[0] == 'b' ? "btc" : "xmr"; *cat = "Financial fraud"; }
	else if (!strcmp(io->type, "user-agent")) *type = "user-agent";
	else { *type = "text"; *ids = false; }
	if (io->klass && (!strcmp(io->klass, "loopback") || !strcmp(io->klass, "private") ||
			  !strcmp(io->klass, "documentation") || !strcmp(io->klass, "reserved")))
		*ids = false; /* not useful to block on other networks */
}

static void write_misp(const kcsi_report *r, kcsi_ckpt *c, FILE *f)
{
	const kcsi_meta *m = kcsi_ckpt_meta(c);
	char ts[40], date[16], info[512], uuid[37];
	kcsi_jsonw w;
	stix_time(r, c, ts, sizeof(ts));
	snprintf(date, sizeof(date), "%.10s", ts);
	snprintf(info, sizeof(info), "kcsi: %s in container %s (%s)", r->verdict, m->container ? m->container : "?",
		 m->image ? m->image : "?");
	uuid_of(r->archive, uuid);
	kcsi_jw_init(&w, f, 2);
	kcsi_jw_obj(&w);
	kcsi_jw_key(&w, "Event");
	kcsi_jw_obj(&w);
	kcsi_jw_kstr(&w, "uuid", uuid);
	kcsi_jw_kstr(&w, "info", info);
	kcsi_jw_kstr(&w, "date", date);
	kcsi_jw_kstr(&w, "threat_level_id", !strcmp(r->verdict, "malicious") ? "1" : !strcmp(r->verdict, "suspicious") ? "2" : "4");
	kcsi_jw_kstr(&w, "analysis", "1");
	kcsi_jw_kstr(&w, "distribution", "0");
	kcsi_jw_kstr(&w, "published", "false");
	kcsi_jw_key(&w, "Tag");
	kcsi_jw_arr(&w);
	{
		const char *seen[64];
		size_t ns = 0;
		for (size_t i = 0; i < r->nfindings; i++)
			for (size_t k = 0; k < r->findings[i].nmitre; k++) {
				bool dup = false;
				for (size_t j = 0; j < ns; j++)
					dup |= !strcmp(seen[j], r->findings[i].mitre[k]);
				if (dup || ns >= 64)
					continue;
				seen[ns++] = r->findings[i].mitre[k];
				char tag[96];
				snprintf(tag, sizeof(tag), "mitre-attack:attack-pattern=\"%s\"", r->findings[i].mitre[k]);
				kcsi_jw_obj(&w);
				kcsi_jw_kstr(&w, "name", tag);
				kcsi_jw_obj_end(&w);
			}
	}
	kcsi_jw_arr_end(&w);
	kcsi_jw_key(&w, "Attribute");
	kcsi_jw_arr(&w);
	for (size_t i = 0; i < r->niocs; i++) {
		const kcsi_ioc *io = &r->iocs[i];
		const char *type, *cat;
		bool ids;
		char u[37], key[600];
		misp_type(io, &type, &cat, &ids);
		snprintf(key, sizeof(key), "%s|%s|%s", r->archive, io->type, io->value);
		uuid_of(key, u);
		kcsi_jw_obj(&w);
		kcsi_jw_kstr(&w, "uuid", u);
		kcsi_jw_kstr(&w, "type", type);
		kcsi_jw_kstr(&w, "category", cat);
		kcsi_jw_kstr(&w, "value", io->value);
		kcsi_jw_kbool(&w, "to_ids", ids);
		{
			char cm[600];
			snprintf(cm, sizeof(cm), "%s%s%s; %s", io->type, io->klass ? ", " : "", io->klass ? io->klass : "", io->source);
			kcsi_jw_kstr(&w, "comment", cm);
		}
		kcsi_jw_obj_end(&w);
	}
	for (size_t i = 0; i < r->nfindings; i++) {
		char u[37], key[600];
		if (r->findings[i].severity < KCSI_SEV_MEDIUM)
			continue;
		snprintf(key, sizeof(key), "%s|finding|%zu", r->archive, i);
		uuid_of(key, u);
		kcsi_jw_obj(&w);
		kcsi_jw_kstr(&w, "uuid", u);
		kcsi_jw_kstr(&w, "type", "comment");
		kcsi_jw_kstr(&w, "category", "Other");
		{
			char v[1200];
			snprintf(v, sizeof(v), "%s (%s): %s", r->findings[i].id, kcsi_severity_name(r->findings[i].severity),
				 r->findings[i].title);
			kcsi_jw_kstr(&w, "value", v);
		}
		kcsi_jw_kbool(&w, "to_ids", false);
		kcsi_jw_obj_end(&w);
	}
	kcsi_jw_arr_end(&w);
	kcsi_jw_obj_end(&w);
	kcsi_jw_obj_end(&w);
	kcsi_jw_end(&w);
}

/* ---- HTML (one self-contained file) ---- */

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

/* a process row, then its children indented under it */
static void html_proc(FILE *f, kcsi_ckpt *c, const kcsi_proc *p, int depth, bool *done)
{
	size_t n = kcsi_ckpt_nprocs(c);
	for (size_t i = 0; i < n; i++)
		if (kcsi_ckpt_proc(c, i) == p) {
			if (done[i])
				return;
			done[i] = true;
		}
	fprintf(f, "<tr><td>%u</td><td>%u</td><td class=\"mono\">", p->pid, p->ppid);
	h(f, p->comm);
	fputs("</td><td class=\"mono\">", f);
	h(f, p->exe ? p->exe : "-");
	fprintf(f, "</td><td class=\"mono\" style=\"padding-left:%dem\">%s", depth * 2 + 0, depth ? "&#x2514; " : "");
	for (size_t k = 0; k < p->argc; k++) {
		if (k)
			fputc(' ', f);
		h(f, p->argv[k]);
	}
	if (p->argv_rewritten)
		fputs(" <em>(rewritten)</em>", f);
	fputs("</td></tr>\n", f);
	for (size_t i = 0; i < n && depth < 64; i++) {
		const kcsi_proc *q = kcsi_ckpt_proc(c, i);
		if (q->ppid == p->pid && q->pid != p->pid)
			html_proc(f, c, q, depth + 1, done);
	}
}

static void write_html(const kcsi_report *r, kcsi_ckpt *c, FILE *f, bool defang)
{
	const kcsi_meta *m = kcsi_ckpt_meta(c);
	kcsi_sock *socks = NULL;
	size_t ns = 0;
	kcsi_ckpt_socks(c, &socks, &ns, NULL);
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>kcsi report: ", f);
	h(f, m->container);
	fputs("</title>\n<style>\n"
	      "body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1d2330;background:#fafbfc}\n"
	      "h1{margin:0 0 .2em}h2{margin-top:1.6em;border-bottom:1px solid #d8dde6;padding-bottom:.2em}\n"
	      ".verdict{display:inline-block;padding:.2em .7em;border-radius:4px;color:#fff;font-weight:600}\n"
	      ".malicious{background:#c62828}.suspicious{background:#ef8f00}.clean{background:#2e7d32}\n"
	      "table{border-collapse:collapse;width:100%;margin:.5em 0}td,th{border:1px solid #d8dde6;padding:.3em .5em;text-align:left;vertical-align:top}\n"
	      "th{background:#eef1f6}code,.mono{font-family:ui-monospace,monospace;font-size:12.5px}\n"
	      ".sev{font-weight:600}.critical{color:#b71c1c}.high{color:#c62828}.medium{color:#b26a00}.low{color:#546e7a}.info{color:#78909c}\n"
	      ".finding{background:#fff;border:1px solid #d8dde6;border-radius:6px;padding:.6em 1em;margin:.7em 0}\n"
	      ".meta{color:#5f6b7a}ul.tree{list-style:none;padding-left:1.2em}ul.tree li{margin:.15em 0}\n"
	      "</style></head><body>\n", f);
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
	fprintf(f, "</code></p>\n<h2>Container</h2><table id=\"container\">");
	struct { const char *k, *v; } rows[] = {{"name", m->container}, {"id", m->id}, {"image", m->image},
						 {"engine", m->engine}, {"runtime", m->runtime}, {"pod", m->pod},
						 {"namespace", m->namespace_}, {"hostname", m->hostname},
						 {"created", m->created}, {"checkpointed", m->checkpointed}};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		fputs("<tr><th>", f);
		h(f, rows[i].k);
		fputs("</th><td class=\"mono\">", f);
		h(f, rows[i].v ? rows[i].v : "-");
		fputs("</td></tr>", f);
	}
	fputs("</table>\n<h2>Processes</h2><table id=\"processes\"><tr><th>pid</th><th>ppid</th><th>comm</th><th>exe</th><th>command line (tree)</th></tr>\n", f);
	{
		size_t n = kcsi_ckpt_nprocs(c);
		bool *done = calloc(n ? n : 1, 1);
		for (size_t i = 0; done && i < n; i++)
			if (!kcsi_ckpt_proc_by_pid(c, kcsi_ckpt_proc(c, i)->ppid) ||
			    kcsi_ckpt_proc(c, i)->ppid == kcsi_ckpt_proc(c, i)->pid)
				html_proc(f, c, kcsi_ckpt_proc(c, i), 0, done);
		for (size_t i = 0; done && i < n; i++)
			if (!done[i])
				html_proc(f, c, kcsi_ckpt_proc(c, i), 0, done);
		free(done);
	}
	fputs("</table>\n<h2>Connections</h2><table id=\"connections\"><tr><th>pid</th><th>fd</th><th>proto</th><th>state</th><th>local</th><th>remote</th></tr>\n", f);
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
	fprintf(f, "</table>\n<h2>Findings (%zu)</h2><div id=\"findings\">\n", r->nfindings);
	for (size_t i = 0; i < r->nfindings; i++) {
		const kcsi_finding *fd = &r->findings[i];
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
		for (size_t k = 0; k < fd->nev; k++) {
			const kcsi_evidence *e = &fd->ev[k];
			fputs("<li class=\"mono\">", f);
			h(f, e->kind);
			if (e->pid >= 0) fprintf(f, " pid %" PRId64, e->pid);
			if (e->fd >= 0) fprintf(f, " fd %" PRId64, e->fd);
			if (e->has_address) fprintf(f, " 0x%" PRIx64, e->address);
			if (e->area) { fputs(" (", f); h(f, e->area); fputs(")", f); }
			if (e->path) { fputc(' ', f); h(f, e->path); }
			if (e->connection) { fputc(' ', f); h(f, e->connection); }
			if (e->excerpt) { fputs(" &ldquo;", f); h_as(f, e->excerpt, KCSI_ESC_ESCAPED); fputs("&rdquo;", f); }
			if (e->command) { fputs(" &rarr; <code>", f); h(f, e->command); fputs("</code>", f); }
			fputs("</li>", f);
		}
		fputs("</ul></div>\n", f);
	}
	fputs("</div>\n<h2>IOCs</h2><table id=\"iocs\"><tr><th>type</th><th>value</th><th>class</th><th>first seen</th><th>count</th></tr>\n", f);
	for (size_t i = 0; i < r->niocs; i++) {
		char *v = defang ? kcsi_defang(r->iocs[i].type, r->iocs[i].value) : NULL;
		fputs("<tr><td>", f);
		h(f, r->iocs[i].type);
		fputs("</td><td class=\"mono\">", f);
		h(f, v ? v : r->iocs[i].value);
		fputs("</td><td>", f);
		h(f, r->iocs[i].klass ? r->iocs[i].klass : "");
		fputs("</td><td class=\"mono\">", f);
		h(f, r->iocs[i].source);
		fprintf(f, "</td><td>%" PRIu64 "</td></tr>\n", r->iocs[i].count);
		free(v);
	}
	fputs("</table>\n<h2>Timeline</h2><table id=\"timeline\"><tr><th>time (UTC)</th><th>what</th><th>event</th></tr>\n", f);
	for (size_t i = 0; i < r->nevents; i++) {
		char t[48];
		fputs("<tr><td class=\"mono\">", f);
		h(f, fmt_time(r->events[i].time_us, t, sizeof(t)));
		fputs("</td><td>", f);
		h(f, r->events[i].desc);
		fputs("</td><td>", f);
		h(f, r->events[i].message);
		fputs("</td></tr>\n", f);
	}
	fprintf(f, "</table>\n<p class=\"meta\">kcsi report schema %s &middot; %" PRIu64 " bytes of memory scanned &middot; %u YARA rules</p>\n</body></html>\n",
		KCSI_REPORT_SCHEMA_VERSION, r->bytes_scanned, r->yara_rules);
}

/* Defang every network indicator wherever it appears in a text: the IOCs'
 * values (longest first, so a URL goes before the address inside it), as the
 * text shows them (escaped). */
static char *defang_text(const kcsi_report *r, const char *in)
{
	char *cur = strdup(in);
	size_t *order = calloc(r->niocs + 1, sizeof(size_t)), n = 0;
	if (!cur || !order) {
		free(order);
		return cur;
	}
	for (size_t i = 0; i < r->niocs; i++) {
		const char *t = r->iocs[i].type;
		if (!strcmp(t, "ipv4") || !strcmp(t, "ipv6") || !strcmp(t, "domain") || !strcmp(t, "url") || !strcmp(t, "email"))
			order[n++] = i;
	}
	for (size_t i = 1; i < n; i++) /* by length, longest first */
		for (size_t j = i; j > 0 && strlen(r->iocs[order[j]].value) > strlen(r->iocs[order[j - 1]].value); j--) {
			size_t t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	for (size_t k = 0; k < n && cur; k++) {
		const char *raw = r->iocs[order[k]].value;
		char *dr = kcsi_defang(r->iocs[order[k]].type, raw);
		char *v = kcsi_escape_text(raw, strlen(raw), 0), *d = dr ? kcsi_escape_text(dr, strlen(dr), 0) : NULL;
		kcsi_buf b;
		const char *p = cur, *hit;
		size_t vl = v && d ? strlen(v) : 0;
		kcsi_buf_init(&b, SIZE_MAX / 2);
		while (vl && (hit = strstr(p, v))) {
			kcsi_buf_add(&b, p, (size_t)(hit - p));
			kcsi_buf_add(&b, d, strlen(d));
			p = hit + vl;
		}
		kcsi_buf_add(&b, p, strlen(p));
		free(cur);
		cur = b.data ? b.data : strdup("");
		free(v);
		free(d);
		free(dr);
	}
	free(order);
	return cur;
}

kcsi_code kcsi_report_write(const kcsi_report *r, kcsi_ckpt *c, const char *format, FILE *f, bool defang,
			    bool color, kcsi_error *err)
{
	if (defang && (!strcmp(format, "text") || !strcmp(format, "html"))) {
		char *buf = NULL, *out;
		size_t len = 0;
		FILE *m = open_memstream(&buf, &len);
		if (!m)
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		if (!strcmp(format, "text"))
			write_text(r, c, m, true, color);
		else
			write_html(r, c, m, true);
		fclose(m);
		out = defang_text(r, buf ? buf : "");
		fputs(out ? out : "", f);
		free(out);
		free(buf);
		return KCSI_OK;
	}
	if (!strcmp(format, "json"))
		write_json(r, c, f, defang);
	else if (!strcmp(format, "text"))
		write_text(r, c, f, defang, color);
	else if (!strcmp(format, "html"))
		write_html(r, c, f, defang);
	else if (!strcmp(format, "stix"))
		write_stix(r, c, f);
	else if (!strcmp(format, "misp"))
		write_misp(r, c, f);
	else if (!strcmp(format, "timeline"))
		write_timeline(r, c, f);
	else
		return kcsi_error_set(err, KCSI_ERR_USAGE, "unknown format '%s' (text, json, html, stix, misp, timeline)", format);
	return KCSI_OK;
}
