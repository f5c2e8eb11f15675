/* kcsi — the triage engine.  See include/kcsi/analyze.h and docs/analyze.md.
 *
 * Each rule looks at behaviour: what a process runs as, what it holds open,
 * where it connects, what protocols and commands sit in its memory and
 * queues, what it dropped in the filesystem.  Rules never name particular
 * programs, addresses or paths of a scene. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <fnmatch.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "triage/analyze_int.h"
#include "reader/ckpt_int.h"
#include "kcsi/mem.h"
#include "kcsi/recover.h"
#include "base/safeout.h"

#define MAX_EVIDENCE 8        /* per finding */
#define MAX_FILE_SCAN (64u << 20)

/* ---- report building ---- */

struct az {
	kcsi_ckpt *c;
	kcsi_report *r;
	size_t capf, cape;
	kcsi_iocset iocs;
	kcsi_yara *yara;
	kcsi_fd *fds;
	size_t nfds;
	kcsi_sock *socks;
	size_t nsocks;
	pcre2_code *re_dl, *re_secret, *re_irc, *re_stratum, *re_script_url;
	pcre2_match_data *md;
	/* per process, filled by the memory pass */
	struct pmem {
		uint32_t pid;
		unsigned irc_cmds;   /* bit per IRC command seen */
		kcsi_evidence irc_ev[MAX_EVIDENCE];
		size_t nirc;
		kcsi_evidence stratum_ev[MAX_EVIDENCE];
		size_t nstratum;
		kcsi_evidence dl_ev[MAX_EVIDENCE];
		size_t ndl;
		kcsi_evidence url_ev[MAX_EVIDENCE];
		size_t nurl;
		kcsi_evidence secret_ev[MAX_EVIDENCE];
		size_t nsecret;
		kcsi_vma *vmas;
		size_t nvmas;
	} *pm;
	size_t npm;
	/* YARA hits: rule -> finding index */
	struct yhit { char *rule; size_t finding; } *yh;
	size_t nyh;
	uint32_t cur_pid;
	const char *cur_file;  /* for YARA hits in files */
	uint64_t cur_base, cur_from, cur_to, cur_cross;
};

const char *kcsi_severity_name(enum kcsi_severity s)
{
	static const char *const n[] = {"info", "low", "medium", "high", "critical"};
	return s <= KCSI_SEV_CRITICAL ? n[s] : "info";
}

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/* Text fit for an excerpt: printable bytes, others escaped, at most max. */
static char *excerpt(const void *p, size_t n, size_t max)
{
	const unsigned char *s = p;
	kcsi_buf b;
	kcsi_buf_init(&b, 4096);
	for (size_t i = 0; i < n && b.len < max; i++) {
		if (s[i] == '\\')
			kcsi_buf_add(&b, "\\\\", 2);
		else if (s[i] == '\n')
			kcsi_buf_add(&b, "\\n", 2);
		else if (s[i] == '\r')
			kcsi_buf_add(&b, "\\r", 2);
		else if (s[i] >= 0x20 && s[i] < 0x7f)
			kcsi_buf_addc(&b, (char)s[i]);
		else
			kcsi_buf_printf(&b, "\\x%02x", s[i]);
	}
	return b.data ? b.data : strdup("");
}

static kcsi_finding *finding(struct az *a, const char *id, enum kcsi_severity sev, char *title, char *expl,
			     const char *m1, const char *m2, const char *m3)
{
	kcsi_report *r = a->r;
	kcsi_finding *f;
	if (r->nfindings == a->capf) {
		size_t nc = a->capf ? a->capf * 2 : 32;
		kcsi_finding *q = realloc(r->findings, nc * sizeof(*q));
		if (!q) {
			free(title);
			free(expl);
			return NULL;
		}
		r->findings = q;
		a->capf = nc;
	}
	f = &r->findings[r->nfindings++];
	memset(f, 0, sizeof(*f));
	f->id = strdup(id);
	f->severity = sev;
	f->title = title;
	f->explanation = expl;
	if (m1) f->mitre[f->nmitre++] = m1;
	if (m2) f->mitre[f->nmitre++] = m2;
	if (m3) f->mitre[f->nmitre++] = m3;
	return f;
}

static kcsi_evidence *evidence(kcsi_finding *f, const char *kind, int64_t pid, int64_t fd)
{
	kcsi_evidence *e;
	if (!f || f->nev >= MAX_EVIDENCE * 4)
		return NULL;
	e = realloc(f->ev, (f->nev + 1) * sizeof(*e));
	if (!e)
		return NULL;
	f->ev = e;
	e = &f->ev[f->nev++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->pid = pid;
	e->fd = fd;
	return e;
}

static void copy_ev(kcsi_finding *f, const kcsi_evidence *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		kcsi_evidence *e = evidence(f, src[i].kind, src[i].pid, src[i].fd);
		if (!e)
			return;
		e->address = src[i].address;
		e->has_address = src[i].has_address;
		e->area = xstrdup(src[i].area);
		e->path = xstrdup(src[i].path);
		e->excerpt = xstrdup(src[i].excerpt);
		e->command = xstrdup(src[i].command);
	}
}

static void event(struct az *a, int64_t t_us, const char *desc, char *msg, const char *path, int64_t pid)
{
	kcsi_report *r = a->r;
	kcsi_event *q;
	if (t_us <= 0 || !msg) {
		free(msg);
		return;
	}
	if (r->nevents == a->cape) {
		size_t nc = a->cape ? a->cape * 2 : 32;
		q = realloc(r->events, nc * sizeof(*q));
		if (!q) {
			free(msg);
			return;
		}
		r->events = q;
		a->cape = nc;
	}
	r->events[r->nevents++] = (kcsi_event){t_us, msg, desc, xstrdup(path), pid};
}

static struct pmem *pmem(struct az *a, uint32_t pid)
{
	for (size_t i = 0; i < a->npm; i++)
		if (a->pm[i].pid == pid)
			return &a->pm[i];
	return NULL;
}

static const char *area_of(struct az *a, uint32_t pid, uint64_t addr)
{
	struct pmem *p = pmem(a, pid);
	return p ? kcsi_area_name(p->vmas, p->nvmas, addr) : "?";
}

static const char *base(const char *p)
{
	const char *s = p ? strrchr(p, '/') : NULL;
	return s ? s + 1 : p ? p : "";
}

/* ---- process rules ---- */

static bool kernel_thread_like(const char *s)
{
	static const char *const pats[] = {
		"kworker*", "kthreadd", "ksoftirqd*", "kswapd*", "migration/*", "rcu_*", "watchdog/*",
		"kblockd*", "khugepaged", "kdevtmpfs*", "jbd2/*", "irq/*", "kcompactd*", "kauditd",
		"ksmd", "kintegrityd", "writeback", "cpuhp/*", "oom_reaper", "kthrotld", "scsi_eh_*",
	};
	char t[64];
	size_t n;
	if (!s || !*s)
		return false;
	if (s[0] == '[') { /* the way ps shows kernel threads */
		const char *e = strchr(s, ']');
		if (!e || e == s + 1)
			return false;
		n = (size_t)(e - s - 1);
		if (n >= sizeof(t))
			n = sizeof(t) - 1;
		memcpy(t, s + 1, n);
		t[n] = '\0';
		return true; /* any bracketed name is a kernel-thread disguise for a user process */
	}
	snprintf(t, sizeof(t), "%s", s);
	t[strcspn(t, " ")] = '\0';
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
		if (fnmatch(pats[i], t, 0) == 0)
			return true;
	return false;
}

static bool is_shell_or_interp(const char *exe)
{
	static const char *const names[] = {
		"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox", "fish", "tcsh", "csh",
		"perl", "python", "python2", "python3", "ruby", "php", "node", "nodejs", "lua", "tclsh",
		"nc", "ncat", "netcat", "socat", "telnet", "awk", "gawk", "mawk",
	};
	char b[64];
	snprintf(b, sizeof(b), "%s", base(exe));
	/* python3.11, perl5.36.0, php8.2 ... */
	for (char *q = b; *q; q++)
		if (isdigit((unsigned char)*q) && q > b && (q[-1] == 'n' || q[-1] == 'l' || q[-1] == 'p' || q[-1] == '.')) {
			if (q[-1] == '.')
				q[-1] = '\0';
			else
				*q = '\0';
			break;
		}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(b, names[i]) || (!strncmp(b, names[i], strlen(names[i])) && !isalpha((unsigned char)b[strlen(names[i])])))
			return true;
	return false;
}

/* A command shell or a relay tool (not a general-purpose interpreter, which
 * legitimately serves the network). */
static bool is_plain_shell(const char *exe)
{
	static const char *const names[] = {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox",
					    "fish", "tcsh", "csh", "nc", "ncat", "netcat", "socat", "telnet"};
	const char *b = base(exe);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(b, names[i]))
			return true;
	return false;
}

