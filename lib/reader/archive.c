/* kcsi — checkpoint containers: tar archives (any libarchive filter) and
 * extracted directories.  See include/kcsi/archive.h. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "kcsi/archive.h"
#include "kcsi/progress.h"
#include "base/path.h"
#include "base/util.h"

enum store { ST_NONE, ST_MEM, ST_ARCHIVE, ST_SPILL, ST_FILE };

struct member {
	kcsi_member pub;
	enum store store;
	uint64_t off;          /* ST_ARCHIVE / ST_SPILL: offset of the content */
	unsigned char *mem;    /* ST_MEM: owned copy; ST_FILE: mapping once made */
	char *file;            /* ST_FILE: path of the member on disk */
};

struct kcsi_archive {
	char *path;
	int fd;                /* the plain tar read in place, for size checks */
	unsigned long faults;  /* bus faults seen by the last check */
	bool changed;          /* the file shrank while mapped: reads are void */
	char kind[48];
	uint64_t size;
	bool in_place;
	struct member *m;
	size_t n, cap;
	size_t *sorted;        /* indexes into m, sorted by name */
	const unsigned char *map;  /* whole plain archive, read-only */
	uint64_t map_len;
	int spill_fd;
	const unsigned char *spill_map;
	uint64_t spill_len;
};

void kcsi_archive_default_limits(kcsi_archive_limits *lim)
{
	const char *env = getenv("KCSI_MAX_UNPACKED");
	lim->max_member = 256ull << 20;
	lim->max_memory = 1ull << 30;
	lim->max_unpacked = 256ull << 30;
	lim->max_members = 1000000;
	if (env) {
		uint64_t v;
		if (kcsi_parse_size(env, &v) == 0)
			lim->max_unpacked = v;
	}
}

bool kcsi_member_is_bulk(const char *name)
{
	static const char *const pats[] = {
		"checkpoint/pages-*.img", "rootfs-diff.tar", "devshm-checkpoint.tar",
		"checkpoint/tmpfs-*.img", "*.log",
	};
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
		if (fnmatch(pats[i], name, FNM_PATHNAME) == 0)
			return true;
	return false;
}

/* ---- the archive shrinking under its mapping ----
 *
 * Member data is mapped from the archive (plain tar) or the member files
 * (directory).  When another process truncates such a file while kcsi reads
 * it, touching a page past the new end raises SIGBUS.  A handler installed
 * once per process turns that into a recorded fault: it maps a page of
 * zeros over the faulting page, so that the interrupted read completes, and
 * counts the fault; kcsi_archive_check() then reports KCSI_ERR_IO for the
 * archive whose mapping it was, and the readers of this library (image
 * decoding, memory scans, reads) check it before they trust what they read.
 * Faults outside the mappings registered here are left to the handler that
 * was there before (by default, the process dies as it would have). */

#define GUARD_SLOTS 64
#define FAULT_RING 16

static struct guard_slot {
	_Atomic uintptr_t start, end;
} guard_slots[GUARD_SLOTS];
static atomic_bool guard_overflow;        /* more mappings than slots: guard all */
static atomic_ulong guard_faults;         /* faults handled so far */
static _Atomic uintptr_t fault_ring[FAULT_RING]; /* their addresses, newest last */
static struct sigaction guard_prev;
static uintptr_t guard_page;
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;

static bool guarded(uintptr_t a)
{
	if (atomic_load(&guard_overflow))
		return true;
	for (size_t i = 0; i < GUARD_SLOTS; i++) {
		uintptr_t s = atomic_load(&guard_slots[i].start), e = atomic_load(&guard_slots[i].end);
		if (s && a >= s && a < e)
			return true;
	}
	return false;
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr, pg = guard_page;

	if (si->si_code == BUS_ADRERR && guarded(a) &&
	    mmap((void *)(a & ~(pg - 1)), pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
		unsigned long n = atomic_load(&guard_faults);
		atomic_store(&fault_ring[n % FAULT_RING], a);
		atomic_fetch_add(&guard_faults, 1);
		return; /* the read is retried and sees zeros */
	}
	if (guard_prev.sa_flags & SA_SIGINFO) {
		guard_prev.sa_sigaction(sig, si, uc);
		return;
	}
	if (guard_prev.sa_handler != SIG_DFL && guard_prev.sa_handler != SIG_IGN) {
		guard_prev.sa_handler(sig);
		return;
	}
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGBUS, &dfl, NULL); /* not ours: the fault repeats and ends the process */
}

