/* kcsi — triage rules on shell history (KCSI-HIST-*): the commands typed
 * into interactive bash shells, recovered from their memory
 * (lib/memory/history.c, `kcsi history`), judged by what they do:
 *   001  download and run: a download piped into a shell or interpreter, or
 *        a file brought in (downloaded, decoded) and then made executable,
 *        run from a temporary directory, or run (the file's name as a
 *        command, or an interpreter's script)                    high
 *   002  a reverse or bind shell started from the shell (/dev/tcp, nc -e,
 *        socat exec:, mkfifo and a relay, an interpreter's socket and pty)
 *                                                                 high
 *   003  credentials read: /etc/shadow, the service-account token, cloud and
 *        cluster credential files, private keys, other processes' environ,
 *        the cloud metadata service, secrets grepped from the environment
 *                                                                 high
 *   004  discovery: who am I, what system, what network, which processes
 *        and files; low, medium for a burst of three or more different such
 *        commands in a shell driven from the network (programs.c) or with
 *        another of these findings (an administrator looks around too)
 *   005  covering tracks: history cleared or disabled, logs removed,
 *        defences stopped                                        medium
 *   006  persistence set up by hand: cron, ssh keys, shell start-up files,
 *        ld.so.preload, services, accounts                       high
 *   007  a file brought in, or a file made executable or run from a
 *        temporary directory, without the other half of 001      medium
 *   008  out of the container or root in it: nsenter into pid 1's
 *        namespaces, a host disk mounted, a runtime socket driven, a
 *        kernel hook written (core_pattern, release_agent), a setuid bit
 *        set, a privileged pod started                          high
 * One finding per rule and shell process; its evidence is the history
 * entries (pid, the entry's address, the time bash recorded, the command
 * with long secret-looking tokens masked).  Every entry also goes on the
 * timeline.  Bash keeps history only in interactive shells, so a finding
 * here means someone typed these commands into the container.
 *
 * The same patterns judge the command lines of the processes running when
 * the container was checkpointed (KCSI-CMD-001, -002, -003, -008, numbered
 * as their HIST rules): the program text of `sh -c TEXT`, `python3 -c
 * TEXT`, `perl -e TEXT` ..., else the arguments joined.  A checkpoint taken
 * on a Falco alert often catches the command that raised it still running:
 * a reverse shell, a download-and-run or harvesting loop, an escape.  What
 * runs once and is gone (persistence set up, tracks covered) is seldom
 * caught so, and what entry scripts and sidecars also do (discovery, files
 * brought in or made executable, logs truncated, ~/.bashrc written) would
 * make noise; those rules do not run there.  The container's entry command
 * is not judged: the root of the tree, and the children of an init that
 * runs it (tini, dumb-init, catatonit ...).  A terminal upgrade
 * (pty.spawn, script -q /dev/null) counts only where the process or an
 * ancestor holds a network socket: CI jobs fake a terminal the same way. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "triage/programs.h"
#include "base/time.h"
#include "kcsi/history.h"

#define SCAN_MAX 16384      /* bytes of one command line the patterns look at */
#define EVENTS_MAX 2000     /* history entries put on the timeline */

enum hist_rule { H_DL_RUN, H_SHELL, H_CRED, H_DISC, H_EVADE, H_PERSIST, H_INGRESS, H_ESCAPE, H_N };

/* what a pattern says about a command (H_INGRESS patterns: brought in;
 * H_DL_RUN with staged: made executable or run from a temporary place) */
typedef struct hist_pattern {
	enum hist_rule rule;
	const char *name;      /* for discovery: which command; else what it is */
	const char *mitre;
	bool staged;
	const char *re;
} hist_pattern;

#define CMD "(?:^|[;&|(`]\\s*|\\$\\(\\s*|\\b(?:sudo|nohup|setsid|exec|timeout\\s+\\d+|busybox)\\s+)"
#define SH "(?:/\\S*/)?(?:ba|da|z|k|mk|a)?sh\\b"
/* a shell or interpreter that reads its program from stdin: options only
 * after it (sh -s, bash -e, perl -w, python3 -), not -c, nor python's -m,
 * perl's -e, php's -r (they read the pipe as data) */
#define INTERP "(?:(?:/\\S*/)?(?:ba|da|z|k|mk|a)?sh(?:\\s+-[a-zA-Z]+)*(?<!-c)(?:\\s+--?(?:\\s[^;&|]*)?)?" \
	"|(?:/\\S*/)?(?:python[0-9.]*|perl|ruby|php|node|lua)(?:\\s+-[a-zA-Z]+)*(?<!-c)(?<!-m)(?<!-e)(?<!-E)(?<!-r)" \
	"(?:\\s+-)?)\\s*(?:$|[;&|)`])"
#define FETCH "\\b(?:curl|wget|fetch|aria2c|lwp-download|lwp-request|tftp)\\b"

