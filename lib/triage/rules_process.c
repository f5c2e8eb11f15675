/* kcsi — triage rules on processes: the process family.  It gathers the
 * facts about programs once (programs.c) and runs, per process:
 *   masquerade (rules_masq.c): names and places that disguise a program;
 *   KCSI-FILELESS-*: programs run from memory or from deleted files;
 *   KCSI-INJECT-002: libraries preloaded by LD_PRELOAD / LD_AUDIT or by
 *     /etc/ld.so.preload, one finding per library with the processes that
 *     map it and the C library functions it replaces;
 *   KCSI-HIDE-001: a preloaded library that replaces the directory-listing
 *     functions (readdir ...): a user-land rootkit hiding files and
 *     processes; KCSI-INJECT-005: one that replaces the functions data is
 *     sent or read by (write, send, SSL_write, pam_authenticate): a sniffer;
 *   KCSI-EXEC-001: shells driven from the network through another process:
 *     run by a relay tool, interactive under an interpreter whose standard
 *     streams are a connection, or started with -i by a network service
 *     (programs.c, az_shell_driver);
 *   KCSI-SECRET-001: secret-looking variables in the environment.
 * Rules look at behaviour, never at particular names of a scene. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evidence/elf.h"
#include "triage/netdata.h"
#include "triage/programs.h"

bool az_is_shell_or_interp(const char *exe)
{
	static const char *const names[] = {
		"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox", "fish", "tcsh", "csh",
		"perl", "python", "python2", "python3", "ruby", "php", "node", "nodejs", "lua", "tclsh",
		"nc", "ncat", "netcat", "socat", "telnet", "awk", "gawk", "mawk",
	};
	char b[64];
	snprintf(b, sizeof(b), "%s", az_base(exe));
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

bool az_is_plain_shell(const char *exe)
{
	static const char *const names[] = {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox",
					    "fish", "tcsh", "csh", "nc", "ncat", "netcat", "socat", "telnet"};
	const char *b = az_base(exe);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(b, names[i]))
			return true;
	return false;
}

/* KCSI-FILELESS-*: the program is not on the disk */
static void fileless(az *a, const kcsi_proc *p)
{
	kcsi_finding *f;
	kcsi_evidence *e;
	if (!p->exe_memfd && !p->exe_deleted)
		return;
	f = az_finding(a, p->exe_memfd ? "KCSI-FILELESS-001" : "KCSI-FILELESS-002",
		       p->exe_memfd ? KCSI_SEV_CRITICAL : KCSI_SEV_HIGH,
		       p->exe_memfd ? az_printf("Process %u runs a program from memory (%s)", p->pid, p->exe)
				    : az_printf("Process %u runs a deleted program (%s)", p->pid, p->exe),
		       p->exe_memfd
			       ? az_printf("The executable of process %u is a memfd, an anonymous file that exists only in "
					   "memory: the program never touched the disk. `kcsi recover` writes it out.", p->pid)
			       : az_printf("The executable of process %u was deleted after it started, which removes the "
					   "program from the filesystem while it keeps running.", p->pid),
		       p->exe_deleted ? "T1620 T1027 T1070.004" : "T1620 T1027");
	if ((e = az_evidence(f, "process", p->pid, -1))) {
		e->path = az_strdup(p->exe);
		e->command = strdup("kcsi recover --out DIR ARCHIVE");
	}
}

/* One finding per secret variable name: children inherit the environment. */
static bool seen_secret(az *a, const char *name)
{
	const kcsi_findings *fs = &a->r->findings;
	for (size_t i = 0; i < fs->n; i++)
		if (!strcmp(fs->v[i]->id, "KCSI-SECRET-001") && strstr(fs->v[i]->title, name))
			return true;
	return false;
}

static bool secret_name(const char *name)
{
	static const char *const words[] = {"PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "APIKEY",
					    "ACCESS_KEY", "PRIVATE_KEY", "CREDENTIAL"};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(name, words[i]))
			return true;
	return false;
}

