/* kcsi — checkpoint containers: a tar archive (plain, gzip, zstd, bzip2, xz;
 * recognised by content) or an extracted directory.
 *
 * The archive is evidence: it is opened read-only and never written.  It is
 * read in one streaming pass.  Member data is then available as a read-only
 * byte range:
 *   - plain tar and directories: mapped in place (never copied);
 *   - compressed tar: small members are kept in memory; bulk members (memory
 *     pages, rootfs diff, /dev/shm and tmpfs tars) are decompressed once into
 *     an unlinked temporary file and mapped, or skipped when the caller did
 *     not ask for them (KCSI_AR_BULK).
 * Member names are normalised ("./a//b" -> "a/b").  A member whose name is
 * absolute or contains "..", a link, a device or a fifo makes the open fail
 * with KCSI_ERR_UNSAFE; so do duplicate names.
 *
 * Ownership: kcsi_archive_close() frees the archive and every pointer
 * obtained from it.
 */
#ifndef KCSI_ARCHIVE_H
#define KCSI_ARCHIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "kcsi/error.h"

typedef struct kcsi_archive kcsi_archive;

typedef struct kcsi_member {
	const char *name;   /* normalised path inside the checkpoint */
	uint64_t size;      /* bytes of content */
	int64_t mtime;      /* seconds since the epoch, as recorded */
	unsigned mode;      /* permission bits and type (S_IFREG/S_IFDIR) */
	bool is_dir;
	bool has_data;      /* content is available to kcsi_member_data() */
} kcsi_member;

enum {
	KCSI_AR_BULK = 1u << 0, /* make bulk members (pages, rootfs diff) readable */
};

typedef struct kcsi_archive_limits {
	uint64_t max_member;   /* largest member kept in memory (compressed input) */
	uint64_t max_memory;   /* all members kept in memory together */
	uint64_t max_unpacked; /* all decompressed bytes (bomb guard) */
	uint32_t max_members;  /* number of members */
} kcsi_archive_limits;

/* Defaults: 256 MiB, 1 GiB, 256 GiB, 1,000,000.  KCSI_MAX_UNPACKED in the
 * environment (bytes, suffix K/M/G/T allowed) overrides max_unpacked. */
void kcsi_archive_default_limits(kcsi_archive_limits *lim);

kcsi_code kcsi_archive_open(const char *path, unsigned flags,
			    const kcsi_archive_limits *lim, /* NULL: defaults */
			    kcsi_archive **out, kcsi_error *err);
void kcsi_archive_close(kcsi_archive *ar);

const char *kcsi_archive_path(const kcsi_archive *ar);
/* "directory", "tar", "tar+gzip", "tar+zstd", ... */
const char *kcsi_archive_kind(const kcsi_archive *ar);
/* Size of the archive file (or of all member files of a directory). */
uint64_t kcsi_archive_size(const kcsi_archive *ar);
/* True when member data is read in place from the archive (no copy). */
bool kcsi_archive_in_place(const kcsi_archive *ar);

size_t kcsi_archive_count(const kcsi_archive *ar);
const kcsi_member *kcsi_archive_at(const kcsi_archive *ar, size_t i);
/* Member by normalised name, or NULL. */
const kcsi_member *kcsi_archive_find(const kcsi_archive *ar, const char *name);
/* Position of a member of this archive in kcsi_archive_at() order. */
size_t kcsi_archive_index(const kcsi_archive *ar, const kcsi_member *m);

/* KCSI_OK, or KCSI_ERR_IO once the archive file (or a
 * member file of a directory) was found to shrink while it was mapped —
 * truncated by another process: what was read from it since is not the
 * evidence (reading past the new end gives zeros instead of SIGBUS).  With
 * err NULL only the faults recorded are looked at (cheap: fit for every
 * match of a scan); with err the size of a plain tar is checked as well.
 * The readers of the library call it themselves. */
kcsi_code kcsi_archive_check(kcsi_archive *ar, kcsi_error *err);

/* Read-only content of a member; valid until kcsi_archive_close(). */
kcsi_code kcsi_member_data(kcsi_archive *ar, const kcsi_member *m,
			   const unsigned char **data, kcsi_error *err);

/* True when NAME is a bulk member (see above). */
bool kcsi_member_is_bulk(const char *name);

#endif
