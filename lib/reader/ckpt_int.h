/* kcsi — private state of an opened checkpoint, shared by the modules that
 * fill in the model (ckpt.c, meta.c, proc.c, files.c, net.c, mem.c, mounts.c). */
#ifndef KCSI_CKPT_INT_H
#define KCSI_CKPT_INT_H
#ifndef KCSI_INTERNAL
#error "ckpt_int.h is private to libkcsi"
#endif

#include "criu-images.h"
#include "reader/image.h"
#include "kcsi/ckpt.h"
#include "base/util.h"

/* Something worked out once per open checkpoint: later calls replay the
 * outcome, an error included, so hostile input costs its work only once. */
struct ck_once {
	bool done;
	kcsi_code rc;
	char *msg;   /* the error message when rc is not KCSI_OK */
};
/* The stored outcome into *err (when not OK); returns it. */
kcsi_code ck_once_replay(const struct ck_once *o, kcsi_error *err);
/* Keep the outcome rc (message in e) and hand it to *err; returns rc. */
kcsi_code ck_once_store(struct ck_once *o, kcsi_code rc, const kcsi_error *e, kcsi_error *err);
void ck_once_free(struct ck_once *o);

/* A lookup table from ids to entries: sorted by (id, pos), so that of
 * entries with equal ids the first in the image wins. */
struct ck_idref {
	uint64_t id;
	size_t pos;      /* position in the image, for the order of equal ids */
	void *p;
	const void *q;
};
void ck_index_sort(struct ck_idref *v, size_t n);
/* The first entry with that id, or NULL. */
const struct ck_idref *ck_index_find(const struct ck_idref *v, size_t n, uint64_t id);

/* The contents of a shared memory object (pagemap-shmem-ID.img). */
struct ck_shmem {
	uint64_t id;
	const char *name;   /* image name under the prefix */
	struct ck_once once;
	kcsi_memrun *runs;
	size_t n;
};

struct ck_decoded;

struct proc_priv {
	kcsi_proc pub;
	PstreeEntry *pst;
	CoreEntry *core;
	TaskKobjIdsEntry *ids;       /* from core or ids-PID.img */
	TaskKobjIdsEntry *ids_owned; /* when read from ids-PID.img */
	MmEntry *mm;
	FsEntry *fs;
	ProtobufCMessage **fdinfo;   /* FdinfoEntry */
	size_t nfdinfo;
	/* memory */
	struct ck_once runs_once;
	kcsi_memrun *runs;
	size_t nruns;
	struct ck_once pagemap_once;
	ProtobufCMessage **pagemap;  /* PagemapEntry, inside the decoded image */
	size_t npagemap;
	uint32_t pages_id;
};

struct kcsi_ckpt {
	kcsi_archive *ar;
	unsigned flags;
	const char *prefix;          /* "checkpoint/" or "" */
	kcsi_meta meta;
	json_t *config, *spec, *network, *bind_mounts;
	InventoryEntry *inv;
	struct proc_priv *procs;     /* sorted by pid */
	size_t nprocs;
	ProtobufCMessage **pstree;   /* PstreeEntry, owned */
	size_t npstree;
	FileEntry **files;           /* sorted by id */
	size_t nfiles;
	ProtobufCMessage **owned;    /* messages to free at close */
	size_t nowned, capowned;
	RemapFilePathEntry **remaps;
	size_t nremaps;
	struct ck_idref *remap_ix;   /* remaps by orig_id */
	struct ck_idref *holder_ix;  /* descriptors by file id: p proc, q FdinfoEntry */
	size_t nholder_ix;
	struct ck_idref *exe_ix;     /* processes by executable file id */
	size_t nexe_ix;
	struct ck_once memfd_once;   /* memfd inodes by inode id */
	struct ck_idref *memfd_ix;
	size_t nmemfd_ix;
	MntEntry **mnts;
	size_t nmnts;
	struct ck_once shmem_once;   /* shared memory objects, by id */
	struct ck_shmem *shmem;
	size_t nshmem;
	struct ck_decoded **decoded; /* images decoded so far, by archive member */
	char **strs;                 /* strings to free at close */
	size_t nstrs, capstrs;
};

