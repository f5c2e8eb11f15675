/* kcsi — triage rules on the network: raw and packet sockets, listening
 * sockets (bind shells), outbound connections by who holds them (a program
 * run from memory, a deleted file or /dev/shm) or the port they reach (IRC,
 * unusual ports), and remote shells judged by what the shell does with its
 * standard streams.  Each socket counts once, whatever number of
 * descriptors and processes hold it; the peers of connections are IOCs of
 * rank 0.
 *
 * A remote shell is a shell or interpreter whose input AND output (or error)
 * reach a network connection: directly (the streams are the socket: bash -i
 * >& /dev/tcp/..., nc -e, dup2 in a one-liner) or through a relay, a process
 * at the other end of the shell's socket pair, pipes or pseudo-terminal that
 * holds the connection (socat EXEC:, a fifo and nc, python pty.spawn, openssl
 * s_client pipelines).  A socket on standard input alone is a script reading
 * one answer (bash's `read <&3` puts the socket on fd 0 for a moment), not a
 * shell. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "triage/netdata.h"

#define SHELLS_PER_CONN 4 /* processes named as evidence of one remote shell */

static bool common_port(uint32_t port)
{
	static const uint32_t ports[] = {20, 21, 22, 25, 53, 80, 110, 123, 143, 389, 443, 465, 587, 636, 873,
					 853, 993, 995, 1433, 1521, 2049, 2181, 2379, 2380, 3306, 5432, 5671,
					 5672, 6379, 6443, 8080, 8443, 9000, 9042, 9092, 9200, 9300, 10250,
					 11211, 15672, 27017};
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		if (ports[i] == port)
			return true;
	return false;
}

/* the ports IRC servers use (not 7000: a Cassandra port too) */
static bool irc_port(uint32_t p)
{
	return (p >= 6660 && p <= 6669) || p == 6697;
}

/* ports mining pools use; several are other services' ports too (5555 is
 * adb's), so the port alone never says mining (T1496) */
static bool pool_port(uint32_t p)
{
	static const uint32_t ports[] = {3333, 3334, 3335, 3336, 3357, 5555, 5556, 7777, 8333, 9999,
					 13333, 14433, 14444, 15555, 17777, 20535, 45560, 45700};
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		if (ports[i] == p)
			return true;
	return false;
}

static const kcsi_fd *fd_of(az *a, uint32_t pid, int fd)
{
	for (size_t k = 0; k < a->nfds; k++)
		if (a->fds[k].pid == pid && a->fds[k].fd == fd && !strcmp(a->fds[k].role, "fd"))
			return &a->fds[k];
	return NULL;
}

static const kcsi_sock *sock_of(az *a, uint32_t pid, int fd)
{
	for (size_t k = 0; k < a->nsocks; k++)
		if (a->socks[k].pid == pid && a->socks[k].fd == fd)
			return &a->socks[k];
	return NULL;
}

/* Relay tools that run a program for the peer: socat EXEC:/SYSTEM:, nc -e */
static bool runs_program_for_peer(const kcsi_proc *p)
{
	const char *b = p ? az_base(p->exe) : "";
	if (!p || !p->argv)
		return false;
	for (size_t i = 1; i < p->argc; i++) {
		const char *s = p->argv[i];
		if (!strcmp(b, "socat") && (!strncasecmp(s, "EXEC:", 5) || !strncasecmp(s, "SYSTEM:", 7)))
			return true;
		if ((!strncmp(b, "nc", 2) || !strcmp(b, "ncat") || !strcmp(b, "netcat") || !strcmp(b, "busybox")) &&
		    (!strcmp(s, "-e") || !strcmp(s, "-c") || !strncmp(s, "--exec", 6) || !strncmp(s, "--sh-exec", 9) ||
		     !strncmp(s, "--lua-exec", 10)))
			return true;
	}
	return false;
}