static const hist_pattern patterns[] = {
	/* 001 download and run */
	{H_DL_RUN, "download piped into an interpreter", "T1105 T1059.004", false, FETCH "[^;&|]*\\|\\s*(?:sudo\\s+)?" INTERP},
	{H_DL_RUN, "download run by a shell", "T1105 T1059.004", false,
	 SH "\\s+(?:-c\\s+)?[\"']?(?:\\$\\(|<\\()\\s*" FETCH},
	{H_DL_RUN, "decoded and run", "T1140 T1059.004", false,
	 "\\b(?:base64\\s+(?:-\\w*d\\w*|--decode)|xxd\\s+-r|openssl\\s+(?:base64|enc)\\b[^;&|]*-d)\\b[^;&]*\\|\\s*" INTERP},
	{H_DL_RUN, "interpreter fetching and running code", "T1105 T1059", false,
	 "\\b(?:python[0-9.]*|perl|ruby|php|node)\\b.*\\b(?:urlopen|urllib|requests\\.get|LWP::Simple|HTTP::Tiny|getstore|"
	 "file_get_contents|open-uri|Net::HTTP|https?\\.get)\\b.*\\b(?:exec|eval|system|popen|spawn|chmod)\\b"},
	{H_DL_RUN, "made executable", "T1059.004", true, "\\bchmod\\b[^;&|]*(?:\\+\\w*x|\\s0?[0-7]?[1357][0-7]{2}\\b)"},
	{H_DL_RUN, "run from a temporary directory", "T1059.004", true,
	 "(?:" CMD "|\\b(?:sh|bash|python[0-9.]*|perl)\\s+)(?:/tmp/|/var/tmp/|/dev/shm/)[\\w.-]"},
	/* 007 brought in */
	{H_INGRESS, "downloaded to a file", "T1105", false,
	 "\\bcurl\\b[^;&|]*(?:\\s-\\w*[oO]\\b|--output\\b|--remote-name\\b|>\\s*[^&\\s])"},
	{H_INGRESS, "downloaded to a file", "T1105", false, "\\bwget\\b(?![^;&|]*(?:-\\w*O\\s*-(?:\\s|$)|--spider))[^;&|]*(?:$|[;&])"},
	{H_INGRESS, "copied in", "T1105", false, "\\b(?:scp|sftp|rsync|tftp)\\b[^;&|]*\\S+:\\S*"},
	{H_INGRESS, "decoded to a file", "T1140 T1105", false,
	 "\\b(?:base64\\s+(?:-\\w*d\\w*|--decode)|xxd\\s+-r|openssl\\s+(?:base64|enc)\\b[^;&|]*-d)\\b[^;&|]*>\\s*\\S"},
	{H_INGRESS, "fetched over /dev/tcp", "T1105", false, "/dev/tcp/\\S+.*>\\s*[^&\\s]"},
	{H_INGRESS, "received over netcat", "T1105", false, "\\b(?:nc|ncat|netcat)\\b[^;&|]*>\\s*[^&\\s]"},
	/* 002 remote shells */
	{H_SHELL, "shell over /dev/tcp or /dev/udp", "T1059.004", false,
	 "\\b(?:ba|da|z|k|mk)?sh\\b[^;|]*(?:>&|&>|[<>])\\s*/dev/(?:tcp|udp)/\\S+|/dev/(?:tcp|udp)/\\S+[^;|]*\\d?>&\\s*[012]\\b|"
	 "\\b(?:ba|da|z|k|mk)?sh\\b[^;|]*<&\\s*[3-9]\\b[^;|]*>&\\s*[3-9]\\b"},
	{H_SHELL, "netcat running a program", "T1059.004", false,
	 "\\b(?:nc|ncat|netcat|nc\\.traditional)\\b[^;&|]*\\s-\\w*[ec]\\b|\\bncat\\b[^;&|]*--(?:sh-)?exec\\b"},
	{H_SHELL, "socat running a program", "T1059.004", false, "(?i)\\bsocat\\b[^;&|]*\\b(?:exec|system):"},
	{H_SHELL, "named pipe and a relay", "T1059.004", false, "\\bmkfifo\\b.*\\b(?:nc|ncat|netcat|telnet|openssl|socat)\\b"},
	{H_SHELL, "shell piped to a relay", "T1059.004", false, SH "\\s+-i\\b[^;]*\\|\\s*(?:nc|ncat|netcat|telnet|openssl)\\b"},
	{H_SHELL, "interpreter socket shell", "T1059.004 T1059.006", false,
	 "\\b(?:python[0-9.]*|perl|ruby|php|node|lua)\\b.*\\bsocket\\b.*\\b(?:pty|subprocess|dup2?|exec|spawn|system|popen)\\b"},
	{H_SHELL, "terminal upgrade", "T1059.006", false, "\\bpty\\.spawn\\s*\\(|\\bscript\\s+-q\\s+/dev/null\\b"},
	{H_SHELL, "php socket shell", "T1059.004", false, "\\bphp\\b.*\\bfsockopen\\s*\\("},
	{H_SHELL, "encrypted relay to a shell", "T1059.004 T1573", false, "\\bopenssl\\s+s_client\\b[^;]*\\|\\s*" SH},
	/* 003 credentials */
	{H_CRED, "password hashes", "T1003.008", false, "/etc/g?shadow\\b"},
	{H_CRED, "service-account token", "T1528 T1552.001", false,
	 "/run/secrets/kubernetes\\.io|serviceaccount/token|/run/secrets/eks\\.amazonaws\\.com"},
	{H_CRED, "credential file", "T1552.001", false,
	 "\\.aws/(?:credentials|config)\\b|\\.kube/config\\b|\\.docker/config\\.json|\\.git-credentials|\\.netrc\\b|\\.pgpass\\b|"
	 "\\.my\\.cnf\\b|gcloud/(?:credentials|application_default_credentials|legacy_credentials|access_tokens)|"
	 "\\.azure/|\\.config/gh/hosts|\\.vault-token|\\.npmrc\\b|\\.pypirc\\b|\\bwp-config\\.php\\b"},
	/* a key file read, copied or sent; not one a client authenticates with
	 * (curl --key, --cert), nor a CA or certificate bundle */
	{H_CRED, "private key", "T1552.004", false,
	 "\\.ssh/(?:id_[a-z0-9]+|[\\w.-]*_key)\\b(?!\\.pub)|\\b(?:cat|cp|scp|base64|head|tail|less|more|xxd|tar|zip|curl)\\b"
	 "[^;&|]*?[\\s=@](?<!--cacert\\s)(?<!--cacert=)(?<!--cert\\s)(?<!--cert=)(?<!--key\\s)(?<!--key=)(?<!--capath\\s)"
	 "(?<!-CAfile\\s)(?<!--ca-certificate\\s)(?<!--ca-certificate=)"
	 "(?!(?:[^\\s;&|]*/)?[\\w.-]*(?:ca|cert|chain|bundle)[\\w.-]*\\.pem\\b)[^\\s;&|]*\\.(?:pem|key|p12|pfx|jks)\\b"},
	{H_CRED, "other processes' environment or memory", "T1552.001 T1003.007", false,
	 "/proc/(?:\\d+|[^/\\s]*[*?\\[][^/\\s]*|\\$\\w+|\\$\\{\\w+\\})/(?:environ|mem)\\b"},
	{H_CRED, "cloud metadata service", "T1552.005", false,
	 "169\\.254\\.169\\.254|169\\.254\\.170\\.2|metadata\\.google\\.internal|\\bfd00:ec2::254\\b"},
	{H_CRED, "secrets grepped from the environment", "T1552.001", false,
	 "(?i)\\b(?:env|printenv|set|export\\s+-p)\\b[^;]*\\|\\s*(?:grep|egrep|rg)\\b[^;|]*(?:key|secret|token|pass|cred|aws)"},
	{H_CRED, "secrets searched in files", "T1552.001", false,
	 "(?i)\\b(?:grep|rg)\\b[^;|]*\\s-\\w*r\\w*\\b[^;|]*(?:password|passwd|secret|api_?key|token|private key)"},
	{H_CRED, "key files searched", "T1552.004", false,
	 "\\bfind\\b[^;|]*-i?name\\s+['\"]?\\*?[\\w.]*(?:\\.pem|\\.key|\\.p12|\\.pfx|\\.kdbx|\\.ovpn|id_rsa|\\.env)\\b"},
	{H_CRED, "cluster secrets", "T1552.007", false, "\\bkubectl\\b[^;|]*\\bget\\s+secrets?\\b"},
	/* 004 discovery: one name per command, the burst counts names */
	{H_DISC, "id", "T1033", false, CMD "(?:id|whoami|groups|who|w|last|logname)(?:\\s|$|[;&|)])"},
	{H_DISC, "uname", "T1082", false, CMD "(?:uname|lscpu|nproc|arch|lsb_release)\\b"},
	{H_DISC, "hostname", "T1082", false, CMD "hostname(?:ctl)?\\b"},
	{H_DISC, "os files", "T1082", false,
	 "/etc/(?:os-release|issue|lsb-release|debian_version|redhat-release|alpine-release)\\b|/proc/(?:version|cpuinfo)\\b"},
	{H_DISC, "container", "T1082 T1613", false,
	 "/proc/(?:1|self)/(?:cgroup|mountinfo|status)\\b|/\\.dockerenv\\b|" CMD "(?:capsh|findmnt|mount|df|lsblk)(?:\\s|$)"},
	{H_DISC, "environment", "T1082", false, CMD "(?:env|printenv|set)\\s*(?:$|[;&|)])"},
	{H_DISC, "network", "T1016 T1049", false,
	 CMD "(?:ifconfig|ip\\s+(?:-\\w+\\s+)*(?:a|addr|address|r|route|link|neigh|n)\\b|netstat|ss\\s+-\\w+|arp|route|nmap|"
	     "nslookup|dig|host)\\b|/etc/(?:hosts|resolv\\.conf)\\b|/proc/net/(?:tcp|udp|route|arp)\\b"},
	{H_DISC, "processes", "T1057", false, CMD "(?:ps|top|pstree|pgrep|htop)\\b|/proc/\\*/cmdline"},
	{H_DISC, "accounts", "T1087.001", false, "/etc/(?:passwd|group|sudoers)\\b|\\bgetent\\s+(?:passwd|group)\\b|\\bsudo\\s+-l\\b"},
	{H_DISC, "files", "T1083", false, CMD "(?:ls|find|tree|du|locate|stat)\\b"},
	{H_DISC, "cluster", "T1613", false, "\\bkubectl\\s+(?:get|auth|describe|cluster-info)\\b|kubernetes\\.default|\\$KUBERNETES_SERVICE_HOST"},
	/* 005 covering tracks */
	{H_EVADE, "history cleared or disabled", "T1070.003", false,
	 "\\bhistory\\s+-[cw]\\b|\\bunset\\s+HISTFILE\\b|\\bHISTFILE=|\\bHISTSIZE=0\\b|\\bHISTFILESIZE=0\\b|\\bset\\s+\\+o\\s+history\\b|"
	 "\\b(?:rm|shred|truncate)\\b[^;&|]*_history\\b|\\bln\\s+-\\w*s\\w*\\s+/dev/null\\s+\\S*_history"},
	{H_EVADE, "logs removed", "T1070.002", false,
	 "\\b(?:rm|shred|truncate)\\b[^;&|]*/var/log\\b|(?:^|[;&|]\\s*)>\\s*/var/log/\\S+|\\bjournalctl\\s+--vacuum"},
	{H_EVADE, "files shredded", "T1070.004", false, CMD "shred\\b"},
	{H_EVADE, "defences stopped", "T1562.001", false,
	 "\\b(?:kill|pkill|killall|systemctl\\s+stop|service)\\b[^;&|]*\\b(?:auditd|rsyslogd?|falco|osqueryd|sysdig|"
	 "wazuh|ossec|crowdstrike|falcon)|\\bsetenforce\\s+0\\b|\\biptables\\s+-F\\b|\\bufw\\s+disable\\b"},
	/* 006 persistence */
	{H_PERSIST, "cron", "T1053.003", false, "\\bcrontab\\b(?![^;&|]*\\s-l\\b)|(?:>>?|\\btee\\b|\\bcp\\b|\\bmv\\b)[^;&|]*/(?:etc/cron|var/spool/cron)"},
	{H_PERSIST, "ssh key", "T1098.004", false, "(?:>>?|\\btee\\b|\\bcp\\b|\\bmv\\b)[^;&|]*authorized_keys"},
	{H_PERSIST, "shell start-up file", "T1546.004", false,
	 "(?:>>?|\\btee\\b(?:\\s+-a)?)\\s*\\S*(?:\\.bashrc|\\.profile|\\.bash_profile|\\.bash_login|\\.zshrc|/etc/profile(?:\\.d/\\S*)?|"
	 "/etc/bash\\.bashrc)\\b"},
	{H_PERSIST, "preload", "T1574.006", false, "(?:>>?|\\btee\\b)[^;&|]*/etc/ld\\.so\\.preload|\\bexport\\s+LD_PRELOAD="},
	{H_PERSIST, "service", "T1543.002", false,
	 "\\bsystemctl\\s+enable\\b|(?:>>?|\\btee\\b|\\bcp\\b|\\bmv\\b)[^;&|]*(?:/etc/systemd/system/|/etc/init\\.d/|/etc/rc\\.local)"},
	{H_PERSIST, "account", "T1136.001", false,
	 "\\b(?:useradd|adduser|usermod)\\b|(?:>>?|\\btee\\b)[^;&|]*/etc/(?:passwd|shadow|sudoers)"},
	/* 008 out of the container, or root within it */
	{H_ESCAPE, "host namespaces entered", "T1611", false, "\\bnsenter\\b[^;&|]*(?:\\s-\\w*t\\s*1\\b|--target[ =]1\\b)"},
	{H_ESCAPE, "host disk mounted", "T1611", false,
	 "\\bmount\\b[^;&|]*\\s/dev/(?:sd[a-z]|vd[a-z]|xvd[a-z]|nvme\\d|dm-\\d|mapper/|root\\b)"},
	{H_ESCAPE, "container runtime socket", "T1611 T1610", false,
	 "\\bcurl\\b[^;&|]*--unix-socket[ =]\\S*(?:docker|containerd|crio|podman)\\.sock|"
	 "\\b(?:docker|ctr|crictl|nerdctl)\\b[^;&|]*\\s(?:-H|--host|-a|--address|--runtime-endpoint)[ =]\\S*\\.sock\\b"
	 "[^;&|]*\\b(?:run|exec|create|start)\\b"},
	{H_ESCAPE, "kernel hook written", "T1611", false,
	 "(?:>>?|\\btee\\b)[^;&|]*(?:/proc/sys/kernel/core_pattern|\\brelease_agent\\b|/sys/kernel/uevent_helper|"
	 "\\bnotify_on_release\\b|/proc/sys/kernel/modprobe)"},
	{H_ESCAPE, "setuid bit set", "T1548.001", false, "\\bchmod\\b[^;&|]*(?:\\s[ugoa]*\\+[rwxt]*s|\\s0?[2467][0-7]{3}\\b)"},
	{H_ESCAPE, "privileged pod started", "T1610 T1611", false,
	 "\\bkubectl\\b[^;&|]*\\b(?:run|create|apply|debug)\\b[^;&|]*(?:--privileged|hostPID|hostPath|"
	 "\"privileged\"\\s*:\\s*true|--profile[ =]sysadmin)"},
};
#define NPAT (sizeof(patterns) / sizeof(patterns[0]))

