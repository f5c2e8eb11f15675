/* kcsi — the triage engine's private parts: the report, the analysis that
 * every rule family works on, the registry of families, and the scanners
 * they share (strings, IOCs, YARA, file contents).  lib/triage/README.md
 * says which file holds what and how to add a rule family. */
#ifndef KCSI_ANALYZE_INT_H
#define KCSI_ANALYZE_INT_H
#ifndef KCSI_INTERNAL
#error "analyze_int.h is private to libkcsi"
#endif

#include <pthread.h>
#include "base/util.h"
#include "evidence/finding.h"
#include "kcsi/analyze.h"
#include "kcsi/mem.h"

/* ---- the report ---- */

typedef struct kcsi_event {
	int64_t time_us;       /* microseconds since the epoch */
	char *message;
	const char *desc;      /* Timesketch timestamp_desc */
	char *path;
	int64_t pid;
	size_t seq;            /* order of creation: the last sort key */
} kcsi_event;

struct kcsi_report {
	const char *verdict;   /* malicious, suspicious, clean */
	unsigned score;        /* 0..100 */
	kcsi_findings findings;
	kcsi_iocs iocs;
	kcsi_event *events;
	size_t nevents, capevents;
	char **verdict_reasons;
	size_t nreasons;
	uint64_t bytes_scanned;
	unsigned yara_rules;
	char *archive;
	char *archive_sha256;  /* NULL when the archive could not be read again */
	char *tool_version;    /* kcsi's */
	char *rules_version;   /* the VERSION of kcsi's rule set, NULL: none loaded */
	char *rules_sha256;    /* of the rule files loaded (names and contents), NULL: none */
	int64_t analysis_time; /* seconds since the epoch */
	char **warnings;
	size_t nwarnings;
};

/* report.c: what every report says about itself (the archive's sha256,
 * kcsi's version, the rule set's, the analysis time) and the warning when
 * no YARA rule is loaded; rules_sha256 from kcsi_yara_digest (NULL: none). */
void az_report_stamp(kcsi_report *r, const kcsi_analyze_opts *o, const char *rules_sha256);
/* The archive's hash into the report (hex NULL: it could not be read again). */
void az_report_archive_hash(kcsi_report *r, const char *hex);
/* report.c: a warning on the report (msg taken over). */
void az_report_warn(kcsi_report *r, char *msg);

/* verdict.c: score, verdict and the reasons (medium and above) from the
 * findings, by the rules of docs/analyze.md. */
void az_verdict(kcsi_report *r);

/* ---- IOCs in text (ioc_extract.c) ---- */

typedef struct az_ioc_scanner {
	kcsi_iocs *out;
	void *re; /* compiled patterns */
} az_ioc_scanner;

kcsi_code az_ioc_scanner_init(az_ioc_scanner *s, kcsi_iocs *out, kcsi_error *err);
void az_ioc_scanner_free(az_ioc_scanner *s);
/* Cheap test: can this text hold an IOC? */
bool az_iocs_may_match(const char *p, size_t n);
/* Where a piece of text from p[s] to at most p[e] of no more than max
 * bytes ends: after the last byte that cannot be inside an indicator
 * (space, quotes, brackets ...) when the text goes on, so that no host name
 * is cut in two (smtp.example.com into s and mtp.example.com). */
size_t az_text_piece(const char *p, size_t s, size_t e, size_t max);
/* rules_history.c: what a script's text does, by the shell-history patterns
 * (download and run, remote shells, credential reads, covering tracks,
 * persistence; not discovery): the behaviours' names (", "-separated) into
 * names and their ATT&CK techniques into mitre; how many rules matched. */
size_t az_script_behaviours(const char *text, size_t len, char *names, size_t ncap, char *mitre, size_t mcap);
/* Find IOCs in a piece of text (a string from memory, a file, a queue);
 * where is the provenance of p[0] (NULL: none); each IOC's address or
 * offset is its own. */
void az_iocs_scan_text(az_ioc_scanner *s, const char *p, size_t n, unsigned rank, const kcsi_ioc_prov *where);

