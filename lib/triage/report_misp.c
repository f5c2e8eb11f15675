/* kcsi — the triage report as a MISP event: the verdict as threat level,
 * ATT&CK techniques as tags of MISP's mitre-attack-pattern galaxy, what the
 * event says about itself (the archive's sha256, kcsi's version, the rule
 * set, the analysis time, warnings), an attribute per IOC (to_ids only for
 * indicators worth blocking, docs/analyze.md) and a comment per finding of
 * medium severity and above.  UUIDs are deterministic, the date the
 * checkpoint's. */
#include <stdio.h>
#include <string.h>

#include "triage/report.h"

static void misp_type(const kcsi_ioc *io, const char **type, const char **cat, bool *ids)
{
	*cat = "Network activity";
	if (!strcmp(io->type, "ipv4") || !strcmp(io->type, "ipv6")) *type = "ip-dst";
	else if (!strcmp(io->type, "domain")) *type = "domain";
	else if (!strcmp(io->type, "url")) *type = "url";
	else if (!strcmp(io->type, "email")) { *type = "email-src"; *cat = "Payload delivery"; }
	else if (!strcmp(io->type, "sha256")) { *type = "sha256"; *cat = "Artifacts dropped"; }
	else if (!strcmp(io->type, "wallet")) { *type = io->value[0] == 'b' ? "btc" : "xmr"; *cat = "Financial fraud"; }
	else if (!strcmp(io->type, "user-agent")) *type = "user-agent";
	else *type = "text";
	if (io->distinct) /* an aggregate (docs/analyze.md, "Indicators") */
		*type = "text";
	*ids = io->ids; /* worth blocking (docs/analyze.md, "Indicators") */
}

/* MITRE techniques, each once (the first 64) */
static void tags(kcsi_jsonw *w, const kcsi_report *r)
{
	const char *seen[64];
	size_t ns = 0;
	kcsi_jw_arr(w);
	for (size_t i = 0; i < r->findings.n; i++) {
		const kcsi_finding *fd = r->findings.v[i];
		for (size_t k = 0; k < fd->nmitre; k++) {
			bool dup = false;
			char tag[200];
			for (size_t j = 0; j < ns; j++)
				dup |= !strcmp(seen[j], fd->mitre[k]);
			if (dup || ns >= 64)
				continue;
			seen[ns++] = fd->mitre[k];
			if (az_attack_name(fd->mitre[k])) /* the ATT&CK galaxy's cluster: "Name - T1234" */
				snprintf(tag, sizeof(tag), "misp-galaxy:mitre-attack-pattern=\"%s - %s\"",
					 az_attack_name(fd->mitre[k]), fd->mitre[k]);
			else
				snprintf(tag, sizeof(tag), "mitre-attack:attack-pattern=\"%s\"", fd->mitre[k]);
			kcsi_jw_obj(w);
			kcsi_jw_kstr(w, "name", tag);
			kcsi_jw_obj_end(w);
		}
	}
	kcsi_jw_arr_end(w);
}

static void ioc_attribute(kcsi_jsonw *w, const kcsi_report *r, const kcsi_ioc *io)
{
	const char *type, *cat;
	bool ids;
	char u[37], key[600], cm[600];
	misp_type(io, &type, &cat, &ids);
	snprintf(key, sizeof(key), "%s|%s|%s", r->archive, io->type, io->value);
	az_uuid(key, u);
	kcsi_jw_obj(w);
	kcsi_jw_kstr(w, "uuid", u);
	kcsi_jw_kstr(w, "type", type);
	kcsi_jw_kstr(w, "category", cat);
	kcsi_jw_kstr(w, "value", io->value);
	kcsi_jw_kbool(w, "to_ids", ids);
	snprintf(cm, sizeof(cm), "%s%s%s; %s", io->type, io->klass ? ", " : "", io->klass ? io->klass : "", io->source);
	kcsi_jw_kstr(w, "comment", cm);
	kcsi_jw_obj_end(w);
}

