/* kcsi — triage rules on exfiltration: data leaving the container, judged by
 * what it is and how it leaves, one finding per connection with a peer
 * outside the container.
 *
 * What leaves is looked for in three places, each tied to its connection:
 *   the send queue  bytes the peer has not taken yet (netdata's classifier:
 *                   tar members, compressed and encoded blobs unwrapped,
 *                   account lists, private keys, credential formats);
 *   HTTP requests   in the writable memory of the process that holds the
 *                   connection (matched by its Host header): the body, a
 *                   blob as long as its Content-Length, and query-string
 *                   values that decode (base64, base64url, hex) to data;
 *   transfer tools  the file a tool sends (curl -T / --data-binary @F / -F
 *                   x=@F, wget --post-file, socat FILE:, a standard input
 *                   redirected from a file as in nc < F, scp/rsync's
 *                   operands), read from the rootfs diff, /dev/shm or a
 *                   deleted file when the checkpoint has it, or a sensitive
 *                   file held open.
 * and, through the findings of the credential rules (T1552, T1528, T1003,
 * T1555 at high severity or more), a process that took credentials and has
 * an upload in flight.
 *
 * Severity: secrets themselves (password hashes, private keys, cloud secret
 * keys, credential files, sensitive archive members), several kinds of
 * credentials, or credentials hidden by an encoding: critical; one token or
 * an account list: high; an archive or encoded blob without anything
 * sensitive, only in bulk (64 KiB or more): low (a backup looks like that).
 *
 *   KCSI-EXFIL-001  the send queue holds it
 *   KCSI-EXFIL-002  a transfer tool sends a file holding it
 *   KCSI-EXFIL-003  an HTTP request to the peer carries it
 *   KCSI-EXFIL-004  a process with credential-access findings uploads
 *   KCSI-EXFIL-005  bulk archive or encoded data waits for the peer (low) */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "triage/netdata.h"

#define EX_MEM_CAP (256u << 20) /* bytes of one process's memory looked at */
#define EX_FILE_MAX (16u << 20) /* bytes of a sent file looked at */
#define EX_BULK (64u << 10)     /* bytes that make a transfer bulk */
#define EX_REQS 64              /* HTTP requests remembered per process */
#define EX_BLOBS 256            /* long encoded runs remembered per process */
#define EX_MIN_BLOB 256         /* shortest encoded run that may be a body */
#define EX_FILES 4              /* files a tool sends, looked at per connection */
#define EX_BLOB_TOTAL (64u << 20) /* bytes of request bodies read apart from their headers */
#define EX_LINES_PER_RUN 256    /* request lines looked at in one run of text */
#define EX_HEADERS 64           /* header lines read per request */

/* One connection with a peer outside the container, and what goes to it. */
typedef struct conn {
	const kcsi_sock *s;
	az_data q, h, t;          /* the queue, HTTP requests, files sent */
	kcsi_evidence req;        /* the request that carries the most */
	bool has_req, upload;     /* a request with a body, or bytes queued */
	uint64_t req_bytes;       /* its Content-Length */
	unsigned req_kinds;
	char tool[400];           /* the tool and what it sends */
	char files[EX_FILES][300];
	size_t nfiles;
	bool hidden;              /* credentials found only under an encoding */
} conn;

typedef struct ex_run {
	az *a;
	az_classifier *k;
	conn *v;
	size_t n;
} ex_run;

/* The connection a request to host (its Host header) from pid goes over:
 * the one to that address and port, else pid's only outbound one. */
static conn *conn_for_host(ex_run *r, uint32_t pid, const char *host)
{
	char h[256];
	uint32_t port = 0;
	conn *only = NULL;
	size_t n = 0;
	snprintf(h, sizeof(h), "%s", host ? host : "");
	if (h[0] == '[') { /* [v6]:port */
		char *e = strchr(h, ']');
		if (e) {
			port = e[1] == ':' ? (uint32_t)strtoul(e + 2, NULL, 10) : 0;
			*e = '\0';
			memmove(h, h + 1, strlen(h));
		}
	} else if (strchr(h, ':') == strrchr(h, ':') && strchr(h, ':')) {
		port = (uint32_t)strtoul(strchr(h, ':') + 1, NULL, 10);
		*strchr(h, ':') = '\0';
	}
	for (size_t i = 0; i < r->n; i++) {
		const kcsi_sock *s = r->v[i].s;
		if (s->pid != pid || strcmp(s->proto, "TCP") || az_sock_accepted(r->a, s))
			continue;
		if (!strcmp(s->dst, h) && (!port || port == s->dport))
			return &r->v[i];
		only = &r->v[i];
		n++;
	}
	return n == 1 ? only : NULL;
}