static bool relay_tool(const char *exe)
{
	const char *b = az_base(exe);
	return !strcmp(b, "socat") || !strcmp(b, "nc") || !strcmp(b, "ncat") || !strcmp(b, "netcat") ||
	       !strcmp(b, "telnet") || !strcmp(b, "busybox");
}

/* KCSI-SHELL-002 / KCSI-NET-LISTEN-001: a listening shell, or a relay tool
 * that runs a program for whoever connects (a plain relay is a port
 * forwarder) */
static kcsi_finding *listening(az *a, const kcsi_sock *s, const kcsi_proc *p)
{
	bool relay = p && runs_program_for_peer(p);
	bool shell = p && az_is_plain_shell(p->exe) && !relay_tool(p->exe);
	if (shell || relay)
		return az_finding(a, "KCSI-SHELL-002", KCSI_SEV_HIGH,
				  az_printf("%s %u listens on port %u (bind shell)", relay ? "Relay" : "Shell", s->pid,
					    s->sport),
				  az_printf("Process %u (%s) waits for connections on %s:%u%s: a shell that serves the "
					    "network is a bind shell.", s->pid, p->exe, s->src, s->sport,
					    relay ? " and runs a program for whoever connects" : ""),
				  "T1059.004 T1571");
	return az_finding(a, "KCSI-NET-LISTEN-001", KCSI_SEV_INFO,
			  az_printf("Process %u listens on %s port %u", s->pid, s->proto, s->sport),
			  az_printf("A listening socket: a service of the workload, or a backdoor if the workload does not "
				    "serve this port."),
			  "T1095");
}

/* Where a program runs from that no installed program does: memory, a
 * deleted file, /dev/shm.  NULL: an ordinary file. */
static const char *unbacked_program(const kcsi_proc *p)
{
	if (!p || !p->exe)
		return NULL;
	if (p->exe_memfd || !strncmp(p->exe, "/memfd:", 7))
		return "memory (a memfd)";
	if (p->exe_deleted)
		return "a deleted file";
	if (!strncmp(p->exe, "/dev/shm/", 9))
		return "/dev/shm";
	return NULL;
}

/* KCSI-NET-C2-001: by who holds the connection; KCSI-NET-IRC-001, -POOL-001,
 * -PORT-001, -OUT-001: by the port reached */
static kcsi_finding *outbound(az *a, const kcsi_sock *s, const kcsi_proc *p)
{
	const char *from = unbacked_program(p);
	if (from)
		return az_finding(a, "KCSI-NET-C2-001", KCSI_SEV_HIGH,
				  az_printf("Process %u, run from %s, is connected to %s:%u", s->pid, from, s->dst, s->dport),
				  az_printf("Process %u (%s) runs a program from %s, where no installed program lives, and holds "
					    "a %s connection to %s:%u: the program's command and control, whatever the port.",
					    s->pid, p->exe, from, s->proto, s->dst, s->dport),
				  "T1071 T1571");
	if (irc_port(s->dport))
		return az_finding(a, "KCSI-NET-IRC-001", KCSI_SEV_HIGH,
				  az_printf("Process %u is connected to an IRC port (%s:%u)", s->pid, s->dst, s->dport),
				  az_printf("Outbound connection to port %u, an IRC port. IRC is a classic command-and-control "
					    "channel for bots; web workloads do not speak it.", s->dport),
				  "T1071 T1571");
	if (pool_port(s->dport))
		return az_finding(a, "KCSI-NET-POOL-001", KCSI_SEV_MEDIUM,
				  az_printf("Process %u is connected to a port mining pools use, among others (%s:%u)", s->pid,
					    s->dst, s->dport),
				  az_printf("Outbound connection to port %u, which no common service uses and mining pools "
					    "often do. The port alone is not mining: the stratum rules look at what the "
					    "connection carries.", s->dport),
				  "T1571 T1071");
	if (!common_port(s->dport))
		return az_finding(a, "KCSI-NET-PORT-001", KCSI_SEV_MEDIUM,
				  az_printf("Process %u is connected to an unusual port (%s:%u)", s->pid, s->dst, s->dport),
				  az_printf("Outbound %s connection to port %u, which no common service uses.", s->proto,
					    s->dport),
				  "T1571 T1071");
	return az_finding(a, "KCSI-NET-OUT-001", KCSI_SEV_INFO,
			  az_printf("Process %u is connected to %s:%u", s->pid, s->dst, s->dport),
			  az_printf("Outbound connection to a common service port."), "T1071");
}

