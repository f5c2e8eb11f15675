/* kcsi — the finding model: what analyze and detonate report, and what the
 * merge of a detonation into an analyze report reads back.
 *
 * A finding is a typed record: a stable id (KCSI-MASQ-001), a severity, a
 * title and an explanation, MITRE ATT&CK technique ids, and evidence items
 * (where it was seen: pid, fd, address, area, path, connection, an excerpt of
 * the bytes, the kcsi command that shows it).  An IOC is a typed indicator
 * (ipv4, domain, url, sha256 ...) with its address class, where it was first
 * seen, and how often.
 *
 * Excerpts are kept raw, as found (any bytes, NULs too); each renderer shows
 * them once, by its own rule: the analyze report by the rule of kcsi/text.h,
 * the detonation report as printable ASCII.
 *
 * Two JSON layouts are written from the same model:
 *   analyze   (kcsi_jsonw)  evidence leaves out what does not apply (pid, fd
 *                           < 0, no address ...); an IOC is {type, value,
 *                           class, source, count}
 *   detonation (jansson)    evidence always carries pid and fd (-1: none); an
 *                           IOC is {type, value, source, count, class}
 * and the detonation layout is read back by the merge.
 */
#ifndef KCSI_EVIDENCE_FINDING_H
#define KCSI_EVIDENCE_FINDING_H
#ifndef KCSI_INTERNAL
#error "evidence/finding.h is private to libkcsi"
#endif

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/util.h"
#include "kcsi/error.h"
#include "kcsi/jsonw.h"

/* ---- severities ---- */

enum kcsi_severity { KCSI_SEV_INFO, KCSI_SEV_LOW, KCSI_SEV_MEDIUM, KCSI_SEV_HIGH, KCSI_SEV_CRITICAL };

/* "info" ... "critical" */
const char *kcsi_severity_name(enum kcsi_severity s);
/* The severity a name gives (any case), or dflt for NULL or another word. */
enum kcsi_severity kcsi_severity_parse(const char *s, enum kcsi_severity dflt);

/* ---- findings and their evidence ---- */

#define KCSI_MITRE_MAX 6

typedef struct kcsi_evidence {
	const char *kind;      /* static: process, fd, socket, memory, file, env, rootfs, yara, tcp-queue, config, dns */
	int64_t pid, fd;       /* -1 when not applicable */
	uint64_t address;      /* memory address, when has_address */
	bool has_address;
	char *area;            /* memory area, or offset in a file */
	char *path;            /* file path */
	char *connection;      /* "TCP 127.0.0.1:40182 -> 127.6.6.6:6667 ESTABLISHED" */
	char *excerpt;         /* raw bytes as found (NULs allowed), excerpt_len of them; NULL: none */
	size_t excerpt_len;
	char *command;         /* a kcsi command line that shows it */
} kcsi_evidence;

typedef struct kcsi_finding {
	char *id;              /* stable, e.g. KCSI-MASQ-001 */
	enum kcsi_severity severity;
	char *title;
	char *explanation;
	char *mitre[KCSI_MITRE_MAX]; /* ATT&CK technique ids */
	size_t nmitre;
	kcsi_evidence *ev;
	size_t nev, capev;
	size_t seq;            /* order of creation: the last sort key */
} kcsi_finding;

/* Findings in the order they were made (pointers stay valid as it grows). */
typedef struct kcsi_findings {
	kcsi_finding **v;
	size_t n, cap, made;
} kcsi_findings;

/* A new finding at the end of fs.  It takes over title and explanation
 * (malloc'd; freed when memory is short); mitre is a list of technique ids
 * separated by spaces or commas (NULL: none).  NULL when memory is short. */
kcsi_finding *kcsi_finding_add(kcsi_findings *fs, const char *id, enum kcsi_severity sev, char *title,
			       char *explanation, const char *mitre);
/* Technique ids from a list separated by spaces or commas, after those the
 * finding has (KCSI_MITRE_MAX at most). */
void kcsi_finding_add_mitre(kcsi_finding *f, const char *list);
/* One technique id as it is (it may hold spaces). */
void kcsi_finding_add_mitre_id(kcsi_finding *f, const char *id);
/* A new evidence item of f (kind: a static string), every other field
 * empty; NULL for f NULL or when memory is short. */