static void guard_install(void)
{
	struct sigaction sa;
	guard_page = (uintptr_t)sysconf(_SC_PAGESIZE);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &guard_prev);
}

/* Watch [p, p+len) for bus faults. */
static void guard_add(const void *p, uint64_t len)
{
	pthread_once(&guard_once, guard_install);
	for (size_t i = 0; i < GUARD_SLOTS; i++) {
		uintptr_t zero = 0;
		if (atomic_compare_exchange_strong(&guard_slots[i].start, &zero, (uintptr_t)p)) {
			atomic_store(&guard_slots[i].end, (uintptr_t)p + (uintptr_t)len);
			return;
		}
	}
	atomic_store(&guard_overflow, true);
}

static void guard_remove(const void *p)
{
	for (size_t i = 0; i < GUARD_SLOTS; i++)
		if (atomic_load(&guard_slots[i].start) == (uintptr_t)p) {
			atomic_store(&guard_slots[i].end, 0);
			atomic_store(&guard_slots[i].start, 0);
			return;
		}
}

static bool in_range(uintptr_t a, const void *p, uint64_t len)
{
	return p && a >= (uintptr_t)p && a - (uintptr_t)p < len;
}

/* Did one of the faults since the last look hit this archive's mappings? */
static bool archive_faulted(kcsi_archive *ar, unsigned long now);

static struct member *add_member(kcsi_archive *ar, const char *name, kcsi_error *err)
{
	if (ar->n == ar->cap) {
		size_t ncap = ar->cap ? ar->cap * 2 : 64;
		struct member *nm = realloc(ar->m, ncap * sizeof(*nm));
		if (!nm) {
			kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
			return NULL;
		}
		ar->m = nm;
		ar->cap = ncap;
	}
	struct member *m = &ar->m[ar->n];
	memset(m, 0, sizeof(*m));
	m->pub.name = strdup(name);
	if (!m->pub.name) {
		kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		return NULL;
	}
	ar->n++;
	return m;
}

/* qsort_r's context, not a global: archives are opened on several threads
 * at once (hunt over a directory) */
static int cmp_idx(const void *a, const void *b, void *ctx)
{
	const kcsi_archive *ar = ctx;
	const size_t *x = a, *y = b;
	return strcmp(ar->m[*x].pub.name, ar->m[*y].pub.name);
}

static kcsi_code build_index(kcsi_archive *ar, kcsi_error *err)
{
	ar->sorted = malloc((ar->n ? ar->n : 1) * sizeof(size_t));
	if (!ar->sorted)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < ar->n; i++)
		ar->sorted[i] = i;
	qsort_r(ar->sorted, ar->n, sizeof(size_t), cmp_idx, ar);
	for (size_t i = 1; i < ar->n; i++) {
		const char *a = ar->m[ar->sorted[i - 1]].pub.name;
		const char *b = ar->m[ar->sorted[i]].pub.name;
		if (strcmp(a, b) == 0)
			return kcsi_error_set(err, KCSI_ERR_UNSAFE,
					      "%s: member '%s' appears twice (refused: which copy is evidence is ambiguous)",
					      ar->path, a);
	}
	return KCSI_OK;
}

static int open_evidence(const char *path, int flags)
{
	/* O_NOATIME keeps the access time of the evidence as it was, where the
	 * caller is allowed to ask for it. */
	int fd = open(path, flags | O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(path, flags | O_RDONLY | O_CLOEXEC);
	return fd;
}

/* Is the opened input a regular file?  (It was opened O_NONBLOCK so that a
 * fifo could not block the open; reads block as usual again from here.) */
static kcsi_code check_regular(int fd, const char *path, kcsi_error *err)
{
	struct stat st;
	int fl;

	if (fstat(fd, &st) != 0)
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED,
				      "%s: not a regular file or a directory (%s): refused", path,
				      S_ISFIFO(st.st_mode) ? "a fifo" : S_ISSOCK(st.st_mode) ? "a socket"
				      : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : "not a file");
	if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", path, strerror(errno));
	return KCSI_OK;
}

static kcsi_code spill_open(kcsi_archive *ar, kcsi_error *err)
{
	const char *dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	ar->spill_fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (ar->spill_fd < 0) {
		char tmpl[4096];
		snprintf(tmpl, sizeof(tmpl), "%s/kcsi-spill-XXXXXX", dir);
		ar->spill_fd = mkstemp(tmpl);
		if (ar->spill_fd < 0)
			return kcsi_error_set(err, KCSI_ERR_IO,
					      "cannot create a temporary file in %s: %s", dir, strerror(errno));
		unlink(tmpl);
	}
	return KCSI_OK;
}

