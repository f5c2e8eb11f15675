/* kcsi recover — carve ghost files, memfd programs, TCP queues, the rootfs
 * diff and logs out of a checkpoint, with a manifest of hashes. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kcsi/recover.h"

static const struct opt opts[] = {
	{"out", 'o', "DIR", "write below DIR (created if needed)", .kind = OPT_TEXT, .flags = OPT_REQUIRED},
	{"force", 'f', NULL, "write into a non-empty DIR, replacing files of an earlier run", .kind = OPT_FLAG},
	{"max-file", 0, "BYTES", "refuse recovered files holding more than BYTES of data (default 4G)",
	 .kind = OPT_SIZE, .min = 1},
	{"json", 'j', NULL, "print the manifest as JSON", .kind = OPT_FLAG},
	{"pretty", 0, NULL, "indent the JSON", .kind = OPT_FLAG},
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
	ro.force = opt_set(a, "force");
	ro.max_file = opt_num(a, "max-file", 0);
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
			if (it->sparse)
				kcsi_jw_kstr(w, "data_sha256", it->data_sha256);
			if (it->renamed)
				kcsi_jw_kstr(w, "renamed", it->renamed);
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
			if (it->refused && it->file) {
				char *part = NULL;
				if (asprintf(&part, "%s (not whole)", it->file) < 0)
					part = NULL;
				table_add(&t, it->origin, pid, fd, size, it->source, part ? part : it->file);
				free(part);
			} else {
				table_add(&t, it->origin, pid, fd, size, it->source,
					  it->refused ? "(refused)" : it->file ? it->file : it->target ? it->target : "-");
			}
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
		"device, fifo, setuid bit or owner is reproduced (files 0600, directories 0700).\n"
		"No item replaces another: when paths collide (two deleted files of one path, a\n"
		"name twice in the rootfs diff, a file where a directory is needed) the component\n"
		"in the way gets ~2, ~3...; a component over 255 bytes keeps its first 200\n"
		"bytes, ~ and 16 hex digits of its sha256; a path over 4095 bytes becomes\n"
		"PREFIX/~path-SHA256. Without --force DIR must be empty; --force writes into it,\n"
		"replacing files of an earlier run (never one with other hard links).\n"
		"Bounds: a file holding more than --max-file bytes of data is refused; the\n"
		"compressed tars inside the checkpoint are decompressed under the checkpoint's\n"
		"own bound, KCSI_MAX_UNPACKED (one budget for the whole run), and an entry that\n"
		"would pass it is refused with the rest of its tar. What the checkpoint does not\n"
		"hold (memfd pages never written, gaps between ghost-file chunks, holes of sparse\n"
		"tar entries) is a hole on disk. Whatever cannot be recovered is an item of the\n"
		"manifest with the reason, and the run goes on to the next item and source.\n"
		"Manifest fields:\n"
		"  file          written path below DIR (null when nothing was written)\n"
		"  source        original path (or memfd name, connection, member)\n"
		"  size          apparent size of the file\n"
		"  sha256        of the whole file; null when nothing was written, or when the\n"
		"                file's holes outweigh its data by more than 64 KiB (hashing\n"
		"                zeros the checkpoint does not hold would cost their size)\n"
		"  renamed       why file is not the source path (collision, long name...)\n"
		"  sparse        true when the file has holes (they read as zeros)\n"
		"  extents       sparse files: [offset, length] of each range of data held\n"
		"  data_sha256   sparse files: sha256 of the extents' bytes in offset order\n"
		"  refused       why the item was not written, or, with file set, not whole\n"
		"Exit status 9 when items were refused (they are in the manifest with the reason).",
	.json_doc =
		"An array of {file, origin (ghost, memfd, tcp-queue, rootfs-diff, devshm, log, deleted),\n"
		"source, size, sha256, data_sha256 (sparse files), renamed, refused}; DIR/manifest.json\n"
		"has {archive, items_refused, items: [{file, origin, source, type, pid, fd, size, mode,\n"
		"sha256, target, renamed, sparse, data_sha256, extents, refused}]}.",
	.example =
		"$ kcsi recover --out case-42 checkpoint-perlbot.tar\n"
		"ORIGIN       PID  FD  SIZE  SOURCE                   FILE\n"
		"ghost        15   4   33    /tmp/.ICE-unix/.journal  ghost/tmp/.ICE-unix/.journal\n"
		"...\n"
		"rootfs-diff  -    -   1207  /tmp/perlbot.pl          rootfs/tmp/perlbot.pl\n"
		"...",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.run = run,
};
