/* kcsi decode — any CRIU image as crit-shaped JSON. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "kcsi/decode.h"

static const struct opt opts[] = {
	{"pretty", 0, NULL, "crit's --pretty: indented, hex numbers, flag and address names"},
	{"json", 'j', NULL, "accepted for symmetry: the output is always JSON"},
	{0},
};

static int decode_bytes(const char *name, const unsigned char *data, size_t size, bool pretty)
{
	struct out o;
	kcsi_error err;
	kcsi_jsonw w;
	int rc = 0;

	kcsi_error_clear(&err);
	out_open(&o, NULL);
	kcsi_jw_init(&w, o.f, pretty ? 4 : 0);
	if (kcsi_decode_image(&w, name, data, size, pretty, &err) != KCSI_OK)
		rc = fail(&err);
	else
		kcsi_jw_end(&w);
	return out_close(&o, rc);
}

static int run(struct args *a)
{
	bool pretty = opt_set(a, "pretty");
	const char *path = a->pos[0];
	struct stat st;
	int rc;

	if (a->npos == 1) {
		/* a bare image file */
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		void *p = NULL;
		if (fd < 0 || fstat(fd, &st) != 0) {
			fprintf(stderr, "kcsi: %s: %s\n", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			return errno == ENOENT ? KCSI_ERR_NOTFOUND : KCSI_ERR_IO;
		}
		if (S_ISDIR(st.st_mode)) {
			close(fd);
			return usage_error(a->cmd, "%s is a directory: give an image file, or the directory and an image name", path);
		}
		if (st.st_size > 0) {
			p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
			if (p == MAP_FAILED) {
				fprintf(stderr, "kcsi: %s: %s\n", path, strerror(errno));
				close(fd);
				return KCSI_ERR_IO;
			}
		}
		close(fd);
		rc = decode_bytes(path, p ? p : (const unsigned char *)"", (size_t)st.st_size, pretty);
		if (p)
			munmap(p, (size_t)st.st_size);
		return rc;
	}
	/* ARCHIVE IMAGE-NAME */
	{
		kcsi_archive *ar;
		kcsi_error err;
		const kcsi_member *m;
		const unsigned char *data;
		char name[1024];
		const char *img = a->pos[1];

		kcsi_error_clear(&err);
		if (kcsi_archive_open(path, KCSI_AR_BULK, NULL, &ar, &err) != KCSI_OK)
			return fail(&err);
		m = kcsi_archive_find(ar, img);
		if (!m) {
			snprintf(name, sizeof(name), "checkpoint/%s", img);
			m = kcsi_archive_find(ar, name);
		}
		if (!m || m->is_dir) {
			fprintf(stderr, "kcsi: %s: no image '%s' (looked for %s and checkpoint/%s)\n", path, img, img, img);
			kcsi_archive_close(ar);
			return KCSI_ERR_NOTFOUND;
		}
		if (kcsi_member_data(ar, m, &data, &err) != KCSI_OK) {
			kcsi_archive_close(ar);
			return fail(&err);
		}
		snprintf(name, sizeof(name), "%s: %s", path, m->name);
		rc = decode_bytes(name, data, (size_t)m->size, pretty);
		kcsi_archive_close(ar);
		return rc;
	}
}

const struct cmd cmd_decode = {
	.name = "decode",
	.synopsis = "[--pretty] IMAGE-FILE | ARCHIVE IMAGE-NAME",
	.summary = "decode a CRIU image to JSON in the shape crit prints",
	.description =
		"Decodes one CRIU image, from a file or from a checkpoint (IMAGE-NAME with or\n"
		"without the checkpoint/ prefix), as {\"magic\": ..., \"entries\": [...]} with the keys\n"
		"and value formats of `crit decode`, so scripts written for crit keep working.\n"
		"--pretty gives the formats of `crit decode --pretty`: 4-space indentation, hex\n"
		"addresses, flag names (PROT_READ | PROT_EXEC), dotted IP addresses, dev numbers.\n"
		"Raw payloads (TCP queues, ghost file contents, pipe data) are base64 in \"extra\".\n\n"
		"Where kcsi and crit 3.17 differ: kcsi knows CRIU 4.x fields that crit 3.17 does\n"
		"not (pagemap nr_pages, inventory plugins and dump_criu_run_id, creds cap_amb,\n"
		"thread cg_set, inet tcp_opts, ...). crit 3.17 prints 0 pages for every CRIU 4.2\n"
		"pagemap entry (\"nr_pages\": 0, the old field); kcsi prints the old field under its\n"
		"4.x name compat_nr_pages and the real count in nr_pages.\n"
		"Raw images (pages-*.img, tmpfs-*.tar.gz.img) are refused with exit code 5.",
	.json_doc = "{\"magic\": NAME, \"entries\": [ENTRY...]} exactly as crit decode prints it (see above).",
	.example =
		"$ kcsi decode checkpoint-perlbot.tar pstree.img\n"
		"{\"magic\": \"PSTREE\", \"entries\": [{\"pid\": 1, \"ppid\": 0, \"pgid\": 1, \"sid\": 1, \"threads\": [1]}, ...]}",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 2,
	.run = run,
};
