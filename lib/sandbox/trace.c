/* kcsi detonate — user-space side of the eBPF activity tracer: loads the
 * CO-RE object (bpf/detonate.bpf.c, embedded as a libbpf skeleton), attaches
 * its tracepoints, and writes every event as one JSON line with Falco-style
 * field names (evt.type, proc.name, proc.cmdline, fd.name, ...).  Built only
 * when clang and bpftool were found (KCSI_HAVE_BPF); otherwise opening says so. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sandbox/sandbox_int.h"
#include "base/time.h"

#ifdef KCSI_HAVE_BPF
#include <arpa/inet.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>
#include <linux/types.h>

#include "detonate.skel.h"
#include "detonate_event.h"

struct det_trace {
	struct detonate_bpf *skel;
	struct ring_buffer *rb;
	FILE *out;
	pthread_t thr;
	bool started;
	volatile int stop;
	double boot_to_wall; /* wall = boottime + this */
	double running_wall;
	uint64_t events, lost;
	bool mounted_tracefs;
};

#define TRACEFS "/sys/kernel/tracing"

/* libbpf finds tracepoint ids in tracefs; mount it for the run when nobody has. */
static bool ensure_tracefs(bool *mounted)
{
	*mounted = false;
	if (access(TRACEFS "/events", F_OK) == 0 || access("/sys/kernel/debug/tracing/events", F_OK) == 0)
		return true;
	if (mount("tracefs", TRACEFS, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0) {
		*mounted = true;
		return true;
	}
	return false;
}

static const char *ev_name(unsigned t)
{
	static const char *n[] = {"?", "execve", "clone", "procexit", "connect", "accept", "bind", "listen", "open", "unlink",
				  "rename", "chmod", "memfd_create", "ptrace", "setuid"};
	return t < sizeof(n) / sizeof(n[0]) ? n[t] : "?";
}

/* key: the bytes of v up to its NUL (at most n), each byte outside
 * printable ASCII as the code point of the same value (\u00NN in the line):
 * every byte of the evidence kept, and the line valid JSON whatever they are. */
#define KV_MAX 512 /* the longest field: a command line */

static void kv(json_t *o, const char *k, const char *v, size_t n)
{
	char buf[2 * KV_MAX + 1], *q = buf;
	for (size_t i = 0; i < n && v[i] && i < KV_MAX; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c < 0x80) {
			*q++ = (char)c;
		} else { /* U+0080..U+00FF in UTF-8 */
			*q++ = (char)(0xc0 | c >> 6);
			*q++ = (char)(0x80 | (c & 0x3f));
		}
	}
	*q = '\0';
	json_object_set_new(o, k, json_string(buf));
}

static void kint(json_t *o, const char *k, long long v)
{
	json_object_set_new(o, k, json_integer(v));
}

/* "0NNN" */
static void koct(json_t *o, const char *k, unsigned long long v)
{
	json_object_set_new(o, k, json_sprintf("0%llo", v));
}

/* The command line: exec carries argv; for the rest, /proc at this moment. */
static void cmdline(json_t *o, const struct det_event *e)
{
	char cl[KV_MAX];
	size_t n = 0;
	if (e->type == DET_EV_EXEC) {
		n = e->a1 > 0 && (size_t)e->a1 < sizeof(e->path2) && (size_t)e->a1 < sizeof(cl) ? (size_t)e->a1 : 0;
		memcpy(cl, e->path2, n);
	} else {
		char p[64];
		snprintf(p, sizeof(p), "/proc/%u/cmdline", e->tgid);
		FILE *c = fopen(p, "r");
		if (c) {
			n = fread(cl, 1, sizeof(cl) - 1, c);
			fclose(c);
		}
	}
	while (n && cl[n - 1] == '\0')
		n--;
	for (size_t i = 0; i < n; i++)
		if (!cl[i])
			cl[i] = ' ';
	cl[n] = '\0';
	kv(o, "proc.cmdline", n ? cl : e->comm, n ? n : sizeof(e->comm));
}

