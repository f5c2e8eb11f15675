/* kcsi detonate — the archive's members podman applies on the host before
 * the container exists (rootfs-diff.tar, devshm-checkpoint.tar, the tmpfs
 * images, deleted.files), rewritten so that nothing in them can reach out:
 * no absolute or climbing names, no whiteouts, no devices but a container's
 * standard ones (tmpfs of /dev), no hard link to outside the tar, and no name
 * that reaches through a symbolic link of the tar itself or of the image's
 * root file system.  Part of the confinement plan (confine.c). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reader/ckpt_int.h"
#include "sandbox/sandbox_int.h"
#include "sandbox/confine_int.h"
#include "base/safeout.h"

/* Why NAME (clean, relative) may not be applied, or NULL: a component before
 * the last is a symbolic link, in the tar so far or in the image's root. */
static const char *reaches_through_link(const kcsi_strmap *seen, int image_root, const char *name)
{
	char prefix[4096];
	size_t len = strlen(name);
	if (len >= sizeof(prefix))
		return "name too long";
	for (size_t i = 0; i < len; i++) {
		if (name[i] != '/')
			continue;
		memcpy(prefix, name, i);
		prefix[i] = '\0';
		int t = kcsi_strmap_get(seen, prefix, i, 0);
		if (t == 'l')
			return "reaches through a symbolic link of the tar";
		if (t == 'd')
			continue;
		if (t == 'f')
			return "reaches through a file of the tar";
		struct stat st;
		if (image_root >= 0 && fstatat(image_root, prefix, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			return "reaches through a symbolic link of the image";
	}
	return NULL;
}

static bool standard_device(unsigned type, unsigned maj, unsigned min)
{
	static const unsigned chr[][2] = {{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 2}};
	if (type != AE_IFCHR)
		return false;
	for (size_t i = 0; i < sizeof(chr) / sizeof(chr[0]); i++)
		if (chr[i][0] == maj && chr[i][1] == min)
			return true;
	return maj == 136; /* pseudo-terminals */
}

struct tar_rules {
	const char *what;      /* for the report: "rootfs-diff.tar" */
	int image_root;        /* fd of the image's root, or -1 */
	bool allow_devices;    /* standard character devices (tmpfs of /dev) */
	bool gzip;             /* write gzip (tmpfs images) */
};

/* Copy the tar member MEMBER to FILE, keeping only what may be applied. */
static kcsi_code sanitise_tar(kcsi_ckpt *c, det_confine *cf, const char *member, const char *file,
			      const struct tar_rules *r, kcsi_error *err)
{
	struct archive *in = NULL, *out = NULL;
	struct archive_entry *e;
	kcsi_strmap seen = {0};
	uint64_t total = 0;
	unsigned kept = 0, dropped = 0;
	kcsi_code rc;
	int ar;
	if ((rc = ck_member_tar(c, member, &in, err)))
		return rc;
	if (!in)
		return KCSI_OK;
	if (!(out = archive_write_new())) {
		archive_read_free(in);
		return det_cf_nomem(err);
	}
	archive_write_set_format_pax_restricted(out);
	if (r->gzip)
		archive_write_add_filter_gzip(out);
	if (archive_write_open_filename(out, file) != ARCHIVE_OK) {
		rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", file, archive_error_string(out));
		goto done;
	}
	while ((ar = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		char clean[4096];
		const char *why = NULL;
		const char *raw = archive_entry_pathname(e);
		unsigned type = archive_entry_filetype(e);
		const char *base;
		if (raw && raw[strspn(raw, "./")] == '\0' && !strstr(raw, "..") && raw[0] == '.') {
			/* the tar's own root ("." or "./"): its mode and owner */
			archive_entry_set_pathname(e, ".");
			if (archive_write_header(out, e) != ARCHIVE_OK) {
				rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", file, archive_error_string(out));
				goto done;
			}
			continue;
		}
		if (!raw || kcsi_clean_relpath(raw, clean, sizeof(clean)) != 0 || raw[0] == '/' || !clean[0])
			why = "absolute or climbing name";
		else if ((base = strrchr(clean, '/') ? strrchr(clean, '/') + 1 : clean) && !strncmp(base, ".wh.", 4))
			why = "a whiteout (would delete on the host)";
		else if ((why = reaches_through_link(&seen, r->image_root, clean)))
			;
		else if (archive_entry_hardlink(e)) {
			char tgt[4096];
			if (kcsi_clean_relpath(archive_entry_hardlink(e), tgt, sizeof(tgt)) != 0 ||
			    kcsi_strmap_get(&seen, tgt, strlen(tgt), 0) != 'f')
				why = "a hard link to a file outside the tar";
			else
				archive_entry_set_hardlink(e, tgt);
		} else if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO || type == AE_IFSOCK) {
			if (!r->allow_devices ||
			    !standard_device(type, archive_entry_rdevmajor(e), archive_entry_rdevminor(e)))
				why = "a device node, fifo or socket";
		} else if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
			why = "an unknown kind of entry";
		if (!why && (total += (uint64_t)archive_entry_size(e)) > DET_MAX_DIFF_BYTES) {
			rc = kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: %s holds more than %llu bytes: refusing to restore",
					    kcsi_archive_path(c->ar), member, (unsigned long long)DET_MAX_DIFF_BYTES);
			goto done;
		}
		if (why) {
			dropped++;
			det_cf_note(cf, "members_dropped", json_pack("{s:s, s:s, s:s}", "tar", r->what, "name", raw ? raw : "",
							      "reason", why));
			continue;
		}
		if (kcsi_strmap_put(&seen, clean, strlen(clean), type == AE_IFDIR ? 'd' : type == AE_IFLNK ? 'l' : 'f')) {
			rc = det_cf_nomem(err);
			goto done;
		}
		archive_entry_set_pathname(e, clean);
		if (archive_write_header(out, e) != ARCHIVE_OK) {
			rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", file, archive_error_string(out));
			goto done;
		}
		for (;;) {
			const void *buf;
			size_t len;
			la_int64_t off;
			int d = archive_read_data_block(in, &buf, &len, &off);
			if (d == ARCHIVE_EOF)
				break;
			if (d != ARCHIVE_OK || archive_write_data(out, buf, len) < 0) {
				rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: %s: %s", kcsi_archive_path(c->ar), member,
						    archive_error_string(d != ARCHIVE_OK ? in : out));
				goto done;
			}
		}
		kept++;
	}
	if (ar != ARCHIVE_EOF)
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: %s: %s", kcsi_archive_path(c->ar), member,
				    archive_error_string(in));