/* Same program under another name? sh -> dash, python3 -> python3.11 ... */
static bool same_program(const char *argv0, const char *exe)
{
	static const char *const shells[] = {"sh", "bash", "dash", "ash", "busybox", "mksh", "ksh"};
	const char *a = base(argv0), *e = base(exe);
	bool as = false, es = false;
	if (!*a || !*e)
		return true;
	if (a[0] == '-')
		a++; /* login shells */
	if (!strncmp(a, e, strlen(a)) || !strncmp(e, a, strlen(e)))
		return true;
	for (size_t i = 0; i < sizeof(shells) / sizeof(shells[0]); i++) {
		as |= !strcmp(a, shells[i]);
		es |= !strcmp(e, shells[i]);
	}
	return as && es;
}

/* One finding per secret variable name: children inherit the environment. */
static bool seen_secret(struct az *a, const char *name)
{
	for (size_t i = 0; i < a->r->nfindings; i++)
		if (!strcmp(a->r->findings[i].id, "KCSI-SECRET-001") && strstr(a->r->findings[i].title, name))
			return true;
	return false;
}

static void rules_process(struct az *a)
{
	kcsi_ckpt *c = a->c;
	for (size_t i = 0; i < kcsi_ckpt_nprocs(c); i++) {
		const kcsi_proc *p = kcsi_ckpt_proc(c, i);
		const char *title = p->memory_read && p->argc ? p->argv[0] : p->comm;
		char cmd[96];
		kcsi_finding *f;
		kcsi_evidence *e;
		snprintf(cmd, sizeof(cmd), "kcsi ps --pid %u ARCHIVE", p->pid);
		if (kernel_thread_like(p->comm) || kernel_thread_like(title)) {
			f = finding(a, "KCSI-MASQ-001", KCSI_SEV_HIGH,
				    xasprintf("Process %u poses as a kernel thread ('%s')", p->pid, title),
				    xasprintf("A process inside the container is named like a kernel thread (comm '%s', command "
					      "line '%s') but runs the program %s. Kernel threads have no executable and never run "
					      "inside a container: the name is a disguise to blend into a process list.",
					      p->comm, title, p->exe ? p->exe : "(unknown)"),
				    "T1036", "T1036.004", NULL);
			if ((e = evidence(f, "process", p->pid, -1))) {
				e->path = xstrdup(p->exe);
				e->excerpt = xasprintf("comm=%s cmdline=%s", p->comm, title);
				e->command = strdup(cmd);
			}
		} else if (p->argv_rewritten) {
			f = finding(a, "KCSI-MASQ-002", KCSI_SEV_MEDIUM,
				    xasprintf("Process %u rewrote its command line", p->pid),
				    xasprintf("The argument area of process %u no longer ends with a NUL byte: the program replaced "
					      "its command line with '%s' (it runs %s). Programs do this to hide what they are.",
					      p->pid, title, p->exe ? p->exe : "(unknown)"),
				    "T1036", NULL, NULL);
			if ((e = evidence(f, "process", p->pid, -1))) {
				e->path = xstrdup(p->exe);
				e->excerpt = xstrdup(title);
				e->command = strdup(cmd);
			}
		} else if (p->exe && p->memory_read && p->argc && !same_program(p->argv[0], p->exe) &&
			   !p->exe_memfd && !is_shell_or_interp(p->exe)) {
			f = finding(a, "KCSI-MASQ-003", KCSI_SEV_LOW,
				    xasprintf("Process %u: argv[0] '%s' is not its executable", p->pid, base(p->argv[0])),
				    xasprintf("Process %u was started as '%s' but runs %s.", p->pid, p->argv[0], p->exe),
				    "T1036", NULL, NULL);
			if ((e = evidence(f, "process", p->pid, -1))) {
				e->path = xstrdup(p->exe);
				e->command = strdup(cmd);
			}
		}
		if (p->exe_memfd || p->exe_deleted) {
			f = finding(a, p->exe_memfd ? "KCSI-FILELESS-001" : "KCSI-FILELESS-002",
				    p->exe_memfd ? KCSI_SEV_CRITICAL : KCSI_SEV_HIGH,
				    p->exe_memfd ? xasprintf("Process %u runs a program from memory (%s)", p->pid, p->exe)
						 : xasprintf("Process %u runs a deleted program (%s)", p->pid, p->exe),
				    p->exe_memfd
					? xasprintf("The executable of process %u is a memfd, an anonymous file that exists only in "
						    "memory: the program never touched the disk. `kcsi recover` writes it out.", p->pid)
					: xasprintf("The executable of process %u was deleted after it started, which removes the "
						    "program from the filesystem while it keeps running.", p->pid),
				    "T1620", "T1027", p->exe_deleted ? "T1070.004" : NULL);
			if ((e = evidence(f, "process", p->pid, -1))) {
				e->path = xstrdup(p->exe);
				e->command = xasprintf("kcsi recover --out DIR ARCHIVE");
			}
		}
		/* environment */
		for (size_t k = 0; k < p->envc; k++) {
			const char *v = p->env[k], *eq = strchr(v, '=');
			char name[128];
			size_t nl;
			if (!eq)
				continue;
			nl = (size_t)(eq - v) < sizeof(name) - 1 ? (size_t)(eq - v) : sizeof(name) - 1;
			memcpy(name, v, nl);
			name[nl] = '\0';
			if (!strcmp(name, "LD_PRELOAD") || !strcmp(name, "LD_AUDIT")) {
				f = finding(a, "KCSI-INJECT-002", KCSI_SEV_HIGH,
					    xasprintf("Process %u preloads a library (%s)", p->pid, name),
					    xasprintf("%s in the environment of process %u loads '%s' into the program: a way to "
						      "hijack its functions.", name, p->pid, eq + 1),
					    "T1574.006", NULL, NULL);
				if ((e = evidence(f, "env", p->pid, -1)))
					e->excerpt = strdup(v);
			}
			for (char *q = name; *q; q++)
				*q = (char)toupper((unsigned char)*q);
			if (eq[1] && !seen_secret(a, name) && (strstr(name, "PASSWORD") || strstr(name, "PASSWD") || strstr(name, "SECRET") ||
				      strstr(name, "TOKEN") || strstr(name, "API_KEY") || strstr(name, "APIKEY") ||
				      strstr(name, "ACCESS_KEY") || strstr(name, "PRIVATE_KEY") || strstr(name, "CREDENTIAL"))) {
				size_t vl = strlen(eq + 1);
				f = finding(a, "KCSI-SECRET-001", KCSI_SEV_LOW,
					    xasprintf("Secret in the environment (%s), first in process %u", name, p->pid),
					    xasprintf("The environment of process %u holds %.*s. Whoever got into the container can "
						      "read it, and the checkpoint holds it too: rotate it.", p->pid, (int)nl, v),
					    "T1552.001", NULL, NULL);
				if ((e = evidence(f, "env", p->pid, -1)))
					e->excerpt = xasprintf("%.*s=%.3s... (%zu characters)", (int)nl, v, eq + 1, vl);
			}
		}
	}
}

/* ---- descriptors and sockets ---- */

static bool common_port(uint32_t port)
{
	static const uint32_t ports[] = {20, 21, 22, 25, 53, 80, 110, 123, 143, 389, 443, 465, 587, 636,
					 853, 993, 995, 1433, 1521, 2049, 2181, 2379, 2380, 3306, 5432, 5671,
					 5672, 6379, 6443, 8080, 8443, 9000, 9042, 9092, 9200, 9300, 10250,
					 11211, 15672, 27017};
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		if (ports[i] == port)
			return true;
	return false;
}

static bool irc_port(uint32_t p)
{
	return (p >= 6660 && p <= 6669) || p == 6697 || p == 7000 || p == 7070;
}

static bool pool_port(uint32_t p)
{
	static const uint32_t ports[] = {3333, 3334, 3335, 3336, 3357, 5555, 5556, 7777, 8333, 9999,
					 13333, 14433, 14444, 15555, 17777, 20535, 45560, 45700};
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		if (ports[i] == p)
			return true;
	return false;
}

static char *conn_text(const kcsi_sock *s)
{
	bool v6 = !strcmp(s->family, "INET6");
	return xasprintf("%s %s%s%s:%u -> %s%s%s:%u %s", s->proto, v6 ? "[" : "", s->src, v6 ? "]" : "", s->sport,
			 v6 ? "[" : "", s->dst, v6 ? "]" : "", s->dport, s->state);
}

static bool listening_port(struct az *a, uint32_t port)
{
	for (size_t i = 0; i < a->nsocks; i++)
		if (!strcmp(a->socks[i].state, "LISTEN") && a->socks[i].sport == port &&
		    (!strcmp(a->socks[i].family, "INET") || !strcmp(a->socks[i].family, "INET6")))
			return true;
	return false;
}