/* ---- HTTP requests in memory ---- */

typedef struct request {
	char method[8];
	char target[200];
	char host[128];
	char agent[160];
	uint64_t length;          /* Content-Length */
	uint64_t addr;
	az_data body;
	bool body_seen, decoded;  /* decoded: found through the query string's encoding */
} request;

typedef struct blob {
	uint64_t addr;
	size_t len;
} blob;

typedef struct mem_scan {
	ex_run *r;
	uint32_t pid;
	request req[EX_REQS];
	size_t nreq;
	blob blobs[EX_BLOBS];
	size_t nblobs;
	const unsigned char *win;
	uint64_t addr;
} mem_scan;

static bool is_b64c(unsigned char c)
{
	return isalnum(c) || c == '+' || c == '/' || c == '-' || c == '_';
}

static void header(const char *line, size_t n, const char *name, char *out, size_t cap)
{
	size_t l = strlen(name);
	if (n > l + 1 && !strncasecmp(line, name, l) && line[l] == ':') {
		const char *v = line + l + 1;
		size_t vl = n - l - 1;
		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		snprintf(out, cap, "%.*s", (int)(vl < cap - 1 ? vl : cap - 1), v);
		for (char *c = out; *c; c++)
			if (!isprint((unsigned char)*c))
				*c = '?';
	}
}

/* Query-string values that decode to something: credentials hidden in a URL */
static void query_values(mem_scan *m, request *q, const char *target)
{
	const char *qs = strchr(target, '?');
	unsigned char buf[4096];
	for (const char *p = qs; p && *p;) {
		const char *v = strchr(p, '='), *end;
		if (!v)
			break;
		v++;
		end = v + strcspn(v, "&# ");
		if (end - v >= 16) {
			size_t len = (size_t)(end - v), hexn = 0, o;
			while (hexn < len && isxdigit((unsigned char)v[hexn]))
				hexn++;
			o = hexn == len ? az_unhex(v, len, buf, sizeof(buf)) : az_unbase64(v, len, buf, sizeof(buf));
			az_data probe;
			az_data_init(&probe);
			az_data_classify(m->r->k, &probe, buf, o, true);
			if (probe.kinds & AZD_SENSITIVE) {
				az_data_classify(m->r->k, &q->body, buf, o, true);
				q->decoded = true;
			}
			az_data_free(&probe);
		}
		p = *end ? end + 1 : end;
	}
}

/* An HTTP request line at line start, its headers and what follows them. */
static void request_at(mem_scan *m, const char *run, size_t len, size_t at)
{
	static const char *const methods[] = {"POST", "PUT", "PATCH", "GET", "DELETE"};
	const char *line = run + at, *end = run + len, *eol, *sp;
	request q;
	size_t ml = 0;
	memset(&q, 0, sizeof(q));
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]) && !ml; i++)
		if (!strncmp(line, methods[i], strlen(methods[i])) && line[strlen(methods[i])] == ' ')
			ml = strlen(methods[i]);
	if (!ml || !(eol = memchr(line, '\n', (size_t)(end - line))) || !(sp = memchr(line + ml + 1, ' ', (size_t)(eol - line - ml - 1))))
		return;
	snprintf(q.method, sizeof(q.method), "%.*s", (int)ml, line);
	snprintf(q.target, sizeof(q.target), "%.*s", (int)(sp - line - ml - 1 < 199 ? sp - line - ml - 1 : 199), line + ml + 1);
	const char *body = NULL;
	size_t nh = 0;
	for (const char *h = eol + 1; h < end && nh++ < EX_HEADERS;) {
		const char *he = memchr(h, '\n', (size_t)(end - h));
		size_t hl = (size_t)((he ? he : end) - h);
		char cl[32] = "";
		if (hl && h[hl - 1] == '\r')
			hl--;
		if (!hl) { /* the blank line: the body follows */
			body = he ? he + 1 : end;
			break;
		}
		header(h, hl, "Host", q.host, sizeof(q.host));
		header(h, hl, "User-Agent", q.agent, sizeof(q.agent));
		header(h, hl, "Content-Length", cl, sizeof(cl));
		if (cl[0])
			q.length = strtoull(cl, NULL, 10);
		if (!he)
			break;
		h = he + 1;
	}
	/* the same request again (copies in memory): the first, with a body if
	 * one copy has it */
	request *same = NULL;
	for (size_t i = 0; i < m->nreq && !same; i++)
		if (!strcmp(m->req[i].method, q.method) && !strcmp(m->req[i].target, q.target) &&
		    !strcmp(m->req[i].host, q.host) && m->req[i].length == q.length)
			same = &m->req[i];
	if ((same && (same->body_seen || !body || body >= end)) || (!same && m->nreq >= EX_REQS))
		return;
	if (same) {
		same->body_seen = true;
		az_data_classify(m->r->k, &same->body, (const unsigned char *)body,
				 same->length && same->length < (uint64_t)(end - body) ? (size_t)same->length : (size_t)(end - body),
				 true);
		return;
	}
	az_data_init(&q.body);
	if (body && body < end) {
		q.body_seen = true;
		az_data_classify(m->r->k, &q.body, (const unsigned char *)body,
				 q.length && q.length < (uint64_t)(end - body) ? (size_t)q.length : (size_t)(end - body), true);
	}
	query_values(m, &q, q.target);
	q.addr = m->addr + (uint64_t)((const unsigned char *)run - m->win) + at;
	m->req[m->nreq++] = q;
}

