/* kcsi detonate — the confinement plan's own data, shared by confine.c
 * (namespaces, mounts, capabilities, cgroups, config and spec, the restore
 * copy) and sanitise.c (the tar members applied on the host).  Private to
 * lib/sandbox. */
#ifndef KCSI_SANDBOX_CONFINE_INT_H
#define KCSI_SANDBOX_CONFINE_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "reader/ckpt_int.h"
#include "sandbox/sandbox_int.h"

/* A default container's capabilities (podman's and CRI-O's default set):
 * CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
 * NET_BIND_SERVICE SYS_CHROOT SETFCAP. */
#define DET_CAPS_ALLOWED 0x800405FBull
#define DET_BIND_TMPFS_SIZE "size=64m,nr_inodes=16384,mode=0700"
#define DET_MAX_DIFF_BYTES (8ull << 30)
#define MS_RDONLY_FLAG 1u

/* CRIU's fstype numbers (mnt.proto) */
enum { FS_PROC = 1, FS_SYSFS = 2, FS_TMPFS = 5, FS_DEVPTS = 6, FS_CGROUP = 12, FS_MQUEUE = 14, FS_OVERLAY = 17,
       FS_CGROUP2 = 23 };

struct det_repl {
	char *name;          /* member name in the archive */
	unsigned char *data; /* new content in memory, or */
	char *file;          /* in this file */
	size_t len;
};

struct det_bind {
	char *dest;          /* mountpoint in the container */
	char *source;        /* sandbox-owned source */
	bool is_file;
};

struct det_mask {
	MntEntry *e;
	char *root, *mountpoint;
};

struct det_confine {
	struct det_mask *masks; /* mounts added over /proc/sys and the like */
	size_t nmasks;
	json_t *report;      /* {mounts, capabilities, devices, rootfs, members, namespaces} */
	json_t *config, *spec;
	struct det_repl *repl;
	size_t nrepl;
	struct det_bind *binds;
	size_t nbinds;
	char work[512];
	char bind_root[600];
	bool bind_mounted;
	char name[64];
};

/* out of memory, in err */
kcsi_code det_cf_nomem(kcsi_error *err);
/* Record item (a new reference) in the report's list (bounded). */
void det_cf_note(det_confine *cf, const char *list, json_t *item);
/* The restore copy's member name holds data[0, len) (taken over) or the
 * content of file instead of the archive's. */
kcsi_code det_cf_add_repl(det_confine *cf, const char *name, unsigned char *data, size_t len, const char *file,
			  kcsi_error *err);

/* sanitise.c: a tmpfs image (each_image callback); rootfs-diff.tar,
 * devshm-checkpoint.tar and deleted.files (image_root: fd of the image's
 * root file system, or -1). */
kcsi_code det_sanitise_tmpfs(kcsi_ckpt *c, det_confine *cf, const kcsi_member *m, kcsi_error *err);
kcsi_code det_sanitise_host_members(kcsi_ckpt *c, det_confine *cf, int image_root, kcsi_error *err);

#endif
