/* kcsi — the triage report as a STIX 2.1 bundle: kcsi's identity, the
 * archive as a file (its SHA-256), a malware object when the verdict is not
 * clean (its types from the findings), an attack-pattern per ATT&CK
 * technique (external_references to mitre-attack), a note per finding (its
 * severity, explanation and evidence, referring to its techniques), an
 * observable per IOC and an indicator for those worth blocking
 * (docs/analyze.md, "Indicators"), an observed-data object, and a report
 * that holds them all and says what produced them (kcsi's version, the rule
 * set, the analysis time).  Ids are deterministic (from the archive and the
 * values); object times are the checkpoint's, the report's publication the
 * analysis time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "triage/report.h"

static void stix_id(const char *type, const char *name, char *out, size_t cap)
{
	char u[37];
	char key[1200];
	snprintf(key, sizeof(key), "%.64s|%.1100s", type, name ? name : "");
	az_uuid(key, u);
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

/* what every object of the bundle says about itself */
struct bundle {
	kcsi_jsonw w;
	char ts[40], ident[128], malware[128], archive[128];
	bool malicious;
	char **ids;            /* every object, for the report's object_refs */
	size_t nids, capids;
};

static void object(struct bundle *b, const char *type, const char *id, bool dated)
{
	if (b->nids == b->capids) {
		size_t nc = b->capids ? b->capids * 2 : 64;
		char **q = realloc(b->ids, nc * sizeof(*q));
		if (q) {
			b->ids = q;
			b->capids = nc;
		}
	}
	if (b->nids < b->capids && (b->ids[b->nids] = strdup(id)))
		b->nids++;
	kcsi_jw_obj(&b->w);
	kcsi_jw_kstr(&b->w, "type", type);
	kcsi_jw_kstr(&b->w, "spec_version", "2.1");
	kcsi_jw_kstr(&b->w, "id", id);
	if (dated) {
		kcsi_jw_kstr(&b->w, "created", b->ts);
		kcsi_jw_kstr(&b->w, "modified", b->ts);
	}
}

static void malware_types(struct bundle *b, const kcsi_report *r)
{
	static const struct { const char *needle, *type; } kinds[] = {
		{"IRC", "bot"}, {"STRATUM", "resource-exploitation"}, {"POOL", "resource-exploitation"},
		{"SHELL", "remote-access-trojan"}, {"DL-", "dropper"}, {"STAGE", "spyware"},
	};
	bool any = false;
	kcsi_jw_arr(&b->w);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		bool dup = false, hit = false;
		for (size_t j = 0; j < k; j++)
			dup |= !strcmp(kinds[j].type, kinds[k].type);
		for (size_t i = 0; i < r->findings.n && !dup && !hit; i++)
			hit = r->findings.v[i]->id && strstr(r->findings.v[i]->id, kinds[k].needle) != NULL;
		if (hit && !dup) {
			kcsi_jw_str(&b->w, kinds[k].type);
			any = true;
		}
	}
	if (!any)
		kcsi_jw_str(&b->w, "unknown");
	kcsi_jw_arr_end(&b->w);
}

static void malware(struct bundle *b, const kcsi_report *r, const kcsi_meta *m)
{
	char name[512];
	object(b, "malware", b->malware, true);
	kcsi_jw_kstr(&b->w, "created_by_ref", b->ident);
	snprintf(name, sizeof(name), "activity in container %s", m->container ? m->container : "?");
	kcsi_jw_kstr(&b->w, "name", name);
	kcsi_jw_kbool(&b->w, "is_family", false);
	kcsi_jw_key(&b->w, "malware_types");
	malware_types(b, r);
	kcsi_jw_kstr(&b->w, "description", r->nreasons ? r->verdict_reasons[0] : r->verdict);
	kcsi_jw_obj_end(&b->w);
}

/* The observable of an IOC (its id into sid), its indicator, and the
 * indicator's relationship to the malware. */