static void mem_run(void *ctx, size_t off, size_t len)
{
	mem_scan *m = ctx;
	const char *run = (const char *)m->win + off;
	/* requests: " HTTP/1." on a line that starts with a method */
	size_t seen = 0;
	for (const char *h = run; seen++ < EX_LINES_PER_RUN && (h = memmem(h, len - (size_t)(h - run), " HTTP/1.", 8));
	     h += 8) {
		const char *ls = h;
		while (ls > run && ls[-1] != '\n')
			ls--;
		request_at(m, run, len, (size_t)(ls - run));
	}
	/* long encoded runs: bodies kept apart from their headers */
	for (size_t i = 0; i < len && m->nblobs < EX_BLOBS;) {
		size_t j = i;
		while (j < len && (is_b64c((unsigned char)run[j]) || run[j] == '='))
			j++;
		if (j - i >= EX_MIN_BLOB)
			m->blobs[m->nblobs++] = (blob){m->addr + off + i, j - i};
		i = j + 1;
	}
}

static int mem_window(void *ctx, uint64_t addr, const unsigned char *p, size_t n, size_t own)
{
	mem_scan *m = ctx;
	m->win = p;
	m->addr = addr;
	az_text_runs(p, n, own, 16, mem_run, m);
	return 0;
}

/* The bodies kept apart from their headers: for each request with a
 * Content-Length, the encoded run exactly that long (the first one), read in
 * one more walk of the process's memory (EX_BLOB_TOTAL bytes at most). */
struct blob_read {
	request *q[EX_REQS];
	blob *b[EX_REQS];
	unsigned char *data[EX_REQS];
	size_t n, got;
};

static int blob_window(void *ctx, uint64_t addr, const unsigned char *p, size_t n, size_t own)
{
	struct blob_read *br = ctx;
	(void)own;
	for (size_t i = 0; i < br->n; i++) {
		blob *b = br->b[i];
		if (br->data[i] || b->addr < addr || b->addr >= addr + n)
			continue;
		size_t off = (size_t)(b->addr - addr), l = n - off < b->len ? n - off : b->len;
		if (l > EX_FILE_MAX)
			l = EX_FILE_MAX;
		if (br->got + l > EX_BLOB_TOTAL || !(br->data[i] = malloc(l ? l : 1)))
			continue;
		memcpy(br->data[i], p + off, l);
		b->len = l;
		br->got += l;
	}
	return 0;
}