/* KCSI-SECRET-001 */
static void environment(az *a, const kcsi_proc *p)
{
	for (size_t k = 0; k < p->envc; k++) {
		const char *v = p->env[k], *eq = strchr(v, '=');
		char name[128];
		size_t nl;
		kcsi_finding *f;
		kcsi_evidence *e;
		if (!eq)
			continue;
		nl = (size_t)(eq - v) < sizeof(name) - 1 ? (size_t)(eq - v) : sizeof(name) - 1;
		memcpy(name, v, nl);
		name[nl] = '\0';
		for (char *q = name; *q; q++)
			*q = (char)toupper((unsigned char)*q);
		if (eq[1] && !seen_secret(a, name) && secret_name(name)) {
			f = az_finding(a, "KCSI-SECRET-001", KCSI_SEV_LOW,
				       az_printf("Secret in the environment (%s), first in process %u", name, p->pid),
				       az_printf("The environment of process %u holds %.*s. Whoever got into the container can "
						 "read it, and the checkpoint holds it too: rotate it.", p->pid, (int)nl, v),
				       "T1552.001");
			if ((e = az_evidence(f, "env", p->pid, -1)))
				kcsi_evidence_excerptf(e, "%.*s=%.3s... (%zu characters)", (int)nl, v, eq + 1, strlen(eq + 1));
		}
	}
}

/* ---- KCSI-INJECT-002: preloaded libraries ---- */

#define MAX_PRELOADS 64

typedef struct preload {
	char lib[1024];
	bool by_file;                   /* listed in /etc/ld.so.preload */
	uint32_t env_pids[AZ_MAX_EVIDENCE];
	size_t nenv;                    /* processes whose environment names it (all, not just those kept) */
	const char *var;                /* LD_PRELOAD or LD_AUDIT */
} preload;

static preload *preload_of(preload *v, size_t *n, const char *lib)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(v[i].lib, lib))
			return &v[i];
	if (*n == MAX_PRELOADS || !*lib || strlen(lib) >= sizeof(v->lib))
		return NULL;
	memset(&v[*n], 0, sizeof(*v));
	snprintf(v[*n].lib, sizeof(v->lib), "%s", lib);
	return &v[(*n)++];
}

/* The libraries a list names (LD_PRELOAD: separated by ':' or blanks;
 * /etc/ld.so.preload: by blanks and lines, '#' comments). */
static void preload_list(preload *v, size_t *n, const char *list, const char *var, uint32_t pid)
{
	const char *s = list;
	while (*s) {
		size_t l;
		char lib[1024];
		preload *pl;
		if (*s == '#') {
			s += strcspn(s, "\n");
			continue;
		}
		s += strspn(s, ": \t\r\n");
		l = strcspn(s, ": \t\r\n");
		if (!l)
			continue;
		snprintf(lib, sizeof(lib), "%.*s", (int)(l < sizeof(lib) ? l : sizeof(lib) - 1), s);
		s += l;
		if (!(pl = preload_of(v, n, lib)))
			continue;
		if (!var) {
			pl->by_file = true;
		} else {
			pl->var = pl->var ? pl->var : var;
			if (pl->nenv < AZ_MAX_EVIDENCE)
				pl->env_pids[pl->nenv] = pid;
			pl->nenv++;
		}
	}
}

/* A file mapping of a process that is the library (its path, or its
 * basename when the list names it without a directory). */
static const kcsi_vma *maps_lib(const az_proc *pm, const char *lib)
{
	bool bare = !strchr(lib, '/');
	for (size_t k = 0; k < pm->nvmas; k++) {
		const kcsi_vma *v = &pm->vmas[k];
		if (v->path && (!strcmp(v->path, lib) || (bare && !strcmp(az_base(v->path), lib))))
			return v;
	}
	return NULL;
}

