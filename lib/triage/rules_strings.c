/* kcsi — the string scanners and the rules on what they find.  Every
 * printable string of process memory (the memory pass), of socket queues and
 * of files (rules_content.c) goes through on_text(): IOCs, IRC commands,
 * stratum mining messages, download-and-run commands and URLs of scripts
 * (secrets by format are the content rules': evidence/secrets.c).  What a process holds is gathered per process
 * (az_proc) and becomes findings in the summary stage.
 *
 * During the memory pass this runs beside the YARA thread: it touches the
 * IOCs and the per-process gatherings, never the findings. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "triage/analyze_int.h"
#include "triage/netdata.h"

#define MIN_STR 6

enum { RE_IRC, RE_STRATUM, RE_DOWNLOAD, RE_SCRIPT_URL, RE_N };

struct az_strings {
	pcre2_code *re[RE_N];
	pcre2_match_data *md;
};

static const char *const patterns[RE_N] = {
	[RE_IRC] = "^(?:NICK|USER|JOIN|PRIVMSG|MODE|PING|PONG) \\S",
	[RE_STRATUM] = "mining\\.(?:subscribe|authorize|submit|notify|set_difficulty)|stratum\\+(?:tcp|ssl|tls)://|"
		       "\"method\"\\s*:\\s*\"login\".{0,80}\"agent\"",
	[RE_DOWNLOAD] = "\\b(?:curl|wget|fetch)\\b[^|;&\\n]{0,200}(?:\\|\\s*(?:ba|da|z|k)?sh\\b|\\|\\s*(?:python3?|perl)\\b|"
			"-[oO]\\s*\\S+[^\\n]{0,60}(?:chmod\\s+[+0-7]*x|\\bsh\\s))",
	[RE_SCRIPT_URL] = "\\b(?:https?|ftp)://[^\\s\"'<>]{1,200}\\.(?:sh|py|pl|elf|bin|exe|x86_64|arm7?|mips|so)\\b",
};

kcsi_code az_strings_init(az *a, kcsi_error *err)
{
	struct az_strings *s = calloc(1, sizeof(*s));
	if (!(a->strings = s))
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < RE_N; i++) {
		int ec;
		PCRE2_SIZE eo;
		s->re[i] = pcre2_compile((PCRE2_SPTR)patterns[i], PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
		if (!s->re[i])
			return kcsi_error_set(err, KCSI_ERR_GENERIC, "internal: rule pattern %zu does not compile", i);
		pcre2_jit_compile(s->re[i], PCRE2_JIT_COMPLETE);
	}
	s->md = pcre2_match_data_create(4, NULL);
	return s->md ? KCSI_OK : kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
}

void az_strings_free(az *a)
{
	struct az_strings *s = a->strings;
	if (!s)
		return;
	for (size_t i = 0; i < RE_N; i++)
		if (s->re[i])
			pcre2_code_free(s->re[i]);
	if (s->md)
		pcre2_match_data_free(s->md);
	free(s);
	a->strings = NULL;
}

static int re_find(az *a, int which, const char *p, size_t n, size_t *mo, size_t *ml)
{
	PCRE2_SIZE *ov;
	if (pcre2_match(a->strings->re[which], (PCRE2_SPTR)p, n, 0, 0, a->strings->md, NULL) < 0)
		return 0;
	ov = pcre2_get_ovector_pointer(a->strings->md);
	*mo = ov[0];
	*ml = ov[1] - ov[0];
	return 1;
}

/* Where a piece of text was seen, as the scanners describe it. */
typedef struct text_at {
	const char *kind;      /* memory, tcp-queue, rootfs-diff, ghost-file, memfd */
	uint32_t pid;          /* 0: the container's files */
	int64_t fd;
	uint64_t addr;         /* with has_addr: of the text's first byte */
	bool has_addr;
	const char *path;
	unsigned rank;         /* of the IOCs found there */
	const char *area;      /* found when needed: see area() */
	kcsi_ioc_prov pv;      /* the IOC provenance, made when needed: see prov() */
	bool has_pv;
} text_at;

static const char *area(az *a, text_at *t)
{
	if (!t->area && t->has_addr)
		t->area = az_area_of(a, t->pid, t->addr);
	return t->area;
}

