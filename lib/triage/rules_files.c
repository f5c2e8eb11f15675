/* kcsi — triage rules on files: descriptors of deleted files; and the
 * rules on a file's content that rules_content.c's walk hands over from
 * every source (rootfs diff, /dev/shm, tmpfs mounts, ghost files, memfds):
 * programs (sha256 IOC, where they are, which process runs them),
 * persistence files with the line that matters, and staged data (account
 * lists, hashes, archives, keys, credential files) outside its place.  The
 * rootfs diff and ghost files also give the timeline its file times. */
#include <archive.h>
#include <archive_entry.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "evidence/elf.h"
#include "triage/content.h"
#include "base/hash.h"
#include "reader/ckpt_int.h"

/* KCSI-DELETED-001: files deleted while held open */
void az_family_descriptors(az *a)
{
	for (size_t i = 0; i < a->nfds; i++) {
		const kcsi_fd *d = &a->fds[i];
		kcsi_finding *f;
		kcsi_evidence *e;
		if (!d->deleted || d->fd < 0)
			continue;
		f = az_finding(a, "KCSI-DELETED-001", KCSI_SEV_MEDIUM,
			       az_printf("Process %u holds a deleted file open (%s)", d->pid, d->path),
			       az_printf("%s was deleted while process %u kept it open on fd %d: a way to hide a file that "
					 "is still in use.%s", d->path, d->pid, d->fd,
					 d->remap && !strcmp(d->remap, "ghost") ? " The checkpoint kept its content." : ""),
			       "T1070.004");
		if ((e = az_evidence(f, "fd", d->pid, d->fd))) {
			e->path = az_strdup(d->path);
			e->command = strdup("kcsi recover --out DIR ARCHIVE");
		}
	}
}

/* ---- where a file is ---- */

static const char *rel(const char *path)
{
	while (*path == '/')
		path++;
	return path;
}

static bool temp_root(const char *p, size_t len)
{
	static const char *const roots[] = {"tmp", "var/tmp", "dev/shm", "run", "var/run", "run/lock", "var/lock"};
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
		if (strlen(roots[i]) == len && !strncmp(p, roots[i], len))
			return true;
	return len == 0; /* the root directory itself */
}

/* The dot directories tools keep in a home directory or a project (git,
 * language package managers, caches): hiding nothing, unless made right
 * in a temporary directory (/tmp/.cache/x is an attacker's choice). */
static bool tool_dot_dir(const char *name, size_t len)
{
	static const char *const tools[] = {
		".git", ".github", ".husky", ".cache", ".local", ".config", ".npm", ".yarn", ".pnpm-store",
		".node-gyp", ".nvm", ".cargo", ".rustup", ".m2", ".gradle", ".sdkman", ".pyenv", ".venv",
		".virtualenvs", ".tox", ".conda", ".bundle", ".gem", ".composer", ".dotnet", ".nuget",
		".deno", ".bun", ".krew", ".kube", ".vscode-server",
	};
	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
		if (strlen(tools[i]) == len && !strncmp(name, tools[i], len))
			return true;
	return false;
}

/* Does the path hide behind a dot: a component (a directory's, or with
 * file set the file's own name too) starting with '.' — "..." included,
 * "." and ".." not — other than a tool's dot directory outside a temporary
 * one, or npm's node_modules/.bin? */
static bool hiding_path(const char *path, bool file)
{
	const char *p = rel(path);
	for (const char *q = p; *q;) {
		const char *end = strchr(q, '/');
		size_t len = end ? (size_t)(end - q) : strlen(q);
		if (!end && !file)
			break;
		bool npm_bin = len == 4 && !strncmp(q, ".bin", 4) && q - p >= 13 && !strncmp(q - 13, "node_modules/", 13);
		if (q[0] == '.' && !(len == 1 || (len == 2 && q[1] == '.')) && !npm_bin &&
		    !(tool_dot_dir(q, len) && !temp_root(p, q > p ? (size_t)(q - 1 - p) : 0)))
			return true;
		if (!end)
			break;
		q = end + 1;
	}
	return false;
}

/* A directory whose name starts with a dot (not the file's own name). */
static bool hidden_dir(const char *path)
{
	return hiding_path(path, false);
}

static bool temp_dir(const char *path)
{
	const char *p = rel(path);
	return !strncmp(p, "tmp/", 4) || !strncmp(p, "var/tmp/", 8) || !strncmp(p, "dev/shm/", 8) ||
	       !strncmp(p, "run/", 4) || !strncmp(p, "var/run/", 8);
}

