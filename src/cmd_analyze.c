/* kcsi analyze — triage a checkpoint: findings, IOCs, verdict, reports. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "kcsi/analyze.h"
#include "kcsi/detonate.h"

static const struct opt opts[] = {
	{"yara", 'y', "FILE|DIR", "add YARA rules from a file or a directory", .kind = OPT_TEXT, .flags = OPT_REPEAT},
	{"format", 'f', "FORMAT", "the report's format (default text)", .kind = OPT_CHOICE,
	 .choices = "text|json|ndjson|html|stix|misp|timeline"},
	{"output", 'o', "FILE", "write the report to FILE instead of stdout", .kind = OPT_TEXT},
	{"defang", 0, NULL, "defang IOCs (198.51.100[.]23, hxxp://) for pasting into chat", .kind = OPT_FLAG},
	{"no-builtin-rules", 0, NULL, "do not use kcsi's own YARA rules", .kind = OPT_FLAG},
	{"detonation", 0, "DIR", "fold in the findings and IOCs of a `kcsi detonate` run of the same archive", .kind = OPT_TEXT},
	{"fail-on", 0, "VERDICT", "exit 1 when the verdict is VERDICT or worse (for scripts and CI)",
	 .kind = OPT_CHOICE, .choices = "suspicious|malicious"},
	{"json", 'j', NULL, "same as --format json", .kind = OPT_FLAG},
	{"pretty", 0, NULL, "accepted; JSON reports are always indented", .kind = OPT_FLAG},
	{0},
};

#ifndef KCSI_RULES_DIR
#define KCSI_RULES_DIR "/usr/local/share/kcsi/rules"
#endif

/* kcsi's rule set: $KCSI_RULES, else rules/ beside the binary (the build
 * tree: ../rules), else where `ninja install` put it (KCSI_RULES_DIR, from
 * the install prefix), else share/kcsi/rules of a prefix moved elsewhere
 * (../share/kcsi/rules beside the binary). */
static const char *builtin_rules(const char *argv0_dir)
{
	static char buf[4096 + 64];
	const char *env = getenv("KCSI_RULES");
	const char *cands[] = {"/../rules", "/rules", NULL, "/../share/kcsi/rules", NULL};
	struct stat st;
	if (env && *env)
		return env;
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		if (cands[i])
			snprintf(buf, sizeof(buf), "%.4000s%.40s", argv0_dir, cands[i]);
		else if (i == 2)
			snprintf(buf, sizeof(buf), "%s", KCSI_RULES_DIR);
		else
			continue;
		if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
			return buf;
	}
	return NULL;
}

/* The analysis time: $SOURCE_DATE_EPOCH (reproducible reports), else now. */
static int64_t analysis_time(void)
{
	const char *e = getenv("SOURCE_DATE_EPOCH");
	char *end;
	long long t;
	if (!e || !*e)
		return 0;
	t = strtoll(e, &end, 10);
	return *end || t <= 0 ? 0 : (int64_t)t;
}

/* --fail-on: is the verdict LEVEL or worse? */
static bool verdict_reaches(const char *verdict, const char *level)
{
	static const char *const order[] = {"clean", "suspicious", "malicious"};
	int v = 0, l = 0;
	if (!level || !verdict)
		return false;
	for (int i = 0; i < 3; i++) {
		if (!strcmp(order[i], verdict))
			v = i;
		if (!strcmp(order[i], level))
			l = i;
	}
	return v >= l;
}

