/* kcsi — triage rules on files: descriptors of deleted files, and the
 * contents the checkpoint holds — the rootfs diff (programs dropped,
 * persistence files, /etc/ld.so.preload), ghost files (deleted but kept) and
 * memfd contents.  Each content is scanned for strings and with YARA, hashed
 * when it is a program, and looked at for staged data (keys, account lists,
 * credentials). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <archive.h>
#include <archive_entry.h>
#include <fnmatch.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "triage/analyze_int.h"
#include "base/safeout.h"
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

/* ---- one file's content ---- */

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

/* Lines that match re_text (at most 100 counted). */
static unsigned count_lines(const unsigned char *p, size_t n, const char *re_text)
{
	unsigned count = 0;
	int ec;
	PCRE2_SIZE eo, start = 0;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)re_text, PCRE2_ZERO_TERMINATED, PCRE2_MULTILINE, &ec, &eo, NULL);
	pcre2_match_data *md = re ? pcre2_match_data_create_from_pattern(re, NULL) : NULL;
	while (md && start < n && count < 100) {
		PCRE2_SIZE *ov;
		if (pcre2_match(re, p, n, start, 0, md, NULL) < 0)
			break;
		ov = pcre2_get_ovector_pointer(md);
		count++;
		start = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
	}
	if (md)
		pcre2_match_data_free(md);
	if (re)
		pcre2_code_free(re);
	return count;
}

static const char *staged_kind(const unsigned char *p, size_t n)
{
	size_t head = n < 1048576 ? n : 1048576;
	if (n > 8 && memmem(p, n < 65536 ? n : 65536, "PRIVATE KEY-----", 16))
		return "a private key";
	if (count_lines(p, head, "^[a-z_][a-z0-9_.-]*:[^:\\n]*:[0-9]+:[0-9]+:[^:\\n]*:[^:\\n]*:") >= 3)
		return "an account list (/etc/passwd format)";
	if (count_lines(p, head, "^[a-z_][a-z0-9_.-]*:(\\$[0-9a-z]+\\$[^:]*|[*!]+):[0-9]*:") >= 2)
		return "password hashes (/etc/shadow format)";
	if (memmem(p, n, "aws_secret_access_key", 21) || memmem(p, n, "client-key-data:", 16))
		return "cloud or cluster credentials";
	return NULL;
}

/* What one file is, for the rules below. */
typedef struct file_seen {
	const char *origin;    /* rootfs-diff, ghost-file, memfd */
	const char *path;
	int64_t pid, fd;       /* a holder, -1 when none */
	const unsigned char *p;
	size_t n;
	bool elf, script, program;
} file_seen;

/* KCSI-DROP-001, -002: a program or script new in the rootfs diff */
static void dropped(az *a, const file_seen *fl)
{
	bool hot = temp_or_hidden(fl->path);
	kcsi_evidence *e;
	kcsi_finding *f = az_finding(
		a, hot ? "KCSI-DROP-001" : "KCSI-DROP-002", hot ? KCSI_SEV_HIGH : KCSI_SEV_LOW,
		az_printf("%s %s %s", hot ? "Program or script dropped in" : "New program or script",
			  fl->elf ? "(ELF)" : "(script)", fl->path),
		hot ? az_printf("%s appeared in the container after it started, in a temporary or hidden directory where "
				"attackers stage their tools.", fl->path)
		    : az_printf("%s appeared in the container after it started (it is not part of the image).", fl->path),
		fl->script ? "T1105 T1059" : "T1105");
	if ((e = az_evidence(f, "rootfs", -1, -1))) {
		e->path = strdup(fl->path);
		kcsi_evidence_excerpt(e, fl->p, fl->n < 120 ? fl->n : 120, 120);
		e->command = strdup("kcsi recover --out DIR ARCHIVE");
	}
}

/* KCSI-STAGE-001: data gathered for theft, outside its place */
static void staged(az *a, const file_seen *fl)
{
	static const char *const own_place[] = {"/etc/passwd", "etc/passwd", "/etc/shadow", "etc/shadow",
						"etc/group", "/etc/group"};
	const char *what = staged_kind(fl->p, fl->n);
	kcsi_finding *f;
	kcsi_evidence *e;
	if (!what)
		return;
	for (size_t i = 0; i < sizeof(own_place) / sizeof(own_place[0]); i++)
		if (!strcmp(fl->path, own_place[i]))
			return;
	f = az_finding(a, "KCSI-STAGE-001", KCSI_SEV_HIGH, az_printf("Copy of %s in %s", what, fl->path),
		       az_printf("%s (%s) holds %s outside the place such data belongs: data gathered for theft.", fl->path,
				 fl->origin, what),
		       "T1074.001 T1005 T1003.008");
	if ((e = az_evidence(f, fl->origin, fl->pid, fl->fd))) {
		e->path = strdup(fl->path);
		kcsi_evidence_excerpt(e, fl->p, fl->n < 80 ? fl->n : 80, 80);
		e->command = strdup("kcsi recover --out DIR ARCHIVE");
	}
}