/* Keep a message / string alive until close. 0 or -1 (out of memory). */
int ck_own(kcsi_ckpt *c, void *msg);
char *ck_strdup(kcsi_ckpt *c, const char *s);
char *ck_strndup(kcsi_ckpt *c, const char *s, size_t n);
char *ck_printf(kcsi_ckpt *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Member content of IMAGE-NAME (under the image prefix); NULL data when
 * absent (then *present = false). */
kcsi_code ck_image_data(kcsi_ckpt *c, const char *name, const unsigned char **data, size_t *size,
			bool *present, kcsi_error *err);
/* Read every entry of an image of the given kind into an array of messages
 * owned by the checkpoint (the array too: do not free it).  Each image is
 * decoded once per open checkpoint; later calls return the same array, or
 * the same error.  A pagemap image gives its PagemapHead first, then its
 * PagemapEntry messages.  Absent image: *n = 0, KCSI_OK. */
kcsi_code ck_read_all(kcsi_ckpt *c, const char *name, const char *kind, ProtobufCMessage ***out,
		      size_t *n, kcsi_error *err);
/* The first entry of an image whose entry is followed by a payload (ghost
 * files), decoded once, and the image positioned after it; img_name (kept
 * by the caller while img is used) names it in errors.  Absent: *present
 * false. */
kcsi_code ck_read_first(kcsi_ckpt *c, const char *name, const char *kind, const char *img_name,
			kcsi_image *img, ProtobufCMessage **out, bool *present, kcsi_error *err);
/* The single entry of an image (core, mm, fs, ids...). Absent: *out NULL. */
kcsi_code ck_read_one(kcsi_ckpt *c, const char *name, const char *kind, ProtobufCMessage **out,
		      kcsi_error *err);

/* A tar member of the checkpoint (rootfs-diff.tar, devshm-checkpoint.tar)
 * opened for reading with libarchive; *out NULL when absent or empty. */
struct archive;
kcsi_code ck_member_tar(kcsi_ckpt *c, const char *member, struct archive **out, kcsi_error *err);

FileEntry *ck_file(const kcsi_ckpt *c, uint32_t id);
struct proc_priv *ck_proc(const kcsi_ckpt *c, uint32_t pid);

/* meta.c */
kcsi_code ck_load_meta(kcsi_ckpt *c, kcsi_error *err);
kcsi_code ck_load_uts(kcsi_ckpt *c, kcsi_error *err);
/* proc.c */
kcsi_code ck_load_cmdline(kcsi_ckpt *c, struct proc_priv *p, kcsi_error *err);
/* mem.c */
kcsi_code ck_load_pagemap(kcsi_ckpt *c, struct proc_priv *p, kcsi_error *err);
kcsi_code ck_load_runs(kcsi_ckpt *c, struct proc_priv *p, kcsi_error *err);
/* memscan.c: the memory of a process as pieces (address, bytes in the
 * checkpoint), private runs and the shared memory it maps, by address */
struct ck_piece {
	uint64_t addr;
	const unsigned char *p;
	uint64_t len;
	uint64_t shmid;
};
kcsi_code ck_mem_pieces(kcsi_ckpt *c, struct proc_priv *p, struct ck_piece **out, size_t *n, kcsi_error *err);

/* mem.c: a file of memory written out (dump's areas and core, recover's
 * memfds): the bytes the checkpoint holds at their offsets, holes between
 * them left sparse (never written), the size set at the end.  Two hashes:
 *   sha256          SHA-256 of the whole file, as sha256sum prints it; the
 *                   holes are hashed as zeros only while the job's budget of
 *                   hole bytes lasts (*budget, shared by the files of one
 *                   job), else it is "" (not computed);
 *   extents_sha256  SHA-256 over each run of bytes held, in file order, each
 *                   followed by its offset and length (little-endian 64-bit),
 *                   then the file size: the holes enter as their extent
 *                   list, so it costs what is held, however large the file.
 * Writes come in increasing offset order; bytes before the end of what was
 * written already are skipped (overlapping sources). */
#define CK_HOLE_HASH_BUDGET (256ull << 20)
struct ck_sparse {
	int fd;
	const char *what;     /* the file's name, for errors */
	uint64_t size;        /* final size */
	uint64_t pos;         /* end of what was written so far */
	uint64_t run_start;   /* the run of held bytes being written, when run_open */
	bool run_open;
	uint64_t held;        /* bytes written */
	uint64_t *budget;     /* hole bytes the whole-file hash may still read */
	void *full, *extents; /* EVP_MD_CTX; full NULL once it is given up */
};
kcsi_code ck_sparse_open(struct ck_sparse *s, int fd, const char *what, uint64_t size, uint64_t *budget,
			 kcsi_error *err);
kcsi_code ck_sparse_write(struct ck_sparse *s, uint64_t off, const void *p, uint64_t len, kcsi_error *err);
/* Set the size; the hashes in hex ("" for a whole-file hash not computed).
 * Frees what open took, also after an error. */
kcsi_code ck_sparse_close(struct ck_sparse *s, char sha256[65], char extents_sha256[65], kcsi_error *err);
/* files.c */
const char *ck_fd_type_name(uint32_t type);
const char *ck_file_path(kcsi_ckpt *c, FileEntry *f);
RemapFilePathEntry *ck_remap(const kcsi_ckpt *c, uint32_t file_id);
MemfdInodeEntry *ck_memfd_inode(kcsi_ckpt *c, uint32_t inode_id);
/* The ghost-file image of a remap: its entry (owned by the checkpoint) and
 * the image positioned on the content; name receives the member path. */
kcsi_code ck_ghost_open(kcsi_ckpt *c, uint32_t remap_id, char *name, size_t cap, kcsi_image *img,
			GhostFileEntry **g, kcsi_error *err);
/* The first descriptor (pid, fd) that refers to a file id, else the process
 * whose executable it is (fd stays as given); -1s stay when none. */
void ck_file_holder(const kcsi_ckpt *c, uint32_t file_id, int64_t *pid, int64_t *fd);

#endif
