/* kcsi detonate — the report: what the restored container did, as findings
 * (id, severity, title, explanation, mitre, evidence) and IOCs (type, value,
 * class, source, count) of the finding model analyze uses
 * (lib/evidence/finding.h), built only from what was recorded: the
 * sinkhole's sessions, the DNS queries, the pcap's conversations, the
 * activity log and the process lists.  Then DIR/manifest.json with the sha256
 * of every file the run wrote. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/sandbox_int.h"
#include "base/safeout.h"
#include "evidence/finding.h"

/* a new reference to j, or an empty array when there is none */
static json_t *or_empty(json_t *j)
{
	return j ? json_incref(j) : json_array();
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* What the run showed, in the finding model (evidence/finding.h). */
typedef struct det_found {
	kcsi_findings fs;
	kcsi_iocs iocs;
} det_found;

static kcsi_finding *finding(det_found *d, const char *id, enum kcsi_severity sev, const char *title, const char *expl,
			     const char *mitre)
{
	return kcsi_finding_add(&d->fs, id, sev, strdup(title), strdup(expl), mitre);
}

/* An evidence item; every one of the detonation is of no descriptor. */
static void evidence(kcsi_finding *f, const char *kind, json_int_t pid, const char *path, const char *conn,
		     const char *excerpt)
{
	kcsi_evidence *e = kcsi_finding_evidence(f, kind, pid, -1);
	if (!e)
		return;
	e->path = path ? strdup(path) : NULL;
	e->connection = conn ? strdup(conn) : NULL;
	if (excerpt)
		kcsi_evidence_excerpt(e, excerpt, strlen(excerpt), SIZE_MAX);
}

static void ioc(det_found *d, const char *type, const char *value, const char *source)
{
	if (value && *value)
		kcsi_iocs_add_prov(&d->iocs, type, value, 0, &(kcsi_ioc_prov){.kind = "detonation", .pid = -1, .fd = -1, .detail = source});
}

/* ---- the pcap's conversations (IPv4 TCP/UDP), for the report and to find resets ---- */

struct conv {
	char a[16], b[16];
	unsigned ap, bp, proto;
	uint64_t packets, bytes;
	bool syn, rst;
	unsigned rst_from_b;
};

static json_t *pcap_conversations(const char *path, json_t **resets)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, eb);
	struct pcap_pkthdr *h;
	const u_char *d;
	struct conv *cv = NULL;
	size_t n = 0, cap = 0;
	json_t *out = json_array();
	*resets = json_array();
	if (!p)
		return out;
	int dlt = pcap_datalink(p);
	while (pcap_next_ex(p, &h, &d) == 1) {
		size_t off = dlt == DLT_LINUX_SLL ? 16 : dlt == DLT_LINUX_SLL2 ? 20 : dlt == DLT_EN10MB ? 14 : 0;
		if (h->caplen < off + 20 || (d[off] >> 4) != 4)
			continue;
		const u_char *ip = d + off;
		size_t ihl = (size_t)(ip[0] & 15) * 4;
		unsigned proto = ip[9];
		if ((proto != 6 && proto != 17) || h->caplen < off + ihl + 14)
			continue;
		const u_char *l4 = ip + ihl;
		char s[16], t[16];
		unsigned sp = (unsigned)l4[0] << 8 | l4[1], tp = (unsigned)l4[2] << 8 | l4[3];
		inet_ntop(AF_INET, ip + 12, s, sizeof(s));
		inet_ntop(AF_INET, ip + 16, t, sizeof(t));
		unsigned flags = proto == 6 ? l4[13] : 0;
		size_t i;
		bool rev = false;
		for (i = 0; i < n; i++) {
			if (cv[i].proto != proto)
				continue;
			if (!strcmp(cv[i].a, s) && cv[i].ap == sp && !strcmp(cv[i].b, t) && cv[i].bp == tp)
				break;
			if (!strcmp(cv[i].a, t) && cv[i].ap == tp && !strcmp(cv[i].b, s) && cv[i].bp == sp) {
				rev = true;
				break;
			}
		}
		if (i == n) {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				struct conv *nc = realloc(cv, cap * sizeof(*cv));
				if (!nc)
					break;
				cv = nc;
			}
			memset(&cv[n], 0, sizeof(cv[n]));
			/* the side that sent the first SYN (or the first packet) is "a" */
			bool swap = proto == 6 && (flags & 0x12) == 0x12;
			snprintf(cv[n].a, 16, "%s", swap ? t : s);
			snprintf(cv[n].b, 16, "%s", swap ? s : t);
			cv[n].ap = swap ? tp : sp;
			cv[n].bp = swap ? sp : tp;
			cv[n].proto = proto;
			rev = swap;
			n++;
		}
		cv[i].packets++;
		cv[i].bytes += h->len;
		if (flags & 0x02)
			cv[i].syn = true;
		if (flags & 0x04) {
			cv[i].rst = true;
			if (rev)
				cv[i].rst_from_b++;
		}
	}
	pcap_close(p);
	for (size_t i = 0; i < n; i++) {
		json_t *c = json_pack("{s:s, s:s, s:i, s:s, s:i, s:I, s:I, s:b, s:b}", "proto", cv[i].proto == 6 ? "tcp" : "udp",
				      "src", cv[i].a, "sport", cv[i].ap, "dst", cv[i].b, "dport", cv[i].bp, "packets",
				      (json_int_t)cv[i].packets, "bytes", (json_int_t)cv[i].bytes, "syn_seen", cv[i].syn,
				      "reset", cv[i].rst);
		json_array_append(out, c);
		/* a connection that was never opened in the sandbox (no SYN): restored by CRIU */
		if (cv[i].proto == 6 && cv[i].rst && !cv[i].syn)
			json_array_append(*resets, c);
		json_decref(c);
	}
	free(cv);
	return out;
}