/* KCSI-INJECT-004, KCSI-PERSIST-001: files that decide what runs */
static void persistence(az *a, const char *path)
{
	const char *q = path;
	kcsi_finding *f;
	kcsi_evidence *e;
	while (*q == '/')
		q++;
	if (!strcmp(q, "etc/ld.so.preload")) {
		f = az_finding(a, "KCSI-INJECT-004", KCSI_SEV_HIGH, az_printf("/etc/ld.so.preload was written"),
			       az_printf("/etc/ld.so.preload makes every program load the libraries it lists."), "T1574.006");
	} else if (!fnmatch("etc/cron*", q, 0) || !fnmatch("var/spool/cron/*", q, 0) || strstr(q, ".ssh/authorized_keys") ||
		   !strcmp(q, "etc/rc.local") || !fnmatch("etc/profile.d/*", q, 0) || !fnmatch("*/.bashrc", q, 0) ||
		   !fnmatch("etc/systemd/system/*", q, 0) || !fnmatch("etc/init.d/*", q, 0)) {
		f = az_finding(a, "KCSI-PERSIST-001", KCSI_SEV_MEDIUM, az_printf("Persistence file changed: %s", path),
			       az_printf("%s decides what runs at start-up, on a schedule or at log-in; changing it inside a "
					 "container is a way to stay.", path),
			       strstr(q, "cron") ? "T1053.003" : strstr(q, "authorized_keys") ? "T1098.004" : "T1037");
	} else {
		return;
	}
	if ((e = az_evidence(f, "rootfs", -1, -1)))
		e->path = strdup(path);
}

/* Look at one file's content: strings, YARA, its hash when it is a program
 * (sha256: the hex the caller made already, or NULL), then the rules. */
static void examine_file(az *a, const char *origin, const char *path, uint32_t mode, int64_t pid, int64_t fd,
			 const unsigned char *p, size_t n, const char *sha256)
{
	const char *ext = strrchr(path, '.');
	file_seen fl = {origin, path, pid, fd, p, n, n >= 4 && !memcmp(p, "\x7f" "ELF", 4), n >= 2 && p[0] == '#' && p[1] == '!',
			false};
	bool script_ext = ext && (!strcmp(ext, ".sh") || !strcmp(ext, ".pl") || !strcmp(ext, ".py") ||
				  !strcmp(ext, ".rb") || !strcmp(ext, ".php") || !strcmp(ext, ".elf"));
	bool rootfs = !strcmp(origin, "rootfs-diff");
	char hex[65];
	kcsi_ioc_prov pv;

	fl.program = fl.elf || fl.script || script_ext || (mode & 0111);
	az_strings_of(a, origin, pid >= 0 ? (uint32_t)pid : 0, fd, 0, false, path, p, n, 0, n, 2);
	if (a->yara) {
		kcsi_error err;
		a->target = (az_scan_target){.file = path};
		kcsi_error_clear(&err);
		kcsi_yara_scan(a->yara, p, n, az_on_yara, a, &err);
		a->target.file = NULL;
	}
	if (fl.program) {
		if (!sha256)
			kcsi_sha256_hex(p, n, hex);
		kcsi_iocs_add_prov(&a->r->iocs, "sha256", sha256 ? sha256 : hex, 2, az_ioc_prov_file(&pv, origin, path, pid, fd));
	}
	if (rootfs && fl.program)
		dropped(a, &fl);
	staged(a, &fl);
	if (rootfs)
		persistence(a, path);
}

/* ---- the contents the checkpoint holds ---- */

static void diff_entry(az *a, struct archive *ar, struct archive_entry *en, unsigned char *buf)
{
	const char *name = archive_entry_pathname(en);
	char path[4200];
	la_ssize_t got;
	size_t n = 0;
	if (!name)
		return;
	snprintf(path, sizeof(path), "/%s", name[0] == '/' ? name + 1 : name);
	az_event(a, (int64_t)archive_entry_mtime(en) * 1000000 + archive_entry_mtime_nsec(en) / 1000, "Modification Time",
		 az_printf("%s %s in the container's rootfs diff", archive_entry_filetype(en) == AE_IFDIR ? "directory" : "file",
			   path),
		 path, -1);
	if (archive_entry_filetype(en) != AE_IFREG)
		return;
	while (n < AZ_MAX_FILE_SCAN && (got = archive_read_data(ar, buf + n, AZ_MAX_FILE_SCAN - n)) > 0)
		n += (size_t)got;
	examine_file(a, "rootfs-diff", path, archive_entry_mode(en), -1, -1, buf, n, NULL);
}