static const kcsi_ioc_prov *prov(az *a, text_at *t)
{
	if (!t->has_pv)
		az_ioc_prov_of(a, &t->pv, t->kind, t->pid, t->fd, t->addr, t->has_addr, t->path);
	t->has_pv = true;
	return &t->pv;
}

/* Keep len bytes at offset off of the text as evidence of what pm holds. */
static void seen(az *a, az_proc *pm, enum az_seen what, text_at *t, size_t off, const char *p, size_t len)
{
	kcsi_evidence *e;
	if (pm->nseen[what] >= AZ_MAX_EVIDENCE)
		return;
	e = &pm->seen[what][pm->nseen[what]++];
	memset(e, 0, sizeof(*e));
	e->kind = t->kind;
	e->pid = t->pid ? (int64_t)t->pid : -1; /* pid 0: the container's files */
	e->fd = t->fd;
	e->address = t->addr + off;
	e->has_address = t->has_addr;
	e->area = az_strdup(area(a, t));
	e->path = az_strdup(t->path);
	kcsi_evidence_excerpt(e, p, len, 200);
}

/* A word of the text from q (up to a space, or a character of stop) as an IOC. */
static void word_ioc(az *a, text_at *t, const char *type, const char *q, const char *end, const char *stop,
		     size_t cap, size_t min)
{
	char w[128];
	size_t l = 0;
	if (cap > sizeof(w))
		cap = sizeof(w);
	while (q + l < end && l < cap - 1 && !isspace((unsigned char)q[l]) && !(q[l] && strchr(stop, q[l])))
		w[l] = q[l], l++;
	w[l] = '\0';
	if (l >= min)
		kcsi_iocs_add_prov(&a->r->iocs, type, w, t->rank, prov(a, t));
}

/* IRC commands at the start of a line; channels and nicks are IOCs */
static void irc_line(az *a, az_proc *pm, text_at *t, const char *p, size_t n)
{
	unsigned bit = !strncmp(p, "NICK", 4) ? AZ_IRC_NICK : !strncmp(p, "USER", 4) ? AZ_IRC_USER
		     : !strncmp(p, "JOIN", 4) ? AZ_IRC_JOIN : !strncmp(p, "PRIVMSG", 7) ? AZ_IRC_PRIVMSG
		     : !strncmp(p, "MODE", 4) ? AZ_IRC_MODE : AZ_IRC_PING;
	if (!(pm->irc_cmds & bit))
		seen(a, pm, AZ_SEEN_IRC, t, 0, p, n);
	pm->irc_cmds |= bit;
	if (bit == AZ_IRC_JOIN || bit == AZ_IRC_PRIVMSG) {
		const char *h = memchr(p, '#', n);
		if (h)
			word_ioc(a, t, "irc-channel", h, p + n, ",:", 128, 2);
	} else if (bit == AZ_IRC_NICK && n > 5) {
		word_ioc(a, t, "irc-nick", p + 5, p + n, "", 64, 1);
	}
}

/* One string of printable text. */
static void on_text(az *a, text_at *t, const char *p, size_t n)
{
	az_proc *pm = az_proc_of(a, t->pid);
	size_t mo, ml;

	if (az_iocs_may_match(p, n))
		az_iocs_scan_text(&a->iocs, p, n, t->rank, prov(a, t));
	if (!pm)
		return;
	if (n > 5 && isupper((unsigned char)p[0]) && re_find(a, RE_IRC, p, n, &mo, &ml))
		irc_line(a, pm, t, p, n);
	if ((memmem(p, n, "mining.", 7) || memmem(p, n, "stratum+", 8) || memmem(p, n, "\"login\"", 7)) &&
	    re_find(a, RE_STRATUM, p, n, &mo, &ml))
		seen(a, pm, AZ_SEEN_STRATUM, t, mo, p + mo, n - mo < 160 ? n - mo : 160);
	if ((memmem(p, n, "curl", 4) || memmem(p, n, "wget", 4) || memmem(p, n, "fetch", 5)) &&
	    re_find(a, RE_DOWNLOAD, p, n, &mo, &ml))
		seen(a, pm, AZ_SEEN_DOWNLOAD, t, mo, p + mo, ml);
	if (memmem(p, n, "://", 3) && re_find(a, RE_SCRIPT_URL, p, n, &mo, &ml))
		seen(a, pm, AZ_SEEN_SCRIPT_URL, t, mo, p + mo, ml);
}