static const struct {
	const char *id, *title;
	enum kcsi_severity sev;
	const char *expl;
} rules[H_N] = {
	[H_DL_RUN] = {"KCSI-HIST-001", "downloaded and ran code", KCSI_SEV_HIGH,
		      "brought code in and ran it (a download piped into an interpreter, or a file fetched or decoded, "
		      "then made executable or run from a temporary directory): the way attackers load their tools."},
	[H_SHELL] = {"KCSI-HIST-002", "started a remote shell", KCSI_SEV_HIGH,
		     "started a shell that talks to the network (/dev/tcp, a relay running a program, an "
		     "interpreter's socket): a reverse or bind shell, or an upgrade of one."},
	[H_CRED] = {"KCSI-HIST-003", "read credentials", KCSI_SEV_HIGH,
		    "read credentials: password hashes, the pod's service-account token, cloud or cluster credential "
		    "files, private keys, other processes' environment or the cloud metadata service."},
	[H_DISC] = {"KCSI-HIST-004", "explored the system", KCSI_SEV_LOW,
		    "ran discovery commands (who am I, what system and network, which processes and files): the first "
		    "thing an intruder does. Three or more different ones in a shell driven from the network, or with "
		    "other findings of its history, make a burst (medium); alone, an administrator does the same."},
	[H_EVADE] = {"KCSI-HIST-005", "covered its tracks", KCSI_SEV_MEDIUM,
		     "cleared or disabled the shell history, removed logs or stopped defences."},
	[H_PERSIST] = {"KCSI-HIST-006", "set up persistence", KCSI_SEV_HIGH,
		       "set up a way back in by hand: a cron job, an ssh key, a shell start-up file, a preloaded "
		       "library, a service or an account."},
	[H_INGRESS] = {"KCSI-HIST-007", "brought a file in or ran a staged one", KCSI_SEV_MEDIUM,
		       "fetched or decoded a file, or made a file executable or ran one from a temporary directory."},
	[H_ESCAPE] = {"KCSI-HIST-008", "tried to leave the container or gain privileges", KCSI_SEV_HIGH,
		      "tried to break out of the container or to become root in it: the host's namespaces or disk "
		      "entered, a container runtime's socket driven, a kernel hook written (core_pattern, a cgroup's "
		      "release_agent), a setuid bit set, a privileged pod started."},
};