/* How strong a preload is: the library's place decides. */
static enum kcsi_severity preload_severity(const preload *pl, const az_programs *pg, const char **why)
{
	static const char *const libdirs[] = {"/lib/", "/lib64/", "/lib32/", "/usr/lib/", "/usr/lib64/", "/usr/lib32/",
					      "/usr/libexec/", "/usr/local/lib/"};
	const char *l = pl->lib;
	bool sys = false;
	const az_elf_id *id = az_prog_id_of(pg, l);
	if (az_prog_added(pg, l) || (id && !strcmp(id->origin, "devshm"))) {
		*why = "the container wrote it after it started";
		return KCSI_SEV_HIGH;
	}
	if (az_prog_deleted(pg, l) || (id && !strcmp(id->origin, "ghost-file"))) {
		*why = "it was deleted after it was loaded";
		return KCSI_SEV_HIGH;
	}
	if (!strncmp(l, "/tmp/", 5) || !strncmp(l, "/var/tmp/", 9) || !strncmp(l, "/dev/shm/", 9) || strstr(l, "/.")) {
		*why = "it lies in a temporary or hidden directory";
		return KCSI_SEV_HIGH;
	}
	for (size_t i = 0; i < sizeof(libdirs) / sizeof(libdirs[0]); i++)
		sys |= !strncmp(l, libdirs[i], strlen(libdirs[i]));
	if (sys || !strchr(l, '/')) {
		*why = "it is a library of the image (allocators, nss_wrapper, stdbuf and tracing agents are preloaded so)";
		return KCSI_SEV_LOW;
	}
	*why = "it lies outside the system's library directories";
	return KCSI_SEV_MEDIUM;
}

/* C library functions a preloaded library can replace, by what doing so
 * gives it. */
enum hook_kind { HOOK_LISTING, HOOK_FILES, HOOK_CAPTURE, HOOK_EXEC, HOOK_N };
static const struct {
	const char *name;
	enum hook_kind kind;
} hookable[] = {
	{"readdir", HOOK_LISTING}, {"readdir64", HOOK_LISTING}, {"readdir_r", HOOK_LISTING},
	{"readdir64_r", HOOK_LISTING}, {"getdents", HOOK_LISTING}, {"getdents64", HOOK_LISTING},
	{"scandir", HOOK_LISTING}, {"scandir64", HOOK_LISTING},
	{"fopen", HOOK_FILES}, {"fopen64", HOOK_FILES}, {"open", HOOK_FILES}, {"open64", HOOK_FILES},
	{"openat", HOOK_FILES}, {"stat", HOOK_FILES}, {"lstat", HOOK_FILES}, {"access", HOOK_FILES},
	{"unlink", HOOK_FILES},
	{"write", HOOK_CAPTURE}, {"send", HOOK_CAPTURE}, {"sendto", HOOK_CAPTURE}, {"sendmsg", HOOK_CAPTURE},
	{"read", HOOK_CAPTURE}, {"recv", HOOK_CAPTURE}, {"recvfrom", HOOK_CAPTURE}, {"SSL_write", HOOK_CAPTURE},
	{"SSL_read", HOOK_CAPTURE}, {"pam_authenticate", HOOK_CAPTURE}, {"pam_get_item", HOOK_CAPTURE},
	{"getpass", HOOK_CAPTURE},
	{"execve", HOOK_EXEC}, {"system", HOOK_EXEC}, {"connect", HOOK_EXEC}, {"accept", HOOK_EXEC},
	{"bind", HOOK_EXEC},
};
#define NHOOKABLE (sizeof(hookable) / sizeof(hookable[0]))
#define PRELOAD_READ_MAX (32u << 20)

/* The C library functions a preloaded library defines (read from the
 * rootfs diff, /dev/shm or a ghost file; an image's library is not in the
 * checkpoint): all of them as "readdir, write" into all, and those of each
 * kind into by_kind[kind]; how many. */