/* Read the content of the current entry into memory or the spill file. */
static kcsi_code read_entry_data(kcsi_archive *ar, struct archive *a, struct member *m,
				 bool spill, const kcsi_archive_limits *lim,
				 uint64_t *unpacked, uint64_t *memory, kcsi_error *err)
{
	uint64_t got = 0;
	size_t cap = 0;
	const void *blk;
	size_t len;
	la_int64_t boff;
	int r;

	/* count the member's full size up front: holes of a sparse member
	 * become bytes in the temporary copy too */
	if (m->pub.size > lim->max_unpacked || *unpacked > lim->max_unpacked - m->pub.size)
		return kcsi_error_set(err, KCSI_ERR_LIMIT,
				      "member '%s': more than %llu bytes decompressed (it claims %llu bytes; set KCSI_MAX_UNPACKED to raise the bound)",
				      m->pub.name, (unsigned long long)lim->max_unpacked,
				      (unsigned long long)m->pub.size);
	if (spill) {
		if (ar->spill_fd < 0 && spill_open(ar, err) != KCSI_OK)
			return err->code;
		m->store = ST_SPILL;
		m->off = ar->spill_len;
	} else {
		if (m->pub.size > lim->max_member)
			return kcsi_error_set(err, KCSI_ERR_LIMIT,
					      "member '%s' is %llu bytes, more than the %llu-byte bound for metadata",
					      m->pub.name, (unsigned long long)m->pub.size,
					      (unsigned long long)lim->max_member);
		cap = (size_t)m->pub.size + 1;
		m->mem = malloc(cap);
		if (!m->mem)
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory reading '%s'", m->pub.name);
		m->store = ST_MEM;
	}
	while ((r = archive_read_data_block(a, &blk, &len, &boff)) == ARCHIVE_OK) {
		uint64_t end = (uint64_t)boff + len;
		kcsi_progress_set((uint64_t)archive_filter_bytes(a, -1));
		if (boff < 0 || end > m->pub.size)
			return kcsi_error_set(err, KCSI_ERR_FORMAT,
					      "member '%s': data block at offset %lld runs past its size %llu",
					      m->pub.name, (long long)boff, (unsigned long long)m->pub.size);
		if (spill) {
			/* sparse holes: pwrite at the block's offset */
			if (pwrite(ar->spill_fd, blk, len, (off_t)(m->off + (uint64_t)boff)) != (ssize_t)len) {
				return kcsi_error_set(err, errno == ENOSPC ? KCSI_ERR_LIMIT : KCSI_ERR_IO,
						      "member '%s': writing the temporary copy: %s",
						      m->pub.name, strerror(errno));
			}
		} else {
			memcpy(m->mem + boff, blk, len);
		}
		if (end > got)
			got = end;
	}
	if (r != ARCHIVE_EOF) {
		const char *why = archive_error_string(a);
		if (archive_filter_code(a, 0) != ARCHIVE_FILTER_NONE)
			return kcsi_error_set(err, KCSI_ERR_FORMAT,
					      "member '%s': the %s stream is damaged or truncated while reading it (%s)",
					      m->pub.name, archive_filter_name(a, 0), why ? why : "read error");
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "member '%s': %s", m->pub.name, why ? why : "read error");
	}
	*unpacked += m->pub.size;
	if (spill) {
		/* holes at the end of a sparse member still count */
		if (ftruncate(ar->spill_fd, (off_t)(m->off + m->pub.size)) != 0 && m->pub.size)
			return kcsi_error_set(err, KCSI_ERR_IO, "temporary copy: %s", strerror(errno));
		ar->spill_len = m->off + m->pub.size;
	} else {
		if (got < m->pub.size)
			memset(m->mem + got, 0, (size_t)(m->pub.size - got));
		m->mem[m->pub.size] = '\0';
		*memory += m->pub.size;
		if (*memory > lim->max_memory)
			return kcsi_error_set(err, KCSI_ERR_LIMIT,
					      "members kept in memory exceed %llu bytes", (unsigned long long)lim->max_memory);
	}
	m->pub.has_data = true;
	return KCSI_OK;
}

/* The decompressors built into libarchive, and the tar formats. */
static void kcsi_tar_formats(struct archive *a)
{
	if (archive_zlib_version())
		archive_read_support_filter_gzip(a);
	if (archive_bzlib_version())
		archive_read_support_filter_bzip2(a);
	if (archive_liblzma_version()) {
		archive_read_support_filter_xz(a);
		archive_read_support_filter_lzma(a);
	}
	if (archive_libzstd_version())
		archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
}

