/* kcsi — the programs and libraries of a checkpoint as the process rules
 * see them: files the container wrote, package databases, ELF build-ids,
 * /etc/ld.so.preload, and the names programs go by.  See programs.h. */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "evidence/elf.h"
#include "triage/programs.h"
#include "kcsi/sources.h"
#include "reader/ckpt_int.h"

#define HEAD_MAX (64u << 10)       /* bytes of an object looked at for its ELF headers */
#define PKG_MAX (32u << 20)        /* bytes of package lists read in all */
#define PRELOAD_MAX (64u << 10)    /* bytes of /etc/ld.so.preload kept */

static void add_id(az_programs *pg, const char *path, const char *origin, const unsigned char *id, size_t len,
		   uint64_t size)
{
	if (pg->nids >= AZ_PROG_MAX_IDS || !len)
		return;
	if (pg->nids == pg->capids) {
		size_t nc = pg->capids ? pg->capids * 2 : 64;
		az_elf_id *g = realloc(pg->ids, nc * sizeof(*g));
		if (!g)
			return;
		pg->ids = g;
		pg->capids = nc;
	}
	az_elf_id *e = &pg->ids[pg->nids];
	if (!(e->path = strdup(path)))
		return;
	e->origin = origin;
	memcpy(e->id, id, AZ_BUILD_ID_MAX);
	e->len = len;
	e->size = size;
	pg->nids++;
}

/* ---- the walk ---- */

static bool is_wanted(const az_programs *pg, const char *path)
{
	return kcsi_strmap_get(&pg->wanted, path, strlen(path), 0) != 0;
}

static void want(az_programs *pg, const char *path)
{
	if (path && *path == '/')
		kcsi_strmap_put(&pg->wanted, path, strlen(path), 1);
}

static int obj_begin(void *ctx, const kcsi_object *o)
{
	az_programs *pg = ctx;
	const char *p = o->path;
	size_t n = strlen(p);
	pg->nhead = 0;
	pg->reading = AZ_READ_HEAD;
	if (o->kind != KCSI_SRC_ROOTFS)
		return 0;
	if (is_wanted(pg, p))
		kcsi_strmap_put(&pg->added, p, n, 1);
	if (!strcmp(p, "/etc/ld.so.preload"))
		pg->reading = AZ_READ_PRELOAD;
	else if (!strncmp(p, "/var/lib/dpkg/info/", 19) && n > 5 && !strcmp(p + n - 5, ".list"))
		pg->reading = AZ_READ_PKG_DPKG;
	else if (!strcmp(p, "/lib/apk/db/installed"))
		pg->reading = AZ_READ_PKG_APK;
	else if (!strncmp(p, "/var/lib/rpm/", 13) || !strncmp(p, "/usr/lib/sysimage/rpm/", 22))
		pg->pkg_opaque = true;
	return 0;
}

static int obj_data(void *ctx, const kcsi_object *o, uint64_t off, const unsigned char *p, size_t len)
{
	az_programs *pg = ctx;
	size_t cap = pg->reading == AZ_READ_HEAD ? HEAD_MAX : pg->reading == AZ_READ_PRELOAD ? PRELOAD_MAX : PKG_MAX;
	(void)o;
	if (off != pg->nhead || pg->nhead >= cap) /* a hole, or enough */
		return 0;
	if (len > cap - pg->nhead)
		len = cap - pg->nhead;
	if (pg->reading == AZ_READ_PKG_DPKG || pg->reading == AZ_READ_PKG_APK) {
		if (len > PKG_MAX - pg->pkg_bytes) {
			pg->pkg_opaque = true; /* too much to read: cannot tell what is packaged */
			len = PKG_MAX - pg->pkg_bytes;
		}
		pg->pkg_bytes += len;
	}
	if (pg->nhead + len + 1 > pg->caphead) {
		size_t nc = pg->caphead ? pg->caphead : 4096;
		while (nc < pg->nhead + len + 1)
			nc *= 2;
		unsigned char *g = realloc(pg->head, nc);
		if (!g)
			return 0;
		pg->head = g;
		pg->caphead = nc;
	}
	memcpy(pg->head + pg->nhead, p, len);
	pg->nhead += len;
	return 0;
}

