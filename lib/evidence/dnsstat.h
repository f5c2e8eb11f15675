/* kcsi — DNS names grouped by zone, with the marks that tunnels and DNS
 * exfiltration leave: many unique subdomain labels under one zone, long
 * labels, high entropy, encoded payloads (hex, base32, base64url).
 *
 * Used on the sinkhole's query log (detonate) and on names found in memory,
 * TCP queues and files (analyze).  The zone is the registrable domain by the
 * Public Suffix List (libpsl's built-in list), lower-cased; a name whose
 * suffix the list does not know keeps its last two labels. */
#ifndef KCSI_DNSSTAT_H
#define KCSI_DNSSTAT_H
#ifndef KCSI_INTERNAL
#error "dnsstat.h is private to libkcsi"
#endif

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct kcsi_dns_zones kcsi_dns_zones;

kcsi_dns_zones *kcsi_dns_zones_new(void);
/* Count one name (raw bytes, labels joined by '.'); names that are not host
 * names of at least two labels are ignored. */
void kcsi_dns_zones_add(kcsi_dns_zones *z, const char *name, size_t len);
/* [{zone, queries, unique_names, unique_labels, max_label, mean_label,
 *   mean_entropy, encodings {hex, base32, base64url}, tunnel, reasons [..],
 *   examples [..]}], busiest zones first (new reference). */
json_t *kcsi_dns_zones_json(const kcsi_dns_zones *z);
/* Does any zone look like a tunnel? */
bool kcsi_dns_zones_tunnel(const kcsi_dns_zones *z);
void kcsi_dns_zones_free(kcsi_dns_zones *z);

/* Shannon entropy in bits per character. */
double kcsi_entropy(const char *s, size_t n);
/* "hex", "base32", "base64url" or NULL: what a label of 16+ characters
 * looks encoded as. */
const char *kcsi_label_encoding(const char *s, size_t n);

#endif
