/* kcsi — the triage report as a STIX 2.1 bundle: kcsi's identity, a malware
 * object when the verdict is not clean (its types from the findings), an
 * observable and an indicator per IOC that has a STIX pattern, and an
 * observed-data object.  Ids are deterministic (from the archive and the
 * values) and times are the checkpoint's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "triage/report.h"

static void stix_id(const char *type, const char *name, char *out, size_t cap)
{
	char u[37];
	char key[1200];
	snprintf(key, sizeof(key), "%s|%s", type, name);
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
	char ts[40], ident[128], malware[128];
	bool malicious;
};

static void object(struct bundle *b, const char *type, const char *id, bool dated)
{
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

void az_report_stix(const kcsi_report *r, kcsi_ckpt *c, FILE *f)
{
	struct bundle b = {.malicious = strcmp(r->verdict, "clean") != 0};
	char id[128], od[128];
	char **sco_ids = calloc(r->iocs.n + 1, sizeof(char *));
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
	if (b.malicious)
		malware(&b, r, kcsi_ckpt_meta(c));
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
	kcsi_jw_arr_end(&b.w);
	kcsi_jw_obj_end(&b.w);
	kcsi_jw_end(&b.w);
	for (size_t i = 0; i < nsco; i++)
		free(sco_ids[i]);
	free(sco_ids);
}
