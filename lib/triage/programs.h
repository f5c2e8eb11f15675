/* kcsi — what the process rules (rules_process.c, rules_masq.c) know about
 * the programs and libraries of a checkpoint besides the process model:
 *
 *   - which files the processes run or map the container wrote (the rootfs
 *     diff), and which of those a package database in the diff accounts for
 *     (dpkg's info/NAME.list, apk's installed; an rpm database that changed
 *     makes every new file "maybe packaged");
 *   - the GNU build-ids of the ELF programs whose bytes the checkpoint holds
 *     (rootfs diff, /dev/shm, ghost files, memfds: read from their program
 *     headers) and of the image's files CRIU recorded (its file-validation
 *     build-id of every file a process maps or has open);
 *   - /etc/ld.so.preload, when the container wrote it.
 *
 * One walk over the content objects (kcsi/sources.h), bounded: the first
 * 64 KiB of each object are looked at, package lists up to 32 MiB in all,
 * at most AZ_PROG_MAX_IDS build-ids.  Names that say what a program claims
 * to be (daemons, kernel threads, shells, relays) are here too, shared by
 * the rules. */
#ifndef KCSI_TRIAGE_PROGRAMS_H
#define KCSI_TRIAGE_PROGRAMS_H
#ifndef KCSI_INTERNAL
#error "programs.h is private to libkcsi"
#endif

#include "triage/analyze_int.h"

#define AZ_BUILD_ID_MAX 64
#define AZ_PROG_MAX_IDS 65536

typedef struct az_elf_id {
	char *path;            /* /usr/sbin/x, /dev/shm/x, /memfd:NAME, a ghost file's path */
	const char *origin;    /* "rootfs-diff", "devshm", "ghost-file", "memfd", "image" */
	unsigned char id[AZ_BUILD_ID_MAX];
	size_t len;            /* bytes of id, a multiple of 4 (CRIU pads) */
	uint64_t size;
} az_elf_id;

typedef struct az_programs {
	kcsi_strmap wanted;    /* paths worth knowing about: files of the processes, LD_PRELOAD entries */
	kcsi_strmap added;     /* wanted paths the rootfs diff holds */
	kcsi_strmap packaged;  /* wanted paths a package database of the diff lists */
	kcsi_strmap deleted;   /* files of the processes deleted while open or mapped */
	bool pkg_opaque;       /* a package database changed that is not read (rpm) or too big */
	size_t pkg_bytes;      /* package lists read so far */
	az_elf_id *ids;        /* build-ids: the container's objects, then the image's files */
	size_t nids, capids, nadded_ids;
	char *preload;         /* /etc/ld.so.preload as the container wrote it (NUL-terminated), or NULL */
	/* the object being read */
	unsigned char *head;   /* its first bytes */
	size_t nhead, caphead;
	enum { AZ_READ_HEAD, AZ_READ_PKG_DPKG, AZ_READ_PKG_APK, AZ_READ_PRELOAD } reading;
} az_programs;

/* Gather the facts (what cannot be read is left out: the rules see less). */
void az_programs_gather(az *a, az_programs *pg);
void az_programs_free(az_programs *pg);

/* Did the container write this file (the rootfs diff holds it)? */
bool az_prog_added(const az_programs *pg, const char *path);
/* A file a process has open or mapped that was deleted? */
bool az_prog_deleted(const az_programs *pg, const char *path);
/* Written by the container and accounted for by no package database? */
bool az_prog_unpackaged(const az_programs *pg, const char *path);
/* The build-id of a file the container wrote (or of a memfd, ghost file),
 * NULL when it is not an ELF object with one. */
const az_elf_id *az_prog_id_of(const az_programs *pg, const char *path);
/* An image file (one the container did not write) with the same build-id
 * as id and another program name; NULL when none is known. */
const az_elf_id *az_prog_original(const az_programs *pg, const az_elf_id *id);

/* ---- names ---- */

/* The name a program runs under: the basename of its executable, without
 * "memfd:" and " (deleted)"; busybox and other multi-call programs by their
 * argv[0].  Written into buf (cap bytes). */
const char *az_prog_name(const kcsi_proc *p, char *buf, size_t cap);
/* Is name (a basename, any case) one of the native system daemons and
 * infrastructure programs attackers name their tools after (sshd, nginx,
 * systemd-*, containerd-shim, crond ...)?  Programs written in a scripting
 * language themselves (supervisord, fail2ban ...) are not in the list. */
bool az_daemon_name(const char *name);
/* Does a name look like a kernel thread (kworker/0:1, [kthreadd], ksoftirqd/0 ...)? */
bool az_kernel_thread_name(const char *s);
/* A command shell (sh, bash, dash, zsh ...), not a relay or an interpreter. */
bool az_command_shell(const char *name);
/* A network relay tool (socat, nc, ncat, netcat, telnet, openssl ...). */
bool az_relay_tool(const char *name);
/* Same program under another name?  sh and dash, python3 and python3.11,
 * sshd and sshd-session (one name a prefix of the other, any case). */
bool az_same_program(const char *a, const char *b);

/* ---- connections ---- */

/* An outbound connection of pid (established or being made, neither
 * accepted on nor made to one of the checkpoint's listening ports), or
 * NULL. */
const kcsi_sock *az_outbound_of(az *a, uint32_t pid);
/* Any INET socket of pid (a connection or a listener), or NULL. */
const kcsi_sock *az_inet_of(az *a, uint32_t pid);
/* How a command shell is driven from the network:
 *   SOCKET   its own stdin or stdout is a network socket (the remote-shell
 *            rule's case);
 *   RELAY    its nearest ancestor that is not a shell is a relay tool (socat,
 *            nc ...) holding a network socket;
 *   INTERP   that ancestor is an interpreter whose own stdin or stdout is a
 *            network connection, and the shell is interactive (a pty: the
 *            python -c 'pty.spawn' upgrade);
 *   SERVICE  that ancestor listens on a port and the shell was started
 *            with -i (a web shell's or an exploited service's shell; login
 *            shells and terminals of sshd, Jupyter ... do not count);
 *   NONE     none of these.
 * *driver and *conn: the ancestor and its socket (NULL for NONE, SOCKET). */
enum az_drive { AZ_DRIVE_NONE, AZ_DRIVE_SOCKET, AZ_DRIVE_RELAY, AZ_DRIVE_INTERP, AZ_DRIVE_SERVICE };
enum az_drive az_shell_driver(az *a, const kcsi_proc *shell, const kcsi_proc **driver, const kcsi_sock **conn);
/* "TCP 127.0.0.1:40182 -> 127.6.6.6:6667 ESTABLISHED", malloc'd. */
char *az_prog_conn_text(const kcsi_sock *s);

/* ---- the rules that use them ---- */

/* rules_masq.c: the KCSI-MASQ-* rules on every process and on the
 * programs the container wrote. */
void az_masquerade(az *a, const az_programs *pg);

#endif