static void rules_network(struct az *a)
{
	kcsi_ckpt *c = a->c;
	for (size_t i = 0; i < a->nsocks; i++) {
		const kcsi_sock *s = &a->socks[i];
		const kcsi_proc *p = kcsi_ckpt_proc_by_pid(c, s->pid);
		bool inet = !strcmp(s->family, "INET") || !strcmp(s->family, "INET6");
		bool dup = false;
		kcsi_finding *f = NULL;
		kcsi_evidence *e;
		char *conn;

		for (size_t k = 0; k < i; k++)
			if (a->socks[k].ino == s->ino && a->socks[k].pid == s->pid)
				dup = true; /* one socket behind several fds: judge it once per process */
		if (!strcmp(s->family, "PACKET") || (inet && !strcmp(s->type, "RAW"))) {
			f = finding(a, "KCSI-NET-RAW-001", KCSI_SEV_MEDIUM,
				    xasprintf("Process %u holds a raw or packet socket", s->pid),
				    xasprintf("A raw or packet socket sees or forges traffic below TCP/UDP: sniffers and "
					      "scanners use them; ordinary workloads do not."),
				    "T1040", "T1095", NULL);
			if ((e = evidence(f, "socket", s->pid, s->fd)))
				e->command = strdup("kcsi net ARCHIVE");
			continue;
		}
		if (!inet)
			continue;
		if (s->dport && !dup) {
			kcsi_ioc_add(&a->iocs, !strcmp(s->family, "INET6") ? "ipv6" : "ipv4", s->dst, 0,
				     conn = xasprintf("connection pid %u fd %d", s->pid, s->fd));
			free(conn);
		}
		if (dup)
			continue;
		conn = conn_text(s);
		if (!strcmp(s->state, "LISTEN")) {
			bool shell = p && is_plain_shell(p->exe);
			f = finding(a, shell ? "KCSI-SHELL-002" : "KCSI-NET-LISTEN-001", shell ? KCSI_SEV_HIGH : KCSI_SEV_INFO,
				    shell ? xasprintf("Shell or interpreter %u listens on port %u (bind shell)", s->pid, s->sport)
					  : xasprintf("Process %u listens on %s port %u", s->pid, s->proto, s->sport),
				    shell ? xasprintf("Process %u (%s) waits for connections on %s:%u: a shell that serves "
						      "the network is a bind shell.", s->pid, p->exe, s->src, s->sport)
					  : xasprintf("A listening socket: a service of the workload, or a backdoor if the "
						      "workload does not serve this port."),
				    shell ? "T1059.004" : "T1095", shell ? "T1571" : NULL, NULL);
		} else if (s->dport && !listening_port(a, s->sport) && !listening_port(a, s->dport)) {
			/* outbound */
			if (irc_port(s->dport))
				f = finding(a, "KCSI-NET-IRC-001", KCSI_SEV_HIGH,
					    xasprintf("Process %u is connected to an IRC port (%s:%u)", s->pid, s->dst, s->dport),
					    xasprintf("Outbound connection to port %u, an IRC port. IRC is a classic command-and-"
						      "control channel for bots; web workloads do not speak it.", s->dport),
					    "T1071", "T1571", NULL);
			else if (pool_port(s->dport))
				f = finding(a, "KCSI-NET-POOL-001", KCSI_SEV_HIGH,
					    xasprintf("Process %u is connected to a mining-pool port (%s:%u)", s->pid, s->dst, s->dport),
					    xasprintf("Outbound connection to port %u, a port cryptocurrency mining pools use.", s->dport),
					    "T1496", "T1571", NULL);
			else if (!common_port(s->dport))
				f = finding(a, "KCSI-NET-PORT-001", KCSI_SEV_MEDIUM,
					    xasprintf("Process %u is connected to an unusual port (%s:%u)", s->pid, s->dst, s->dport),
					    xasprintf("Outbound %s connection to port %u, which no common service uses.", s->proto, s->dport),
					    "T1571", "T1071", NULL);
			else
				f = finding(a, "KCSI-NET-OUT-001", KCSI_SEV_INFO,
					    xasprintf("Process %u is connected to %s:%u", s->pid, s->dst, s->dport),
					    xasprintf("Outbound connection to a common service port."), "T1071", NULL, NULL);
		}
		if (f && (e = evidence(f, "socket", s->pid, s->fd))) {
			e->connection = conn;
			e->command = strdup("kcsi net ARCHIVE");
			conn = NULL;
		}
		free(conn);
	}
	/* shells whose standard streams are network sockets */
	for (size_t i = 0; i < kcsi_ckpt_nprocs(c); i++) {
		const kcsi_proc *p = kcsi_ckpt_proc(c, i);
		const kcsi_sock *net = NULL;
		int fds[3] = {-1, -1, -1};
		kcsi_finding *f;
		if (!p->exe || !is_shell_or_interp(p->exe))
			continue;
		for (size_t k = 0; k < a->nsocks; k++) {
			const kcsi_sock *s = &a->socks[k];
			if (s->pid == p->pid && s->fd >= 0 && s->fd <= 2 &&
			    (!strcmp(s->family, "INET") || !strcmp(s->family, "INET6"))) {
				fds[s->fd] = s->fd;
				net = s;
			}
		}
		if (!net)
			continue;
		f = finding(a, "KCSI-SHELL-001", KCSI_SEV_CRITICAL,
			    xasprintf("%s shell: process %u (%s) reads and writes a network connection",
				      listening_port(a, net->sport) ? "Bind" : "Reverse", p->pid, base(p->exe)),
			    xasprintf("The standard input/output of process %u (%s) are a %s socket connected to %s:%u. "
				      "A shell or interpreter whose terminal is a network connection is a remote shell: "
				      "someone at the other end types commands.", p->pid, p->exe, net->proto, net->dst, net->dport),
			    "T1059.004", "T1071", NULL);
		kcsi_evidence *e = evidence(f, "socket", p->pid, net->fd);
		if (e) {
			e->connection = conn_text(net);
			e->excerpt = xasprintf("stdin %s, stdout %s, stderr %s", fds[0] >= 0 ? "socket" : "-",
					       fds[1] >= 0 ? "socket" : "-", fds[2] >= 0 ? "socket" : "-");
			e->command = xasprintf("kcsi files --pid %u ARCHIVE", p->pid);
		}
	}
	/* shells whose terminal is a pipe to a process that holds a connection:
	 * mkfifo F; sh -i < F | relay HOST PORT > F (the shell has no socket) */
	for (size_t i = 0; i < kcsi_ckpt_nprocs(c); i++) {
		const kcsi_proc *p = kcsi_ckpt_proc(c, i);
		const char *in = NULL, *out = NULL;
		const kcsi_proc *feeder = NULL, *reader = NULL;
		const kcsi_sock *conn = NULL;
		kcsi_finding *f;
		kcsi_evidence *e;
		if (!p->exe || !is_plain_shell(p->exe))
			continue;
		for (size_t k = 0; k < a->nfds; k++) {
			const kcsi_fd *d = &a->fds[k];
			if (d->pid != p->pid || (strcmp(d->type, "PIPE") && strcmp(d->type, "FIFO")))
				continue;
			if (d->fd == 0)
				in = d->path;
			else if (d->fd == 1)
				out = d->path;
		}
		if (!in && !out)
			continue;
		for (size_t k = 0; k < a->nfds; k++) {
			const kcsi_fd *d = &a->fds[k];
			const kcsi_sock *net = NULL;
			if (d->pid == p->pid || (strcmp(d->type, "PIPE") && strcmp(d->type, "FIFO")))
				continue;
			/* the other end: it writes what the shell reads, or reads what it writes */
			bool feeds = in && d->fd == 1 && !strcmp(d->path, in);
			bool reads = out && d->fd == 0 && !strcmp(d->path, out);
			if (!feeds && !reads)
				continue;
			for (size_t q = 0; q < a->nsocks; q++)
				if (a->socks[q].pid == d->pid &&
				    (!strcmp(a->socks[q].family, "INET") || !strcmp(a->socks[q].family, "INET6")) &&
				    (!strcmp(a->socks[q].state, "ESTABLISHED") || !strcmp(a->socks[q].state, "SYN_SENT")))
					net = &a->socks[q];
			if (!net)
				continue;
			conn = net;
			if (feeds)
				feeder = kcsi_ckpt_proc_by_pid(c, d->pid);
			if (reads)
				reader = kcsi_ckpt_proc_by_pid(c, d->pid);
		}
		if (!conn)
			continue;
		f = finding(a, "KCSI-SHELL-003", feeder && reader ? KCSI_SEV_CRITICAL : KCSI_SEV_HIGH,
			    xasprintf("Shell %u is driven through pipes by a process with a network connection", p->pid),
			    xasprintf("The %s of shell %u (%s) %s connected through %s to process %u, which holds a %s "
				      "connection to %s:%u: a reverse shell built from pipes or a named pipe and a relay, "
				      "so that the shell itself holds no socket.",
				      feeder && reader ? "input and output" : feeder ? "input" : "output", p->pid, p->exe,
				      feeder && reader ? "are" : "is", feeder ? in : out,
				      (feeder ? feeder : reader)->pid, conn->proto, conn->dst, conn->dport),
			    "T1059.004", "T1071", "T1090");
		if ((e = evidence(f, "process", p->pid, -1))) {
			e->excerpt = xasprintf("stdin %s, stdout %s", in ? in : "-", out ? out : "-");
			e->command = xasprintf("kcsi files --pid %u ARCHIVE", p->pid);
		}
		if ((e = evidence(f, "socket", conn->pid, conn->fd))) {
			e->connection = conn_text(conn);
			e->command = strdup("kcsi net ARCHIVE");
		}
	}
	/* files deleted while held open */
	for (size_t i = 0; i < a->nfds; i++) {
		const kcsi_fd *d = &a->fds[i];
		kcsi_finding *f;
		kcsi_evidence *e;
		if (!d->deleted || d->fd < 0)
			continue;
		f = finding(a, "KCSI-DELETED-001", KCSI_SEV_MEDIUM,
			    xasprintf("Process %u holds a deleted file open (%s)", d->pid, d->path),
			    xasprintf("%s was deleted while process %u kept it open on fd %d: a way to hide a file that "
				      "is still in use.%s", d->path, d->pid, d->fd,
				      d->remap && !strcmp(d->remap, "ghost") ? " The checkpoint kept its content." : ""),
			    "T1070.004", NULL, NULL);
		if ((e = evidence(f, "fd", d->pid, d->fd))) {
			e->path = xstrdup(d->path);
			e->command = strdup("kcsi recover --out DIR ARCHIVE");
		}
	}
}

