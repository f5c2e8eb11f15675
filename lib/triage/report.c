/* kcsi — triage reports: the choice of format (text, JSON and NDJSON, HTML,
 * STIX 2.1, MISP, Timesketch; one file each, report_*.c), defanging the text
 * and HTML formats, and the helpers the formats share: what every report
 * says about itself (az_report_stamp), the ATT&CK names, the findings that
 * decided the verdict. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "triage/report.h"
#include "base/safeout.h"
#include "kcsi/text.h"

const char *az_event_time(int64_t us, char *buf, size_t cap)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	char base[32];
	if (!gmtime_r(&t, &tm))
		return "";
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, cap, "%s.%06lldZ", base, (long long)(us % 1000000));
	return buf;
}

const char *az_report_time(kcsi_ckpt *c, char *buf, size_t cap)
{
	const kcsi_meta *m = kcsi_ckpt_meta(c);
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (m->checkpointed && strptime(m->checkpointed, "%Y-%m-%dT%H:%M:%S", &tm)) {
		strftime(buf, cap, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
		return buf;
	}
	snprintf(buf, cap, "1970-01-01T00:00:00.000Z");
	return buf;
}

void az_uuid(const char *name, char out[37])
{
	char hex[65];
	kcsi_sha256_hex(name, strlen(name), hex);
	hex[12] = '5';
	hex[16] = "89ab"[(hex[16] >= 'a' ? hex[16] - 'a' + 10 : hex[16] - '0') & 3];
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

/* in replaced by with in cur (a new string; cur is freed) */
static char *replace_all(char *cur, const char *v, const char *with)
{
	kcsi_buf b;
	const char *p = cur, *hit;
	size_t vl = strlen(v);
	kcsi_buf_init(&b, SIZE_MAX / 2);
	while (vl && (hit = strstr(p, v))) {
		kcsi_buf_add(&b, p, (size_t)(hit - p));
		kcsi_buf_add(&b, with, strlen(with));
		p = hit + vl;
	}
	kcsi_buf_add(&b, p, strlen(p));
	free(cur);
	return b.data ? b.data : strdup("");
}

/* Defang every network indicator wherever it appears in a text: the IOCs'
 * values (longest first, so a URL goes before the address inside it), as the
 * text shows them (escaped). */