/* Package lists: dpkg's one path a line, apk's "F:dir" then "R:name". */
static void read_package_list(az_programs *pg, bool apk)
{
	char dir[4096] = "";
	char *s = (char *)pg->head, *end = s + pg->nhead;
	while (s < end) {
		char *nl = memchr(s, '\n', (size_t)(end - s)), path[8192];
		size_t l = (size_t)((nl ? nl : end) - s);
		if (!apk && l && l < sizeof(path) && s[0] == '/') {
			memcpy(path, s, l);
			path[l] = '\0';
			if (is_wanted(pg, path))
				kcsi_strmap_put(&pg->packaged, path, l, 1);
		} else if (apk && l > 2 && s[1] == ':' && l - 2 < sizeof(dir)) {
			if (s[0] == 'F') {
				memcpy(dir, s + 2, l - 2);
				dir[l - 2] = '\0';
			} else if (s[0] == 'R' && snprintf(path, sizeof(path), "/%s%s%.*s", dir, *dir ? "/" : "", (int)(l - 2),
							      s + 2) < (int)sizeof(path) &&
				   is_wanted(pg, path)) {
				kcsi_strmap_put(&pg->packaged, path, strlen(path), 1);
			}
		}
		s += l + 1;
	}
}

static int obj_end(void *ctx, const kcsi_object *o)
{
	az_programs *pg = ctx;
	unsigned char id[AZ_BUILD_ID_MAX];
	size_t len;
	switch (pg->reading) {
	case AZ_READ_PRELOAD:
		free(pg->preload);
		if ((pg->preload = malloc(pg->nhead + 1))) {
			memcpy(pg->preload, pg->head ? pg->head : (unsigned char *)"", pg->nhead);
			pg->preload[pg->nhead] = '\0';
		}
		break;
	case AZ_READ_PKG_DPKG:
	case AZ_READ_PKG_APK:
		read_package_list(pg, pg->reading == AZ_READ_PKG_APK);
		break;
	case AZ_READ_HEAD:
		if (pg->head && (len = kcsi_elf_build_id(pg->head, pg->nhead, id, AZ_BUILD_ID_MAX)))
			add_id(pg, o->path,
			       o->kind == KCSI_SRC_ROOTFS  ? "rootfs-diff"
			       : o->kind == KCSI_SRC_DEVSHM ? "devshm"
			       : o->kind == KCSI_SRC_GHOST  ? "ghost-file"
							    : "memfd",
			       id, len, o->size);
		break;
	}
	return 0;
}

/* The files of the processes (and the libraries their environment
 * preloads) are what the rules ask about. */
static void wanted_paths(az *a, az_programs *pg)
{
	kcsi_ckpt *c = a->c;
	for (size_t i = 0; i < c->nfiles; i++)
		if (c->files[i]->type == FD_TYPES__REG && c->files[i]->reg)
			want(pg, c->files[i]->reg->name);
	for (size_t i = 0; i < kcsi_ckpt_nprocs(c); i++) {
		const kcsi_proc *p = kcsi_ckpt_proc(c, i);
		for (size_t k = 0; k < p->envc; k++) {
			char buf[4096], *save = NULL;
			if (strncmp(p->env[k], "LD_PRELOAD=", 11))
				continue;
			snprintf(buf, sizeof(buf), "%s", p->env[k] + 11);
			for (char *t = strtok_r(buf, ": \t", &save); t; t = strtok_r(NULL, ": \t", &save))
				want(pg, t);
		}
	}
}

/* The image's files CRIU recorded a build-id for (not written by the
 * container, not deleted), each path once. */
static void image_ids(az *a, az_programs *pg)
{
	kcsi_ckpt *c = a->c;
	kcsi_strmap seen = {0};
	pg->nadded_ids = pg->nids;
	for (size_t i = 0; i < c->nfiles; i++) {
		const FileEntry *f = c->files[i];
		const RegFileEntry *r = f->reg;
		unsigned char id[AZ_BUILD_ID_MAX] = {0};
		size_t nw;
		if (f->type == FD_TYPES__REG && r && r->name && ck_remap(c, f->id))
			kcsi_strmap_put(&pg->deleted, r->name, strlen(r->name), 1);
		if (f->type != FD_TYPES__REG || !r || !r->name || !r->n_build_id || ck_remap(c, f->id) ||
		    az_prog_added(pg, r->name) || kcsi_strmap_get(&seen, r->name, strlen(r->name), 0))
			continue;
		nw = r->n_build_id < AZ_BUILD_ID_MAX / 4 ? r->n_build_id : AZ_BUILD_ID_MAX / 4;
		for (size_t k = 0; k < nw; k++) /* CRIU copied the note's bytes into 32-bit words */
			for (unsigned b = 0; b < 4; b++)
				id[4 * k + b] = (unsigned char)(r->build_id[k] >> (8 * b));
		kcsi_strmap_put(&seen, r->name, strlen(r->name), 1);
		add_id(pg, r->name, "image", id, 4 * nw, r->has_size ? r->size : 0);
	}
	kcsi_strmap_free(&seen);
}

