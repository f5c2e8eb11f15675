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

#endif