static size_t hooks_of(az *a, const char *lib, char *all, char by_kind[HOOK_N][256], size_t cap)
{
	const char *names[NHOOKABLE];
	bool found[NHOOKABLE];
	az_file_want w = {lib, NULL, 0, false};
	size_t n = 0, len = 0, klen[HOOK_N] = {0};
	all[0] = '\0';
	for (int k = 0; k < HOOK_N; k++)
		by_kind[k][0] = '\0';
	if (lib[0] != '/')
		return 0;
	az_read_files(a, &w, 1, PRELOAD_READ_MAX);
	if (!w.data)
		return 0;
	for (size_t i = 0; i < NHOOKABLE; i++)
		names[i] = hookable[i].name;
	if (kcsi_elf_defines(w.data, w.len, names, NHOOKABLE, found))
		for (size_t i = 0; i < NHOOKABLE; i++) {
			enum hook_kind k = hookable[i].kind;
			if (!found[i])
				continue;
			n++;
			az_list_add(all, cap, &len, names[i]);
			az_list_add(by_kind[k], sizeof(by_kind[k]), &klen[k], names[i]);
		}
	free(w.data);
	return n;
}

/* A finding about what a preloaded library's replaced functions give it,
 * with the library and the processes of the preload finding as evidence. */
static void hook_finding(az *a, const preload *pl, const char *hooks, const kcsi_finding *preloaded, const char *id,
			 enum kcsi_severity sev, char *title, const char *gives, const char *mitre)
{
	kcsi_finding *f = az_finding(
		a, id, sev, title,
		az_printf("%s, which the dynamic linker loads before the C library (%s), defines %s. %s", pl->lib,
			  pl->by_file ? "/etc/ld.so.preload" : pl->var ? pl->var : "LD_PRELOAD", hooks, gives),
		mitre);
	kcsi_evidence *e = az_evidence(f, "file", -1, -1);
	if (e) {
		e->path = strdup(pl->lib);
		kcsi_evidence_excerptf(e, "defines %s", hooks);
		e->command = strdup("kcsi recover --out DIR ARCHIVE");
	}
	for (size_t k = 0; preloaded && k < preloaded->nev; k++)
		if (preloaded->ev[k].pid >= 0 && (e = az_evidence(f, "", -1, -1)))
			kcsi_evidence_copy(e, &preloaded->ev[k]);
}

/* KCSI-HIDE-001: readdir and its kin replaced, so that every process that
 * loads the library lists directories (and /proc: ps, top) without what
 * the attacker hides.  KCSI-INJECT-005: the functions data leaves or
 * passwords arrive by replaced (write, send, SSL_write, pam_authenticate):
 * the library sees them all — a sniffer of credentials. */
static void hook_findings(az *a, const preload *pl, kcsi_finding *preloaded)
{
	char all[512], by_kind[HOOK_N][256];
	kcsi_evidence *e;
	if (!hooks_of(a, pl->lib, all, by_kind, sizeof(all)))
		return;
	if ((e = az_evidence(preloaded, "file", -1, -1))) {
		e->path = strdup(pl->lib);
		kcsi_evidence_excerptf(e, "replaces %s", all);
		e->command = strdup("kcsi recover --out DIR ARCHIVE");
	}
	if (by_kind[HOOK_LISTING][0])
		hook_finding(a, pl, by_kind[HOOK_LISTING], preloaded, "KCSI-HIDE-001", KCSI_SEV_CRITICAL,
			     az_printf("Preloaded library %s replaces directory listings: a user-land rootkit", pl->lib),
			     "A library that replaces readdir and its kin decides what ls, find, ps and top see in every "
			     "process that loads it: files and processes vanish from listings while they stay on disk and "
			     "run.",
			     "T1014 T1564 T1574.006");
	if (by_kind[HOOK_CAPTURE][0])
		hook_finding(a, pl, by_kind[HOOK_CAPTURE], preloaded, "KCSI-INJECT-005",
			     preloaded->severity >= KCSI_SEV_HIGH ? KCSI_SEV_HIGH : KCSI_SEV_MEDIUM,
			     az_printf("Preloaded library %s replaces the functions data is sent or read by (%s)", pl->lib,
				       by_kind[HOOK_CAPTURE]),
			     "Every byte the processes that load it write, send or read (passwords typed, Authorization "
			     "headers, TLS plain text before encryption) passes through it first: the way credential "
			     "sniffers hook a program.",
			     "T1056.004 T1574.006");
}

