/* kcsi — triage rules on processes: names that disguise (kernel-thread
 * names, rewritten command lines, argv[0] that is not the program), programs
 * run from memory or deleted, and the environment (preloaded libraries,
 * secrets).  Rules look at behaviour, never at particular names of a scene. */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "triage/analyze_int.h"

static bool kernel_thread_like(const char *s)
{
	static const char *const pats[] = {
		"kworker*", "kthreadd", "ksoftirqd*", "kswapd*", "migration/*", "rcu_*", "watchdog/*",
		"kblockd*", "khugepaged", "kdevtmpfs*", "jbd2/*", "irq/*", "kcompactd*", "kauditd",
		"ksmd", "kintegrityd", "writeback", "cpuhp/*", "oom_reaper", "kthrotld", "scsi_eh_*",
	};
	char t[64];
	if (!s || !*s)
		return false;
	if (s[0] == '[') { /* the way ps shows kernel threads */
		const char *e = strchr(s, ']');
		/* any bracketed name is a kernel-thread disguise for a user process */
		return e && e != s + 1;
	}
	snprintf(t, sizeof(t), "%s", s);
	t[strcspn(t, " ")] = '\0';
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
		if (fnmatch(pats[i], t, 0) == 0)
			return true;
	return false;
}

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

/* Same program under another name? sh -> dash, python3 -> python3.11 ... */
static bool same_program(const char *argv0, const char *exe)
{
	static const char *const shells[] = {"sh", "bash", "dash", "ash", "busybox", "mksh", "ksh"};
	const char *a = az_base(argv0), *e = az_base(exe);
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

/* KCSI-MASQ-*: a name that hides what the process runs */
static void masquerade(az *a, const kcsi_proc *p, const char *cmd)
{
	const char *title = p->memory_read && p->argc ? p->argv[0] : p->comm;
	kcsi_finding *f;
	kcsi_evidence *e;
	if (kernel_thread_like(p->comm) || kernel_thread_like(title)) {
		f = az_finding(a, "KCSI-MASQ-001", KCSI_SEV_HIGH,
			       az_printf("Process %u poses as a kernel thread ('%s')", p->pid, title),
			       az_printf("A process inside the container is named like a kernel thread (comm '%s', command "
					 "line '%s') but runs the program %s. Kernel threads have no executable and never run "
					 "inside a container: the name is a disguise to blend into a process list.",
					 p->comm, title, p->exe ? p->exe : "(unknown)"),
			       "T1036 T1036.004");
		if ((e = az_evidence(f, "process", p->pid, -1))) {
			e->path = az_strdup(p->exe);
			kcsi_evidence_excerptf(e, "comm=%s cmdline=%s", p->comm, title);
			e->command = strdup(cmd);
		}
	} else if (p->argv_rewritten) {
		f = az_finding(a, "KCSI-MASQ-002", KCSI_SEV_MEDIUM, az_printf("Process %u rewrote its command line", p->pid),
			       az_printf("The argument area of process %u no longer ends with a NUL byte: the program replaced "
					 "its command line with '%s' (it runs %s). Programs do this to hide what they are.",
					 p->pid, title, p->exe ? p->exe : "(unknown)"),
			       "T1036");
		if ((e = az_evidence(f, "process", p->pid, -1))) {
			e->path = az_strdup(p->exe);
			kcsi_evidence_excerpt(e, title, strlen(title), SIZE_MAX);
			e->command = strdup(cmd);
		}
	} else if (p->exe && p->memory_read && p->argc && !same_program(p->argv[0], p->exe) && !p->exe_memfd &&
		   !az_is_shell_or_interp(p->exe)) {
		f = az_finding(a, "KCSI-MASQ-003", KCSI_SEV_LOW,
			       az_printf("Process %u: argv[0] '%s' is not its executable", p->pid, az_base(p->argv[0])),
			       az_printf("Process %u was started as '%s' but runs %s.", p->pid, p->argv[0], p->exe), "T1036");
		if ((e = az_evidence(f, "process", p->pid, -1))) {
			e->path = az_strdup(p->exe);
			e->command = strdup(cmd);
		}
	}
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

/* KCSI-INJECT-002 (LD_PRELOAD, LD_AUDIT) and KCSI-SECRET-001 */
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
		if (!strcmp(name, "LD_PRELOAD") || !strcmp(name, "LD_AUDIT")) {
			f = az_finding(a, "KCSI-INJECT-002", KCSI_SEV_HIGH,
				       az_printf("Process %u preloads a library (%s)", p->pid, name),
				       az_printf("%s in the environment of process %u loads '%s' into the program: a way to "
						 "hijack its functions.", name, p->pid, eq + 1),
				       "T1574.006");
			if ((e = az_evidence(f, "env", p->pid, -1)))
				kcsi_evidence_excerpt(e, v, strlen(v), SIZE_MAX);
		}
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

void az_family_process(az *a)
{
	for (size_t i = 0; i < kcsi_ckpt_nprocs(a->c); i++) {
		const kcsi_proc *p = kcsi_ckpt_proc(a->c, i);
		char cmd[96];
		snprintf(cmd, sizeof(cmd), "kcsi ps --pid %u ARCHIVE", p->pid);
		masquerade(a, p, cmd);
		fileless(a, p);
		environment(a, p);
	}
}
