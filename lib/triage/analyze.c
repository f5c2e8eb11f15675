/* kcsi — the triage engine's driver.  See include/kcsi/analyze.h,
 * docs/analyze.md and lib/triage/README.md.
 *
 * kcsi_analyze() sets up the analysis (descriptors, sockets, memory areas,
 * the string patterns, YARA), runs the rule families of families.h stage by
 * stage around the one pass over all process memory, then the verdict, and
 * sorts what the report holds.  The helpers every family uses to make
 * findings, evidence and timeline events are here too. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/hash.h"
#include "triage/analyze_int.h"
#include "triage/report.h"
#include "reader/ckpt_int.h"

const az_family az_families[] = {
#define AZ_FAMILY(name, stage) {#name, stage, az_family_##name},
#include "triage/families.h"
#undef AZ_FAMILY
};
const size_t az_nfamilies = sizeof(az_families) / sizeof(az_families[0]);

/* ---- helpers for the families ---- */

char *az_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

char *az_printf(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

const char *az_base(const char *p)
{
	const char *s = p ? strrchr(p, '/') : NULL;
	return s ? s + 1 : p ? p : "";
}

bool az_list_add(char *list, size_t cap, size_t *len, const char *item)
{
	if (*len + strlen(item) + 3 >= cap)
		return false;
	*len += (size_t)snprintf(list + *len, cap - *len, "%s%s", *len ? ", " : "", item);
	return true;
}

kcsi_finding *az_finding(az *a, const char *id, enum kcsi_severity sev, char *title, char *expl, const char *mitre)
{
	return kcsi_finding_add(&a->r->findings, id, sev, title, expl, mitre);
}

kcsi_evidence *az_evidence(kcsi_finding *f, const char *kind, int64_t pid, int64_t fd)
{
	if (!f || f->nev >= AZ_MAX_EVIDENCE * 4)
		return NULL;
	return kcsi_finding_evidence(f, kind, pid, fd);
}

void az_event(az *a, int64_t t_us, const char *desc, char *msg, const char *path, int64_t pid)
{
	kcsi_report *r = a->r;
	if (t_us <= 0 || !msg) {
		free(msg);
		return;
	}
	if (r->nevents == r->capevents) {
		size_t nc = r->capevents ? r->capevents * 2 : 32;
		kcsi_event *q = realloc(r->events, nc * sizeof(*q));
		if (!q) {
			free(msg);
			return;
		}
		r->events = q;
		r->capevents = nc;
	}
	r->events[r->nevents++] = (kcsi_event){t_us, msg, desc, az_strdup(path), pid, r->nevents};
}

az_proc *az_proc_of(az *a, uint32_t pid)
{
	size_t i = kcsi_ckpt_proc_index(a->c, pid); /* pm[i] is process i; then pid 0, the files */
	if (i + 1 < a->npm)
		return &a->pm[i];
	return pid == 0 && a->npm ? &a->pm[a->npm - 1] : NULL;
}

const char *az_area_of(az *a, uint32_t pid, uint64_t addr)
{
	az_proc *p = az_proc_of(a, pid);
	return p ? kcsi_area_name(p->vmas, p->nvmas, addr) : "?";
}

/* ---- the timeline ---- */

static int64_t parse_time(const char *s)
{
	struct tm tm;
	const char *rest;
	int64_t us = 0;
	if (!s)
		return 0;
	memset(&tm, 0, sizeof(tm));
	rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest)
		return 0;
	if (*rest == '.') {
		int digits = 0;
		rest++;
		while (isdigit((unsigned char)*rest)) {
			if (digits < 6) {
				us = us * 10 + (*rest - '0');
				digits++;
			}
			rest++;
		}
		while (digits++ < 6)
			us *= 10;
	}
	return (int64_t)timegm(&tm) * 1000000 + us;
}