typedef struct hist_hit {
	size_t entry;          /* index in the history */
	const hist_pattern *pat;
} hist_hit;

/* What the patterns found in one shell's history, by rule. */
typedef struct hist_session {
	hist_hit hits[H_N][AZ_MAX_EVIDENCE];
	size_t nhits[H_N];
	const char *mitre[H_N][16];
	size_t nmitre[H_N];
	const char *disc_names[32];
	size_t ndisc;
	bool ingress, staged;
	char targets[8][128];  /* basenames of the files brought in */
	size_t target_entry[8];  /* the command that brought each in */
	size_t ntargets;
} hist_session;

/* what a command does with a file brought in earlier: runs it */
static const hist_pattern ran_target = {H_DL_RUN, "ran what it brought in", "T1059.004", true, NULL};

static bool cmd_sep(char c)
{
	return c == ';' || c == '&' || c == '|' || c == '(' || c == '`' || c == '\n';
}

/* Where a downloading or decoding command writes: the word after -o, -O,
 * --output or '>', else (wget) the last part of the URL.  Basenames are
 * kept in s->targets. */
static void note_targets(hist_session *s, const char *cmd, size_t len, size_t entry)
{
	size_t first = s->ntargets;
	const char *url = NULL, *end = cmd + len;
	bool found = false;
	for (const char *p = cmd; p < end && s->ntargets < 8; p++) {
		const char *w = NULL;
		if ((p == cmd || p[-1] == ' ') && (!strncmp(p, "-o", 2) || !strncmp(p, "-O", 2)) && (p[2] == ' ' || isalnum((unsigned char)p[2]) || p[2] == '/'))
			w = p + 2;
		else if (!strncmp(p, "--output", 8) && (p[8] == ' ' || p[8] == '='))
			w = p + 9;
		else if (*p == '>' && (p + 1 >= end || p[1] != '&'))
			w = p + 1;
		else if (!url && (!strncmp(p, "http://", 7) || !strncmp(p, "https://", 8) || !strncmp(p, "ftp://", 6)))
			url = p;
		if (!w)
			continue;
		w += strspn(w, " =>");
		size_t n = strcspn(w, " ;&|)`'\"\n");
		if (w + n > end)
			n = (size_t)(end - w);
		if (n && !(n == 1 && *w == '-') && strncmp(w, "/dev/null", 9) && strncmp(w, "/dev/std", 8) &&
		    strncmp(w, "/dev/fd/", 8) && strncmp(w, "/dev/tcp/", 9)) {
			const char *b = w + n;
			while (b > w && b[-1] != '/')
				b--;
			if (w + n - b > 0 && w + n - b < 128) {
				snprintf(s->targets[s->ntargets++], 128, "%.*s", (int)(w + n - b), b);
				found = true;
			}
		}
	}
	if (!found && url && s->ntargets < 8 && !strncmp(cmd + strspn(cmd, " "), "wget", 4)) {
		size_t n = strcspn(url, " ;&|)`'\"\n?#");
		const char *b = url + n;
		while (b > url && b[-1] != '/')
			b--;
		if (url + n - b > 0 && url + n - b < 128)
			snprintf(s->targets[s->ntargets++], 128, "%.*s", (int)(url + n - b), b);
	}
	for (size_t t = first; t < s->ntargets; t++)
		s->target_entry[t] = entry;
}