static bool temp_or_hidden(const char *path)
{
	return temp_dir(path) || hiding_path(path, true);
}

/* In a git repository's own directory (hooks and their samples): run by
 * git only, written by every clone. */
static bool in_git_dir(const char *path)
{
	return strstr(path, "/.git/") != NULL;
}

/* Memory-backed places no image fills: /dev/shm and other tmpfs mounts. */
static bool memory_backed(const az_content *c)
{
	return c->kind == AZ_C_DEVSHM || c->kind == AZ_C_TMPFS || !strncmp(rel(c->path), "dev/shm/", 8);
}

static bool matches_any(const char *path, const char *const *pats, size_t n)
{
	const char *p = rel(path);
	for (size_t i = 0; i < n; i++)
		if (!fnmatch(pats[i], p, 0))
			return true;
	return false;
}

/* ---- programs ---- */

/* The process that runs the file as its program, or NULL. */
static const kcsi_proc *runner(az *a, const az_content *c)
{
	for (size_t i = 0; i < kcsi_ckpt_nprocs(a->c); i++) {
		const kcsi_proc *p = kcsi_ckpt_proc(a->c, i);
		if (p->exe && c->path && !strcmp(p->exe, c->path))
			return p;
	}
	return NULL;
}

/* KCSI-DROP-001, -002, -003: a program or script among the contents */
static void program(az *a, const az_content *c, bool elf, bool script)
{
	const kcsi_proc *run = runner(a, c);
	bool shlib = elf && kcsi_elf_shared_library(c->p, c->n) && !run;
	bool hot = memory_backed(c) || temp_or_hidden(c->path);
	const char *id = "KCSI-DROP-002";
	enum kcsi_severity sev = KCSI_SEV_LOW;
	char hex[65], who[48] = "";
	kcsi_finding *f;
	kcsi_evidence *e;
	kcsi_ioc_prov pv;

	kcsi_sha256_hex(c->p, c->n, hex);
	if (run)
		snprintf(who, sizeof(who), "run by process %u", run->pid);
	az_ioc_prov_file(&pv, c->origin, c->path, run ? (int64_t)run->pid : c->pid, run ? -1 : c->fd);
	if (who[0])
		pv.detail = who;
	kcsi_iocs_add_prov(&a->r->iocs, "sha256", hex, 2, &pv);
	if (c->kind == AZ_C_MEMFD) {
		if (run || !elf)
			return; /* a memfd program that runs: KCSI-FILELESS-001 */
		id = "KCSI-DROP-003";
		sev = KCSI_SEV_MEDIUM;
	} else if (hot && in_git_dir(c->path) && !hiding_path(c->path, true)) {
		/* a clone's hooks: DROP-002, low */
	} else if (hot && (!shlib || hidden_dir(c->path) || memory_backed(c))) {
		id = "KCSI-DROP-001";
		sev = KCSI_SEV_HIGH;
	}
	char does[400] = "", techniques[240] = "";
	if (script && !strcmp(id, "KCSI-DROP-001"))
		az_script_behaviours((const char *)c->p, c->n, does, sizeof(does), techniques, sizeof(techniques));
	f = az_finding(a, id, sev,
		       az_printf("%s %s %s%s%s", sev == KCSI_SEV_HIGH ? "Program or script dropped in" : "New program or script",
				 elf ? (shlib ? "(ELF library)" : "(ELF)") : "(script)", c->path, who[0] ? ", " : "", who),
		       az_printf("%s (%s) is not part of the image: it appeared in the container after it started%s%s. "
				 "sha256 %s.%s%s%s", c->path, c->origin,
				 c->kind == AZ_C_MEMFD ? ", in an anonymous memory file"
				 : memory_backed(c) ? ", in a memory-backed file system (tmpfs) where attackers stage tools"
				 : hot ? ", in a temporary or hidden directory where attackers stage their tools" : "",
				 c->kind == AZ_C_GHOST ? ", and was deleted while in use (the checkpoint kept it)" : "", hex,
				 does[0] ? " What its text does: " : "", does, does[0] ? "." : ""),
		       script ? "T1105 T1059" : "T1105");
	if (techniques[0])
		kcsi_finding_add_mitre(f, techniques);
	if ((e = az_evidence(f, c->origin, run ? (int64_t)run->pid : c->pid, run ? -1 : c->fd))) {
		e->path = strdup(c->path);
		if (elf)
			kcsi_evidence_excerptf(e, "ELF %s, %zu bytes, sha256 %s", shlib ? "shared library" : "program", c->n,
					       hex);
		else
			kcsi_evidence_excerpt(e, c->p, c->n < 120 ? c->n : 120, 120);
		e->command = strdup("kcsi recover --out DIR ARCHIVE");
	}
}