struct archive *kcsi_tar_reader(void)
{
	struct archive *a = archive_read_new();
	if (a)
		kcsi_tar_formats(a);
	return a;
}

/* ---- gzip trailers ----
 *
 * libarchive's gzip filter reads each member's trailer but never compares
 * its CRC-32 and length with the content, so a damaged gzip archive whose
 * deflate stream still decodes was taken as sound.  For a plain gzip stream
 * (gzip over the tar, nothing else) the file is inflated once more here with
 * zlib, which checks every member's trailer; a mismatch is an error.  The
 * check covers what the tar walk read (tar_end bytes of content) and
 * GZIP_CHECK_SLACK more (the tar's record padding): content a stream holds
 * past that is not inflated, so the time stays bounded by what was read.
 * It costs a second inflate of the archive. */
#define GZIP_CHECK_SLACK ((uint64_t)1 << 20)

/* Bytes at file offset *off appended to in[have]; returns the new count. */
static size_t gz_fill(int fd, uint64_t *off, unsigned char *in, size_t have, size_t cap)
{
	ssize_t n;
	do
		n = pread(fd, in + have, cap - have, (off_t)*off);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return have;
	*off += (uint64_t)n;
	return have + (size_t)n;
}

static kcsi_code gzip_check(kcsi_archive *ar, int fd, uint64_t tar_end, kcsi_error *err)
{
	enum { BUF = 1 << 16 };
	unsigned char *in = malloc(2 * BUF), *out = in + BUF;
	uint64_t off = 0, inflated = 0;
	unsigned member = 1;
	kcsi_code rc = KCSI_OK;
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (!in || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
		free(in);
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	while (inflated <= tar_end + GZIP_CHECK_SLACK) {
		int zr;
		if (z.avail_in == 0) {
			z.avail_in = (uInt)gz_fill(fd, &off, in, 0, BUF);
			z.next_in = in;
			if (z.avail_in == 0)
				break; /* the end of the file (a cut stream was the tar walk's to report) */
		}
		z.next_out = out;
		z.avail_out = BUF;
		zr = inflate(&z, Z_NO_FLUSH);
		inflated += BUF - z.avail_out;
		if (zr == Z_STREAM_END) {
			/* the trailer matched; another member follows if a gzip header does */
			memmove(in, z.next_in, z.avail_in);
			z.avail_in = (uInt)gz_fill(fd, &off, in, z.avail_in, BUF);
			z.next_in = in;
			if (z.avail_in < 2 || in[0] != 0x1f || in[1] != 0x8b || inflateReset(&z) != Z_OK)
				break;
			member++;
		} else if (zr != Z_OK && zr != Z_BUF_ERROR) {
			const char *why = z.msg ? z.msg : "damaged";
			if (strstr(why, "data check"))
				why = "its CRC-32 does not match the content (damaged archive)";
			else if (strstr(why, "length check"))
				why = "its length does not match the content (damaged archive)";
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: gzip member %u: %s", ar->path, member, why);
			break;
		}
	}
	inflateEnd(&z);
	free(in);
	return rc;
}

/* After the first header: the filter chain is known; a plain tar in a
 * regular file is mapped, for members read in place. */
static void first_header_read(kcsi_archive *ar, struct archive *a, int fd, const struct stat *st)
{
	const char *fname = archive_filter_name(a, 0);
	bool plain = archive_filter_code(a, 0) == ARCHIVE_FILTER_NONE;
	if (plain)
		snprintf(ar->kind, sizeof(ar->kind), "tar");
	else
		snprintf(ar->kind, sizeof(ar->kind), "tar+%s", fname ? fname : "?");
	if (plain && S_ISREG(st->st_mode) && st->st_size > 0) {
		void *p = mmap(NULL, (size_t)st->st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p != MAP_FAILED) {
			ar->map = p;
			ar->map_len = (uint64_t)st->st_size;
			ar->in_place = true;
			guard_add(p, ar->map_len);
		}
	}
}

/* check_entry's answer for the checkpoint's own root directory entry */
#define KCSI_SKIP_ROOT ((kcsi_code)-1)

/* The member's name, normalised into name[cap], and its type; refuses what a
 * checkpoint never holds (links, devices, names leaving it) and more members
 * than the bound.  KCSI_SKIP_ROOT for the root directory's own entry. */
static kcsi_code check_entry(kcsi_archive *ar, struct archive_entry *e, const kcsi_archive_limits *lim,
			     char *name, size_t cap, mode_t *type_out, kcsi_error *err)
{
	const char *raw = archive_entry_pathname(e);
	mode_t type = archive_entry_filetype(e);
	int nr;

	if (!raw)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: member %zu has no name", ar->path, ar->n + 1);
	nr = kcsi_path_normalise(raw, 0, name, cap);
	if (nr == KCSI_PATH_LONG)
		return kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: member name of %zu bytes is too long (refused)",
				      ar->path, strlen(raw));
	if (nr == KCSI_PATH_UNSAFE)
		return kcsi_error_set(err, KCSI_ERR_UNSAFE,
				      "%s: member '%s': path is absolute or leaves the checkpoint (refused)", ar->path, raw);
	if (nr == KCSI_PATH_EMPTY) { /* the root entry: only a directory is acceptable */
		if (type != AE_IFDIR || archive_entry_hardlink(e))
			return kcsi_error_set(err, KCSI_ERR_UNSAFE,
					      "%s: member '%s' names the checkpoint root but is not a directory (refused)",
					      ar->path, raw);
		return KCSI_SKIP_ROOT;
	}
	if (archive_entry_hardlink(e) || type == AE_IFLNK)
		return kcsi_error_set(err, KCSI_ERR_UNSAFE, "%s: member '%s' is a %s link (refused)", ar->path,
				      raw, type == AE_IFLNK ? "symbolic" : "hard");
	if (type != AE_IFREG && type != AE_IFDIR)
		return kcsi_error_set(err, KCSI_ERR_UNSAFE, "%s: member '%s' is a device, fifo or socket (refused)",
				      ar->path, raw);
	if (ar->n >= lim->max_members)
		return kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: more than %u members", ar->path, lim->max_members);
	if (archive_entry_size(e) < 0)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: member '%s' has a negative size", ar->path, raw);
	*type_out = type;
	return KCSI_OK;
}

