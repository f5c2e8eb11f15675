/* kcsi files — open files of each process, cwd, root, executable, mapped files. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct opt opts[] = {
	OPT_PID_FILTER,
	OPTS_JSON,
	{0},
};

static void fd_name(const kcsi_fd *d, char *buf, size_t cap)
{
	if (d->fd >= 0)
		snprintf(buf, cap, "%d", d->fd);
	else
		snprintf(buf, cap, "%s", d->role);
}

static int run(struct args *a)
{
	kcsi_ckpt *c;
	kcsi_fd *v;
	size_t n;
	kcsi_error err;
	struct out o;
	int rc;

	kcsi_error_clear(&err);
	if ((rc = open_view(a, 0, &c)))
		return rc;
	if (kcsi_ckpt_fds(c, opt_pid(a), &v, &n, &err) != KCSI_OK) {
		return ckpt_fail(c, a->pos[0], &err);
	}
	out_open(&o, a);
	if (o.json) {
		kcsi_jsonw *w = &o.w;
		kcsi_jw_arr(w);
		for (size_t i = 0; i < n; i++) {
			const kcsi_fd *d = &v[i];
			char fdn[32];
			kcsi_jw_obj(w);
			kcsi_jw_kuint(w, "pid", d->pid);
			kcsi_jw_key(w, "fd");
			if (d->fd >= 0)
				kcsi_jw_int(w, d->fd);
			else {
				fd_name(d, fdn, sizeof(fdn));
				kcsi_jw_str(w, fdn);
			}
			kcsi_jw_kstr(w, "type", d->type);
			kcsi_jw_kstr(w, "path", d->path);
			kcsi_jw_kuint(w, "flags", d->flags);
			kcsi_jw_kuint(w, "pos", d->pos);
			kcsi_jw_key(w, "size");
			if (d->has_size)
				kcsi_jw_uint(w, d->size);
			else
				kcsi_jw_null(w);
			kcsi_jw_kuint(w, "mode", d->mode);
			kcsi_jw_kbool(w, "deleted", d->deleted);
			kcsi_jw_kstr(w, "remap", d->remap);
			if (d->remap && !strcmp(d->remap, "ghost"))
				kcsi_jw_kuint(w, "ghost_size", d->ghost_size);
			kcsi_jw_kbool(w, "cloexec", d->cloexec);
			kcsi_jw_kuint(w, "file_id", d->file_id);
			kcsi_jw_obj_end(w);
		}
		kcsi_jw_arr_end(w);
		kcsi_jw_end(w);
	} else {
		struct table t;
		table_init(&t, 8);
		table_add(&t, "PID", "FD", "TYPE", "MODE", "FLAGS", "POS", "SIZE", "PATH");
		for (size_t i = 0; i < n; i++) {
			const kcsi_fd *d = &v[i];
			char p[16], fdn[32], mode[16], fl[16], pos[32], size[32], *path;
			snprintf(p, sizeof(p), "%u", d->pid);
			fd_name(d, fdn, sizeof(fdn));
			snprintf(mode, sizeof(mode), "%o", d->mode);
			snprintf(fl, sizeof(fl), "0%o", d->flags);
			snprintf(pos, sizeof(pos), "%" PRIu64, d->pos);
			if (d->has_size)
				snprintf(size, sizeof(size), "%" PRIu64, d->size);
			else
				snprintf(size, sizeof(size), "-");
			if (asprintf(&path, "%s%s%s", d->path, d->deleted ? " (deleted)" : "",
				     d->remap && !strcmp(d->remap, "ghost") ? " [content in checkpoint]" : "") < 0)
				path = NULL;
			table_add(&t, p, fdn, d->type, mode, fl, pos, size, path);
			free(path);
		}
		table_print(&t, &o);
		table_free(&t);
	}
	free(v);
	kcsi_ckpt_close(c);
	return out_close(&o, 0);
}

const struct cmd cmd_files = {
	.synopsis = "[--pid N] [--json] ARCHIVE",
	.summary = "show open files per process, with deleted (ghost) files marked",
	.description =
		"Every descriptor of every process (or of --pid), with its type, path, open\n"
		"flags, position, size and mode, then the process's root, cwd and executable,\n"
		"and the files it has mapped in memory.  A file deleted while open is marked\n"
		"deleted; when CRIU kept its content (a ghost file) the row says so.",
	.json_doc =
		"An array of objects in (pid, fd) order:\n"
		"  pid       number\n"
		"  fd        the descriptor number, or \"root\", \"cwd\", \"exe\" or \"mem\" (a mapped file)\n"
		"  type      REG, DIR, CHR, PIPE, FIFO, INETSK, UNIXSK, PACKETSK, NETLINKSK, EVENTFD,\n"
		"            EVENTPOLL, SIGNALFD, TIMERFD, INOTIFY, FANOTIFY, TTY, MEMFD, NS, TUNF, BPFMAP, ...\n"
		"  path      file path, or a description (pipe:[ID], socket:[INO], /memfd:NAME, ...)\n"
		"  flags     open flags (O_*), pos (offset), size (null when unknown), mode (st_mode)\n"
		"  deleted   true when the file was unlinked while open\n"
		"  remap     ghost, linked or procfs (how CRIU restores a deleted file), or null\n"
		"  ghost_size  bytes of the deleted file's content the checkpoint holds\n"
		"  cloexec   close-on-exec, file_id  CRIU's file id",
	.example =
		"$ kcsi files --pid 15 checkpoint-perlbot.tar\n"
		"PID  FD    TYPE    MODE    FLAGS    POS  SIZE     PATH\n"
		"...\n"
		"15   4     REG     100644  0100001  33   33       /tmp/.ICE-unix/.journal (deleted) [content in checkpoint]\n"
		"...",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.run = run,
};
