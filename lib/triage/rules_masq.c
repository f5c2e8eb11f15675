/* kcsi — masquerade rules (KCSI-MASQ-*): a process that claims to be what
 * it is not.  Run by the process family (rules_process.c) with the facts of
 * programs.c.
 *
 * What a process claims is its title (argv[0], which a program may rewrite)
 * and its comm; what it is, is its executable.  The rules compare the two
 * and look at where the executable comes from:
 *   001  a kernel-thread name ([kworker/0:1], kswapd0 ...): never a process
 *        of a container                                          high
 *   004  the title names a system daemon (sshd, nginx, systemd-*, crond ...)
 *        that the program is not: an interpreter or shell titled so, a
 *        program that rewrote its title to another daemon's name, or a comm
 *        set to a daemon's name that no argument bears (prctl)  high
 *        001 and 004 are critical when the process also holds an outbound
 *        connection: a disguised process calling out
 *   002  another rewritten title: medium for a native program, or an
 *        interpreter titled with a system path or another interpreter's
 *        name; low for an interpreter titled with an application's name
 *        (gunicorn, puma, workers do this)
 *   003  argv[0] is another program than the executable, title not
 *        rewritten (symlinks do this too)                       low
 *   005  the executable (or a file the container wrote) is a renamed copy
 *        of an image file: the same ELF build-id under another name
 *                                                  high running, medium not
 *   006  a program named like a system daemon or kernel thread runs from
 *        memory, a temporary or hidden directory, a deleted file (outside
 *        the system's directories, where an upgrade deletes them), or a file
 *        the container wrote that no package database accounts for: high,
 *        critical with an outbound connection
 *   007  a program the container wrote (no package accounts for it) runs
 *        from a system directory: low; medium in a hidden directory there
 * A program whose title names itself (nginx: worker process, postgres:
 * writer, sshd: user@pts/0 run by nginx, postgres, sshd) is not flagged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "triage/programs.h"

/* The program a title names: its first word (up to a blank or ':'), the
 * basename of a path, without a login shell's '-'. */
static const char *title_claim(const char *title, char *buf, size_t cap)
{
	const char *s = title ? title : "";
	size_t n;
	while (*s == ' ')
		s++;
	if (*s == '-')
		s++;
	n = strcspn(s, " \t:");
	snprintf(buf, cap, "%.*s", (int)(n < cap ? n : cap - 1), s);
	return az_base(buf);
}