/* ---- memory areas ---- */

static bool first_exec_file(const struct pmem *pm, const kcsi_vma *v)
{
	for (size_t k = 0; k < pm->nvmas; k++)
		if ((pm->vmas[k].prot & 4) && !strcmp(pm->vmas[k].kind, "file"))
			return &pm->vmas[k] == v;
	return false;
}

static void rules_memory_areas(struct az *a)
{
	for (size_t i = 0; i < a->npm; i++) {
		struct pmem *pm = &a->pm[i];
		kcsi_finding *f = NULL, *g = NULL;
		for (size_t k = 0; k < pm->nvmas; k++) {
			const kcsi_vma *v = &pm->vmas[k];
			kcsi_evidence *e;
			bool exec = v->prot & 4;
			if (!exec)
				continue;
			if (!strcmp(v->kind, "anon") || !strcmp(v->kind, "heap") || !strcmp(v->kind, "stack") ||
			    ((v->prot & 2) && strcmp(v->kind, "vdso") && strcmp(v->kind, "vsyscall"))) {
				if (!f)
					f = finding(a, "KCSI-INJECT-001", KCSI_SEV_MEDIUM,
						    xasprintf("Process %u has executable anonymous or writable memory", pm->pid),
						    xasprintf("Memory of process %u that is executable but backed by no file (or both "
							      "writable and executable) can hold injected or unpacked code. JIT "
							      "runtimes also make such memory.", pm->pid),
						    "T1055", "T1027.002", NULL);
				if ((e = evidence(f, "memory", pm->pid, -1))) {
					e->address = v->start;
					e->has_address = true;
					e->area = xasprintf("%s %c%c%c %llu bytes", v->kind, v->prot & 1 ? 'r' : '-',
							    v->prot & 2 ? 'w' : '-', 'x', (unsigned long long)(v->end - v->start));
					e->command = xasprintf("kcsi dump --pid %u --area 0x%llx --out DIR ARCHIVE", pm->pid,
							       (unsigned long long)v->start);
				}
			} else if (!strcmp(v->kind, "file") && v->pages && !(v->pages == 1 && first_exec_file(pm, v))) {
				/* (CRIU itself writes one page of the first executable
				 * mapping to run its parasite code: that page is expected) */
				if (!g)
					g = finding(a, "KCSI-INJECT-003", KCSI_SEV_MEDIUM,
						    xasprintf("Process %u changed executable code of a mapped file", pm->pid),
						    xasprintf("Pages of an executable file mapping of process %u differ from the file "
							      "(the checkpoint holds only pages that were written): code was patched "
							      "in memory.", pm->pid),
						    "T1055", NULL, NULL);
				if ((e = evidence(g, "memory", pm->pid, -1))) {
					e->address = v->start;
					e->has_address = true;
					e->path = xstrdup(v->path);
					e->area = xasprintf("%llu of %llu pages written", (unsigned long long)v->pages,
							    (unsigned long long)((v->end - v->start) / 4096));
				}
			}
		}
	}
}

/* ---- strings: memory, queues, files ---- */

enum { IRC_NICK = 1, IRC_USER = 2, IRC_JOIN = 4, IRC_PRIVMSG = 8, IRC_PING = 16, IRC_MODE = 32 };

static int re_find(struct az *a, pcre2_code *re, const char *p, size_t n, size_t *mo, size_t *ml)
{
	PCRE2_SIZE *ov;
	if (pcre2_match(re, (PCRE2_SPTR)p, n, 0, 0, a->md, NULL) < 0)
		return 0;
	ov = pcre2_get_ovector_pointer(a->md);
	*mo = ov[0];
	*ml = ov[1] - ov[0];
	return 1;
}