/* A read error of libarchive's, or — when the file is now shorter than
 * when it was opened — what really happened: it was cut while being read
 * (an I/O error, as when it shrinks under a scan of its mapped pages). */
static kcsi_code tar_read_error(kcsi_archive *ar, int fd, const struct stat *opened, const char *what,
				kcsi_error *err)
{
	struct stat now;
	if (fstat(fd, &now) == 0 && S_ISREG(now.st_mode) && now.st_size < opened->st_size)
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: I/O error: the file shrank while it was read (%lld bytes, now %lld)",
				      ar->path, (long long)opened->st_size, (long long)now.st_size);
	return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: %s", ar->path, what);
}

static kcsi_code open_tar(kcsi_archive *ar, int fd, unsigned flags, const kcsi_archive_limits *lim,
			  kcsi_error *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	uint64_t unpacked = 0, memory = 0;
	kcsi_code rc = KCSI_OK;
	struct stat st = {0};
	int r;

	if (!a)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	kcsi_tar_formats(a);
	if (fstat(fd, &st) == 0)
		ar->size = (uint64_t)st.st_size;
	if (archive_read_open_fd(a, fd, 1 << 20) != ARCHIVE_OK) {
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: not a tar archive (%s)", ar->path,
				    archive_error_string(a) ? archive_error_string(a) : "unrecognised content");
		goto out;
	}
	kcsi_progress_phase("reading the archive", ar->size);
	for (;;) {
		char name[4096];
		struct member *m;

		kcsi_progress_set((uint64_t)archive_filter_bytes(a, -1));
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			char what[512];
			snprintf(what, sizeof(what), "%s (after %zu members)",
				 archive_error_string(a) ? archive_error_string(a) : "bad tar header", ar->n);
			rc = tar_read_error(ar, fd, &st, what, err);
			goto out;
		}
		if (ar->n == 0 && ar->m == NULL)
			first_header_read(ar, a, fd, &st);
		mode_t type = 0;
		rc = check_entry(ar, e, lim, name, sizeof(name), &type, err);
		if (rc == KCSI_SKIP_ROOT) {
			rc = KCSI_OK;
			continue;
		}
		if (rc != KCSI_OK)
			goto out;
		m = add_member(ar, name, err);
		if (!m) {
			rc = err->code;
			goto out;
		}
		m->pub.size = type == AE_IFDIR ? 0 : (uint64_t)archive_entry_size(e);
		m->pub.mtime = archive_entry_mtime(e);
		m->pub.mode = archive_entry_mode(e);
		m->pub.is_dir = type == AE_IFDIR;
		if (m->pub.is_dir)
			continue;
		if (ar->in_place && archive_entry_sparse_count(e) == 0) {
			uint64_t off = (uint64_t)archive_filter_bytes(a, 0);
			if (off > ar->map_len || m->pub.size > ar->map_len - off) {
				rc = kcsi_error_set(err, KCSI_ERR_FORMAT,
						    "%s: member '%s': truncated archive (content at offset %llu, %llu bytes, archive is %llu bytes)",
						    ar->path, name, (unsigned long long)off,
						    (unsigned long long)m->pub.size, (unsigned long long)ar->map_len);
				goto out;
			}
			m->store = ST_ARCHIVE;
			m->off = off;
			m->pub.has_data = true;
			continue; /* the next header read skips the content by seeking */
		}
		bool bulk = kcsi_member_is_bulk(name);
		if (bulk && !(flags & KCSI_AR_BULK)) {
			if (archive_read_data_skip(a) != ARCHIVE_OK) {
				char what[4600];
				snprintf(what, sizeof(what), "member '%s': %s", name,
					 archive_error_string(a) ? archive_error_string(a) : "read error");
				rc = tar_read_error(ar, fd, &st, what, err);
				goto out;
			}
			unpacked += m->pub.size;
			if (unpacked > lim->max_unpacked) {
				rc = kcsi_error_set(err, KCSI_ERR_LIMIT,
						    "%s: more than %llu bytes decompressed (set KCSI_MAX_UNPACKED to raise the bound)",
						    ar->path, (unsigned long long)lim->max_unpacked);
				goto out;
			}
			continue;
		}
		rc = read_entry_data(ar, a, m, bulk || m->pub.size > lim->max_member, lim, &unpacked, &memory, err);
		if (rc != KCSI_OK) {
			kcsi_error_prefix(err, "%s", ar->path);
			goto out;
		}
	}
	if (ar->n == 0 && !ar->kind[0])
		snprintf(ar->kind, sizeof(ar->kind), "tar");
	if (archive_filter_count(a) == 2 && archive_filter_code(a, 0) == ARCHIVE_FILTER_GZIP &&
	    (rc = gzip_check(ar, fd, (uint64_t)archive_filter_bytes(a, 0), err)) != KCSI_OK)
		goto out;
	if (ar->spill_fd >= 0 && ar->spill_len) {
		void *p = mmap(NULL, (size_t)ar->spill_len, PROT_READ, MAP_PRIVATE, ar->spill_fd, 0);
		if (p == MAP_FAILED) {
			rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: mapping the temporary copy: %s", ar->path,
					    strerror(errno));
			goto out;
		}
		ar->spill_map = p;
	}