/* ---- the activity log ---- */

static json_t *read_activity(const char *path)
{
	json_t *a = json_array();
	FILE *f = path ? fopen(path, "r") : NULL;
	char *line = NULL;
	size_t cap = 0;
	if (!f)
		return a;
	while (getline(&line, &cap, f) > 0 && json_array_size(a) < 200000) {
		json_error_t je;
		json_t *e = json_loads(line, 0, &je);
		if (e && !strcmp(json_string_value(json_object_get(e, "evt.phase")) ?: "", "run"))
			json_array_append_new(a, e);
		else
			json_decref(e);
	}
	free(line);
	fclose(f);
	return a;
}

static void activity_findings(det_found *d, json_t *act)
{
	kcsi_finding *f_exec = NULL, *f_write = NULL, *f_memfd = NULL, *f_ptrace = NULL, *f_setuid = NULL,
		     *f_unlink = NULL, *f_chmod = NULL, *f_conn = NULL, *f_listen = NULL;
	size_t i, nexec = 0, nwrite = 0, nunlink = 0, nconn = 0;
	json_t *e;
	char ex[600];
	json_array_foreach(act, i, e)
	{
		const char *t = jstr(e, "evt.type"), *fd = jstr(e, "fd.name"), *cl = jstr(e, "proc.cmdline");
		json_int_t pid = json_integer_value(json_object_get(e, "proc.vpid"));
		if (!strcmp(t, "execve")) {
			if (!f_exec)
				f_exec = finding(d, "KCSI-DYN-EXEC-001", KCSI_SEV_LOW, "The restored processes started programs",
						 "Programs were executed inside the sandbox after the restore (from the "
						 "activity log).",
						 "T1059 T1059.004");
			if (nexec++ < 20) {
				snprintf(ex, sizeof(ex), "%s (parent %s)", cl, jstr(e, "proc.pname"));
				evidence(f_exec, "process", pid, jstr(e, "proc.exepath"), NULL, ex);
			}
		} else if (!strcmp(t, "open") && (fd[0] == '/' && strncmp(fd, "/dev/", 5) && strncmp(fd, "/proc/", 6))) {
			if (!f_write)
				f_write = finding(d, "KCSI-DYN-FILE-001", KCSI_SEV_LOW, "Files opened for writing",
						  "Processes in the sandbox opened files for writing.", "T1074.001");
			if (nwrite++ < 20)
				evidence(f_write, "file", pid, fd, NULL, cl);
		} else if (!strcmp(t, "unlink")) {
			if (!f_unlink)
				f_unlink = finding(d, "KCSI-DYN-UNLINK-001", KCSI_SEV_LOW, "Files deleted",
						   "Processes in the sandbox deleted files.", "T1070.004");
			if (nunlink++ < 20)
				evidence(f_unlink, "file", pid, fd, NULL, cl);
		} else if (!strcmp(t, "chmod")) {
			if (!f_chmod)
				f_chmod = finding(d, "KCSI-DYN-CHMOD-001", KCSI_SEV_LOW, "File modes changed",
						  "Processes in the sandbox changed file permissions.", "T1222.002");
			evidence(f_chmod, "file", pid, fd, NULL, jstr(e, "evt.arg.mode"));
		} else if (!strcmp(t, "memfd_create")) {
			if (!f_memfd)
				f_memfd = finding(d, "KCSI-DYN-MEMFD-001", KCSI_SEV_HIGH, "Anonymous in-memory file created",
						  "memfd_create() gives a file that exists only in memory, the usual first "
						  "step of fileless execution.",
						  "T1620 T1027");
			evidence(f_memfd, "process", pid, fd, NULL, cl);
		} else if (!strcmp(t, "ptrace")) {
			if (!f_ptrace)
				f_ptrace = finding(d, "KCSI-DYN-PTRACE-001", KCSI_SEV_HIGH, "Process tracing",
						   "A process used ptrace() (debugging or injecting into another process).",
						   "T1055.008");
			evidence(f_ptrace, "process", pid, NULL, NULL, cl);
		} else if (!strcmp(t, "setuid")) {
			if (!f_setuid)
				f_setuid = finding(d, "KCSI-DYN-SETUID-001", KCSI_SEV_MEDIUM, "Process changed its user id",
						   "A process called setuid-family syscalls.", "T1548");
			evidence(f_setuid, "process", pid, NULL, NULL, cl);
		} else if (!strcmp(t, "connect") && strchr(fd, ':')) {
			if (!f_conn)
				f_conn = finding(d, "KCSI-DYN-CONNECT-001", KCSI_SEV_LOW, "Outbound connection attempts (activity log)",
						 "connect() calls of the restored processes, with the address they asked "
						 "for.",
						 "T1071");
			if (nconn++ < 30) {
				char c[200];
				snprintf(c, sizeof(c), "%s %s", jstr(e, "fd.l4proto"), fd);
				evidence(f_conn, "socket", pid, NULL, c, cl);
			}
			ioc(d, "ipv4", jstr(e, "fd.sip"), "detonation activity log (connect)");
		} else if (!strcmp(t, "listen")) {
			if (!f_listen)
				f_listen = finding(d, "KCSI-DYN-LISTEN-001", KCSI_SEV_LOW, "Listening sockets",
						   "Processes in the sandbox listened for connections.", "T1571");
			evidence(f_listen, "socket", pid, NULL, fd, cl);
		}
	}
}