static void request_blobs(ex_run *r, mem_scan *m)
{
	struct blob_read br;
	memset(&br, 0, sizeof(br));
	for (size_t k = 0; k < m->nreq; k++) {
		request *q = &m->req[k];
		if (!q->length || q->length < EX_MIN_BLOB || (q->body_seen && q->body.kinds))
			continue;
		for (size_t i = 0; i < m->nblobs; i++)
			if (m->blobs[i].len >= q->length && m->blobs[i].len <= q->length + 2) {
				br.q[br.n] = q;
				br.b[br.n++] = &m->blobs[i];
				break;
			}
	}
	if (!br.n)
		return;
	az_walk_anon(r->a, m->pid, EX_MEM_CAP, blob_window, &br);
	for (size_t i = 0; i < br.n; i++)
		if (br.data[i]) {
			az_data_classify(r->k, &br.q[i]->body, br.data[i], br.b[i]->len, true);
			br.q[i]->body_seen = true;
			free(br.data[i]);
		}
}

/* The target with each long query-string value masked (they carry what
 * is sent). */
static void masked_target(const char *t, char *out, size_t cap)
{
	size_t o = 0;
	const char *qs = strchr(t, '?');
	if (!qs) {
		snprintf(out, cap, "%s", t);
		return;
	}
	o = (size_t)snprintf(out, cap, "%.*s", (int)(qs - t), t);
	for (const char *p = qs; *p && o < cap;) {
		const char *v = strchr(p, '='), *end;
		size_t l;
		if (!v) {
			o += (size_t)snprintf(out + o, cap - o, "%s", p);
			break;
		}
		end = v + 1 + strcspn(v + 1, "&#");
		l = (size_t)(end - v - 1);
		if (l >= 16) {
			char m[64];
			az_mask(m, sizeof(m), v + 1, l);
			o += (size_t)snprintf(out + o, cap - o, "%.*s%s", (int)(v + 1 - p), p, m);
		} else {
			o += (size_t)snprintf(out + o, cap - o, "%.*s", (int)(end - p), p);
		}
		p = end;
	}
}

static void say_request(conn *c, const request *q, uint32_t pid, az *a, unsigned kinds)
{
	kcsi_evidence *e = &c->req;
	char target[400];
	if (c->has_req && kinds <= c->req_kinds)
		return;
	kcsi_evidence_clear(e);
	c->has_req = true;
	c->req_kinds = kinds;
	c->req_bytes = q->length;
	e->kind = "memory";
	e->pid = pid;
	e->fd = -1;
	e->address = q->addr;
	e->has_address = true;
	e->area = az_strdup(az_area_of(a, pid, q->addr));
	masked_target(q->target, target, sizeof(target));
	kcsi_evidence_excerptf(e, "%s %.160s%s (Host %s%s%s; Content-Length %llu)%s%s", q->method, target,
			       strlen(target) > 160 ? "..." : "", q->host[0] ? q->host : "-",
			       q->agent[0] ? ", User-Agent " : "", q->agent, (unsigned long long)q->length,
			       q->body.what.len ? (q->decoded ? "; its query string decodes to: " : "; it carries: ") : "",
			       q->body.what.len ? kcsi_buf_str((kcsi_buf *)&q->body.what) : "");
	e->command = az_printf("kcsi memread --pid %u ARCHIVE 0x%llx", pid, (unsigned long long)q->addr);
}

static void merge_data(az_data *into, az_data *from)
{
	into->kinds |= from->kinds;
	into->secrets = into->secrets > from->secrets ? into->secrets : from->secrets;
	if (from->what.len) {
		if (into->what.len)
			kcsi_buf_add_some(&into->what, "; ", 2);
		kcsi_buf_add_some(&into->what, from->what.data, from->what.len);
	}
}

/* The requests of one process that holds outbound connections. */
static void requests(ex_run *r, uint32_t pid)
{
	mem_scan *m = calloc(1, sizeof(*m));
	if (!m)
		return;
	m->r = r;
	m->pid = pid;
	az_walk_anon(r->a, pid, EX_MEM_CAP, mem_window, m);
	request_blobs(r, m);
	for (size_t i = 0; i < m->nreq; i++) {
		request *q = &m->req[i];
		conn *c;
		if (!(c = conn_for_host(r, pid, q->host)))
			continue;
		if (q->length || strcmp(q->method, "GET"))
			c->upload = true;
		if (q->body.kinds & AZD_SENSITIVE) {
			merge_data(&c->h, &q->body);
			c->hidden |= q->decoded || (q->body.kinds & AZD_ENCODED);
		}
		say_request(c, q, pid, r->a, q->body.kinds & AZD_SENSITIVE);
	}
	for (size_t i = 0; i < m->nreq; i++)
		az_data_free(&m->req[i].body);
	free(m);
}

