/* kcsi detonate — the sandbox and the run.
 *
 * Order of a run (every step undone by cleanup(), also after an error, a
 * time-out or Ctrl-C):
 *   1. refuse unless root with podman, ip and nft at hand;
 *   2. a restore copy of the archive in a private work directory (the archive
 *      itself is only read), built by detonate_confine.c: a config and spec
 *      of kcsi's own, checked and re-encoded images, sanitised tars;
 *   3. network namespace kcsi-det-PID: lo up, a dead-end interface sink0
 *      (dummy, or a bridge without ports where the kernel has no dummy driver)
 *      holding the default route, policy routing (fwmark 1 -> table 100: every
 *      address is local via lo) and nftables: every TCP/UDP packet of the
 *      sandbox's processes is marked, re-routed to lo and taken by TPROXY to
 *      the sinkhole, unless it goes to a socket that exists in the sandbox (the
 *      container's own listeners and connections between its processes);
 *   4. in the namespace: sinkhole sockets and the pcap handle; outside: the
 *      eBPF tracer scoped to the namespace;
 *   5. podman restore with the namespace as the container's host network;
 *   6. cgroup caps on CPU, memory and pids; run for the duration (or until the
 *      container exits, or Ctrl-C); sample CPU use;
 *   7. podman diff, remove the container, kill whatever is left in the
 *      namespace, stop the recorders, delete the namespace; write the report.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sandbox_int.h"
#include "kcsi/log.h"
#include "kcsi/text.h"
#include "base/safeout.h"
#include "base/spawn.h"
#include "base/time.h"

double det_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double det_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void det_iso_time(double wall, char *buf, size_t cap)
{
	time_t t = (time_t)wall;
	int ms = (int)((wall - (double)t) * 1000);
	kcsi_rfc3339(buf, cap, (int64_t)t, (uint32_t)ms * 1000000u, 3);
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

struct det {
	const kcsi_detonate_opts *o;
	kcsi_detonate_result *res;
	det_facts f;
	char sha[65];
	const char *layout;        /* podman, CRI-O, containerd */
	bool tcp_established;      /* the checkpoint holds TCP streams */
	char *image;               /* the image the restore runs on */
	char image_id[128];
	bool outdir_ready;         /* DIR exists and is ours: a report is always written */
	json_t *checkpointed;      /* the processes of the checkpoint */
	uint32_t memfd_pid;        /* a process whose executable is a memfd (CRIU cannot restore it), or 0 */
	json_t *addresses;         /* local IPv4 addresses its sockets are bound to */
	json_t *warnings;
	double t_end;
	char work[64];
	char ns[64], nspath[128];
	int nsfd, hostfd;
	bool ns_made;
	char ctr_name[256];      /* the name podman gives the restored container */
	char ctr_id[80];
	det_confine *confine;
	const char *image_mounted; /* the image whose root is mounted for the checks */
	bool ctr_may_exist;
	pid_t init_pid;
	char cg_cpuacct[512], cg_memory[512], cg_pids[512];
	det_sinkhole *sink;
	det_pcap *pcap;
	det_trace *trace;
	kcsi_log *log;             /* progress and warnings (to_progress) */
	double t0, wall0;
	char iface_kind[32];
};

/* Progress and warnings are records of the log (component "detonate"); the
 * log's sink is the caller's progress function (the library never prints),
 * which gets warnings with "warning: " in front. */
static void to_progress(void *ctx, const kcsi_log_record *rec)
{
	const struct det *d = ctx;
	char msg[620];
	if (!d->o->progress)
		return;
	snprintf(msg, sizeof(msg), "%s%s", rec->level >= KCSI_LOG_WARNING ? "warning: " : "", rec->msg);
	d->o->progress(d->o->progress_ctx, det_now() - d->t0, msg);
}

static void say(const struct det *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct det *d, const char *fmt, ...)
{
	va_list ap;
	char msg[600];
	if (!d->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kcsi_log_write(d->log, KCSI_LOG_INFO, "detonate", msg, "seconds", json_real(det_now() - d->t0), NULL);
}

/* Something went wrong that does not stop the run: in the report and on the
 * result handle for the caller to show. */
static void warn(struct det *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct det *d, const char *fmt, ...)
{
	va_list ap;
	char msg[600];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!d->warnings)
		d->warnings = json_array();
	json_array_append_new(d->warnings, json_string(msg));
	d->res->nwarnings++;
	snprintf(d->res->warning, sizeof(d->res->warning), "%.250s", msg);
	kcsi_log_write(d->log, KCSI_LOG_WARNING, "detonate", msg, "seconds", json_real(det_now() - d->t0), NULL);
}

/* Run argv (in the sandbox's namespace when in_ns, in a process group of its
 * own: Ctrl-C reaches kcsi only, and kcsi stops the children); stdout+stderr
 * go to outpath (or /dev/null) and the first cap-1 bytes of stdout to capture.
 * Returns the exit status, 128+signal, or -1 when it could not run or was
 * killed for the time-out / an interrupt (commands over 5 seconds). */
static int run_cmd(struct det *d, const char *const argv[], bool in_ns, const char *outpath, char *capture, size_t cap,
		   double timeout)
{
	kcsi_buf out;
	kcsi_spawn_result res;
	kcsi_spawn_opts o = {.argv = argv, .timeout_s = timeout, .cancel = timeout > 5 ? &interrupted : NULL,
			     .netns_fd = in_ns ? d->nsfd : 0, .own_group = true, .log_path = outpath,
			     .out = capture ? &out : NULL};
	if (capture)
		kcsi_buf_init(&out, cap - 1);
	if (kcsi_spawn(&o, &res, NULL) != KCSI_OK) {
		if (capture)
			kcsi_buf_free(&out);
		return -1;
	}
	if (capture) {
		memcpy(capture, kcsi_buf_str(&out), out.len + 1);
		kcsi_buf_free(&out);
	}
	return res.timed_out || res.cancelled ? -1 : res.status;
}

static bool on_path(const char *name)
{
	const char *p = getenv("PATH");
	char buf[4096];
	if (!p)
		p = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	while (*p) {
		size_t n = strcspn(p, ":");
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, name);
		if (access(buf, X_OK) == 0)
			return true;
		p += n + (p[n] == ':');
	}
	return false;
}

