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

#define KCSI_REPORT_SCHEMA_VERSION "1.0"

enum kcsi_severity { KCSI_SEV_INFO, KCSI_SEV_LOW, KCSI_SEV_MEDIUM, KCSI_SEV_HIGH, KCSI_SEV_CRITICAL };

typedef struct kcsi_evidence {
	const char *kind;      /* process, fd, socket, memory, file, env, rootfs, yara, tcp-queue, config */
	int64_t pid, fd;       /* -1 when not applicable */
	uint64_t address;      /* memory address (kind memory/yara), when has_address */
	bool has_address;
	char *area;            /* memory area name */
	char *path;            /* file path */
	char *connection;      /* "TCP 127.0.0.1:40182 -> 127.6.6.6:6667 ESTABLISHED" */
	char *excerpt;         /* a short piece of text (escaped, at most 200 bytes) */
	char *command;         /* a kcsi command line that shows it */
} kcsi_evidence;

typedef struct kcsi_finding {
	char *id;              /* stable, e.g. KCSI-MASQ-001 */
	enum kcsi_severity severity;
	char *title;
	char *explanation;
	const char *mitre[6];  /* ATT&CK technique ids */
	size_t nmitre;
	kcsi_evidence *ev;
	size_t nev;
	char *mitre_store;     /* owns the ids a YARA rule's meta gave */
} kcsi_finding;

typedef struct kcsi_ioc {
	const char *type;      /* ipv4, ipv6, domain, url, email, sha256, wallet, user-agent, irc-channel, irc-nick */
	char *value;
	const char *klass;     /* addresses: loopback, private, link-local, reserved, documentation, multicast, public */
	char *source;          /* where it was first seen, e.g. "connection pid 15 fd 5" or "memory pid 15 0x..." */
	unsigned rank;         /* 0 connected peer, 1 memory, 2 files, 3 queues ... (sort key) */
	uint64_t count;
} kcsi_ioc;

typedef struct kcsi_event {
	int64_t time_us;       /* microseconds since the epoch */
	char *message;
	const char *desc;      /* Timesketch timestamp_desc */
	char *path;
	int64_t pid;
} kcsi_event;

typedef struct kcsi_report {
	const char *verdict;   /* malicious, suspicious, clean */
	unsigned score;        /* 0..100 */
	kcsi_finding *findings;
	size_t nfindings;
	kcsi_ioc *iocs;
	size_t niocs;
	kcsi_event *events;
	size_t nevents;
	char **verdict_reasons;
	size_t nreasons;
	uint64_t bytes_scanned;
	unsigned yara_rules;
	char *archive;
	char *archive_sha256;
} kcsi_report;

typedef struct kcsi_analyze_opts {
	const char *const *yara;  /* rule files or directories, NULL-terminated; the shipped rules are added */
	const char *rules_dir;    /* kcsi's own rule set (NULL: none) */
} kcsi_analyze_opts;

kcsi_code kcsi_analyze(kcsi_ckpt *c, const kcsi_analyze_opts *o, kcsi_report **out, kcsi_error *err);
void kcsi_report_free(kcsi_report *r);

const char *kcsi_severity_name(enum kcsi_severity s);

/* Output formats: "json", "text", "html", "stix", "misp", "timeline". */
kcsi_code kcsi_report_write(const kcsi_report *r, kcsi_ckpt *c, const char *format, FILE *f, bool defang,
			    bool color, kcsi_error *err);

#endif
