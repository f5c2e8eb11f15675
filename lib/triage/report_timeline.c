/* kcsi — the triage report's timeline as Timesketch JSON lines: one line an
 * event (file times of the rootfs diff and of ghost files, the container's
 * creation and checkpoint). */
#include <stdio.h>

#include "triage/report.h"

void az_report_timeline(const kcsi_report *r, kcsi_ckpt *c, FILE *f)
{
	const kcsi_meta *m = kcsi_ckpt_meta(c);
	for (size_t i = 0; i < r->nevents; i++) {
		const kcsi_event *e = &r->events[i];
		char t[48];
		kcsi_jsonw w;
		kcsi_jw_init(&w, f, 0);
		kcsi_jw_obj(&w);
		kcsi_jw_kstr(&w, "message", e->message);
		kcsi_jw_kstr(&w, "datetime", az_event_time(e->time_us, t, sizeof(t)));
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