static void chomp(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/* ---- the archive ---- */

/* podman for a podman export, else the engine the layout names (CRI-O,
 * containerd): those restore on an image given with --image */
static const char *layout_of(const kcsi_ckpt *c)
{
	const char *e = kcsi_ckpt_meta(c)->engine;
	return e && strcmp(e, "unknown") ? e : "podman";
}

static bool has_tcp_streams(kcsi_ckpt *c)
{
	const char *prefix = kcsi_ckpt_image_dir(c);
	char want[64];
	snprintf(want, sizeof(want), "%stcp-stream-", prefix);
	for (size_t i = 0; i < kcsi_archive_count(kcsi_ckpt_archive(c)); i++)
		if (!strncmp(kcsi_archive_at(kcsi_ckpt_archive(c), i)->name, want, strlen(want)))
			return true;
	return false;
}

/* ---- the network namespace ---- */

#define NFT_RULES \
	"table inet kcsi_sandbox {\n" \
	"  chain out {\n" \
	"    type route hook output priority mangle; policy accept;\n" \
	"    meta mark %d return\n" \
	"    meta nfproto ipv6 meta l4proto { tcp, udp } ip6 daddr != ::1 drop\n" \
	"    meta nfproto ipv4 meta l4proto { tcp, udp } meta mark set %d\n" \
	"  }\n" \
	"  chain pre {\n" \
	"    type filter hook prerouting priority mangle; policy accept;\n" \
	"    meta mark %d socket transparent 0 accept\n" \
	"    meta mark %d udp dport 53 tproxy ip to 127.0.0.1:%u accept\n" \
	"    meta mark %d meta l4proto tcp tproxy ip to 127.0.0.1:%u accept\n" \
	"    meta mark %d meta l4proto udp tproxy ip to 127.0.0.1:%u accept\n" \
	"  }\n" \
	"}\n"

static kcsi_code ns_cmd(struct det *d, kcsi_error *err, const char *what, const char *const argv[])
{
	char log[200];
	snprintf(log, sizeof(log), "%s/netns.log", d->work);
	if (run_cmd(d, argv, false, log, NULL, 0, 20) != 0)
		return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED, "cannot build the sandbox: %s failed", what);
	return KCSI_OK;
}

static kcsi_code make_netns(struct det *d, kcsi_error *err)
{
	const char *add[] = {"ip", "netns", "add", d->ns, NULL};
	if (ns_cmd(d, err, "ip netns add", add))
		return err->code;
	d->ns_made = true;
	if ((d->nsfd = open(d->nspath, O_RDONLY | O_CLOEXEC)) < 0)
		return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED, "cannot build the sandbox: %s: %s", d->nspath,
				      strerror(errno));
	const char *lo[] = {"ip", "-n", d->ns, "link", "set", "lo", "up", NULL};
	const char *dummy[] = {"ip", "-n", d->ns, "link", "add", "sink0", "type", "dummy", NULL};
	const char *bridge[] = {"ip", "-n", d->ns, "link", "add", "sink0", "type", "bridge", NULL};
	const char *addr[] = {"ip", "-n", d->ns, "addr", "add", DET_IFACE_ADDR "/24", "dev", "sink0", NULL};
	const char *up[] = {"ip", "-n", d->ns, "link", "set", "sink0", "up", NULL};
	const char *defr[] = {"ip", "-n", d->ns, "route", "add", "default", "dev", "sink0", NULL};
	const char *rule[] = {"ip", "-n", d->ns, "rule", "add", "fwmark", "1", "lookup", "100", NULL};
	const char *local[] = {"ip", "-n", d->ns, "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "100", NULL};
	if (ns_cmd(d, err, "ip link set lo up", lo))
		return err->code;
	snprintf(d->iface_kind, sizeof(d->iface_kind), "dummy");
	if (ns_cmd(d, err, "ip link add sink0 type dummy", dummy)) {
		snprintf(d->iface_kind, sizeof(d->iface_kind), "bridge without ports");
		if (ns_cmd(d, err, "ip link add sink0 type dummy (and type bridge)", bridge))
			return err->code;
	}
	if (ns_cmd(d, err, "ip addr add", addr) || ns_cmd(d, err, "ip link set sink0 up", up) ||
	    ns_cmd(d, err, "ip route add default", defr) || ns_cmd(d, err, "ip rule add fwmark", rule) ||
	    ns_cmd(d, err, "ip route add local table 100", local))
		return err->code;
	return KCSI_OK;
}

static kcsi_code load_nft(struct det *d, kcsi_error *err)
{
	unsigned pt, pu, pd;
	char path[128], log[128];
	FILE *f;
	det_sinkhole_ports(d->sink, &pt, &pu, &pd);
	snprintf(path, sizeof(path), "%s/sandbox.nft", d->work);
	snprintf(log, sizeof(log), "%s/nft.log", d->work);
	if (!(f = fopen(path, "w")))
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", path, strerror(errno));
	fprintf(f, NFT_RULES, DET_MARK_SINKHOLE, DET_MARK_DIVERT, DET_MARK_DIVERT, DET_MARK_DIVERT, pd, DET_MARK_DIVERT,
		pt, DET_MARK_DIVERT, pu);
	fclose(f);
	const char *argv[] = {"nft", "-f", path, NULL};
	if (run_cmd(d, argv, true, log, NULL, 0, 20) != 0) {
		char msg[300] = "";
		FILE *l = fopen(log, "r");
		if (l) {
			if (!fgets(msg, sizeof(msg), l))
				msg[0] = '\0';
			fclose(l);
			chomp(msg);
		}
		return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED,
				      "cannot build the sandbox: nftables rules (TPROXY, socket) refused: %s", msg);
	}
	return KCSI_OK;
}

/* With the rules in place, nothing may route out: the only routes of the main
 * table go through sink0 (dead end) or lo. */