/* ---- transfer tools ---- */

static const kcsi_fd *fd0_file(az *a, uint32_t pid)
{
	for (size_t k = 0; k < a->nfds; k++) {
		const kcsi_fd *d = &a->fds[k];
		if (d->pid == pid && d->fd == 0 && !strcmp(d->role, "fd") && !strcmp(d->type, "REG"))
			return d;
	}
	return NULL;
}

static void add_file(conn *c, const char *path)
{
	for (size_t i = 0; i < c->nfiles; i++)
		if (!strcmp(c->files[i], path))
			return;
	if (c->nfiles < EX_FILES && *path)
		snprintf(c->files[c->nfiles++], sizeof(c->files[0]), "%s", path);
}

/* The files a tool's command line sends. */
static void tool_files(conn *c, const kcsi_proc *p)
{
	const char *b = az_base(p->exe);
	bool curl = !strcmp(b, "curl"), wget = !strncmp(b, "wget", 4), socat = !strcmp(b, "socat");
	bool copier = !strcmp(b, "scp") || !strcmp(b, "rsync") || !strcmp(b, "sftp");
	for (size_t i = 1; p->argv && i < p->argc; i++) {
		const char *s = p->argv[i], *next = i + 1 < p->argc ? p->argv[i + 1] : "";
		const char *at;
		if (curl) {
			if (!strcmp(s, "-T") || !strcmp(s, "--upload-file"))
				add_file(c, next);
			else if (!strncmp(s, "-T", 2) && s[2])
				add_file(c, s + 2);
			else if ((!strcmp(s, "-d") || !strncmp(s, "--data", 6) || !strcmp(s, "--json")) && (at = strchr(next, '@')))
				add_file(c, at + 1);
			else if (!strncmp(s, "-d@", 3))
				add_file(c, s + 3);
			else if ((!strcmp(s, "-F") || !strcmp(s, "--form")) && (at = strpbrk(next, "@<")) && at > next &&
				 at[-1] == '=')
				add_file(c, at + 1);
		} else if (wget) {
			if (!strncmp(s, "--post-file=", 12) || !strncmp(s, "--body-file=", 12))
				add_file(c, s + 12);
			else if (!strcmp(s, "--post-file") || !strcmp(s, "--body-file"))
				add_file(c, next);
		} else if (socat) {
			if (!strncasecmp(s, "FILE:", 5) || !strncasecmp(s, "OPEN:", 5))
				add_file(c, s + 5);
			else if (!strncasecmp(s, "GOPEN:", 6))
				add_file(c, s + 6);
		} else if (copier && s[0] != '-' && !strchr(s, ':') && i + 1 < p->argc) {
			add_file(c, s);
		}
	}
	for (size_t i = 0; i < c->nfiles; i++) /* options such as ,rdonly */
		c->files[i][strcspn(c->files[i], ",;")] = '\0';
}

static bool uploader(const char *exe)
{
	static const char *const tools[] = {"curl", "wget", "socat", "nc", "ncat", "netcat", "openssl", "telnet",
					    "ssh", "scp", "rsync", "sftp", "busybox"};
	const char *b = az_base(exe);
	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
		if (!strcmp(b, tools[i]))
			return true;
	return false;
}