void az_programs_gather(az *a, az_programs *pg)
{
	static const kcsi_object_cbs cbs = {obj_begin, obj_data, obj_end};
	kcsi_error err;
	memset(pg, 0, sizeof(*pg));
	wanted_paths(a, pg);
	kcsi_error_clear(&err);
	kcsi_walk_objects(a->c, KCSI_SRC_ROOTFS | KCSI_SRC_DEVSHM | KCSI_SRC_GHOST | KCSI_SRC_MEMFD, &cbs, pg, &err);
	free(pg->head);
	pg->head = NULL;
	pg->nhead = pg->caphead = 0;
	image_ids(a, pg);
}

void az_programs_free(az_programs *pg)
{
	for (size_t i = 0; i < pg->nids; i++)
		free(pg->ids[i].path);
	free(pg->ids);
	free(pg->preload);
	free(pg->head);
	kcsi_strmap_free(&pg->wanted);
	kcsi_strmap_free(&pg->added);
	kcsi_strmap_free(&pg->packaged);
	kcsi_strmap_free(&pg->deleted);
	memset(pg, 0, sizeof(*pg));
}

const az_elf_id *az_prog_id_of(const az_programs *pg, const char *path)
{
	for (size_t i = 0; path && i < pg->nadded_ids; i++)
		if (!strcmp(pg->ids[i].path, path))
			return &pg->ids[i];
	return NULL;
}

bool az_prog_added(const az_programs *pg, const char *path)
{
	const az_elf_id *id;
	if (!path)
		return false;
	if (kcsi_strmap_get(&pg->added, path, strlen(path), 0))
		return true;
	id = az_prog_id_of(pg, path);
	return id && !strcmp(id->origin, "rootfs-diff");
}

bool az_prog_deleted(const az_programs *pg, const char *path)
{
	return path && kcsi_strmap_get(&pg->deleted, path, strlen(path), 0);
}

bool az_prog_unpackaged(const az_programs *pg, const char *path)
{
	return az_prog_added(pg, path) && !pg->pkg_opaque && !kcsi_strmap_get(&pg->packaged, path, strlen(path), 0);
}

static const char *name_of_path(const char *path, char *buf, size_t cap)
{
	const char *b = az_base(path);
	size_t n;
	if (!strncmp(b, "memfd:", 6))
		b += 6;
	snprintf(buf, cap, "%s", b);
	n = strlen(buf);
	if (n > 10 && !strcmp(buf + n - 10, " (deleted)"))
		buf[n - 10] = '\0';
	return buf;
}

const az_elf_id *az_prog_original(const az_programs *pg, const az_elf_id *id)
{
	char a[256], b[256];
	name_of_path(id->path, a, sizeof(a));
	for (size_t i = pg->nadded_ids; i < pg->nids; i++) {
		const az_elf_id *o = &pg->ids[i];
		if (o->len == id->len && !memcmp(o->id, id->id, id->len) &&
		    !az_same_program(a, name_of_path(o->path, b, sizeof(b))))
			return o;
	}
	return NULL;
}

/* ---- names ---- */