static kcsi_code check_sealed(struct det *d, kcsi_error *err)
{
	char out[4096];
	const char *argv[] = {"ip", "-n", d->ns, "-o", "link", "show", NULL};
	if (run_cmd(d, argv, false, NULL, out, sizeof(out), 10) != 0)
		return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED, "cannot build the sandbox: ip link show failed");
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		char idx[16], name[64];
		if (sscanf(l, "%15s %63s", idx, name) != 2)
			continue;
		char *at = strchr(name, '@');
		if (at)
			*at = '\0';
		if (name[strlen(name) - 1] == ':')
			name[strlen(name) - 1] = '\0';
		if (strcmp(name, "lo") && strcmp(name, "sink0"))
			return kcsi_error_set(err, KCSI_ERR_UNSAFE, "sandbox not sealed: unexpected interface %s", name);
	}
	return KCSI_OK;
}

/* ---- the container ---- */

static void cg_path(pid_t pid, const char *ctl, char *out, size_t cap)
{
	char p[64], line[1024];
	out[0] = '\0';
	FILE *f;
	out[0] = '\0';
	snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)pid);
	if (!(f = fopen(p, "r")))
		return;
	while (fgets(line, sizeof(line), f)) {
		char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
		if (!b)
			continue;
		*b = '\0';
		chomp(b + 1);
		bool hit = false;
		for (char *t = strtok(a + 1, ","); t; t = strtok(NULL, ","))
			if (!strcmp(t, ctl))
				hit = true;
		if (hit) {
			snprintf(out, cap, "/sys/fs/cgroup/%s%s", ctl, b + 1);
			break;
		}
	}
	fclose(f);
	if (!out[0] && (f = fopen(p, "r"))) { /* cgroup v2 */
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "0::", 3)) {
				chomp(line);
				snprintf(out, cap, "/sys/fs/cgroup%.400s", line + 3);
			}
		fclose(f);
	}
}

static bool write_file(const char *dir, const char *name, const char *val)
{
	char p[700];
	int fd;
	bool ok;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((fd = open(p, O_WRONLY | O_CLOEXEC)) < 0)
		return false;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok;
}

static uint64_t read_u64(const char *dir, const char *name)
{
	char p[700], b[64] = "";
	FILE *f;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (!(f = fopen(p, "r")))
		return 0;
	if (!fgets(b, sizeof(b), f))
		b[0] = '\0';
	fclose(f);
	return strtoull(b, NULL, 10);
}

static kcsi_code apply_limits(struct det *d, kcsi_error *err)
{
	char v[64], cpu[512];
	const kcsi_detonate_opts *o = d->o;
	bool ok = true;
	cg_path(d->init_pid, "cpu", cpu, sizeof(cpu));
	cg_path(d->init_pid, "cpuacct", d->cg_cpuacct, sizeof(d->cg_cpuacct));
	cg_path(d->init_pid, "memory", d->cg_memory, sizeof(d->cg_memory));
	cg_path(d->init_pid, "pids", d->cg_pids, sizeof(d->cg_pids));
	snprintf(v, sizeof(v), "%u", o->cpu_percent * 1000);
	if (access(strcat(strcpy((char[600]){0}, cpu), "/cpu.cfs_quota_us"), F_OK) == 0) {
		ok &= write_file(cpu, "cpu.cfs_period_us", "100000");
		ok &= write_file(cpu, "cpu.cfs_quota_us", v);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)o->memory_bytes);
		ok &= write_file(d->cg_memory, "memory.limit_in_bytes", v);
		snprintf(v, sizeof(v), "%u", o->pids_max);
		ok &= write_file(d->cg_pids, "pids.max", v);
	} else {
		snprintf(v, sizeof(v), "%u 100000", o->cpu_percent * 1000);
		ok &= write_file(cpu, "cpu.max", v);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)o->memory_bytes);
		ok &= write_file(cpu, "memory.max", v);
		snprintf(v, sizeof(v), "%u", o->pids_max);
		ok &= write_file(cpu, "pids.max", v);
		snprintf(d->cg_cpuacct, sizeof(d->cg_cpuacct), "%s", cpu);
	}
	if (!ok)
		return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED, "cannot cap the container's cgroup (%s)", cpu);
	return KCSI_OK;
}

static double cpu_seconds(const struct det *d)
{
	if (!d->cg_cpuacct[0])
		return 0;
	uint64_t ns = read_u64(d->cg_cpuacct, "cpuacct.usage");
	if (ns)
		return (double)ns / 1e9;
	/* v2: cpu.stat usage_usec */
	char p[600], line[128];
	FILE *f;
	double r = 0;
	snprintf(p, sizeof(p), "%s/cpu.stat", d->cg_cpuacct);
	if ((f = fopen(p, "r"))) {
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "usage_usec ", 11))
				r = strtod(line + 11, NULL) / 1e6;
		fclose(f);
	}
	return r;
}

/* Processes in the container's pid namespace: [{pid (host), vpid, comm, cmdline}]. */
static json_t *container_procs(pid_t init)
{
	char p[300], ns[64], mine[64];
	json_t *a = json_array();
	DIR *dir;
	struct dirent *de;
	ssize_t n;
	snprintf(p, sizeof(p), "/proc/%d/ns/pid", (int)init);
	if ((n = readlink(p, ns, sizeof(ns) - 1)) <= 0 || !(dir = opendir("/proc")))
		return a;
	ns[n] = '\0';
	while ((de = readdir(dir))) {
		char comm[64] = "", line[256], cl[4096], capbnd[24] = "", capeff[24] = "";
		long vpid = -1;
		FILE *f;
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(p, sizeof(p), "/proc/%s/ns/pid", de->d_name);
		if ((n = readlink(p, mine, sizeof(mine) - 1)) <= 0)
			continue;
		mine[n] = '\0';
		if (strcmp(mine, ns))
			continue;
		snprintf(p, sizeof(p), "/proc/%s/status", de->d_name);
		if ((f = fopen(p, "r"))) {
			while (fgets(line, sizeof(line), f)) {
				if (!strncmp(line, "Name:", 5))
					sscanf(line + 5, " %63[^\n]", comm);
				if (!strncmp(line, "CapBnd:", 7))
					sscanf(line + 7, " %23s", capbnd);
				if (!strncmp(line, "CapEff:", 7))
					sscanf(line + 7, " %23s", capeff);
				if (!strncmp(line, "NSpid:", 6)) {
					char *last = strrchr(line, '\t');
					vpid = last ? strtol(last + 1, NULL, 10) : -1;
				}
			}
			fclose(f);
		}
		json_t *argv = json_array();
		snprintf(p, sizeof(p), "/proc/%s/cmdline", de->d_name);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t k = read(fd, cl, sizeof(cl) - 1);
			close(fd);
			for (ssize_t i = 0; i < k;) {
				size_t l = strnlen(cl + i, (size_t)(k - i));
				json_array_append_new(argv, json_stringn(cl + i, l));
				i += (ssize_t)l + 1;
			}
		}
		json_array_append_new(a, json_pack("{s:i, s:i, s:s, s:o, s:s, s:s}", "host_pid", atoi(de->d_name), "pid",
						   vpid, "comm", comm, "cmdline", argv, "cap_bnd", capbnd, "cap_eff", capeff));
	}
	closedir(dir);
	return a;
}