/* ---- YARA (yara.c) ---- */

typedef struct kcsi_yara kcsi_yara;
typedef void (*kcsi_yara_hit)(void *ctx, const char *rule, const char *ns, const char *severity,
			      const char *mitre, const char *description, uint64_t offset, const char *string_id,
			      const unsigned char *data, size_t len);
/* Compile rule files (and *.yar / *.yara in directories). */
kcsi_code kcsi_yara_load(const char *const *paths, kcsi_yara **out, unsigned *nrules, kcsi_error *err);
void kcsi_yara_free(kcsi_yara *y);
/* The sha256 of the rule files loaded (each file's name and sha256, in the
 * order loaded), as hex. */
const char *kcsi_yara_digest(const kcsi_yara *y);
kcsi_code kcsi_yara_scan(kcsi_yara *y, const unsigned char *p, size_t n, kcsi_yara_hit cb, void *ctx,
			 kcsi_error *err);

/* ---- the analysis ---- */

#define AZ_MAX_EVIDENCE 8          /* evidence a scanner keeps per finding and process */
#define AZ_MAX_FILE_SCAN (64u << 20) /* bytes of one file looked at */

/* Protocol and command text the string scanners found in one process (or,
 * pid 0, in the container's files), kept until the summary rules. */
enum { AZ_IRC_NICK = 1, AZ_IRC_USER = 2, AZ_IRC_JOIN = 4, AZ_IRC_PRIVMSG = 8, AZ_IRC_PING = 16, AZ_IRC_MODE = 32 };
enum az_seen { AZ_SEEN_IRC, AZ_SEEN_STRATUM, AZ_SEEN_DOWNLOAD, AZ_SEEN_SCRIPT_URL, AZ_SEEN_N };

typedef struct az_proc {
	uint32_t pid;
	unsigned irc_cmds; /* AZ_IRC_* seen */
	kcsi_evidence seen[AZ_SEEN_N][AZ_MAX_EVIDENCE];
	size_t nseen[AZ_SEEN_N];
	kcsi_vma *vmas;
	size_t nvmas;
} az_proc;

struct az_strings;  /* rules_strings.c: compiled patterns */
struct az_content_state; /* triage/content.h: what the content rules gather per process */
struct az_yara_hit; /* rules_yara.c: rule -> finding */

/* What is being scanned when YARA reports a hit. */
typedef struct az_scan_target {
	uint32_t pid;
	const char *file;      /* a file's path, NULL for memory */
	uint64_t base, from, to, cross; /* the memory window (kcsi_window) */
} az_scan_target;

/* The archive's SHA-256 for the report, made on a thread of its own while
 * the analysis runs (a gigabyte is most of a second of one core). */
typedef struct az_archive_hash {
	pthread_t th;
	bool started;
	char *path;
	char hex[65];
	bool ok;
} az_archive_hash;

typedef struct az {
	kcsi_ckpt *c;
	kcsi_report *r;
	az_archive_hash hash;
	az_ioc_scanner iocs;
	kcsi_yara *yara;
	kcsi_fd *fds;
	size_t nfds;
	kcsi_sock *socks;
	size_t nsocks;
	struct az_strings *strings;
	az_proc *pm;           /* one per process, then pid 0: the container's files */
	size_t npm;
	struct az_yara_hit *yh;
	size_t nyh;
	az_scan_target target;
	struct az_content_state *content;
} az;

/* A finding of the report (title and explanation are taken over; mitre: ids
 * separated by spaces); NULL when memory is short. */
kcsi_finding *az_finding(az *a, const char *id, enum kcsi_severity sev, char *title, char *expl, const char *mitre);
/* An evidence item of f, unless f is NULL or holds 4 * AZ_MAX_EVIDENCE. */
kcsi_evidence *az_evidence(kcsi_finding *f, const char *kind, int64_t pid, int64_t fd);
/* A timeline event (msg is taken over; nothing for a time <= 0). */
void az_event(az *a, int64_t t_us, const char *desc, char *msg, const char *path, int64_t pid);
char *az_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *az_strdup(const char *s); /* NULL stays NULL */
const char *az_base(const char *path); /* the last component ("" for NULL) */
/* Append item to the ", "-separated list[0, *len) when it fits in cap
 * (with room to spare); whether it was added. */
