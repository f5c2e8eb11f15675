/* kcsi — triage rules on the network: raw and packet sockets, listening
 * sockets (bind shells), outbound connections by the port they reach (IRC,
 * mining pools, unusual ports), and remote shells: a shell whose standard
 * streams are a socket, or pipes to a process that holds a connection.  The
 * peers of connections are IOCs of rank 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "triage/analyze_int.h"

static bool common_port(uint32_t port)
{
	static const uint32_t ports[] = {20, 21, 22, 25, 53, 80, 110, 123, 143, 389, 443, 465, 587, 636,
					 853, 993, 995, 1433, 1521, 2049, 2181, 2379, 2380, 3306, 5432, 5671,
					 5672, 6379, 6443, 8080, 8443, 9000, 9042, 9092, 9200, 9300, 10250,
					 11211, 15672, 27017};
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		if (ports[i] == port)
			return true;
	return false;
}

static bool irc_port(uint32_t p)
{
	return (p >= 6660 && p <= 6669) || p == 6697 || p == 7000 || p == 7070;
}

static bool pool_port(uint32_t p)
{
	static const uint32_t ports[] = {3333, 3334, 3335, 3336, 3357, 5555, 5556, 7777, 8333, 9999,
					 13333, 14433, 14444, 15555, 17777, 20535, 45560, 45700};
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		if (ports[i] == p)
			return true;
	return false;
}

static bool is_inet(const kcsi_sock *s)
{
	return !strcmp(s->family, "INET") || !strcmp(s->family, "INET6");
}

static void conn_text(kcsi_evidence *e, const kcsi_sock *s)
{
	kcsi_evidence_set_conn(e, s->proto, s->src, s->sport, s->dst, s->dport, s->state);
}

static bool listening_port(az *a, uint32_t port)
{
	for (size_t i = 0; i < a->nsocks; i++)
		if (!strcmp(a->socks[i].state, "LISTEN") && a->socks[i].sport == port && is_inet(&a->socks[i]))
			return true;
	return false;
}

/* KCSI-SHELL-002 / KCSI-NET-LISTEN-001 */
static kcsi_finding *listening(az *a, const kcsi_sock *s, const kcsi_proc *p)
{
	bool shell = p && az_is_plain_shell(p->exe);
	if (shell)
		return az_finding(a, "KCSI-SHELL-002", KCSI_SEV_HIGH,
				  az_printf("Shell or interpreter %u listens on port %u (bind shell)", s->pid, s->sport),
				  az_printf("Process %u (%s) waits for connections on %s:%u: a shell that serves the network "
					    "is a bind shell.", s->pid, p->exe, s->src, s->sport),
				  "T1059.004 T1571");
	return az_finding(a, "KCSI-NET-LISTEN-001", KCSI_SEV_INFO,
			  az_printf("Process %u listens on %s port %u", s->pid, s->proto, s->sport),
			  az_printf("A listening socket: a service of the workload, or a backdoor if the workload does not "
				    "serve this port."),
			  "T1095");
}