/* The mounts the restored init process sees: [{mountpoint, type, options}]
 * (/proc/PID/mountinfo), the proof of what the confinement made. */
static json_t *mounts_seen(pid_t pid)
{
	char p[64], line[4096];
	json_t *a = json_array();
	FILE *f;
	snprintf(p, sizeof(p), "/proc/%d/mountinfo", (int)pid);
	if (!(f = fopen(p, "r")))
		return a;
	while (fgets(line, sizeof(line), f) && json_array_size(a) < 500) {
		char mp[1024], opts[512], type[64];
		char *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*s %*s %*s %*s %1023s %511s", mp, opts) != 2 ||
		    sscanf(dash + 3, "%63s", type) != 1)
			continue;
		char *t = kcsi_escape_text(mp, strlen(mp), 0);
		json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "mountpoint", t ? t : "", "type", type, "options",
						   opts));
		free(t);
	}
	fclose(f);
	return a;
}

/* Kill every process (other than us) whose network namespace is the sandbox's. */
static unsigned kill_ns_procs(struct det *d)
{
	struct stat want, st;
	DIR *dir;
	struct dirent *de;
	unsigned n = 0;
	char p[300];
	if (fstat(d->nsfd, &want) < 0 || !(dir = opendir("/proc")))
		return 0;
	while ((de = readdir(dir))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(p, sizeof(p), "/proc/%s/ns/net", de->d_name);
		if (stat(p, &st) == 0 && st.st_ino == want.st_ino && st.st_dev == want.st_dev &&
		    atoi(de->d_name) != getpid()) {
			kill(atoi(de->d_name), SIGKILL);
			n++;
		}
	}
	closedir(dir);
	return n;
}

/* src copied to dst, made 0600 like every file of DIR (evidence) */
static void copy_file(const char *src, const char *dst)
{
	FILE *a = fopen(src, "r"), *b = NULL;
	char buf[8192];
	size_t n;
	int fd;
	if (!a)
		return;
	fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0 && !(b = fdopen(fd, "w")))
		close(fd);
	while (b && (n = fread(buf, 1, sizeof(buf), a)) > 0)
		fwrite(buf, 1, n, b);
	if (b)
		fclose(b);
	fclose(a);
}

/* CRIU's own log of the last restore, kept as DIR/logs/NAME before podman
 * removes the container. */
static void keep_criu_log(struct det *d, const char *name)
{
	char src[600], dst[4200];
	if (!det_confine_container_id(d->confine))
		return;
	snprintf(src, sizeof(src), "/var/lib/containers/storage/overlay-containers/%s/userdata/restore.log",
		 det_confine_container_id(d->confine));
	snprintf(dst, sizeof(dst), "%s/logs/%s", d->o->outdir, name);
	copy_file(src, dst);
}

static void remove_container(struct det *d)
{
	char log[128];
	const char *rm[] = {"podman", "--runtime", "runc", "rm", "-f", "-t", "0", d->ctr_id[0] ? d->ctr_id : d->ctr_name,
			    NULL};
	snprintf(log, sizeof(log), "%s/cleanup.log", d->work);
	interrupted = 0; /* let the clean-up commands run */
	say(d, "removing the container");
	if (run_cmd(d, rm, false, log, NULL, 0, 60) != 0)
		warn(d, "could not remove container %s", d->ctr_id[0] ? d->ctr_id : d->ctr_name);
	d->ctr_may_exist = false;
	d->ctr_id[0] = '\0';
}

static void cleanup(struct det *d, det_facts *f)
{
	if (d->ctr_may_exist) {
		keep_criu_log(d, "criu-restore.log");
		remove_container(d);
	}
	if (d->nsfd >= 0) {
		for (int i = 0; i < 40 && kill_ns_procs(d); i++)
			usleep(50000);
	}
	say(d, "stopping the recorders");
	det_sinkhole_stop(d->sink);
	if (d->sink && f)
		f->sinkhole = det_sinkhole_record(d->sink);
	det_pcap_stop(d->pcap, &f->packets, &f->packets_dropped);
	det_trace_stop(d->trace, &f->events, &f->events_lost);
	det_sinkhole_free(d->sink);
	d->sink = NULL;
	det_pcap_free(d->pcap);
	d->pcap = NULL;
	/* the tracer is detached after the report is written (detaching two dozen
	 * tracepoints waits for RCU grace periods: seconds) */
	if (d->nsfd >= 0) {
		close(d->nsfd);
		d->nsfd = -1;
	}
	say(d, "deleting the namespace");
	if (d->ns_made) {
		const char *del[] = {"ip", "netns", "delete", d->ns, NULL};
		interrupted = 0;
		if (run_cmd(d, del, false, NULL, NULL, 0, 20) != 0)
			warn(d, "could not delete network namespace %s", d->ns);
		d->ns_made = false;
	}
	if (det_confine_mount_root(d->confine)) {
		/* what the processes wrote into the replaced mounts is evidence */
		char dst[4200];
		snprintf(dst, sizeof(dst), "%s/mounts", d->o->outdir);
		const char *cp[] = {"cp", "-a", "--no-dereference", det_confine_mount_root(d->confine), dst, NULL};
		if (run_cmd(d, cp, false, NULL, NULL, 0, 60) != 0)
			say(d, "could not save the replaced mounts' contents");
	}
	det_confine_finish(d->confine);
	if (d->image_mounted) {
		const char *um[] = {"podman", "image", "unmount", d->image_mounted, NULL};
		run_cmd(d, um, false, NULL, NULL, 0, 30);
		d->image_mounted = NULL;
	}
	if (d->work[0]) {
		const char *rm[] = {"rm", "-rf", d->work, NULL};
		run_cmd(d, rm, false, NULL, NULL, 0, 30);
		d->work[0] = '\0';
	}
}