static void add_mem_ev(kcsi_evidence *arr, size_t *n, const char *kind, uint32_t pid, int64_t fd, uint64_t addr,
		       bool has_addr, const char *area, const char *path, const char *p, size_t len)
{
	kcsi_evidence *e;
	if (*n >= MAX_EVIDENCE)
		return;
	e = &arr[(*n)++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->pid = pid ? (int64_t)pid : -1; /* pid 0: the container's files */
	e->fd = fd;
	e->address = addr;
	e->has_address = has_addr;
	e->area = xstrdup(area);
	e->path = xstrdup(path);
	e->excerpt = excerpt(p, len, 200);
}

static bool maybe_secret(const char *p, size_t n)
{
	return memmem(p, n, "AKIA", 4) || memmem(p, n, "ASIA", 4) || memmem(p, n, "PRIVATE KEY", 11) ||
	       memmem(p, n, "gh", 2) || memmem(p, n, "xox", 3) || memmem(p, n, "eyJhbGciOi", 10);
}

static void source_text(char *src, size_t cap, const char *kind, uint32_t pid, int64_t fd, bool has_addr,
			uint64_t addr, const char *area, const char *path)
{
	if (has_addr)
		snprintf(src, cap, "memory pid %u 0x%llx (%s)", pid, (unsigned long long)addr, area);
	else if (fd >= 0)
		snprintf(src, cap, "%s pid %u fd %lld", kind, pid, (long long)fd);
	else
		snprintf(src, cap, "%s %s", kind, path ? path : "");
}

/* One string of printable text found at addr in pid's memory (or in a queue
 * or file when kind says so). */
static void on_text(struct az *a, const char *kind, uint32_t pid, int64_t fd, uint64_t addr, bool has_addr,
		    const char *path, const char *p, size_t n, unsigned rank)
{
	struct pmem *pm = pmem(a, pid);
	char src[160];
	const char *area = NULL;
	size_t mo, ml;

#define AREA() (area ? area : (area = has_addr ? area_of(a, pid, addr) : NULL))
	/* where the text was seen: made only when an IOC may come of it */
	src[0] = '\0';
	if (kcsi_iocs_may_match(p, n)) {
		source_text(src, sizeof(src), kind, pid, fd, has_addr, addr, AREA(), path);
		kcsi_iocs_scan_text(&a->iocs, p, n, rank, src);
	}
	if (!pm)
		return;
	/* IRC commands at the start of a line */
	if (n > 5 && isupper((unsigned char)p[0]) && re_find(a, a->re_irc, p, n, &mo, &ml)) {
		unsigned bit = !strncmp(p, "NICK", 4) ? IRC_NICK : !strncmp(p, "USER", 4) ? IRC_USER
			     : !strncmp(p, "JOIN", 4) ? IRC_JOIN : !strncmp(p, "PRIVMSG", 7) ? IRC_PRIVMSG
			     : !strncmp(p, "MODE", 4) ? IRC_MODE : IRC_PING;
		if (!src[0])
			source_text(src, sizeof(src), kind, pid, fd, has_addr, addr, AREA(), path);
		if (!(pm->irc_cmds & bit))
			add_mem_ev(pm->irc_ev, &pm->nirc, kind, pid, fd, addr, has_addr, AREA(), path, p, n);
		pm->irc_cmds |= bit;
		/* channel and nick IOCs */
		if (bit == IRC_JOIN || bit == IRC_PRIVMSG) {
			const char *h = memchr(p, '#', n);
			if (h) {
				char ch[128];
				size_t l = 0;
				while (h + l < p + n && l < sizeof(ch) - 1 && !isspace((unsigned char)h[l]) && h[l] != ',' && h[l] != ':')
					ch[l] = h[l], l++;
				ch[l] = '\0';
				if (l > 1)
					kcsi_ioc_add(&a->iocs, "irc-channel", ch, rank, src);
			}
		} else if (bit == IRC_NICK && n > 5) {
			char nick[64];
			size_t l = 0;
			const char *q = p + 5;
			while (q + l < p + n && l < sizeof(nick) - 1 && !isspace((unsigned char)q[l]))
				nick[l] = q[l], l++;
			nick[l] = '\0';
			if (l)
				kcsi_ioc_add(&a->iocs, "irc-nick", nick, rank, src);
		}
	}
	if ((memmem(p, n, "mining.", 7) || memmem(p, n, "stratum+", 8) || memmem(p, n, "\"login\"", 7)) &&
	    re_find(a, a->re_stratum, p, n, &mo, &ml))
		add_mem_ev(pm->stratum_ev, &pm->nstratum, kind, pid, fd, addr + mo, has_addr, AREA(), path, p + mo,
			   n - mo < 160 ? n - mo : 160);
	if ((memmem(p, n, "curl", 4) || memmem(p, n, "wget", 4) || memmem(p, n, "fetch", 5)) &&
	    re_find(a, a->re_dl, p, n, &mo, &ml))
		add_mem_ev(pm->dl_ev, &pm->ndl, kind, pid, fd, addr + mo, has_addr, AREA(), path, p + mo, ml);
	if (memmem(p, n, "://", 3) && re_find(a, a->re_script_url, p, n, &mo, &ml))
		add_mem_ev(pm->url_ev, &pm->nurl, kind, pid, fd, addr + mo, has_addr, AREA(), path, p + mo, ml);
	if (maybe_secret(p, n) && re_find(a, a->re_secret, p, n, &mo, &ml)) {
		char buf[64];
		snprintf(buf, sizeof(buf), "%.8s... (%zu characters)", p + mo, ml);
		add_mem_ev(pm->secret_ev, &pm->nsecret, kind, pid, fd, addr + mo, has_addr, AREA(), path, buf, strlen(buf));
	}
#undef AREA
}

static const unsigned char printable[256] = {
	['\t'] = 1,
#define P4(x) [x] = 1, [x + 1] = 1, [x + 2] = 1, [x + 3] = 1
	P4(32), P4(36), P4(40), P4(44), P4(48), P4(52), P4(56), P4(60), P4(64), P4(68), P4(72), P4(76),
	P4(80), P4(84), P4(88), P4(92), P4(96), P4(100), P4(104), P4(108), P4(112), P4(116), P4(120),
	[124] = 1, [125] = 1, [126] = 1,
#undef P4
};

#define MIN_STR 6

/* Split bytes into printable strings and hand each to on_text.  Only strings
 * starting in [from, to) count (windows overlap).  Most of memory is not
 * text: the scan looks at every MIN_STR-th byte first and skips ahead when it
 * cannot end a long-enough run (p[i-1] is never printable at the loop top). */
static void strings_of(struct az *a, const char *kind, uint32_t pid, int64_t fd, uint64_t base_addr, bool has_addr,
		       const char *path, const unsigned char *p, size_t n, size_t from, size_t to, unsigned rank)
{
	size_t i = 0;
	while (i + MIN_STR <= n) {
		size_t j, e;
		if (!printable[p[i + MIN_STR - 1]]) {
			i += MIN_STR;
			continue;
		}
		j = i + MIN_STR - 1;
		while (j > i && printable[p[j - 1]])
			j--;
		e = i + MIN_STR;
		while (e < n && printable[p[e]])
			e++;
		if (e - j >= MIN_STR) {
			for (size_t s = j; s < e; s += 4096) { /* very long runs in pieces */
				size_t len = e - s < 4096 ? e - s : 4096;
				if (len >= MIN_STR && s >= from && s < to)
					on_text(a, kind, pid, fd, base_addr + s, has_addr, path, (const char *)p + s, len, rank);
			}
		}
		i = e + 1;
	}
}

static void on_yara(void *ctx, const char *rule, const char *ns, const char *severity, const char *mitre,
		    const char *description, uint64_t offset, const char *string_id, const unsigned char *data,
		    size_t len);

struct yjob {
	struct az *a;
	const kcsi_window *w;
};

static void *yara_worker(void *arg)
{
	struct yjob *j = arg;
	kcsi_error err;
	kcsi_error_clear(&err);
	kcsi_yara_scan(j->a->yara, j->w->p, j->w->len, on_yara, j->a, &err);
	return NULL;
}

/* One window of memory: YARA runs on a second thread while the strings
 * scanners run here, both on the same bytes (one pass, two cores). */
static int on_window(void *ctx, const kcsi_window *w)
{
	struct az *a = ctx;
	pthread_t th;
	struct yjob job = {a, w};
	bool threaded = false;

	a->r->bytes_scanned += w->to - w->from;
	if (a->yara) {
		a->cur_pid = w->pid;
		a->cur_file = NULL;
		a->cur_base = w->addr;
		a->cur_from = w->from;
		a->cur_to = w->to;
		a->cur_cross = w->cross;
		threaded = pthread_create(&th, NULL, yara_worker, &job) == 0;
		if (!threaded)
			yara_worker(&job);
	}
	strings_of(a, "memory", w->pid, -1, w->addr, true, NULL, w->p, w->len, (size_t)(w->from - w->addr),
		   (size_t)(w->to - w->addr), 1);
	if (threaded)
		pthread_join(th, NULL);
	return 0;
}

/* ---- YARA ---- */

static enum kcsi_severity sev_from(const char *s, enum kcsi_severity dflt)
{
	if (!s)
		return dflt;
	if (!strcasecmp(s, "critical")) return KCSI_SEV_CRITICAL;
	if (!strcasecmp(s, "high")) return KCSI_SEV_HIGH;
	if (!strcasecmp(s, "medium")) return KCSI_SEV_MEDIUM;
	if (!strcasecmp(s, "low")) return KCSI_SEV_LOW;
	if (!strcasecmp(s, "info")) return KCSI_SEV_INFO;
	return dflt;
}

/* MITRE ids from a rule's meta "mitre" ("T1071, T1059.004"); the finding
 * owns the copy the ids point into. */
static void mitre_from(kcsi_finding *f, const char *m, char **store)
{
	char *s, *tok, *save = NULL;
	if (!m || !(s = strdup(m)))
		return;
	*store = s;
	for (tok = strtok_r(s, ", ", &save); tok && f->nmitre < 6; tok = strtok_r(NULL, ", ", &save))
		f->mitre[f->nmitre++] = tok;
}

static void on_yara(void *ctx, const char *rule, const char *ns, const char *severity, const char *mitre,
		    const char *description, uint64_t offset, const char *string_id, const unsigned char *data,
		    size_t len)
{
	struct az *a = ctx;
	kcsi_finding *f = NULL;
	kcsi_evidence *e;
	uint64_t addr = a->cur_base + offset;
	char id[160];

	if (!a->cur_file && string_id) {
		/* windows overlap: count a hit once, in the window that owns it */
		if (addr < a->cur_from || addr >= a->cur_to || (a->cur_cross && addr + len <= a->cur_cross))
			return;
	}
	for (size_t i = 0; i < a->nyh; i++)
		if (!strcmp(a->yh[i].rule, rule) && a->r->findings[a->yh[i].finding].ev &&
		    a->r->findings[a->yh[i].finding].ev[0].pid == (a->cur_file ? -1 : (int64_t)a->cur_pid))
			f = &a->r->findings[a->yh[i].finding];
	if (!f) {
		struct yhit *q = realloc(a->yh, (a->nyh + 1) * sizeof(*q));
		snprintf(id, sizeof(id), "KCSI-YARA-%s", rule);
		f = finding(a, id, sev_from(severity, KCSI_SEV_MEDIUM),
			    a->cur_file ? xasprintf("YARA rule %s matches %s", rule, a->cur_file)
					: xasprintf("YARA rule %s matches the memory of process %u", rule, a->cur_pid),
			    xasprintf("%s (rule %s:%s).", description ? description : "A YARA rule matched", ns, rule), NULL,
			    NULL, NULL);
		if (!f || !q)
			return;
		a->yh = q;
		a->yh[a->nyh].rule = strdup(rule);
		a->yh[a->nyh].finding = (size_t)(f - a->r->findings);
		a->nyh++;
		mitre_from(f, mitre, &f->mitre_store);
		if (!f->nmitre)
			f->mitre[f->nmitre++] = "T1588.001"; /* a match without a technique: known malware/tool */
		if ((e = evidence(f, a->cur_file ? "file" : "yara", a->cur_file ? -1 : (int64_t)a->cur_pid, -1)))
			e->command = a->cur_file ? xasprintf("kcsi recover --out DIR ARCHIVE")
						 : xasprintf("kcsi memgrep --pid %u --hex ARCHIVE PATTERN", a->cur_pid);
	}
	if (!string_id || f->nev >= MAX_EVIDENCE)
		return;
	if ((e = evidence(f, a->cur_file ? "file" : "yara", a->cur_file ? -1 : (int64_t)a->cur_pid, -1))) {
		if (a->cur_file) {
			e->path = strdup(a->cur_file);
			e->area = xasprintf("offset %llu", (unsigned long long)offset);
		} else {
			e->address = addr;
			e->has_address = true;
			e->area = xstrdup(area_of(a, a->cur_pid, addr));
		}
		char *x = excerpt(data, len, 120);
		e->excerpt = xasprintf("%s: %s", string_id, x);
		free(x);
	}
}

/* ---- files: rootfs diff, ghost files, memfd contents ---- */

static bool temp_or_hidden(const char *path)
{
	const char *p = path;
	while (*p == '/')
		p++;
	if (!strncmp(p, "tmp/", 4) || !strncmp(p, "var/tmp/", 8) || !strncmp(p, "dev/shm/", 8) ||
	    !strncmp(p, "run/", 4) || !strncmp(p, "var/run/", 8))
		return true;
	for (const char *q = p; *q; q++)
		if ((q == p || q[-1] == '/') && q[0] == '.' && q[1] && q[1] != '/' && q[1] != '.')
			return true;
	return false;
}

static unsigned count_lines(const unsigned char *p, size_t n, const char *re_text, struct az *a)
{
	unsigned count = 0;
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)re_text, PCRE2_ZERO_TERMINATED, PCRE2_MULTILINE, &ec, &eo, NULL);
	PCRE2_SIZE start = 0;
	if (!re)
		return 0;
	while (start < n && count < 100) {
		PCRE2_SIZE *ov;
		if (pcre2_match(re, p, n, start, 0, a->md, NULL) < 0)
			break;
		ov = pcre2_get_ovector_pointer(a->md);
		count++;
		start = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
	}
	pcre2_code_free(re);
	return count;
}

