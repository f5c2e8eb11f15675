/* kcsi — the triage report as JSON (the schema of docs/analyze.md): what
 * the report says about itself, the verdict, the container, its processes,
 * the findings and the IOCs; and as NDJSON (a line for the report, then one
 * per finding and per IOC) for jq and SIEMs. */
#include <stdio.h>

#include "triage/report.h"

static void container(kcsi_jsonw *w, const kcsi_report *r, const kcsi_meta *m)
{
	kcsi_jw_obj(w);
	kcsi_jw_kstr(w, "archive", r->archive);
	kcsi_jw_kstr(w, "name", m->container);
	kcsi_jw_kstr(w, "id", m->id);
	kcsi_jw_kstr(w, "image", m->image);
	kcsi_jw_kstr(w, "engine", m->engine);
	kcsi_jw_kstr(w, "pod", m->pod);
	kcsi_jw_kstr(w, "namespace", m->namespace_);
	kcsi_jw_kstr(w, "created", m->created);
	kcsi_jw_kstr(w, "checkpointed", m->checkpointed);
	kcsi_jw_kstr(w, "hostname", m->hostname);
	kcsi_jw_obj_end(w);
}

static void processes(kcsi_jsonw *w, kcsi_ckpt *c)
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

/* What the report says about itself: versions, the analysis time, the
 * archive's sha256, the warnings (members of the open object). */
static void stamp(kcsi_jsonw *w, const kcsi_report *r)
{
	char t[40];
	kcsi_jw_kstr(w, "schema_version", KCSI_REPORT_SCHEMA_VERSION);
	kcsi_jw_kstr(w, "kcsi_version", r->tool_version);
	kcsi_jw_key(w, "ruleset");
	kcsi_jw_obj(w);
	kcsi_jw_kstr(w, "version", r->rules_version);
	kcsi_jw_kstr(w, "sha256", r->rules_sha256);
	kcsi_jw_kuint(w, "rules", r->yara_rules);
	kcsi_jw_obj_end(w);
	kcsi_jw_kstr(w, "analysis_time", az_analysis_time(r, t, sizeof(t)));
	kcsi_jw_kstr(w, "archive_sha256", r->archive_sha256);
	kcsi_jw_key(w, "warnings");
	kcsi_jw_arr(w);
	for (size_t i = 0; i < r->nwarnings; i++)
		kcsi_jw_str(w, r->warnings[i]);
	kcsi_jw_arr_end(w);
}

void az_report_ndjson(const kcsi_report *r, kcsi_ckpt *c, FILE *f, bool defang)
{
	const kcsi_meta *m = kcsi_ckpt_meta(c);
	kcsi_jsonw w;
	kcsi_jw_init(&w, f, 0);
	w.lines = true;
	kcsi_jw_arr(&w);
	kcsi_jw_obj(&w);
	kcsi_jw_kstr(&w, "record", "report");
	stamp(&w, r);
	kcsi_jw_kstr(&w, "verdict", r->verdict);
	kcsi_jw_kuint(&w, "score", r->score);
	kcsi_jw_kstr(&w, "archive", r->archive);
	kcsi_jw_kstr(&w, "container", m->container);
	kcsi_jw_kuint(&w, "findings", r->findings.n);
	kcsi_jw_kuint(&w, "iocs", r->iocs.n);
	kcsi_jw_obj_end(&w);
	for (size_t i = 0; i < r->findings.n; i++) {
		kcsi_jw_obj(&w);
		kcsi_jw_kstr(&w, "record", "finding");
		kcsi_finding_write_json_members(&w, r->findings.v[i]);
		kcsi_jw_obj_end(&w);
	}
	for (size_t i = 0; i < r->iocs.n; i++) {
		kcsi_jw_obj(&w);
		kcsi_jw_kstr(&w, "record", "ioc");
		kcsi_ioc_write_json_members(&w, &r->iocs.v[i], defang);
		kcsi_jw_obj_end(&w);
	}
	kcsi_jw_arr_end(&w);
	kcsi_jw_end(&w);
}

void az_report_json(const kcsi_report *r, kcsi_ckpt *c, FILE *f, bool defang)
{
	kcsi_jsonw w;
	kcsi_jw_init(&w, f, 2);
	kcsi_jw_obj(&w);
	stamp(&w, r);
	kcsi_jw_kstr(&w, "verdict", r->verdict);
	kcsi_jw_kuint(&w, "score", r->score);
	kcsi_jw_key(&w, "verdict_reasons");
	kcsi_jw_arr(&w);
	for (size_t i = 0; i < r->nreasons; i++)
		kcsi_jw_str(&w, r->verdict_reasons[i]);
	kcsi_jw_arr_end(&w);
	kcsi_jw_key(&w, "container");
	container(&w, r, kcsi_ckpt_meta(c));
	kcsi_jw_key(&w, "processes");
	processes(&w, c);
	kcsi_jw_key(&w, "findings");
	kcsi_jw_arr(&w);
	for (size_t i = 0; i < r->findings.n; i++)
		kcsi_finding_write_json(&w, r->findings.v[i]);
	kcsi_jw_arr_end(&w);
	kcsi_jw_key(&w, "iocs");
	kcsi_jw_arr(&w);
	for (size_t i = 0; i < r->iocs.n; i++)
		kcsi_ioc_write_json(&w, &r->iocs.v[i], defang);
	kcsi_jw_arr_end(&w);
	kcsi_jw_key(&w, "stats");
	kcsi_jw_obj(&w);
	kcsi_jw_kuint(&w, "memory_bytes_scanned", r->bytes_scanned);
	kcsi_jw_kuint(&w, "yara_rules", r->yara_rules);
	kcsi_jw_obj_end(&w);
	kcsi_jw_obj_end(&w);
	kcsi_jw_end(&w);
}