void az_family_rootfs_diff(az *a)
{
	struct archive *ar;
	struct archive_entry *en;
	unsigned char *buf;

	if (ck_member_tar(a->c, "rootfs-diff.tar", &ar, NULL) != KCSI_OK || !ar)
		return;
	if (!(buf = malloc(AZ_MAX_FILE_SCAN))) {
		archive_read_free(ar);
		return;
	}
	while (archive_read_next_header(ar, &en) == ARCHIVE_OK)
		diff_entry(a, ar, en, buf);
	archive_read_free(ar);
	free(buf);
}

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
		if ((!g->has_chunks || !g->chunks) && S_ISREG(g->mode))
			examine_file(a, "ghost-file", path, g->mode, pid, fd, img.data + img.pos, img.size - img.pos, NULL);
	}
}

/* The memfd descriptors, by inode id (in the order of the files image). */
static size_t memfd_files(kcsi_ckpt *c, struct ck_idref **out)
{
	size_t n = 0;
	*out = malloc((c->nfiles ? c->nfiles : 1) * sizeof(**out));
	for (size_t f = 0; *out && f < c->nfiles; f++)
		if (c->files[f]->type == FD_TYPES__MEMFD && c->files[f]->memfd)
			(*out)[n++] = (struct ck_idref){c->files[f]->memfd->inode_id, f, c->files[f], NULL};
	ck_index_sort(*out, n);
	return n;
}

/* The first process (and fd) that holds a descriptor of the inode. */
static void memfd_holder(kcsi_ckpt *c, const struct ck_idref *ix, size_t n, uint32_t inode_id, int64_t *pid,
			 int64_t *fd)
{
	const struct ck_idref *r = ck_index_find(ix, n, inode_id);
	for (; r && r < ix + n && r->id == inode_id && *pid < 0; r++)
		ck_file_holder(c, ((const FileEntry *)r->p)->id, pid, fd);
}

/* How much of a memfd to look at: up to the last byte the checkpoint holds
 * (holes before it read as zeros), within the size and AZ_MAX_FILE_SCAN. */
static size_t memfd_extent(const MemfdInodeEntry *ino, const kcsi_memrun *runs, size_t nr)
{
	uint64_t limit = ino->size < AZ_MAX_FILE_SCAN ? ino->size : AZ_MAX_FILE_SCAN, end = 0;
	for (size_t k = 0; k < nr; k++)
		if (runs[k].vaddr < limit) {
			uint64_t e = runs[k].len < limit - runs[k].vaddr ? runs[k].vaddr + runs[k].len : limit;
			end = e > end ? e : end;
		}
	return (size_t)end;
}

static void examine_memfd(az *a, const MemfdInodeEntry *ino, const struct ck_idref *ix, size_t nix)
{
	const kcsi_memrun *runs;
	size_t nr, size;
	unsigned char *buf;
	char path[300], hex[65];
	int64_t pid = -1, fd = -1;
	kcsi_ioc_prov pv;
	if (kcsi_ckpt_shmem(a->c, ino->shmid, &runs, &nr, NULL) != KCSI_OK)
		return;
	size = memfd_extent(ino, runs, nr);
	if (!(buf = calloc(1, size ? size : 1)))
		return;
	for (size_t k = 0; k < nr; k++)
		if (runs[k].vaddr < size)
			memcpy(buf + runs[k].vaddr, runs[k].data,
			       (size_t)(runs[k].len < size - runs[k].vaddr ? runs[k].len : size - runs[k].vaddr));
	snprintf(path, sizeof(path), "/memfd:%s", ino->name ? ino->name : "");
	memfd_holder(a->c, ix, nix, ino->inode_id, &pid, &fd);
	kcsi_sha256_hex(buf, size, hex);
	kcsi_iocs_add_prov(&a->r->iocs, "sha256", hex, 2, az_ioc_prov_file(&pv, "memfd", path, pid, fd)); /* examine_file counts it again (a program, mode 0755) */
	examine_file(a, "memfd", path, 0755, pid, fd, buf, size, hex);
	free(buf);
}

void az_family_memfds(az *a)
{
	ProtobufCMessage **all;
	struct ck_idref *ix;
	size_t n, nix;
	if (ck_read_all(a->c, "memfd.img", "MEMFD_INODE", &all, &n, NULL) != KCSI_OK)
		return;
	nix = memfd_files(a->c, &ix);
	for (size_t i = 0; i < n; i++)
		examine_memfd(a, (const MemfdInodeEntry *)all[i], ix, nix);
	free(ix);
}