done:
	archive_read_free(in);
	if (archive_write_close(out) != ARCHIVE_OK && !rc)
		rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", file, archive_error_string(out));
	archive_write_free(out);
	kcsi_strmap_free(&seen);
	if (!rc) {
		struct stat st;
		if (stat(file, &st) != 0)
			return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", file, strerror(errno));
		det_cf_note(cf, "tars", json_pack("{s:s, s:i, s:i}", "tar", r->what, "kept", kept, "dropped", dropped));
		rc = det_cf_add_repl(cf, member, NULL, (size_t)st.st_size, file, err);
	}
	return rc;
}

kcsi_code det_sanitise_tmpfs(kcsi_ckpt *c, det_confine *cf, const kcsi_member *m, kcsi_error *err)
{
	char file[700];
	struct tar_rules r = {.what = m->name, .image_root = -1, .allow_devices = true, .gzip = true};
	snprintf(file, sizeof(file), "%s/tmpfs-%zu.tar.gz", cf->work, cf->nrepl);
	return sanitise_tar(c, cf, m->name, file, &r, err);
}

/* deleted.files: a JSON array of paths podman removes from the new rootfs
 * (on the host, before the container exists). */
static kcsi_code sanitise_deleted(kcsi_ckpt *c, det_confine *cf, int image_root, kcsi_error *err)
{
	const kcsi_member *m = kcsi_archive_find(c->ar, "deleted.files");
	const unsigned char *data;
	json_t *in, *keep, *v;
	json_error_t je;
	size_t i;
	kcsi_code rc;
	kcsi_strmap none = {0};
	if (!m)
		return KCSI_OK;
	if ((rc = kcsi_member_data(c->ar, m, &data, err)))
		return rc;
	if (!(keep = json_array()))
		return det_cf_nomem(err);
	in = json_loadb((const char *)data, (size_t)m->size, 0, &je);
	json_array_foreach(in, i, v) {
		char clean[4096];
		const char *why = NULL;
		if (!json_is_string(v) || kcsi_clean_relpath(json_string_value(v), clean, sizeof(clean)) != 0 || !clean[0])
			why = "climbing or empty path";
		else
			why = reaches_through_link(&none, image_root, clean);
		if (why)
			det_cf_note(cf, "members_dropped", json_pack("{s:s, s:s?, s:s}", "tar", "deleted.files", "name",
							      json_string_value(v), "reason", why));
		else
			json_array_append_new(keep, json_string(clean));
	}
	if (in && !json_is_array(in))
		det_cf_note(cf, "members_dropped", json_pack("{s:s, s:s}", "tar", "deleted.files", "reason", "not a JSON array"));
	json_decref(in);
	char *txt = json_dumps(keep, JSON_COMPACT);
	json_decref(keep);
	if (!txt)
		return det_cf_nomem(err);
	return det_cf_add_repl(cf, "deleted.files", (unsigned char *)txt, strlen(txt), NULL, err);
}

kcsi_code det_sanitise_host_members(kcsi_ckpt *c, det_confine *cf, int image_root, kcsi_error *err)
{
	char file[700];
	struct tar_rules r = {.what = "rootfs-diff.tar", .image_root = image_root};
	struct tar_rules s = {.what = "devshm-checkpoint.tar", .image_root = -1};
	kcsi_code rc;
	snprintf(file, sizeof(file), "%s/rootfs-diff.tar", cf->work);
	if ((rc = sanitise_tar(c, cf, "rootfs-diff.tar", file, &r, err)) != KCSI_OK)
		return rc;
	snprintf(file, sizeof(file), "%s/devshm-checkpoint.tar", cf->work);
	if ((rc = sanitise_tar(c, cf, "devshm-checkpoint.tar", file, &s, err)) != KCSI_OK)
		return rc;
	return sanitise_deleted(c, cf, image_root, err);
}