/* The other processes that hold socket i (evidence of the same finding). */
static void other_holders(az *a, kcsi_finding *f, size_t i)
{
	size_t n = 0;
	uint32_t said[3];
	for (size_t k = i + 1; k < a->nsocks && n < 3; k++) {
		const kcsi_sock *o = &a->socks[k];
		bool again = o->pid == a->socks[i].pid;
		for (size_t q = 0; q < n; q++)
			again |= said[q] == o->pid;
		if (o->ino != a->socks[i].ino || strcmp(o->family, a->socks[i].family) || again)
			continue;
		said[n] = o->pid;
		kcsi_evidence *e = az_evidence(f, "socket", o->pid, o->fd);
		if (e) {
			kcsi_evidence_excerptf(e, "the same socket, held by process %u too", o->pid);
			e->command = strdup("kcsi net ARCHIVE");
		}
		n++;
	}
}

/* Every socket once: raw ones, listening ones, outbound connections. */
static void sockets(az *a)
{
	for (size_t i = 0; i < a->nsocks; i++) {
		const kcsi_sock *s = &a->socks[i];
		const kcsi_proc *p = kcsi_ckpt_proc_by_pid(a->c, s->pid);
		bool inet = az_sock_inet(s);
		kcsi_finding *f = NULL;

		if (!az_sock_first(a, i))
			continue;
		if (!strcmp(s->family, "PACKET") || (inet && !strcmp(s->type, "RAW"))) {
			f = az_finding(a, "KCSI-NET-RAW-001", KCSI_SEV_MEDIUM,
				       az_printf("Process %u holds a raw or packet socket", s->pid),
				       az_printf("A raw or packet socket sees or forges traffic below TCP/UDP: sniffers and "
						 "scanners use them; ordinary workloads do not."),
				       "T1040 T1095");
			kcsi_evidence *e = az_evidence(f, "socket", s->pid, s->fd);
			if (e)
				e->command = strdup("kcsi net ARCHIVE");
			continue;
		}
		if (!inet)
			continue;
		if (s->dport) {
			kcsi_ioc_prov pv = KCSI_IOC_PROV_NONE;
			pv.kind = "connection";
			pv.pid = s->pid;
			pv.fd = s->fd;
			kcsi_iocs_add_prov(&a->r->iocs, !strcmp(s->family, "INET6") ? "ipv6" : "ipv4", s->dst, 0, &pv);
		}
		if (!strcmp(s->state, "LISTEN"))
			f = listening(a, s, p);
		else if (az_sock_outbound(a, s))
			f = outbound(a, s, p);
		if (f) {
			az_sock_evidence(f, s);
			other_holders(a, f, i);
		}
	}
}

/* ---- remote shells ---- */

/* Does this shell or interpreter read its commands from standard input?
 * (no -c / -e program, no script operand; or -i / -s) */
static bool reads_commands(const kcsi_proc *p)
{
	bool operand = false;
	if (!p->argv || !p->argc)
		return true; /* the command line is not known */
	for (size_t i = 1; i < p->argc; i++) {
		const char *s = p->argv[i];
		if (!strcmp(s, "-i") || !strcmp(s, "-s") || !strcmp(s, "-") || !strcmp(s, "--interactive"))
			return true;
		if (s[0] == '-' && s[1] != '-' && strpbrk(s + 1, "ceEmr"))
			return false; /* -c CMD, perl -e, python -c/-m, php -r */
		if (s[0] != '-' && s[0] != '+')
			operand = true;
	}
	return !operand;
}

