/* kcsi recover — carve ghost files, memfd programs, TCP queues, the rootfs
 * diff and logs out of a checkpoint, with a manifest of hashes. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kcsi/recover.h"

static const struct opt opts[] = {
	{"out", 'o', "DIR", "write below DIR (created if needed; required)"},
	{"force", 'f', NULL, "overwrite files that exist in DIR"},
	{"max-file", 0, "BYTES", "refuse recovered files larger than BYTES (default 4294967296)"},
	{"json", 'j', NULL, "print the manifest as JSON"},
	{"pretty", 0, NULL, "indent the JSON"},
	{0},
};

static int run(struct args *a)
{
	kcsi_ckpt *c;
	kcsi_recover_opts ro = {0};
	kcsi_recovery r;
	kcsi_error err;
	struct out o;
	int rc;

	kcsi_error_clear(&err);
	ro.out_dir = opt_val(a, "out");
	if (!ro.out_dir)
		return usage_error(a->cmd, "--out DIR is required");
	ro.force = opt_set(a, "force");
	opt_uint(a, "max-file", &ro.max_file);
	if ((rc = open_ckpt(a->pos[0], KCSI_CKPT_MEMORY | KCSI_CKPT_BULK, &c)))
		return rc;
	if (kcsi_recover(c, &ro, &r, &err) != KCSI_OK) {
		kcsi_error_prefix(&err, "%s", a->pos[0]);
		rc = fail(&err);
		kcsi_recovery_free(&r);
		kcsi_ckpt_close(c);
		return rc;
	}
	out_open(&o, a);
	if (o.json) {
		kcsi_jsonw *w = &o.w;
		kcsi_jw_arr(w);
		for (size_t i = 0; i < r.n; i++) {
			const kcsi_item *it = &r.items[i];
			kcsi_jw_obj(w);
			kcsi_jw_kstr(w, "file", it->file);
			kcsi_jw_kstr(w, "origin", it->origin);
			kcsi_jw_kstr(w, "source", it->source);
			kcsi_jw_kuint(w, "size", it->size);
			kcsi_jw_kstr(w, "sha256", it->sha256[0] ? it->sha256 : NULL);
			kcsi_jw_kstr(w, "refused", it->refused);
			kcsi_jw_obj_end(w);
		}
		kcsi_jw_arr_end(w);
		kcsi_jw_end(w);
	} else {
		struct table t;
		table_init(&t, 6);
		table_add(&t, "ORIGIN", "PID", "FD", "SIZE", "SOURCE", "FILE");
		for (size_t i = 0; i < r.n; i++) {
			const kcsi_item *it = &r.items[i];
			char pid[24] = "-", fd[24] = "-", size[32];
			if (it->pid >= 0)
				snprintf(pid, sizeof(pid), "%" PRId64, it->pid);
			if (it->fd >= 0)
				snprintf(fd, sizeof(fd), "%" PRId64, it->fd);
			snprintf(size, sizeof(size), "%" PRIu64, it->size);
			table_add(&t, it->origin, pid, fd, size, it->source,
				  it->refused ? "(refused)" : it->file ? it->file : it->target ? it->target : "-");
		}
		table_print(&t, &o);
		table_free(&t);
		fprintf(o.f, "\n%zu items, manifest: %s/manifest.json\n", r.n, ro.out_dir);
	}
	for (size_t i = 0; i < r.n; i++)
		if (r.items[i].refused)
		{
			fprintf(stderr, "kcsi: %s: refused: ", a->pos[0]);
			print_escaped_str(stderr, r.items[i].refused);
			fputc('\n', stderr);
		}
	rc = r.refused ? KCSI_ERR_UNSAFE : 0;
	kcsi_recovery_free(&r);
	kcsi_ckpt_close(c);
	/* the items written are listed even when some were refused */
	return out_close(&o, 0) ? KCSI_ERR_IO : rc;
}

const struct cmd cmd_recover = {
	.name = "recover",
	.synopsis = "--out DIR [--force] [--max-file BYTES] [--json] ARCHIVE",
	.summary = "carve out ghost files, memfd programs, TCP queues, rootfs diff and logs",
	.description =
		"Writes below DIR everything the checkpoint holds that may matter, with\n"
		"DIR/manifest.json listing each item (file, origin, source, pid, fd, size, mode,\n"
		"sha256):\n"
		"  ghost/PATH      files deleted while open, whose content CRIU kept\n"
		"  memfd/ID-NAME   memfd contents, e.g. the program of a fileless process\n"
		"  tcp/...         bytes queued in TCP receive and send queues\n"
		"  rootfs/PATH     the files of rootfs-diff.tar (what changed in the container)\n"
		"  devshm/PATH     the contents of /dev/shm\n"
		"  log/NAME        the container log and CRIU's dump log\n"
		"and the files listed in deleted.files (no content).\n"
		"Extraction is confined to DIR: paths with .. are refused, absolute paths are put\n"
		"below DIR, no symlink is followed, links are recorded and never created, no\n"
		"device, fifo, setuid bit or owner is reproduced (files 0600, directories 0700),\n"
		"files over --max-file are refused, existing files are kept unless --force.\n"
		"Exit status 9 when items were refused (they are in the manifest with the reason).",
	.json_doc =
		"An array of {file, origin (ghost, memfd, tcp-queue, rootfs-diff, devshm, log, deleted),\n"
		"source, size, sha256, refused}; DIR/manifest.json has {archive, items_refused,\n"
		"items: [{file, origin, source, type, pid, fd, size, mode, sha256, target, refused}]}.",
	.example =
		"$ kcsi recover --out case-42 checkpoint-perlbot.tar\n"
		"ORIGIN       PID  FD  SIZE  SOURCE                    FILE\n"
		"ghost        15   4   33    /tmp/.ICE-unix/.journal   ghost/tmp/.ICE-unix/.journal\n"
		"rootfs-diff  -    -   1207  /tmp/perlbot.pl           rootfs/tmp/perlbot.pl",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.run = run,
};
