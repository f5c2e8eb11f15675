/* kcsi dump — a process's memory areas as raw files and an ELF core. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kcsi/dump.h"

static const struct opt opts[] = {
	OPT_PID_REQUIRED,
	{"out", 'o', "DIR", "write below DIR", .kind = OPT_TEXT, .flags = OPT_REQUIRED},
	{"area", 'a', "ADDR", "only the area holding this address (hex 0x... or decimal)", .kind = OPT_NUM},
	{"no-core", 0, NULL, "do not write the ELF core file", .kind = OPT_FLAG},
	{"force", 'f', NULL, "overwrite files that exist in DIR", .kind = OPT_FLAG},
	OPTS_JSON,
	{0},
};

static int run(struct args *a)
{
	kcsi_ckpt *c;
	kcsi_dump_opts d = {0};
	kcsi_dump_file *f;
	size_t n;
	kcsi_error err;
	struct out o;
	int rc;

	kcsi_error_clear(&err);
	d.out_dir = opt_val(a, "out");
	d.pid = opt_pid(a);
	d.area = opt_num(a, "area", 0);
	d.core = !opt_set(a, "no-core") && !d.area;
	d.force = opt_set(a, "force");
	if ((rc = open_view(a, KCSI_CKPT_MEMORY, &c)))
		return rc;
	if (kcsi_dump(c, &d, &f, &n, &err) != KCSI_OK) {
		kcsi_error_prefix(&err, "%s", a->pos[0]);
		rc = fail(&err);
		kcsi_dump_files_free(f, n);
		kcsi_ckpt_close(c);
		return rc;
	}
	out_open(&o, a);
	if (o.json)
		kcsi_jw_arr(&o.w);
	for (size_t i = 0; i < n; i++) {
		if (o.json) {
			char s[32], e[32];
			kcsi_jw_obj(&o.w);
			kcsi_jw_kstr(&o.w, "file", f[i].file);
			snprintf(s, sizeof(s), "0x%" PRIx64, f[i].start);
			snprintf(e, sizeof(e), "0x%" PRIx64, f[i].end);
			kcsi_jw_kstr(&o.w, "start", f[i].end ? s : NULL);
			kcsi_jw_kstr(&o.w, "end", f[i].end ? e : NULL);
			kcsi_jw_kuint(&o.w, "bytes_held", f[i].bytes);
			kcsi_jw_kstr(&o.w, "sha256", f[i].sha256[0] ? f[i].sha256 : NULL);
			kcsi_jw_kstr(&o.w, "extents_sha256", f[i].extents_sha256);
			kcsi_jw_obj_end(&o.w);
		} else if (f[i].sha256[0]) {
			print_escaped_str(o.f, f[i].file);
			fprintf(o.f, "  %" PRIu64 " bytes held  sha256 %s\n", f[i].bytes, f[i].sha256);
		} else {
			print_escaped_str(o.f, f[i].file);
			fprintf(o.f, "  %" PRIu64 " bytes held  extents-sha256 %s (holes too large to hash)\n", f[i].bytes,
				f[i].extents_sha256);
		}
	}
	if (o.json) {
		kcsi_jw_arr_end(&o.w);
		kcsi_jw_end(&o.w);
	}
	kcsi_dump_files_free(f, n);
	kcsi_ckpt_close(c);
	return out_close(&o, 0);
}

const struct cmd cmd_dump = {
	.synopsis = "--pid N --out DIR [--area ADDR] [--no-core] [--force] ARCHIVE",
	.summary = "write a process's memory areas as raw files, and an ELF core gdb opens",
	.description =
		"Writes DIR/pid-N/areas/START-END_PROT_KIND[_NAME].bin, one file per memory area\n"
		"(the size of the area; the pages the checkpoint holds at their offsets, holes\n"
		"elsewhere: sparse files, read as zeros), and DIR/pid-N/core, an x86-64 ELF core file with the registers CRIU\n"
		"saved for every thread, so that `gdb -batch -ex 'info registers' EXE CORE` shows\n"
		"them.  --area writes only the area that holds ADDR (and no core).  Nothing is\n"
		"written outside DIR; existing files are kept unless --force.",
	.json_doc =
		"An array of {file, start, end (hex; null for the core), bytes_held, sha256, extents_sha256}.\n"
		"sha256 is the SHA-256 of the file as sha256sum prints it, or null when its holes (the bytes\n"
		"the checkpoint does not hold) were too large to hash byte by byte: a dump hashes at most\n"
		"256 MiB of holes in all, so that its work follows the bytes held.  extents_sha256 is always\n"
		"there: SHA-256 over each run of bytes held, in file order, each followed by its offset and\n"
		"length (little-endian 64-bit), then the file size.",
	.example =
		"$ kcsi dump --pid 15 --out case-42 checkpoint-perlbot.tar\n"
		"pid-15/areas/556a51f40000-556a51f89000_r--p_file_perl.bin  0 bytes held  sha256 80c5951a96f52512962b104edb8cfb229312dc82ad36620b85437f22290f4489\n"
		"...\n"
		"$ gdb -batch -ex 'info registers rip' /usr/bin/perl case-42/pid-15/core\n"
		"...\n"
		"rip            0x7f80509772ab      0x7f80509772ab",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.run = run,
};