/* Where one standard stream of a shell leads: the network directly, or a
 * process at its other end (a relay) that holds a connection. */
typedef struct stream_end {
	const kcsi_fd *fd;
	const kcsi_sock *net;    /* the stream is this INET socket */
	const kcsi_proc *relay;  /* the process at the other end ... */
	const kcsi_sock *conn;   /* ... and its connection */
	const char *via;         /* "socket pair", "pipe", "pseudo-terminal" */
} stream_end;

/* A connection of pid with a peer outside the container; NULL */
static const kcsi_sock *connection_of(az *a, uint32_t pid)
{
	for (size_t q = 0; q < a->nsocks; q++)
		if (a->socks[q].pid == pid && az_sock_external(a, &a->socks[q]))
			return &a->socks[q];
	return NULL;
}

static bool is_pipe(const kcsi_fd *d)
{
	return !strcmp(d->type, "PIPE") || !strcmp(d->type, "FIFO");
}

/* O_RDONLY, O_WRONLY, or O_RDWR when not known (the checkpoint keeps no
 * flags for a fifo: its standard streams go by their number) */
static unsigned pipe_mode(const kcsi_fd *d)
{
	if (!strcmp(d->type, "PIPE"))
		return d->flags & O_ACCMODE;
	return d->fd == 0 ? O_RDONLY : d->fd == 1 || d->fd == 2 ? O_WRONLY : O_RDWR;
}

/* /dev/ptmx, /dev/pts/ptmx: the master side of a pseudo-terminal */
static bool pty_master(const kcsi_fd *d)
{
	size_t n = strlen(d->path);
	return n >= 4 && !strcmp(d->path + n - 4, "ptmx");
}

static void relay_found(az *a, stream_end *e, uint32_t pid, const char *via)
{
	const kcsi_sock *c = connection_of(a, pid);
	if (c && !e->conn) {
		e->relay = kcsi_ckpt_proc_by_pid(a->c, pid);
		e->conn = c;
		e->via = via;
	}
}

static stream_end stream(az *a, const kcsi_proc *p, int fd)
{
	stream_end e = {fd_of(a, p->pid, fd), NULL, NULL, NULL, NULL};
	const kcsi_sock *s;
	if (!e.fd)
		return e;
	if (!strcmp(e.fd->type, "INETSK")) {
		if ((s = sock_of(a, p->pid, fd)) && az_sock_external(a, s))
			e.net = s;
	} else if (!strcmp(e.fd->type, "UNIXSK")) {
		/* the other end of the socket pair */
		if ((s = sock_of(a, p->pid, fd)) && s->peer_ino)
			for (size_t k = 0; k < a->nsocks && !e.conn; k++)
				if (a->socks[k].ino == s->peer_ino && a->socks[k].pid != p->pid)
					relay_found(a, &e, a->socks[k].pid, "socket pair");
	} else if (is_pipe(e.fd)) {
		/* who writes what the shell reads, or reads what it writes */
		unsigned mine = pipe_mode(e.fd);
		for (size_t k = 0; k < a->nfds && !e.conn; k++) {
			const kcsi_fd *d = &a->fds[k];
			unsigned theirs = is_pipe(d) ? pipe_mode(d) : 0;
			if (d->pid != p->pid && is_pipe(d) && !strcmp(d->path, e.fd->path) &&
			    (theirs != mine || theirs == O_RDWR))
				relay_found(a, &e, d->pid, strcmp(e.fd->type, "FIFO") ? "pipe" : "named pipe");
		}
	} else if (!strcmp(e.fd->type, "TTY") && !pty_master(e.fd)) {
		/* a pseudo-terminal whose master a process of the container holds
		 * (an interactive `podman exec -t` has its master outside) */
		for (size_t k = 0; k < a->nfds && !e.conn; k++) {
			const kcsi_fd *d = &a->fds[k];
			if (d->pid != p->pid && !strcmp(d->type, "TTY") && pty_master(d))
				relay_found(a, &e, d->pid, "pseudo-terminal");
		}
	}
	return e;
}

