/* kcsi fuzz target: the members of a checkpoint that detonate applies on
 * the host, through the confinement plan (lib/sandbox/confine.c): the tar
 * sanitiser of rootfs-diff.tar, devshm-checkpoint.tar and the tmpfs images,
 * and the deleted.files filter.
 *
 * Input: one byte that names the member (its value modulo 4: rootfs-diff.tar,
 * devshm-checkpoint.tar, deleted.files, checkpoint/tmpfs-dev-45.tar.gz.img),
 * then the member's bytes.  A tar member gets its header checksums set
 * right first, so that mutations reach the sanitiser rather than stop at
 * libarchive's checksum test.  The member is put in a real checkpoint (the
 * counter fixture, tests/data/fixtures/, its own applied members, tmpfs
 * images and memory pages left out), which is opened as detonate opens it
 * and planned with det_confine_plan() against an image root holding the
 * usual top-level symbolic links; a plan that succeeds writes its restore
 * copy.  The report must be JSON every reader takes.  Run as root, the
 * target first moves into a mount namespace of its own (the plan mounts a
 * tmpfs for the bind mounts' sources).  Files go to a directory of the
 * process's own.
 * Environment: KCSI_FUZZ_FIXTURES (default: the source tree's
 * tests/data/fixtures).
 */
#include <archive.h>
#include <archive_entry.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "kcsi/ckpt.h"
#include "sandbox/sandbox_int.h"

#ifndef KCSI_FUZZ_FIXTURES
#define KCSI_FUZZ_FIXTURES "tests/data/fixtures"
#endif

struct tmember {
	char *name;
	mode_t mode;
	void *data;
	size_t size;
};

static struct tmember *tmpl;
static size_t ntmpl;
static char work[4200], image_root[4200];

static const char *const applied[] = {"rootfs-diff.tar", "devshm-checkpoint.tar", "deleted.files",
				      "checkpoint/tmpfs-dev-45.tar.gz.img"};

/* the fixture's members, without those the input stands for */
static void load_template(const char *path)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		fprintf(stderr, "fuzz_confine: %s: %s\n", path, archive_error_string(a));
		abort();
	}
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		struct tmember *m;
		if (!strcmp(name, "rootfs-diff.tar") || !strcmp(name, "devshm-checkpoint.tar") ||
		    !strcmp(name, "deleted.files") || !strncmp(name, "checkpoint/tmpfs-", 17) ||
		    !strncmp(name, "checkpoint/pages-", 17))
			continue; /* the members the input stands for, and memory (the plan reads none) */
		tmpl = realloc(tmpl, (ntmpl + 1) * sizeof(*tmpl));
		m = &tmpl[ntmpl++];
		m->name = strdup(name);
		m->mode = archive_entry_mode(e);
		m->size = archive_entry_filetype(e) == AE_IFREG ? (size_t)archive_entry_size(e) : 0;
		m->data = malloc(m->size ? m->size : 1);
		if (!tmpl || !m->name || !m->data ||
		    (m->size && archive_read_data(a, m->data, m->size) != (la_ssize_t)m->size))
			abort();
	}
	archive_read_free(a);
}

static void make_image_root(void)
{
	static const char *const links[][2] = {{"bin", "usr/bin"}, {"lib", "usr/lib"}, {"sbin", "usr/sbin"},
					       {"lib64", "usr/lib64"}, {"tmp/x", "/etc"}};
	char p[4400];
	snprintf(image_root, sizeof(image_root), "%s/image", fuzz_workdir());
	snprintf(p, sizeof(p), "%s/tmp", image_root);
	if (mkdir(image_root, 0755) != 0 || mkdir(p, 01777) != 0)
		abort();
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", image_root, links[i][0]);
		if (symlink(links[i][1], p) != 0)
			abort();
	}
	snprintf(p, sizeof(p), "%s/etc", image_root);
	if (mkdir(p, 0755) != 0)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("KCSI_FUZZ_FIXTURES");
	char path[4200];
	(void)argc;
	(void)argv;
	/* the tmpfs the plan mounts stays in a namespace of this process */
	if (geteuid() == 0 && unshare(CLONE_NEWNS) == 0)
		mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	snprintf(path, sizeof(path), "%s/checkpoint-counter.tar", dir && *dir ? dir : KCSI_FUZZ_FIXTURES);
	load_template(path);
	make_image_root();
	snprintf(work, sizeof(work), "%s/work", fuzz_workdir());
	return 0;
}

