/* kcsi detonate — the report: what the restored container did, as findings
 * (analyze's schema: id, severity, title, explanation, mitre, evidence) and
 * IOCs (type, value, class, source, count), built only from what was recorded:
 * the sinkhole's sessions, the DNS queries, the pcap's conversations, the
 * activity log and the process lists.  Then DIR/manifest.json with the sha256
 * of every file the run wrote. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/sandbox_int.h"
#include "base/safeout.h"

/* a new reference to j, or an empty array when there is none */
static json_t *or_empty(json_t *j)
{
	return j ? json_incref(j) : json_array();
}

static const char *sev_name[] = {"info", "low", "medium", "high", "critical"};

static json_t *finding(json_t *fs, const char *id, int sev, const char *title, const char *expl, const char *mitre)
{
	json_t *m = json_array();
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", mitre);
	for (char *t = strtok(buf, " "); t; t = strtok(NULL, " "))
		json_array_append_new(m, json_string(t));
	json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:o, s:[]}", "id", id, "severity", sev_name[sev], "title", title,
			      "explanation", expl, "mitre", m, "evidence");
	json_array_append_new(fs, f);
	return f;
}

static void evidence(json_t *f, const char *kind, json_int_t pid, const char *path, const char *conn, const char *excerpt,
		     const char *command)
{
	char ex[204];
	json_t *e = json_pack("{s:s, s:I, s:I}", "kind", kind, "pid", pid, "fd", (json_int_t)-1);
	if (path)
		json_object_set_new(e, "path", json_string(path));
	if (conn)
		json_object_set_new(e, "connection", json_string(conn));
	if (excerpt) {
		size_t n = strlen(excerpt);
		snprintf(ex, sizeof(ex), "%.*s%s", n > 200 ? 197 : (int)n, excerpt, n > 200 ? "..." : "");
		for (char *c = ex; *c; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
				*c = '.';
		json_object_set_new(e, "excerpt", json_string(ex));
	}
	if (command)
		json_object_set_new(e, "command", json_string(command));
	json_array_append_new(json_object_get(f, "evidence"), e);
}

static const char *addr_class(const char *a)
{
	struct in_addr ia;
	uint32_t x;
	if (inet_pton(AF_INET, a, &ia) != 1)
		return NULL;
	x = ntohl(ia.s_addr);
	if ((x >> 24) == 127)
		return "loopback";
	if ((x >> 24) == 10 || (x >> 20) == (172 << 4 | 1) || (x >> 16) == (192 << 8 | 168))
		return "private";
	if ((x >> 16) == (169 << 8 | 254))
		return "link-local";
	if ((x >> 8) == (192u << 16 | 0 << 8 | 2) || (x >> 8) == (198u << 16 | 51 << 8 | 100) ||
	    (x >> 8) == (203u << 16 | 0 << 8 | 113))
		return "documentation";
	if ((x >> 28) == 14)
		return "multicast";
	if ((x >> 24) == 0 || (x >> 28) == 15 || (x >> 17) == (198u << 7 | 9) || (x >> 22) == (100u << 2 | 1))
		return "reserved";
	return "public";
}

static void ioc(json_t *iocs, const char *type, const char *value, const char *source)
{
	size_t i;
	json_t *o;
	if (!value || !*value)
		return;
	json_array_foreach(iocs, i, o)
	{
		if (!strcmp(json_string_value(json_object_get(o, "type")), type) &&
		    !strcmp(json_string_value(json_object_get(o, "value")), value)) {
			json_object_set_new(o, "count", json_integer(json_integer_value(json_object_get(o, "count")) + 1));
			return;
		}
	}
	o = json_pack("{s:s, s:s, s:s, s:i}", "type", type, "value", value, "source", source, "count", 1);
	if (!strcmp(type, "ipv4") && addr_class(value))
		json_object_set_new(o, "class", json_string(addr_class(value)));
	json_array_append_new(iocs, o);
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

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static void activity_findings(json_t *fs, json_t *iocs, json_t *act)
{
	json_t *f_exec = NULL, *f_write = NULL, *f_memfd = NULL, *f_ptrace = NULL, *f_setuid = NULL, *f_unlink = NULL,
	       *f_chmod = NULL, *f_conn = NULL, *f_listen = NULL;
	size_t i, nexec = 0, nwrite = 0, nunlink = 0, nconn = 0;
	json_t *e;
	char ex[600];
	json_array_foreach(act, i, e)
	{
		const char *t = jstr(e, "evt.type"), *fd = jstr(e, "fd.name"), *cl = jstr(e, "proc.cmdline");
		json_int_t pid = json_integer_value(json_object_get(e, "proc.vpid"));
		if (!strcmp(t, "execve")) {
			if (!f_exec)
				f_exec = finding(fs, "KCSI-DYN-EXEC-001", 1, "The restored processes started programs",
						 "Programs were executed inside the sandbox after the restore (from the "
						 "activity log).",
						 "T1059 T1059.004");
			if (nexec++ < 20) {
				snprintf(ex, sizeof(ex), "%s (parent %s)", cl, jstr(e, "proc.pname"));
				evidence(f_exec, "process", pid, jstr(e, "proc.exepath"), NULL, ex, NULL);
			}
		} else if (!strcmp(t, "open") && (fd[0] == '/' && strncmp(fd, "/dev/", 5) && strncmp(fd, "/proc/", 6))) {
			if (!f_write)
				f_write = finding(fs, "KCSI-DYN-FILE-001", 1, "Files opened for writing",
						  "Processes in the sandbox opened files for writing.", "T1074.001");
			if (nwrite++ < 20)
				evidence(f_write, "file", pid, fd, NULL, cl, NULL);
		} else if (!strcmp(t, "unlink")) {
			if (!f_unlink)
				f_unlink = finding(fs, "KCSI-DYN-UNLINK-001", 1, "Files deleted",
						   "Processes in the sandbox deleted files.", "T1070.004");
			if (nunlink++ < 20)
				evidence(f_unlink, "file", pid, fd, NULL, cl, NULL);
		} else if (!strcmp(t, "chmod")) {
			if (!f_chmod)
				f_chmod = finding(fs, "KCSI-DYN-CHMOD-001", 1, "File modes changed",
						  "Processes in the sandbox changed file permissions.", "T1222.002");
			evidence(f_chmod, "file", pid, fd, NULL, jstr(e, "evt.arg.mode"), NULL);
		} else if (!strcmp(t, "memfd_create")) {
			if (!f_memfd)
				f_memfd = finding(fs, "KCSI-DYN-MEMFD-001", 3, "Anonymous in-memory file created",
						  "memfd_create() gives a file that exists only in memory, the usual first "
						  "step of fileless execution.",
						  "T1620 T1027");
			evidence(f_memfd, "process", pid, fd, NULL, cl, NULL);
		} else if (!strcmp(t, "ptrace")) {
			if (!f_ptrace)
				f_ptrace = finding(fs, "KCSI-DYN-PTRACE-001", 3, "Process tracing",
						   "A process used ptrace() (debugging or injecting into another process).",
						   "T1055.008");
			evidence(f_ptrace, "process", pid, NULL, NULL, cl, NULL);
		} else if (!strcmp(t, "setuid")) {
			if (!f_setuid)
				f_setuid = finding(fs, "KCSI-DYN-SETUID-001", 2, "Process changed its user id",
						   "A process called setuid-family syscalls.", "T1548");
			evidence(f_setuid, "process", pid, NULL, NULL, cl, NULL);
		} else if (!strcmp(t, "connect") && strchr(fd, ':')) {
			if (!f_conn)
				f_conn = finding(fs, "KCSI-DYN-CONNECT-001", 1, "Outbound connection attempts (activity log)",
						 "connect() calls of the restored processes, with the address they asked "
						 "for.",
						 "T1071");
			if (nconn++ < 30) {
				char c[200];
				snprintf(c, sizeof(c), "%s %s", jstr(e, "fd.l4proto"), fd);
				evidence(f_conn, "socket", pid, NULL, c, cl, NULL);
			}
			ioc(iocs, "ipv4", jstr(e, "fd.sip"), "detonation activity log (connect)");
		} else if (!strcmp(t, "listen")) {
			if (!f_listen)
				f_listen = finding(fs, "KCSI-DYN-LISTEN-001", 1, "Listening sockets",
						   "Processes in the sandbox listened for connections.", "T1571");
			evidence(f_listen, "socket", pid, NULL, fd, cl, NULL);
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

static kcsi_code write_json(const char *dir, const char *name, json_t *j, kcsi_error *err)
{
	char p[4400], tmp[4420];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", p);
	if (json_dump_file(j, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 || rename(tmp, p) != 0)
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: cannot write", p);
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
static json_t *process_fates(const det_facts *f, json_t *act, json_t *fs)
{
	json_t *out = json_array(), *p, *f_exit = NULL, *f_early = NULL;
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
				f_exit = finding(fs, "KCSI-DYN-EXIT-001", 0, "Processes of the checkpoint that exited during the run",
						 "Processes the checkpoint held were gone before the end of the run.", "");
			evidence(f_exit, "process", pid, NULL, NULL, ex, NULL);
			/* soon after the restore, and not a clean exit */
			if (!restored || (ev && (sig || st >> 8 & 0xff))) {
				if (!f_early)
					f_early = finding(fs, "KCSI-DYN-EXIT-002", 1,
							  "Processes that stopped right after the restore",
							  "A process of the checkpoint ended soon after the restore or with a "
							  "failure: it may check for analysis environments, or it lost "
							  "something it depends on (a connection the sandbox reset, a file "
							  "of a replaced mount).",
							  "T1497");
				evidence(f_early, "process", pid, NULL, NULL, ex, NULL);
			}
		}
		json_array_append_new(out, o);
	}
	return out;
}

kcsi_code det_write_report(const char *dir, const det_facts *f, unsigned *nfindings, kcsi_error *err)
{
	json_t *fs = json_array(), *iocs = json_array(), *r, *resets, *convs, *act, *s, *cmd;
	json_t *sessions = json_object_get(f->sinkhole, "sessions"), *dns = json_object_get(f->sinkhole, "dns");
	json_t *udp = json_object_get(f->sinkhole, "udp");
	json_t *zones = json_object_get(f->sinkhole, "dns_zones");
	char p[4400], ts[3][40], conn[256], ex[1200];
	size_t i, j;
	kcsi_code rc;

	snprintf(p, sizeof(p), "%s/traffic.pcap", dir);
	convs = pcap_conversations(p, &resets);
	act = read_activity(f->activity_path);

	/* sinkhole sessions: what the program tried to reach and said */
	json_t *f_net = NULL, *f_irc = NULL, *f_cmd = NULL, *f_miner = NULL, *f_http = NULL, *f_silent = NULL;
	json_array_foreach(sessions, i, s)
	{
		const char *svc = jstr(s, "service");
		snprintf(conn, sizeof(conn), "TCP %s:%lld -> %s:%lld (%s, %lld bytes sent, %lld received)", jstr(s, "src"),
			 (long long)json_integer_value(json_object_get(s, "sport")), jstr(s, "dst"),
			 (long long)json_integer_value(json_object_get(s, "dport")), svc,
			 (long long)json_integer_value(json_object_get(s, "bytes_in")),
			 (long long)json_integer_value(json_object_get(s, "bytes_out")));
		if (!f_net)
			f_net = finding(fs, "KCSI-DYN-NET-001", 2, "Connects out from the sandbox",
					"The restored processes opened TCP connections; the sinkhole took every one "
					"(destination and port as the program asked for them).",
					"T1071 T1571");
		evidence(f_net, "socket", -1, jstr(s, "transcript"), conn, jstr(s, "first_bytes"), NULL);
		ioc(iocs, "ipv4", jstr(s, "dst"), "detonation: TCP connection tried");
		if (!strcmp(svc, "irc")) {
			json_t *l;
			if (!f_irc)
				f_irc = finding(fs, "KCSI-DYN-IRC-001", 3, "Registers with an IRC server (bot C2)",
						"The program spoke IRC to the address it connected to: nick, user and "
						"channel as a bot joins its command channel.",
						"T1071 T1102.002");
			ex[0] = '\0';
			json_array_foreach(json_object_get(s, "lines"), j, l)
			{
				const char *t = json_string_value(l);
				if (j < 6 && strlen(ex) + strlen(t) + 4 < sizeof(ex))
					strcat(strcat(ex, t), " | ");
			}
			evidence(f_irc, "socket", -1, jstr(s, "transcript"), conn, ex, NULL);
			ioc(iocs, "irc-nick", jstr(s, "nick"), "detonation: IRC NICK");
			ioc(iocs, "irc-user", jstr(s, "realname"), "detonation: IRC USER (real name field)");
			json_array_foreach(json_object_get(s, "channels"), j, l)
			ioc(iocs, "irc-channel", jstr(l, "channel"), "detonation: IRC JOIN");
			json_array_foreach(json_object_get(s, "commands"), j, cmd)
			{
				json_t *o;
				size_t k;
				if (!f_cmd)
					f_cmd = finding(fs, "KCSI-DYN-C2CMD-001", 4, "Runs commands sent by its C2",
							"The sinkhole's operator sent commands on the IRC channel and the "
							"program answered with their output: it executes remote commands.",
							"T1059 T1059.004 T1071");
				snprintf(ex, sizeof(ex), "%s => ", jstr(cmd, "command"));
				json_array_foreach(json_object_get(cmd, "output"), k, o)
				{
					const char *t = json_string_value(o);
					if (strlen(ex) + strlen(t) + 4 < sizeof(ex))
						strcat(strcat(ex, t), k + 1 < json_array_size(json_object_get(cmd, "output"))
									     ? " | "
									     : "");
				}
				if (!json_array_size(json_object_get(cmd, "output")))
					strcat(ex, "(no answer)");
				evidence(f_cmd, "socket", -1, jstr(s, "transcript"), conn, ex, NULL);
			}
		} else if (!strcmp(svc, "stratum")) {
			if (!f_miner)
				f_miner = finding(fs, "KCSI-DYN-MINER-001", 4, "Logs in to a mining pool",
						  "The program spoke stratum JSON-RPC (subscribe/authorize/login/submit) and "
						  "gave a wallet: a cryptocurrency miner.",
						  "T1496");
			snprintf(ex, sizeof(ex), "login %s pass %s agent %s methods %s submits %lld", jstr(s, "login"),
				 jstr(s, "pass"), jstr(s, "agent"),
				 json_array_size(json_object_get(s, "methods")) ? "yes" : "no",
				 (long long)json_integer_value(json_object_get(s, "submits")));
			evidence(f_miner, "socket", -1, jstr(s, "transcript"), conn, ex, NULL);
			ioc(iocs, "wallet", jstr(s, "login"), "detonation: stratum login");
			ioc(iocs, "user-agent", jstr(s, "agent"), "detonation: stratum agent");
		} else if (!strcmp(svc, "http")) {
			json_t *q;
			if (!f_http)
				f_http = finding(fs, "KCSI-DYN-HTTP-001", 2, "HTTP requests",
						 "The program sent HTTP requests (answered 200 with an empty body).",
						 "T1071.001");
			json_array_foreach(json_object_get(s, "requests"), j, q)
			{
				char url[1200];
				snprintf(url, sizeof(url), "http://%s%s",
					 *jstr(q, "host") ? jstr(q, "host") : jstr(s, "dst"), jstr(q, "path"));
				snprintf(ex, sizeof(ex), "%.16s %.900s UA %.200s", jstr(q, "method"), url, jstr(q, "user_agent"));
				evidence(f_http, "socket", -1, jstr(s, "transcript"), conn, ex, NULL);
				ioc(iocs, "url", url, "detonation: HTTP request");
				ioc(iocs, "user-agent", jstr(q, "user_agent"), "detonation: HTTP request");
			}
		} else if (!strcmp(svc, "silent")) {
			if (!f_silent)
				f_silent = finding(fs, "KCSI-DYN-SILENT-001", 2,
						   "Connection that waits for the other side to speak",
						   "The program connected and sent nothing: the shape of a reverse shell "
						   "or a bot waiting for orders.",
						   "T1059.004 T1095");
			evidence(f_silent, "socket", -1, jstr(s, "transcript"), conn, NULL, NULL);
		}
	}
	/* zones whose names carry data: tunnels and DNS exfiltration */
	json_t *z, *tunnel_zones = json_array();
	json_array_foreach(zones, i, z)
	{
		if (!json_is_true(json_object_get(z, "tunnel")))
			continue;
		json_t *why = json_object_get(z, "reasons"), *rs;
		size_t k;
		char reasons[600] = "";
		json_array_foreach(why, k, rs)
		{
			size_t l = strlen(reasons);
			snprintf(reasons + l, sizeof(reasons) - l, "%s%s", l ? "; " : "", json_string_value(rs));
		}
		char title[400];
		snprintf(title, sizeof(title), "DNS tunnelling or exfiltration through %s", jstr(z, "zone"));
		json_t *f_tun = finding(fs, "KCSI-DYN-DNSTUN-001", 4, title,
					"The program sent data in the names of its DNS queries: many unique, long or "
					"encoded labels under one zone. Each query carries a piece of a file or a command "
					"channel to whoever answers for the zone.",
					"T1071.004 T1048.003");
		snprintf(ex, sizeof(ex), "%lld queries, %lld unique subdomains: %s",
			 (long long)json_integer_value(json_object_get(z, "queries")),
			 (long long)json_integer_value(json_object_get(z, "unique_subdomains")), reasons);
		evidence(f_tun, "dns", -1, "transcripts/dns.txt", NULL, ex, NULL);
		json_array_foreach(json_object_get(z, "examples"), k, rs)
			evidence(f_tun, "dns", -1, "transcripts/dns.txt", NULL, json_string_value(rs), NULL);
		ioc(iocs, "domain", jstr(z, "zone"), "detonation: DNS tunnel zone");
		json_array_append(tunnel_zones, json_object_get(z, "zone"));
	}
	if (json_array_size(dns)) {
		json_t *f_dns = finding(fs, "KCSI-DYN-DNS-001", 1, "DNS lookups",
					"Names the program resolved (the sinkhole answered every query, A with a "
					"sinkhole address).",
					"T1071.004");
		json_array_foreach(dns, i, s)
		{
			const char *name = jstr(s, "name");
			bool in_tunnel = false;
			json_t *tz;
			size_t k;
			snprintf(ex, sizeof(ex), "%s %s via %s (%s)", jstr(s, "type"), name, jstr(s, "server"),
				 jstr(s, "transport"));
			if (i < 30)
				evidence(f_dns, "dns", -1, "transcripts/dns.txt", NULL, ex, NULL);
			json_array_foreach(tunnel_zones, k, tz)
			{
				size_t nl = strlen(name), zl = json_string_length(tz);
				if (nl >= zl && !strcasecmp(name + nl - zl, json_string_value(tz)))
					in_tunnel = true;
			}
			/* the names of a tunnel are its payload, not indicators: the zone is */
			if (!in_tunnel)
				ioc(iocs, "domain", name, "detonation: DNS query");
		}
	}
	json_decref(tunnel_zones);
	if (json_array_size(udp)) {
		json_t *f_udp = finding(fs, "KCSI-DYN-UDP-001", 1, "UDP datagrams sent out",
					"Datagrams to addresses outside the sandbox (recorded, never answered).", "T1095");
		json_array_foreach(udp, i, s)
		{
			snprintf(conn, sizeof(conn), "UDP %s:%lld -> %s:%lld (%lld bytes)", jstr(s, "src"),
				 (long long)json_integer_value(json_object_get(s, "sport")), jstr(s, "dst"),
				 (long long)json_integer_value(json_object_get(s, "dport")),
				 (long long)json_integer_value(json_object_get(s, "bytes")));
			if (i < 30)
				evidence(f_udp, "socket", -1, NULL, conn, jstr(s, "first_bytes"), NULL);
			ioc(iocs, "ipv4", jstr(s, "dst"), "detonation: UDP datagram");
		}
	}
	if (json_array_size(resets)) {
		json_t *f_rst = finding(fs, "KCSI-DYN-RESET-001", 0, "Restored connections reset by the sandbox",
					"Connections the checkpoint held were restored, and the sandbox (no peer behind "
					"them) answered with a reset.",
					"");
		json_array_foreach(resets, i, s)
		{
			snprintf(conn, sizeof(conn), "TCP %s:%lld -> %s:%lld reset (%lld packets)", jstr(s, "src"),
				 (long long)json_integer_value(json_object_get(s, "sport")), jstr(s, "dst"),
				 (long long)json_integer_value(json_object_get(s, "dport")),
				 (long long)json_integer_value(json_object_get(s, "packets")));
			evidence(f_rst, "socket", -1, "traffic.pcap", conn, NULL, NULL);
		}
	}
	json_t *fates = process_fates(f, act, fs);
	activity_findings(fs, iocs, act);
	/* CPU use: reported always, a finding when the container used most of its cap */
	double avg = f->run_s > 0 ? 100.0 * f->cpu_seconds / f->run_s : 0;
	if (f->run_s >= 3 && avg >= 0.6 * f->cpu_percent) {
		json_t *fc = finding(fs, "KCSI-DYN-CPU-001", 2, "Sustained CPU use",
				     "The container used most of the CPU it was allowed for the whole run.", "T1496");
		snprintf(ex, sizeof(ex), "%.1f CPU seconds in %.1f s: %.0f%% of a core (cap %u%%)", f->cpu_seconds, f->run_s,
			 avg, f->cpu_percent);
		evidence(fc, "process", -1, NULL, NULL, ex, NULL);
	}

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
	json_object_set_new(r, "findings", fs);
	json_object_set_new(r, "iocs", iocs);
	*nfindings = (unsigned)json_array_size(fs);
	json_decref(resets);
	json_decref(act);
	rc = write_json(dir, "report.json", r, err);
	json_decref(r);
	if (rc)
		return rc;
	json_t *files = json_array();
	manifest_dir(files, dir, "");
	{
		size_t n = json_array_size(files);
		json_t **v = calloc(n ? n : 1, sizeof(*v));
		for (i = 0; i < n; i++)
			v[i] = json_incref(json_array_get(files, i));
		qsort(v, n, sizeof(*v), cmp_path);
		json_array_clear(files);
		for (i = 0; i < n; i++)
			json_array_append_new(files, v[i]);
		free(v);
	}
	json_t *m = json_pack("{s:s, s:s, s:s, s:o}", "schema", "kcsi-detonation-manifest/1", "archive", f->archive,
			      "archive_sha256", f->archive_sha256, "files", files);
	rc = write_json(dir, "manifest.json", m, err);
	json_decref(m);
	return rc;
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