/* Does cmd name the file (a word, or a path's last part)? */
static bool names_file(const char *cmd, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = strstr(cmd, name); p && n; p = strstr(p + 1, name))
		if ((p == cmd || p[-1] == '/' || p[-1] == ' ' || cmd_sep(p[-1])) &&
		    (!p[n] || p[n] == ' ' || cmd_sep(p[n])))
			return true;
	return false;
}

/* Does cmd run one of the files brought in: as the command word
 * (./x, /tmp/x, x after ; && |) or as the script of an interpreter? */
static bool runs_target(const hist_session *s, const char *cmd)
{
	static const char *const runners[] = {"sh", "bash", "dash", "zsh", "ksh", "python", "python3", "perl", "php",
					      "node", "ruby", "source", ".", "exec", "nohup", "setsid", "sudo"};
	for (size_t t = 0; t < s->ntargets; t++) {
		size_t bl = strlen(s->targets[t]);
		for (const char *p = strstr(cmd, s->targets[t]); p; p = strstr(p + 1, s->targets[t])) {
			const char *tok = p, *q;
			char prev[16];
			size_t pl;
			if (p[bl] && p[bl] != ' ' && !cmd_sep(p[bl]))
				continue;
			if (p > cmd && p[-1] != '/' && p[-1] != ' ' && !cmd_sep(p[-1]))
				continue;
			while (tok > cmd && tok[-1] != ' ' && !cmd_sep(tok[-1]))
				tok--;
			for (q = tok; q > cmd && q[-1] == ' '; q--)
				;
			if (q == cmd || cmd_sep(q[-1]))
				return true; /* the command word */
			for (pl = 0; q - pl > cmd && q[-1 - (ptrdiff_t)pl] != ' ' && !cmd_sep(q[-1 - (ptrdiff_t)pl]); pl++)
				;
			snprintf(prev, sizeof(prev), "%.*s", (int)pl, q - pl);
			for (size_t r = 0; r < sizeof(runners) / sizeof(runners[0]); r++)
				if (!strcmp(az_base(prev), runners[r]))
					return true;
		}
	}
	return false;
}

static void note(hist_session *s, enum hist_rule r, size_t entry, const hist_pattern *pat)
{
	size_t k;
	for (k = 0; k < s->nhits[r] && k < AZ_MAX_EVIDENCE; k++)
		if (s->hits[r][k].entry == entry)
			break;
	if (k == s->nhits[r] && k < AZ_MAX_EVIDENCE)
		s->hits[r][s->nhits[r]++] = (hist_hit){entry, pat};
	for (k = 0; k < s->nmitre[r] && strcmp(s->mitre[r][k], pat->mitre); k++)
		;
	if (k == s->nmitre[r] && k < 16)
		s->mitre[r][s->nmitre[r]++] = pat->mitre;
	if (r == H_DISC) {
		for (k = 0; k < s->ndisc && strcmp(s->disc_names[k], pat->name); k++)
			;
		if (k == s->ndisc && k < 32)
			s->disc_names[s->ndisc++] = pat->name;
	}
}

/* A copy of a command with long secret-looking tokens (24 or more
 * letters, digits and + / _ -, letters and digits both) cut to their first
 * 8 characters and their length. */
static char *masked(const char *cmd)
{
	kcsi_buf b;
	const char *s = cmd;
	kcsi_buf_init(&b, 8192); /* longer commands are cut: excerpts and events show less */
	while (*s) {
		size_t n = 0;
		bool upper = false, lower = false, digit = false;
		while (isalnum((unsigned char)s[n]) || s[n] == '+' || s[n] == '/' || s[n] == '_' || s[n] == '-') {
			upper |= isupper((unsigned char)s[n]) != 0;
			lower |= islower((unsigned char)s[n]) != 0;
			digit |= isdigit((unsigned char)s[n]) != 0;
			n++;
		}
		/* a path is no secret: one with '/' must start otherwise and mix cases and digits */
		bool path = memchr(s, '/', n) && (s[0] == '/' || !(upper && lower));
		if (n >= 24 && (upper || lower) && digit && !path)
			kcsi_buf_printf(&b, "%.8s... (%zu characters)", s, n);
		else
			kcsi_buf_add(&b, s, n ? n : 1);
		s += n ? n : 1;
	}
	return kcsi_buf_take(&b);
}