static void preload_finding(az *a, const preload *pl, const az_programs *pg)
{
	const char *why = "";
	enum kcsi_severity sev = preload_severity(pl, pg, &why);
	char who[256] = "";
	size_t nmap = 0, len = 0;
	kcsi_finding *f;
	kcsi_evidence *e;
	for (size_t i = 0; i + 1 < a->npm; i++)
		if (maps_lib(&a->pm[i], pl->lib)) {
			if (nmap < 8 && len + 16 < sizeof(who))
				len += (size_t)snprintf(who + len, sizeof(who) - len, "%s%u", nmap ? ", " : "", a->pm[i].pid);
			nmap++;
		}
	f = az_finding(a, "KCSI-INJECT-002", sev,
		       nmap ? az_printf("Library %s is preloaded (%s) into process%s %s%s", pl->lib,
					pl->by_file ? "/etc/ld.so.preload" : pl->var, nmap > 1 ? "es" : "", who,
					nmap > 8 ? " ..." : "")
			    : az_printf("Library %s is preloaded (%s)", pl->lib, pl->by_file ? "/etc/ld.so.preload" : pl->var),
		       az_printf("%s%s%s makes the dynamic linker load %s into %s before the program's own libraries: a way "
				 "to hijack its functions. %zu process%s map%s it; %s.",
				 pl->by_file ? "/etc/ld.so.preload" : "",
				 pl->by_file && pl->nenv ? " and " : "",
				 pl->nenv ? (pl->var ? pl->var : "LD_PRELOAD") : "", pl->lib,
				 pl->by_file ? "every program started after it was written" : "the processes that inherit it",
				 nmap, nmap == 1 ? "" : "es", nmap == 1 ? "s" : "", why),
		       "T1574.006");
	if (pl->by_file && (e = az_evidence(f, "rootfs", -1, -1))) {
		e->path = strdup("/etc/ld.so.preload");
		kcsi_evidence_excerpt(e, pg->preload, strlen(pg->preload), 120);
		e->command = strdup("kcsi recover --out DIR ARCHIVE");
	}
	for (size_t k = 0; k < pl->nenv && k < AZ_MAX_EVIDENCE; k++)
		if ((e = az_evidence(f, "env", pl->env_pids[k], -1)))
			kcsi_evidence_excerptf(e, "%s=%s", pl->var ? pl->var : "LD_PRELOAD", pl->lib);
	for (size_t i = 0, kept = 0; i + 1 < a->npm && kept < AZ_MAX_EVIDENCE; i++) {
		const kcsi_vma *v = maps_lib(&a->pm[i], pl->lib);
		if (!v || !(e = az_evidence(f, "memory", a->pm[i].pid, -1)))
			continue;
		e->address = v->start;
		e->has_address = true;
		e->path = az_strdup(v->path);
		e->command = az_printf("kcsi maps --pid %u ARCHIVE", a->pm[i].pid);
		kept++;
	}
	if (f)
		hook_findings(a, pl, f);
}

static void preloads(az *a, const az_programs *pg)
{
	preload *v = calloc(MAX_PRELOADS, sizeof(*v));
	size_t n = 0;
	if (!v)
		return;
	if (pg->preload)
		preload_list(v, &n, pg->preload, NULL, 0);
	for (size_t i = 0; i < kcsi_ckpt_nprocs(a->c); i++) {
		const kcsi_proc *p = kcsi_ckpt_proc(a->c, i);
		for (size_t k = 0; k < p->envc; k++) {
			if (!strncmp(p->env[k], "LD_PRELOAD=", 11))
				preload_list(v, &n, p->env[k] + 11, "LD_PRELOAD", p->pid);
			else if (!strncmp(p->env[k], "LD_AUDIT=", 9))
				preload_list(v, &n, p->env[k] + 9, "LD_AUDIT", p->pid);
		}
	}
	for (size_t i = 0; i < n; i++)
		preload_finding(a, &v[i], pg);
	free(v);
}

/* ---- KCSI-EXEC-001: shells driven over the network ---- */

