/* kcsi maps — memory areas of a process. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct opt opts[] = {
	OPT_PID_REQUIRED,
	OPTS_JSON,
	{0},
};

static int run(struct args *a)
{
	kcsi_ckpt *c;
	kcsi_vma *v;
	size_t n;
	uint32_t pid = opt_pid(a);
	kcsi_error err;
	struct out o;
	int rc;

	kcsi_error_clear(&err);
	if ((rc = open_view(a, 0, &c)))
		return rc;
	if (kcsi_ckpt_vmas(c, pid, &v, &n, &err) != KCSI_OK) {
		return ckpt_fail(c, a->pos[0], &err);
	}
	out_open(&o, a);
	if (o.json) {
		kcsi_jsonw *w = &o.w;
		kcsi_jw_arr(w);
		for (size_t i = 0; i < n; i++) {
			char hex[32];
			kcsi_jw_obj(w);
			kcsi_jw_kuint(w, "pid", pid);
			snprintf(hex, sizeof(hex), "0x%" PRIx64, v[i].start);
			kcsi_jw_kstr(w, "start", hex);
			snprintf(hex, sizeof(hex), "0x%" PRIx64, v[i].end);
			kcsi_jw_kstr(w, "end", hex);
			kcsi_jw_kuint(w, "size", v[i].end - v[i].start);
			kcsi_jw_kstr(w, "prot", v[i].prot_text);
			kcsi_jw_kstr(w, "kind", v[i].kind);
			kcsi_jw_kstr(w, "path", v[i].path);
			kcsi_jw_kuint(w, "offset", v[i].pgoff);
			kcsi_jw_kuint(w, "pages", v[i].pages);
			kcsi_jw_kuint(w, "status", v[i].status);
			kcsi_jw_obj_end(w);
		}
		kcsi_jw_arr_end(w);
		kcsi_jw_end(w);
	} else {
		struct table t;
		table_init(&t, 7);
		table_add(&t, "START", "END", "PROT", "KIND", "OFFSET", "PAGES", "PATH");
		for (size_t i = 0; i < n; i++) {
			char s[24], e[24], off[24], pg[24];
			snprintf(s, sizeof(s), "%012" PRIx64, v[i].start);
			snprintf(e, sizeof(e), "%012" PRIx64, v[i].end);
			snprintf(off, sizeof(off), "%" PRIx64, v[i].pgoff);
			snprintf(pg, sizeof(pg), "%" PRIu64 "/%" PRIu64, v[i].pages, (v[i].end - v[i].start) / 4096);
			table_add(&t, s, e, v[i].prot_text, v[i].kind, off, pg, v[i].path ? v[i].path : "");
		}
		table_print(&t, &o);
		table_free(&t);
	}
	free(v);
	kcsi_ckpt_close(c);
	return out_close(&o, 0);
}

const struct cmd cmd_maps = {
	.synopsis = "--pid N [--json] ARCHIVE",
	.summary = "show a process's memory areas and how many pages the checkpoint holds",
	.description =
		"The memory areas of one process, like /proc/PID/maps: start, end, protection,\n"
		"kind (file, anon, heap, stack, vdso, vvar, vsyscall, shmem, memfd, sysvipc, aio,\n"
		"socket), the file and offset of file mappings, and the pages the checkpoint holds\n"
		"for each area (PAGES: held/total).",
	.json_doc =
		"An array of objects in address order:\n"
		"  pid, start, end (hex strings), size (bytes), prot (\"r-xp\"), kind, path (or null),\n"
		"  offset (file offset in bytes), pages (pages held in the checkpoint), status (CRIU's VMA flags)",
	.example =
		"$ kcsi maps --pid 15 checkpoint-perlbot.tar\n"
		"START             END               PROT  KIND      OFFSET  PAGES    PATH\n"
		"556a51f40000      556a51f89000      r--p  file      0       0/73     /usr/bin/perl\n"
		"...",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.run = run,
};