/* An attribute of what the event says about itself. */
static void stamp_attribute(kcsi_jsonw *w, const kcsi_report *r, const char *what, const char *type,
			    const char *cat, const char *value, const char *comment)
{
	char u[37], key[600];
	snprintf(key, sizeof(key), "%s|stamp|%s", r->archive, what);
	az_uuid(key, u);
	kcsi_jw_obj(w);
	kcsi_jw_kstr(w, "uuid", u);
	kcsi_jw_kstr(w, "type", type);
	kcsi_jw_kstr(w, "category", cat);
	kcsi_jw_kstr(w, "value", value);
	kcsi_jw_kbool(w, "to_ids", false);
	kcsi_jw_kstr(w, "comment", comment);
	kcsi_jw_obj_end(w);
}

/* The archive's sha256, kcsi's version, the rule set, the analysis time. */
static void stamp(kcsi_jsonw *w, const kcsi_report *r)
{
	char t[40], v[300], rs[160];
	if (r->archive_sha256)
		stamp_attribute(w, r, "archive", "sha256", "External analysis", r->archive_sha256,
				"the checkpoint archive analysed");
	snprintf(v, sizeof(v), "kcsi %s; rules %s", r->tool_version, az_ruleset(r, rs, sizeof(rs)));
	stamp_attribute(w, r, "tool", "text", "Internal reference", v, "what made this event");
	stamp_attribute(w, r, "time", "datetime", "Other", az_analysis_time(r, t, sizeof(t)), "analysis time");
	for (size_t i = 0; i < r->nwarnings; i++) {
		snprintf(v, sizeof(v), "warning %zu", i);
		stamp_attribute(w, r, v, "comment", "Other", r->warnings[i], "a warning of the analysis");
	}
}

static void finding_attribute(kcsi_jsonw *w, const kcsi_report *r, size_t i)
{
	const kcsi_finding *fd = r->findings.v[i];
	char u[37], key[600], v[1200];
	snprintf(key, sizeof(key), "%s|finding|%zu", r->archive, i);
	az_uuid(key, u);
	kcsi_jw_obj(w);
	kcsi_jw_kstr(w, "uuid", u);
	kcsi_jw_kstr(w, "type", "comment");
	kcsi_jw_kstr(w, "category", "Other");
	snprintf(v, sizeof(v), "%s (%s): %s", fd->id, kcsi_severity_name(fd->severity), fd->title);
	kcsi_jw_kstr(w, "value", v);
	kcsi_jw_kbool(w, "to_ids", false);
	kcsi_jw_obj_end(w);
}

void az_report_misp(const kcsi_report *r, kcsi_ckpt *c, FILE *f)
{
	const kcsi_meta *m = kcsi_ckpt_meta(c);
	char ts[40], date[16], info[512], uuid[37];
	kcsi_jsonw w;
	az_report_time(c, ts, sizeof(ts));
	snprintf(date, sizeof(date), "%.10s", ts);
	snprintf(info, sizeof(info), "kcsi: %s in container %s (%s)", r->verdict, m->container ? m->container : "?",
		 m->image ? m->image : "?");
	az_uuid(r->archive, uuid);
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
	tags(&w, r);
	kcsi_jw_key(&w, "Attribute");
	kcsi_jw_arr(&w);
	stamp(&w, r);
	for (size_t i = 0; i < r->iocs.n; i++)
		ioc_attribute(&w, r, &r->iocs.v[i]);
	for (size_t i = 0; i < r->findings.n; i++)
		if (r->findings.v[i]->severity >= KCSI_SEV_MEDIUM)
			finding_attribute(&w, r, i);
	kcsi_jw_arr_end(&w);
	kcsi_jw_obj_end(&w);
	kcsi_jw_obj_end(&w);
	kcsi_jw_end(&w);
}
