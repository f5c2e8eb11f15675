/* kcsi — carving evidence out of a checkpoint.
 *
 * kcsi_recover() writes, below one output directory only, everything the
 * checkpoint holds that may matter: ghost files (deleted while open) under
 * their original paths, memfd contents (including the program of a fileless
 * process), the bytes queued in TCP connections, the files of
 * rootfs-diff.tar and devshm-checkpoint.tar, the container and dump logs; and
 * DIR/manifest.json listing each item with its sha256.
 *
 * Extraction is safe: paths with ".." are refused, absolute paths are
 * confined below DIR, no path component is followed through a symlink,
 * links are recorded and never created, devices and fifos are never created,
 * setuid/setgid bits and owners are not reproduced (files are 0600,
 * directories 0700).
 *
 * No evidence is lost to a name: items whose paths collide (two deleted
 * files of the same path, a name repeated in the rootfs diff, a file where
 * another item needs a directory) get distinct names ("~2", "~3" added to
 * the component in the way), a component over 255 bytes is shortened
 * (its first 200 bytes, '~', 16 hex digits of its SHA-256), and the item records
 * why (renamed).  One item never replaces another; an existing file of an
 * earlier run is replaced only with force, and without force DIR must be
 * empty.
 *
 * The run is bounded: a file holding more than max_file bytes of data is
 * refused; the compressed tars inside the checkpoint are decompressed under
 * the checkpoint's own bound (KCSI_MAX_UNPACKED, one budget for the whole
 * run), and an entry that would pass it is refused with the rest of its tar.
 * Parts of a file the checkpoint does not hold (memfd pages never written,
 * ghost-file chunks, sparse tar entries) are holes on disk; hashing costs
 * the bytes held, not the apparent size (see kcsi_item.sha256).
 *
 * Whatever fails for one item or one source is recorded as a refusal and the
 * run goes on; DIR/manifest.json lists every item and every refusal.
 */
#ifndef KCSI_RECOVER_H
#define KCSI_RECOVER_H

#include <stdbool.h>
#include <stdint.h>

#include "kcsi/ckpt.h"
#include "kcsi/error.h"

typedef struct kcsi_recover_opts {
	const char *out_dir;
	bool force;        /* write into a non-empty DIR, replacing files of an earlier run */
	uint64_t max_file; /* most bytes of data one file may hold (0: 4 GiB) */
} kcsi_recover_opts;

typedef struct kcsi_item {
	char *file;        /* written file, relative to out_dir (NULL if none) */
	const char *origin;/* ghost, memfd, tcp-queue, rootfs-diff, devshm, log, deleted */
	char *source;      /* original path, or connection */
	int64_t pid, fd;   /* -1 when unknown */
	uint64_t size;     /* apparent size */
	uint32_t mode;     /* original mode */
	char sha256[65];   /* hex of the whole content; empty when no file, or
			    * when the file's holes outweigh its data (then
			    * data_sha256 and extents describe it) */
	const char *type;  /* file, symlink, hardlink, dir... for rootfs entries */
	char *target;      /* link target */
	char *refused;     /* why the item was not written (or, with file set,
			    * not written whole), or NULL */
	char *renamed;     /* why file is not the source path, or NULL */
	bool sparse;       /* the file has holes: ranges the checkpoint does not
			    * hold, which read as zeros */
	char data_sha256[65]; /* sparse files: SHA-256 of the extents' bytes in order */
	uint64_t *extents; /* sparse files: (offset, length) pairs of the data */
	size_t nextents;
} kcsi_item;

typedef struct kcsi_recovery {
	kcsi_item *items;
	size_t n;
	size_t refused;    /* items refused */
} kcsi_recovery;

kcsi_code kcsi_recover(kcsi_ckpt *c, const kcsi_recover_opts *o, kcsi_recovery *out, kcsi_error *err);
void kcsi_recovery_free(kcsi_recovery *r);

/* ---- rootfs-diff.tar and deleted files ---- */

typedef struct kcsi_rootfs_entry {
	char *path;
	const char *type;  /* file, dir, symlink, hardlink, char, block, fifo, other */
	uint32_t mode;
	int64_t uid, gid;
	uint64_t size;
	int64_t mtime;
	char *target;      /* link target */
	bool deleted;      /* listed as deleted (deleted.files) */
} kcsi_rootfs_entry;

kcsi_code kcsi_rootfs_list(kcsi_ckpt *c, kcsi_rootfs_entry **out, size_t *n, kcsi_error *err);
void kcsi_rootfs_free(kcsi_rootfs_entry *v, size_t n);

#endif