static int run(struct args *a)
{
	kcsi_ckpt *c;
	kcsi_report *r;
	kcsi_error err;
	kcsi_analyze_opts ao = {0};
	const char *format = opt_val(a, "format");
	const char *outpath = opt_val(a, "output");
	const char *yara[64] = {0};
	char self[4096];
	ssize_t n;
	int rc;
	size_t ny = 0;

	kcsi_error_clear(&err);
	if (opt_set(a, "json"))
		format = "json";
	if (!format)
		format = "text";
	{
		int ng;
		const char *const *given = opt_all(a, "yara", &ng);
		for (int i = 0; i < ng && ny < 62; i++)
			yara[ny++] = given[i];
	}
	ao.yara = yara;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		*strrchr(self, '/') = '\0';
	} else {
		snprintf(self, sizeof(self), ".");
	}
	if (!opt_set(a, "no-builtin-rules"))
		ao.rules_dir = builtin_rules(self);
	ao.tool_version = KCSI_VERSION;
	ao.analysis_time = analysis_time();
	if ((rc = open_ckpt(a->pos[0], KCSI_CKPT_MEMORY | KCSI_CKPT_BULK, &c)))
		return rc;
	if (kcsi_analyze(c, &ao, &r, &err) != KCSI_OK) {
		return ckpt_fail(c, a->pos[0], &err);
	}
	if (opt_val(a, "detonation") && kcsi_detonation_merge(r, opt_val(a, "detonation"), &err) != KCSI_OK) {
		kcsi_report_free(r);
		return ckpt_fail(c, opt_val(a, "detonation"), &err);
	}
	for (size_t i = 0; i < kcsi_report_nwarnings(r); i++)
		fprintf(stderr, "kcsi: warning: %s\n", kcsi_report_warning(r, i));
	if (!ao.rules_dir && !opt_set(a, "no-builtin-rules"))
		fprintf(stderr, "kcsi: warning: kcsi's YARA rules were not found ($KCSI_RULES, rules/ beside the "
				"binary, %s)\n", KCSI_RULES_DIR);
	if (outpath) {
		FILE *f = fopen(outpath, "w");
		if (!f) {
			kcsi_error_set(&err, KCSI_ERR_IO, "%s: %s", outpath, strerror(errno));
			rc = fail(&err);
		} else {
			kcsi_report_write(r, c, format, f, opt_set(a, "defang"), false, &err);
			if (fclose(f) != 0) {
				kcsi_error_set(&err, KCSI_ERR_IO, "%s: %s", outpath, strerror(errno));
				rc = fail(&err);
			}
		}
	} else {
		struct out o;
		out_open(&o, a);
		kcsi_report_write(r, c, format, o.f, opt_set(a, "defang"), o.color && !strcmp(format, "text"), &err);
		rc = out_close(&o, 0);
	}
	if (rc == 0 && verdict_reaches(kcsi_report_verdict(r), opt_val(a, "fail-on")))
		rc = KCSI_ERR_GENERIC;
	kcsi_report_free(r);
	kcsi_ckpt_close(c);
	return rc;
}

const struct cmd cmd_analyze = {
	.synopsis = "[--yara FILE|DIR]... [--format text|json|ndjson|html|stix|misp|timeline] [-o FILE] [--defang] "
		    "[--fail-on suspicious|malicious] ARCHIVE",
	.summary = "triage a checkpoint: findings with evidence, IOCs, MITRE ATT&CK, a verdict",
	.description =
		"Reads the checkpoint once and reports what happened in the container: findings\n"
		"(each with an id, a severity, MITRE ATT&CK techniques and the evidence: pid, fd,\n"
		"address, area, path, connection, excerpt and the kcsi command that shows it),\n"
		"indicators of compromise (addresses classed loopback/private/public/reserved,\n"
		"URLs, domains, e-mails, hashes of dropped, ghost and memfd files, wallets, user\n"
		"agents, IRC channels and nicks), and a verdict: malicious, suspicious or clean.\n"
		"One pass over all process memory serves the IOC and protocol patterns and YARA.\n"
		"kcsi's own YARA rules ($KCSI_RULES, rules/ beside the binary, or where ninja\n"
		"install put them) are used with the rules given by --yara (files, or directories\n"
		"of *.yar/*.yara; repeatable); with no rule loaded analyze warns on stderr and in\n"
		"the report.  Every report names the archive's sha256, kcsi's version, the rule\n"
		"set's and the analysis time ($SOURCE_DATE_EPOCH when set, for reproducible\n"
		"reports).\n"
		"Verdict: malicious with a critical finding, two high ones or a score >= 60;\n"
		"suspicious with a high or medium finding; otherwise clean.  Scores: critical 40,\n"
		"high 20, medium 8, low 2, info 0, at most 100.  See docs/analyze.md.",
	.json_doc =
		"--format json: {schema_version, kcsi_version, ruleset {version, sha256, rules},\n"
		"analysis_time, archive_sha256, warnings, verdict, score, verdict_reasons, container {archive,\n"
		"name, id, image, engine, pod, namespace, created, checkpointed, hostname}, processes\n"
		"[{pid, ppid, comm, exe, cmdline, uid}], findings [{id, severity, title, explanation,\n"
		"mitre [..], evidence [{kind, pid, fd, address, area, path, offset, proto, src, sport,\n"
		"dst, dport, state, connection, excerpt, command}]}], iocs [{type, value, class, to_ids,\n"
		"source, provenance {kind, origin, pid, fd, address, area, path, offset, detail}, count,\n"
		"distinct}], stats}\n"
		"(schema 2.0, docs/analyze.md).\n"
		"ndjson: a report line, then a line per finding and per IOC (\"record\").\n"
		"stix: a STIX 2.1 bundle; misp: a MISP event; timeline: Timesketch JSON lines.",
	.example =
		"$ kcsi analyze checkpoint-perlbot.tar\n"
		"webapp  malicious (score 100/100)\n"
		"...\n"
		"critical KCSI-MASQ-001  Process 15 poses as a kernel thread ('[kworker/u8:2-events]') and connects to 127.6.6.6:6667  [T1036 T1036.004 T1071]\n"
		"...",
	.opts = opts,
	.exit_doc = "1  with --fail-on VERDICT: the verdict is VERDICT or worse (the report is written)",
	.min_pos = 1,
	.max_pos = 1,
	.run = run,
};