static char *defang_text(const kcsi_report *r, const char *in)
{
	const kcsi_iocs *s = &r->iocs;
	char *cur = strdup(in);
	size_t *order = calloc(s->n + 1, sizeof(size_t)), n = 0;
	if (!cur || !order) {
		free(order);
		return cur;
	}
	for (size_t i = 0; i < s->n; i++)
		if (kcsi_ioc_type_is_network(s->v[i].type))
			order[n++] = i;
	for (size_t i = 1; i < n; i++) /* by length, longest first */
		for (size_t j = i; j > 0 && strlen(s->v[order[j]].value) > strlen(s->v[order[j - 1]].value); j--) {
			size_t t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	for (size_t k = 0; k < n && cur; k++) {
		const char *raw = s->v[order[k]].value;
		char *dr = kcsi_defang(s->v[order[k]].type, raw);
		char *v = kcsi_escape_text(raw, strlen(raw), 0), *d = dr ? kcsi_escape_text(dr, strlen(dr), 0) : NULL;
		if (v && d)
			cur = replace_all(cur, v, d);
		free(v);
		free(d);
		free(dr);
	}
	free(order);
	return cur;
}

/* Text and HTML are written, then defanged as a whole. */
static kcsi_code write_defanged(const kcsi_report *r, kcsi_ckpt *c, const char *format, FILE *f, bool color,
				kcsi_error *err)
{
	char *buf = NULL, *out;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (!m)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	if (!strcmp(format, "text"))
		az_report_text(r, c, m, true, color);
	else
		az_report_html(r, c, m, true);
	fclose(m);
	out = defang_text(r, buf ? buf : "");
	fputs(out ? out : "", f);
	free(out);
	free(buf);
	return KCSI_OK;
}

kcsi_code kcsi_report_write(const kcsi_report *r, kcsi_ckpt *c, const char *format, FILE *f, bool defang,
			    bool color, kcsi_error *err)
{
	if (defang && (!strcmp(format, "text") || !strcmp(format, "html")))
		return write_defanged(r, c, format, f, color, err);
	if (!strcmp(format, "json"))
		az_report_json(r, c, f, defang);
	else if (!strcmp(format, "ndjson"))
		az_report_ndjson(r, c, f, defang);
	else if (!strcmp(format, "text"))
		az_report_text(r, c, f, defang, color);
	else if (!strcmp(format, "html"))
		az_report_html(r, c, f, defang);
	else if (!strcmp(format, "stix"))
		az_report_stix(r, c, f);
	else if (!strcmp(format, "misp"))
		az_report_misp(r, c, f);
	else if (!strcmp(format, "timeline"))
		az_report_timeline(r, c, f);
	else
		return kcsi_error_set(err, KCSI_ERR_USAGE, "unknown format '%s' (text, json, ndjson, html, stix, misp, timeline)", format);
	return KCSI_OK;
}

/* ---- what every report says about itself ---- */

void az_report_warn(kcsi_report *r, char *msg)
{
	char **q;
	if (!msg)
		return;
	if (!(q = realloc(r->warnings, (r->nwarnings + 1) * sizeof(*q)))) {
		free(msg);
		return;
	}
	r->warnings = q;
	r->warnings[r->nwarnings++] = msg;
}

size_t kcsi_report_nwarnings(const kcsi_report *r)
{
	return r ? r->nwarnings : 0;
}

const char *kcsi_report_warning(const kcsi_report *r, size_t i)
{
	return r && i < r->nwarnings ? r->warnings[i] : NULL;
}

/* The first line of a rule set's VERSION file (printable, at most 64
 * characters), or NULL. */
static char *rules_version(const char *dir)
{
	char path[4200], line[80];
	FILE *f;
	size_t n;
	if (!dir)
		return NULL;
	snprintf(path, sizeof(path), "%s/VERSION", dir);
	if (!(f = fopen(path, "re")))
		return NULL;
	n = fread(line, 1, 64, f);
	fclose(f);
	line[n] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	for (char *q = line; *q; q++)
		if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
			*q = '?';
	return line[0] ? strdup(line) : NULL;
}

void az_report_stamp(kcsi_report *r, const kcsi_analyze_opts *o, const char *rules_sha256)
{
	r->tool_version = strdup(o && o->tool_version ? o->tool_version : "unknown");
	r->analysis_time = o && o->analysis_time > 0 ? o->analysis_time : (int64_t)time(NULL);
	r->rules_version = r->yara_rules && o ? rules_version(o->rules_dir) : NULL;
	r->rules_sha256 = r->yara_rules && rules_sha256 ? strdup(rules_sha256) : NULL;
	if (!r->yara_rules)
		az_report_warn(r, strdup("no YARA rules were loaded: memory and files were not scanned with YARA, "
					 "and no YARA finding can be made"));
}

void az_report_archive_hash(kcsi_report *r, const char *hex)
{
	if (hex)
		r->archive_sha256 = strdup(hex);
	else
		az_report_warn(r, strdup("the archive could not be read again to hash it: reports carry no sha256"));
}

void az_report_stamp_free(kcsi_report *r)
{
	free(r->tool_version);
	free(r->rules_version);
	free(r->rules_sha256);
	for (size_t i = 0; i < r->nwarnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
}

const char *az_analysis_time(const kcsi_report *r, char *buf, size_t cap)
{
	time_t t = (time_t)r->analysis_time;
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		return "1970-01-01T00:00:00Z";
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

const char *az_ruleset(const kcsi_report *r, char *buf, size_t cap)
{
	if (!r->yara_rules)
		snprintf(buf, cap, "none");
	else
		snprintf(buf, cap, "%s (sha256 %.16s)", r->rules_version ? r->rules_version : "unversioned",
			 r->rules_sha256 ? r->rules_sha256 : "?");
	return buf;
}

/* ---- MITRE ATT&CK ---- */

/* Enterprise ATT&CK names of the techniques kcsi's rules name (and their
 * neighbours); a sub-technique has its own name, as ATT&CK gives it. */
static const struct { const char *id, *name; } attack[] = {
	{"T1001", "Data Obfuscation"}, {"T1003", "OS Credential Dumping"}, {"T1003.007", "Proc Filesystem"},
	{"T1003.008", "/etc/passwd and /etc/shadow"}, {"T1005", "Data from Local System"},
	{"T1008", "Fallback Channels"}, {"T1011", "Exfiltration Over Other Network Medium"}, {"T1014", "Rootkit"},
	{"T1016", "System Network Configuration Discovery"}, {"T1018", "Remote System Discovery"},
	{"T1020", "Automated Exfiltration"}, {"T1021", "Remote Services"}, {"T1021.004", "SSH"},
	{"T1027", "Obfuscated Files or Information"}, {"T1027.002", "Software Packing"},
	{"T1029", "Scheduled Transfer"}, {"T1030", "Data Transfer Size Limits"},
	{"T1033", "System Owner/User Discovery"}, {"T1036", "Masquerading"}, {"T1036.003", "Rename System Utilities"},
	{"T1036.004", "Masquerade Task or Service"}, {"T1036.005", "Match Legitimate Name or Location"},
	{"T1037", "Boot or Logon Initialization Scripts"}, {"T1037.004", "RC Scripts"},
	{"T1040", "Network Sniffing"}, {"T1041", "Exfiltration Over C2 Channel"},
	{"T1046", "Network Service Discovery"}, {"T1048", "Exfiltration Over Alternative Protocol"},
	{"T1048.001", "Exfiltration Over Symmetric Encrypted Non-C2 Protocol"},
	{"T1048.002", "Exfiltration Over Asymmetric Encrypted Non-C2 Protocol"},
	{"T1048.003", "Exfiltration Over Unencrypted Non-C2 Protocol"},
	{"T1049", "System Network Connections Discovery"}, {"T1053", "Scheduled Task/Job"}, {"T1053.003", "Cron"},
	{"T1055", "Process Injection"}, {"T1055.008", "Ptrace System Calls"}, {"T1055.009", "Proc Memory"},
	{"T1056", "Input Capture"}, {"T1056.001", "Keylogging"}, {"T1056.004", "Credential API Hooking"}, {"T1057", "Process Discovery"},
	{"T1059", "Command and Scripting Interpreter"}, {"T1059.004", "Unix Shell"}, {"T1059.006", "Python"},
	{"T1059.007", "JavaScript"}, {"T1068", "Exploitation for Privilege Escalation"},
	{"T1070", "Indicator Removal"}, {"T1070.002", "Clear Linux or Mac System Logs"},
	{"T1070.003", "Clear Command History"}, {"T1070.004", "File Deletion"},
	{"T1071", "Application Layer Protocol"}, {"T1071.001", "Web Protocols"},
	{"T1071.002", "File Transfer Protocols"}, {"T1071.003", "Mail Protocols"}, {"T1071.004", "DNS"},
	{"T1074", "Data Staged"}, {"T1074.001", "Local Data Staging"}, {"T1078", "Valid Accounts"},
	{"T1078.004", "Cloud Accounts"}, {"T1082", "System Information Discovery"},
	{"T1083", "File and Directory Discovery"}, {"T1087", "Account Discovery"}, {"T1087.001", "Local Account"},
	{"T1090", "Proxy"}, {"T1090.001", "Internal Proxy"},
	{"T1095", "Non-Application Layer Protocol"}, {"T1098", "Account Manipulation"},
	{"T1098.004", "SSH Authorized Keys"}, {"T1102", "Web Service"}, {"T1102.002", "Bidirectional Communication"},
	{"T1105", "Ingress Tool Transfer"}, {"T1110", "Brute Force"}, {"T1113", "Screen Capture"},
	{"T1119", "Automated Collection"}, {"T1132", "Data Encoding"}, {"T1132.001", "Standard Encoding"},
	{"T1133", "External Remote Services"}, {"T1136", "Create Account"}, {"T1136.001", "Local Account"},
	{"T1140", "Deobfuscate/Decode Files or Information"},
	{"T1190", "Exploit Public-Facing Application"}, {"T1204", "User Execution"},
	{"T1219", "Remote Access Software"}, {"T1222", "File and Directory Permissions Modification"},
	{"T1222.002", "Linux and Mac File and Directory Permissions Modification"}, {"T1485", "Data Destruction"},
	{"T1486", "Data Encrypted for Impact"}, {"T1496", "Resource Hijacking"},
	{"T1497", "Virtualization/Sandbox Evasion"}, {"T1499", "Endpoint Denial of Service"},
	{"T1505", "Server Software Component"}, {"T1505.003", "Web Shell"}, {"T1525", "Implant Internal Image"},
	{"T1528", "Steal Application Access Token"}, {"T1530", "Data from Cloud Storage"},
	{"T1537", "Transfer Data to Cloud Account"}, {"T1543", "Create or Modify System Process"},
	{"T1543.002", "Systemd Service"}, {"T1546", "Event Triggered Execution"},
	{"T1546.004", "Unix Shell Configuration Modification"}, {"T1548", "Abuse Elevation Control Mechanism"},
	{"T1548.001", "Setuid and Setgid"}, {"T1552", "Unsecured Credentials"},
	{"T1552.001", "Credentials In Files"}, {"T1552.004", "Private Keys"},
	{"T1552.005", "Cloud Instance Metadata API"}, {"T1552.007", "Container API"},
	{"T1555", "Credentials from Password Stores"}, {"T1557", "Adversary-in-the-Middle"},
	{"T1560", "Archive Collected Data"}, {"T1560.001", "Archive via Utility"}, {"T1562", "Impair Defenses"},
	{"T1562.001", "Disable or Modify Tools"}, {"T1564", "Hide Artifacts"},
	{"T1564.001", "Hidden Files and Directories"}, {"T1567", "Exfiltration Over Web Service"},
	{"T1567.002", "Exfiltration to Cloud Storage"}, {"T1568", "Dynamic Resolution"},
	{"T1568.002", "Domain Generation Algorithms"}, {"T1571", "Non-Standard Port"},
	{"T1572", "Protocol Tunneling"}, {"T1573", "Encrypted Channel"}, {"T1574", "Hijack Execution Flow"},
	{"T1574.006", "Dynamic Linker Hijacking"}, {"T1588", "Obtain Capabilities"}, {"T1588.001", "Malware"},
	{"T1609", "Container Administration Command"}, {"T1610", "Deploy Container"}, {"T1611", "Escape to Host"},
	{"T1613", "Container and Resource Discovery"}, {"T1620", "Reflective Code Loading"},
};

const char *az_attack_name(const char *id)
{
	for (size_t i = 0; id && i < sizeof(attack) / sizeof(attack[0]); i++)
		if (!strcmp(attack[i].id, id))
			return attack[i].name;
	return NULL;
}

void az_attack_url(const char *id, char *out, size_t cap)
{
	const char *dot = strchr(id, '.');
	if (dot)
		snprintf(out, cap, "https://attack.mitre.org/techniques/%.*s/%s/", (int)(dot - id), id, dot + 1);
	else
		snprintf(out, cap, "https://attack.mitre.org/techniques/%s/", id);
}

/* ---- why the verdict ---- */

size_t az_verdict_basis(const kcsi_report *r, const kcsi_finding **out, size_t cap, const char **rule)
{
	size_t n = 0, crit = 0, high = 0;
	enum kcsi_severity from = KCSI_SEV_MEDIUM;
	for (size_t i = 0; i < r->findings.n; i++) {
		crit += r->findings.v[i]->severity == KCSI_SEV_CRITICAL;
		high += r->findings.v[i]->severity == KCSI_SEV_HIGH;
	}
	if (!strcmp(r->verdict, "malicious")) {
		if (crit) {
			*rule = "a critical finding makes a verdict malicious";
			from = KCSI_SEV_CRITICAL;
		} else if (high >= 2) {
			*rule = "two high findings make a verdict malicious";
			from = KCSI_SEV_HIGH;
		} else {
			*rule = "a score of 60 or more makes a verdict malicious";
		}
	} else if (!strcmp(r->verdict, "suspicious")) {
		*rule = "a high or a medium finding makes a verdict suspicious";
	} else {
		*rule = "no finding of medium severity or above: the verdict is clean";
		return 0;
	}
	for (size_t i = 0; i < r->findings.n && n < cap; i++) /* sorted: severity first */
		if (r->findings.v[i]->severity >= from)
			out[n++] = r->findings.v[i];
	return n;
}