static const char *staged_kind(struct az *a, const unsigned char *p, size_t n)
{
	if (n > 8 && memmem(p, n < 65536 ? n : 65536, "PRIVATE KEY-----", 16))
		return "a private key";
	if (count_lines(p, n < 1048576 ? n : 1048576, "^[a-z_][a-z0-9_.-]*:[^:\\n]*:[0-9]+:[0-9]+:[^:\\n]*:[^:\\n]*:", a) >= 3)
		return "an account list (/etc/passwd format)";
	if (count_lines(p, n < 1048576 ? n : 1048576, "^[a-z_][a-z0-9_.-]*:(\\$[0-9a-z]+\\$[^:]*|[*!]+):[0-9]*:", a) >= 2)
		return "password hashes (/etc/shadow format)";
	if (memmem(p, n, "aws_secret_access_key", 21) || memmem(p, n, "client-key-data:", 16))
		return "cloud or cluster credentials";
	return NULL;
}

static void sha256_ioc(struct az *a, const unsigned char *p, size_t n, const char *source)
{
	char hex[65];
	kcsi_sha256_hex(p, n, hex);
	kcsi_ioc_add(&a->iocs, "sha256", hex, 2, source);
}

/* Look at one file's content (from the rootfs diff, a ghost file or a memfd). */
static void examine_file(struct az *a, const char *origin, const char *path, uint32_t mode, int64_t pid, int64_t fd,
			 const unsigned char *p, size_t n)
{
	bool elf = n >= 4 && !memcmp(p, "\x7f" "ELF", 4);
	bool script = n >= 2 && p[0] == '#' && p[1] == '!';
	const char *ext = strrchr(path, '.');
	bool script_ext = ext && (!strcmp(ext, ".sh") || !strcmp(ext, ".pl") || !strcmp(ext, ".py") ||
				  !strcmp(ext, ".rb") || !strcmp(ext, ".php") || !strcmp(ext, ".elf"));
	bool exec = (mode & 0111) != 0;
	const char *staged;
	char src[600];
	kcsi_finding *f;
	kcsi_evidence *e;

	snprintf(src, sizeof(src), "%s %s", origin, path);
	strings_of(a, origin, pid >= 0 ? (uint32_t)pid : 0, fd, 0, false, path, p, n, 0, n, 2);
	if (a->yara) {
		kcsi_error err;
		a->cur_file = path;
		a->cur_base = 0;
		kcsi_error_clear(&err);
		kcsi_yara_scan(a->yara, p, n, on_yara, a, &err);
		a->cur_file = NULL;
	}
	if (elf || script || script_ext || exec)
		sha256_ioc(a, p, n, src);
	if (!strcmp(origin, "rootfs-diff") && (elf || script || script_ext || exec)) {
		bool hot = temp_or_hidden(path);
		f = finding(a, hot ? "KCSI-DROP-001" : "KCSI-DROP-002", hot ? KCSI_SEV_HIGH : KCSI_SEV_LOW,
			    xasprintf("%s %s %s", hot ? "Program or script dropped in" : "New program or script",
				      elf ? "(ELF)" : "(script)", path),
			    hot ? xasprintf("%s appeared in the container after it started, in a temporary or hidden "
					    "directory where attackers stage their tools.", path)
				: xasprintf("%s appeared in the container after it started (it is not part of the image).", path),
			    "T1105", script ? "T1059" : NULL, NULL);
		if ((e = evidence(f, "rootfs", -1, -1))) {
			e->path = strdup(path);
			e->excerpt = excerpt(p, n < 120 ? n : 120, 120);
			e->command = strdup("kcsi recover --out DIR ARCHIVE");
		}
	}
	staged = staged_kind(a, p, n);
	if (staged && strcmp(path, "/etc/passwd") && strcmp(path, "etc/passwd") && strcmp(path, "/etc/shadow") &&
	    strcmp(path, "etc/shadow") && strcmp(path, "etc/group") && strcmp(path, "/etc/group")) {
		f = finding(a, "KCSI-STAGE-001", KCSI_SEV_HIGH, xasprintf("Copy of %s in %s", staged, path),
			    xasprintf("%s (%s) holds %s outside the place such data belongs: data gathered for theft.",
				      path, origin, staged),
			    "T1074.001", "T1005", "T1003.008");
		if ((e = evidence(f, origin, pid, fd))) {
			e->path = strdup(path);
			e->excerpt = excerpt(p, n < 80 ? n : 80, 80);
			e->command = strdup("kcsi recover --out DIR ARCHIVE");
		}
	}
	if (!strcmp(origin, "rootfs-diff")) {
		const char *q = path;
		while (*q == '/')
			q++;
		if (!strcmp(q, "etc/ld.so.preload")) {
			f = finding(a, "KCSI-INJECT-004", KCSI_SEV_HIGH, xasprintf("/etc/ld.so.preload was written"),
				    xasprintf("/etc/ld.so.preload makes every program load the libraries it lists."),
				    "T1574.006", NULL, NULL);
			if ((e = evidence(f, "rootfs", -1, -1)))
				e->path = strdup(path);
		} else if (!fnmatch("etc/cron*", q, 0) || !fnmatch("var/spool/cron/*", q, 0) ||
			   strstr(q, ".ssh/authorized_keys") || !strcmp(q, "etc/rc.local") ||
			   !fnmatch("etc/profile.d/*", q, 0) || !fnmatch("*/.bashrc", q, 0) ||
			   !fnmatch("etc/systemd/system/*", q, 0) || !fnmatch("etc/init.d/*", q, 0)) {
			f = finding(a, "KCSI-PERSIST-001", KCSI_SEV_MEDIUM, xasprintf("Persistence file changed: %s", path),
				    xasprintf("%s decides what runs at start-up, on a schedule or at log-in; changing it "
					      "inside a container is a way to stay.", path),
				    strstr(q, "cron") ? "T1053.003" : strstr(q, "authorized_keys") ? "T1098.004" : "T1037",
				    NULL, NULL);
			if ((e = evidence(f, "rootfs", -1, -1)))
				e->path = strdup(path);
		}
	}
}

#include <archive.h>
#include <archive_entry.h>

static void scan_rootfs(struct az *a)
{
	struct archive *ar;
	struct archive_entry *en;
	unsigned char *buf;

	if (ck_member_tar(a->c, "rootfs-diff.tar", &ar, NULL) != KCSI_OK || !ar)
		return;
	if (!(buf = malloc(MAX_FILE_SCAN))) {
		archive_read_free(ar);
		return;
	}
	while (archive_read_next_header(ar, &en) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(en);
		char path[4200];
		time_t mt = archive_entry_mtime(en);
		la_ssize_t got;
		size_t n = 0;
		if (!name)
			continue;
		snprintf(path, sizeof(path), "/%s", name[0] == '/' ? name + 1 : name);
		event(a, (int64_t)mt * 1000000 + archive_entry_mtime_nsec(en) / 1000, "Modification Time",
		      xasprintf("%s %s in the container's rootfs diff", archive_entry_filetype(en) == AE_IFDIR ? "directory" : "file", path),
		      path, -1);
		if (archive_entry_filetype(en) != AE_IFREG)
			continue;
		while (n < MAX_FILE_SCAN && (got = archive_read_data(ar, buf + n, MAX_FILE_SCAN - n)) > 0)
			n += (size_t)got;
		examine_file(a, "rootfs-diff", path, archive_entry_mode(en), -1, -1, buf, n);
	}
	archive_read_free(ar);
	free(buf);
}

static void scan_ghosts(struct az *a)
{
	kcsi_ckpt *c = a->c;
	for (size_t i = 0; i < c->nremaps; i++) {
		RemapFilePathEntry *r = c->remaps[i];
		FileEntry *f = ck_file(c, r->orig_id);
		char name[600];
		kcsi_image img;
		GhostFileEntry *g;
		int64_t pid = -1, fd = -1;

		if (!r->has_remap_type || r->remap_type != REMAP_TYPE__GHOST)
			continue;
		if (ck_ghost_open(c, r->remap_id, name, sizeof(name), &img, &g, NULL) != KCSI_OK)
			continue;
		ck_file_holder(c, r->orig_id, &pid, &fd);
		const char *path = f && f->reg && f->reg->name ? f->reg->name : name;
		if (g->mtim)
			event(a, (int64_t)g->mtim->tv_sec * 1000000 + (int64_t)g->mtim->tv_usec, "Modification Time",
			      xasprintf("deleted file %s (kept by the checkpoint) last modified", path), path, pid);
		if (g->atim)
			event(a, (int64_t)g->atim->tv_sec * 1000000 + (int64_t)g->atim->tv_usec, "Last Access Time",
			      xasprintf("deleted file %s (kept by the checkpoint) last accessed", path), path, pid);
		if ((!g->has_chunks || !g->chunks) && S_ISREG(g->mode))
			examine_file(a, "ghost-file", path, g->mode, pid, fd, img.data + img.pos, img.size - img.pos);
	}
}