static kcsi_code prepare_outdir(const char *dir, kcsi_error *err)
{
	DIR *dd;
	struct dirent *de;
	if (mkdir(dir, 0700) == 0)
		return KCSI_OK;
	if (errno != EEXIST || !(dd = opendir(dir)))
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", dir, strerror(errno));
	while ((de = readdir(dd)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			closedir(dd);
			return kcsi_error_set(err, KCSI_ERR_USAGE, "%s: not empty (give a new directory)", dir);
		}
	closedir(dd);
	return KCSI_OK;
}


/* ---- what the checkpoint holds that the run needs ---- */

/* [{pid, ppid, comm, exe}] of the checkpoint, to tell each process's fate */
static json_t *checkpoint_procs(kcsi_ckpt *c)
{
	json_t *a = json_array();
	for (size_t i = 0; i < kcsi_ckpt_nprocs(c); i++) {
		const kcsi_proc *p = kcsi_ckpt_proc(c, i);
		char *comm = kcsi_escape_text(p->comm ? p->comm : "", strlen(p->comm ? p->comm : ""), 0);
		json_array_append_new(a, json_pack("{s:i, s:i, s:s, s:s?}", "pid", (int)p->pid, "ppid", (int)p->ppid, "comm",
						   comm ? comm : "", "exe", p->exe));
		free(comm);
	}
	return a;
}

/* The IPv4 addresses the checkpoint's sockets are bound to that the sandbox
 * does not have (not loopback, not the wildcard): CRIU binds them again. */
static json_t *local_addresses(kcsi_ckpt *c)
{
	json_t *a = json_array();
	kcsi_sock *s = NULL;
	size_t n = 0;
	kcsi_error ignore;
	if (kcsi_ckpt_socks(c, &s, &n, &ignore) != KCSI_OK)
		return a;
	for (size_t i = 0; i < n && json_array_size(a) < 64; i++) {
		struct in_addr ia;
		json_t *v;
		size_t k;
		bool dup = false;
		if (strcmp(s[i].family, "INET") || inet_pton(AF_INET, s[i].src, &ia) != 1 || ia.s_addr == 0 ||
		    (ntohl(ia.s_addr) >> 24) == 127)
			continue;
		json_array_foreach(a, k, v)
			dup |= !strcmp(json_string_value(v), s[i].src);
		if (!dup)
			json_array_append_new(a, json_string(s[i].src));
	}
	free(s);
	return a;
}

/* The reason CRIU gave, from its restore log: the first errors that are not
 * noise, as "process 35: inet: Can't bind inet socket (id 11): Cannot assign
 * requested address [criu/sk-inet.c:1059]". */
static void criu_reason(const char *log, char *out, size_t cap)
{
	FILE *f = fopen(log, "r");
	char line[1024];
	size_t len = 0;
	unsigned n = 0;
	out[0] = '\0';
	if (!f)
		return;
	while (n < 3 && len < cap && fgets(line, sizeof(line), f)) {
		/* "(00.063364)     35: Error (criu/sk-inet.c:1059): msg" */
		char *e = strstr(line, "Error ("), *end = e ? strstr(e, "): ") : NULL;
		const char *ts = strchr(line, ')');
		unsigned pid = 0;
		if (!end || strstr(line, "RLIMIT_") || strstr(line, "Restoring FAILED") || strstr(line, "exited, status=") ||
		    strstr(line, "cgroupd"))
			continue;
		if (!ts || sscanf(ts + 1, " %u:", &pid) != 1)
			pid = 0;
		chomp(end + 3);
		*end = '\0';
		len += (size_t)snprintf(out + len, cap - len, "%s%s%.0u%s%s [%s]", len ? "; " : "", pid ? "process " : "",
					pid, pid ? ": " : "", end + 3, e + 7);
		n++;
	}
	fclose(f);
}

/* ---- the stages of a run ---- */

/* Work in the sandbox's network namespace from a thread of its own, so the
 * calling thread never leaves the host's: the sinkhole's sockets, the pcap
 * handle and the IPv6 switch are made there. */
struct in_ns {
	struct det *d;
	kcsi_error err;
	kcsi_code rc;
};

static void *open_recorders(void *arg)
{
	struct in_ns *j = arg;
	struct det *d = j->d;
	char path[4400];
	if (setns(d->nsfd, CLONE_NEWNET) != 0) {
		j->rc = kcsi_error_set(&j->err, KCSI_ERR_UNSUPPORTED, "cannot build the sandbox: setns: %s", strerror(errno));
		return NULL;
	}
	int v6 = open("/proc/sys/net/ipv6/conf/all/disable_ipv6", O_WRONLY | O_CLOEXEC);
	if (v6 >= 0) {
		if (write(v6, "1", 1) != 1) {
			/* the nftables rules drop IPv6 flows anyway */
		}
		close(v6);
	}
	j->rc = det_sinkhole_open(&d->sink, d->o->outdir, d->o->irc_commands, d->wall0, &j->err);
	if (!j->rc) {
		snprintf(path, sizeof(path), "%s/traffic.pcap", d->o->outdir);
		j->rc = det_pcap_open(&d->pcap, path, &j->err);
	}
	return NULL;
}

/* Restore strategies, in order: as checkpointed; then, for a checkpoint that
 * holds TCP connections, with them closed (CRIU's --tcp-close: a socket whose
 * unsent queue or state CRIU cannot put back) so that the program runs on
 * and reconnects into the sinkhole.  The queued bytes stay in the archive. */
static const struct strategy {
	const char *name, *criu_conf, *changes;
} strategies[] = {
	{"as-checkpointed", NULL, "nothing: the processes and their connections as checkpointed"},
	{"tcp-close", "tcp-close\n",
	 "established TCP connections restored closed (their queued bytes stay in the archive); the program sees "
	 "them fail and may reconnect into the sinkhole"},
};

/* The restore copy for a strategy: kcsi's CRIU options (a config file runc
 * hands to CRIU through the spec's org.criu.config annotation). */
static kcsi_code strategy_copy(struct det *d, kcsi_ckpt *ck, const struct strategy *st, kcsi_error *err)
{
	char conf[200], path[200];
	snprintf(conf, sizeof(conf), "%s/criu-%s.conf", d->work, st->name);
	snprintf(path, sizeof(path), "%s/restore-%s.tar", d->work, st->name);
	if (st->criu_conf) {
		FILE *f = fopen(conf, "w");
		if (!f || fputs(st->criu_conf, f) < 0) {
			if (f)
				fclose(f);
			return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", conf, strerror(errno));
		}
		fclose(f);
	}
	det_confine_set_criu_config(d->confine, st->criu_conf ? conf : NULL);
	return det_confine_write_copy(ck, d->confine, path, err);
}

/* The restore copy: the image (resolved and mounted for the checks) and the
 * confinement plan. */
static kcsi_code stage_restore_copy(struct det *d, kcsi_ckpt *ck, kcsi_error *err)
{
	char image_root[4096] = "", path[4400];
	const char *inspect[] = {"podman", "image", "inspect", "--format", "{{.Id}}", d->image, NULL};
	const char *mnt[] = {"podman", "image", "mount", d->image, NULL};
	const char *um[] = {"podman", "image", "unmount", d->image, NULL};
	kcsi_code rc;
	snprintf(d->work, sizeof(d->work), "/tmp/kcsi-detonate.XXXXXX");
	if (!mkdtemp(d->work)) {
		d->work[0] = '\0';
		return kcsi_error_set(err, KCSI_ERR_IO, "mkdtemp: %s", strerror(errno));
	}
	snprintf(path, sizeof(path), "%s/logs", d->o->outdir);
	mkdir(path, 0700);
	if (run_cmd(d, inspect, false, NULL, d->image_id, sizeof(d->image_id), 30) != 0 || !d->image_id[0])
		return kcsi_error_set(err, KCSI_ERR_NOTFOUND, "image %s is not here (podman image inspect failed)", d->image);
	chomp(d->image_id);
	if (run_cmd(d, mnt, false, NULL, image_root, sizeof(image_root), 60) != 0 || image_root[0] != '/')
		return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED, "cannot mount image %s to check the rootfs diff", d->image);
	d->image_mounted = d->image;
	chomp(image_root);
	det_confine_opts co = {.work = d->work, .container_name = d->ctr_name, .image_name = d->image,
			       .image_id = d->image_id, .image_root = image_root, .netns_path = d->nspath};
	rc = det_confine_plan(ck, &co, &d->confine, err);
	for (size_t i = 0; !rc && i < (d->tcp_established ? 2u : 1u); i++)
		rc = strategy_copy(d, ck, &strategies[i], err);
	run_cmd(d, um, false, NULL, NULL, 0, 30);
	d->image_mounted = NULL;
	d->f.confinement = det_confine_report(d->confine);
	if (!rc)
		say(d, "restore copy ready (%s layout, image %s)", d->layout, d->image);
	return rc;
}