static void tools(ex_run *r)
{
	az *a = r->a;
	az_file_want want[64];
	size_t nw = 0;
	for (size_t i = 0; i < r->n; i++) {
		conn *c = &r->v[i];
		const kcsi_proc *p = kcsi_ckpt_proc_by_pid(a->c, c->s->pid);
		const kcsi_proc *parent = p ? kcsi_ckpt_proc_by_pid(a->c, p->ppid) : NULL;
		const kcsi_fd *in = p ? fd0_file(a, p->pid) : NULL;
		if (!p || !p->exe || az_sock_accepted(a, c->s))
			continue;
		if (uploader(p->exe))
			tool_files(c, p);
		if (parent && parent->exe && !strcmp(az_base(p->exe), "ssh") && uploader(parent->exe))
			tool_files(c, parent); /* scp and rsync send through an ssh child */
		if (in && !az_is_shell_or_interp(p->exe))
			add_file(c, in->path); /* nc host port < FILE */
		/* a sensitive file held open by the process that sends */
		for (size_t k = 0; k < a->nfds; k++)
			if (a->fds[k].pid == p->pid && !strcmp(a->fds[k].role, "fd") && !strcmp(a->fds[k].type, "REG") &&
			    az_sensitive_path(a->fds[k].path))
				add_file(c, a->fds[k].path);
		if (c->nfiles)
			snprintf(c->tool, sizeof(c->tool), "%s (pid %u) sends %s%s", az_base(p->exe), p->pid, c->files[0],
				 c->nfiles > 1 ? " and more" : "");
		for (size_t f = 0; f < c->nfiles && nw < sizeof(want) / sizeof(want[0]); f++)
			want[nw++] = (az_file_want){c->files[f], NULL, 0, false};
	}
	az_read_files(a, want, nw, EX_FILE_MAX);
	for (size_t i = 0, w = 0; i < r->n; i++) {
		conn *c = &r->v[i];
		for (size_t f = 0; f < c->nfiles && w < nw; f++, w++) {
			if (az_sensitive_path(c->files[f])) {
				c->t.kinds |= AZD_SENSITIVE_MEMBER;
				kcsi_buf_printf(&c->t.what, "%s%s (a file of accounts, keys or credentials)",
						c->t.what.len ? "; " : "", c->files[f]);
			}
			if (want[w].data) {
				az_data d;
				az_data_init(&d);
				az_data_classify(r->k, &d, want[w].data, want[w].len, true);
				if (d.what.len)
					kcsi_buf_printf(&c->t.what, "%s%s holds %s", c->t.what.len ? "; " : "", c->files[f],
							az_data_what(&d));
				c->t.kinds |= d.kinds;
				c->t.secrets = c->t.secrets > d.secrets ? c->t.secrets : d.secrets;
				c->hidden |= (d.kinds & AZD_ENCODED) && (d.kinds & AZD_SENSITIVE);
				if (want[w].len >= EX_BULK)
					c->upload = true;
				az_data_free(&d);
				free(want[w].data);
			}
		}
	}
}

/* ---- findings ---- */

/* taken: the sender is the subject of a credential-access finding (the
 * credential rules, through the model) */
static enum kcsi_severity severity_of(unsigned kinds, unsigned secrets, bool hidden, bool taken)
{
	if (!(kinds & AZD_SENSITIVE))
		return KCSI_SEV_INFO;
	if ((kinds & AZD_SECRET) || secrets >= 2 || hidden)
		return KCSI_SEV_CRITICAL;
	if (kinds & (AZD_ACCOUNTS | AZD_SENSITIVE_MEMBER))
		return KCSI_SEV_HIGH;
	/* one token in a body: clients send theirs (a Slack token as a form
	 * field, an OAuth or STS exchange), unless the process took it */
	return taken ? KCSI_SEV_HIGH : KCSI_SEV_LOW;
}

static void add_mitre(kcsi_finding *f, unsigned kinds)
{
	if (kinds & AZD_ARCHIVE)
		kcsi_finding_add_mitre(f, "T1560.001");
	if (kinds & AZD_ENCODED)
		kcsi_finding_add_mitre(f, "T1132.001");
	if (kinds & (AZD_SHADOW | AZD_ACCOUNTS))
		kcsi_finding_add_mitre(f, "T1003.008");
	if (kinds & (AZD_PRIVKEY | AZD_CLOUDKEY | AZD_TOKEN | AZD_CREDFILE))
		kcsi_finding_add_mitre(f, "T1552.001");
}

static bool credential_technique(const kcsi_finding *f)
{
	for (size_t i = 0; i < f->nmitre; i++)
		if (!strncmp(f->mitre[i], "T1552", 5) || !strncmp(f->mitre[i], "T1528", 5) ||
		    !strncmp(f->mitre[i], "T1003", 5) || !strncmp(f->mitre[i], "T1555", 5))
			return true;
	return false;
}

/* The credential-access finding of high severity or more about pid; NULL */
static const kcsi_finding *credential_finding(az *a, uint32_t pid)
{
	for (size_t k = 0; k < a->r->findings.n; k++) {
		const kcsi_finding *g = a->r->findings.v[k];
		if (g->severity < KCSI_SEV_HIGH || !credential_technique(g))
			continue;
		for (size_t e = 0; e < g->nev; e++)
			if (g->ev[e].pid == (int64_t)pid)
				return g;
	}
	return NULL;
}

