/* kcsi — the finding model: what analyze and detonate report, and what the
 * merge of a detonation into an analyze report reads back.
 *
 * A finding is a typed record: a stable id (KCSI-MASQ-001), a severity, a
 * title and an explanation, MITRE ATT&CK technique ids, and evidence items
 * (where it was seen: pid, fd, address, area, path, file offset, connection,
 * an excerpt of the bytes, the kcsi command that shows it).  An IOC is a typed
 * indicator (ipv4, domain, url, sha256 ...) with its class, its provenance
 * (where it was first seen, as an object: kind, pid, fd, address, area, path,
 * offset), how often it was seen, and whether it is worth blocking.
 *
 * Structured fields are the model; text is rendered from them.  A connection
 * is {proto, src, sport, dst, dport, state} with the key names of `kcsi net
 * --json`; its text form ("TCP 127.0.0.1:40182 -> 127.6.6.6:6667
 * ESTABLISHED") is kept beside it for the text and HTML reports.
 *
 * Excerpts are kept raw, as found (any bytes, NULs too); each renderer shows
 * them once, by its own rule: the analyze report by the rule of kcsi/text.h,
 * the detonation report as printable ASCII.  An evidence item that holds
 * nothing but its kind is never written (kcsi_evidence_is_empty).
 *
 * Two JSON layouts are written from the same model (docs/analyze.md, "Report
 * schema"):
 *   analyze   (kcsi_jsonw)  evidence leaves out what does not apply (pid, fd
 *                           < 0, no address ...); an IOC is {type, value,
 *                           class, to_ids, source, provenance, count}
 *   detonation (jansson)    evidence always carries pid and fd (-1: none); an
 *                           IOC is {type, value, source, provenance, count,
 *                           class}
 * and the merge reads the detonation layout back, old (schema 1: connection
 * and source as text) and new.
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

/* A connection, as `kcsi net --json` names its parts. */
typedef struct kcsi_conn {
	char *proto;           /* TCP, UDP */
	char *src, *dst;       /* addresses */
	uint32_t sport, dport;
	char *state;           /* ESTABLISHED, LISTEN ...; NULL: none */
} kcsi_conn;

