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
 * directories 0700), a file larger than max_file is refused, and an existing
 * file is never overwritten unless force.  Refused items are listed in the
 * manifest with the reason.
 */
#ifndef KCSI_RECOVER_H
#define KCSI_RECOVER_H

#include <stdbool.h>
#include <stdint.h>

#include "kcsi/ckpt.h"
#include "kcsi/error.h"

typedef struct kcsi_recover_opts {
	const char *out_dir;
	bool force;        /* overwrite existing files */
	uint64_t max_file; /* largest file written (0: 4 GiB) */
} kcsi_recover_opts;

typedef struct kcsi_item {
	char *file;        /* written file, relative to out_dir (NULL if none) */
	const char *origin;/* ghost, memfd, tcp-queue, rootfs-diff, devshm, log, deleted */
	char *source;      /* original path, or connection */
	int64_t pid, fd;   /* -1 when unknown */
	uint64_t size;
	uint32_t mode;     /* original mode */
	char sha256[65];   /* hex, empty when no file */
	const char *type;  /* file, symlink, hardlink, dir... for rootfs entries */
	char *target;      /* link target */
	char *refused;     /* why the item was not written, or NULL */
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