static bool tls_port(uint32_t p)
{
	return p == 443 || p == 8443 || p == 993 || p == 995 || p == 465 || p == 636 || p == 6443;
}

static void conn_finding(ex_run *r, conn *c)
{
	az *a = r->a;
	const kcsi_sock *s = c->s;
	unsigned kinds = c->q.kinds | c->h.kinds | c->t.kinds;
	unsigned secrets = c->q.secrets > c->h.secrets ? c->q.secrets : c->h.secrets;
	enum kcsi_severity sev = severity_of(kinds, secrets > c->t.secrets ? secrets : c->t.secrets, c->hidden,
					     credential_finding(a, s->pid) != NULL);
	bool queue = c->q.kinds & AZD_SENSITIVE, http = c->h.kinds & AZD_SENSITIVE;
	const char *id = queue ? "KCSI-EXFIL-001" : http ? "KCSI-EXFIL-003" : "KCSI-EXFIL-002";
	bool in = az_sock_accepted(a, s);
	kcsi_finding *f;
	kcsi_evidence *e;
	if (sev == KCSI_SEV_INFO)
		return;
	if (!queue && !http && !c->upload && !(c->t.kinds & AZD_SENSITIVE_MEMBER))
		return; /* a tool named a file, but nothing shows it going out */
	f = az_finding(a, id, sev,
		       sev == KCSI_SEV_LOW
			       ? az_printf("Process %u sends a token to %s:%u", s->pid, in ? s->src : s->dst,
					   in ? s->sport : s->dport)
			       : az_printf("Data exfiltration: process %u sends %s to %s:%u", s->pid,
				 kinds & (AZD_SHADOW | AZD_PRIVKEY | AZD_CLOUDKEY | AZD_CREDFILE | AZD_TOKEN) ? "credentials"
				 : kinds & AZD_SENSITIVE_MEMBER ? "sensitive files"
				 : kinds & AZD_ACCOUNTS         ? "account data"
								: "sensitive data",
				 in ? s->src : s->dst, in ? s->sport : s->dport),
		       az_printf("What process %u %s %s:%u holds %s. Data of this kind leaving the container to a "
				 "peer outside it is exfiltration (%s).",
				 s->pid, in ? "sends back over its connection from" : "sends to", in ? s->src : s->dst,
				 in ? s->sport : s->dport,
				 queue ? "waits in the connection's send queue and" : http ? "goes in an HTTP request and"
											      : "comes from a file a transfer tool sends and",
				 c->hidden ? "hidden under an encoding" : "read as such"),
		       tls_port(in ? s->sport : s->dport) ? "T1041 T1048" : "T1041 T1048.003");
	add_mitre(f, kinds);
	if ((e = az_sock_evidence(f, s)) && s->outq_len)
		kcsi_evidence_excerptf(e, "%llu bytes wait in the send queue", (unsigned long long)s->outq_len);
	if (c->q.what.len && (e = az_evidence(f, "tcp-queue", s->pid, s->fd))) {
		kcsi_evidence_excerptf(e, "send queue (%llu bytes): %s", (unsigned long long)s->outq_len, az_data_what(&c->q));
		e->command = strdup("kcsi recover --out DIR ARCHIVE  # then DIR/tcp/");
	}
	if (c->has_req && (e = az_evidence(f, "", -1, -1)))
		kcsi_evidence_copy(e, &c->req);
	if ((c->tool[0] || c->t.what.len) && (e = az_evidence(f, "process", s->pid, -1))) {
		kcsi_evidence_excerptf(e, "%s%s%s", c->tool, c->tool[0] && c->t.what.len ? ": " : "", az_data_what(&c->t));
		if (c->nfiles)
			e->path = az_strdup(c->files[0]);
		e->command = az_printf("kcsi ps --pid %u ARCHIVE", s->pid);
	}
}