/* ---- persistence ---- */

/* The first line of p (at most 200 bytes) that pick() likes, else the
 * last non-empty one when last is set. */
static bool line_of(const unsigned char *p, size_t n, bool (*pick)(const char *, size_t), bool last, const char **at,
		    size_t *len)
{
	size_t s = 0;
	bool got = false;
	while (s < n) {
		const unsigned char *nl = memchr(p + s, '\n', n - s);
		size_t e = nl ? (size_t)(nl - p) : n, l = e - s;
		while (l && (p[s + l - 1] == '\r' || p[s + l - 1] == ' '))
			l--;
		if (l && pick((const char *)p + s, l)) {
			*at = (const char *)p + s;
			*len = l;
			return true;
		}
		if (l && last && p[s] != '#') {
			*at = (const char *)p + s;
			*len = l;
			got = true;
		}
		s = e + 1;
	}
	return got;
}

static bool any_line(const char *l, size_t n) { (void)n; return l[0] != '#'; }

static bool cron_line(const char *l, size_t n)
{
	return n > 8 && (l[0] == '@' || l[0] == '*' || (l[0] >= '0' && l[0] <= '9'));
}

static bool exec_line(const char *l, size_t n)
{
	return n > 10 && !strncmp(l, "ExecStart", 9);
}

static bool key_line(const char *l, size_t n)
{
	return n > 20 && (!strncmp(l, "ssh-", 4) || !strncmp(l, "ecdsa-", 6) || !strncmp(l, "sk-", 3) ||
			  memmem(l, n, " ssh-", 5));
}

static bool hook_line(const char *l, size_t n)
{
	static const char *const words[] = {"LD_PRELOAD", "/dev/tcp", "curl ", "wget ", "nc ", "base64", "nohup",
					    "python", "perl -e", "bash -i", "setsid", "/tmp/", "/dev/shm"};
	if (l[0] == '#')
		return false;
	for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++)
		if (memmem(l, n, words[k], strlen(words[k])))
			return true;
	return false;
}

/* KCSI-INJECT-004, KCSI-PERSIST-001: files that decide what runs, with the
 * line that matters (the cron line, the key, the unit's ExecStart) */
static void persistence(az *a, const az_content *c)
{
	const char *q = rel(c->path), *line = NULL;
	size_t len = 0;
	kcsi_finding *f;
	kcsi_evidence *e;
	static const char *const places[] = {"etc/cron*", "var/spool/cron/*", "etc/rc.local", "etc/profile.d/*",
					     "*/.bashrc", "*/.profile", "*/.bash_profile", "etc/bash.bashrc", "etc/profile",
					     "etc/systemd/system/*", "usr/lib/systemd/system/*", "etc/init.d/*",
					     "etc/environment"};
	if (!strcmp(q, "etc/ld.so.preload")) {
		f = az_finding(a, "KCSI-INJECT-004", KCSI_SEV_HIGH, az_printf("/etc/ld.so.preload was written"),
			       az_printf("/etc/ld.so.preload makes every program load the libraries it lists."), "T1574.006");
		line_of(c->p, c->n, any_line, true, &line, &len);
	} else if (strstr(q, ".ssh/authorized_keys") || matches_any(c->path, places, sizeof(places) / sizeof(places[0]))) {
		bool cron = strstr(q, "cron") != NULL, keys = strstr(q, "authorized_keys") != NULL;
		bool unit = strstr(q, "systemd/") != NULL;
		f = az_finding(a, "KCSI-PERSIST-001", KCSI_SEV_MEDIUM, az_printf("Persistence file changed: %s", c->path),
			       az_printf("%s decides what runs at start-up, on a schedule or at log-in; changing it inside a "
					 "container is a way to stay.", c->path),
			       cron ? "T1053.003" : keys ? "T1098.004" : unit ? "T1543.002" : "T1037 T1546.004");
		if (cron)
			line_of(c->p, c->n, cron_line, true, &line, &len);
		else if (keys)
			line_of(c->p, c->n, key_line, true, &line, &len);
		else if (unit)
			line_of(c->p, c->n, exec_line, false, &line, &len);
		else
			line_of(c->p, c->n, hook_line, true, &line, &len);
	} else {
		return;
	}
	if ((e = az_evidence(f, "rootfs", -1, -1))) {
		e->path = strdup(c->path);
		if (line)
			kcsi_evidence_excerpt(e, line, len, 200);
		e->command = strdup("kcsi recover --out DIR ARCHIVE");
	}
}