out:
	kcsi_progress_done();
	archive_read_free(a);
	return rc;
}

/* ---- directories ---- */

static kcsi_code walk_dir(kcsi_archive *ar, const char *root, const char *rel,
			  const kcsi_archive_limits *lim, int depth, kcsi_error *err)
{
	char dpath[8192];
	DIR *d;
	struct dirent *de;
	kcsi_code rc = KCSI_OK;

	if (depth > 16)
		return kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: directories nested too deeply at '%s'", root, rel);
	snprintf(dpath, sizeof(dpath), "%s%s%s", root, *rel ? "/" : "", rel);
	d = opendir(dpath);
	if (!d)
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", dpath, strerror(errno));
	while ((de = readdir(d))) {
		char r2[4096], full[8192];
		struct stat st;
		struct member *m;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((size_t)snprintf(r2, sizeof(r2), "%s%s%s", rel, *rel ? "/" : "", de->d_name) >= sizeof(r2))
			continue;
		snprintf(full, sizeof(full), "%s/%s", root, r2);
		if (lstat(full, &st) != 0) {
			rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", full, strerror(errno));
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			rc = kcsi_error_set(err, KCSI_ERR_UNSAFE, "%s: '%s' is a symbolic link (refused)", root, r2);
			break;
		}
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			continue;
		if (ar->n >= lim->max_members) {
			rc = kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: more than %u files", root, lim->max_members);
			break;
		}
		m = add_member(ar, r2, err);
		if (!m) {
			rc = err->code;
			break;
		}
		m->pub.mtime = st.st_mtime;
		m->pub.mode = st.st_mode;
		m->pub.is_dir = S_ISDIR(st.st_mode);
		if (m->pub.is_dir) {
			rc = walk_dir(ar, root, r2, lim, depth + 1, err);
			if (rc != KCSI_OK)
				break;
			continue;
		}
		m->pub.size = (uint64_t)st.st_size;
		m->pub.has_data = true;
		m->store = ST_FILE;
		m->file = strdup(full);
		if (!m->file) {
			rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
			break;
		}
		ar->size += m->pub.size;
	}
	closedir(d);
	return rc;
}