/* A path in a directory of system programs or libraries. */
static bool system_dir(const char *path)
{
	static const char *const dirs[] = {"/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/local/bin/",
					   "/usr/local/sbin/", "/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/",
					   "/usr/libexec/", "/usr/local/lib/", "/lib32/", "/usr/lib32/"};
	for (size_t i = 0; path && i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (!strncmp(path, dirs[i], strlen(dirs[i])))
			return true;
	return false;
}

/* Where an executable runs from, when that is no place for a system
 * program: "memory", "a deleted file", "a temporary directory", "a hidden
 * directory", "a file the container wrote"; NULL otherwise. */
static const char *odd_place(const kcsi_proc *p, const az_programs *pg)
{
	const char *e = p->exe;
	if (p->exe_memfd)
		return "memory (a memfd)";
	if (!e)
		return NULL;
	if (!strncmp(e, "/tmp/", 5) || !strncmp(e, "/var/tmp/", 9) || !strncmp(e, "/dev/shm/", 9) ||
	    !strncmp(e, "/run/user/", 10))
		return "a temporary directory";
	for (const char *q = e; *q; q++)
		if (q[0] == '/' && q[1] == '.' && q[2] && q[2] != '/' && q[2] != '.')
			return "a hidden directory";
	if (p->exe_deleted && !system_dir(e)) /* in a system directory: an upgrade replaced it */
		return "a deleted file";
	if (az_prog_unpackaged(pg, e))
		return "a file the container wrote, which no package accounts for";
	return NULL;
}

static void proc_evidence(kcsi_finding *f, const kcsi_proc *p, const char *title)
{
	kcsi_evidence *e = az_evidence(f, "process", p->pid, -1);
	if (!e)
		return;
	e->path = az_strdup(p->exe);
	kcsi_evidence_excerptf(e, "comm=%s title=%s", p->comm ? p->comm : "", title ? title : "");
	e->command = az_printf("kcsi ps --pid %u ARCHIVE", p->pid);
}

static void conn_evidence(kcsi_finding *f, const kcsi_sock *s)
{
	kcsi_evidence *e = az_evidence(f, "socket", s->pid, s->fd);
	if (!e)
		return;
	e->connection = az_prog_conn_text(s);
	e->command = strdup("kcsi net ARCHIVE");
}

/* The title findings made so far: processes of one program under one title
 * (an implant's forked workers) share a finding. */
typedef struct disguise {
	const char *id;
	const char *exe;       /* the process's, in the checkpoint */
	char *title;
	kcsi_finding *f;
} disguise;

typedef struct masq_seen {
	disguise *v;
	size_t n, cap;
} masq_seen;

static kcsi_finding *seen_disguise(const masq_seen *ms, const char *id, const kcsi_proc *p, const char *title)
{
	for (size_t i = 0; i < ms->n; i++)
		if (!strcmp(ms->v[i].id, id) && ms->v[i].exe && p->exe && !strcmp(ms->v[i].exe, p->exe) &&
		    !strcmp(ms->v[i].title, title))
			return ms->v[i].f;
	return NULL;
}

static void keep_disguise(masq_seen *ms, const char *id, const kcsi_proc *p, const char *title, kcsi_finding *f)
{
	if (!f || !p->exe)
		return;
	if (ms->n == ms->cap) {
		size_t nc = ms->cap ? ms->cap * 2 : 16;
		disguise *g = realloc(ms->v, nc * sizeof(*g));
		if (!g)
			return;
		ms->v = g;
		ms->cap = nc;
	}
	char *t = strdup(title);
	if (t)
		ms->v[ms->n++] = (disguise){id, p->exe, t, f};
}

/* Another process of a disguise already reported: its evidence joins the
 * finding, which becomes critical when this one holds the outbound
 * connection.  False when there is no such finding yet. */
static bool join_disguise(const masq_seen *ms, const char *id, const kcsi_proc *p, const char *title,
			  const kcsi_sock *out)
{
	kcsi_finding *f = seen_disguise(ms, id, p, title);
	if (!f)
		return false;
	proc_evidence(f, p, title);
	if (out) {
		f->severity = KCSI_SEV_CRITICAL;
		kcsi_finding_add_mitre(f, "T1071");
		conn_evidence(f, out);
	}
	return true;
}

/* A disguise's first finding: high, or critical with T1071 and the
 * connection as evidence when the process holds an outbound one; kept so
 * that the program's other processes join it. */
static void new_disguise(az *a, masq_seen *ms, const char *id, const kcsi_proc *p, const char *title,
			 const kcsi_sock *out, char *head, char *expl, const char *mitre)
{
	char techniques[64];
	snprintf(techniques, sizeof(techniques), "%s%s", mitre, out ? " T1071" : "");
	kcsi_finding *f = az_finding(a, id, out ? KCSI_SEV_CRITICAL : KCSI_SEV_HIGH, head, expl, techniques);
	proc_evidence(f, p, title);
	if (out)
		conn_evidence(f, out);
	keep_disguise(ms, id, p, title, f);
}

/* 001: a kernel-thread name */
static void kernel_thread(az *a, masq_seen *ms, const kcsi_proc *p, const char *title, const kcsi_sock *out)
{
	if (join_disguise(ms, "KCSI-MASQ-001", p, title, out))
		return;
	new_disguise(
		a, ms, "KCSI-MASQ-001", p, title, out,
		out ? az_printf("Process %u poses as a kernel thread ('%s') and connects to %s:%u", p->pid, title, out->dst,
				out->dport)
		    : az_printf("Process %u poses as a kernel thread ('%s')", p->pid, title),
		az_printf("A process inside the container is named like a kernel thread (comm '%s', command line '%s') but "
			  "runs the program %s. Kernel threads have no executable and never run inside a container: the "
			  "name is a disguise to blend into a process list.%s",
			  p->comm, title, p->exe ? p->exe : "(unknown)",
			  out ? " The disguised process holds an outbound connection: an implant calling out." : ""),
		"T1036 T1036.004");
}

/* 004: a system daemon's name on another program */
static void daemon_title(az *a, masq_seen *ms, const kcsi_proc *p, const char *title, const char *claim,
			 const char *prog, bool interp, const kcsi_sock *out)
{
	if (join_disguise(ms, "KCSI-MASQ-004", p, title, out))
		return;
	new_disguise(a, ms, "KCSI-MASQ-004", p, title, out,
		     az_printf("Process %u (%s) poses as %s ('%s')%s", p->pid, prog, claim, title,
			       out ? " and holds an outbound connection" : ""),
		     az_printf("Process %u calls itself '%s', the name of the system program %s, but runs %s%s. %s%s",
			       p->pid, title, claim, p->exe ? p->exe : prog,
			       interp ? ", an interpreter or shell: a script hides behind a daemon's name" : "",
			       p->argv_rewritten ? "It rewrote its command line to look so. "
						 : "It was started under that name. ",
			       out ? "The disguised process holds an outbound connection: an implant calling out." : ""),
		     "T1036 T1036.005");
}

/* A comm that names a daemon which neither the executable nor any argument
 * bears: the program set it (prctl), so that `ps -e` and `top` show the
 * daemon.  The kernel names a process after the file it runs (a script's
 * own name under its interpreter, a symbolic link's name), so those are
 * not counted. */
static bool comm_set_by_program(const kcsi_proc *p, const char *prog)
{
	if (!p->comm || !p->memory_read || !p->argc || p->argv_rewritten || !az_daemon_name(p->comm) ||
	    az_same_program(p->comm, prog))
		return false;
	for (size_t k = 0; k < p->argc && k < 16; k++)
		if (az_same_program(p->comm, az_base(p->argv[k])))
			return false;
	return true;
}

/* The title rules (001 to 004) for one process; true when it claims, by a
 * kernel-thread or a daemon name, to be what its executable is named. */
static bool title_rules(az *a, masq_seen *ms, const kcsi_proc *p, const char *prog)
{
	bool have_argv = p->memory_read && p->argc;
	const char *title = have_argv ? p->argv[0] : p->comm ? p->comm : "";
	bool interp = p->exe && az_is_shell_or_interp(p->exe) && strcmp(prog, "busybox") != 0;
	char buf[256];
	const char *claim = have_argv ? title_claim(title, buf, sizeof(buf)) : "";
	bool differs = *claim && !az_same_program(claim, prog);
	kcsi_finding *f;

	if (az_kernel_thread_name(p->comm) || az_kernel_thread_name(title)) {
		kernel_thread(a, ms, p, title, az_outbound_of(a, p->pid));
		return true;
	}
	if (differs && az_daemon_name(claim) && (interp || p->argv_rewritten)) {
		daemon_title(a, ms, p, title, claim, prog, interp, az_outbound_of(a, p->pid));
		return false;
	}
	if (comm_set_by_program(p, prog)) {
		daemon_title(a, ms, p, p->comm, p->comm, prog, interp, az_outbound_of(a, p->pid));
		return false;
	}
	if (differs && p->argv_rewritten) {
		/* a system path, or another interpreter's name, is no application's own */
		bool sys = (title[0] == '/' && system_dir(title)) || az_is_shell_or_interp(claim) || !strcmp(claim, "java");
		enum kcsi_severity sev = !interp || sys ? KCSI_SEV_MEDIUM : KCSI_SEV_LOW;
		if (join_disguise(ms, "KCSI-MASQ-002", p, title, NULL))
			return false;
		f = az_finding(a, "KCSI-MASQ-002", sev, az_printf("Process %u rewrote its command line ('%s')", p->pid, title),
			       az_printf("The argument area of process %u no longer ends with a NUL byte: the program replaced "
					 "its command line with '%s', another name than its own (it runs %s).%s",
					 p->pid, title, p->exe ? p->exe : prog,
					 interp && !sys ? " Application servers written in scripting languages name their "
							  "processes so; a script can hide the same way."
							: " Programs do this to hide what they are."),
			       "T1036");
		proc_evidence(f, p, title);
		keep_disguise(ms, "KCSI-MASQ-002", p, title, f);
	} else if (differs && have_argv && p->exe && !p->exe_memfd) {
		f = az_finding(a, "KCSI-MASQ-003", KCSI_SEV_LOW,
			       az_printf("Process %u: argv[0] '%s' is not its executable", p->pid, az_base(p->argv[0])),
			       az_printf("Process %u was started as '%s' but runs %s (a symbolic link does this too).", p->pid,
					 p->argv[0], p->exe),
			       "T1036");
		proc_evidence(f, p, title);
	}
	return false;
}

/* The processes that run exe, as evidence of f; how many. */
static size_t runners(az *a, kcsi_finding *f, const char *exe)
{
	size_t n = 0;
	for (size_t i = 0; exe && i < kcsi_ckpt_nprocs(a->c); i++) {
		const kcsi_proc *p = kcsi_ckpt_proc(a->c, i);
		if (p->exe && !strcmp(p->exe, exe)) {
			if (f)
				proc_evidence(f, p, p->memory_read && p->argc ? p->argv[0] : p->comm);
			n++;
		}
	}
	return n;
}

/* 005: a renamed copy of an image file (the copy: a file the container
 * wrote, a memfd, a ghost file) */
static void renamed_copy(az *a, const az_elf_id *copy, const az_elf_id *orig)
{
	size_t running = runners(a, NULL, copy->path);
	char hex[2 * AZ_BUILD_ID_MAX + 1];
	kcsi_finding *f;
	kcsi_evidence *e;
	for (size_t i = 0; i < copy->len; i++)
		snprintf(hex + 2 * i, 3, "%02x", copy->id[i]);
	f = az_finding(a, "KCSI-MASQ-005", running ? KCSI_SEV_HIGH : KCSI_SEV_MEDIUM,
		       az_printf("%s is a renamed copy of %s%s", copy->path, orig->path, running ? " and runs" : ""),
		       az_printf("%s (%s) has the ELF build-id of the image's %s: the same program under another name%s. "
				 "Attackers copy a system utility under a daemon's or a random name to run it unnoticed.",
				 copy->path, copy->origin, orig->path,
				 running ? ", and processes run it" : ", written by the container"),
		       "T1036 T1036.003");
	if ((e = az_evidence(f, copy->origin, -1, -1))) {
		e->path = strdup(copy->path);
		kcsi_evidence_excerptf(e, "build-id %s = %s", hex, orig->path);
		e->command = strdup("kcsi recover --out DIR ARCHIVE");
	}
	if ((e = az_evidence(f, "file", -1, -1))) {
		e->path = strdup(orig->path);
		e->command = strdup("kcsi files ARCHIVE");
	}
	runners(a, f, copy->path);
}

/* 006 and 007 for the executable of p (the first process that runs it) */
static void exe_place(az *a, const kcsi_proc *p, const char *prog, const az_programs *pg)
{
	const char *place = odd_place(p, pg);
	const kcsi_sock *out = az_outbound_of(a, p->pid);
	kcsi_finding *f;
	if (place && (az_daemon_name(prog) || az_kernel_thread_name(prog))) {
		f = az_finding(a, "KCSI-MASQ-006", out ? KCSI_SEV_CRITICAL : KCSI_SEV_HIGH,
			       az_printf("A program named like the system program %s runs from %s (%s)%s", prog, place,
					 p->exe, out ? " and connects out" : ""),
			       az_printf("%s bears the name of a system daemon or kernel thread, but runs from %s, where no "
					 "such program is installed: a tool dressed up as a system program.%s",
					 p->exe, place,
					 out ? " It holds an outbound connection: an implant calling out." : ""),
			       out ? "T1036 T1036.005 T1071" : "T1036 T1036.005");
		runners(a, f, p->exe);
		if (out)
			conn_evidence(f, out);
	} else if (system_dir(p->exe) && az_prog_unpackaged(pg, p->exe)) {
		bool hidden = strstr(p->exe, "/.") != NULL; /* /usr/sbin/.x/: no package makes such a place */
		f = az_finding(a, "KCSI-MASQ-007", hidden ? KCSI_SEV_MEDIUM : KCSI_SEV_LOW,
			       az_printf("Program %s, written by the container, runs from %s system directory", p->exe,
					 hidden ? "a hidden place in a" : "a"),
			       az_printf("%s is in the rootfs diff (the container wrote it after it started) and no package "
					 "database of the diff accounts for it, yet it sits among the system's programs%s.",
					 p->exe, hidden ? ", in a hidden directory" : ""),
			       "T1036.005");
		runners(a, f, p->exe);
	}
}

void az_masquerade(az *a, const az_programs *pg)
{
	size_t n = kcsi_ckpt_nprocs(a->c);
	kcsi_strmap done = {0}; /* executables looked at */
	masq_seen ms = {0};
	for (size_t i = 0; i < n; i++) {
		const kcsi_proc *p = kcsi_ckpt_proc(a->c, i);
		char prog[256];
		const az_elf_id *id, *orig;
		bool named = title_rules(a, &ms, p, az_prog_name(p, prog, sizeof(prog)));
		if (!p->exe || kcsi_strmap_get(&done, p->exe, strlen(p->exe), 0))
			continue;
		kcsi_strmap_put(&done, p->exe, strlen(p->exe), 1);
		if ((id = az_prog_id_of(pg, p->exe)) && (orig = az_prog_original(pg, id)))
			renamed_copy(a, id, orig);
		else if (!named)
			exe_place(a, p, prog, pg);
	}
	/* copies the container wrote that no process runs */
	for (size_t i = 0; i < pg->nadded_ids; i++) {
		const az_elf_id *id = &pg->ids[i], *orig;
		if (!kcsi_strmap_get(&done, id->path, strlen(id->path), 0) && (orig = az_prog_original(pg, id)))
			renamed_copy(a, id, orig);
	}
	kcsi_strmap_free(&done);
	for (size_t i = 0; i < ms.n; i++)
		free(ms.v[i].title);
	free(ms.v);
}