static void hit_evidence(kcsi_finding *f, const kcsi_history_entry *h)
{
	kcsi_evidence *e = az_evidence(f, "history", h->pid, -1);
	char when[KCSI_TIME_MAX];
	char *m;
	if (!e)
		return;
	e->address = h->entry;
	e->has_address = true;
	if (kcsi_rfc3339(when, sizeof(when), h->time, 0, 0))
		e->area = az_printf("bash history, entered %s", when);
	else
		e->area = strdup("bash history");
	if ((m = masked(h->command))) {
		kcsi_evidence_excerpt(e, m, strlen(m), 200);
		free(m);
	}
	e->command = az_printf("kcsi history --pid %u ARCHIVE", h->pid);
}

/* Is id a whole word of the list? */
static bool has_id(const char *list, const char *id)
{
	size_t n = strlen(id);
	for (const char *p = strstr(list, id); p; p = strstr(p + 1, id))
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
	return false;
}

/* The techniques of list (space-separated) not yet in mitre[0, *ml), added
 * each once. */
static void add_techniques(char *mitre, size_t cap, size_t *ml, const char *list)
{
	for (const char *m = list; *m; m += strspn(m, " ")) {
		size_t l = strcspn(m, " ");
		char id[16];
		snprintf(id, sizeof(id), "%.*s", (int)(l < sizeof(id) ? l : sizeof(id) - 1), m);
		m += l;
		if (!has_id(mitre, id) && *ml + l + 2 < cap)
			*ml += (size_t)snprintf(mitre + *ml, cap - *ml, "%s%s", *ml ? " " : "", id);
	}
}

static int cmp_hit(const void *x, const void *y)
{
	const hist_hit *a = x, *b = y;
	return a->entry < b->entry ? -1 : a->entry > b->entry;
}

/* The different things the hits of a rule are, as a list ("downloaded to a
 * file, made executable, ..."). */
static const char *hit_names(const hist_session *s, enum hist_rule r, char *buf, size_t cap)
{
	size_t len = 0, shown = 0;
	buf[0] = '\0';
	for (size_t k = 0; k < s->nhits[r]; k++) {
		const char *n = s->hits[r][k].pat->name;
		bool dup = false;
		for (size_t j = 0; j < k; j++)
			dup |= !strcmp(s->hits[r][j].pat->name, n);
		if (dup)
			continue;
		if (shown == 3) {
			snprintf(buf + len, cap - len, ", ...");
			break;
		}
		len += (size_t)snprintf(buf + len, cap - len, "%s%s", shown ? ", " : "", n);
		if (len >= cap)
			break;
		shown++;
	}
	return buf;
}

static void session_findings(az *a, const hist_session *s, const kcsi_history_entry *v, uint32_t pid)
{
	hist_session t = *s;
	const kcsi_proc *p = kcsi_ckpt_proc_by_pid(a->c, pid), *driver;
	const kcsi_sock *conn;
	bool remote = p && az_shell_driver(a, p, &driver, &conn) != AZ_DRIVE_NONE;
	/* the two halves of 001: a file brought in, and a command that makes
	 * that file executable or runs it (it names the file); what is not
	 * linked so is 007 */
	bool linked[AZ_MAX_EVIDENCE] = {false};
	size_t kept = 0, nin = t.nhits[H_INGRESS];
	hist_hit in[AZ_MAX_EVIDENCE];
	memcpy(in, t.hits[H_INGRESS], sizeof(in));
	t.nhits[H_INGRESS] = 0;
	for (size_t k = 0; k < t.nhits[H_DL_RUN]; k++) {
		hist_hit h = t.hits[H_DL_RUN][k];
		bool link = false;
		for (size_t g = 0; h.pat->staged && g < t.ntargets; g++)
			if (t.target_entry[g] != h.entry && names_file(v[h.entry].command, t.targets[g]))
				for (size_t i = 0; i < nin; i++)
					if (in[i].entry == t.target_entry[g])
						link = linked[i] = true;
		if (!h.pat->staged || link)
			t.hits[H_DL_RUN][kept++] = h;
		else
			note(&t, H_INGRESS, h.entry, h.pat);
	}
	t.nhits[H_DL_RUN] = kept;
	for (size_t i = 0; i < nin; i++)
		note(&t, linked[i] ? H_DL_RUN : H_INGRESS, in[i].entry, in[i].pat);
	for (int r = 0; r < H_N; r++) {
		enum kcsi_severity sev = rules[r].sev;
		char mitre[200] = "", names[200];
		size_t ml = 0;
		kcsi_finding *f;
		if (!t.nhits[r])
			continue;
		for (int o = 0; o < H_N; o++)
			remote |= o != H_DISC && t.nhits[o];
		if (r == H_DISC && t.ndisc >= 3 && remote)
			sev = KCSI_SEV_MEDIUM;
		for (size_t k = 0; k < t.nmitre[r]; k++)
			add_techniques(mitre, sizeof(mitre), &ml, t.mitre[r][k]);
		qsort(t.hits[r], t.nhits[r], sizeof(hist_hit), cmp_hit); /* evidence in the order typed */
		f = az_finding(a, rules[r].id, sev,
			       r == H_DISC ? az_printf("Shell %u %s (%zu kind%s of discovery command: %s)", pid, rules[r].title,
						       t.ndisc, t.ndisc == 1 ? "" : "s", hit_names(&t, H_DISC, names, sizeof(names)))
					   : az_printf("Shell %u %s (%s)", pid, rules[r].title, hit_names(&t, (enum hist_rule)r, names,
												       sizeof(names))),
			       az_printf("The history kept in the memory of bash process %u shows that someone at its prompt "
					 "%s",
					 pid, rules[r].expl),
			       mitre);
		for (size_t k = 0; k < t.nhits[r]; k++)
			hit_evidence(f, &v[t.hits[r][k].entry]);
	}
}

/* ---- the patterns, compiled once per process ---- */

static pthread_once_t compiled_once = PTHREAD_ONCE_INIT;
static pcre2_code *compiled[NPAT];

static void compile_patterns(void)
{
	for (size_t i = 0; i < NPAT; i++) {
		int ec;
		PCRE2_SIZE eo;
		compiled[i] = pcre2_compile((PCRE2_SPTR)patterns[i].re, PCRE2_ZERO_TERMINATED, PCRE2_MULTILINE, &ec, &eo,
					    NULL);
		if (compiled[i])
			pcre2_jit_compile(compiled[i], PCRE2_JIT_COMPLETE);
	}
}