/* A shell whose streams reach the network, and how. */
typedef struct remote {
	const kcsi_proc *p;
	stream_end in, out, err;
	const kcsi_sock *conn; /* the connection */
	bool direct, both, interactive;
} remote;

static bool judge(az *a, const kcsi_proc *p, remote *r)
{
	stream_end out2;
	memset(r, 0, sizeof(*r));
	r->p = p;
	r->in = stream(a, p, 0);
	r->out = stream(a, p, 1);
	r->err = out2 = stream(a, p, 2);
	r->interactive = reads_commands(p);
	if (r->in.net) {
		/* directly: stdin and stdout or stderr are the same connection */
		if ((r->out.net && r->out.net->ino == r->in.net->ino) || (out2.net && out2.net->ino == r->in.net->ino)) {
			if (!(r->out.net && r->out.net->ino == r->in.net->ino))
				r->out = out2;
			r->conn = r->in.net;
			r->direct = r->both = true;
			return true;
		}
		return false; /* a socket on stdin alone: one read, not a shell */
	}
	if (!r->out.conn)
		r->out = out2;
	if (!r->interactive || !(r->in.conn || r->out.conn))
		return false;
	r->conn = r->in.conn ? r->in.conn : r->out.conn;
	r->both = r->in.conn && r->out.conn;
	return true;
}

static const char *stream_text(const stream_end *e, char *buf, size_t cap)
{
	if (e->net)
		snprintf(buf, cap, "the connection (fd %d)", e->fd->fd);
	else if (e->conn)
		snprintf(buf, cap, "a %s to process %u (%s)", e->via, e->relay->pid, az_base(e->relay->exe));
	else
		snprintf(buf, cap, "%s", e->fd ? e->fd->path : "-");
	return buf;
}

/* "bash: stdin ..., stdout ..., stderr ..." */
static void streams_excerpt(kcsi_evidence *e, const remote *x)
{
	char in[200], out[200], err[200];
	kcsi_evidence_excerptf(e, "%s: stdin %s, stdout %s, stderr %s", az_base(x->p->exe), stream_text(&x->in, in, sizeof(in)),
			       stream_text(&x->out, out, sizeof(out)), stream_text(&x->err, err, sizeof(err)));
}

/* Which of two remote shells on one connection names the finding: the one
 * that reads commands, a plain shell, the deepest. */
static bool better(const remote *x, const remote *y)
{
	if (x->interactive != y->interactive)
		return x->interactive;
	if (az_is_plain_shell(x->p->exe) != az_is_plain_shell(y->p->exe))
		return az_is_plain_shell(x->p->exe);
	return x->p->pid > y->p->pid;
}

/* KCSI-SHELL-001 (directly on the socket), KCSI-SHELL-003 (through a relay):
 * one finding per connection. */
