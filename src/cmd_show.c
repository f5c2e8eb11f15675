/* kcsi show — one row per checkpoint archive. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct opt opts[] = {
	{"stats", 's', NULL, "add every field of the CRIU dump statistics (stats-dump)", .kind = OPT_FLAG},
	OPTS_JSON,
	{0},
};

/* stats-dump is a CRIU STATS image; its dump_stats_entry fields as JSON */
static int stats_json(kcsi_ckpt *c, struct out *o);

static int run(struct args *a)
{
	struct out o;
	struct table t;
	int rc = 0;
	bool stats = opt_set(a, "stats");
	bool *opened = calloc((size_t)a->npos + 1, sizeof(bool));

	if (!opened) {
		fputs("kcsi: out of memory\n", stderr);
		return KCSI_ERR_NOMEM;
	}

	out_open(&o, a);
	table_init(&t, 9);
	table_add(&t, "CONTAINER", "ENGINE", "IMAGE", "CHECKPOINTED", "POD/NAMESPACE", "IP", "PROCS",
		  "SIZE", "FILE");
	if (o.json)
		kcsi_jw_arr(&o.w);
	for (int i = 0; i < a->npos; i++) {
		kcsi_ckpt *c;
		const kcsi_meta *m;
		int r = open_ckpt(a->pos[i], 0, &c);
		if (r) {
			rc = r;
			continue;
		}
		opened[i] = true;
		m = kcsi_ckpt_meta(c);
		if (o.json) {
			kcsi_jsonw *w = &o.w;
			kcsi_jw_obj(w);
			kcsi_jw_kstr(w, "file", a->pos[i]);
			kcsi_jw_kstr(w, "container", m->container);
			kcsi_jw_kstr(w, "id", m->id);
			kcsi_jw_kstr(w, "image", m->image);
			kcsi_jw_kstr(w, "image_id", m->image_id);
			kcsi_jw_kstr(w, "engine", m->engine);
			kcsi_jw_kstr(w, "runtime", m->runtime);
			kcsi_jw_kstr(w, "created", m->created);
			kcsi_jw_kstr(w, "checkpointed", m->checkpointed);
			kcsi_jw_kstr(w, "checkpointed_source", m->checkpointed_source);
			kcsi_jw_kstr(w, "pod", m->pod);
			kcsi_jw_kstr(w, "namespace", m->namespace_);
			kcsi_jw_kstr(w, "ip", m->ip);
			kcsi_jw_kstr(w, "hostname", m->hostname);
			kcsi_jw_kuint(w, "processes", kcsi_ckpt_nprocs(c));
			kcsi_jw_kuint(w, "checkpoint_size", m->checkpoint_size);
			kcsi_jw_kuint(w, "memory_size", m->memory_size);
			kcsi_jw_kuint(w, "rootfs_diff_size", m->rootfs_diff_size);
			kcsi_jw_kstr(w, "archive", kcsi_archive_kind(kcsi_ckpt_archive(c)));
			kcsi_jw_kuint(w, "criu_image_version", m->img_version);
			if (stats) {
				kcsi_jw_key(w, "stats");
				r = stats_json(c, &o);
				if (r)
					rc = r;
			}
			kcsi_jw_obj_end(w);
		} else {
			char procs[16], size[32], pn[256];
			snprintf(procs, sizeof(procs), "%zu", kcsi_ckpt_nprocs(c));
			human_size(m->checkpoint_size, size, sizeof(size));
			snprintf(pn, sizeof(pn), "%s/%s", m->pod ? m->pod : "-", m->namespace_ ? m->namespace_ : "-");
			table_add(&t, m->container, m->engine, m->image, m->checkpointed, pn, m->ip, procs, size,
				  a->pos[i]);
		}
		kcsi_ckpt_close(c);
	}
	if (o.json) {
		kcsi_jw_arr_end(&o.w);
		kcsi_jw_end(&o.w);
	} else {
		table_print(&t, &o);
	}
	table_free(&t);
	if (!o.json && stats) {
		for (int i = 0; i < a->npos; i++) {
			kcsi_ckpt *c;
			if (!opened[i] || open_ckpt(a->pos[i], KCSI_CKPT_META_ONLY, &c))
				continue;
			fprintf(o.f, "\n%s", c_bold(&o));
			print_escaped_str(o.f, a->pos[i]);
			fprintf(o.f, ": CRIU dump statistics%s\n", c_off(&o));
			struct out tmp = o;
			tmp.json = true;
			kcsi_jw_init(&tmp.w, o.f, 2);
			stats_json(c, &tmp);
			fputc('\n', o.f);
			kcsi_ckpt_close(c);
		}
	}
	/* the archives that opened are shown, those that did not reported;
	 * when none opened, nothing is shown */
	for (int i = 0; i < a->npos; i++)
		if (opened[i]) {
			free(opened);
			return out_close_partial(&o, rc);
		}
	free(opened);
	return out_close(&o, rc);
}

#include "kcsi/decode.h"

static int stats_json(kcsi_ckpt *c, struct out *o)
{
	kcsi_error err;
	kcsi_error_clear(&err);
	if (kcsi_decode_stats(c, &o->w, &err) != KCSI_OK)
		return fail(&err);
	return 0;
}

const struct cmd cmd_show = {
	.synopsis = "[--stats] [--json] ARCHIVE...",
	.summary = "summarise checkpoints: container, image, engine, times, pod, IP, sizes",
	.description =
		"One row per archive.  The engine is recognised from the metadata: podman\n"
		"(io.container.manager=libpod), CRI-O (the kubelet's checkpoints on CRI-O) or\n"
		"containerd (io.kubernetes.cri.* annotations).  When the metadata does not record\n"
		"the checkpoint time, the time of checkpoint/inventory.img in the archive is used\n"
		"(checkpointed_source says which).",
	.json_doc =
		"An array of objects, one per archive:\n"
		"  file, container, id, image, image_id, engine, runtime, created, checkpointed,\n"
		"  checkpointed_source, pod, namespace, ip, hostname   strings or null\n"
		"  processes                          number of processes\n"
		"  checkpoint_size                    bytes of the archive\n"
		"  memory_size                        bytes of memory pages (pages-*.img)\n"
		"  rootfs_diff_size                   bytes of rootfs-diff.tar\n"
		"  archive                            tar, tar+gzip, tar+zstd, directory...\n"
		"  criu_image_version                 the inventory's image version\n"
		"  stats                              (--stats) the CRIU dump statistics",
	.example =
		"$ kcsi show checkpoint-perlbot.tar\n"
		"CONTAINER  ENGINE  IMAGE                     CHECKPOINTED          POD/NAMESPACE  IP  PROCS  SIZE     FILE\n"
		"webapp     podman  localhost/debian-perl:12  2026-11-27T01:48:40Z  -/-            -   3      3.3 MiB  checkpoint-perlbot.tar",
	.opts = opts,
	.exit_doc = "An archive that cannot be read is reported and the others shown; the exit\n"
		    "status is that archive's error.",
	.min_pos = 1,
	.max_pos = -1,
	.run = run,
};