/* Does the directory hold what every checkpoint layout has at its top:
 * checkpoint/ (podman, CRI-O, containerd), inventory.img (bare CRIU images)
 * or config.dump?  A directory with none of them (a source tree, a
 * virtualenv) is not walked: it is said not to be a checkpoint, rather than
 * refused for the first link found in it. */
static bool looks_like_checkpoint(const char *dir)
{
	static const char *const marks[] = {"checkpoint", "inventory.img", "config.dump"};
	char p[8192];
	struct stat st;
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, marks[i]);
		if (lstat(p, &st) == 0)
			return true;
	}
	return false;
}

kcsi_code kcsi_archive_open(const char *path, unsigned flags, const kcsi_archive_limits *lim_in,
			    kcsi_archive **out, kcsi_error *err)
{
	kcsi_archive_limits lim;
	kcsi_archive *ar;
	struct stat st;
	kcsi_code rc;

	*out = NULL;
	if (lim_in)
		lim = *lim_in;
	else
		kcsi_archive_default_limits(&lim);
	if (stat(path, &st) != 0)
		return kcsi_error_set(err, errno == ENOENT ? KCSI_ERR_NOTFOUND : KCSI_ERR_IO,
				      "%s: %s", path, strerror(errno));
	ar = calloc(1, sizeof(*ar));
	if (!ar || !(ar->path = strdup(path))) {
		free(ar);
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	ar->spill_fd = -1;
	ar->fd = -1;
	ar->faults = atomic_load(&guard_faults);
	if (S_ISDIR(st.st_mode)) {
		snprintf(ar->kind, sizeof(ar->kind), "directory");
		ar->in_place = true;
		if (!looks_like_checkpoint(path))
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT,
					    "%s: a directory without checkpoint/, inventory.img or config.dump: not a "
					    "container checkpoint", path);
		else
			rc = walk_dir(ar, path, "", &lim, 0, err);
	} else {
		/* O_NONBLOCK: opening a fifo must not wait for a writer */
		int fd = open_evidence(path, O_NONBLOCK);
		if (fd < 0) {
			rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", path, strerror(errno));
		} else if ((rc = check_regular(fd, path, err)) == KCSI_OK) {
			rc = open_tar(ar, fd, flags, &lim, err);
			if (ar->in_place)
				ar->fd = fd; /* kept to check the size before each use */
			else
				close(fd);
		} else {
			close(fd);
		}
	}
	if (rc == KCSI_OK)
		rc = build_index(ar, err);
	if (rc != KCSI_OK) {
		kcsi_archive_close(ar);
		return rc;
	}
	*out = ar;
	return KCSI_OK;
}

void kcsi_archive_close(kcsi_archive *ar)
{
	if (!ar)
		return;
	for (size_t i = 0; i < ar->n; i++) {
		struct member *m = &ar->m[i];
		if (m->store == ST_MEM)
			free(m->mem);
		else if (m->store == ST_FILE && m->mem && m->pub.size) {
			guard_remove(m->mem);
			munmap(m->mem, (size_t)m->pub.size);
		}
		free(m->file);
		free((char *)m->pub.name);
	}
	if (ar->map) {
		guard_remove(ar->map);
		munmap((void *)ar->map, (size_t)ar->map_len);
	}
	if (ar->fd >= 0)
		close(ar->fd);
	if (ar->spill_map)
		munmap((void *)ar->spill_map, (size_t)ar->spill_len);
	if (ar->spill_fd >= 0)
		close(ar->spill_fd);
	free(ar->m);
	free(ar->sorted);
	free(ar->path);
	free(ar);
}

const char *kcsi_archive_path(const kcsi_archive *ar) { return ar->path; }
const char *kcsi_archive_kind(const kcsi_archive *ar) { return ar->kind; }
uint64_t kcsi_archive_size(const kcsi_archive *ar) { return ar->size; }
bool kcsi_archive_in_place(const kcsi_archive *ar) { return ar->in_place; }
size_t kcsi_archive_count(const kcsi_archive *ar) { return ar->n; }

const kcsi_member *kcsi_archive_at(const kcsi_archive *ar, size_t i)
{
	return i < ar->n ? &ar->m[i].pub : NULL;
}