static void remote_finding(az *a, const remote *rs, size_t n)
{
	const remote *r = &rs[0];
	bool bind = az_sock_accepted(a, r->conn);
	kcsi_finding *f;
	kcsi_evidence *e;
	for (size_t i = 1; i < n; i++)
		if (better(&rs[i], r))
			r = &rs[i];
	if (r->direct)
		f = az_finding(a, "KCSI-SHELL-001", r->interactive ? KCSI_SEV_CRITICAL : KCSI_SEV_HIGH,
			       az_printf("%s shell: process %u (%s) reads and writes a network connection",
					 bind ? "Bind" : "Reverse", r->p->pid, az_base(r->p->exe)),
			       az_printf("The standard input and output of process %u (%s) are a %s connection with "
					 "%s:%u. A shell or interpreter whose terminal is a network connection is a remote "
					 "shell: someone at the other end types commands.%s", r->p->pid, r->p->exe,
					 r->conn->proto, bind ? r->conn->src : r->conn->dst, bind ? r->conn->sport : r->conn->dport,
					 r->interactive ? "" : " (It runs a script or a -c program rather than reading commands.)"),
			       "T1059.004 T1071");
	else
		f = az_finding(a, "KCSI-SHELL-003", r->both ? KCSI_SEV_CRITICAL : KCSI_SEV_HIGH,
			       az_printf("%s shell: process %u (%s) is driven through a relay with a network connection",
					 bind ? "Bind" : "Reverse", r->p->pid, az_base(r->p->exe)),
			       az_printf("The %s of shell %u (%s) %s a %s to process %u (%s), which holds a %s connection "
					 "with %s:%u: a remote shell relayed (socat EXEC, a fifo and nc, pty.spawn, "
					 "openssl pipelines), so that the shell itself holds no socket.",
					 r->both ? "input and output" : r->in.conn ? "input" : "output", r->p->pid, r->p->exe,
					 r->both ? "are" : "is", (r->in.conn ? &r->in : &r->out)->via, r->conn->pid,
					 az_base((r->in.conn ? &r->in : &r->out)->relay->exe), r->conn->proto,
					 bind ? r->conn->src : r->conn->dst, bind ? r->conn->sport : r->conn->dport),
			       "T1059.004 T1071 T1090");
	/* the connection first: the shell's streams (directly), or the relay's
	 * command line */
	if ((e = az_sock_evidence(f, r->conn))) {
		if (r->direct) {
			streams_excerpt(e, r);
		} else {
			const kcsi_proc *relay = kcsi_ckpt_proc_by_pid(a->c, r->conn->pid);
			kcsi_buf b;
			kcsi_buf_init(&b, 600);
			for (size_t k = 0; relay && relay->argv && k < relay->argc; k++)
				kcsi_buf_printf(&b, "%s%s", k ? " " : "", relay->argv[k]);
			if (b.len)
				kcsi_evidence_excerpt(e, b.data, b.len, 300);
			kcsi_buf_free(&b);
		}
	}
	/* then the shells on it */
	for (size_t i = 0, shown = 0; i <= n && shown < SHELLS_PER_CONN; i++) {
		const remote *x = i == 0 ? r : &rs[i - 1];
		if ((i > 0 && x == r) || (i == 0 && r->direct))
			continue;
		if ((e = az_evidence(f, "process", x->p->pid, -1))) {
			streams_excerpt(e, x);
			e->command = az_printf("kcsi files --pid %u ARCHIVE", x->p->pid);
		}
		shown++;
	}
}

static void remote_shells(az *a)
{
	size_t np = kcsi_ckpt_nprocs(a->c), n = 0;
	remote *rs = calloc(np ? np : 1, sizeof(*rs));
	bool *done;
	if (!rs)
		return;
	for (size_t i = 0; i < np; i++) {
		const kcsi_proc *p = kcsi_ckpt_proc(a->c, i);
		if (p->exe && az_is_shell_or_interp(p->exe) && judge(a, p, &rs[n]))
			n++;
	}
	/* one finding per connection */
	if ((done = calloc(n ? n : 1, sizeof(*done)))) {
		for (size_t i = 0; i < n; i++) {
			remote group[SHELLS_PER_CONN * 4] = {{0}};
			size_t g = 0;
			if (done[i])
				continue;
			for (size_t k = i; k < n; k++)
				if (!done[k] && rs[k].conn->ino == rs[i].conn->ino) {
					done[k] = true;
					if (g < sizeof(group) / sizeof(group[0]))
						group[g++] = rs[k];
				}
			remote_finding(a, group, g);
		}
		free(done);
	}
	free(rs);
}

void az_family_network(az *a)
{
	sockets(a);
	remote_shells(a);
}