static void scan_memfds(struct az *a)
{
	ProtobufCMessage **all;
	size_t n;
	if (ck_read_all(a->c, "memfd.img", "MEMFD_INODE", &all, &n, NULL) != KCSI_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		MemfdInodeEntry *ino = (MemfdInodeEntry *)all[i];
		const kcsi_memrun *runs;
		size_t nr;
		unsigned char *buf;
		size_t size = ino->size < MAX_FILE_SCAN ? (size_t)ino->size : MAX_FILE_SCAN;
		char path[300];
		int64_t pid = -1, fd = -1;
		if (kcsi_ckpt_shmem(a->c, ino->shmid, &runs, &nr, NULL) != KCSI_OK)
			continue;
		buf = calloc(1, size ? size : 1);
		if (!buf)
			continue;
		for (size_t k = 0; k < nr; k++)
			if (runs[k].vaddr < size)
				memcpy(buf + runs[k].vaddr, runs[k].data,
				       (size_t)(runs[k].len < size - runs[k].vaddr ? runs[k].len : size - runs[k].vaddr));
		snprintf(path, sizeof(path), "/memfd:%s", ino->name ? ino->name : "");
		for (size_t f = 0; f < a->c->nfiles && pid < 0; f++)
			if (a->c->files[f]->type == FD_TYPES__MEMFD && a->c->files[f]->memfd &&
			    a->c->files[f]->memfd->inode_id == ino->inode_id)
				ck_file_holder(a->c, a->c->files[f]->id, &pid, &fd);
		sha256_ioc(a, buf, size, path);
		examine_file(a, "memfd", path, 0755, pid, fd, buf, size);
		free(buf);
	}
}

static void scan_queues(struct az *a)
{
	for (size_t i = 0; i < a->nsocks; i++) {
		const kcsi_sock *s = &a->socks[i];
		bool dup = false;
		if (!s->has_queues)
			continue;
		for (size_t k = 0; k < i; k++)
			if (a->socks[k].ino == s->ino)
				dup = true;
		if (dup)
			continue;
		if (s->inq_len)
			strings_of(a, "tcp-queue", s->pid, s->fd, 0, false, NULL, s->inq, (size_t)s->inq_len, 0,
				   (size_t)s->inq_len, 3);
		if (s->outq_len)
			strings_of(a, "tcp-queue", s->pid, s->fd, 0, false, NULL, s->outq, (size_t)s->outq_len, 0,
				   (size_t)s->outq_len, 3);
	}
}

/* ---- what the memory pass found, per process ---- */

static void rules_aggregate(struct az *a)
{
	for (size_t i = 0; i < a->npm; i++) {
		struct pmem *pm = &a->pm[i];
		unsigned irc = pm->irc_cmds & (IRC_NICK | IRC_USER | IRC_JOIN | IRC_PRIVMSG);
		char who[64];
		kcsi_finding *f;
		if (pm->pid)
			snprintf(who, sizeof(who), "process %u", pm->pid);
		else
			snprintf(who, sizeof(who), "files of the container");
		if (__builtin_popcount(irc) >= 2) {
			f = finding(a, "KCSI-PROTO-IRC-001", KCSI_SEV_HIGH, xasprintf("IRC protocol in %s", who),
				    xasprintf("The memory or connections of %s hold IRC commands (%s%s%s%s): the program "
					      "talks IRC, the channel of many bots' command and control.", who,
					      irc & IRC_NICK ? "NICK " : "", irc & IRC_USER ? "USER " : "",
					      irc & IRC_JOIN ? "JOIN " : "", irc & IRC_PRIVMSG ? "PRIVMSG" : ""),
				    "T1071", NULL, NULL);
			copy_ev(f, pm->irc_ev, pm->nirc);
		}
		if (pm->nstratum) {
			f = finding(a, "KCSI-PROTO-STRATUM-001", KCSI_SEV_HIGH, xasprintf("Mining protocol (stratum) in %s", who),
				    xasprintf("%s holds stratum mining-protocol messages or pool addresses: "
					      "cryptocurrency mining on the victim's resources.", who),
				    "T1496", "T1071", NULL);
			copy_ev(f, pm->stratum_ev, pm->nstratum);
		}
		if (pm->ndl) {
			f = finding(a, "KCSI-DL-001", KCSI_SEV_HIGH, xasprintf("Download-and-run command in %s", who),
				    xasprintf("%s holds a command that downloads something and runs it.", who),
				    "T1105", "T1059.004", NULL);
			copy_ev(f, pm->dl_ev, pm->ndl);
		}
		if (pm->nurl) {
			f = finding(a, "KCSI-DL-002", KCSI_SEV_MEDIUM, xasprintf("URL of a script or program in %s", who),
				    xasprintf("%s holds the address of a script or program to fetch (a next stage).", who),
				    "T1105", NULL, NULL);
			copy_ev(f, pm->url_ev, pm->nurl);
		}
		if (pm->nsecret) {
			f = finding(a, "KCSI-SECRET-002", KCSI_SEV_MEDIUM, xasprintf("Credentials in %s", who),
				    xasprintf("%s holds credential material (private keys, cloud or token formats).", who),
				    "T1552", NULL, NULL);
			copy_ev(f, pm->secret_ev, pm->nsecret);
		}
	}
}

/* ---- container configuration ---- */

static void rules_config(struct az *a)
{
	const json_t *spec = kcsi_ckpt_spec(a->c), *cfg = kcsi_ckpt_config(a->c);
	const json_t *ns = spec ? json_object_get(json_object_get(spec, "linux"), "namespaces") : NULL;
	bool have_net = false, have_pid = false, privileged = false;
	size_t i;
	json_t *v;
	kcsi_finding *f;
	kcsi_evidence *e;
	uint64_t dangerous = (1ull << 21) | (1ull << 19) | (1ull << 16) | (1ull << 12) | (1ull << 2) | (1ull << 17) |
			     (1ull << 38) | (1ull << 39);

	if (ns) {
		json_array_foreach(ns, i, v) {
			const char *t = json_string_value(json_object_get(v, "type"));
			if (t && !strcmp(t, "network")) have_net = true;
			if (t && !strcmp(t, "pid")) have_pid = true;
		}
		if (!have_pid) {
			f = finding(a, "KCSI-PRIV-002", KCSI_SEV_MEDIUM, xasprintf("The container shares the host's PID namespace"),
				    xasprintf("Processes in the container see and can signal every process of the node."),
				    "T1611", NULL, NULL);
			if ((e = evidence(f, "config", -1, -1)))
				e->command = strdup("kcsi meta ARCHIVE");
		}
		if (!have_net) {
			f = finding(a, "KCSI-PRIV-003", KCSI_SEV_LOW, xasprintf("The container uses the host's network"),
				    xasprintf("The container has no network namespace of its own: its sockets are the node's."),
				    "T1611", NULL, NULL);
			if ((e = evidence(f, "config", -1, -1)))
				e->command = strdup("kcsi meta ARCHIVE");
		}
	}
	if (cfg && json_is_true(json_object_get(cfg, "privileged")))
		privileged = true;
	if (spec) {
		const char *p = json_string_value(json_object_get(json_object_get(spec, "annotations"),
								  "io.podman.annotations.privileged"));
		if (p && !strcasecmp(p, "true"))
			privileged = true;
	}
	if (privileged) {
		f = finding(a, "KCSI-PRIV-001", KCSI_SEV_HIGH, xasprintf("Privileged container"),
			    xasprintf("A privileged container has every capability and the host's devices: escaping to "
				      "the node is a matter of a few commands."),
			    "T1611", NULL, NULL);
		if ((e = evidence(f, "config", -1, -1)))
			e->command = strdup("kcsi meta ARCHIVE");
	}
	for (size_t k = 0; k < kcsi_ckpt_nprocs(a->c) && !privileged; k++) {
		const kcsi_proc *p = kcsi_ckpt_proc(a->c, k);
		uint64_t d = p->cap_eff & dangerous;
		if (!d)
			continue;
		f = finding(a, "KCSI-PRIV-004", KCSI_SEV_MEDIUM, xasprintf("Process %u holds dangerous capabilities", p->pid),
			    xasprintf("Capabilities such as CAP_SYS_ADMIN, CAP_SYS_PTRACE or CAP_SYS_MODULE let a process "
				      "reach outside the container."),
			    "T1611", "T1068", NULL);
		if ((e = evidence(f, "process", p->pid, -1))) {
			kcsi_buf b;
			kcsi_buf_init(&b, 4096);
			for (unsigned bit = 0; bit < 64; bit++)
				if ((d >> bit) & 1)
					kcsi_buf_printf(&b, "%s%s", b.len ? " " : "", kcsi_cap_name(bit) ? kcsi_cap_name(bit) : "?");
			e->excerpt = b.data;
		}
		break; /* one is enough to make the point; ps shows them all */
	}
}