/* ---- manifest ---- */

static void manifest_dir(json_t *files, const char *root, const char *rel)
{
	char p[4400];
	DIR *d;
	struct dirent *de;
	snprintf(p, sizeof(p), "%s%s%s", root, *rel ? "/" : "", rel);
	if (!(d = opendir(p)))
		return;
	while ((de = readdir(d))) {
		char r[1024], full[5500], hex[65];
		struct stat st;
		if (de->d_name[0] == '.' || !strcmp(de->d_name, "manifest.json"))
			continue;
		snprintf(r, sizeof(r), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		snprintf(full, sizeof(full), "%s/%s", root, r);
		if (lstat(full, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			manifest_dir(files, root, r);
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		int fd = open(full, O_RDONLY | O_CLOEXEC);
		kcsi_error e;
		if (fd < 0 || kcsi_sha256_fd(fd, hex, &e) != KCSI_OK)
			hex[0] = '\0';
		if (fd >= 0)
			close(fd);
		const char *kind = !strcmp(r, "traffic.pcap")	  ? "pcap"
				   : !strcmp(r, "activity.jsonl") ? "activity-log"
				   : !strcmp(r, "report.json")	  ? "report"
				   : !strncmp(r, "transcripts/", 12) ? "transcript"
								     : "log";
		json_array_append_new(files, json_pack("{s:s, s:s, s:I, s:s}", "path", r, "kind", kind, "bytes",
						       (json_int_t)st.st_size, "sha256", hex));
	}
	closedir(d);
}

static int cmp_path(const void *a, const void *b)
{
	return strcmp(jstr(*(json_t *const *)a, "path"), jstr(*(json_t *const *)b, "path"));
}

/* DIR/NAME written whole (a temporary file renamed over it), 0600 like
 * every file of DIR (evidence) */
static kcsi_code write_json(const char *dir, const char *name, json_t *j, kcsi_error *err)
{
	char p[4400], tmp[4420];
	int fd;
	FILE *f = NULL;
	bool ok;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", p);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0 && !(f = fdopen(fd, "w")))
		close(fd);
	ok = f && json_dumpf(j, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0;
	if (f && fclose(f) != 0)
		ok = false;
	if (!ok || rename(tmp, p) != 0) {
		unlink(tmp);
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: cannot write", p);
	}
	return KCSI_OK;
}

static json_t *find_pid(json_t *procs, json_int_t pid)
{
	json_t *p;
	size_t i;
	json_array_foreach(procs, i, p)
		if (json_integer_value(json_object_get(p, "pid")) == pid)
			return p;
	return NULL;
}

/* The exit of pid in the activity log (the last one), or NULL. */
static json_t *exit_event(json_t *act, json_int_t pid)
{
	json_t *e, *last = NULL;
	size_t i;
	json_array_foreach(act, i, e)
		if (!strcmp(jstr(e, "evt.type"), "procexit") && json_integer_value(json_object_get(e, "proc.vpid")) == pid)
			last = e;
	return last;
}

/* Every process of the checkpoint with its fate: running at the end, exited
 * (code or signal, when), not restored.  Exits soon after the restore with a
 * failure are a finding: anti-analysis, or a dependency the sandbox cut. */
static json_t *process_fates(const det_facts *f, json_t *act, det_found *d)
{
	json_t *out = json_array(), *p;
	kcsi_finding *f_exit = NULL, *f_early = NULL;
	size_t i;
	json_array_foreach(f->checkpointed_processes, i, p)
	{
		json_int_t pid = json_integer_value(json_object_get(p, "pid"));
		json_t *restored = find_pid(f->restored_processes, pid), *end = find_pid(f->final_processes, pid);
		json_t *ev = exit_event(act, pid);
		json_t *o = json_pack("{s:I, s:s, s:b}", "pid", pid, "comm", jstr(p, "comm"), "seen_after_restore",
				      restored != NULL || end != NULL);
		char ex[300];
		if (!f->restored_wall) {
			json_object_set_new(o, "fate", json_string("not restored"));
		} else if (end) {
			json_object_set_new(o, "fate", json_string("running at the end"));
		} else {
			json_int_t st = ev ? json_integer_value(json_object_get(ev, "evt.arg.status")) : -1;
			bool sig = st >= 0 && (st & 0x7f);
			json_object_set_new(o, "fate", json_string(!ev ? (restored ? "exited during the run"
										   : "exited right after the restore")
								       : sig ? "killed by a signal" : "exited"));
			if (ev) {
				json_object_set_new(o, sig ? "signal" : "exit_code", json_integer(sig ? st & 0x7f : st >> 8 & 0xff));
				json_object_set(o, "time", json_object_get(ev, "evt.time"));
			}
			snprintf(ex, sizeof(ex), "pid %lld (%s): %s%s", (long long)pid, jstr(p, "comm"),
				 jstr(o, "fate"), ev ? (sig ? ", by a signal" : st >> 8 & 0xff ? ", non-zero exit code" : ", code 0")
						     : "");
			if (!f_exit)
				f_exit = finding(d, "KCSI-DYN-EXIT-001", KCSI_SEV_INFO, "Processes of the checkpoint that exited during the run",
						 "Processes the checkpoint held were gone before the end of the run.", "");
			evidence(f_exit, "process", pid, NULL, NULL, ex);
			/* soon after the restore, and not a clean exit */
			if (!restored || (ev && (sig || st >> 8 & 0xff))) {
				if (!f_early)
					f_early = finding(d, "KCSI-DYN-EXIT-002", KCSI_SEV_LOW,
							  "Processes that stopped right after the restore",
							  "A process of the checkpoint ended soon after the restore or with a "
							  "failure: it may check for analysis environments, or it lost "
							  "something it depends on (a connection the sandbox reset, a file "
							  "of a replaced mount).",
							  "T1497");
				evidence(f_early, "process", pid, NULL, NULL, ex);
			}
		}
		json_array_append_new(out, o);
	}
	return out;
}

/* "TCP 10.88.0.5:40000 -> 127.6.6.6:6667" and a tail, for a record with src,
 * sport, dst and dport */
static void flow_text(char *buf, size_t cap, const char *proto, json_t *s, const char *tail_fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void flow_text(char *buf, size_t cap, const char *proto, json_t *s, const char *tail_fmt, ...)
{
	va_list ap;
	int n = snprintf(buf, cap, "%s %s:%lld -> %s:%lld", proto, jstr(s, "src"),
			 (long long)json_integer_value(json_object_get(s, "sport")), jstr(s, "dst"),
			 (long long)json_integer_value(json_object_get(s, "dport")));
	if (n < 0 || (size_t)n >= cap)
		return;
	va_start(ap, tail_fmt);
	vsnprintf(buf + n, cap - (size_t)n, tail_fmt, ap);
	va_end(ap);
}

/* ---- the sinkhole's sessions: what the program tried to reach and said ---- */

struct sessions {
	kcsi_finding *net, *irc, *cmd, *miner, *http, *silent;
};

static void irc_session(det_found *d, struct sessions *k, json_t *s, const char *conn)
{
	json_t *l, *cmd;
	size_t j;
	char ex[1200] = "";
	if (!k->irc)
		k->irc = finding(d, "KCSI-DYN-IRC-001", KCSI_SEV_HIGH, "Registers with an IRC server (bot C2)",
				 "The program spoke IRC to the address it connected to: nick, user and channel as a bot "
				 "joins its command channel.",
				 "T1071 T1102.002");
	json_array_foreach(json_object_get(s, "lines"), j, l) {
		const char *t = json_string_value(l);
		if (j < 6 && strlen(ex) + strlen(t) + 4 < sizeof(ex))
			strcat(strcat(ex, t), " | ");
	}
	evidence(k->irc, "socket", -1, jstr(s, "transcript"), conn, ex);
	ioc(d, "irc-nick", jstr(s, "nick"), "detonation: IRC NICK");
	ioc(d, "irc-user", jstr(s, "realname"), "detonation: IRC USER (real name field)");
	json_array_foreach(json_object_get(s, "channels"), j, l)
		ioc(d, "irc-channel", jstr(l, "channel"), "detonation: IRC JOIN");
	json_array_foreach(json_object_get(s, "commands"), j, cmd) {
		json_t *o, *out = json_object_get(cmd, "output");
		size_t k2;
		if (!k->cmd)
			k->cmd = finding(d, "KCSI-DYN-C2CMD-001", KCSI_SEV_CRITICAL, "Runs commands sent by its C2",
					 "The sinkhole's operator sent commands on the IRC channel and the program answered "
					 "with their output: it executes remote commands.",
					 "T1059 T1059.004 T1071");
		snprintf(ex, sizeof(ex), "%s => ", jstr(cmd, "command"));
		json_array_foreach(out, k2, o) {
			const char *t = json_string_value(o);
			if (strlen(ex) + strlen(t) + 4 < sizeof(ex))
				strcat(strcat(ex, t), k2 + 1 < json_array_size(out) ? " | " : "");
		}
		if (!json_array_size(out))
			strcat(ex, "(no answer)");
		evidence(k->cmd, "socket", -1, jstr(s, "transcript"), conn, ex);
	}
}

static void stratum_session(det_found *d, struct sessions *k, json_t *s, const char *conn)
{
	char ex[1200];
	if (!k->miner)
		k->miner = finding(d, "KCSI-DYN-MINER-001", KCSI_SEV_CRITICAL, "Logs in to a mining pool",
				   "The program spoke stratum JSON-RPC (subscribe/authorize/login/submit) and gave a wallet: "
				   "a cryptocurrency miner.",
				   "T1496");
	snprintf(ex, sizeof(ex), "login %s pass %s agent %s methods %s submits %lld", jstr(s, "login"), jstr(s, "pass"),
		 jstr(s, "agent"), json_array_size(json_object_get(s, "methods")) ? "yes" : "no",
		 (long long)json_integer_value(json_object_get(s, "submits")));
	evidence(k->miner, "socket", -1, jstr(s, "transcript"), conn, ex);
	ioc(d, "wallet", jstr(s, "login"), "detonation: stratum login");
	ioc(d, "user-agent", jstr(s, "agent"), "detonation: stratum agent");
}

static void http_session(det_found *d, struct sessions *k, json_t *s, const char *conn)
{
	json_t *q;
	size_t j;
	if (!k->http)
		k->http = finding(d, "KCSI-DYN-HTTP-001", KCSI_SEV_MEDIUM, "HTTP requests",
				  "The program sent HTTP requests (answered 200 with an empty body).", "T1071.001");
	json_array_foreach(json_object_get(s, "requests"), j, q) {
		char url[1200], ex[1200];
		snprintf(url, sizeof(url), "http://%s%s", *jstr(q, "host") ? jstr(q, "host") : jstr(s, "dst"), jstr(q, "path"));
		snprintf(ex, sizeof(ex), "%.16s %.900s UA %.200s", jstr(q, "method"), url, jstr(q, "user_agent"));
		evidence(k->http, "socket", -1, jstr(s, "transcript"), conn, ex);
		ioc(d, "url", url, "detonation: HTTP request");
		ioc(d, "user-agent", jstr(q, "user_agent"), "detonation: HTTP request");
	}
}

static void session_findings(det_found *d, json_t *sessions)
{
	struct sessions k = {0};
	json_t *s;
	size_t i;
	json_array_foreach(sessions, i, s) {
		const char *svc = jstr(s, "service");
		char conn[256];
		flow_text(conn, sizeof(conn), "TCP", s, " (%s, %lld bytes sent, %lld received)", svc,
			  (long long)json_integer_value(json_object_get(s, "bytes_in")),
			  (long long)json_integer_value(json_object_get(s, "bytes_out")));
		if (!k.net)
			k.net = finding(d, "KCSI-DYN-NET-001", KCSI_SEV_MEDIUM, "Connects out from the sandbox",
					"The restored processes opened TCP connections; the sinkhole took every one "
					"(destination and port as the program asked for them).",
					"T1071 T1571");
		evidence(k.net, "socket", -1, jstr(s, "transcript"), conn, jstr(s, "first_bytes"));
		ioc(d, "ipv4", jstr(s, "dst"), "detonation: TCP connection tried");
		if (!strcmp(svc, "irc"))
			irc_session(d, &k, s, conn);
		else if (!strcmp(svc, "stratum"))
			stratum_session(d, &k, s, conn);
		else if (!strcmp(svc, "http"))
			http_session(d, &k, s, conn);
		else if (!strcmp(svc, "silent")) {
			if (!k.silent)
				k.silent = finding(d, "KCSI-DYN-SILENT-001", KCSI_SEV_MEDIUM,
						   "Connection that waits for the other side to speak",
						   "The program connected and sent nothing: the shape of a reverse shell or a "
						   "bot waiting for orders.",
						   "T1059.004 T1095");
			evidence(k.silent, "socket", -1, jstr(s, "transcript"), conn, NULL);
		}
	}
}

/* ---- DNS: zones whose names carry data (tunnels, exfiltration), lookups ---- */

static void tunnel_finding(det_found *d, json_t *z)
{
	json_t *rs;
	size_t k;
	char reasons[600] = "", title[400], ex[1200];
	kcsi_finding *f;
	json_array_foreach(json_object_get(z, "reasons"), k, rs) {
		size_t l = strlen(reasons);
		snprintf(reasons + l, sizeof(reasons) - l, "%s%s", l ? "; " : "", json_string_value(rs));
	}
	snprintf(title, sizeof(title), "DNS tunnelling or exfiltration through %s", jstr(z, "zone"));
	f = finding(d, "KCSI-DYN-DNSTUN-001", KCSI_SEV_CRITICAL, title,
		    "The program sent data in the names of its DNS queries: many unique, long or encoded labels under one "
		    "zone. Each query carries a piece of a file or a command channel to whoever answers for the zone.",
		    "T1071.004 T1048.003");
	snprintf(ex, sizeof(ex), "%lld queries, %lld unique subdomains: %s",
		 (long long)json_integer_value(json_object_get(z, "queries")),
		 (long long)json_integer_value(json_object_get(z, "unique_subdomains")), reasons);
	evidence(f, "dns", -1, "transcripts/dns.txt", NULL, ex);
	json_array_foreach(json_object_get(z, "examples"), k, rs)
		evidence(f, "dns", -1, "transcripts/dns.txt", NULL, json_string_value(rs));
	ioc(d, "domain", jstr(z, "zone"), "detonation: DNS tunnel zone");
}

static bool in_zones(const char *name, json_t *zones)
{
	json_t *tz;
	size_t k;
	json_array_foreach(zones, k, tz) {
		size_t nl = strlen(name), zl = json_string_length(tz);
		if (nl >= zl && !strcasecmp(name + nl - zl, json_string_value(tz)))
			return true;
	}
	return false;
}

static void dns_findings(det_found *d, json_t *zones, json_t *dns)
{
	json_t *z, *s, *tunnel_zones = json_array();
	size_t i;
	json_array_foreach(zones, i, z) {
		if (!json_is_true(json_object_get(z, "tunnel")))
			continue;
		tunnel_finding(d, z);
		json_array_append(tunnel_zones, json_object_get(z, "zone"));
	}
	if (json_array_size(dns)) {
		kcsi_finding *f = finding(d, "KCSI-DYN-DNS-001", KCSI_SEV_LOW, "DNS lookups",
					  "Names the program resolved (the sinkhole answered every query, A with a sinkhole "
					  "address).",
					  "T1071.004");
		json_array_foreach(dns, i, s) {
			const char *name = jstr(s, "name");
			char ex[1200];
			snprintf(ex, sizeof(ex), "%s %s via %s (%s)", jstr(s, "type"), name, jstr(s, "server"),
				 jstr(s, "transport"));
			if (i < 30)
				evidence(f, "dns", -1, "transcripts/dns.txt", NULL, ex);
			/* the names of a tunnel are its payload, not indicators: the zone is */
			if (!in_zones(name, tunnel_zones))
				ioc(d, "domain", name, "detonation: DNS query");
		}
	}
	json_decref(tunnel_zones);
}

/* ---- datagrams, resets, CPU ---- */

static void udp_findings(det_found *d, json_t *udp)
{
	json_t *s;
	size_t i;
	kcsi_finding *f;
	if (!json_array_size(udp))
		return;
	f = finding(d, "KCSI-DYN-UDP-001", KCSI_SEV_LOW, "UDP datagrams sent out",
		    "Datagrams to addresses outside the sandbox (recorded, never answered).", "T1095");
	json_array_foreach(udp, i, s) {
		char conn[256];
		flow_text(conn, sizeof(conn), "UDP", s, " (%lld bytes)", (long long)json_integer_value(json_object_get(s, "bytes")));
		if (i < 30)
			evidence(f, "socket", -1, NULL, conn, jstr(s, "first_bytes"));
		ioc(d, "ipv4", jstr(s, "dst"), "detonation: UDP datagram");
	}
}

static void reset_findings(det_found *d, json_t *resets)
{
	json_t *s;
	size_t i;
	kcsi_finding *f;
	if (!json_array_size(resets))
		return;
	f = finding(d, "KCSI-DYN-RESET-001", KCSI_SEV_INFO, "Restored connections reset by the sandbox",
		    "Connections the checkpoint held were restored, and the sandbox (no peer behind them) answered with "
		    "a reset.",
		    "");
	json_array_foreach(resets, i, s) {
		char conn[256];
		flow_text(conn, sizeof(conn), "TCP", s, " reset (%lld packets)",
			  (long long)json_integer_value(json_object_get(s, "packets")));
		evidence(f, "socket", -1, "traffic.pcap", conn, NULL);
	}
}

/* CPU use: reported always, a finding when the container used most of its cap */
static double cpu_finding(det_found *d, const det_facts *f)
{
	double avg = f->run_s > 0 ? 100.0 * f->cpu_seconds / f->run_s : 0;
	if (f->run_s >= 3 && avg >= 0.6 * f->cpu_percent) {
		char ex[1200];
		kcsi_finding *fc = finding(d, "KCSI-DYN-CPU-001", KCSI_SEV_MEDIUM, "Sustained CPU use",
					   "The container used most of the CPU it was allowed for the whole run.", "T1496");
		snprintf(ex, sizeof(ex), "%.1f CPU seconds in %.1f s: %.0f%% of a core (cap %u%%)", f->cpu_seconds, f->run_s,
			 avg, f->cpu_percent);
		evidence(fc, "process", -1, NULL, NULL, ex);
	}
	return avg;
}

/* ---- the report ---- */

/* The document of report.json around the findings and IOCs (new reference). */
static json_t *report_document(const det_facts *f, double avg, json_t *fates, json_t *convs, json_t *act)
{
	json_t *sessions = json_object_get(f->sinkhole, "sessions"), *dns = json_object_get(f->sinkhole, "dns");
	json_t *udp = json_object_get(f->sinkhole, "udp"), *zones = json_object_get(f->sinkhole, "dns_zones"), *r;
	char ts[3][40];

	det_iso_time(f->started_wall, ts[0], sizeof(ts[0]));
	det_iso_time(f->restored_wall, ts[1], sizeof(ts[1]));
	det_iso_time(f->ended_wall, ts[2], sizeof(ts[2]));
	r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "schema", KCSI_DETONATION_SCHEMA, "schema_version",
		      KCSI_REPORT_SCHEMA_VERSION, "archive", f->archive, "archive_sha256", f->archive_sha256, "container",
		      f->container ? f->container : "", "image", f->image ? f->image : "", "layout",
		      f->layout ? f->layout : "", "end_reason", f->end_reason);
	json_object_set_new(r, "sandbox",
			    json_pack("{s:s, s:s, s:{s:i, s:I, s:i}, s:i}", "netns", f->netns ? f->netns : "",
				      "network", "lo + sink0 (default route, dead end); TCP/UDP -> sinkhole (nftables TPROXY)",
				      "limits", "cpu_percent", f->cpu_percent, "memory_bytes", (json_int_t)f->memory_bytes,
				      "pids_max", f->pids_max, "duration_seconds", f->duration_s));
	json_object_set_new(json_object_get(r, "sandbox"), "confinement",
			    f->confinement ? json_incref(f->confinement) : json_object());
	json_object_set_new(r, "times",
			    json_pack("{s:s, s:s, s:s, s:f, s:f}", "started", ts[0], "restored", ts[1], "ended", ts[2],
				      "restore_seconds", f->restore_s, "run_seconds", f->run_s));
	json_object_set_new(r, "resources",
			    json_pack("{s:f, s:f, s:I, s:i, s:o}", "cpu_seconds", f->cpu_seconds, "cpu_percent_avg", avg,
				      "memory_peak_bytes", (json_int_t)f->memory_peak, "pids_peak", f->pids_peak,
				      "cpu_samples", or_empty(f->cpu_samples)));
	json_object_set_new(r, "processes",
			    json_pack("{s:o, s:o, s:o}", "checkpointed", fates, "after_restore",
				      or_empty(f->restored_processes), "at_end", or_empty(f->final_processes)));
	json_object_set_new(r, "restore", f->restore ? json_incref(f->restore) : json_null());
	if (f->failure)
		json_object_set_new(r, "failure", json_incref(f->failure));
	json_object_set_new(r, "warnings", or_empty(f->warnings));
	json_object_set_new(json_object_get(r, "sandbox"), "addresses_added", or_empty(f->addresses_added));
	json_object_set_new(json_object_get(r, "sandbox"), "mounts_seen", or_empty(f->mounts_seen));
	json_object_set_new(r, "network",
			    json_pack("{s:o, s:o, s:o, s:I, s:o, s:o, s:I, s:I}", "sessions", or_empty(sessions), "dns",
				      or_empty(dns), "dns_zones", or_empty(zones), "dns_not_recorded",
				      (json_int_t)json_integer_value(json_object_get(f->sinkhole, "dns_not_recorded")), "udp",
				      or_empty(udp), "conversations", convs, "packets", (json_int_t)f->packets,
				      "packets_dropped", (json_int_t)f->packets_dropped));
	json_object_set_new(r, "activity",
			    json_pack("{s:s?, s:I, s:I, s:s?, s:I}", "file", f->activity_path ? "activity.jsonl" : NULL,
				      "events", (json_int_t)f->events, "lost", (json_int_t)f->events_lost, "unavailable",
				      f->bpf_error, "events_after_restore", (json_int_t)json_array_size(act)));
	json_object_set(r, "fs_changes", f->fs_changes ? f->fs_changes : json_null());
	return r;
}

/* DIR/manifest.json: every file the run wrote, by path, with its sha256 */
static kcsi_code write_manifest(const char *dir, const det_facts *f, kcsi_error *err)
{
	json_t *files = json_array(), *m;
	size_t n;
	json_t **v;
	kcsi_code rc;
	manifest_dir(files, dir, "");
	n = json_array_size(files);
	v = calloc(n ? n : 1, sizeof(*v));
	for (size_t i = 0; v && i < n; i++)
		v[i] = json_incref(json_array_get(files, i));
	if (v) {
		qsort(v, n, sizeof(*v), cmp_path);
		json_array_clear(files);
		for (size_t i = 0; i < n; i++)
			json_array_append_new(files, v[i]);
		free(v);
	}
	m = json_pack("{s:s, s:s, s:s, s:o}", "schema", "kcsi-detonation-manifest/1", "archive", f->archive,
		      "archive_sha256", f->archive_sha256, "files", files);
	rc = write_json(dir, "manifest.json", m, err);
	json_decref(m);
	return rc;
}

kcsi_code det_write_report(const char *dir, const det_facts *f, unsigned *nfindings, kcsi_error *err)
{
	det_found d = {0};
	json_t *r, *resets, *convs, *act, *fates, *findings;
	char p[4400];
	double avg;
	kcsi_code rc;

	snprintf(p, sizeof(p), "%s/traffic.pcap", dir);
	convs = pcap_conversations(p, &resets);
	act = read_activity(f->activity_path);
	session_findings(&d, json_object_get(f->sinkhole, "sessions"));
	dns_findings(&d, json_object_get(f->sinkhole, "dns_zones"), json_object_get(f->sinkhole, "dns"));
	udp_findings(&d, json_object_get(f->sinkhole, "udp"));
	reset_findings(&d, resets);
	fates = process_fates(f, act, &d);
	activity_findings(&d, act);
	avg = cpu_finding(&d, f);

	r = report_document(f, avg, fates, convs, act);
	json_object_set_new(r, "findings", findings = kcsi_findings_to_json(&d.fs));
	json_object_set_new(r, "iocs", kcsi_iocs_to_json(&d.iocs));
	*nfindings = (unsigned)json_array_size(findings);
	kcsi_findings_free(&d.fs);
	kcsi_iocs_free(&d.iocs);
	json_decref(resets);
	json_decref(act);
	rc = write_json(dir, "report.json", r, err);
	json_decref(r);
	return rc != KCSI_OK ? rc : write_manifest(dir, f, err);
}

void det_facts_free(det_facts *f)
{
	json_decref(f->cpu_samples);
	json_decref(f->sinkhole);
	json_decref(f->fs_changes);
	json_decref(f->restored_processes);
	json_decref(f->final_processes);
	json_decref(f->confinement);
	json_decref(f->restore);
	json_decref(f->failure);
	json_decref(f->mounts_seen);
	memset(f, 0, sizeof(*f));
}