static void ioc_objects(struct bundle *b, const kcsi_ioc *io, const char *st, char *sid, size_t cap)
{
	char iid[128], rid[128], text[600];
	kcsi_buf pat;
	stix_id(st, io->value, sid, cap);
	object(b, st, sid, false);
	if (!strcmp(st, "file")) {
		kcsi_jw_key(&b->w, "hashes");
		kcsi_jw_obj(&b->w);
		kcsi_jw_kstr(&b->w, "SHA-256", io->value);
		kcsi_jw_obj_end(&b->w);
	} else {
		kcsi_jw_kstr(&b->w, "value", io->value);
	}
	kcsi_jw_obj_end(&b->w);
	if (!io->ids) /* an observable only (docs/analyze.md, "Indicators") */
		return;
	kcsi_buf_init(&pat, 1u << 16);
	if (!strcmp(st, "file"))
		kcsi_buf_printf(&pat, "[file:hashes.'SHA-256' = '");
	else
		kcsi_buf_printf(&pat, "[%s:value = '", st);
	stix_quote(&pat, io->value);
	kcsi_buf_add(&pat, "']", 2);
	stix_id("indicator", io->value, iid, sizeof(iid));
	object(b, "indicator", iid, true);
	kcsi_jw_kstr(&b->w, "created_by_ref", b->ident);
	snprintf(text, sizeof(text), "%s %s", io->type, io->value);
	kcsi_jw_kstr(&b->w, "name", text);
	snprintf(text, sizeof(text), "seen in %s (%s)", io->source, io->klass ? io->klass : io->type);
	kcsi_jw_kstr(&b->w, "description", text);
	kcsi_jw_key(&b->w, "indicator_types");
	kcsi_jw_arr(&b->w);
	kcsi_jw_str(&b->w, "malicious-activity");
	kcsi_jw_arr_end(&b->w);
	kcsi_jw_kstr(&b->w, "pattern", kcsi_buf_str(&pat));
	kcsi_jw_kstr(&b->w, "pattern_type", "stix");
	kcsi_jw_kstr(&b->w, "valid_from", b->ts);
	kcsi_jw_obj_end(&b->w);
	kcsi_buf_free(&pat);
	if (b->malicious) {
		stix_id("relationship", iid, rid, sizeof(rid));
		object(b, "relationship", rid, true);
		kcsi_jw_kstr(&b->w, "relationship_type", "indicates");
		kcsi_jw_kstr(&b->w, "source_ref", iid);
		kcsi_jw_kstr(&b->w, "target_ref", b->malware);
		kcsi_jw_obj_end(&b->w);
	}
}

static void observed_data(struct bundle *b, const char *id, char **sco_ids, size_t nsco)
{
	object(b, "observed-data", id, true);
	kcsi_jw_kstr(&b->w, "created_by_ref", b->ident);
	kcsi_jw_kstr(&b->w, "first_observed", b->ts);
	kcsi_jw_kstr(&b->w, "last_observed", b->ts);
	kcsi_jw_kuint(&b->w, "number_observed", 1);
	kcsi_jw_key(&b->w, "object_refs");
	kcsi_jw_arr(&b->w);
	for (size_t i = 0; i < nsco; i++)
		kcsi_jw_str(&b->w, sco_ids[i]);
	kcsi_jw_arr_end(&b->w);
	kcsi_jw_obj_end(&b->w);
}

/* The checkpoint archive as a file object (when its sha256 is known). */
static void archive_file(struct bundle *b, const kcsi_report *r)
{
	const char *base = r->archive ? strrchr(r->archive, '/') : NULL;
	stix_id("file", r->archive_sha256, b->archive, sizeof(b->archive));
	object(b, "file", b->archive, false);
	kcsi_jw_kstr(&b->w, "name", base ? base + 1 : r->archive ? r->archive : "checkpoint");
	kcsi_jw_key(&b->w, "hashes");
	kcsi_jw_obj(&b->w);
	kcsi_jw_kstr(&b->w, "SHA-256", r->archive_sha256);
	kcsi_jw_obj_end(&b->w);
	kcsi_jw_obj_end(&b->w);
}