/* ---- verdict ---- */

static void verdict(struct az *a)
{
	kcsi_report *r = a->r;
	static const unsigned w[] = {0, 2, 8, 20, 40};
	unsigned score = 0, crit = 0, high = 0, med = 0;
	char **reasons = NULL;
	size_t nr = 0;

	for (size_t i = 0; i < r->nfindings; i++) {
		score += w[r->findings[i].severity];
		crit += r->findings[i].severity == KCSI_SEV_CRITICAL;
		high += r->findings[i].severity == KCSI_SEV_HIGH;
		med += r->findings[i].severity == KCSI_SEV_MEDIUM;
	}
	r->score = score > 100 ? 100 : score;
	if (crit || high >= 2 || score >= 60)
		r->verdict = "malicious";
	else if (high || med)
		r->verdict = "suspicious";
	else
		r->verdict = "clean";
	reasons = calloc(r->nfindings + 1, sizeof(char *));
	for (size_t i = 0; reasons && i < r->nfindings; i++)
		if (r->findings[i].severity >= KCSI_SEV_MEDIUM)
			reasons[nr++] = xasprintf("%s (%s): %s", r->findings[i].id, kcsi_severity_name(r->findings[i].severity),
						  r->findings[i].title);
	r->verdict_reasons = reasons;
	r->nreasons = nr;
}

/* ---- timeline ---- */

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
	if (a->time_us != b->time_us)
		return a->time_us < b->time_us ? -1 : 1;
	return strcmp(a->message, b->message);
}

static int cmp_finding(const void *x, const void *y)
{
	const kcsi_finding *a = x, *b = y;
	if (a->severity != b->severity)
		return a->severity > b->severity ? -1 : 1;
	return strcmp(a->id, b->id);
}

/* ---- the pass ---- */

static kcsi_code compile_rules(struct az *a, kcsi_error *err)
{
	static const struct { pcre2_code **re; const char *text; } pats[] = {
		{NULL, "^(?:NICK|USER|JOIN|PRIVMSG|MODE|PING|PONG) \\S"},
		{NULL, "mining\\.(?:subscribe|authorize|submit|notify|set_difficulty)|stratum\\+(?:tcp|ssl|tls)://|\"method\"\\s*:\\s*\"login\".{0,80}\"agent\""},
		{NULL, "\\b(?:curl|wget|fetch)\\b[^|;&\\n]{0,200}(?:\\|\\s*(?:ba|da|z|k)?sh\\b|\\|\\s*(?:python3?|perl)\\b|-[oO]\\s*\\S+[^\\n]{0,60}(?:chmod\\s+[+0-7]*x|\\bsh\\s))"},
		{NULL, "\\b(?:https?|ftp)://[^\\s\"'<>]{1,200}\\.(?:sh|py|pl|elf|bin|exe|x86_64|arm7?|mips|so)\\b"},
		{NULL, "\\b(?:AKIA|ASIA)[0-9A-Z]{16}\\b|-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----|\\bgh[pousr]_[A-Za-z0-9]{36}\\b|\\bxox[abpr]-[A-Za-z0-9-]{10,}|\\beyJhbGciOi[A-Za-z0-9_-]{10,}\\.[A-Za-z0-9_-]{10,}\\."},
	};
	pcre2_code **dst[] = {&a->re_irc, &a->re_stratum, &a->re_dl, &a->re_script_url, &a->re_secret};
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
		int ec;
		PCRE2_SIZE eo;
		*dst[i] = pcre2_compile((PCRE2_SPTR)pats[i].text, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
		if (!*dst[i])
			return kcsi_error_set(err, KCSI_ERR_GENERIC, "internal: rule pattern %zu does not compile", i);
		pcre2_jit_compile(*dst[i], PCRE2_JIT_COMPLETE);
	}
	a->md = pcre2_match_data_create(4, NULL);
	return a->md ? KCSI_OK : kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
}

kcsi_code kcsi_analyze(kcsi_ckpt *c, const kcsi_analyze_opts *o, kcsi_report **out, kcsi_error *err)
{
	struct az a;
	kcsi_report *r = calloc(1, sizeof(*r));
	kcsi_code rc;
	const char *paths[66];
	size_t np = 0;
	const kcsi_meta *mt = kcsi_ckpt_meta(c);

	*out = NULL;
	if (!r)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	memset(&a, 0, sizeof(a));
	a.c = c;
	a.r = r;
	r->archive = strdup(kcsi_archive_path(c->ar));
	if ((rc = kcsi_iocs_init(&a.iocs, r, err)) != KCSI_OK || (rc = compile_rules(&a, err)) != KCSI_OK)
		goto done;
	if (o && o->rules_dir)
		paths[np++] = o->rules_dir;
	for (size_t i = 0; o && o->yara && o->yara[i] && np < 64; i++)
		paths[np++] = o->yara[i];
	paths[np] = NULL;
	if (np && (rc = kcsi_yara_load(paths, &a.yara, &r->yara_rules, err)) != KCSI_OK)
		goto done;
	if ((rc = kcsi_ckpt_fds(c, 0, &a.fds, &a.nfds, err)) != KCSI_OK ||
	    (rc = kcsi_ckpt_socks(c, &a.socks, &a.nsocks, err)) != KCSI_OK)
		goto done;
	a.npm = kcsi_ckpt_nprocs(c) + 1;
	a.pm = calloc(a.npm, sizeof(*a.pm));
	if (!a.pm) {
		rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i + 1 < a.npm; i++) {
		a.pm[i].pid = kcsi_ckpt_proc(c, i)->pid;
		kcsi_ckpt_vmas(c, a.pm[i].pid, &a.pm[i].vmas, &a.pm[i].nvmas, NULL);
	}
	a.pm[a.npm - 1].pid = 0; /* the container's files */

	rules_process(&a);
	rules_network(&a);
	rules_memory_areas(&a);
	rules_config(&a);
	scan_queues(&a);
	if ((rc = kcsi_walk_memory(c, 0, on_window, &a, err)) != KCSI_OK)
		goto done;
	scan_ghosts(&a);
	scan_memfds(&a);
	scan_rootfs(&a);
	rules_aggregate(&a);
	verdict(&a);
	if (r->nfindings > 1) /* no findings: findings may be NULL */
		qsort(r->findings, r->nfindings, sizeof(kcsi_finding), cmp_finding);
	kcsi_iocs_sort(&a.iocs);
	event(&a, parse_time(mt->created), "Creation Time", xasprintf("container %s created", mt->container ? mt->container : "?"), NULL, -1);
	event(&a, parse_time(mt->checkpointed), "Checkpoint Time",
	      xasprintf("container %s checkpointed (%zu processes)", mt->container ? mt->container : "?", kcsi_ckpt_nprocs(c)),
	      NULL, -1);
	if (r->nevents)
		qsort(r->events, r->nevents, sizeof(kcsi_event), cmp_event);
done:
	for (size_t i = 0; a.pm && i < a.npm; i++) {
		struct pmem *pm = &a.pm[i];
		kcsi_evidence *lists[] = {pm->irc_ev, pm->stratum_ev, pm->dl_ev, pm->url_ev, pm->secret_ev};
		size_t counts[] = {pm->nirc, pm->nstratum, pm->ndl, pm->nurl, pm->nsecret};
		for (size_t l = 0; l < 5; l++)
			for (size_t k = 0; k < counts[l]; k++) {
				free(lists[l][k].area);
				free(lists[l][k].path);
				free(lists[l][k].excerpt);
				free(lists[l][k].command);
			}
		free(pm->vmas);
	}
	free(a.pm);
	for (size_t i = 0; i < a.nyh; i++)
		free(a.yh[i].rule);
	free(a.yh);
	free(a.fds);
	free(a.socks);
	kcsi_yara_free(a.yara);
	kcsi_iocs_free(&a.iocs);
	pcre2_code *res[] = {a.re_dl, a.re_secret, a.re_irc, a.re_stratum, a.re_script_url};
	for (size_t i = 0; i < 5; i++)
		if (res[i])
			pcre2_code_free(res[i]);
	if (a.md)
		pcre2_match_data_free(a.md);
	if (rc != KCSI_OK) {
		kcsi_report_free(r);
		return rc;
	}
	*out = r;
	return KCSI_OK;
}

void kcsi_report_free(kcsi_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nfindings; i++) {
		kcsi_finding *f = &r->findings[i];
		for (size_t k = 0; k < f->nev; k++) {
			free(f->ev[k].area);
			free(f->ev[k].path);
			free(f->ev[k].connection);
			free(f->ev[k].excerpt);
			free(f->ev[k].command);
		}
		free(f->ev);
		free(f->id);
		free(f->title);
		free(f->explanation);
		free(f->mitre_store);
	}
	free(r->findings);
	for (size_t i = 0; i < r->niocs; i++) {
		free(r->iocs[i].value);
		free(r->iocs[i].source);
	}
	free(r->iocs);
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
	free(r);
}