static pcre2_match_context *bounded_context(void)
{
	pcre2_match_context *mc = pcre2_match_context_create(NULL);
	if (mc) {
		pcre2_set_match_limit(mc, 100000);
		pcre2_set_depth_limit(mc, 1000);
	}
	return mc;
}

/* A line with the targets of its output redirections and tee blanked (echo
 * $TOKEN > ~/.npmrc writes a credential file, which entry scripts do; cat
 * ~/.npmrc reads one): its length, the copy in out (n + 1 bytes at
 * most, NUL-terminated). */
static size_t without_writes(const char *p, size_t n, char *out)
{
	memcpy(out, p, n);
	out[n] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t j = i;
		/* > or >>; not >&2, nor Perl's => and ->, nor >= */
		if (out[i] == '>' && !(i + 1 < n && (out[i + 1] == '&' || out[i + 1] == '=')) &&
		    !(i && strchr("=-<", out[i - 1])))
			j = i + 1 + (i + 1 < n && out[i + 1] == '>');
		else if (i + 3 <= n && !memcmp(out + i, "tee", 3) && (i == 0 || strchr(" \t|;&", out[i - 1])) &&
			 (i + 3 == n || out[i + 3] == ' '))
			for (j = i + 3; j < n && (out[j] == ' ' || (out[j] == '-' && j + 1 < n && out[j + 1] != ' '));)
				j += out[j] == '-' ? strcspn(out + j, " ") : 1; /* tee's options */
		if (j == i)
			continue;
		while (j < n && (out[j] == ' ' || out[j] == '\t'))
			j++;
		while (j < n && !strchr(" \t;&|", out[j]))
			out[j++] = ' ';
		i = j > i ? j - 1 : i;
	}
	return n;
}

/* Does pattern k match a line of text[0, len)?  Line by line: a pattern's
 * "anything but ; or |" must not run from a script's shebang (bash) to a
 * /dev/tcp three lines down. */
static bool match_lines(size_t k, const char *text, size_t len, pcre2_match_data *md, pcre2_match_context *mc)
{
	char line[SCAN_MAX];
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - text) : len, n = end - at;
		const char *p = text + at;
		if (patterns[k].rule == H_CRED && n < sizeof(line)) { /* what is read, not what is written */
			n = without_writes(p, n, line);
			p = line;
		}
		if (n && pcre2_match(compiled[k], (PCRE2_SPTR)p, n, 0, 0, md, mc) >= 0)
			return true;
		at = end + 1;
	}
	return false;
}

/* ---- a script's text ---- */

size_t az_script_behaviours(const char *text, size_t len, char *names, size_t ncap, char *mitre, size_t mcap)
{
	pcre2_match_context *mc;
	pcre2_match_data *md;
	size_t nl = 0, ml = 0, rules_hit = 0;
	unsigned seen = 0;
	names[0] = mitre[0] = '\0';
	pthread_once(&compiled_once, compile_patterns);
	if (!(mc = bounded_context()) || !(md = pcre2_match_data_create(1, NULL))) {
		if (mc)
			pcre2_match_context_free(mc);
		return 0;
	}
	if (len > SCAN_MAX)
		len = SCAN_MAX;
	for (size_t k = 0; k < NPAT; k++) {
		enum hist_rule r = patterns[k].rule;
		if (r == H_DISC || patterns[k].staged || !compiled[k] || !match_lines(k, text, len, md, mc))
			continue;
		add_techniques(mitre, mcap, &ml, patterns[k].mitre);
		if (!strstr(names, patterns[k].name))
			az_list_add(names, ncap, &nl, patterns[k].name);
		if (!(seen & (1u << r)))
			rules_hit++;
		seen |= 1u << r;
	}
	pcre2_match_data_free(md);
	pcre2_match_context_free(mc);
	return rules_hit;
}

/* ---- command lines of running processes ---- */

#define CMD_RULES ((1u << H_DL_RUN) | (1u << H_SHELL) | (1u << H_CRED) | (1u << H_ESCAPE))

/* The program text a shell or interpreter was given on its command line
 * (sh -c TEXT, bash -ec TEXT, python3 -c TEXT, perl -e TEXT, ruby, node
 * and lua -e TEXT, php -r TEXT, node --eval TEXT), or NULL. */
static const char *inline_program(const kcsi_proc *p)
{
	const char *prog = az_base(p->argv[0]), *letters;
	if (az_command_shell(prog))
		letters = "c";
	else if (!strncmp(prog, "python", 6))
		letters = "c";
	else if (!strncmp(prog, "perl", 4))
		letters = "eE";
	else if (!strcmp(prog, "php") || !strncmp(prog, "php", 3))
		letters = "r";
	else if (!strcmp(prog, "ruby") || !strcmp(prog, "node") || !strcmp(prog, "nodejs") || !strncmp(prog, "lua", 3))
		letters = "e";
	else
		return NULL;
	for (size_t k = 1; k + 1 < p->argc && k < 8; k++) {
		const char *o = p->argv[k];
		if (!o || o[0] != '-' || !o[1])
			break; /* a script file or the first argument */
		if (!strcmp(o, "--eval"))
			return p->argv[k + 1];
		if (o[1] != '-' && strpbrk(o + 1, letters))
			return p->argv[k + 1];
	}
	return NULL;
}

/* The root of the process tree. */
static bool tree_root(az *a, const kcsi_proc *p)
{
	return !p->ppid || !kcsi_ckpt_proc_by_pid(a->c, p->ppid);
}

/* The container's own entry command: the root of the tree, or a child of
 * a root that is an init running it (tini, dumb-init ...). */
static bool entry_command(az *a, const kcsi_proc *p)
{
	static const char *const inits[] = {"tini", "tini-static", "dumb-init", "catatonit", "docker-init",
					    "podman-init", "s6-svscan", "runsvdir", "supervisord", "init"};
	const kcsi_proc *parent;
	if (tree_root(a, p))
		return true;
	if (!(parent = kcsi_ckpt_proc_by_pid(a->c, p->ppid)) || !tree_root(a, parent) || !parent->exe)
		return false;
	for (size_t i = 0; i < sizeof(inits) / sizeof(inits[0]); i++)
		if (!strcmp(az_base(parent->exe), inits[i]))
			return true;
	return false;
}

