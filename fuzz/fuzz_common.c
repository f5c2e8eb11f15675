/* kcsi fuzz targets — helpers shared by the harnesses (fuzz_common.h). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"

static volatile size_t fuzz_sink;

void fuzz_touch(const char *s)
{
	if (s)
		fuzz_sink += strlen(s);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int fuzz_memfd(const uint8_t *data, size_t size, char *path, size_t cap)
{
	int fd = memfd_create("kcsi-fuzz", MFD_CLOEXEC);
	if (fd < 0 || write_all(fd, data, size) != 0) {
		perror("fuzz: memfd");
		abort();
	}
	snprintf(path, cap, "/proc/self/fd/%d", fd);
	return fd;
}

void fuzz_write_file(const char *path, const void *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write_all(fd, data, size) != 0) {
		fprintf(stderr, "fuzz: writing %s: %s\n", path, strerror(errno));
		abort();
	}
	close(fd);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level > 0)
		remove(path);
	return 0;
}

void fuzz_clear_dir(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static char workdir[4096];

static void remove_workdir(void)
{
	if (workdir[0]) {
		fuzz_clear_dir(workdir);
		rmdir(workdir);
	}
}

const char *fuzz_workdir(void)
{
	if (!workdir[0]) {
		const char *t = getenv("TMPDIR");
		snprintf(workdir, sizeof(workdir), "%s/kcsi-fuzz-work.XXXXXX", t && *t ? t : "/tmp");
		if (!mkdtemp(workdir)) {
			perror("fuzz: mkdtemp");
			abort();
		}
		atexit(remove_workdir);
	}
	return workdir;
}

void fuzz_check_json(const json_t *j)
{
	char *text;
	json_t *back;
	json_error_t je;
	if (!j)
		return;
	text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!text) {
		fprintf(stderr, "fuzz: a JSON result cannot be serialised\n");
		abort();
	}
	back = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!back) {
		fprintf(stderr, "fuzz: a JSON result does not parse back: %s\n", je.text);
		abort();
	}
	json_decref(back);
	free(text);
}