/* KCSI-PRIV-005: a setuid or setgid program the container wrote: whoever
 * runs it runs as its owner — a copied shell with the bit is root for
 * anyone in the container, the usual step before or after an escape. */
static void setuid_program(az *a, const az_content *c, bool elf)
{
	const char *bits = (c->mode & 04000) && (c->mode & 02000) ? "setuid and setgid"
			   : c->mode & 04000			      ? "setuid"
								      : "setgid";
	kcsi_finding *f = az_finding(a, "KCSI-PRIV-005", KCSI_SEV_HIGH,
				     az_printf("%s program written by the container: %s", c->mode & 04000 ? "Setuid" : "Setgid",
					       c->path),
				     az_printf("%s (%s, %s) is %s (mode %04o): it runs with its owner's rights whoever starts "
					       "it. Images ship their setuid programs; one that appeared after the container "
					       "started is a way to become root in it.",
					       c->path, c->origin, elf ? "ELF" : "script", bits, (unsigned)(c->mode & 07777)),
				     "T1548.001");
	kcsi_evidence *e = az_evidence(f, c->origin, c->pid, c->fd);
	if (e) {
		e->path = strdup(c->path);
		kcsi_evidence_excerptf(e, "mode %04o", (unsigned)(c->mode & 07777));
		e->command = strdup("kcsi rootfs ARCHIVE");
	}
}

void az_file_rules(az *a, const az_content *c)
{
	const char *ext = strrchr(c->path, '.');
	bool elf = c->n >= 4 && !memcmp(c->p, "\x7f" "ELF", 4), script = c->n >= 2 && c->p[0] == '#' && c->p[1] == '!';
	bool script_ext = ext && !strchr(ext, '/') &&
			  (!strcmp(ext, ".sh") || !strcmp(ext, ".pl") || !strcmp(ext, ".py") || !strcmp(ext, ".rb") ||
			   !strcmp(ext, ".php") || !strcmp(ext, ".elf"));
	if (c->n && (elf || script || script_ext || (c->mode & 0111) || runner(a, c)))
		program(a, c, elf, script || !elf);
	if (c->n && (c->mode & 06000) && (c->mode & 0111) && (elf || script))
		setuid_program(a, c, elf);
	if (c->kind == AZ_C_ROOTFS)
		persistence(a, c);
}

/* ---- staged data ---- */

/* KCSI-STAGE-001: data gathered for theft, in a file outside its place.
 * Account lists, hashes and archives of /etc or /root are high anywhere
 * but their own place; keys and credential files only in temporary,
 * hidden or memory-backed places (a workload writes its own elsewhere). */
