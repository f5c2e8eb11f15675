/* kcsi mounts — mounts from the CRIU mountpoints images and from spec.dump. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct opt opts[] = {
	OPTS_JSON,
	{0},
};

static int run(struct args *a)
{
	kcsi_ckpt *c;
	kcsi_mount *v;
	size_t n;
	kcsi_error err;
	struct out o;
	int rc;

	kcsi_error_clear(&err);
	if ((rc = open_ckpt(a->pos[0], 0, &c)))
		return rc;
	if (kcsi_ckpt_mounts(c, &v, &n, &err) != KCSI_OK) {
		return ckpt_fail(c, a->pos[0], &err);
	}
	out_open(&o, a);
	if (o.json) {
		kcsi_jsonw *w = &o.w;
		kcsi_jw_arr(w);
		for (size_t i = 0; i < n; i++) {
			kcsi_jw_obj(w);
			kcsi_jw_kstr(w, "origin", v[i].origin);
			if (!strcmp(v[i].origin, "criu")) {
				kcsi_jw_kuint(w, "mnt_id", v[i].mnt_id);
				kcsi_jw_kuint(w, "parent_id", v[i].parent_id);
				kcsi_jw_kstr(w, "root", v[i].root);
			}
			kcsi_jw_kstr(w, "mountpoint", v[i].mountpoint);
			kcsi_jw_kstr(w, "source", v[i].source);
			kcsi_jw_kstr(w, "fstype", v[i].fstype);
			kcsi_jw_kstr(w, "options", v[i].options);
			if (!strcmp(v[i].origin, "criu")) {
				kcsi_jw_kuint(w, "flags", v[i].flags);
				kcsi_jw_kbool(w, "external", v[i].external);
			}
			kcsi_jw_obj_end(w);
		}
		kcsi_jw_arr_end(w);
		kcsi_jw_end(w);
	} else {
		struct table t;
		table_init(&t, 7);
		table_add(&t, "ORIGIN", "ID", "PARENT", "MOUNTPOINT", "FSTYPE", "SOURCE", "OPTIONS");
		for (size_t i = 0; i < n; i++) {
			char id[16] = "-", par[16] = "-";
			if (!strcmp(v[i].origin, "criu")) {
				snprintf(id, sizeof(id), "%u", v[i].mnt_id);
				snprintf(par, sizeof(par), "%u", v[i].parent_id);
			}
			table_add(&t, v[i].origin, id, par, v[i].mountpoint, v[i].fstype, v[i].source,
				  v[i].options ? v[i].options : "");
		}
		table_print(&t, &o);
		table_free(&t);
	}
	free(v);
	kcsi_ckpt_close(c);
	return out_close(&o, 0);
}

const struct cmd cmd_mounts = {
	.synopsis = "[--json] ARCHIVE",
	.summary = "show the container's mounts (CRIU images and the OCI spec)",
	.description =
		"The mount tree CRIU saved (mountpoints-*.img: id, parent, mount point, file system,\n"
		"source, options, external bind mounts), followed by the mounts of the OCI\n"
		"runtime spec (spec.dump).",
	.json_doc =
		"An array of objects: origin (\"criu\" or \"spec\"), mnt_id, parent_id, root (criu only),\n"
		"mountpoint, source, fstype, options, flags and external (criu only).",
	.example =
		"$ kcsi mounts checkpoint-perlbot.tar | cut -c1-64\n"
		"ORIGIN  ID   PARENT  MOUNTPOINT              FSTYPE       SOURCE\n"
		"...\n"
		"criu    97   71      /                       overlay      overla\n"
		"...",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.run = run,
};