/* KCSI-EXFIL-005: bulk archive or encoded data, nothing sensitive seen */
static void bulk_finding(ex_run *r, conn *c)
{
	const kcsi_sock *s = c->s;
	kcsi_finding *f;
	kcsi_evidence *e;
	if (s->outq_len < EX_BULK || !(c->q.kinds & (AZD_ARCHIVE | AZD_COMPRESSED | AZD_ENCODED)) ||
	    (c->q.kinds | c->h.kinds | c->t.kinds) & AZD_SENSITIVE)
		return;
	f = az_finding(r->a, "KCSI-EXFIL-005", KCSI_SEV_LOW,
		       az_printf("Process %u has %llu bytes of archive or encoded data waiting for %s:%u", s->pid,
				 (unsigned long long)s->outq_len, s->dst, s->dport),
		       az_printf("The send queue of a connection with a peer outside the container holds archive, "
				 "compressed or encoded data in bulk: a backup or an upload, or exfiltration of what it "
				 "packs."),
		       "T1030 T1048");
	az_sock_evidence(f, s);
	if ((e = az_evidence(f, "tcp-queue", s->pid, s->fd)))
		kcsi_evidence_excerptf(e, "%s", az_data_what(&c->q));
}

/* KCSI-EXFIL-004: the credential rules' findings (the model) about a process
 * that uploads, when nothing else showed what it sends. */
static void taken_and_sent(ex_run *r, bool *reported)
{
	az *a = r->a;
	for (size_t i = 0; i < r->n; i++) {
		conn *c = &r->v[i];
		const kcsi_finding *why = NULL;
		kcsi_finding *f;
		if (reported[i] || !c->upload || az_sock_accepted(a, c->s))
			continue;
		why = credential_finding(a, c->s->pid);
		if (!why)
			continue;
		f = az_finding(a, "KCSI-EXFIL-004", KCSI_SEV_HIGH,
			       az_printf("Process %u took credentials and uploads to %s:%u", c->s->pid, c->s->dst, c->s->dport),
			       az_printf("Process %u is the subject of a credential-access finding (%s: %s) and sends data to a "
					 "peer outside the container: the credentials are likely what it sends.",
					 c->s->pid, why->id ? why->id : "?", why->title ? why->title : ""),
			       "T1041 T1048");
		kcsi_evidence *e = az_sock_evidence(f, c->s);
		if (e && c->s->outq_len)
			kcsi_evidence_excerptf(e, "%llu bytes wait in the send queue", (unsigned long long)c->s->outq_len);
		if (c->has_req && (e = az_evidence(f, "", -1, -1)))
			kcsi_evidence_copy(e, &c->req);
	}
}

void az_family_exfil(az *a)
{
	ex_run r = {a, az_classifier_new(), NULL, 0};
	bool *reported;
	/* the connections with peers outside, TCP, each socket once */
	if (!(r.v = calloc(a->nsocks ? a->nsocks : 1, sizeof(*r.v))))
		goto out;
	for (size_t i = 0; i < a->nsocks; i++) {
		const kcsi_sock *s = &a->socks[i];
		conn *c;
		if (!az_sock_first(a, i) || strcmp(s->proto, "TCP") || !az_sock_external(a, s))
			continue;
		c = &r.v[r.n++];
		c->s = s;
		az_data_init(&c->q);
		az_data_init(&c->h);
		az_data_init(&c->t);
		if (s->has_queues && s->outq_len) {
			c->upload = true;
			az_data_classify(r.k, &c->q, s->outq, (size_t)s->outq_len, false);
		}
	}
	/* the memory of each process that holds an outbound one, once */
	for (size_t i = 0; i < r.n; i++) {
		bool seen = false;
		for (size_t k = 0; k < i; k++)
			seen |= r.v[k].s->pid == r.v[i].s->pid;
		if (!seen && !az_sock_accepted(a, r.v[i].s))
			requests(&r, r.v[i].s->pid);
	}
	tools(&r);
	if ((reported = calloc(r.n ? r.n : 1, sizeof(*reported)))) {
		size_t before;
		for (size_t i = 0; i < r.n; i++) {
			before = a->r->findings.n;
			conn_finding(&r, &r.v[i]);
			reported[i] = a->r->findings.n > before && a->r->findings.v[before]->severity >= KCSI_SEV_HIGH;
			if (a->r->findings.n == before)
				bulk_finding(&r, &r.v[i]);
		}
		taken_and_sent(&r, reported);
		free(reported);
	}
	for (size_t i = 0; i < r.n; i++) {
		az_data_free(&r.v[i].q);
		az_data_free(&r.v[i].h);
		az_data_free(&r.v[i].t);
		kcsi_evidence_clear(&r.v[i].req);
	}
out:
	free(r.v);
	az_classifier_free(r.k);
}