/* The address of connect and bind. */
static void sockaddr_fields(json_t *o, const struct det_event *e)
{
	char addr[INET6_ADDRSTRLEN] = "", name[80];
	if (e->family != 2 && e->family != 10) {
		kint(o, "fd.family", e->family);
		return;
	}
	inet_ntop(e->family == 2 ? AF_INET : AF_INET6, e->addr, addr, sizeof(addr));
	snprintf(name, sizeof(name), e->family == 2 ? "%s:%u" : "[%s]:%u", addr, e->port);
	kv(o, "fd.name", name, sizeof(name));
	kv(o, e->type == DET_EV_CONNECT ? "fd.sip" : "fd.cip", addr, sizeof(addr));
	kint(o, e->type == DET_EV_CONNECT ? "fd.sport" : "fd.cport", e->port);
	kv(o, "fd.l4proto", "ip", 3);
}

/* What each kind of event carries besides the process. */
static void event_fields(json_t *o, const struct det_event *e)
{
	switch (e->type) {
	case DET_EV_EXEC:
		kv(o, "proc.exepath", e->path, sizeof(e->path));
		break;
	case DET_EV_FORK:
		kint(o, "evt.arg.child_pid", e->a1);
		break;
	case DET_EV_EXIT:
		kint(o, "evt.arg.status", e->a1);
		break;
	case DET_EV_CONNECT:
	case DET_EV_BIND:
		sockaddr_fields(o, e);
		kint(o, "fd.num", e->fd);
		break;
	case DET_EV_ACCEPT:
	case DET_EV_LISTEN:
		kint(o, "fd.num", e->fd);
		if (e->type == DET_EV_LISTEN)
			kint(o, "evt.arg.backlog", e->a1);
		break;
	case DET_EV_OPEN:
		kv(o, "fd.name", e->path, sizeof(e->path));
		koct(o, "evt.arg.flags", (unsigned long long)e->a1);
		koct(o, "evt.arg.mode", (unsigned long long)e->a2);
		break;
	case DET_EV_UNLINK:
		kv(o, "fd.name", e->path, sizeof(e->path));
		break;
	case DET_EV_RENAME:
		kv(o, "fd.name", e->path, sizeof(e->path));
		kv(o, "evt.arg.newpath", e->path2, sizeof(e->path2));
		break;
	case DET_EV_CHMOD:
		if (e->path[0])
			kv(o, "fd.name", e->path, sizeof(e->path));
		else
			kint(o, "fd.num", e->fd);
		koct(o, "evt.arg.mode", (unsigned long long)e->a1);
		break;
	case DET_EV_MEMFD:
		kv(o, "fd.name", e->path, sizeof(e->path));
		kint(o, "evt.arg.flags", e->a1);
		break;
	case DET_EV_PTRACE:
		kint(o, "evt.arg.request", e->a1);
		kint(o, "evt.arg.pid", e->a2);
		break;
	case DET_EV_SETUID:
		kint(o, "evt.arg.uid", e->a1);
		kint(o, "evt.arg.ruid", e->a2);
		break;
	}
}

/* One event, one JSON line (compact, Falco's field names, in this order). */
static int on_event(void *ctx, void *data, size_t len)
{
	struct det_trace *t = ctx;
	const struct det_event *e = data;
	char ts[KCSI_TIME_MAX], *line;
	double wall;
	json_t *o;
	if (len < sizeof(*e))
		return 0;
	wall = (double)e->ts_ns / 1e9 + t->boot_to_wall;
	t->events++;
	det_iso_time(wall, ts, sizeof(ts));
	o = json_object();
	json_object_set_new(o, "evt.time", json_string(ts));
	json_object_set_new(o, "evt.type", json_string(ev_name(e->type)));
	json_object_set_new(o, "evt.phase",
			    json_string(wall >= t->running_wall && t->running_wall > 0 ? "run" : "restore"));
	kint(o, "proc.pid", e->tgid);
	kint(o, "proc.tid", e->tid);
	kint(o, "proc.vpid", e->vpid);
	kint(o, "proc.ppid", e->ppid);
	kint(o, "user.uid", e->uid);
	kv(o, "proc.name", e->comm, sizeof(e->comm));
	kv(o, "proc.pname", e->pcomm, sizeof(e->pcomm));
	cmdline(o, e);
	event_fields(o, e);
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	if (line)
		fprintf(t->out, "%s\n", line);
	free(line);
	json_decref(o);
	return 0;
}