kcsi_evidence *kcsi_finding_evidence(kcsi_finding *f, const char *kind, int64_t pid, int64_t fd);
/* Sort: severity (highest first), id, order of creation. */
void kcsi_findings_sort(kcsi_findings *fs);
void kcsi_findings_free(kcsi_findings *fs);

/* How many of the bytes p[0, n) an excerpt keeps: whole characters until
 * their shown form (kcsi/text.h) reaches max characters. */
size_t kcsi_excerpt_fit(const void *p, size_t n, size_t max);
/* The excerpt of e: the first bytes of p[0, n) whose shown form (kcsi/text.h)
 * reaches max characters, kept raw (max SIZE_MAX: all of them). */
void kcsi_evidence_excerpt(kcsi_evidence *e, const void *p, size_t n, size_t max);
/* The excerpt of e, formatted (kept whole). */
void kcsi_evidence_excerptf(kcsi_evidence *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The excerpt as the analyze report shows it (the rule of kcsi/text.h),
 * malloc'd; NULL when there is none or memory is short. */
char *kcsi_evidence_shown_excerpt(const kcsi_evidence *e);
/* A deep copy of src into dst (dst's own fields are not freed). */
void kcsi_evidence_copy(kcsi_evidence *dst, const kcsi_evidence *src);
/* Free what e owns and empty it. */
void kcsi_evidence_clear(kcsi_evidence *e);

/* ---- indicators of compromise ---- */

#define KCSI_IOCS_MAX 100000 /* a hostile image could hold millions */

typedef struct kcsi_ioc {
	const char *type;      /* static: ipv4, ipv6, domain, url, email, sha256, wallet, user-agent, irc-channel,
				* irc-nick, irc-user */
	char *value;
	const char *klass;     /* addresses: loopback, private, link-local, reserved, documentation, multicast, public */
	char *source;          /* where it was first seen, e.g. "connection pid 15 fd 5" */
	unsigned rank;         /* 0 connected peer, 1 memory, 2 files, 3 queues ... (sort key) */
	uint64_t count;
} kcsi_ioc;

/* IOCs, each (type, value) once. */
typedef struct kcsi_iocs {
	kcsi_ioc *v;
	size_t n, cap;
	kcsi_strmap ix;        /* "type\0value" -> index in v */
} kcsi_iocs;

/* Count an IOC: a new one (type a static string; the class of an address is
 * set from its value; source NULL stays NULL), or one more sighting of a
 * known one, whose source becomes this one when its rank is lower.  Returns
 * the IOC; NULL when memory is short or the set is full. */
kcsi_ioc *kcsi_iocs_add(kcsi_iocs *s, const char *type, const char *value, unsigned rank, const char *source);
/* The IOC of that type and value, or NULL. */
kcsi_ioc *kcsi_iocs_find(const kcsi_iocs *s, const char *type, const char *value);
/* Sort: rank, type, value. */
void kcsi_iocs_sort(kcsi_iocs *s);
void kcsi_iocs_free(kcsi_iocs *s);

/* The class of an IPv4 or IPv6 address in text: loopback, private,
 * link-local, documentation, multicast, reserved or public; NULL when the
 * text is not an address. */
const char *kcsi_addr_class(const char *ip);
/* A defanged copy for pasting (198.51.100[.]23, hxxp[://]), malloc'd. */
char *kcsi_defang(const char *type, const char *value);
/* Is this a type the defanging changes (ipv4, ipv6, domain, url, email)? */
bool kcsi_ioc_type_is_network(const char *type);

/* ---- JSON ---- */

/* The analyze report's layout, to a kcsi_jsonw. */
void kcsi_finding_write_json(kcsi_jsonw *w, const kcsi_finding *f);
void kcsi_ioc_write_json(kcsi_jsonw *w, const kcsi_ioc *io, bool defang);

/* The detonation report's layout (new references). */
json_t *kcsi_findings_to_json(const kcsi_findings *fs);
json_t *kcsi_iocs_to_json(const kcsi_iocs *s);
/* Read the detonation layout back, appending to fs and s: unknown evidence
 * kinds read as "socket", unknown IOC types are left out, the count of a
 * known IOC grows by the one read; command is the evidence's command when it
 * names none. */
kcsi_code kcsi_findings_from_json(kcsi_findings *fs, const json_t *findings, const char *command, kcsi_error *err);
kcsi_code kcsi_iocs_from_json(kcsi_iocs *s, const json_t *iocs, kcsi_error *err);

#endif
