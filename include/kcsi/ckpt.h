/* kcsi — a container checkpoint, decoded.
 *
 * kcsi_ckpt_open() reads a checkpoint (podman export, kubelet/CRI-O or
 * containerd layout; tar of any compression, or a directory; or a bare CRIU
 * image directory) and decodes its metadata and CRIU images into the model
 * below: processes, file descriptors, sockets, memory areas, mounts.
 * Everything returned points into the checkpoint and lives until
 * kcsi_ckpt_close().  Nothing here prints.
 */
#ifndef KCSI_CKPT_H
#define KCSI_CKPT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "kcsi/archive.h"
#include "kcsi/error.h"

typedef struct kcsi_ckpt kcsi_ckpt;

enum {
	KCSI_CKPT_MEMORY = 1u << 0, /* process memory is needed (cmdline, env, memgrep) */
	KCSI_CKPT_BULK = 1u << 1,   /* rootfs diff and other bulk members are needed */
	KCSI_CKPT_META_ONLY = 1u << 2, /* metadata files only: do not decode CRIU images */
};

kcsi_code kcsi_ckpt_open(const char *path, unsigned flags, kcsi_ckpt **out, kcsi_error *err);
void kcsi_ckpt_close(kcsi_ckpt *c);
kcsi_archive *kcsi_ckpt_archive(kcsi_ckpt *c);
/* Prefix of the CRIU images inside the archive: "checkpoint/" or "". */
const char *kcsi_ckpt_image_dir(const kcsi_ckpt *c);

/* ---- container metadata ---- */

typedef struct kcsi_meta {
	const char *engine;       /* "podman", "CRI-O", "containerd" or "unknown" */
	const char *container;    /* container name (pod-spec name on Kubernetes) */
	const char *id;           /* container id */
	const char *image;        /* image name */
	const char *image_id;     /* image id or digest reference */
	const char *runtime;      /* OCI runtime, e.g. "runc" */
	const char *created;      /* RFC 3339 */
	const char *checkpointed; /* RFC 3339, when known */
	const char *checkpointed_source; /* where that time came from */
	const char *pod;
	const char *namespace_;
	const char *ip;
	const char *mac;
	const char *hostname;     /* UTS name from the image, else the spec */
	uint64_t checkpoint_size; /* archive bytes */
	uint64_t memory_size;     /* bytes of pages-*.img */
	uint64_t rootfs_diff_size;/* bytes of rootfs-diff.tar */
	uint32_t img_version;
} kcsi_meta;

const kcsi_meta *kcsi_ckpt_meta(const kcsi_ckpt *c);
/* Parsed metadata files, or NULL when absent.  Owned by the checkpoint. */
const json_t *kcsi_ckpt_config(const kcsi_ckpt *c);   /* config.dump */
const json_t *kcsi_ckpt_spec(const kcsi_ckpt *c);     /* spec.dump */
const json_t *kcsi_ckpt_network(const kcsi_ckpt *c);  /* network.status */
const json_t *kcsi_ckpt_bind_mounts(const kcsi_ckpt *c); /* bind.mounts */

/* ---- processes ---- */

typedef struct kcsi_proc {
	uint32_t pid, ppid, pgid, sid;
	uint32_t nthreads;
	const uint32_t *tids;
	uint32_t state;            /* CRIU task state: 1 alive, 3 zombie, 6 stopped */
	const char *state_name;    /* "running", "zombie", "stopped", "dead" */
	uint32_t uid, gid, euid, egid, suid, sgid, fsuid, fsgid;
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd;
	bool has_creds;
	const char *comm;
	const char *exe;           /* path of the executable mapping, or NULL */
	bool exe_deleted;          /* the executable file was deleted */
	bool exe_memfd;            /* the executable is a memfd */
	/* command line and environment as read from process memory */
	char **argv;
	size_t argc;
	char **env;
	size_t envc;
	bool argv_rewritten;       /* the argument area no longer ends with NUL */
	bool memory_read;          /* argv/env came from memory */
	const char *memory_note;   /* why not, when memory_read is false */
	const char *seccomp;       /* "disabled", "strict", "filter" */
	const char *lsm_profile;
	uint32_t files_id, vm_id, fs_id, net_ns_id, pid_ns_id, mnt_ns_id;
} kcsi_proc;

size_t kcsi_ckpt_nprocs(const kcsi_ckpt *c);
const kcsi_proc *kcsi_ckpt_proc(const kcsi_ckpt *c, size_t i);
const kcsi_proc *kcsi_ckpt_proc_by_pid(const kcsi_ckpt *c, uint32_t pid);
/* Index (for kcsi_ckpt_proc) of the process with that pid, or nprocs. */
size_t kcsi_ckpt_proc_index(const kcsi_ckpt *c, uint32_t pid);
/* The processes in tree order: each followed by its children, by pid; a
 * process whose parent is not in the checkpoint starts a tree, and those a
 * parent cycle leaves out start trees after them.  order[k] is an index for
 * kcsi_ckpt_proc(), depth[k] its depth (0 for a root); nprocs entries each,
 * freed by the caller.  Made without recursion: a parent chain as deep as
 * the checkpoint has pids costs no stack. */
