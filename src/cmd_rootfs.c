/* kcsi rootfs — what changed in the container's filesystem. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kcsi/recover.h"
#include "kcsi/timefmt.h"

static const struct opt opts[] = {
	OPTS_JSON,
	{0},
};

/* The path in the container ("/var/log/app.log"), as every other view shows
 * it (the diff's members are relative); malloc'd, NULL when memory is short. */
static char *absolute(const char *rel)
{
	char *p;
	return asprintf(&p, "/%s", rel[0] == '/' ? rel + 1 : rel) < 0 ? NULL : p;
}

static int run(struct args *a)
{
	kcsi_ckpt *c;
	kcsi_rootfs_entry *v;
	size_t n;
	kcsi_error err;
	struct out o;
	int rc;

	kcsi_error_clear(&err);
	if ((rc = open_ckpt(a->pos[0], KCSI_CKPT_BULK | KCSI_CKPT_META_ONLY, &c)))
		return rc;
	if (kcsi_rootfs_list(c, &v, &n, &err) != KCSI_OK) {
		rc = fail(&err);
		kcsi_ckpt_close(c);
		return rc;
	}
	out_open(&o, a);
	if (o.json) {
		kcsi_jsonw *w = &o.w;
		kcsi_jw_arr(w);
		for (size_t i = 0; i < n; i++) {
			char mt[KCSI_TIME_TEXT_MAX];
			kcsi_jw_obj(w);
			char *abs = absolute(v[i].path);
			kcsi_jw_kstr(w, "path", abs ? abs : v[i].path);
			free(abs);
			kcsi_jw_kstr(w, "type", v[i].type);
			kcsi_jw_kuint(w, "mode", v[i].mode);
			kcsi_jw_kint(w, "uid", v[i].uid);
			kcsi_jw_kint(w, "gid", v[i].gid);
			kcsi_jw_kuint(w, "size", v[i].size);
			if (!v[i].deleted && *kcsi_time_text(mt, sizeof(mt), v[i].mtime, false)) {
				kcsi_jw_kstr(w, "mtime", mt);
			} else {
				kcsi_jw_key(w, "mtime");
				kcsi_jw_null(w);
			}
			kcsi_jw_kstr(w, "target", v[i].target);
			kcsi_jw_kbool(w, "deleted", v[i].deleted);
			kcsi_jw_obj_end(w);
		}
		kcsi_jw_arr_end(w);
		kcsi_jw_end(w);
	} else {
		struct table t;
		table_init(&t, 6);
		table_add(&t, "TYPE", "MODE", "OWNER", "SIZE", "MTIME", "PATH");
		for (size_t i = 0; i < n; i++) {
			char mode[16], own[48], size[32], mt[KCSI_TIME_TEXT_MAX] = "-", *path;
			snprintf(mode, sizeof(mode), "%o", v[i].mode & 07777);
			snprintf(own, sizeof(own), "%" PRId64 ":%" PRId64, v[i].uid, v[i].gid);
			snprintf(size, sizeof(size), "%" PRIu64, v[i].size);
			if (!v[i].deleted && !*kcsi_time_text(mt, sizeof(mt), v[i].mtime, true))
				strcpy(mt, "-");
			char *abs = absolute(v[i].path);
			const char *shown = abs ? abs : v[i].path;
			if (!v[i].target || asprintf(&path, "%s -> %s", shown, v[i].target) < 0)
				path = strdup(shown);
			free(abs);
			table_add(&t, v[i].type, v[i].deleted ? "-" : mode, v[i].deleted ? "-" : own,
				  v[i].deleted ? "-" : size, mt, path);
			free(path);
		}
		table_print(&t, &o);
		table_free(&t);
	}
	kcsi_rootfs_free(v, n);
	kcsi_ckpt_close(c);
	return out_close(&o, 0);
}

const struct cmd cmd_rootfs = {
	.synopsis = "[--json] ARCHIVE",
	.summary = "list what changed in the container's filesystem (rootfs diff, deleted files)",
	.description =
		"The entries of rootfs-diff.tar (files the container created or changed: type,\n"
		"mode, owner, size, mtime, link target) and the paths in deleted.files (files the\n"
		"container deleted from its image).  Use kcsi recover to write their contents.",
	.json_doc = "An array of {path, type (file, dir, symlink, hardlink, char, block, fifo, deleted),\n"
		    "mode, uid, gid, size, mtime (RFC 3339 or null), target, deleted}.",
	.example =
		"$ kcsi rootfs checkpoint-perlbot.tar\n"
		"TYPE  MODE  OWNER  SIZE  MTIME                PATH\n"
		"...\n"
		"file  600   0:0    1207  2026-11-27 01:48:33  /tmp/perlbot.pl\n"
		"...",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.run = run,
};
