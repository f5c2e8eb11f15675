/* kcsi analyze --detonation DIR — fold a detonation's findings and IOCs into
 * an analyze report.  The detonation must be of the same archive (sha256);
 * findings keep their ids (KCSI-DYN-...) and evidence, IOCs are merged by type
 * and value, and the verdict and score are computed again with analyze's
 * rules (docs/analyze.md). */
#include <fcntl.h>
#include <jansson.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcsi/detonate.h"
#include "base/safeout.h"

static char *dupz(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

static const char *static_name(const char *s, const char *const *names)
{
	for (size_t i = 0; s && names[i]; i++)
		if (!strcmp(s, names[i]))
			return names[i];
	return NULL;
}

static const char *const ioc_types[] = {"ipv4", "ipv6", "domain", "url", "email", "sha256", "wallet", "user-agent",
					"irc-channel", "irc-nick", "irc-user", NULL};
static const char *const classes[] = {"loopback", "private", "link-local", "reserved", "documentation", "multicast",
				      "public", NULL};
static const char *const kinds[] = {"process", "fd", "socket", "memory", "file", "env", "rootfs", "yara", "tcp-queue",
				    "config", NULL};

static int sev_of(const char *s)
{
	static const char *n[] = {"info", "low", "medium", "high", "critical"};
	for (int i = 0; i < 5; i++)
		if (s && !strcmp(s, n[i]))
			return i;
	return 0;
}

kcsi_code kcsi_detonation_merge(kcsi_report *r, const char *dir, kcsi_error *err)
{
	char p[4200];
	json_error_t je;
	json_t *j, *fs, *iocs, *o;
	size_t i;
	snprintf(p, sizeof(p), "%s/report.json", dir);
	if (!(j = json_load_file(p, 0, &je)))
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", p, je.text);
	if (strcmp(json_string_value(json_object_get(j, "schema")) ?: "", KCSI_DETONATION_SCHEMA)) {
		json_decref(j);
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: not a kcsi detonation report", p);
	}
	const char *sha = json_string_value(json_object_get(j, "archive_sha256"));
	char mine[65] = "";
	if (r->archive_sha256)
		snprintf(mine, sizeof(mine), "%s", r->archive_sha256);
	else if (r->archive) {
		int fd = open(r->archive, O_RDONLY | O_CLOEXEC);
		kcsi_error e;
		if (fd >= 0 && kcsi_sha256_fd(fd, mine, &e) != KCSI_OK)
			mine[0] = '\0';
		if (fd >= 0)
			close(fd);
	}
	if (mine[0] && sha && strcmp(mine, sha)) {
		kcsi_error_set(err, KCSI_ERR_USAGE, "the detonation is of another archive (sha256 %.16s..., not %.16s...)",
			       sha, mine);
		json_decref(j);
		return err->code;
	}
	fs = json_object_get(j, "findings");
	iocs = json_object_get(j, "iocs");
	kcsi_finding *nf = realloc(r->findings, (r->nfindings + json_array_size(fs) + 1) * sizeof(*nf));
	if (!nf) {
		json_decref(j);
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	r->findings = nf;
	json_array_foreach(fs, i, o)
	{
		kcsi_finding *f = &r->findings[r->nfindings++];
		json_t *ev = json_object_get(o, "evidence"), *m = json_object_get(o, "mitre"), *e;
		size_t k, len = 0;
		memset(f, 0, sizeof(*f));
		f->id = dupz(json_string_value(json_object_get(o, "id")));
		f->severity = (enum kcsi_severity)sev_of(json_string_value(json_object_get(o, "severity")));
		f->title = dupz(json_string_value(json_object_get(o, "title")));
		f->explanation = dupz(json_string_value(json_object_get(o, "explanation")));
		json_array_foreach(m, k, e) len += strlen(json_string_value(e) ?: "") + 1;
		f->mitre_store = calloc(1, len + 1);
		for (k = 0, len = 0; f->mitre_store && k < json_array_size(m) && f->nmitre < 6; k++) {
			const char *t = json_string_value(json_array_get(m, k)) ?: "";
			strcpy(f->mitre_store + len, t);
			f->mitre[f->nmitre++] = f->mitre_store + len;
			len += strlen(t) + 1;
		}
		f->ev = calloc(json_array_size(ev) + 1, sizeof(*f->ev));
		json_array_foreach(ev, k, e)
		{
			kcsi_evidence *x = &f->ev[f->nev++];
			x->kind = static_name(json_string_value(json_object_get(e, "kind")), kinds) ?: "socket";
			x->pid = json_integer_value(json_object_get(e, "pid"));
			x->fd = json_object_get(e, "fd") ? json_integer_value(json_object_get(e, "fd")) : -1;
			x->path = dupz(json_string_value(json_object_get(e, "path")));
			x->connection = dupz(json_string_value(json_object_get(e, "connection")));
			x->excerpt = dupz(json_string_value(json_object_get(e, "excerpt")));
			snprintf(p, sizeof(p), "detonation %s", dir);
			x->command = dupz(json_string_value(json_object_get(e, "command")) ?: p);
		}
	}
	json_array_foreach(iocs, i, o)
	{
		const char *type = static_name(json_string_value(json_object_get(o, "type")), ioc_types);
		const char *val = json_string_value(json_object_get(o, "value"));
		uint64_t cnt = (uint64_t)json_integer_value(json_object_get(o, "count"));
		size_t k;
		if (!type || !val)
			continue;
		for (k = 0; k < r->niocs; k++)
			if (!strcmp(r->iocs[k].type, type) && !strcmp(r->iocs[k].value, val)) {
				r->iocs[k].count += cnt;
				break;
			}
		if (k < r->niocs)
			continue;
		kcsi_ioc *ni = realloc(r->iocs, (r->niocs + 1) * sizeof(*ni));
		if (!ni)
			break;
		r->iocs = ni;
		r->iocs[r->niocs++] = (kcsi_ioc){
			.type = type,
			.value = strdup(val),
			.klass = static_name(json_string_value(json_object_get(o, "class")), classes),
			.source = dupz(json_string_value(json_object_get(o, "source"))),
			.rank = 0,
			.count = cnt ? cnt : 1,
		};
	}
	json_decref(j);
	/* the verdict again, with analyze's weights and thresholds */
	static const unsigned w[] = {0, 2, 8, 20, 40};
	unsigned score = 0, crit = 0, high = 0, med = 0;
	for (i = 0; i < r->nfindings; i++) {
		score += w[r->findings[i].severity];
		crit += r->findings[i].severity == KCSI_SEV_CRITICAL;
		high += r->findings[i].severity == KCSI_SEV_HIGH;
		med += r->findings[i].severity == KCSI_SEV_MEDIUM;
	}
	r->score = score > 100 ? 100 : score;
	r->verdict = crit || high >= 2 || score >= 60 ? "malicious" : high || med ? "suspicious" : "clean";
	for (i = 0; i < r->nreasons; i++)
		free(r->verdict_reasons[i]);
	free(r->verdict_reasons);
	r->verdict_reasons = calloc(r->nfindings + 1, sizeof(char *));
	r->nreasons = 0;
	for (i = 0; r->verdict_reasons && i < r->nfindings; i++)
		if (r->findings[i].severity >= KCSI_SEV_MEDIUM) {
			char *s = NULL;
			if (asprintf(&s, "%s (%s): %s", r->findings[i].id, kcsi_severity_name(r->findings[i].severity),
				     r->findings[i].title) > 0)
				r->verdict_reasons[r->nreasons++] = s;
		}
	return KCSI_OK;
}
