/* kcsi — what the network rule families (rules_net.c, rules_exfil.c,
 * rules_dns.c) share: connections by socket, the writable memory of one
 * process walked for what it is about to send, decoders (hex, base32,
 * base64 and base64url), and what a piece of outgoing data is — archives
 * and the names of their members, account lists, private keys, credential
 * formats and files, encoded blobs and what they decode to — described with
 * every secret masked. */
#ifndef KCSI_TRIAGE_NETDATA_H
#define KCSI_TRIAGE_NETDATA_H
#ifndef KCSI_INTERNAL
#error "netdata.h is private to libkcsi"
/* rules_dns.c: the DNS tunnel rules on a merged detonation's query log
 * (report.json's network.dns): a zone whose names carry encoded data and that
 * the report does not name yet becomes KCSI-DNS-004; its names leave the
 * IOCs, the zone stays. */
void az_dns_merged(kcsi_report *rep, const json_t *dns);

#endif

#include <jansson.h>

#include "base/buf.h"
#include "triage/analyze_int.h"

/* ---- connections ---- */

bool az_sock_inet(const kcsi_sock *s);
/* Does a socket of the container listen on this port (any INET address)? */
bool az_listening_port(az *a, uint32_t port);
/* A connection with a peer outside the container: a connected or
 * connecting TCP socket, or a connected UDP socket, whose other end the
 * container does not hold (nor a listener of it that it reached). */
bool az_sock_external(az *a, const kcsi_sock *s);
/* An accepted connection: its local port is one the container listens on. */
bool az_sock_accepted(az *a, const kcsi_sock *s);
/* An external connection the container opened (not accepted). */
bool az_sock_outbound(az *a, const kcsi_sock *s);
/* Is a->socks[i] the first entry of its socket (one socket, several
 * descriptors or processes)? */
bool az_sock_first(az *a, size_t i);
/* Evidence of a socket: kind "socket", its connection and a command. */
kcsi_evidence *az_sock_evidence(kcsi_finding *f, const kcsi_sock *s);

/* ---- decoding ---- */

/* Each decodes n characters into out (cap bytes at most), stopping at the
 * first character not of its alphabet; returns the bytes written.  base32
 * and base64 take either case (base32) or either alphabet (base64: + / and
 * - _), padding optional. */
size_t az_unhex(const char *s, size_t n, unsigned char *out, size_t cap);
size_t az_unbase32(const char *s, size_t n, unsigned char *out, size_t cap);
size_t az_unbase64(const char *s, size_t n, unsigned char *out, size_t cap);

/* ---- what data is ---- */

enum {
	AZD_ARCHIVE = 1u << 0,    /* tar, zip (member names listed) */
	AZD_COMPRESSED = 1u << 1, /* gzip, bzip2, xz, zstd */
	AZD_ENCODED = 1u << 2,    /* a base64 or hex blob */
	AZD_ACCOUNTS = 1u << 3,   /* passwd-format account lines */
	AZD_SHADOW = 1u << 4,     /* shadow-format lines (password hashes) */
	AZD_PRIVKEY = 1u << 5,    /* PEM or OpenSSH private keys */
	AZD_CLOUDKEY = 1u << 6,   /* a cloud secret: AWS secret key, GCP key file, refresh tokens */
	AZD_TOKEN = 1u << 7,      /* tokens by format: JWT, AWS key id, GitHub, Slack, Stripe */
	AZD_CREDFILE = 1u << 8,   /* credential files: kubeconfig, docker auths, AWS credentials */
	AZD_SENSITIVE_MEMBER = 1u << 9, /* an archive member such as etc/shadow or .ssh/id_* */
};
/* what is worth stealing */
#define AZD_SENSITIVE                                                                                          \
	(AZD_ACCOUNTS | AZD_SHADOW | AZD_PRIVKEY | AZD_CLOUDKEY | AZD_TOKEN | AZD_CREDFILE | AZD_SENSITIVE_MEMBER)
/* what no ordinary client sends: secrets themselves, not a token for a request */
#define AZD_SECRET (AZD_SHADOW | AZD_PRIVKEY | AZD_CLOUDKEY | AZD_CREDFILE | AZD_SENSITIVE_MEMBER)

typedef struct az_data {
	unsigned kinds;          /* AZD_* */
	unsigned secrets;        /* distinct credential kinds seen (private key, JWT, AWS id ...) */
	kcsi_buf what;           /* a description, secrets masked ("; " between parts) */
	kcsi_strmap said;        /* parts said already */
} az_data;

typedef struct az_classifier az_classifier;

/* The patterns, compiled once per analysis; NULL when memory is short. */
az_classifier *az_classifier_new(void);
void az_classifier_free(az_classifier *k);
void az_data_init(az_data *d);
void az_data_free(az_data *d);
/* Look at n bytes (bounded inside) and add what they are to d.  start: p[0]
 * is the start of the data (a file, a request body, a blob), so that magic
 * numbers and encodings are read from there; otherwise (the middle of a
 * stream) only what can be recognised anywhere counts. */
void az_data_classify(az_classifier *k, az_data *d, const unsigned char *p, size_t n, bool start);
/* The description ("" when nothing was recognised). */
const char *az_data_what(az_data *d);
/* Is a path one that holds accounts, keys or credentials (/etc/shadow,
 * .ssh/id_*, the service-account token ...)? */
bool az_sensitive_path(const char *path);
/* The masked form of a secret: its first 8 characters, "... (N characters)" */
void az_mask(char *out, size_t cap, const char *s, size_t n);

/* ---- the memory of one process ---- */

/* cb gets the writable anonymous memory (heap, stack, anonymous areas) of
 * pid as windows: p[0, n) at address addr, of which what starts before own
 * is this window's (the rest overlaps the next window).  At most cap bytes
 * are looked at; non-zero from cb stops the walk. */
typedef int (*az_anon_cb)(void *ctx, uint64_t addr, const unsigned char *p, size_t n, size_t own);
void az_walk_anon(az *a, uint32_t pid, uint64_t cap, az_anon_cb cb, void *ctx);
/* The kind of text each byte is: AZ_CH_LINE for printable ASCII and tab,
 * AZ_CH_BREAK for LF and CR, 0 for every other byte. */
enum { AZ_CH_LINE = 1, AZ_CH_BREAK = 2 };
extern const unsigned char az_char_class[256];
/* Runs of min bytes or more of the kinds in `classes` in p[0, n) that start
 * before own: cb(ctx, offset, length). */
void az_char_runs(const unsigned char *p, size_t n, size_t own, size_t min, unsigned classes,
		  void (*cb)(void *ctx, size_t off, size_t len), void *ctx);
/* Runs of text (printable ASCII, tab, CR, LF): az_char_runs of both kinds. */
void az_text_runs(const unsigned char *p, size_t n, size_t own, size_t min,
		  void (*cb)(void *ctx, size_t off, size_t len), void *ctx);

/* The content of files of the rootfs diff, /dev/shm and ghost files, for the
 * paths asked (at most max bytes each, NULL when absent). */
typedef struct az_file_want {
	const char *path;
	unsigned char *data;     /* malloc'd; NULL: not found */
	size_t len;
	bool truncated;
} az_file_want;
void az_read_files(az *a, az_file_want *w, size_t n, size_t max);

/* rules_dns.c: the DNS tunnel rules on a merged detonation's query log
 * (report.json's network.dns): a zone whose names carry encoded data and that
 * the report does not name yet becomes KCSI-DNS-004; its names leave the
 * IOCs, the zone stays. */
void az_dns_merged(kcsi_report *rep, const json_t *dns);

#endif
