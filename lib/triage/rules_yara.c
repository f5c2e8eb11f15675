/* kcsi — YARA matches as findings: one finding per rule and process (or
 * per rule in the container's files), with the strings that matched as
 * evidence.  A rule's meta gives its severity ("severity") and techniques
 * ("mitre"); a rule without techniques gets T1588.001 (known malware or
 * tool).  Called from the YARA thread of the memory pass and for files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "triage/analyze_int.h"

struct az_yara_hit {
	char *rule;
	kcsi_finding *f;
};

/* The finding of this rule for what is scanned now, or NULL. */
static kcsi_finding *finding_of(az *a, const char *rule)
{
	int64_t pid = a->target.file ? -1 : (int64_t)a->target.pid;
	kcsi_finding *f = NULL;
	for (size_t i = 0; i < a->nyh; i++)
		if (!strcmp(a->yh[i].rule, rule) && a->yh[i].f->nev && a->yh[i].f->ev[0].pid == pid)
			f = a->yh[i].f;
	return f;
}

static kcsi_finding *new_finding(az *a, const char *rule, const char *ns, const char *severity, const char *mitre,
				 const char *description)
{
	const az_scan_target *t = &a->target;
	struct az_yara_hit *q = realloc(a->yh, (a->nyh + 1) * sizeof(*q));
	char id[160];
	kcsi_finding *f;
	kcsi_evidence *e;
	if (!q)
		return NULL;
	a->yh = q;
	snprintf(id, sizeof(id), "KCSI-YARA-%s", rule);
	f = az_finding(a, id, kcsi_severity_parse(severity, KCSI_SEV_MEDIUM),
		       t->file ? az_printf("YARA rule %s matches %s", rule, t->file)
			       : az_printf("YARA rule %s matches the memory of process %u", rule, t->pid),
		       az_printf("%s (rule %s:%s).", description ? description : "A YARA rule matched", ns, rule), mitre);
	if (!f)
		return NULL;
	a->yh[a->nyh++] = (struct az_yara_hit){strdup(rule), f};
	if (!f->nmitre)
		kcsi_finding_add_mitre_id(f, "T1588.001"); /* a match without a technique: known malware/tool */
	if ((e = az_evidence(f, t->file ? "file" : "yara", t->file ? -1 : (int64_t)t->pid, -1)))
		e->command = t->file ? strdup("kcsi recover --out DIR ARCHIVE")
				     : az_printf("kcsi memgrep --pid %u --hex ARCHIVE PATTERN", t->pid);
	return f;
}

/* The matching string: "$id: " and the bytes (their first 120 characters). */
static void string_evidence(az *a, kcsi_finding *f, uint64_t offset, const char *string_id, const unsigned char *data,
			    size_t len)
{
	const az_scan_target *t = &a->target;
	kcsi_evidence *e = az_evidence(f, t->file ? "file" : "yara", t->file ? -1 : (int64_t)t->pid, -1);
	kcsi_buf b;
	if (!e)
		return;
	if (t->file) {
		e->path = strdup(t->file);
		kcsi_evidence_set_offset(e, offset);
	} else {
		e->address = t->base + offset;
		e->has_address = true;
		e->area = az_strdup(az_area_of(a, t->pid, e->address));
	}
	kcsi_buf_init(&b, SIZE_MAX / 2);
	kcsi_buf_printf(&b, "%s: ", string_id);
	kcsi_buf_add(&b, data, kcsi_excerpt_fit(data, len, 120));
	kcsi_evidence_excerpt(e, kcsi_buf_str(&b), b.len, SIZE_MAX);
	kcsi_buf_free(&b);
}

void az_on_yara(void *ctx, const char *rule, const char *ns, const char *severity, const char *mitre,
		const char *description, uint64_t offset, const char *string_id, const unsigned char *data, size_t len)
{
	az *a = ctx;
	const az_scan_target *t = &a->target;
	uint64_t addr = t->base + offset;
	kcsi_finding *f;

	/* windows overlap: count a hit once, in the window that owns it */
	if (!t->file && string_id && (addr < t->from || addr >= t->to || (t->cross && addr + len <= t->cross)))
		return;
	if (!(f = finding_of(a, rule)) && !(f = new_finding(a, rule, ns, severity, mitre, description)))
		return;
	if (string_id && f->nev < AZ_MAX_EVIDENCE)
		string_evidence(a, f, offset, string_id, data, len);
}

void az_yara_hits_free(az *a)
{
	for (size_t i = 0; i < a->nyh; i++)
		free(a->yh[i].rule);
	free(a->yh);
	a->yh = NULL;
	a->nyh = 0;
}