static void *loop(void *arg)
{
	struct det_trace *t = arg;
	while (!t->stop) {
		int r = ring_buffer__poll(t->rb, 100);
		if (r < 0 && r != -EINTR)
			break;
	}
	ring_buffer__consume(t->rb);
	return NULL;
}

static int quiet(enum libbpf_print_level l, const char *fmt, va_list ap)
{
	(void)l;
	(void)fmt;
	(void)ap;
	return 0;
}

kcsi_code det_trace_open(det_trace **out, const char *path, uint64_t netns_ino, double wall0, kcsi_error *err)
{
	struct det_trace *t = calloc(1, sizeof(*t));
	struct timespec b, w;
	int e;
	(void)wall0;
	if (!t)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	libbpf_set_print(quiet);
	clock_gettime(CLOCK_BOOTTIME, &b);
	clock_gettime(CLOCK_REALTIME, &w);
	t->boot_to_wall = ((double)w.tv_sec + w.tv_nsec / 1e9) - ((double)b.tv_sec + b.tv_nsec / 1e9);
	if (!ensure_tracefs(&t->mounted_tracefs)) {
		free(t);
		return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED, "eBPF: tracefs is not mounted and cannot be: %s",
				      strerror(errno));
	}
	if (!(t->skel = detonate_bpf__open())) {
		free(t);
		return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED, "eBPF: cannot open the object: %s", strerror(errno));
	}
	t->skel->rodata->target_netns = netns_ino;
	if ((e = detonate_bpf__load(t->skel)) != 0) {
		detonate_bpf__destroy(t->skel);
		free(t);
		return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED, "eBPF: the kernel refused the program: %s", strerror(-e));
	}
	if ((e = detonate_bpf__attach(t->skel)) != 0) {
		detonate_bpf__destroy(t->skel);
		if (t->mounted_tracefs)
			umount2(TRACEFS, MNT_DETACH);
		free(t);
		return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED, "eBPF: cannot attach the tracepoints: %s", strerror(-e));
	}
	/* made 0600 like every file of DIR (evidence) */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0 && !(t->out = fdopen(fd, "w")))
		close(fd);
	if (!t->out) {
		detonate_bpf__destroy(t->skel);
		free(t);
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", path, strerror(errno));
	}
	if (!(t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), on_event, t, NULL)) ||
	    pthread_create(&t->thr, NULL, loop, t) != 0) {
		fclose(t->out);
		detonate_bpf__destroy(t->skel);
		free(t);
		return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED, "eBPF: ring buffer: %s", strerror(errno));
	}
	t->started = true;
	*out = t;
	return KCSI_OK;
}

void det_trace_mark_running(det_trace *t, double wall)
{
	if (t)
		t->running_wall = wall;
}

void det_trace_stop(det_trace *t, uint64_t *events, uint64_t *lost)
{
	if (!t)
		return;
	if (t->started) {
		t->stop = 1;
		pthread_join(t->thr, NULL);
		t->started = false;
		fflush(t->out);
	}
	if (events)
		*events = t->events;
	if (lost)
		*lost = t->lost;
}

void det_trace_free(det_trace *t)
{
	if (!t)
		return;
	det_trace_stop(t, NULL, NULL);
	ring_buffer__free(t->rb);
	detonate_bpf__destroy(t->skel);
	fclose(t->out);
	if (t->mounted_tracefs)
		umount2(TRACEFS, MNT_DETACH);
	free(t);
}

#else /* !KCSI_HAVE_BPF */

kcsi_code det_trace_open(det_trace **out, const char *path, uint64_t netns_ino, double wall0, kcsi_error *err)
{
	(void)path;
	(void)netns_ino;
	(void)wall0;
	*out = NULL;
	return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED,
			      "eBPF: kcsi was built without the tracer (clang, bpftool or libbpf-dev missing at build time)");
}

void det_trace_mark_running(det_trace *t, double wall)
{
	(void)t;
	(void)wall;
}

void det_trace_stop(det_trace *t, uint64_t *events, uint64_t *lost)
{
	(void)t;
	if (events)
		*events = 0;
	if (lost)
		*lost = 0;
}

void det_trace_free(det_trace *t)
{
	(void)t;
}

#endif
