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
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "detonate_int.h"
#include "safeout.h"

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
	struct tm tm;
	char b[32];
	gmtime_r(&t, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, cap, "%s.%03dZ", b, (int)((wall - (double)t) * 1000));
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

struct det {
	const kcsi_detonate_opts *o;
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
	double t0, wall0;
	char iface_kind[32];
};

static void say(const struct det *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct det *d, const char *fmt, ...)
{
	va_list ap;
	if (!d->o->verbose)
		return;
	fprintf(stderr, "kcsi detonate: [%6.2fs] ", det_now() - d->t0);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Run argv (in the sandbox's namespace when in_ns); stdout+stderr go to
 * outpath (or /dev/null) and the first cap-1 bytes of stdout to capture.
 * Returns the exit status, 128+signal, or -1 when it could not run or was
 * killed for the time-out / an interrupt. */
static int run_cmd(struct det *d, const char *const argv[], bool in_ns, const char *outpath, char *capture, size_t cap,
		   double timeout)
{
	int pfd[2] = {-1, -1}, st = 0;
	double end = det_now() + timeout;
	size_t got = 0;
	pid_t pid;
	if (capture && pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int out = open(outpath ? outpath : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		setpgid(0, 0); /* Ctrl-C reaches kcsi only; kcsi stops the children */
		if (in_ns && setns(d->nsfd, CLONE_NEWNET) < 0)
			_exit(126);
		if (out >= 0) {
			dup2(out, 2);
			dup2(capture ? pfd[1] : out, 1);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	setpgid(pid, pid);
	if (capture) {
		close(pfd[1]);
		fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	}
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (capture) {
			char buf[4096];
			ssize_t n;
			while ((n = read(pfd[0], buf, sizeof(buf))) > 0) {
				size_t k = (size_t)n;
				if (got + k > cap - 1)
					k = cap - 1 - got;
				memcpy(capture + got, buf, k);
				got += k;
			}
		}
		if (w == pid)
			break;
		if (det_now() > end || (interrupted && timeout > 5)) {
			kill(-pid, SIGKILL);
			waitpid(pid, &st, 0);
			if (capture)
				close(pfd[0]);
			return -1;
		}
		usleep(5000);
	}
	if (capture) {
		capture[got] = '\0';
		close(pfd[0]);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
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

static void copy_file(const char *src, const char *dst)
{
	FILE *a = fopen(src, "r"), *b;
	char buf[8192];
	size_t n;
	if (!a)
		return;
	if ((b = fopen(dst, "w"))) {
		while ((n = fread(buf, 1, sizeof(buf), a)) > 0)
			fwrite(buf, 1, n, b);
		fclose(b);
	}
	fclose(a);
}

static void cleanup(struct det *d, det_facts *f)
{
	char log[128];
	snprintf(log, sizeof(log), "%s/cleanup.log", d->work);
	if (d->ctr_may_exist && det_confine_container_id(d->confine)) {
		/* CRIU's own log of the restore, before podman removes it */
		char src[600], dst[4200];
		snprintf(src, sizeof(src), "/var/lib/containers/storage/overlay-containers/%s/userdata/restore.log",
			 det_confine_container_id(d->confine));
		snprintf(dst, sizeof(dst), "%s/logs/criu-restore.log", d->o->outdir);
		copy_file(src, dst);
	}
	if (d->ctr_may_exist) {
		const char *rm[] = {"podman", "--runtime", "runc", "rm", "-f", "-t", "0",
				    d->ctr_id[0] ? d->ctr_id : d->ctr_name, NULL};
		interrupted = 0; /* let the clean-up commands run */
		say(d, "removing the container");
		if (run_cmd(d, rm, false, log, NULL, 0, 60) != 0)
			fprintf(stderr, "kcsi detonate: warning: could not remove container %s\n",
				d->ctr_id[0] ? d->ctr_id : d->ctr_name);
		d->ctr_may_exist = false;
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
			fprintf(stderr, "kcsi detonate: warning: could not delete network namespace %s\n", d->ns);
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

kcsi_code kcsi_detonate(const kcsi_detonate_opts *o, kcsi_detonate_result *res, kcsi_error *err)
{
	struct det d = {.o = o, .nsfd = -1, .hostfd = -1};
	kcsi_ckpt *ck = NULL;
	char *image_copy = NULL;
	const char *layout = "podman";
	bool tcp_established = false;
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term, old_hup;
	det_facts f = {0};
	char path[4400], out[8192], sha[65] = "", image_id[128] = "", restore_log[128];
	const char *image_name;
	kcsi_code rc = KCSI_OK;
	double t_end = 0;
	int fd;

	memset(res, 0, sizeof(*res));
	d.t0 = det_now();
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
	if ((fd = open(o->archive, O_RDONLY | O_CLOEXEC)) < 0)
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", o->archive, strerror(errno));
	rc = kcsi_sha256_fd(fd, sha, err);
	close(fd);
	if (rc)
		return rc;
	if ((rc = kcsi_ckpt_open(o->archive, KCSI_CKPT_BULK, &ck, err)))
		goto done_meta;
	layout = layout_of(ck);
	tcp_established = has_tcp_streams(ck);
	image_name = o->image ? o->image : json_string_value(json_object_get(kcsi_ckpt_config(ck), "rootfsImageName"));
	if (image_name && !(image_name = image_copy = strdup(image_name))) {
		rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		goto done_meta;
	}
	if (strcmp(layout, "podman") && !o->image) {
		rc = kcsi_error_set(err, KCSI_ERR_USAGE,
				    "%s: a kubelet/CRI-O or containerd checkpoint: give the container's image with --image",
				    o->archive);
		goto done_meta;
	}
	if (!image_name) {
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: config.dump names no image; give --image", o->archive);
		goto done_meta;
	}
	if ((rc = prepare_outdir(o->outdir, err)))
		goto done_meta;

	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	snprintf(d.work, sizeof(d.work), "/tmp/kcsi-detonate.XXXXXX");
	if (!mkdtemp(d.work)) {
		d.work[0] = '\0';
		rc = kcsi_error_set(err, KCSI_ERR_IO, "mkdtemp: %s", strerror(errno));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/logs", o->outdir);
	mkdir(path, 0700);
	snprintf(d.ns, sizeof(d.ns), "kcsi-det-%d", (int)getpid());
	snprintf(d.nspath, sizeof(d.nspath), "/run/netns/%s", d.ns);
	snprintf(d.ctr_name, sizeof(d.ctr_name), "kcsi-det-%d", (int)getpid());

	/* the local image the restore runs on, and its root for the checks */
	{
		char image_root[4096] = "";
		const char *argv[] = {"podman", "image", "inspect", "--format", "{{.Id}}", image_name, NULL};
		const char *mnt[] = {"podman", "image", "mount", image_name, NULL};
		if (run_cmd(&d, argv, false, NULL, image_id, sizeof(image_id), 30) != 0 || !image_id[0]) {
			rc = kcsi_error_set(err, KCSI_ERR_NOTFOUND, "image %s is not here (podman image inspect failed)",
					    image_name);
			goto out;
		}
		chomp(image_id);
		if (run_cmd(&d, mnt, false, NULL, image_root, sizeof(image_root), 60) != 0 || image_root[0] != '/') {
			rc = kcsi_error_set(err, KCSI_ERR_UNSUPPORTED, "cannot mount image %s to check the rootfs diff",
					    image_name);
			goto out;
		}
		d.image_mounted = image_name;
		chomp(image_root);
		det_confine_opts co = {.work = d.work, .container_name = d.ctr_name, .image_name = image_name,
				       .image_id = image_id, .image_root = image_root, .netns_path = d.nspath};
		rc = det_confine_plan(ck, &co, &d.confine, err);
		if (!rc) {
			snprintf(path, sizeof(path), "%s/restore.tar", d.work);
			rc = det_confine_write_copy(ck, d.confine, path, err);
		}
		const char *um[] = {"podman", "image", "unmount", image_name, NULL};
		run_cmd(&d, um, false, NULL, NULL, 0, 30);
		d.image_mounted = NULL;
		f.confinement = det_confine_report(d.confine);
		kcsi_ckpt_close(ck);
		ck = NULL;
		if (rc)
			goto out;
	}
	say(&d, "restore copy ready (%s layout, image %s)", layout, image_name);

	/* the sandbox */
	if ((rc = make_netns(&d, err)))
		goto out;
	if ((d.hostfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0 || setns(d.nsfd, CLONE_NEWNET) < 0) {
		rc = kcsi_error_set(err, KCSI_ERR_UNSUPPORTED, "cannot build the sandbox: setns: %s", strerror(errno));
		goto out;
	}
	{
		int v6 = open("/proc/sys/net/ipv6/conf/all/disable_ipv6", O_WRONLY | O_CLOEXEC);
		if (v6 >= 0) {
			if (write(v6, "1", 1) != 1) {
				/* the nftables rules drop IPv6 flows anyway */
			}
			close(v6);
		}
	}
	rc = det_sinkhole_open(&d.sink, o->outdir, o->irc_commands, d.wall0, err);
	if (!rc) {
		snprintf(path, sizeof(path), "%s/traffic.pcap", o->outdir);
		rc = det_pcap_open(&d.pcap, path, err);
	}
	if (setns(d.hostfd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "kcsi detonate: cannot return to the host's network namespace: %s\n", strerror(errno));
		abort(); /* never go on inside the sandbox */
	}
	close(d.hostfd);
	d.hostfd = -1;
	if (rc)
		goto out;
	if ((rc = load_nft(&d, err)) || (rc = check_sealed(&d, err)) || (rc = det_sinkhole_start(d.sink, err)) ||
	    (rc = det_pcap_start(d.pcap, err)))
		goto out;
	say(&d, "sandbox %s ready (sink0: %s)", d.ns, d.iface_kind);
	if (!o->no_bpf) {
		struct stat st;
		kcsi_error terr;
		kcsi_error_clear(&terr);
		fstat(d.nsfd, &st);
		snprintf(path, sizeof(path), "%s/activity.jsonl", o->outdir);
		if (det_trace_open(&d.trace, path, (uint64_t)st.st_ino, d.wall0, &terr) != KCSI_OK) {
			snprintf(res->bpf_error, sizeof(res->bpf_error), "%.250s", terr.msg);
			say(&d, "no activity log: %s", terr.msg);
		} else {
			res->bpf = true;
		}
	} else {
		snprintf(res->bpf_error, sizeof(res->bpf_error), "disabled with --no-bpf");
	}
	if (interrupted) {
		rc = kcsi_error_set(err, KCSI_ERR_GENERIC, "interrupted");
		goto out;
	}

	/* restore */
	snprintf(restore_log, sizeof(restore_log), "%s/restore.out", d.work);
	{
		char imp[4200];
		snprintf(imp, sizeof(imp), "--import=%s/restore.tar", d.work);
		const char *est[] = {"podman", "--runtime", "runc", "container", "restore", imp, "--tcp-established", NULL};
		const char *plain[] = {"podman", "--runtime", "runc", "container", "restore", imp, NULL};
		d.ctr_may_exist = true;
		int st = run_cmd(&d, tcp_established ? est : plain, true, restore_log, out, sizeof(out), 90);
		snprintf(path, sizeof(path), "%s/logs/podman-restore.txt", o->outdir);
		copy_file(restore_log, path);
		if (st != 0) {
			char msg[600] = "";
			FILE *l = fopen(restore_log, "r");
			while (l && fgets(msg, sizeof(msg), l))
				if (strstr(msg, "Error") || strstr(msg, "error"))
					break;
			if (l)
				fclose(l);
			chomp(msg);
			rc = kcsi_error_set(err, KCSI_ERR_GENERIC, "podman container restore %s: %s",
					    interrupted ? "interrupted" : st < 0 ? "timed out" : "failed", msg);
			goto out;
		}
		chomp(out);
		char *last = strrchr(out, '\n');
		snprintf(d.ctr_id, sizeof(d.ctr_id), "%.64s", last ? last + 1 : out);
	}
	{
		char pidbuf[64] = "";
		const char *argv[] = {"podman", "inspect", "--format", "{{.State.Pid}}", d.ctr_id, NULL};
		if (run_cmd(&d, argv, false, NULL, pidbuf, sizeof(pidbuf), 30) != 0 || atoi(pidbuf) <= 0) {
			rc = kcsi_error_set(err, KCSI_ERR_GENERIC, "restored container %s has no running process", d.ctr_id);
			goto out;
		}
		d.init_pid = atoi(pidbuf);
	}
	res->restore_s = det_now() - d.t0;
	f.restore_s = res->restore_s;
	f.restored_wall = det_wall();
	det_trace_mark_running(d.trace, f.restored_wall);
	say(&d, "restored container %.12s (pid %d) in %.2fs", d.ctr_id, (int)d.init_pid, res->restore_s);
	if ((rc = apply_limits(&d, err)))
		goto out;
	f.restored_processes = container_procs(d.init_pid);

	/* run */
	{
		double start = det_now(), last_cpu = cpu_seconds(&d), last_t = start;
		f.cpu_samples = json_array();
		f.end_reason = "duration";
		while (det_now() - start < o->duration_s) {
			char p[64];
			usleep(100000);
			if (interrupted) {
				f.end_reason = "interrupted";
				break;
			}
			snprintf(p, sizeof(p), "/proc/%d", (int)d.init_pid);
			if (access(p, F_OK) != 0) {
				f.end_reason = "exited";
				break;
			}
			double now = det_now();
			if (now - last_t >= 1.0) {
				double c = cpu_seconds(&d);
				json_array_append_new(f.cpu_samples,
						      json_pack("{s:f, s:f}", "t", now - start, "cpu_percent",
								100.0 * (c - last_cpu) / (now - last_t)));
				last_cpu = c;
				last_t = now;
			}
			uint64_t pc = read_u64(d.cg_pids, "pids.current");
			if (pc > f.pids_peak)
				f.pids_peak = (unsigned)pc;
		}
		f.run_s = det_now() - start;
		res->run_s = f.run_s;
		f.cpu_seconds = cpu_seconds(&d);
		f.memory_peak = read_u64(d.cg_memory, "memory.max_usage_in_bytes");
		if (!f.memory_peak)
			f.memory_peak = read_u64(d.cg_memory, "memory.peak");
	}
	t_end = det_now();
	say(&d, "run ended (%s) after %.1fs", f.end_reason, f.run_s);
	f.final_processes = container_procs(d.init_pid);
	say(&d, "podman diff");
	{
		char *diff = malloc(1 << 20);
		const char *argv[] = {"podman", "diff", "--format", "json", d.ctr_id, NULL};
		json_error_t je;
		if (diff && run_cmd(&d, argv, false, NULL, diff, 1 << 20, 30) == 0)
			f.fs_changes = json_loads(diff, 0, &je);
		free(diff);
	}

out:
	if (!t_end)
		t_end = det_now();
	cleanup(&d, &f); /* stops the recorders too */
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	if (rc == KCSI_OK || f.restored_wall) {
		/* the report, also for a run cut short after the restore */
		f.archive = o->archive;
		f.archive_sha256 = sha;
		f.container = d.ctr_name;
		f.image = image_name;
		f.layout = layout;
		f.netns = d.ns;
		f.started_wall = d.wall0;
		f.ended_wall = det_wall();
		f.duration_s = o->duration_s;
		f.cpu_percent = o->cpu_percent;
		f.pids_max = o->pids_max;
		f.memory_bytes = o->memory_bytes;
		f.bpf_error = res->bpf ? NULL : res->bpf_error;
		snprintf(path, sizeof(path), "%s/activity.jsonl", o->outdir);
		f.activity_path = res->bpf ? path : NULL;
		if (!f.end_reason)
			f.end_reason = interrupted ? "interrupted" : "error";
		kcsi_error rerr;
		kcsi_error_clear(&rerr);
		if (det_write_report(o->outdir, &f, &res->nfindings, &rerr) != KCSI_OK && rc == KCSI_OK)
			rc = kcsi_error_set(err, rerr.code, "%s", rerr.msg);
		res->report_s = det_now() - t_end;
		res->end_reason = f.end_reason;
	}
	det_trace_free(d.trace);
	json_decref(f.cpu_samples);
	json_decref(f.sinkhole);
	json_decref(f.fs_changes);
	json_decref(f.restored_processes);
	json_decref(f.final_processes);
	json_decref(f.confinement);
done_meta:
	free(image_copy);
	det_confine_free(d.confine);
	kcsi_ckpt_close(ck);
	return rc;
}