bool az_list_add(char *list, size_t cap, size_t *len, const char *item);
/* What the scanners gathered for pid (0: the container's files), or NULL. */
az_proc *az_proc_of(az *a, uint32_t pid);
/* The name of the memory area of pid that holds addr ("?" when unknown). */
const char *az_area_of(az *a, uint32_t pid, uint64_t addr);
/* ioc_extract.c: the provenance of text seen in kind (memory, tcp-queue,
 * rootfs-diff, ghost-file, memfd, devshm) of pid (0: none) at an address
 * (memory, has_addr) or an offset (at); strings borrowed from the analysis. */
void az_ioc_prov_of(az *a, kcsi_ioc_prov *p, const char *kind, uint32_t pid, int64_t fd, uint64_t at, bool has_addr,
		    const char *path);
/* ioc_extract.c: the provenance of a whole file (origin as above, pid and fd
 * of a process holding it or -1), into p; returns p. */
const kcsi_ioc_prov *az_ioc_prov_file(kcsi_ioc_prov *p, const char *origin, const char *path, int64_t pid, int64_t fd);
/* ioc_extract.c: after the rule families, before the sort: IOCs that only
 * the image's own mapped files held are left out, repeated low-value ones
 * aggregated, and those worth blocking marked (docs/analyze.md,
 * "Indicators"). */
void az_iocs_finish(az *a);
/* ioc_extract.c: mark the IOCs worth blocking from the report's findings
 * (the merge of a detonation does it again). */
void az_iocs_mark_ids(kcsi_report *r);
/* rules_process.c: a shell, an interpreter or a relay tool (python3.11 too) */
bool az_is_shell_or_interp(const char *exe);
/* rules_process.c: a command shell or a relay tool, not a general-purpose
 * interpreter (which legitimately serves the network) */
bool az_is_plain_shell(const char *exe);

/* ---- the rule families (families.h lists them, in the order they run) ---- */

enum az_stage {
	AZ_BEFORE_MEMORY, /* the checkpoint's model: processes, descriptors, sockets, areas, configuration */
	AZ_AFTER_MEMORY,  /* contents after the memory pass: ghost files, memfds, the rootfs diff */
	AZ_SUMMARY,       /* conclusions from what the scanners gathered on the way */
};

typedef struct az_family {
	const char *name;
	enum az_stage stage;
	void (*run)(az *a);
} az_family;

#define AZ_FAMILY(name, stage) void az_family_##name(az *a);
#include "triage/families.h"
#undef AZ_FAMILY

extern const az_family az_families[];
extern const size_t az_nfamilies;

/* ---- scanners the families share ---- */

/* rules_strings.c: the string scanners (protocols, commands, secrets, IOCs) */
kcsi_code az_strings_init(az *a, kcsi_error *err);
void az_strings_free(az *a);
/* Split bytes into printable strings and scan each; only strings starting in
 * [from, to) count (memory windows overlap).  kind and rank say where the
 * bytes are (memory 1, files 2, queues 3); pid 0: the container's files. */
void az_strings_of(az *a, const char *kind, uint32_t pid, int64_t fd, uint64_t base_addr, bool has_addr,
		   const char *path, const unsigned char *p, size_t n, size_t from, size_t to, unsigned rank);

/* rules_yara.c: YARA hits become findings (a.target says what is scanned) */
void az_on_yara(void *ctx, const char *rule, const char *ns, const char *severity, const char *mitre,
		const char *description, uint64_t offset, const char *string_id, const unsigned char *data, size_t len);
void az_yara_hits_free(az *a);

/* memory_pass.c: every process's memory once, for the strings and YARA */
kcsi_code az_memory_pass(az *a, kcsi_error *err);

#endif