kcsi_code kcsi_ckpt_tree(const kcsi_ckpt *c, size_t **order, size_t **depth, kcsi_error *err);

/* ---- open files ---- */

typedef struct kcsi_fd {
	uint32_t pid;
	int fd;                /* >= 0: a descriptor; <0: see role */
	const char *role;      /* "fd", "cwd", "root", "exe", "mem" */
	const char *type;      /* "REG", "DIR", "PIPE", "INETSK", "MEMFD", ... */
	const char *path;      /* file path, or a description for non-files */
	uint32_t file_id;
	uint32_t flags;        /* open flags (O_*) */
	uint64_t pos;
	uint64_t size;
	bool has_size;
	uint32_t mode;         /* st_mode where known, else 0 */
	bool deleted;          /* unlinked while open (ghost or linked remap) */
	bool cloexec;
	const char *remap;     /* "ghost", "linked", "procfs" or NULL */
	uint64_t ghost_size;   /* bytes of content the checkpoint holds, for ghosts */
} kcsi_fd;

/* All descriptors of pid (0: of every process), in (pid, role, fd) order.
 * The array is owned by the caller: free() it (not the strings). */
kcsi_code kcsi_ckpt_fds(kcsi_ckpt *c, uint32_t pid, kcsi_fd **out, size_t *n, kcsi_error *err);

/* ---- sockets ---- */

typedef struct kcsi_sock {
	uint32_t pid;
	int fd;
	uint32_t ino;
	const char *family;    /* "INET", "INET6", "UNIX", "PACKET", "NETLINK" */
	const char *type;      /* "STREAM", "DGRAM", "RAW", "SEQPACKET", "PACKET" */
	const char *proto;     /* "TCP", "UDP", "UDPLITE", "IP", or a number */
	const char *state;     /* "ESTABLISHED", "LISTEN", ... */
	char src[64];          /* address text; unix: path */
	uint32_t sport;
	char dst[64];
	uint32_t dport;
	uint32_t peer_ino;     /* unix */
	uint32_t backlog;
	bool has_queues;
	uint64_t inq_len, outq_len;
	const unsigned char *inq, *outq; /* queued bytes, inside the checkpoint */
} kcsi_sock;

kcsi_code kcsi_ckpt_socks(kcsi_ckpt *c, kcsi_sock **out, size_t *n, kcsi_error *err);

/* ---- memory ---- */

typedef struct kcsi_vma {
	uint64_t start, end, pgoff;
	uint32_t prot, flags, status;
	char prot_text[5];     /* "r-xp" as /proc/PID/maps shows it */
	const char *kind;      /* "file", "anon", "heap", "stack", "vdso", "vvar",
				  "vsyscall", "shmem", "memfd", "sysvipc", "aio", "socket" */
	const char *path;      /* for file and memfd areas */
	uint64_t pages;        /* pages the checkpoint holds for the area */
} kcsi_vma;

kcsi_code kcsi_ckpt_vmas(kcsi_ckpt *c, uint32_t pid, kcsi_vma **out, size_t *n, kcsi_error *err);

/* A run of contiguous pages held in the checkpoint. */
typedef struct kcsi_memrun {
	uint64_t vaddr;
	uint64_t len;
	const unsigned char *data; /* in place in the archive or its temporary copy */
} kcsi_memrun;

/* Runs of process memory, sorted by address (needs KCSI_CKPT_MEMORY). */
kcsi_code kcsi_ckpt_memory(kcsi_ckpt *c, uint32_t pid, const kcsi_memrun **runs, size_t *n,
			   kcsi_error *err);
/* Contents of a shared memory object (memfd or shared anonymous memory) by
 * its shmid, as runs at offsets from 0 (pagemap-shmem-ID.img). */
kcsi_code kcsi_ckpt_shmem(kcsi_ckpt *c, uint64_t shmid, const kcsi_memrun **runs, size_t *n,
			  kcsi_error *err);
/* Copy up to len bytes at addr; returns how many contiguous bytes were
 * available from addr on (0 when addr is not in the checkpoint). */
size_t kcsi_ckpt_read(kcsi_ckpt *c, uint32_t pid, uint64_t addr, void *buf, size_t len);

/* ---- mounts ---- */

typedef struct kcsi_mount {
	uint32_t mnt_id, parent_id;
	const char *mountpoint, *root, *source, *fstype, *options;
	uint32_t flags;
	bool external;
	const char *origin;    /* "criu" or "spec" */
} kcsi_mount;

kcsi_code kcsi_ckpt_mounts(kcsi_ckpt *c, kcsi_mount **out, size_t *n, kcsi_error *err);

/* ---- misc ---- */

/* Capability names ("CAP_CHOWN") by bit, NULL when unknown. */
const char *kcsi_cap_name(unsigned bit);

#endif