/* The archive: its hash, layout, image and the restore copy. */
static kcsi_code stage_archive(struct det *d, kcsi_error *err)
{
	const kcsi_detonate_opts *o = d->o;
	kcsi_ckpt *ck = NULL;
	kcsi_code rc;
	int fd;
	if ((fd = open(o->archive, O_RDONLY | O_CLOEXEC)) < 0)
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", o->archive, strerror(errno));
	rc = kcsi_sha256_fd(fd, d->sha, err);
	close(fd);
	if (rc || (rc = kcsi_ckpt_open(o->archive, KCSI_CKPT_BULK, &ck, err)))
		return rc;
	d->layout = layout_of(ck);
	d->tcp_established = has_tcp_streams(ck);
	const char *image = o->image ? o->image : json_string_value(json_object_get(kcsi_ckpt_config(ck), "rootfsImageName"));
	if (strcmp(d->layout, "podman") && !o->image)
		rc = kcsi_error_set(err, KCSI_ERR_USAGE,
				    "%s: a kubelet/CRI-O or containerd checkpoint: the container's image is needed",
				    o->archive);
	else if (!image)
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: config.dump names no image; the image is needed",
				    o->archive);
	if (rc)
		kcsi_error_param(err, "image");
	else if (!(d->image = strdup(image)))
		rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	if (!rc) {
		d->checkpointed = checkpoint_procs(ck);
		for (size_t i = 0; i < kcsi_ckpt_nprocs(ck) && !d->memfd_pid; i++)
			if (kcsi_ckpt_proc(ck, i)->exe_memfd)
				d->memfd_pid = kcsi_ckpt_proc(ck, i)->pid;
		d->addresses = local_addresses(ck);
		if (!(rc = prepare_outdir(o->outdir, err))) {
			d->outdir_ready = true;
			rc = stage_restore_copy(d, ck, err);
		}
	}
	kcsi_ckpt_close(ck);
	return rc;
}