static uint64_t octal(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i = 0;
	while (i < n && p[i] == ' ')
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++)
		v = v << 3 | (uint64_t)(p[i] - '0');
	return v;
}

/* Set the checksum of each ustar header block, following the sizes. */
static void fix_checksums(uint8_t *p, size_t n)
{
	for (size_t off = 0; off + 512 <= n;) {
		uint8_t *h = p + off;
		unsigned sum = 0;
		uint64_t size;
		bool zero = true;
		for (size_t i = 0; i < 512 && zero; i++)
			zero = h[i] == 0;
		if (zero)
			break;
		memset(h + 148, ' ', 8);
		for (size_t i = 0; i < 512; i++)
			sum += h[i];
		snprintf((char *)h + 148, 8, "%06o", sum & 0777777);
		h[155] = ' ';
		if (h[124] & 0x80)
			break; /* base-256 size: leave the rest as it is */
		size = octal(h + 124, 12);
		if (size > n)
			break;
		off += 512 + (size_t)((size + 511) & ~(uint64_t)511);
	}
}

static void add_member(struct archive *w, const char *name, mode_t mode, const void *data, size_t size)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_mode(e, mode);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, 1764208080, 0);
	if (archive_write_header(w, e) != ARCHIVE_OK || (size && archive_write_data(w, data, size) != (la_ssize_t)size))
		abort();
	archive_entry_free(e);
}

static void plan(const char *path)
{
	det_confine_opts o = {.work = work, .container_name = "kcsi-fuzz", .image_name = "localhost/fuzz:1",
			      .image_id = "8d2f0c9e1b7a", .image_root = image_root,
			      .netns_path = "/run/netns/kcsi-fuzz"};
	det_confine *cf = NULL;
	kcsi_ckpt *c = NULL;
	kcsi_error err;
	kcsi_error_clear(&err);
	if (kcsi_ckpt_open(path, KCSI_CKPT_BULK, &c, &err) != KCSI_OK) {
		fuzz_touch(err.msg);
		return;
	}
	if (mkdir(work, 0700) != 0)
		abort();
	if (det_confine_plan(c, &o, &cf, &err) == KCSI_OK) {
		char copy[4300];
		snprintf(copy, sizeof(copy), "%s/copy.tar", work);
		kcsi_error_clear(&err);
		if (det_confine_write_copy(c, cf, copy, &err) != KCSI_OK)
			fuzz_touch(err.msg);
		fuzz_touch(det_confine_container_id(cf));
		det_confine_finish(cf);
	} else {
		fuzz_touch(err.msg);
	}
	{
		json_t *rep = det_confine_report(cf);
		fuzz_check_json(rep);
		json_decref(rep);
	}
	det_confine_free(cf);
	kcsi_ckpt_close(c);
	fuzz_clear_dir(work);
	rmdir(work);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct archive *w;
	uint8_t *member;
	char path[64];
	unsigned kind;
	int fd;
	if (size < 1)
		return 0;
	kind = data[0] % 4;
	member = malloc(size);
	if (!member)
		return 0;
	memcpy(member, data + 1, size - 1);
	if (kind != 2)
		fix_checksums(member, size - 1);
	/* the checkpoint: the fixture's members and this one */
	fd = fuzz_memfd(NULL, 0, path, sizeof(path));
	w = archive_write_new();
	archive_write_set_format_pax_restricted(w);
	if (archive_write_open_fd(w, fd) != ARCHIVE_OK)
		abort();
	for (size_t i = 0; i < ntmpl; i++)
		add_member(w, tmpl[i].name, tmpl[i].mode, tmpl[i].data, tmpl[i].size);
	add_member(w, applied[kind], AE_IFREG | 0644, member, size - 1);
	if (archive_write_close(w) != ARCHIVE_OK)
		abort();
	archive_write_free(w);
	free(member);
	plan(path);
	close(fd);
	return 0;
}