struct strings_of {
	az *a;
	const char *kind, *path;
	uint32_t pid;
	int64_t fd;
	uint64_t base_addr;
	bool has_addr;
	const unsigned char *p;
	size_t from, to;
	unsigned rank;
};

/* A line of text: scanned in pieces of at most 4 KiB (not cut inside a
 * word), those starting in [from, to). */
static void on_line(void *ctx, size_t off, size_t n)
{
	struct strings_of *so = ctx;
	for (size_t s = off, e = off + n, len; s < e; s += len) {
		len = az_text_piece((const char *)so->p, s, e, 4096) - s;
		text_at t = {so->kind, so->pid, so->fd, so->base_addr + s, so->has_addr, so->path, so->rank, NULL, {0}, false};
		if (len >= MIN_STR && s >= so->from && s < so->to)
			on_text(so->a, &t, (const char *)so->p + s, len);
	}
}

void az_strings_of(az *a, const char *kind, uint32_t pid, int64_t fd, uint64_t base_addr, bool has_addr,
		   const char *path, const unsigned char *p, size_t n, size_t from, size_t to, unsigned rank)
{
	struct strings_of so = {a, kind, path, pid, fd, base_addr, has_addr, p, from, to, rank};
	az_char_runs(p, n, n, MIN_STR, AZ_CH_LINE, on_line, &so);
}

/* A finding of what a process holds, with the evidence gathered. */
static void holds(az *a, az_proc *pm, enum az_seen what, const char *id, enum kcsi_severity sev, char *title,
		  char *expl, const char *mitre)
{
	kcsi_finding *f = az_finding(a, id, sev, title, expl, mitre);
	for (size_t i = 0; i < pm->nseen[what]; i++) {
		kcsi_evidence *e = az_evidence(f, "", -1, -1);
		if (!e)
			return;
		kcsi_evidence_copy(e, &pm->seen[what][i]);
	}
}

/* KCSI-PROTO-IRC-001, -STRATUM-001, KCSI-DL-001, -002 */
void az_family_strings(az *a)
{
	for (size_t i = 0; i < a->npm; i++) {
		az_proc *pm = &a->pm[i];
		unsigned irc = pm->irc_cmds & (AZ_IRC_NICK | AZ_IRC_USER | AZ_IRC_JOIN | AZ_IRC_PRIVMSG);
		char who[64];
		if (pm->pid)
			snprintf(who, sizeof(who), "process %u", pm->pid);
		else
			snprintf(who, sizeof(who), "a file of the container");
		if (__builtin_popcount(irc) >= 2)
			holds(a, pm, AZ_SEEN_IRC, "KCSI-PROTO-IRC-001", KCSI_SEV_HIGH, az_printf("IRC protocol in %s", who),
			      az_printf("The memory or connections of %s hold IRC commands (%s%s%s%s): the program talks "
					"IRC, the channel of many bots' command and control.", who,
					irc & AZ_IRC_NICK ? "NICK " : "", irc & AZ_IRC_USER ? "USER " : "",
					irc & AZ_IRC_JOIN ? "JOIN " : "", irc & AZ_IRC_PRIVMSG ? "PRIVMSG" : ""),
			      "T1071");
		if (pm->nseen[AZ_SEEN_STRATUM])
			holds(a, pm, AZ_SEEN_STRATUM, "KCSI-PROTO-STRATUM-001", KCSI_SEV_HIGH,
			      az_printf("Mining protocol (stratum) in %s", who),
			      az_printf("%s holds stratum mining-protocol messages or pool addresses: cryptocurrency "
					"mining on the victim's resources.", who),
			      "T1496 T1071");
		if (pm->nseen[AZ_SEEN_DOWNLOAD])
			holds(a, pm, AZ_SEEN_DOWNLOAD, "KCSI-DL-001", KCSI_SEV_HIGH, az_printf("Download-and-run command in %s", who),
			      az_printf("%s holds a command that downloads something and runs it.", who), "T1105 T1059.004");
		if (pm->nseen[AZ_SEEN_SCRIPT_URL])
			holds(a, pm, AZ_SEEN_SCRIPT_URL, "KCSI-DL-002", KCSI_SEV_MEDIUM,
			      az_printf("URL of a script or program in %s", who),
			      az_printf("%s holds the address of a script or program to fetch (a next stage).", who), "T1105");
	}
}
