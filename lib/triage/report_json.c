/* kcsi — the triage report as JSON (the schema of docs/analyze.md): the
 * verdict, the container, its processes, the findings and the IOCs. */
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

void az_report_json(const kcsi_report *r, kcsi_ckpt *c, FILE *f, bool defang)
{
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
