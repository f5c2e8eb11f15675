/* kcsi hunt — private: the indicator set and its compiled forms, shared by
 * iocset.c (reading feeds, compiling) and engine.c (scanning). */
#ifndef KCSI_HUNT_INT_H
#define KCSI_HUNT_INT_H
#ifndef KCSI_INTERNAL
#error "hunt_int.h is private to libkcsi"
#endif

#include <hs/hs.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "base/util.h"
#include "kcsi/hunt.h"

enum ioc_type { T_LITERAL, T_HEX, T_REGEX, T_IPV4, T_IPV6, T_DOMAIN, T_URL, T_EMAIL, T_SHA256, T_SHA1, T_MD5, T_NTYPES };

struct ioc {
	enum ioc_type type;
	char *text;           /* as given (refanged) */
	char *feed, *ref;
	unsigned char *bytes; /* what is matched: the literal bytes, or the regex source */
	size_t len;
	bool caseless;
};

/* one byte form of one indicator in the Hyperscan database */
struct hpat {
	unsigned ioc;
	const char *encoding; /* "text", "utf16le", "dns-wire", "bytes", "regex" */
	size_t len;           /* its length in bytes; 0 for a regex */
	bool word_ends;       /* an address or name: the bytes around must not continue it */
	/* a regex: Hyperscan reports where a match ends (start-of-match
	 * tracking would slow every scan); PCRE2, anchored at that end, finds
	 * where it starts, looking back at most `width` bytes */
	pcre2_code *start_finder;
	size_t width;
};

struct pcre_pat {
	unsigned ioc;
	pcre2_code *code;
};

struct kcsi_iocset {
	struct ioc *v;
	size_t n, cap;
	kcsi_strmap seen;      /* "TYPE\0TEXT" -> index, to keep each indicator once */
	kcsi_strmap digests;   /* lower-case hex digest -> index */
	kcsi_strmap endpoints; /* IP address text -> index, for socket endpoints */
	struct hpat *pats;
	size_t npats;
	hs_database_t *lit;    /* the literal forms (block mode) */
	hs_database_t *re;     /* the regular expressions Hyperscan takes (block mode, leftmost start) */
	struct pcre_pat *pcre;
	size_t npcre;
	size_t max_len;        /* longest literal form */
	bool cached;           /* the databases came from the cache */
	bool compiled, want_md5, want_sha1, want_sha256;
	char summary[400];
};

const char *ioc_type_name(enum ioc_type t);

#endif