static void mitre_reference(kcsi_jsonw *w, const char *tid)
{
	char url[128];
	az_attack_url(tid, url, sizeof(url));
	kcsi_jw_obj(w);
	kcsi_jw_kstr(w, "source_name", "mitre-attack");
	kcsi_jw_kstr(w, "external_id", tid);
	kcsi_jw_kstr(w, "url", url);
	kcsi_jw_obj_end(w);
}

/* An attack-pattern per technique the findings name, each once, and the
 * malware's "uses" relationship to it. */
static void attack_patterns(struct bundle *b, const kcsi_report *r)
{
	for (size_t i = 0; i < r->findings.n; i++) {
		const kcsi_finding *f = r->findings.v[i];
		for (size_t k = 0; k < f->nmitre; k++) {
			const char *tid = f->mitre[k], *name = az_attack_name(tid);
			char id[128], rel[300], rid[128];
			bool dup = false;
			for (size_t j = 0; j <= i && !dup; j++)
				for (size_t l = 0; l < (j < i ? r->findings.v[j]->nmitre : k) && !dup; l++)
					dup = !strcmp(r->findings.v[j]->mitre[l], tid);
			if (dup)
				continue;
			stix_id("attack-pattern", tid, id, sizeof(id));
			object(b, "attack-pattern", id, true);
			kcsi_jw_kstr(&b->w, "created_by_ref", b->ident);
			kcsi_jw_kstr(&b->w, "name", name ? name : tid);
			kcsi_jw_key(&b->w, "external_references");
			kcsi_jw_arr(&b->w);
			mitre_reference(&b->w, tid);
			kcsi_jw_arr_end(&b->w);
			kcsi_jw_obj_end(&b->w);
			if (!b->malicious)
				continue;
			snprintf(rel, sizeof(rel), "%s uses %s", b->malware, id);
			stix_id("relationship", rel, rid, sizeof(rid));
			object(b, "relationship", rid, true);
			kcsi_jw_kstr(&b->w, "relationship_type", "uses");
			kcsi_jw_kstr(&b->w, "source_ref", b->malware);
			kcsi_jw_kstr(&b->w, "target_ref", id);
			kcsi_jw_obj_end(&b->w);
		}
	}
}

/* A note per finding: what it is, why, the evidence; it refers to its
 * techniques and the archive (or kcsi's identity when the archive has no
 * hash). */