/* The network namespace, its addresses, the recorders. */
static kcsi_code stage_sandbox(struct det *d, kcsi_error *err)
{
	struct in_ns job = {.d = d};
	pthread_t t;
	json_t *a;
	size_t i;
	kcsi_code rc;
	if ((rc = make_netns(d, err)))
		return rc;
	/* the addresses the checkpoint's sockets are bound to, on the dead-end
	 * interface: CRIU can bind them again, and nothing routes out */
	json_array_foreach(d->addresses, i, a) {
		char cidr[80];
		snprintf(cidr, sizeof(cidr), "%s/32", json_string_value(a));
		const char *add[] = {"ip", "-n", d->ns, "addr", "add", cidr, "dev", "sink0", NULL};
		if ((rc = ns_cmd(d, err, "ip addr add (an address of the checkpoint)", add)))
			return rc;
	}
	if (pthread_create(&t, NULL, open_recorders, &job) != 0)
		return kcsi_error_set(err, KCSI_ERR_GENERIC, "cannot build the sandbox: thread: %s", strerror(errno));
	pthread_join(t, NULL);
	if (job.rc)
		return kcsi_error_set(err, job.rc, "%s", job.err.msg);
	if ((rc = load_nft(d, err)) || (rc = check_sealed(d, err)) || (rc = det_sinkhole_start(d->sink, d->nsfd, err)) ||
	    (rc = det_pcap_start(d->pcap, err)))
		return rc;
	say(d, "sandbox %s ready (sink0: %s)", d->ns, d->iface_kind);
	if (!d->o->no_bpf) {
		struct stat st;
		kcsi_error terr;
		char path[4400];
		kcsi_error_clear(&terr);
		fstat(d->nsfd, &st);
		snprintf(path, sizeof(path), "%s/activity.jsonl", d->o->outdir);
		if (det_trace_open(&d->trace, path, (uint64_t)st.st_ino, d->wall0, &terr) != KCSI_OK) {
			snprintf(d->res->bpf_error, sizeof(d->res->bpf_error), "%.250s", terr.msg);
			say(d, "no activity log: %s", terr.msg);
		} else {
			d->res->bpf = true;
		}
	} else {
		snprintf(d->res->bpf_error, sizeof(d->res->bpf_error), "disabled on request");
	}
	if (interrupted)
		return kcsi_error_set(err, KCSI_ERR_GENERIC, "interrupted");
	return KCSI_OK;
}

static kcsi_code restore_once(struct det *d, const struct strategy *st, char *reason, size_t cap)
{
	char imp[4200], out[8192], log[160], path[4400];
	const char *argv[10];
	int n = 0, rc;
	snprintf(imp, sizeof(imp), "--import=%s/restore-%s.tar", d->work, st->name);
	snprintf(log, sizeof(log), "%s/restore.out", d->work);
	argv[n++] = "podman", argv[n++] = "--runtime", argv[n++] = "runc", argv[n++] = "container";
	argv[n++] = "restore", argv[n++] = imp;
	if (!st->criu_conf && d->tcp_established)
		argv[n++] = "--tcp-established";
	argv[n] = NULL;
	d->ctr_may_exist = true;
	rc = run_cmd(d, argv, true, log, out, sizeof(out), 90);
	snprintf(path, sizeof(path), "%s/logs/podman-restore-%s.txt", d->o->outdir, st->name);
	copy_file(log, path);
	if (rc != 0) {
		char name[128];
		snprintf(name, sizeof(name), "criu-restore-%s.log", st->name);
		keep_criu_log(d, name);
		snprintf(path, sizeof(path), "%s/logs/%s", d->o->outdir, name);
		criu_reason(path, reason, cap);
		if (!reason[0]) {
			FILE *l = fopen(log, "r");
			while (l && fgets(reason, (int)cap, l))
				if (strstr(reason, "Error") || strstr(reason, "error"))
					break;
			if (l)
				fclose(l);
			chomp(reason);
		}
		if (interrupted)
			snprintf(reason, cap, "interrupted");
		else if (rc < 0)
			snprintf(reason, cap, "timed out");
		remove_container(d);
		return KCSI_ERR_GENERIC;
	}
	chomp(out);
	char *last = strrchr(out, '\n');
	snprintf(d->ctr_id, sizeof(d->ctr_id), "%.64s", last ? last + 1 : out);
	return KCSI_OK;
}

static kcsi_code stage_restore(struct det *d, kcsi_error *err)
{
	json_t *attempts = json_array();
	char reason[1200] = "", all[2600] = "";
	kcsi_code rc = KCSI_ERR_GENERIC;
	size_t nst = d->tcp_established ? 2 : 1;
	for (size_t i = 0; i < nst && rc; i++) {
		reason[0] = '\0';
		say(d, "restore (%s)", strategies[i].name);
		rc = restore_once(d, &strategies[i], reason, sizeof(reason));
		json_array_append_new(attempts, json_pack("{s:s, s:s, s:s?}", "strategy", strategies[i].name, "result",
							  rc ? "failed" : "restored", "reason", rc ? reason : NULL));
		if (rc) {
			size_t l = strlen(all);
			snprintf(all + l, sizeof(all) - l, "%s%s%s%s", l ? "; " : "", nst > 1 ? strategies[i].name : "",
				 nst > 1 ? ": " : "", reason[0] ? reason : "(no reason given)");
		}
		if (!rc)
			d->f.restore = json_pack("{s:s, s:s, s:o}", "strategy", strategies[i].name, "changes",
						 strategies[i].changes, "attempts", json_incref(attempts));
		if (interrupted)
			break;
	}
	if (rc) {
		d->f.restore = json_pack("{s:n, s:o}", "strategy", "attempts", json_incref(attempts));
		if (d->memfd_pid) {
			size_t l = strlen(all);
			snprintf(all + l, sizeof(all) - l, "; process %u runs a program from a memfd, which CRIU cannot restore",
				 d->memfd_pid);
		}
		rc = kcsi_error_set(err, KCSI_ERR_GENERIC, "CRIU could not restore the checkpoint (%s)", all);
		d->f.failure = json_pack("{s:s, s:s}", "stage", "restore", "reason", all);
	}
	json_decref(attempts);
	if (rc)
		return rc;
	char pidbuf[64] = "";
	const char *argv[] = {"podman", "inspect", "--format", "{{.State.Pid}}", d->ctr_id, NULL};
	if (run_cmd(d, argv, false, NULL, pidbuf, sizeof(pidbuf), 30) != 0 || atoi(pidbuf) <= 0) {
		d->f.failure = json_pack("{s:s, s:s}", "stage", "restore", "reason", "no running process after the restore");
		return kcsi_error_set(err, KCSI_ERR_GENERIC, "restored container %s has no running process", d->ctr_id);
	}
	d->init_pid = atoi(pidbuf);
	d->res->restore_s = det_now() - d->t0;
	d->f.restore_s = d->res->restore_s;
	d->f.restored_wall = det_wall();
	det_trace_mark_running(d->trace, d->f.restored_wall);
	say(d, "restored container %.12s (pid %d) in %.2fs", d->ctr_id, (int)d->init_pid, d->res->restore_s);
	return KCSI_OK;
}