const kcsi_member *kcsi_archive_find(const kcsi_archive *ar, const char *name)
{
	size_t lo = 0, hi = ar->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(ar->m[ar->sorted[mid]].pub.name, name);
		if (c == 0)
			return &ar->m[ar->sorted[mid]].pub;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool archive_faulted(kcsi_archive *ar, unsigned long now)
{
	unsigned long from = now - ar->faults > FAULT_RING ? now - FAULT_RING : ar->faults;
	for (unsigned long k = from; k < now; k++) {
		uintptr_t a = atomic_load(&fault_ring[k % FAULT_RING]);
		if (in_range(a, ar->map, ar->map_len))
			return true;
		for (size_t i = 0; i < ar->n; i++)
			if (ar->m[i].store == ST_FILE && in_range(a, ar->m[i].mem, ar->m[i].pub.size))
				return true;
	}
	return false;
}

kcsi_code kcsi_archive_check(kcsi_archive *ar, kcsi_error *err)
{
	unsigned long now = atomic_load(&guard_faults);
	struct stat st;
	if (now != ar->faults) {
		if (archive_faulted(ar, now))
			ar->changed = true;
		ar->faults = now;
	}
	/* a write from the mapping fails with EFAULT rather than a fault:
	 * the size tells */
	if (!ar->changed && err && ar->fd >= 0 && fstat(ar->fd, &st) == 0 && (uint64_t)st.st_size < ar->map_len)
		ar->changed = true;
	if (ar->changed) /* callers put the archive's path in front, as for other read errors */
		return kcsi_error_set(err, KCSI_ERR_IO,
				      "I/O error: the archive shrank while it was being read (truncated by another process?)");
	return KCSI_OK;
}

size_t kcsi_archive_index(const kcsi_archive *ar, const kcsi_member *m)
{
	return (size_t)((const struct member *)m - ar->m); /* pub is the first field */
}

kcsi_code kcsi_member_data(kcsi_archive *ar, const kcsi_member *pm, const unsigned char **data,
			   kcsi_error *err)
{
	struct member *m = (struct member *)pm; /* pub is the first field */
	static const unsigned char empty[1];

	*data = NULL;
	if (!m->pub.has_data)
		return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED,
				      "%s: member '%s': content not loaded (bulk member read without KCSI_AR_BULK)",
				      ar->path, m->pub.name);
	if (m->pub.size == 0) {
		*data = empty;
		return KCSI_OK;
	}
	switch (m->store) {
	case ST_MEM:
		*data = m->mem;
		return KCSI_OK;
	case ST_ARCHIVE: {
		struct stat st;
		kcsi_code rc = kcsi_archive_check(ar, err);
		if (rc != KCSI_OK)
			return rc;
		if (ar->fd >= 0 && fstat(ar->fd, &st) == 0 && (uint64_t)st.st_size < m->off + m->pub.size) {
			ar->changed = true;
			return kcsi_error_set(err, KCSI_ERR_IO,
					      "I/O error: member '%s' needs bytes up to %llu, the archive has %llu now (truncated while being read)",
					      m->pub.name, (unsigned long long)(m->off + m->pub.size),
					      (unsigned long long)st.st_size);
		}
		*data = ar->map + m->off;
		return KCSI_OK;
	}
	case ST_SPILL:
		if (!ar->spill_map || m->off + m->pub.size > ar->spill_len)
			return kcsi_error_set(err, KCSI_ERR_IO, "%s: member '%s': temporary copy missing",
					      ar->path, m->pub.name);
		*data = ar->spill_map + m->off;
		return KCSI_OK;
	case ST_FILE:
		if (!m->mem) {
			int fd = open_evidence(m->file, O_NOFOLLOW | O_NONBLOCK);
			struct stat st;
			kcsi_code rc;
			void *p;
			if (fd < 0)
				return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", m->file, strerror(errno));
			if ((rc = check_regular(fd, m->file, err)) != KCSI_OK) {
				close(fd);
				return rc;
			}
			if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != m->pub.size) {
				close(fd);
				return kcsi_error_set(err, KCSI_ERR_IO, "%s: changed size while being read", m->file);
			}
			p = mmap(NULL, (size_t)m->pub.size, PROT_READ, MAP_PRIVATE, fd, 0);
			close(fd);
			if (p == MAP_FAILED)
				return kcsi_error_set(err, KCSI_ERR_IO, "%s: mmap: %s", m->file, strerror(errno));
			m->mem = p;
			guard_add(p, m->pub.size);
		}
		*data = m->mem;
		return KCSI_OK;
	case ST_NONE:
		break;
	}
	return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED, "%s: member '%s' has no content", ar->path,
			      m->pub.name);
}