static bool in_list(const char *name, const char *const *pats, size_t n)
{
	char low[128];
	size_t i;
	for (i = 0; name[i] && i + 1 < sizeof(low); i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[i] = '\0';
	for (i = 0; i < n; i++)
		if (fnmatch(pats[i], low, 0) == 0)
			return true;
	return false;
}

const char *az_prog_name(const kcsi_proc *p, char *buf, size_t cap)
{
	static const char *const multi[] = {"busybox", "toybox", "coreutils", "dropbearmulti"};
	if (!p->exe)
		snprintf(buf, cap, "%s", p->comm ? p->comm : "");
	else
		name_of_path(p->exe, buf, cap);
	if (p->memory_read && p->argc && !p->argv_rewritten && in_list(buf, multi, sizeof(multi) / sizeof(multi[0]))) {
		const char *a0 = az_base(p->argv[0]);
		snprintf(buf, cap, "%s", a0[0] == '-' ? a0 + 1 : a0);
	}
	return buf;
}

bool az_daemon_name(const char *name)
{
	static const char *const pats[] = {
		/* remote access, web and proxies */
		"sshd", "sshd-session", "sshd-auth", "dropbear", "telnetd", "in.telnetd", "nginx", "httpd", "apache2",
		"lighttpd", "haproxy", "envoy", "squid", "varnishd", "traefik", "caddy",
		/* init, logging, scheduling, system services */
		"init", "systemd", "systemd-*", "(sd-pam)", "crond", "cron", "atd", "anacron", "rsyslogd", "syslogd",
		"syslog-ng", "klogd", "journald", "dbus-daemon", "dbus-broker*", "udevd", "agetty", "getty", "login",
		"polkitd", "accounts-daemon", "snapd", "networkmanager", "wpa_supplicant", "dhclient", "avahi-daemon",
		"cupsd", "irqbalance", "auditd", "acpid", "rpcbind", "rpc.statd", "nscd", "sssd", "gssproxy", "ssh-agent",
		"gpg-agent", "udisksd", "upowerd", "thermald", "chronyd", "ntpd", "timesyncd",
		/* containers and clusters */
		"containerd", "containerd-shim*", "dockerd", "docker-proxy", "docker-init", "runc", "crun", "conmon",
		"crio", "kubelet", "kube-proxy", "kube-apiserver", "kube-scheduler", "kube-controller-manager", "etcd",
		"coredns", "pause", "tini", "dumb-init", "buildkitd", "fluent-bit",
		/* databases, mail, name servers */
		"postgres", "postmaster", "mysqld", "mariadbd", "mongod", "mongos", "redis-server", "memcached",
		"php-fpm*", "named", "dnsmasq", "unbound", "exim4", "exim", "sendmail", "dovecot", "vsftpd", "proftpd",
		"smbd", "nmbd",
	};
	return name && *name && in_list(name, pats, sizeof(pats) / sizeof(pats[0]));
}

bool az_kernel_thread_name(const char *s)
{
	static const char *const pats[] = {
		"kworker*", "kthreadd", "ksoftirqd*", "kswapd*", "migration/*", "rcu_*", "watchdog/*",
		"kblockd*", "khugepaged", "kdevtmpfs*", "jbd2/*", "irq/*", "kcompactd*", "kauditd",
		"ksmd", "kintegrityd", "writeback", "cpuhp/*", "oom_reaper", "kthrotld", "scsi_eh_*",
	};
	char t[64];
	if (!s || !*s)
		return false;
	if (s[0] == '[') { /* the way ps shows kernel threads */
		const char *e = strchr(s, ']');
		/* any bracketed name is a kernel-thread disguise for a user process */
		return e && e != s + 1;
	}
	snprintf(t, sizeof(t), "%s", s);
	t[strcspn(t, " ")] = '\0';
	return in_list(t, pats, sizeof(pats) / sizeof(pats[0]));
}

bool az_command_shell(const char *name)
{
	static const char *const pats[] = {"sh", "bash", "rbash", "dash", "zsh", "ksh", "ksh93", "mksh", "lksh",
					   "ash", "yash", "posh", "fish", "tcsh", "csh"};
	return name && in_list(name, pats, sizeof(pats) / sizeof(pats[0]));
}

bool az_relay_tool(const char *name)
{
	static const char *const pats[] = {"socat", "nc", "nc.*", "ncat", "netcat", "telnet", "openssl", "cryptcat",
					   "pnc", "rlwrap"};
	return name && in_list(name, pats, sizeof(pats) / sizeof(pats[0]));
}

bool az_same_program(const char *a, const char *b)
{
	static const char *const shells[] = {"sh", "bash", "dash", "ash", "busybox", "mksh", "ksh"};
	size_t na, nb;
	if (a[0] == '-')
		a++; /* login shells */
	if (b[0] == '-')
		b++;
	na = strlen(a);
	nb = strlen(b);
	if (!na || !nb || !strncasecmp(a, b, na < nb ? na : nb))
		return true;
	return in_list(a, shells, sizeof(shells) / sizeof(shells[0])) &&
	       in_list(b, shells, sizeof(shells) / sizeof(shells[0]));
}

/* ---- connections ---- */

static bool inet(const kcsi_sock *s)
{
	return !strcmp(s->family, "INET") || !strcmp(s->family, "INET6");
}

static bool listens_on(az *a, uint32_t port)
{
	for (size_t i = 0; i < a->nsocks; i++)
		if (inet(&a->socks[i]) && !strcmp(a->socks[i].state, "LISTEN") && a->socks[i].sport == port)
			return true;
	return false;
}

const kcsi_sock *az_outbound_of(az *a, uint32_t pid)
{
	for (size_t i = 0; i < a->nsocks; i++) {
		const kcsi_sock *s = &a->socks[i];
		if (s->pid == pid && inet(s) && s->dport &&
		    (!strcmp(s->state, "ESTABLISHED") || !strcmp(s->state, "SYN_SENT")) && !listens_on(a, s->sport) &&
		    !listens_on(a, s->dport))
			return s;
	}
	return NULL;
}

const kcsi_sock *az_inet_of(az *a, uint32_t pid)
{
	const kcsi_sock *any = NULL;
	for (size_t i = 0; i < a->nsocks; i++)
		if (a->socks[i].pid == pid && inet(&a->socks[i])) {
			if (!strcmp(a->socks[i].state, "ESTABLISHED"))
				return &a->socks[i];
			any = any ? any : &a->socks[i];
		}
	return any;
}

/* The socket on stdin or stdout of pid when it is a network one, or NULL. */
static const kcsi_sock *stdio_socket(az *a, uint32_t pid)
{
	for (size_t k = 0; k < a->nsocks; k++) {
		const kcsi_sock *s = &a->socks[k];
		if (s->pid == pid && (s->fd == 0 || s->fd == 1) && inet(s))
			return s;
	}
	return NULL;
}

static const kcsi_sock *listener_of(az *a, uint32_t pid)
{
	for (size_t k = 0; k < a->nsocks; k++)
		if (a->socks[k].pid == pid && inet(&a->socks[k]) && !strcmp(a->socks[k].state, "LISTEN"))
			return &a->socks[k];
	return NULL;
}

static bool stdin_tty(az *a, uint32_t pid)
{
	for (size_t k = 0; k < a->nfds; k++)
		if (a->fds[k].pid == pid && a->fds[k].fd == 0 && !strcmp(a->fds[k].type, "TTY"))
			return true;
	return false;
}

/* Started with -i, alone or among one-letter options before the first
 * operand (sh -c runs a command: not interactive); login: argv[0] '-'. */
static bool dash_i(const kcsi_proc *p, bool *login)
{
	*login = p->memory_read && p->argc && p->argv[0][0] == '-';
	for (size_t k = 1; p->memory_read && k < p->argc; k++) {
		const char *o = p->argv[k];
		if (o[0] != '-' || o[1] == '-' || !o[1] || strchr(o, 'c'))
			return false;
		if (strchr(o, 'i'))
			return true;
	}
	return false;
}

/* The nearest ancestor of p that is not a command shell, or NULL. */
static const kcsi_proc *first_non_shell(az *a, const kcsi_proc *p)
{
	char name[256];
	for (size_t depth = 0; depth < 64 && p->ppid && p->ppid != p->pid; depth++) {
		if (!(p = kcsi_ckpt_proc_by_pid(a->c, p->ppid)))
			return NULL;
		if (!az_command_shell(az_prog_name(p, name, sizeof(name))))
			return p;
	}
	return NULL;
}

enum az_drive az_shell_driver(az *a, const kcsi_proc *s, const kcsi_proc **driver, const kcsi_sock **conn)
{
	char name[256];
	const kcsi_proc *d;
	bool login, i;
	*driver = NULL;
	*conn = NULL;
	if (!az_command_shell(az_prog_name(s, name, sizeof(name))))
		return AZ_DRIVE_NONE;
	if (stdio_socket(a, s->pid))
		return AZ_DRIVE_SOCKET;
	if (!(d = first_non_shell(a, s)))
		return AZ_DRIVE_NONE;
	*driver = d;
	i = dash_i(s, &login);
	if (az_relay_tool(az_prog_name(d, name, sizeof(name))) && (*conn = az_inet_of(a, d->pid)))
		return AZ_DRIVE_RELAY;
	if (d->exe && az_is_shell_or_interp(d->exe) && (i || login || stdin_tty(a, s->pid)) &&
	    (*conn = stdio_socket(a, d->pid)))
		return AZ_DRIVE_INTERP;
	if (i && (*conn = listener_of(a, d->pid)))
		return AZ_DRIVE_SERVICE;
	*driver = NULL;
	*conn = NULL;
	return AZ_DRIVE_NONE;
}

char *az_prog_conn_text(const kcsi_sock *s)
{
	bool v6 = !strcmp(s->family, "INET6");
	return az_printf("%s %s%s%s:%u -> %s%s%s:%u %s", s->proto, v6 ? "[" : "", s->src, v6 ? "]" : "", s->sport,
			 v6 ? "[" : "", s->dst, v6 ? "]" : "", s->dport, s->state);
}