static void cmdline_excerpt(kcsi_evidence *e, const kcsi_proc *p)
{
	char buf[240];
	size_t len = 0;
	buf[0] = '\0';
	for (size_t k = 0; p->memory_read && k < p->argc && len + 2 < sizeof(buf); k++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", k ? " " : "", p->argv[k]);
	if (!p->memory_read || !p->argc)
		snprintf(buf, sizeof(buf), "%s", p->comm ? p->comm : "");
	kcsi_evidence_excerpt(e, buf, strlen(buf), SIZE_MAX);
}

/* One finding per driver: the shells it runs and its connection.  Shells
 * whose own standard streams are the socket are the remote-shell rule's
 * (rules_net.c). */
static void driven_shells(az *a)
{
	static const char *const how_text[] = {
		[AZ_DRIVE_RELAY] = "is a network relay tool holding a socket",
		[AZ_DRIVE_INTERP] = "is an interpreter whose own standard streams are a network connection",
		[AZ_DRIVE_SERVICE] = "is a network service (it listens on a port)",
	};
	size_t n = kcsi_ckpt_nprocs(a->c);
	kcsi_strmap done = {0};
	for (size_t i = 0; i < n; i++) {
		const kcsi_proc *s = kcsi_ckpt_proc(a->c, i), *d;
		const kcsi_sock *conn;
		char sname[256], dname[256];
		enum az_drive how = az_shell_driver(a, s, &d, &conn);
		kcsi_finding *f;
		kcsi_evidence *e;
		if (how == AZ_DRIVE_NONE || how == AZ_DRIVE_SOCKET ||
		    kcsi_strmap_get(&done, (const char *)&d->pid, sizeof(d->pid), 0))
			continue;
		kcsi_strmap_put(&done, (const char *)&d->pid, sizeof(d->pid), 1);
		az_prog_name(s, sname, sizeof(sname));
		az_prog_name(d, dname, sizeof(dname));
		f = az_finding(a, "KCSI-EXEC-001",
			       how == AZ_DRIVE_RELAY && !strcmp(conn->state, "ESTABLISHED") ? KCSI_SEV_CRITICAL : KCSI_SEV_HIGH,
			       how == AZ_DRIVE_RELAY ? az_printf("Shell run by the network relay %s (pid %u)", dname, d->pid)
			       : how == AZ_DRIVE_INTERP
				       ? az_printf("Interactive shell run by %s (pid %u) over its connection to %s:%u", dname,
						   d->pid, conn->dst, conn->dport)
				       : az_printf("Interactive shell started by the network service %s (pid %u)", dname, d->pid),
			       az_printf("%s (pid %u) %s and runs %s (pid %u)%s: whoever is at the other end of the "
					 "connection types into that shell. Workloads do not run shells that way.",
					 dname, d->pid, how_text[how], sname, s->pid,
					 how == AZ_DRIVE_RELAY ? "" : ", interactive"),
			       "T1059 T1059.004");
		for (size_t k = i; k < n; k++) { /* every shell this driver runs */
			const kcsi_proc *t = kcsi_ckpt_proc(a->c, k), *td;
			const kcsi_sock *tc;
			if (az_shell_driver(a, t, &td, &tc) == how && td == d && (e = az_evidence(f, "process", t->pid, -1))) {
				e->path = az_strdup(t->exe);
				cmdline_excerpt(e, t);
				e->command = az_printf("kcsi files --pid %u ARCHIVE", t->pid);
			}
		}
		if ((e = az_evidence(f, "process", d->pid, conn->fd))) {
			e->path = az_strdup(d->exe);
			e->connection = az_prog_conn_text(conn);
			cmdline_excerpt(e, d);
			e->command = strdup("kcsi net ARCHIVE");
		}
	}
	kcsi_strmap_free(&done);
}

void az_family_process(az *a)
{
	az_programs pg;
	az_programs_gather(a, &pg);
	az_masquerade(a, &pg);
	for (size_t i = 0; i < kcsi_ckpt_nprocs(a->c); i++) {
		const kcsi_proc *p = kcsi_ckpt_proc(a->c, i);
		fileless(a, p);
		environment(a, p);
	}
	preloads(a, &pg);
	driven_shells(a);
	az_programs_free(&pg);
}
