/* kcsi — the content objects a checkpoint holds besides process memory,
 * through one interface: TCP receive and send queues, files deleted while
 * open whose content CRIU kept (ghost files), memfd contents, the files of the
 * rootfs diff, of /dev/shm and of the container's other tmpfs mounts (CRIU's
 * tmpfs-dev-N.tar.gz.img: an exec /dev/shm, an emptyDir of medium Memory).  A consumer (hunt, content rules) sees every
 * object once, with its bytes as pieces at offsets in increasing order; a gap
 * between pieces is a hole (bytes the checkpoint does not hold).  Nothing is
 * copied that the archive holds in place; tar members are read as libarchive
 * decompresses them.  Process memory has its own walker (kcsi/mem.h).
 */
#ifndef KCSI_SOURCES_H
#define KCSI_SOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kcsi/ckpt.h"
#include "kcsi/error.h"

enum kcsi_source_kind {
	KCSI_SRC_QUEUE = 1u << 0,  /* a TCP socket's queued bytes (recv or send) */
	KCSI_SRC_GHOST = 1u << 1,  /* a file deleted while open, content kept by CRIU */
	KCSI_SRC_MEMFD = 1u << 2,  /* a memfd's content */
	KCSI_SRC_ROOTFS = 1u << 3, /* a regular file of the rootfs diff */
	KCSI_SRC_DEVSHM = 1u << 4, /* a regular file of /dev/shm */
	KCSI_SRC_TMPFS = 1u << 5,  /* a regular file of a tmpfs mount CRIU dumped */
	KCSI_SRC_ALL = 0x3f,
};

typedef struct kcsi_object {
	enum kcsi_source_kind kind;
	const char *kind_name;  /* "queue", "ghost", "memfd", "rootfs", "devshm", "tmpfs" */
	const char *path;       /* file path, "/memfd:NAME", or "SRC:PORT->DST:PORT" for queues */
	const char *direction;  /* "recv" or "send" for queues, else NULL */
	int64_t pid, fd;        /* a process holding it, -1 when none */
	uint64_t size;          /* logical size (holes included) */
	uint64_t id;            /* socket inode, remap id, memfd inode id; 0 for tar members */
	uint32_t mode;          /* files: type and permission bits (setuid ...) as recorded; 0 when unknown */
} kcsi_object;

typedef struct kcsi_object_cbs {
	/* 0: read its bytes; non-zero: skip it */
	int (*begin)(void *ctx, const kcsi_object *o);
	/* bytes at off (pieces in increasing offset order); non-zero stops the walk */
	int (*data)(void *ctx, const kcsi_object *o, uint64_t off, const unsigned char *p, size_t len);
	/* after the last piece; non-zero stops the walk */
	int (*end)(void *ctx, const kcsi_object *o);
} kcsi_object_cbs;

/* Walk the objects of the kinds asked for (KCSI_SRC_*).  An object that
 * cannot be read is reported through err only when nothing else could be
 * read; a damaged tar member ends that tar, not the walk. */
kcsi_code kcsi_walk_objects(kcsi_ckpt *c, unsigned kinds, const kcsi_object_cbs *cb, void *ctx, kcsi_error *err);

#endif
