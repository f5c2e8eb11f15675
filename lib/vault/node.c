/* kcsi vault — helpers for the node agent: is an archive complete, is a
 * file still being written, and deleting the node's copy. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "base/util.h"
#include "vault/vault_int.h"

static uint64_t tar_num(const unsigned char *p, size_t n, bool *ok)
{
	uint64_t v = 0;
	if (p[0] & 0x80) { /* base-256 */
		for (size_t i = 1; i < n; i++)
			v = v << 8 | p[i];
		return v;
	}
	for (size_t i = 0; i < n && p[i] && p[i] != ' '; i++) {
		if (p[i] < '0' || p[i] > '7') {
			*ok = false;
			return 0;
		}
		v = v * 8 + (uint64_t)(p[i] - '0');
	}
	return v;
}

static bool zero_block(const unsigned char *b)
{
	for (int i = 0; i < 512; i++)
		if (b[i])
			return false;
	return true;
}

/* a plain tar: walk the headers to the two zero blocks */
static kcsi_code tar_complete(int fd, const char *path, uint64_t fsize, kcsi_error *err)
{
	unsigned char h[512];
	uint64_t off = 0;
	for (;;) {
		bool ok = true;
		uint64_t size, sum = 0, want;
		if (off + 1024 > fsize)
			return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: ends at byte %llu before the tar's end blocks", path,
					      (unsigned long long)fsize);
		if (pread(fd, h, 512, (off_t)off) != 512)
			return kcsi_error_set(err, KCSI_ERR_IO, "reading %s: %s", path, strerror(errno));
		if (zero_block(h)) {
			if (pread(fd, h, 512, (off_t)off + 512) != 512)
				return kcsi_error_set(err, KCSI_ERR_IO, "reading %s: %s", path, strerror(errno));
			if (!zero_block(h))
				return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: a lone zero block at byte %llu", path,
						      (unsigned long long)off);
			return KCSI_OK;
		}
		for (int i = 0; i < 512; i++)
			sum += (i >= 148 && i < 156) ? ' ' : h[i];
		want = tar_num(h + 148, 8, &ok);
		size = tar_num(h + 124, 12, &ok);
		if (!ok || want != sum)
			return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: bad tar header at byte %llu", path, (unsigned long long)off);
		if (size > fsize)
			return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: member at byte %llu runs past the end", path,
					      (unsigned long long)off);
		off += 512 + ((size + 511) & ~(uint64_t)511);
	}
}

kcsi_code kcsi_archive_complete(const char *path, kcsi_error *err)
{
	unsigned char magic[512];
	struct stat st;
	ssize_t n;
	kcsi_code rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return kcsi_error_set(err, errno == ENOENT ? KCSI_ERR_NOTFOUND : KCSI_ERR_IO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: not a regular file", path);
	}
	n = pread(fd, magic, sizeof(magic), 0);
	if (n == 512 && memcmp(magic + 257, "ustar", 5) == 0) {
		rc = tar_complete(fd, path, (uint64_t)st.st_size, err);
		close(fd);
		return rc;
	}
	close(fd);
	/* compressed (or another tar flavour): read it through to the end */
	{
		struct archive *a = kcsi_tar_reader();
		struct archive_entry *e;
		int r;
		if (!a)
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: %s", path, archive_error_string(a));
			archive_read_free(a);
			return rc;
		}
		while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK)
			if (archive_read_data_skip(a) != ARCHIVE_OK) {
				r = ARCHIVE_FATAL;
				break;
			}
		rc = r == ARCHIVE_EOF ? KCSI_OK
				      : kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: incomplete: %s", path,
						       archive_error_string(a) ? archive_error_string(a) : "read error");
		archive_read_free(a);
		return rc;
	}
}

int kcsi_file_busy(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;
	if (fd < 0)
		return -1;
	/* a read lease is refused while anyone has the file open for writing */
	if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
		fcntl(fd, F_SETLEASE, F_UNLCK);
		r = 0;
	} else {
		r = errno == EAGAIN ? 1 : -1;
	}
	close(fd);
	return r;
}

kcsi_code kcsi_secure_delete(const char *path, bool *overwritten, kcsi_error *err)
{
	struct statfs sf;
	struct stat st;
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	bool cow = false;

	*overwritten = false;
	if (fd < 0)
		return kcsi_error_set(err, errno == ENOENT ? KCSI_ERR_NOTFOUND : KCSI_ERR_IO, "%s: %s", path, strerror(errno));
	if (fstatfs(fd, &sf) == 0)
		switch ((unsigned long)sf.f_type) {
		case BTRFS_SUPER_MAGIC:
		case NFS_SUPER_MAGIC:
		case 0x2fc12fc1: /* zfs */
		case 0x65735546: /* fuse */
		case OVERLAYFS_SUPER_MAGIC:
			cow = true;
			break;
		default:
			break;
		}
	if (!cow && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1) {
		static unsigned char zero[1 << 16];
		off_t left = st.st_size;
		bool ok = true;
		while (left > 0 && ok) {
			size_t n = left > (off_t)sizeof(zero) ? sizeof(zero) : (size_t)left;
			ssize_t w = write(fd, zero, n);
			if (w <= 0)
				ok = false;
			else
				left -= w;
		}
		if (ok && fdatasync(fd) == 0)
			*overwritten = true;
	}
	close(fd);
	if (unlink(path) != 0)
		return kcsi_error_set(err, KCSI_ERR_IO, "deleting %s: %s", path, strerror(errno));
	return KCSI_OK;
}