typedef struct kcsi_evidence {
	const char *kind;      /* static: process, fd, socket, memory, file, env, rootfs, yara, tcp-queue, config, dns */
	int64_t pid, fd;       /* -1 when not applicable */
	uint64_t address;      /* memory address, when has_address */
	bool has_address;
	uint64_t offset;       /* offset in a file or a queue, when has_offset */
	bool has_offset;
	char *area;            /* memory area: heap, stack, anon, a mapped file's path ... */
	char *path;            /* file path */
	kcsi_conn conn;        /* when has_conn (kcsi_evidence_set_conn) */
	bool has_conn;
	char *connection;      /* text: "TCP 127.0.0.1:40182 -> 127.6.6.6:6667 ESTABLISHED" (detonation
				* evidence may have the text only) */
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
/* The connection of e, structured and as text (addresses in brackets when
 * they hold a ':'); state NULL: none. */
void kcsi_evidence_set_conn(kcsi_evidence *e, const char *proto, const char *src, uint32_t sport, const char *dst,
			    uint32_t dport, const char *state);
/* A file or queue offset for e. */
void kcsi_evidence_set_offset(kcsi_evidence *e, uint64_t offset);
/* Does e hold nothing but its kind (no pid, fd, address, offset, area, path,
 * connection, excerpt or command)?  Such items are never written. */
bool kcsi_evidence_is_empty(const kcsi_evidence *e);
/* A deep copy of src into dst (dst's own fields are not freed). */
void kcsi_evidence_copy(kcsi_evidence *dst, const kcsi_evidence *src);
/* Free what e owns and empty it. */
void kcsi_evidence_clear(kcsi_evidence *e);

/* ---- indicators of compromise ---- */

#define KCSI_IOCS_MAX 100000 /* a hostile image could hold millions */

/* Where an IOC was seen.  As an argument the strings are borrowed; in a
 * kcsi_ioc they are the IOC's own copies. */
typedef struct kcsi_ioc_prov {
	const char *kind;      /* static: connection, memory, file, queue, env, yara, detonation; NULL: only
				* the text below is known */
	const char *origin;    /* static, files: rootfs-diff, ghost-file, memfd, devshm; NULL */
	int64_t pid, fd;       /* -1 when not applicable */
	uint64_t address;      /* memory, when has_address */
	bool has_address;
	uint64_t offset;       /* in the file or the queue, when has_offset */
	bool has_offset;
	const char *area;      /* memory: heap, stack, anon, or the path of a file-backed mapping */
	const char *path;      /* a file's path */
	const char *detail;    /* free text: what recorded it (a detonation's log), or the whole of an
				* old-style text source */
	bool image;            /* memory: a file-backed mapping of a file of the image (not in the rootfs
				* diff, not deleted, not a memfd): the image's own bytes */
} kcsi_ioc_prov;

/* A provenance of nothing (pid, fd -1). */
#define KCSI_IOC_PROV_NONE ((kcsi_ioc_prov){.pid = -1, .fd = -1})

typedef struct kcsi_ioc {
	const char *type;      /* static: ipv4, ipv6, domain, url, email, sha256, wallet, user-agent, irc-channel,
				* irc-nick, irc-user */
	char *value;
	const char *klass;     /* addresses: loopback, private, link-local, reserved, documentation, multicast,
				* public; names (domain, url, email): public, documentation, reserved, internal */
	kcsi_ioc_prov prov;    /* where it was first seen (the best place: lowest rank, not the image) */
	char *source;          /* prov as text, e.g. "connection pid 15 fd 5", "memory pid 15 0x5a... (heap)" */
	unsigned rank;         /* 0 connected peer, 1 memory, 2 files, 3 queues ... (sort key) */
	uint64_t count;        /* sightings */
	uint64_t distinct;     /* an aggregate ("*@example.com"): the distinct values it stands for; else 0 */
	bool image_only;       /* every sighting was in the image's own mapped files */
	bool ids;              /* worth blocking: to_ids in MISP, an indicator in STIX (docs/analyze.md) */
} kcsi_ioc;

/* IOCs, each (type, value) once. */
typedef struct kcsi_iocs {
	kcsi_ioc *v;
	size_t n, cap;
	kcsi_strmap ix;        /* "type\0value" -> index in v */
} kcsi_iocs;

/* Count an IOC: a new one (type a static string; the class of an address is
 * set from its value), or one more sighting of a known one, whose provenance
 * becomes this one when its rank is lower, or the same rank and the known one
 * was the image's own bytes and this is not.  prov NULL: none.  Returns the
 * IOC; NULL when memory is short or the set is full. */
kcsi_ioc *kcsi_iocs_add_prov(kcsi_iocs *s, const char *type, const char *value, unsigned rank,
			     const kcsi_ioc_prov *prov);
/* The same with a provenance known only as text (source NULL: none). */
kcsi_ioc *kcsi_iocs_add(kcsi_iocs *s, const char *type, const char *value, unsigned rank, const char *source);
/* The IOC of that type and value, or NULL. */
kcsi_ioc *kcsi_iocs_find(const kcsi_iocs *s, const char *type, const char *value);
/* Keep only the IOCs keep() says yes to (in order); the index follows. */
void kcsi_iocs_filter(kcsi_iocs *s, bool (*keep)(const kcsi_ioc *io, void *ctx), void *ctx);
/* Sort: rank, type, value. */
void kcsi_iocs_sort(kcsi_iocs *s);
void kcsi_iocs_free(kcsi_iocs *s);
/* The text form of a provenance (the IOC's source), malloc'd. */
char *kcsi_ioc_prov_text(const kcsi_ioc_prov *p);

/* The class of an IPv4 or IPv6 address in text: loopback, private,
 * link-local, documentation, multicast, reserved or public; NULL when the
 * text is not an address. */
const char *kcsi_addr_class(const char *ip);
/* The class of a host name (lower case): documentation (example.com ...),
 * reserved (special-use names: .test, .invalid, .localhost, .local,
 * .internal, .alt, and .arpa's reverse names), public (a registrable domain under a suffix
 * of the Public Suffix List), internal (dotted, but under no known suffix);
 * NULL when it is not a host name of two labels or more (or "localhost"). */
const char *kcsi_name_class(const char *name);
/* Is the name (lower case) under a reference site: a standards body, a
 * language or free-software project, a distribution, an encyclopaedia —
 * sites that runtimes and tools quote in their documentation, licences and
 * error messages, so that their names fill the memory of any process that
 * loaded such code?  (Code hosts, package registries, paste and file
 * sharing sites are not reference sites: attackers fetch from them.) */
bool kcsi_reference_name(const char *name);
/* The class of a host: an address's or a name's (NULL: neither). */
const char *kcsi_host_class(const char *host);
/* The host of a URL (after the userinfo; without brackets or port), lower
 * case, into host[cap]; its length (0: none). */
size_t kcsi_url_host(const char *url, char *host, size_t cap);
/* A defanged copy for pasting (198.51.100[.]23, hxxp[://]), malloc'd. */
char *kcsi_defang(const char *type, const char *value);
/* Is this a type the defanging changes (ipv4, ipv6, domain, url, email)? */
bool kcsi_ioc_type_is_network(const char *type);

/* ---- JSON ---- */

/* The analyze report's layout, to a kcsi_jsonw: an object each. */
void kcsi_finding_write_json(kcsi_jsonw *w, const kcsi_finding *f);
void kcsi_ioc_write_json(kcsi_jsonw *w, const kcsi_ioc *io, bool defang);
/* The same objects' members only (the caller opens and closes the object:
 * NDJSON lines add a member of their own). */
void kcsi_finding_write_json_members(kcsi_jsonw *w, const kcsi_finding *f);
void kcsi_ioc_write_json_members(kcsi_jsonw *w, const kcsi_ioc *io, bool defang);

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
