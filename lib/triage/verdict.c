/* kcsi — the verdict of a report (docs/analyze.md): a score from the
 * findings' severities, malicious / suspicious / clean, and the reasons (the
 * findings of medium severity and above).  analyze computes it once; the
 * merge of a detonation computes it again. */
#include <stdlib.h>

#include "triage/analyze_int.h"

void az_verdict(kcsi_report *r)
{
	static const unsigned weight[] = {0, 2, 8, 20, 40};
	unsigned score = 0, crit = 0, high = 0, med = 0;
	const kcsi_findings *fs = &r->findings;

	for (size_t i = 0; i < fs->n; i++) {
		enum kcsi_severity s = fs->v[i]->severity;
		score += weight[s];
		crit += s == KCSI_SEV_CRITICAL;
		high += s == KCSI_SEV_HIGH;
		med += s == KCSI_SEV_MEDIUM;
	}
	r->score = score > 100 ? 100 : score;
	if (crit || high >= 2 || score >= 60)
		r->verdict = "malicious";
	else if (high || med)
		r->verdict = "suspicious";
	else
		r->verdict = "clean";
	for (size_t i = 0; i < r->nreasons; i++)
		free(r->verdict_reasons[i]);
	free(r->verdict_reasons);
	r->nreasons = 0;
	r->verdict_reasons = calloc(fs->n + 1, sizeof(char *));
	for (size_t i = 0; r->verdict_reasons && i < fs->n; i++) {
		const kcsi_finding *f = fs->v[i];
		char *s;
		if (f->severity >= KCSI_SEV_MEDIUM &&
		    (s = az_printf("%s (%s): %s", f->id, kcsi_severity_name(f->severity), f->title)))
			r->verdict_reasons[r->nreasons++] = s;
	}
}
