/* kcsi — triage: findings with evidence, IOCs, YARA, MITRE ATT&CK, a verdict.
 *
 * kcsi_analyze() reads a checkpoint once: the process tree, descriptors,
 * sockets and their queued bytes, memory areas, environments, the rootfs
 * diff, ghost files and memfd contents; and one pass over all process memory
 * serves every scanner (strings for IOC and protocol patterns, and YARA).
 * Findings describe behaviour (what a process does, what it holds), never
 * particular names or addresses.  The verdict rules are in docs/analyze.md.
 */
#ifndef KCSI_ANALYZE_H
#define KCSI_ANALYZE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kcsi/ckpt.h"
#include "kcsi/error.h"

#define KCSI_REPORT_SCHEMA_VERSION "2.0"

/* The report: verdict, score, findings (id, severity, title, explanation,
 * MITRE ids, evidence), IOCs and a timeline.  Its model is the library's
 * (lib/evidence/finding.h); the formats below show all of it. */
typedef struct kcsi_report kcsi_report;

typedef struct kcsi_analyze_opts {
	const char *const *yara;  /* rule files or directories, NULL-terminated; the shipped rules are added */
	const char *rules_dir;    /* kcsi's own rule set (NULL: none); its VERSION file names its version */
	const char *tool_version; /* the version of kcsi the reports name (NULL: "unknown") */
	int64_t analysis_time;    /* seconds since the epoch the reports name (0: now) */
} kcsi_analyze_opts;

kcsi_code kcsi_analyze(kcsi_ckpt *c, const kcsi_analyze_opts *o, kcsi_report **out, kcsi_error *err);
void kcsi_report_free(kcsi_report *r);
/* The verdict: "malicious", "suspicious" or "clean". */
const char *kcsi_report_verdict(const kcsi_report *r);
/* Warnings of the analysis (no YARA rule loaded, the archive could not be
 * hashed ...): the CLI prints them on stderr, every report carries them. */
size_t kcsi_report_nwarnings(const kcsi_report *r);
const char *kcsi_report_warning(const kcsi_report *r, size_t i);

/* Output formats: "json", "ndjson", "text", "html", "stix", "misp", "timeline".
 * ndjson: a line for the report (verdict, archive, versions), then a line
 * per finding, then a line per IOC, each with "record": report, finding,
 * ioc. */
kcsi_code kcsi_report_write(const kcsi_report *r, kcsi_ckpt *c, const char *format, FILE *f, bool defang,
			    bool color, kcsi_error *err);

#endif
