/* kcsi analyze --detonation DIR — fold a detonation's findings and IOCs into
 * an analyze report.  The detonation must be of the same archive (sha256);
 * findings keep their ids (KCSI-DYN-...) and evidence, IOCs are merged by type
 * and value, and the verdict and score are computed again with analyze's
 * rules (docs/analyze.md). */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "triage/analyze_int.h"
#include "triage/netdata.h"
#include "kcsi/detonate.h"
#include "base/safeout.h"

/* The sha256 of the analysed archive, or "" when it cannot be read. */
static void archive_sha256(const kcsi_report *r, char mine[65])
{
	mine[0] = '\0';
	if (r->archive_sha256) {
		snprintf(mine, 65, "%s", r->archive_sha256);
	} else if (r->archive) {
		int fd = open(r->archive, O_RDONLY | O_CLOEXEC);
		kcsi_error e;
		if (fd >= 0 && kcsi_sha256_fd(fd, mine, &e) != KCSI_OK)
			mine[0] = '\0';
		if (fd >= 0)
			close(fd);
	}
}

kcsi_code kcsi_detonation_merge(kcsi_report *r, const char *dir, kcsi_error *err)
{
	char p[4200], mine[65];
	json_error_t je;
	json_t *j;
	const char *sha;
	kcsi_code rc;
	snprintf(p, sizeof(p), "%s/report.json", dir);
	if (!(j = json_load_file(p, 0, &je)))
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", p, je.text);
	if (strcmp(json_string_value(json_object_get(j, "schema")) ?: "", KCSI_DETONATION_SCHEMA)) {
		json_decref(j);
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: not a kcsi detonation report", p);
	}
	sha = json_string_value(json_object_get(j, "archive_sha256"));
	archive_sha256(r, mine);
	if (mine[0] && sha && strcmp(mine, sha)) {
		kcsi_error_set(err, KCSI_ERR_USAGE, "the detonation is of another archive (sha256 %.16s..., not %.16s...)",
			       sha, mine);
		json_decref(j);
		return err->code;
	}
	snprintf(p, sizeof(p), "detonation %s", dir);
	rc = kcsi_findings_from_json(&r->findings, json_object_get(j, "findings"), p, err);
	if (rc == KCSI_OK)
		rc = kcsi_iocs_from_json(&r->iocs, json_object_get(j, "iocs"), err);
	if (rc == KCSI_OK) /* the sinkhole's query log, by analyze's DNS rules */
		az_dns_merged(r, json_object_get(json_object_get(j, "network"), "dns"));
	json_decref(j);
	if (rc == KCSI_OK) {
		az_verdict(r); /* again, with analyze's weights and thresholds */
		az_iocs_mark_ids(r);
	}
	return rc;
}