/* KCSI-NET-IRC-001, -POOL-001, -PORT-001, -OUT-001: by the port reached */
static kcsi_finding *outbound(az *a, const kcsi_sock *s)
{
	if (irc_port(s->dport))
		return az_finding(a, "KCSI-NET-IRC-001", KCSI_SEV_HIGH,
				  az_printf("Process %u is connected to an IRC port (%s:%u)", s->pid, s->dst, s->dport),
				  az_printf("Outbound connection to port %u, an IRC port. IRC is a classic command-and-control "
					    "channel for bots; web workloads do not speak it.", s->dport),
				  "T1071 T1571");
	if (pool_port(s->dport))
		return az_finding(a, "KCSI-NET-POOL-001", KCSI_SEV_HIGH,
				  az_printf("Process %u is connected to a mining-pool port (%s:%u)", s->pid, s->dst, s->dport),
				  az_printf("Outbound connection to port %u, a port cryptocurrency mining pools use.", s->dport),
				  "T1496 T1571");
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

/* Every socket: raw ones, listening ones, outbound connections (each socket
 * once per process, however many descriptors it has). */
static void sockets(az *a)
{
	for (size_t i = 0; i < a->nsocks; i++) {
		const kcsi_sock *s = &a->socks[i];
		const kcsi_proc *p = kcsi_ckpt_proc_by_pid(a->c, s->pid);
		bool inet = is_inet(s), dup = false;
		kcsi_finding *f = NULL;
		kcsi_evidence *e;

		for (size_t k = 0; k < i; k++)
			if (a->socks[k].ino == s->ino && a->socks[k].pid == s->pid)
				dup = true;
		if (!strcmp(s->family, "PACKET") || (inet && !strcmp(s->type, "RAW"))) {
			f = az_finding(a, "KCSI-NET-RAW-001", KCSI_SEV_MEDIUM,
				       az_printf("Process %u holds a raw or packet socket", s->pid),
				       az_printf("A raw or packet socket sees or forges traffic below TCP/UDP: sniffers and "
						 "scanners use them; ordinary workloads do not."),
				       "T1040 T1095");
			if ((e = az_evidence(f, "socket", s->pid, s->fd)))
				e->command = strdup("kcsi net ARCHIVE");
			continue;
		}
		if (!inet)
			continue;
		if (s->dport && !dup) {
			kcsi_ioc_prov pv = KCSI_IOC_PROV_NONE;
			pv.kind = "connection";
			pv.pid = s->pid;
			pv.fd = s->fd;
			kcsi_iocs_add_prov(&a->r->iocs, !strcmp(s->family, "INET6") ? "ipv6" : "ipv4", s->dst, 0, &pv);
		}
		if (dup)
			continue;
		if (!strcmp(s->state, "LISTEN"))
			f = listening(a, s, p);
		else if (s->dport && !listening_port(a, s->sport) && !listening_port(a, s->dport))
			f = outbound(a, s);
		if (f && (e = az_evidence(f, "socket", s->pid, s->fd))) {
			conn_text(e, s);
			e->command = strdup("kcsi net ARCHIVE");
		}
	}
}

/* KCSI-SHELL-001: shells whose standard streams are network sockets */
static void socket_shells(az *a)
{
	for (size_t i = 0; i < kcsi_ckpt_nprocs(a->c); i++) {
		const kcsi_proc *p = kcsi_ckpt_proc(a->c, i);
		const kcsi_sock *net = NULL;
		int fds[3] = {-1, -1, -1};
		kcsi_finding *f;
		kcsi_evidence *e;
		if (!p->exe || !az_is_shell_or_interp(p->exe))
			continue;
		for (size_t k = 0; k < a->nsocks; k++) {
			const kcsi_sock *s = &a->socks[k];
			if (s->pid == p->pid && s->fd >= 0 && s->fd <= 2 && is_inet(s)) {
				fds[s->fd] = s->fd;
				net = s;
			}
		}
		if (!net)
			continue;
		f = az_finding(a, "KCSI-SHELL-001", KCSI_SEV_CRITICAL,
			       az_printf("%s shell: process %u (%s) reads and writes a network connection",
					 listening_port(a, net->sport) ? "Bind" : "Reverse", p->pid, az_base(p->exe)),
			       az_printf("The standard input/output of process %u (%s) are a %s socket connected to %s:%u. "
					 "A shell or interpreter whose terminal is a network connection is a remote shell: "
					 "someone at the other end types commands.", p->pid, p->exe, net->proto, net->dst,
					 net->dport),
			       "T1059.004 T1071");
		if ((e = az_evidence(f, "socket", p->pid, net->fd))) {
			conn_text(e, net);
			kcsi_evidence_excerptf(e, "stdin %s, stdout %s, stderr %s", fds[0] >= 0 ? "socket" : "-",
					       fds[1] >= 0 ? "socket" : "-", fds[2] >= 0 ? "socket" : "-");
			e->command = az_printf("kcsi files --pid %u ARCHIVE", p->pid);
		}
	}
}

/* A connected (or connecting) network socket of pid, the last one; NULL */
static const kcsi_sock *connection_of(az *a, uint32_t pid)
{
	const kcsi_sock *net = NULL;
	for (size_t q = 0; q < a->nsocks; q++)
		if (a->socks[q].pid == pid && is_inet(&a->socks[q]) &&
		    (!strcmp(a->socks[q].state, "ESTABLISHED") || !strcmp(a->socks[q].state, "SYN_SENT")))
			net = &a->socks[q];
	return net;
}

static bool is_pipe(const kcsi_fd *d)
{
	return !strcmp(d->type, "PIPE") || !strcmp(d->type, "FIFO");
}

/* KCSI-SHELL-003: shells whose terminal is a pipe to a process that holds a
 * connection: mkfifo F; sh -i < F | relay HOST PORT > F (the shell has no
 * socket) */
static void piped_shell(az *a, const kcsi_proc *p)
{
	const char *in = NULL, *out = NULL;
	const kcsi_proc *feeder = NULL, *reader = NULL;
	const kcsi_sock *conn = NULL;
	kcsi_finding *f;
	kcsi_evidence *e;
	for (size_t k = 0; k < a->nfds; k++) {
		const kcsi_fd *d = &a->fds[k];
		if (d->pid != p->pid || !is_pipe(d))
			continue;
		if (d->fd == 0)
			in = d->path;
		else if (d->fd == 1)
			out = d->path;
	}
	if (!in && !out)
		return;
	for (size_t k = 0; k < a->nfds; k++) {
		const kcsi_fd *d = &a->fds[k];
		const kcsi_sock *net;
		if (d->pid == p->pid || !is_pipe(d))
			continue;
		/* the other end: it writes what the shell reads, or reads what it writes */
		bool feeds = in && d->fd == 1 && !strcmp(d->path, in);
		bool reads = out && d->fd == 0 && !strcmp(d->path, out);
		if ((!feeds && !reads) || !(net = connection_of(a, d->pid)))
			continue;
		conn = net;
		if (feeds)
			feeder = kcsi_ckpt_proc_by_pid(a->c, d->pid);
		if (reads)
			reader = kcsi_ckpt_proc_by_pid(a->c, d->pid);
	}
	if (!conn)
		return;
	f = az_finding(a, "KCSI-SHELL-003", feeder && reader ? KCSI_SEV_CRITICAL : KCSI_SEV_HIGH,
		       az_printf("Shell %u is driven through pipes by a process with a network connection", p->pid),
		       az_printf("The %s of shell %u (%s) %s connected through %s to process %u, which holds a %s "
				 "connection to %s:%u: a reverse shell built from pipes or a named pipe and a relay, "
				 "so that the shell itself holds no socket.",
				 feeder && reader ? "input and output" : feeder ? "input" : "output", p->pid, p->exe,
				 feeder && reader ? "are" : "is", feeder ? in : out, (feeder ? feeder : reader)->pid,
				 conn->proto, conn->dst, conn->dport),
		       "T1059.004 T1071 T1090");
	if ((e = az_evidence(f, "process", p->pid, -1))) {
		kcsi_evidence_excerptf(e, "stdin %s, stdout %s", in ? in : "-", out ? out : "-");
		e->command = az_printf("kcsi files --pid %u ARCHIVE", p->pid);
	}
	if ((e = az_evidence(f, "socket", conn->pid, conn->fd))) {
		conn_text(e, conn);
		e->command = strdup("kcsi net ARCHIVE");
	}
}

void az_family_network(az *a)
{
	sockets(a);
	socket_shells(a);
	for (size_t i = 0; i < kcsi_ckpt_nprocs(a->c); i++) {
		const kcsi_proc *p = kcsi_ckpt_proc(a->c, i);
		if (p->exe && az_is_plain_shell(p->exe))
			piped_shell(a, p);
	}
}