/* Run for the duration (or until the container exits or Ctrl-C), sampling CPU. */
static kcsi_code stage_run(struct det *d, kcsi_error *err)
{
	det_facts *f = &d->f;
	kcsi_code rc;
	if ((rc = apply_limits(d, err)))
		return rc;
	f->restored_processes = container_procs(d->init_pid);
	f->mounts_seen = mounts_seen(d->init_pid);
	double start = det_now(), last_cpu = cpu_seconds(d), last_t = start;
	f->cpu_samples = json_array();
	f->end_reason = "duration";
	while (det_now() - start < d->o->duration_s) {
		char p[64];
		usleep(100000);
		if (interrupted) {
			f->end_reason = "interrupted";
			break;
		}
		snprintf(p, sizeof(p), "/proc/%d", (int)d->init_pid);
		if (access(p, F_OK) != 0) {
			f->end_reason = "exited";
			break;
		}
		double now = det_now();
		if (now - last_t >= 1.0) {
			double c = cpu_seconds(d);
			json_array_append_new(f->cpu_samples, json_pack("{s:f, s:f}", "t", now - start, "cpu_percent",
									100.0 * (c - last_cpu) / (now - last_t)));
			last_cpu = c;
			last_t = now;
		}
		uint64_t pc = read_u64(d->cg_pids, "pids.current");
		if (pc > f->pids_peak)
			f->pids_peak = (unsigned)pc;
	}
	f->run_s = det_now() - start;
	d->res->run_s = f->run_s;
	f->cpu_seconds = cpu_seconds(d);
	f->memory_peak = read_u64(d->cg_memory, "memory.max_usage_in_bytes");
	if (!f->memory_peak)
		f->memory_peak = read_u64(d->cg_memory, "memory.peak");
	d->t_end = det_now();
	say(d, "run ended (%s) after %.1fs", f->end_reason, f->run_s);
	f->final_processes = container_procs(d->init_pid);
	say(d, "podman diff");
	char *diff = malloc(1 << 20);
	const char *argv[] = {"podman", "diff", "--format", "json", d->ctr_id, NULL};
	json_error_t je;
	if (diff && run_cmd(d, argv, false, NULL, diff, 1 << 20, 30) == 0)
		f->fs_changes = json_loads(diff, 0, &je);
	free(diff);
	return KCSI_OK;
}

/* report.json and manifest.json: always, once DIR is ours, also for a run
 * that failed (with the failure) or was cut short. */
static void stage_report(struct det *d, kcsi_code rc, const kcsi_error *run_err, kcsi_error *err)
{
	det_facts *f = &d->f;
	char path[4400];
	kcsi_error rerr;
	if (!d->outdir_ready)
		return;
	f->archive = d->o->archive;
	f->archive_sha256 = d->sha;
	f->container = d->ctr_name;
	f->image = d->image ? d->image : "";
	f->layout = d->layout ? d->layout : "";
	f->netns = d->ns;
	f->started_wall = d->wall0;
	f->ended_wall = det_wall();
	f->duration_s = d->o->duration_s;
	f->cpu_percent = d->o->cpu_percent;
	f->pids_max = d->o->pids_max;
	f->memory_bytes = d->o->memory_bytes;
	f->bpf_error = d->res->bpf ? NULL : d->res->bpf_error;
	snprintf(path, sizeof(path), "%s/activity.jsonl", d->o->outdir);
	f->activity_path = d->res->bpf ? path : NULL;
	f->checkpointed_processes = d->checkpointed;
	f->addresses_added = d->addresses;
	f->warnings = d->warnings;
	if (!f->end_reason)
		f->end_reason = interrupted ? "interrupted" : rc ? "failed" : "error";
	if (rc && !f->failure)
		f->failure = json_pack("{s:s, s:s}", "stage", f->restored_wall ? "run" : "preparation", "reason",
				       run_err->msg);
	kcsi_error_clear(&rerr);
	if (det_write_report(d->o->outdir, f, &d->res->nfindings, &rerr) != KCSI_OK) {
		if (rc == KCSI_OK)
			kcsi_error_set(err, rerr.code, "%s", rerr.msg);
	} else {
		d->res->report_written = true;
	}
	d->res->report_s = det_now() - (d->t_end ? d->t_end : det_now());
	d->res->end_reason = f->end_reason;
}

kcsi_code kcsi_detonate(const kcsi_detonate_opts *o, kcsi_detonate_result *res, kcsi_error *err)
{
	struct det d = {.o = o, .res = res, .nsfd = -1, .hostfd = -1};
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term, old_hup;
	kcsi_code rc;

	memset(res, 0, sizeof(*res));
	d.t0 = det_now();
	d.log = kcsi_log_func(to_progress, &d);
	d.wall0 = det_wall();
	interrupted = 0;
	if (geteuid() != 0)
		return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED,
				      "cannot build the sandbox: needs root (network namespace, nftables, podman restore)");
	const char *need[] = {"podman", "ip", "nft", "runc", "criu", NULL};
	for (int i = 0; need[i]; i++)
		if (!on_path(need[i]))
			return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED, "cannot build the sandbox: %s not found on PATH",
					      need[i]);
	snprintf(d.ns, sizeof(d.ns), "kcsi-det-%d", (int)getpid());
	snprintf(d.nspath, sizeof(d.nspath), "/run/netns/%s", d.ns);
	snprintf(d.ctr_name, sizeof(d.ctr_name), "kcsi-det-%d", (int)getpid());
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);

	if (!(rc = stage_archive(&d, err)) && !(rc = stage_sandbox(&d, err)) && !(rc = stage_restore(&d, err)))
		rc = stage_run(&d, err);
	if (!d.t_end)
		d.t_end = det_now();
	cleanup(&d, &d.f); /* stops the recorders too */
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	stage_report(&d, rc, err, err);
	det_trace_free(d.trace);
	det_facts_free(&d.f);
	json_decref(d.checkpointed);
	json_decref(d.addresses);
	json_decref(d.warnings);
	free(d.image);
	det_confine_free(d.confine);
	kcsi_log_close(d.log);
	return rc;
}
