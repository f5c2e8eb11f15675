/* kcsi — the triage report's renderers, one file a format (report_*.c), and
 * the helpers they share (report.c). */
#ifndef KCSI_TRIAGE_REPORT_H
#define KCSI_TRIAGE_REPORT_H
#ifndef KCSI_INTERNAL
#error "report.h is private to libkcsi"
#endif

#include <stdio.h>

#include "triage/analyze_int.h"

void az_report_json(const kcsi_report *r, kcsi_ckpt *c, FILE *f, bool defang);
void az_report_ndjson(const kcsi_report *r, kcsi_ckpt *c, FILE *f, bool defang);
void az_report_text(const kcsi_report *r, kcsi_ckpt *c, FILE *f, bool defang, bool color);
void az_report_html(const kcsi_report *r, kcsi_ckpt *c, FILE *f, bool defang);
void az_report_stix(const kcsi_report *r, kcsi_ckpt *c, FILE *f);
void az_report_misp(const kcsi_report *r, kcsi_ckpt *c, FILE *f);
void az_report_timeline(const kcsi_report *r, kcsi_ckpt *c, FILE *f);

/* An event's time: 2024-05-01T10:00:00.123456Z */
const char *az_event_time(int64_t us, char *buf, size_t cap);
/* The time STIX and MISP objects carry: the checkpoint's, not now (the same
 * report twice is the same bytes). */
const char *az_report_time(kcsi_ckpt *c, char *buf, size_t cap);
/* A deterministic UUID (version 5 layout) from a name. */
void az_uuid(const char *name, char out[37]);
/* The analysis time, 2026-11-30T18:00:00Z. */
const char *az_analysis_time(const kcsi_report *r, char *buf, size_t cap);
/* The rule set as one line: "VERSION (sha256 0123456789abcdef)" or "none". */
const char *az_ruleset(const kcsi_report *r, char *buf, size_t cap);
/* ATT&CK: a technique's name (NULL: not in kcsi's table), its page. */
const char *az_attack_name(const char *id);
void az_attack_url(const char *id, char *out, size_t cap);
/* The findings that decided the verdict (the critical ones, the high ones,
 * or every medium and above), at most cap, and the rule that applied. */
size_t az_verdict_basis(const kcsi_report *r, const kcsi_finding **out, size_t cap, const char **rule);
/* Free what az_report_stamp made (kcsi_report_free). */
void az_report_stamp_free(kcsi_report *r);

#endif