void az_file_staged(az *a, const az_content *c, unsigned kinds, const size_t at[5], const char *member,
		    const char *credfile)
{
	static const char *const account_places[] = {"etc/passwd", "etc/shadow", "etc/group", "etc/gshadow",
						     "etc/passwd-", "etc/shadow-", "etc/group-", "etc/gshadow-",
						     "var/backups/*.bak"};
	static const char *const key_places[] = {"*/.ssh/*", "etc/ssh/*", "etc/ssl/*", "etc/pki/*", "*/.gnupg/*"};
	static const char *const cred_places[] = {"*/.aws/*", "*/.kube/*", "*/.docker/*", "*/.config/gcloud/*",
						  "*/.azure/*", "var/run/secrets/*", "run/secrets/*"};
	bool hot = memory_backed(c) || temp_or_hidden(c->path);
	enum kcsi_severity sev = KCSI_SEV_LOW;
	char what[400] = "", mitre[80] = "T1074.001 T1005";
	kcsi_finding *f;
	kcsi_evidence *e;
	size_t first = (size_t)-1;

	if (matches_any(c->path, account_places, sizeof(account_places) / sizeof(account_places[0])))
		kinds &= ~(unsigned)(AZ_ST_PASSWD | AZ_ST_SHADOW);
	if (matches_any(c->path, key_places, sizeof(key_places) / sizeof(key_places[0])))
		kinds &= ~(unsigned)AZ_ST_KEY;
	if (matches_any(c->path, cred_places, sizeof(cred_places) / sizeof(cred_places[0])))
		kinds &= ~(unsigned)AZ_ST_CREDFILE;
	for (unsigned k = 0; k < 5; k++) {
		unsigned bit = 1u << k;
		if (!(kinds & bit))
			continue;
		if ((bit & (AZ_ST_PASSWD | AZ_ST_SHADOW | AZ_ST_ARCHIVE)) || hot)
			sev = KCSI_SEV_HIGH;
		snprintf(what + strlen(what), sizeof(what) - strlen(what), "%s%s", *what ? "; " : "",
			 bit == AZ_ST_PASSWD   ? "an account list (/etc/passwd format)"
			 : bit == AZ_ST_SHADOW ? "password hashes (/etc/shadow format)"
			 : bit == AZ_ST_KEY    ? "a private key"
			 : bit == AZ_ST_CREDFILE ? credfile
						 : "an archive of /etc, /root or credentials");
		if (first == (size_t)-1)
			first = at[k];
	}
	if (!kinds)
		return;
	if (kinds & (AZ_ST_PASSWD | AZ_ST_SHADOW))
		strcat(mitre, " T1003.008");
	if (kinds & AZ_ST_ARCHIVE)
		strcat(mitre, " T1560.001");
	if (kinds & (AZ_ST_KEY | AZ_ST_CREDFILE))
		strcat(mitre, " T1552.001");
	f = az_finding(a, "KCSI-STAGE-001", sev, az_printf("Copy of %s in %s", what, c->path),
		       az_printf("%s (%s) holds %s outside the place such data belongs%s.", c->path, c->origin, what,
				 sev == KCSI_SEV_HIGH ? ": data gathered for theft" : ""),
		       mitre);
	if ((e = az_evidence(f, c->origin, c->pid, c->fd))) {
		const unsigned char *x = c->p + (first < c->n ? first : 0);
		size_t left = c->n - (size_t)(x - c->p);
		e->path = strdup(c->path);
		kcsi_evidence_set_offset(e, (uint64_t)(x - c->p));
		if (kinds & (AZ_ST_KEY | AZ_ST_CREDFILE))
			kcsi_evidence_excerptf(e, "%s", what); /* never the key itself */
		else if (kinds & AZ_ST_ARCHIVE)
			kcsi_evidence_excerptf(e, "tar member %s", member);
		else
			kcsi_evidence_excerpt(e, x, left < 80 ? left : 80, 80);
		e->command = strdup("kcsi recover --out DIR ARCHIVE");
	}
}

/* ---- file times for the timeline ---- */

static void diff_entry(az *a, struct archive_entry *en)
{
	const char *name = archive_entry_pathname(en);
	char path[4200];
	if (!name)
		return;
	snprintf(path, sizeof(path), "/%s", name[0] == '/' ? name + 1 : name);
	az_event(a, (int64_t)archive_entry_mtime(en) * 1000000 + archive_entry_mtime_nsec(en) / 1000, "Modification Time",
		 az_printf("%s %s in the container's rootfs diff", archive_entry_filetype(en) == AE_IFDIR ? "directory" : "file",
			   path),
		 path, -1);
}

/* The rootfs diff's entries (their content goes through rules_content.c) */
void az_family_rootfs_diff(az *a)
{
	struct archive *ar;
	struct archive_entry *en;
	if (ck_member_tar(a->c, "rootfs-diff.tar", &ar, NULL) != KCSI_OK || !ar)
		return;
	while (archive_read_next_header(ar, &en) == ARCHIVE_OK)
		diff_entry(a, en);
	archive_read_free(ar);
}

/* Ghost files' times (their content goes through rules_content.c) */
void az_family_ghost_files(az *a)
{
	kcsi_ckpt *c = a->c;
	for (size_t i = 0; i < c->nremaps; i++) {
		RemapFilePathEntry *r = c->remaps[i];
		FileEntry *f = ck_file(c, r->orig_id);
		char name[600];
		kcsi_image img;
		GhostFileEntry *g;
		int64_t pid = -1, fd = -1;
		const char *path;

		if (!r->has_remap_type || r->remap_type != REMAP_TYPE__GHOST)
			continue;
		if (ck_ghost_open(c, r->remap_id, name, sizeof(name), &img, &g, NULL) != KCSI_OK)
			continue;
		ck_file_holder(c, r->orig_id, &pid, &fd);
		path = f && f->reg && f->reg->name ? f->reg->name : name;
		if (g->mtim)
			az_event(a, (int64_t)g->mtim->tv_sec * 1000000 + (int64_t)g->mtim->tv_usec, "Modification Time",
				 az_printf("deleted file %s (kept by the checkpoint) last modified", path), path, pid);
		if (g->atim)
			az_event(a, (int64_t)g->atim->tv_sec * 1000000 + (int64_t)g->atim->tv_usec, "Last Access Time",
				 az_printf("deleted file %s (kept by the checkpoint) last accessed", path), path, pid);
	}
}
