/* kcsi — private parts of the triage engine (analyze.c, ioc.c, yara_scan.c,
 * report.c). */
#ifndef KCSI_ANALYZE_INT_H
#define KCSI_ANALYZE_INT_H
#ifndef KCSI_INTERNAL
#error "analyze_int.h is private to libkcsi"
#endif

#include "kcsi/analyze.h"
#include "base/util.h"

/* ioc.c */
typedef struct kcsi_iocset {
	kcsi_report *r;
	size_t cap;
	void *re; /* compiled patterns */
} kcsi_iocset;

kcsi_code kcsi_iocs_init(kcsi_iocset *s, kcsi_report *r, kcsi_error *err);
void kcsi_iocs_free(kcsi_iocset *s);
/* Add one IOC (deduplicated; the lowest rank and the first source win). */
void kcsi_ioc_add(kcsi_iocset *s, const char *type, const char *value, unsigned rank, const char *source);
/* Cheap test: can this text hold an IOC? */
bool kcsi_iocs_may_match(const char *p, size_t n);
/* Find IOCs in a piece of text (a string from memory, a file, a queue). */
void kcsi_iocs_scan_text(kcsi_iocset *s, const char *p, size_t n, unsigned rank, const char *source);
/* Sort IOCs: rank, type, value. */
void kcsi_iocs_sort(kcsi_iocset *s);
/* Address class of an IPv4 / IPv6 text. */
const char *kcsi_ip_class(const char *ip);
/* Defanged copy (malloc'd). */
char *kcsi_defang(const char *type, const char *v);

/* yara_scan.c */
typedef struct kcsi_yara kcsi_yara;
typedef void (*kcsi_yara_hit)(void *ctx, const char *rule, const char *ns, const char *severity,
			      const char *mitre, const char *description, uint64_t offset, const char *string_id,
			      const unsigned char *data, size_t len);
/* Compile rule files (and *.yar / *.yara in directories). */
kcsi_code kcsi_yara_load(const char *const *paths, kcsi_yara **out, unsigned *nrules, kcsi_error *err);
void kcsi_yara_free(kcsi_yara *y);
kcsi_code kcsi_yara_scan(kcsi_yara *y, const unsigned char *p, size_t n, kcsi_yara_hit cb, void *ctx,
			 kcsi_error *err);

#endif