/* Does the process, or one of its first ancestors, hold a network socket? */
static bool on_the_network(az *a, const kcsi_proc *p)
{
	for (int depth = 0; p && depth < 6; depth++) {
		if (az_inet_of(a, p->pid))
			return true;
		p = tree_root(a, p) ? NULL : kcsi_ckpt_proc_by_pid(a->c, p->ppid);
	}
	return false;
}

static void command_findings(az *a, const kcsi_proc *p, const char *text, const hist_pattern *const hits[H_N][8],
			     const size_t nhits[H_N])
{
	static const char *const ids[H_N] = {[H_DL_RUN] = "KCSI-CMD-001", [H_SHELL] = "KCSI-CMD-002",
					     [H_CRED] = "KCSI-CMD-003", [H_ESCAPE] = "KCSI-CMD-008"};
	for (int r = 0; r < H_N; r++) {
		char mitre[200] = "", names[200] = "";
		size_t ml = 0, nl = 0;
		kcsi_finding *f;
		kcsi_evidence *e;
		char *m;
		if (!nhits[r] || !ids[r])
			continue;
		for (size_t k = 0; k < nhits[r]; k++) {
			const hist_pattern *pat = hits[r][k];
			add_techniques(mitre, sizeof(mitre), &ml, pat->mitre);
			if (!strstr(names, pat->name))
				az_list_add(names, sizeof(names), &nl, pat->name);
		}
		f = az_finding(a, ids[r], rules[r].sev,
			       az_printf("Process %u (%s) %s (%s)", p->pid, az_base(p->exe ? p->exe : p->argv[0]),
					 rules[r].title, names),
			       az_printf("The command line of process %u, running when the container was checkpointed, shows "
					 "that it %s",
					 p->pid, rules[r].expl),
			       mitre);
		if ((e = az_evidence(f, "process", p->pid, -1))) {
			if ((m = masked(text))) {
				kcsi_evidence_excerpt(e, m, strlen(m), 200);
				free(m);
			}
			e->command = az_printf("kcsi ps --pid %u ARCHIVE", p->pid);
		}
	}
}

/* KCSI-CMD-*: each running process's program text or command line. */
static void command_lines(az *a, pcre2_match_data *md, pcre2_match_context *mc)
{
	for (size_t i = 0; i < kcsi_ckpt_nprocs(a->c); i++) {
		const kcsi_proc *p = kcsi_ckpt_proc(a->c, i);
		const hist_pattern *hits[H_N][8];
		size_t nhits[H_N] = {0};
		kcsi_buf joined;
		const char *text;
		bool any = false;
		if (!p->memory_read || !p->argc || !p->argv[0] || entry_command(a, p))
			continue;
		kcsi_buf_init(&joined, SCAN_MAX + 1);
		if (!(text = inline_program(p))) {
			for (size_t k = 0; k < p->argc && p->argv[k] && joined.len + strlen(p->argv[k]) + 2 < SCAN_MAX; k++)
				kcsi_buf_printf(&joined, "%s%s", k ? " " : "", p->argv[k]);
			text = joined.len && !kcsi_buf_addc(&joined, '\0') ? joined.data : "";
		}
		size_t len = strnlen(text, SCAN_MAX);
		for (size_t k = 0; k < NPAT; k++) {
			enum hist_rule r = patterns[k].rule;
			if (!(CMD_RULES & (1u << r)) || patterns[k].staged || !compiled[k] || nhits[r] >= 8 ||
			    !match_lines(k, text, len, md, mc))
				continue;
			if (!strcmp(patterns[k].name, "terminal upgrade") && !on_the_network(a, p))
				continue;
			hits[r][nhits[r]++] = &patterns[k];
			any = true;
		}
		if (any)
			command_findings(a, p, text, hits, nhits);
		kcsi_buf_free(&joined);
	}
}

void az_family_history(az *a)
{
	kcsi_history_entry *v = NULL;
	size_t n = 0, events = 0;
	pcre2_match_data *md = NULL;
	pcre2_match_context *mc = bounded_context();
	kcsi_error err;
	kcsi_error_clear(&err);
	if (!mc)
		return;
	pthread_once(&compiled_once, compile_patterns);
	md = pcre2_match_data_create(1, NULL); /* whether it matches is all that counts */
	if (md)
		command_lines(a, md, mc);
	if (kcsi_history(a->c, 0, &v, &n, &err) != KCSI_OK)
		n = 0;
	for (size_t i = 0; i < n && md;) { /* one session per process (the history is by pid, then time) */
		uint32_t pid = v[i].pid;
		hist_session *s = calloc(1, sizeof(*s));
		size_t j = i;
		for (; j < n && v[j].pid == pid; j++) {
			const char *cmd = v[j].command;
			size_t len = strlen(cmd);
			char *m;
			if (len > SCAN_MAX)
				len = SCAN_MAX;
			for (size_t k = 0; s && k < NPAT; k++) {
				if (!compiled[k] || pcre2_match(compiled[k], (PCRE2_SPTR)cmd, len, 0, 0, md, mc) < 0)
					continue;
				note(s, patterns[k].rule, j, &patterns[k]);
				s->ingress |= patterns[k].rule == H_INGRESS;
				s->staged |= patterns[k].staged;
				if (patterns[k].rule == H_INGRESS)
					note_targets(s, cmd, len, j);
			}
			if (s && s->ntargets && runs_target(s, cmd)) {
				note(s, H_DL_RUN, j, &ran_target);
				s->staged = true;
			}
			if (events++ < EVENTS_MAX && (m = masked(cmd))) {
				az_event(a, v[j].time * 1000000, "Command Time",
					 az_printf("bash (pid %u) history: %s", pid, m), NULL, pid);
				free(m);
			}
		}
		if (s)
			session_findings(a, s, v, pid);
		free(s);
		i = j;
	}
	pcre2_match_data_free(md);
	pcre2_match_context_free(mc);
	kcsi_history_free(v, n);
}