static void finding_note(struct bundle *b, const kcsi_report *r, size_t i)
{
	const kcsi_finding *f = r->findings.v[i];
	char id[128], key[1200];
	kcsi_buf text;
	snprintf(key, sizeof(key), "%s|finding|%zu|%s", r->archive ? r->archive : "", i, f->id ? f->id : "");
	stix_id("note", key, id, sizeof(id));
	object(b, "note", id, true);
	kcsi_jw_kstr(&b->w, "created_by_ref", b->ident);
	snprintf(key, sizeof(key), "%s (%s): %s", f->id ? f->id : "?", kcsi_severity_name(f->severity),
		 f->title ? f->title : "");
	kcsi_jw_kstr(&b->w, "abstract", key);
	kcsi_buf_init(&text, 1u << 20);
	kcsi_buf_printf(&text, "%s", f->explanation && *f->explanation ? f->explanation
				     : f->title && *f->title ? f->title : "(no explanation)");
	for (size_t k = 0; k < f->nev; k++) {
		const kcsi_evidence *e = &f->ev[k];
		char *x = kcsi_evidence_shown_excerpt(e);
		if (kcsi_evidence_is_empty(e)) {
			free(x);
			continue;
		}
		kcsi_buf_printf(&text, "\nevidence: %s", e->kind ? e->kind : "?");
		if (e->pid >= 0)
			kcsi_buf_printf(&text, " pid %lld", (long long)e->pid);
		if (e->fd >= 0)
			kcsi_buf_printf(&text, " fd %lld", (long long)e->fd);
		if (e->has_address)
			kcsi_buf_printf(&text, " 0x%llx", (unsigned long long)e->address);
		if (e->area)
			kcsi_buf_printf(&text, " (%s)", e->area);
		if (e->path)
			kcsi_buf_printf(&text, " %s", e->path);
		if (e->has_offset)
			kcsi_buf_printf(&text, " offset %llu", (unsigned long long)e->offset);
		if (e->connection)
			kcsi_buf_printf(&text, " %s", e->connection);
		if (x)
			kcsi_buf_printf(&text, " \"%s\"", x);
		if (e->command)
			kcsi_buf_printf(&text, " (%s)", e->command);
		free(x);
	}
	kcsi_jw_kstr(&b->w, "content", kcsi_buf_str(&text));
	kcsi_buf_free(&text);
	kcsi_jw_key(&b->w, "labels");
	kcsi_jw_arr(&b->w);
	kcsi_jw_str(&b->w, kcsi_severity_name(f->severity));
	kcsi_jw_arr_end(&b->w);
	kcsi_jw_key(&b->w, "external_references");
	kcsi_jw_arr(&b->w);
	kcsi_jw_obj(&b->w);
	kcsi_jw_kstr(&b->w, "source_name", "kcsi");
	kcsi_jw_kstr(&b->w, "external_id", f->id ? f->id : "?");
	kcsi_jw_obj_end(&b->w);
	for (size_t k = 0; k < f->nmitre; k++)
		mitre_reference(&b->w, f->mitre[k]);
	kcsi_jw_arr_end(&b->w);
	kcsi_jw_key(&b->w, "object_refs");
	kcsi_jw_arr(&b->w);
	kcsi_jw_str(&b->w, r->archive_sha256 ? b->archive : b->ident);
	for (size_t k = 0; k < f->nmitre; k++) {
		stix_id("attack-pattern", f->mitre[k], id, sizeof(id));
		kcsi_jw_str(&b->w, id);
	}
	kcsi_jw_arr_end(&b->w);
	kcsi_jw_obj_end(&b->w);
}

/* The report: every object of the bundle, and what produced them. */
static void report_object(struct bundle *b, const kcsi_report *r, const kcsi_meta *m)
{
	char id[128], t[40], name[600], rs[160];
	const kcsi_finding *basis[8];
	const char *rule = "";
	size_t n = az_verdict_basis(r, basis, 8, &rule);
	kcsi_buf why;
	stix_id("report", r->archive ? r->archive : "", id, sizeof(id));
	kcsi_jw_obj(&b->w);
	kcsi_jw_kstr(&b->w, "type", "report");
	kcsi_jw_kstr(&b->w, "spec_version", "2.1");
	kcsi_jw_kstr(&b->w, "id", id);
	kcsi_jw_kstr(&b->w, "created", b->ts);
	kcsi_jw_kstr(&b->w, "modified", b->ts);
	kcsi_jw_kstr(&b->w, "created_by_ref", b->ident);
	snprintf(name, sizeof(name), "kcsi analyze: %s, container %s", r->verdict, m->container ? m->container : "?");
	kcsi_jw_kstr(&b->w, "name", name);
	kcsi_buf_init(&why, 1u << 16);
	kcsi_buf_printf(&why, "Verdict %s (score %u/100): %s.", r->verdict, r->score, rule);
	for (size_t i = 0; i < n; i++)
		kcsi_buf_printf(&why, " %s (%s): %s.", basis[i]->id ? basis[i]->id : "?",
				kcsi_severity_name(basis[i]->severity), basis[i]->title ? basis[i]->title : "");
	kcsi_buf_printf(&why, " kcsi %s, rules %s.", r->tool_version, az_ruleset(r, rs, sizeof(rs)));
	kcsi_jw_kstr(&b->w, "description", kcsi_buf_str(&why));
	kcsi_buf_free(&why);
	kcsi_jw_key(&b->w, "report_types");
	kcsi_jw_arr(&b->w);
	kcsi_jw_str(&b->w, "threat-report");
	kcsi_jw_arr_end(&b->w);
	kcsi_jw_kstr(&b->w, "published", az_analysis_time(r, t, sizeof(t)));
	kcsi_jw_key(&b->w, "object_refs");
	kcsi_jw_arr(&b->w);
	for (size_t i = 0; i < b->nids; i++)
		kcsi_jw_str(&b->w, b->ids[i]);
	kcsi_jw_arr_end(&b->w);
	kcsi_jw_kstr(&b->w, "x_kcsi_version", r->tool_version);
	kcsi_jw_kstr(&b->w, "x_kcsi_ruleset_version", r->rules_version);
	kcsi_jw_kstr(&b->w, "x_kcsi_ruleset_sha256", r->rules_sha256);
	kcsi_jw_kstr(&b->w, "x_kcsi_archive_sha256", r->archive_sha256);
	kcsi_jw_kstr(&b->w, "x_kcsi_analysis_time", t);
	kcsi_jw_obj_end(&b->w);
}

