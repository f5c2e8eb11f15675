/* kcsi decode — any CRIU image as crit-shaped JSON. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "kcsi/archive.h"
#include "kcsi/decode.h"

static const struct opt opts[] = {
	{"pretty", 0, NULL, "crit's --pretty: indented, hex numbers, flag and address names", .kind = OPT_FLAG},
	{"json", 'j', NULL, "accepted for symmetry: the output is always JSON", .kind = OPT_FLAG},
	{0},
};

#define KCSI_DECODE_MAX_FILE (256u << 20)

/* Does the file start with a CRIU image magic (IMG_COMMON, IMG_SERVICE, or
 * the inventory's own)?  Anything else given alone may be a checkpoint. */
static bool looks_like_image(int fd)
{
	unsigned char m[4];
	if (pread(fd, m, 4, 0) != 4)
		return true; /* too short for anything: let the decoder say so */
	uint32_t v = (uint32_t)m[0] | (uint32_t)m[1] << 8 | (uint32_t)m[2] << 16 | (uint32_t)m[3] << 24;
	return v == 0x54564319u || v == 0x55105940u || v == 0x58313116u;
}

/* `kcsi decode ARCHIVE` without an image name: say which images it holds
 * (exit 2); -1 when PATH is not a checkpoint. */
static int list_images(struct args *a, const char *path)
{
	kcsi_archive *ar;
	kcsi_error err;
	size_t shown = 0;
	kcsi_error_clear(&err);
	if (kcsi_archive_open(path, 0, NULL, &ar, &err) != KCSI_OK)
		return -1; /* not a checkpoint either: the decoder says what it is */
	if (!kcsi_archive_find(ar, "checkpoint/inventory.img") && !kcsi_archive_find(ar, "inventory.img")) {
		kcsi_archive_close(ar);
		return -1; /* a tar, but no checkpoint (a tmpfs image) */
	}
	fputs("kcsi: ", stderr);
	print_escaped_str(stderr, path);
	fputs(" is a checkpoint: give the image to decode, e.g. `kcsi decode ARCHIVE pstree.img`; it holds:", stderr);
	for (size_t i = 0; i < kcsi_archive_count(ar); i++) {
		const kcsi_member *m = kcsi_archive_at(ar, i);
		const char *base = strrchr(m->name, '/') ? strrchr(m->name, '/') + 1 : m->name;
		size_t bl = strlen(base);
		if (m->is_dir || bl < 5 || strcmp(base + bl - 4, ".img"))
			continue;
		fputs(shown++ % 6 ? " " : "\n  ", stderr);
		print_escaped_str(stderr, base);
	}
	fputc('\n', stderr);
	kcsi_archive_close(ar);
	(void)a;
	return KCSI_ERR_USAGE;
}

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
		/* a bare image file: read (not mapped: a file cut short while read
		 * is an error, not a signal), a fifo or device refused */
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		unsigned char *p = NULL;
		size_t n = 0;
		if (fd < 0 || fstat(fd, &st) != 0) {
			int e = errno;
			fputs("kcsi: ", stderr);
			print_escaped_str(stderr, path);
			fprintf(stderr, ": %s\n", strerror(e));
			if (fd >= 0)
				close(fd);
			return e == ENOENT ? KCSI_ERR_NOTFOUND : KCSI_ERR_IO;
		}
		if (S_ISDIR(st.st_mode) || (S_ISREG(st.st_mode) && !looks_like_image(fd))) {
			int r = list_images(a, path);
			if (r >= 0 || S_ISDIR(st.st_mode)) {
				close(fd);
				return r >= 0 ? r : usage_error(a->cmd, "%s is a directory but not a checkpoint", path);
			}
		}
		if (!S_ISREG(st.st_mode)) {
			close(fd);
			return usage_error(a->cmd, "%s is not a regular file (a fifo, socket or device): give an image file", path);
		}
		if (st.st_size > (off_t)KCSI_DECODE_MAX_FILE) {
			close(fd);
			return usage_error(a->cmd, "%s: %lld bytes: larger than any image kcsi decodes (%u MiB)", path,
					   (long long)st.st_size, KCSI_DECODE_MAX_FILE >> 20);
		}
		if (!(p = malloc((size_t)st.st_size + 1))) {
			close(fd);
			fputs("kcsi: out of memory\n", stderr);
			return KCSI_ERR_NOMEM;
		}
		for (ssize_t r; n < (size_t)st.st_size && (r = read(fd, p + n, (size_t)st.st_size - n)) > 0;)
			n += (size_t)r;
		close(fd);
		rc = decode_bytes(path, p, n, pretty);
		free(p);
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
		"{\"magic\": \"PSTREE\", \"entries\": [{\"pid\": 1, \"ppid\": 0, \"pgid\": 1, \"sid\": 1, \"threads\": [1]}, {\"pid\": 15, \"ppid\": 1, \"pgid\": 8, \"sid\": 8, \"threads\": [15]}, {\"pid\": 19, \"ppid\": 1, \"pgid\": 1, \"sid\": 1, \"threads\": [19]}]}",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 2,
	.run = run,
};
