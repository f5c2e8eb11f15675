/* kcsi fuzz target: a whole checkpoint archive.
 *
 * The input bytes are written to an anonymous memfd and opened through its
 * /proc/self/fd/N path, exactly as the CLI would open a file: archive
 * detection (plain / gzip / zstd / ... tar), member checks, metadata parsing
 * and CRIU image decoding all run on them.  Then every view the library
 * offers is walked and everything is freed, so LeakSanitizer sees leaks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kcsi/archive.h"
#include "kcsi/ckpt.h"
#include "kcsi/decode.h"
#include "kcsi/error.h"
#include "kcsi/jsonw.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Keep the decompression bomb guard small so that a tiny zstd/gzip
	 * input cannot make one iteration write gigabytes to a temp file.
	 * An explicit setting in the environment wins. */
	setenv("KCSI_MAX_UNPACKED", "256M", 0);
	return 0;
}

/* Touch every byte a view hands out so that ASan checks the pointers. */
static volatile unsigned sink;

static void walk(kcsi_ckpt *c)
{
	kcsi_error err;
	size_t n, i, np;

	const kcsi_meta *m = kcsi_ckpt_meta(c);
	if (m) {
		fuzz_touch(m->engine);
		fuzz_touch(m->container);
		fuzz_touch(m->id);
		fuzz_touch(m->image);
		fuzz_touch(m->hostname);
		fuzz_touch(m->created);
		fuzz_touch(m->checkpointed);
	}
	fuzz_touch(kcsi_ckpt_image_dir(c));
	sink += (unsigned)(kcsi_ckpt_config(c) != NULL) + (unsigned)(kcsi_ckpt_spec(c) != NULL) +
		(unsigned)(kcsi_ckpt_network(c) != NULL) + (unsigned)(kcsi_ckpt_bind_mounts(c) != NULL);

	/* every member's bytes, first and last */
	{
		kcsi_archive *ar = kcsi_ckpt_archive(c);
		size_t nm = ar ? kcsi_archive_count(ar) : 0;
		fuzz_touch(ar ? kcsi_archive_kind(ar) : NULL);
		for (i = 0; i < nm; i++) {
			const kcsi_member *mb = kcsi_archive_at(ar, i);
			const unsigned char *d = NULL;
			fuzz_touch(mb->name);
			if (!mb->has_data || mb->is_dir)
				continue;
			kcsi_error_clear(&err);
			if (kcsi_member_data(ar, mb, &d, &err) == KCSI_OK && d && mb->size)
				sink += d[0] + d[mb->size - 1];
			(void)kcsi_archive_find(ar, mb->name);
		}
	}
	/* stats-dump, as `kcsi decode` prints it */
	{
		FILE *f = fopen("/dev/null", "w");
		if (f) {
			kcsi_jsonw w;
			kcsi_jw_init(&w, f, 0);
			kcsi_error_clear(&err);
			if (kcsi_decode_stats(c, &w, &err) == KCSI_OK)
				kcsi_jw_end(&w);
			fclose(f);
		}
	}

	np = kcsi_ckpt_nprocs(c);
	for (i = 0; i < np; i++) {
		const kcsi_proc *p = kcsi_ckpt_proc(c, i);
		kcsi_vma *vmas = NULL;
		kcsi_fd *fds = NULL;
		const kcsi_memrun *runs = NULL;
		size_t j, nr = 0;
		unsigned char buf[64];

		if (!p)
			continue;
		fuzz_touch(p->comm);
		fuzz_touch(p->exe);
		fuzz_touch(p->memory_note);
		for (j = 0; j < p->argc; j++)
			fuzz_touch(p->argv[j]);
		for (j = 0; j < p->envc; j++)
			fuzz_touch(p->env[j]);
		for (j = 0; j < p->nthreads; j++)
			sink += p->tids[j];
		(void)kcsi_ckpt_proc_by_pid(c, p->pid);

		kcsi_error_clear(&err);
		if (kcsi_ckpt_vmas(c, p->pid, &vmas, &n, &err) == KCSI_OK) {
			for (j = 0; j < n; j++) {
				fuzz_touch(vmas[j].kind);
				fuzz_touch(vmas[j].path);
				(void)kcsi_ckpt_read(c, p->pid, vmas[j].start, buf, sizeof(buf));
			}
			free(vmas);
		}
		kcsi_error_clear(&err);
		if (kcsi_ckpt_fds(c, p->pid, &fds, &n, &err) == KCSI_OK) {
			for (j = 0; j < n; j++) {
				fuzz_touch(fds[j].role);
				fuzz_touch(fds[j].type);
				fuzz_touch(fds[j].path);
				fuzz_touch(fds[j].remap);
			}
			free(fds);
		}
		kcsi_error_clear(&err);
		if (kcsi_ckpt_memory(c, p->pid, &runs, &nr, &err) == KCSI_OK) {
			for (j = 0; j < nr; j++)
				if (runs[j].len)
					sink += runs[j].data[0] + runs[j].data[runs[j].len - 1];
		}
	}

	{
		kcsi_fd *fds = NULL;
		kcsi_error_clear(&err);
		if (kcsi_ckpt_fds(c, 0, &fds, &n, &err) == KCSI_OK)
			free(fds);
	}
	{
		kcsi_sock *s = NULL;
		kcsi_error_clear(&err);
		if (kcsi_ckpt_socks(c, &s, &n, &err) == KCSI_OK) {
			for (i = 0; i < n; i++) {
				fuzz_touch(s[i].family);
				fuzz_touch(s[i].type);
				fuzz_touch(s[i].proto);
				fuzz_touch(s[i].state);
				if (s[i].inq && s[i].inq_len)
					sink += s[i].inq[0] + s[i].inq[s[i].inq_len - 1];
				if (s[i].outq && s[i].outq_len)
					sink += s[i].outq[0] + s[i].outq[s[i].outq_len - 1];
			}
			free(s);
		}
	}
	{
		kcsi_mount *mt = NULL;
		kcsi_error_clear(&err);
		if (kcsi_ckpt_mounts(c, &mt, &n, &err) == KCSI_OK) {
			for (i = 0; i < n; i++) {
				fuzz_touch(mt[i].mountpoint);
				fuzz_touch(mt[i].root);
				fuzz_touch(mt[i].source);
				fuzz_touch(mt[i].fstype);
				fuzz_touch(mt[i].options);
				fuzz_touch(mt[i].origin);
			}
			free(mt);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	kcsi_ckpt *c = NULL;
	kcsi_error err;
	int fd;

	fd = fuzz_memfd(data, size, path, sizeof(path));

	kcsi_error_clear(&err);
	if (kcsi_ckpt_open(path, KCSI_CKPT_MEMORY, &c, &err) == KCSI_OK) {
		walk(c);
		kcsi_ckpt_close(c);
	} else {
		/* The message must be a terminated string. */
		sink += (unsigned)strlen(err.msg);
	}
	close(fd);
	return 0;
}