void az_report_stix(const kcsi_report *r, kcsi_ckpt *c, FILE *f)
{
	struct bundle b = {.malicious = strcmp(r->verdict, "clean") != 0};
	char id[128], od[128];
	char **sco_ids = calloc(r->iocs.n + 2, sizeof(char *));
	size_t nsco = 0;

	az_report_time(c, b.ts, sizeof(b.ts));
	stix_id("bundle", r->archive, id, sizeof(id));
	stix_id("identity", "kcsi", b.ident, sizeof(b.ident));
	stix_id("malware", r->archive, b.malware, sizeof(b.malware));
	stix_id("observed-data", r->archive, od, sizeof(od));
	kcsi_jw_init(&b.w, f, 2);
	kcsi_jw_obj(&b.w);
	kcsi_jw_kstr(&b.w, "type", "bundle");
	kcsi_jw_kstr(&b.w, "id", id);
	kcsi_jw_key(&b.w, "objects");
	kcsi_jw_arr(&b.w);
	object(&b, "identity", b.ident, true); /* the producer */
	kcsi_jw_kstr(&b.w, "name", "kcsi");
	kcsi_jw_kstr(&b.w, "identity_class", "system");
	kcsi_jw_obj_end(&b.w);
	if (r->archive_sha256) {
		archive_file(&b, r);
		if (sco_ids)
			sco_ids[nsco++] = strdup(b.archive);
	}
	if (b.malicious)
		malware(&b, r, kcsi_ckpt_meta(c));
	attack_patterns(&b, r);
	for (size_t i = 0; i < r->findings.n; i++)
		finding_note(&b, r, i);
	for (size_t i = 0; i < r->iocs.n; i++) {
		const char *st = sco_type(r->iocs.v[i].type);
		char sid[128];
		if (!st || r->iocs.v[i].distinct) /* aggregates (*@domain) are no observable value */
			continue;
		ioc_objects(&b, &r->iocs.v[i], st, sid, sizeof(sid));
		if (sco_ids)
			sco_ids[nsco++] = strdup(sid);
	}
	if (nsco)
		observed_data(&b, od, sco_ids, nsco);
	report_object(&b, r, kcsi_ckpt_meta(c));
	kcsi_jw_arr_end(&b.w);
	kcsi_jw_obj_end(&b.w);
	kcsi_jw_end(&b.w);
	for (size_t i = 0; i < nsco; i++)
		free(sco_ids[i]);
	free(sco_ids);
	for (size_t i = 0; i < b.nids; i++)
		free(b.ids[i]);
	free(b.ids);
}