static int cmp_event(const void *x, const void *y)
{
	const kcsi_event *a = x, *b = y;
	int c;
	if (a->time_us != b->time_us)
		return a->time_us < b->time_us ? -1 : 1;
	if ((c = strcmp(a->message, b->message)))
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void container_events(az *a)
{
	const kcsi_meta *mt = kcsi_ckpt_meta(a->c);
	const char *name = mt->container ? mt->container : "?";
	az_event(a, parse_time(mt->created), "Creation Time", az_printf("container %s created", name), NULL, -1);
	az_event(a, parse_time(mt->checkpointed), "Checkpoint Time",
		 az_printf("container %s checkpointed (%zu processes)", name, kcsi_ckpt_nprocs(a->c)), NULL, -1);
}

/* ---- the analysis ---- */

static void *hash_main(void *arg)
{
	az_archive_hash *h = arg;
	h->ok = kcsi_sha256_file(h->path, h->hex, NULL) == KCSI_OK;
	return NULL;
}

static void hash_start(az *a)
{
	a->hash.path = a->r->archive;
	if (a->hash.path)
		a->hash.started = pthread_create(&a->hash.th, NULL, hash_main, &a->hash) == 0;
	if (!a->hash.started && a->hash.path) /* no thread: on this one */
		hash_main(&a->hash);
}

static void hash_finish(az *a)
{
	if (a->hash.started)
		pthread_join(a->hash.th, NULL);
	a->hash.started = false;
	if (a->r)
		az_report_archive_hash(a->r, a->hash.ok ? a->hash.hex : NULL);
}

static kcsi_code az_open(az *a, kcsi_ckpt *c, const kcsi_analyze_opts *o, kcsi_error *err)
{
	kcsi_code rc;
	const char *paths[66];
	size_t np = 0;

	a->c = c;
	if (!(a->r = calloc(1, sizeof(*a->r))))
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	a->r->archive = strdup(kcsi_archive_path(c->ar));
	if ((rc = az_ioc_scanner_init(&a->iocs, &a->r->iocs, err)) != KCSI_OK || (rc = az_strings_init(a, err)) != KCSI_OK)
		return rc;
	if (o && o->rules_dir)
		paths[np++] = o->rules_dir;
	for (size_t i = 0; o && o->yara && o->yara[i] && np < 64; i++)
		paths[np++] = o->yara[i];
	paths[np] = NULL;
	if (np && (rc = kcsi_yara_load(paths, &a->yara, &a->r->yara_rules, err)) != KCSI_OK)
		return rc;
	az_report_stamp(a->r, o, kcsi_yara_digest(a->yara));
	hash_start(a);
	if ((rc = kcsi_ckpt_fds(c, 0, &a->fds, &a->nfds, err)) != KCSI_OK ||
	    (rc = kcsi_ckpt_socks(c, &a->socks, &a->nsocks, err)) != KCSI_OK)
		return rc;
	a->npm = kcsi_ckpt_nprocs(c) + 1;
	if (!(a->pm = calloc(a->npm, sizeof(*a->pm))))
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i + 1 < a->npm; i++) {
		a->pm[i].pid = kcsi_ckpt_proc(c, i)->pid;
		kcsi_ckpt_vmas(c, a->pm[i].pid, &a->pm[i].vmas, &a->pm[i].nvmas, NULL);
	}
	a->pm[a->npm - 1].pid = 0; /* the container's files */
	return KCSI_OK;
}

static void az_close(az *a)
{
	for (size_t i = 0; a->pm && i < a->npm; i++) {
		for (int l = 0; l < AZ_SEEN_N; l++)
			for (size_t k = 0; k < a->pm[i].nseen[l]; k++)
				kcsi_evidence_clear(&a->pm[i].seen[l][k]);
		free(a->pm[i].vmas);
	}
	free(a->pm);
	az_yara_hits_free(a);
	free(a->fds);
	free(a->socks);
	kcsi_yara_free(a->yara);
	az_ioc_scanner_free(&a->iocs);
	az_strings_free(a);
}

static void run_stage(az *a, enum az_stage stage)
{
	for (size_t i = 0; i < az_nfamilies; i++)
		if (az_families[i].stage == stage)
			az_families[i].run(a);
}

kcsi_code kcsi_analyze(kcsi_ckpt *c, const kcsi_analyze_opts *o, kcsi_report **out, kcsi_error *err)
{
	az a;
	kcsi_code rc;

	*out = NULL;
	memset(&a, 0, sizeof(a));
	if ((rc = az_open(&a, c, o, err)) != KCSI_OK)
		goto done;
	run_stage(&a, AZ_BEFORE_MEMORY);
	if ((rc = az_memory_pass(&a, err)) != KCSI_OK)
		goto done;
	run_stage(&a, AZ_AFTER_MEMORY);
	run_stage(&a, AZ_SUMMARY);
	az_iocs_finish(&a);
	az_verdict(a.r); /* the reasons in the order the findings were made */
	kcsi_findings_sort(&a.r->findings);
	kcsi_iocs_sort(&a.r->iocs);
	container_events(&a);
	if (a.r->nevents)
		qsort(a.r->events, a.r->nevents, sizeof(kcsi_event), cmp_event);
done:
	hash_finish(&a);
	az_close(&a);
	if (rc != KCSI_OK) {
		kcsi_report_free(a.r);
		return rc;
	}
	*out = a.r;
	return KCSI_OK;
}

const char *kcsi_report_verdict(const kcsi_report *r)
{
	return r && r->verdict ? r->verdict : "clean";
}

void kcsi_report_free(kcsi_report *r)
{
	if (!r)
		return;
	kcsi_findings_free(&r->findings);
	kcsi_iocs_free(&r->iocs);
	for (size_t i = 0; i < r->nevents; i++) {
		free(r->events[i].message);
		free(r->events[i].path);
	}
	free(r->events);
	for (size_t i = 0; i < r->nreasons; i++)
		free(r->verdict_reasons[i]);
	free(r->verdict_reasons);
	free(r->archive);
	free(r->archive_sha256);
	az_report_stamp_free(r);
	free(r);
}
