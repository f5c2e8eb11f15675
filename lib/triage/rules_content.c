/* kcsi — content rules over every evidence source (triage/content.h).
 *
 * One walk over the content objects (include/kcsi/sources.h: TCP queues,
 * ghost files, memfds, rootfs diff, /dev/shm, tmpfs mounts) and the memory
 * pass's windows both end in az_content_rules(), which runs the detectors
 * written once for all of them:
 *   secrets by known format (evidence/secrets.c),
 *   credential files by their content (AWS, GCP, gcloud, kubeconfig, docker,
 *   Azure, the service-account token's path),
 *   staged data (account lists, password hashes, tar archives of /etc or
 *   /root, private keys).
 * Files are also scanned for strings and with YARA, hashed when they are
 * programs, and judged by the file rules (rules_files.c).  What memory and
 * queues show is gathered per process (az_content_proc) and judged in the
 * summary (az_family_content_summary here, az_family_credentials in
 * rules_creds.c), where the process it belongs to is known. */
#include <archive.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcsi/sources.h"
#include "triage/content.h"

/* ---- set-up ---- */

uint64_t az_hash(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ull;
	return h;
}

/* The hashes of the secrets in a process's own environment. */
static void env_hashes(az_content_proc *cp, const kcsi_proc *p)
{
	size_t cap = 0;
	for (size_t k = 0; k < p->envc; k++) {
		kcsi_secret_hit h[8];
		size_t len = strlen(p->env[k]), got = kcsi_secrets_find(p->env[k], len, h, 8);
		for (size_t i = 0; i < got; i++) {
			if (cp->nenv == cap) {
				size_t nc = cap ? cap * 2 : 8;
				uint64_t *q = realloc(cp->env_hashes, nc * sizeof(*q));
				if (!q)
					return;
				cp->env_hashes = q;
				cap = nc;
			}
			cp->env_hashes[cp->nenv++] = az_hash(p->env[k] + h[i].off, h[i].len);
		}
	}
}

kcsi_code az_content_init(az *a, kcsi_error *err)
{
	struct az_content_state *s = calloc(1, sizeof(*s));
	size_t n = kcsi_ckpt_nprocs(a->c);
	const kcsi_proc *init = NULL;
	if (!s || !(s->procs = calloc(n ? n : 1, sizeof(*s->procs)))) {
		free(s);
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	a->content = s;
	s->nprocs = n;
	for (size_t i = 0; i < n; i++) {
		const kcsi_proc *p = kcsi_ckpt_proc(a->c, i);
		s->procs[i].pid = p->pid;
		env_hashes(&s->procs[i], p);
		if (!init || p->pid == 1 || (init->pid != 1 && p->pid < init->pid))
			init = p;
	}
	s->workload_sid = init ? init->sid : 0;
	return KCSI_OK;
}

void az_content_free(az *a)
{
	struct az_content_state *s = a->content;
	if (!s)
		return;
	for (size_t i = 0; i < s->nprocs; i++) {
		az_content_proc *cp = &s->procs[i];
		for (size_t k = 0; k < cp->nsecrets; k++)
			kcsi_evidence_clear(&cp->secrets[k].ev);
		for (size_t k = 0; k < AZ_CF_N; k++)
			kcsi_evidence_clear(&cp->credfile_ev[k]);
		for (size_t k = 0; k < sizeof(cp->staged_ev) / sizeof(cp->staged_ev[0]); k++)
			kcsi_evidence_clear(&cp->staged_ev[k]);
		free(cp->env_hashes);
	}
	free(s->procs);
	free(s);
	a->content = NULL;
}

az_content_proc *az_content_proc_of(az *a, int64_t pid)
{
	size_t i;
	if (!a->content || pid <= 0)
		return NULL;
	i = kcsi_ckpt_proc_index(a->c, (uint32_t)pid);
	return i < a->content->nprocs ? &a->content->procs[i] : NULL;
}

bool az_is_outsider(az *a, const kcsi_proc *p)
{
	return a->content && p->pid != 1 && p->sid != a->content->workload_sid;
}

void az_evidence_from(kcsi_finding *f, const kcsi_evidence *e)
{
	kcsi_evidence *d;
	if (!e->kind || !(d = az_evidence(f, e->kind, e->pid, e->fd)))
		return;
	d->address = e->address;
	d->has_address = e->has_address;
	d->area = az_strdup(e->area);
	d->path = az_strdup(e->path);
	d->connection = az_strdup(e->connection);
	d->command = az_strdup(e->command);
	if (e->excerpt)
		kcsi_evidence_excerpt(d, e->excerpt, e->excerpt_len, SIZE_MAX);
}

/* Evidence of where a piece of content is, at offset off, with an excerpt. */
static void where(az *a, kcsi_evidence *e, const az_content *c, size_t off, const char *excerpt, size_t len)
{
	memset(e, 0, sizeof(*e));
	e->kind = c->origin;
	e->pid = c->pid;
	e->fd = c->fd;
	if (c->kind == AZ_C_MEMORY) {
		e->address = c->addr + off;
		e->has_address = true;
		e->area = az_strdup(az_area_of(a, (uint32_t)c->pid, e->address));
		e->command = az_printf("kcsi memread --pid %lld ARCHIVE 0x%llx", (long long)c->pid,
				       (unsigned long long)e->address);
	} else {
		e->path = c->kind == AZ_C_QUEUE ? NULL : az_strdup(c->path);
		kcsi_evidence_set_offset(e, off);
		e->command = strdup(c->kind == AZ_C_QUEUE ? "kcsi net ARCHIVE" : "kcsi recover --out DIR ARCHIVE");
	}
	if (c->kind == AZ_C_QUEUE)
		e->connection = az_printf("%s queue %s", c->send ? "send" : "recv", c->path ? c->path : "");
	if (excerpt)
		kcsi_evidence_excerpt(e, excerpt, len, 200);
}

/* ---- secrets ---- */

/* Is the secret at off of a send queue inside an authentication header or
 * a signature (the way a client uses its own key), not carried as data? */
static bool in_auth_header(const unsigned char *p, size_t off)
{
	static const char *const words[] = {"Authorization:", "authorization:", "Bearer ", "Credential=",
					    "X-Api-Key:", "x-api-key:", "PRIVATE-TOKEN:", "Private-Token:", "token "};
	size_t from = off > 200 ? off - 200 : 0, start = off;
	while (start > from && p[start - 1] != '\n')
		start--;
	for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++)
		if (memmem(p + start, off - start, words[k], strlen(words[k])))
			return true;
	return false;
}

static void gather_secret(az *a, az_content_proc *cp, const az_content *c, const kcsi_secret_hit *h)
{
	const char *v = (const char *)c->p + h->off;
	uint64_t hash = az_hash(v, h->len);
	az_secret_seen *s = NULL;
	bool bare = c->kind == AZ_C_QUEUE && c->send && !in_auth_header(c->p, h->off);
	for (size_t k = 0; k < cp->nsecrets && !s; k++)
		if (cp->secrets[k].hash == hash)
			s = &cp->secrets[k];
	if (!s) {
		if (cp->nsecrets == AZ_SECRETS_KEPT)
			return;
		s = &cp->secrets[cp->nsecrets++];
		memset(s, 0, sizeof(*s));
		s->fmt = h->fmt;
		s->hash = hash;
		s->validated = h->validated;
		kcsi_secret_mask(h->fmt, v, h->len, s->masked, sizeof(s->masked));
		for (size_t k = 0; k < cp->nenv; k++)
			s->own_env |= cp->env_hashes[k] == hash;
		where(a, &s->ev, c, h->off, s->masked, strlen(s->masked));
	} else if (c->kind == AZ_C_QUEUE && !s->in_send_queue && c->send) {
		kcsi_evidence_clear(&s->ev); /* the queue is the better evidence */
		where(a, &s->ev, c, h->off, s->masked, strlen(s->masked));
	}
	s->in_send_queue |= c->kind == AZ_C_QUEUE && c->send;
	s->bare |= bare;
}

/* Secrets of a file: one low finding per file, masked (KCSI-SECRET-003). */
static void file_secrets(az *a, const az_content *c, const kcsi_secret_hit *h, size_t n)
{
	kcsi_finding *f = NULL;
	char names[300] = "";
	for (size_t i = 0; i < n; i++) {
		char masked[96];
		kcsi_evidence *e;
		if (!h[i].fmt->strong && !h[i].validated)
			continue;
		if (!strstr(names, h[i].fmt->name) && strlen(names) + strlen(h[i].fmt->name) + 3 < sizeof(names))
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", *names ? ", " : "",
				 h[i].fmt->name);
		if (!f)
			f = az_finding(a, "KCSI-SECRET-003", KCSI_SEV_LOW, NULL, NULL, "T1552.001");
		kcsi_secret_mask(h[i].fmt, (const char *)c->p + h[i].off, h[i].len, masked, sizeof(masked));
		if (f && f->nev < AZ_MAX_EVIDENCE && (e = az_evidence(f, "", -1, -1)))
			where(a, e, c, h[i].off, masked, strlen(masked));
	}
	if (!f)
		return;
	f->title = az_printf("Secrets in %s (%s)", c->path, c->origin);
	f->explanation = az_printf("%s holds %s: whoever reads the container or the checkpoint can use them; rotate "
				   "them. The values are masked here.", c->path, names);
}

#define HITS_MAX 64

/* The next needle (text bytes only) at or after q in c: inside c's runs of
 * text when it has them (a memory window), else anywhere in c. */
static const unsigned char *next_text(const az_content *c, const unsigned char *q, const char *needle, size_t nl)
{
	const unsigned char *end = c->p + c->n;
	if (q >= end)
		return NULL;
	if (!c->runs)
		return memmem(q, (size_t)(end - q), needle, nl);
	size_t at = (size_t)(q - c->p), lo = 0, hi = c->nruns;
	while (lo < hi) { /* the first run that ends after at */
		size_t mid = lo + (hi - lo) / 2;
		if (c->runs[mid].off + c->runs[mid].len <= at)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t r = lo; r < c->nruns; r++) {
		size_t s = c->runs[r].off > at ? c->runs[r].off : at, e = c->runs[r].off + c->runs[r].len;
		const unsigned char *hit = e - s >= nl ? memmem(c->p + s, e - s, needle, nl) : NULL;
		if (hit)
			return hit;
	}
	return NULL;
}

/* The secrets of c (those starting in [from, to) for memory) into h;
 * gathered for the process of memory and queues, a finding for a file. */
static size_t secrets(az *a, const az_content *c, az_content_proc *cp, kcsi_secret_hit *h)
{
	size_t n = 0, kept = 0;
	if (!c->runs) {
		n = kcsi_secrets_find((const char *)c->p, c->n, h, HITS_MAX);
	} else { /* a secret is text: each run on its own (what a matcher reads around it is in the run too) */
		for (size_t r = 0; r < c->nruns && n < HITS_MAX; r++) {
			size_t got = kcsi_secrets_find((const char *)c->p + c->runs[r].off, c->runs[r].len, h + n,
						       HITS_MAX - n);
			for (size_t i = n; i < n + got; i++)
				h[i].off += c->runs[r].off;
			n += got;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (c->kind != AZ_C_MEMORY || (h[i].off >= c->from && h[i].off < c->to))
			h[kept++] = h[i];
	if (c->kind == AZ_C_MEMORY || c->kind == AZ_C_QUEUE) {
		for (size_t i = 0; cp && i < kept; i++)
			gather_secret(a, cp, c, &h[i]);
	} else if (kept) {
		file_secrets(a, c, h, kept);
	}
	return kept;
}

/* ---- credential files by their content ---- */

static const struct credfile_sig {
	unsigned bit;
	const char *first, *second; /* both within 4 KiB */
	const char *what;
} credfile_sigs[] = {
	{AZ_CF_AWS, "aws_secret_access_key", "aws_access_key_id", "AWS credentials file"},
	{AZ_CF_GCP_SA, "\"service_account\"", "\"private_key\"", "GCP service-account key"},
	{AZ_CF_GCLOUD_ADC, "\"authorized_user\"", "\"refresh_token\"", "gcloud application-default credentials"},
	{AZ_CF_KUBECONFIG, "current-context:", "users:", "kubeconfig"},
	{AZ_CF_DOCKER, "\"auths\"", "\"auth\"", "docker registry credentials"},
	{AZ_CF_AZURE, "\"RefreshToken\"", "\"secret\"", "Azure CLI token cache"},
	{AZ_CF_AZURE, "\"clientSecret\"", "\"tenantId\"", "Azure service-principal secret"},
	{AZ_CF_SA_PATH, "/run/secrets/kubernetes.io/serviceaccount", NULL, "service-account token path"},
	{AZ_CF_SA_PATH, "/run/secrets/eks.amazonaws.com/serviceaccount", NULL, "service-account token path"},
};

const char *az_credfile_name(unsigned bit)
{
	for (size_t k = 0; k < sizeof(credfile_sigs) / sizeof(credfile_sigs[0]); k++)
		if (credfile_sigs[k].bit == bit)
			return credfile_sigs[k].what;
	return "credentials";
}

static unsigned bit_index(unsigned bit)
{
	unsigned i = 0;
	while (bit > 1) {
		bit >>= 1;
		i++;
	}
	return i;
}

/* The credential-file signatures in c (their AZ_CF_* bits); *at gets the
 * offset of the first. */
static unsigned credfiles(const az_content *c, size_t *at, const char **what)
{
	unsigned found = 0;
	for (size_t k = 0; k < sizeof(credfile_sigs) / sizeof(credfile_sigs[0]); k++) {
		const struct credfile_sig *s = &credfile_sigs[k];
		const unsigned char *q = c->p, *end = c->p + c->n;
		size_t fl = strlen(s->first);
		unsigned tries = 0;
		if (found & s->bit)
			continue;
		while (q < end && tries++ < 64 && (q = next_text(c, q, s->first, fl))) {
			size_t off = (size_t)(q - c->p), lo = off > 4096 ? off - 4096 : 0;
			size_t hi = c->n - off > 4096 ? off + 4096 : c->n;
			if ((c->kind != AZ_C_MEMORY || (off >= c->from && off < c->to)) &&
			    (!s->second || memmem(c->p + lo, hi - lo, s->second, strlen(s->second)))) {
				if (!found) {
					*at = off;
					*what = s->what;
				}
				found |= s->bit;
				break;
			}
			q += fl;
		}
	}
	return found;
}

static void gather_credfiles(az *a, az_content_proc *cp, const az_content *c, unsigned bits, size_t at)
{
	for (unsigned i = 0; i < AZ_CF_N; i++) {
		unsigned bit = 1u << i;
		if (!(bits & bit) || (cp->credfiles & bit))
			continue;
		cp->credfiles |= bit;
		where(a, &cp->credfile_ev[bit_index(bit)], c, at, az_credfile_name(bit), strlen(az_credfile_name(bit)));
	}
}

/* ---- staged data ---- */

static bool name_char(int ch) { return islower(ch) || isdigit(ch) || ch == '_' || ch == '.' || ch == '-'; }

/* The user name a line of passwd or shadow starts with, up to its ':'
 * (0: none). */
static size_t user_name(const unsigned char *p, size_t n)
{
	size_t i = 0;
	if (!n || !(islower(p[0]) || p[0] == '_'))
		return 0;
	while (i < n && name_char(p[i]))
		i++;
	return i < n && p[i] == ':' ? i : 0;
}

/* A line of /etc/passwd: name:pw:uid:gid:gecos:home:shell */
static bool passwd_line(const unsigned char *p, size_t n)
{
	size_t i = user_name(p, n), fields = 1;
	for (; i && i < n; i++) {
		if (p[i] == ':') {
			fields++;
			if ((fields == 3 || fields == 4) && (i + 1 >= n || !isdigit(p[i + 1])))
				return false;
		}
	}
	return fields == 7;
}

/* A line of /etc/shadow: name:hash or * or !:lastchange:... (9 fields) */
static bool shadow_line(const unsigned char *p, size_t n)
{
	size_t i = user_name(p, n), fields = 1;
	if (!i || i + 1 >= n || !(p[i + 1] == '$' || p[i + 1] == '*' || p[i + 1] == '!'))
		return false;
	for (; i < n; i++)
		fields += p[i] == ':';
	return fields == 9;
}

/* Lines around off that pass the test (at most 64 lines looked at). */
static unsigned lines_like(const unsigned char *p, size_t n, size_t off, bool (*test)(const unsigned char *, size_t))
{
	size_t s = off;
	unsigned count = 0;
	while (s > 0 && off - s < 4096 && p[s - 1] != '\n')
		s--;
	for (unsigned l = 0; l < 64 && s < n; l++) {
		const unsigned char *nl = memchr(p + s, '\n', n - s < 1024 ? n - s : 1024);
		size_t e = nl ? (size_t)(nl - p) : (n - s < 1024 ? n : s + 1024);
		count += test(p + s, e - s);
		s = e + 1;
	}
	return count;
}

/* Names in a tar header that make an archive worth stealing. */
static bool sensitive_member(const char *name)
{
	static const char *const parts[] = {"etc/shadow", "etc/passwd", "etc/gshadow", ".ssh/", ".aws/", ".kube/",
					    ".docker/config.json", "etc/ssl/private", "secrets/kubernetes.io",
					    ".config/gcloud", ".azure/", ".gnupg/", "id_rsa", "id_ed25519", ".git-credentials",
					    ".pgpass", ".netrc"};
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	if (!strncmp(name, "root/", 5) || !strcmp(name, "root"))
		return true;
	for (size_t k = 0; k < sizeof(parts) / sizeof(parts[0]); k++)
		if (strstr(name, parts[k]))
			return true;
	return false;
}

/* A tar header at h (512 bytes, checksum right)? Its name into name. */
static bool tar_header(const unsigned char *h, char *name, size_t cap)
{
	unsigned long want = 0, sum = 0;
	size_t i;
	for (i = 148; i < 156 && (h[i] == ' ' || h[i] == '\0'); i++)
		;
	for (; i < 156 && h[i] >= '0' && h[i] <= '7'; i++)
		want = want * 8 + (unsigned long)(h[i] - '0');
	for (i = 0; i < 512; i++)
		sum += i >= 148 && i < 156 ? ' ' : h[i];
	if (sum != want)
		return false;
	if (h[345] && memcmp(h + 257, "ustar", 5) == 0)
		snprintf(name, cap, "%.155s/%.100s", (const char *)h + 345, (const char *)h);
	else
		snprintf(name, cap, "%.100s", (const char *)h);
	return true;
}

/* Tar headers in p (anywhere: a queue holds the middle of a stream); the
 * first sensitive member's name into name; how many members were seen. */
static unsigned tar_members(const az_content *c, size_t from, size_t to, char *name, size_t cap, size_t *at)
{
	const unsigned char *p = c->p, *q = p + (from > 257 ? from : 257), *end = p + c->n;
	size_t n = c->n;
	unsigned members = 0, tries = 0;
	*name = '\0';
	while (q < end && tries++ < 4096 && (q = next_text(c, q, "ustar", 5))) {
		size_t h = (size_t)(q - p) - 257;
		char nm[260];
		if (h + 512 <= n && h >= from && h < to && tar_header(p + h, nm, sizeof(nm))) {
			members++;
			if (!*name && sensitive_member(nm)) {
				snprintf(name, cap, "%s", nm);
				*at = h;
			}
		}
		q += 5;
	}
	return members;
}

/* The start of a gzip stream, inflated (at most cap bytes): a compressed
 * archive of a file is looked at as far as its first megabytes. */
static size_t gunzip_head(const unsigned char *p, size_t n, unsigned char *out, size_t cap)
{
	struct archive *ar = archive_read_new();
	struct archive_entry *en;
	size_t got = 0;
	if (!ar)
		return 0;
	archive_read_support_filter_gzip(ar);
	archive_read_support_format_raw(ar);
	if (archive_read_open_memory(ar, p, n) == ARCHIVE_OK && archive_read_next_header(ar, &en) == ARCHIVE_OK) {
		la_ssize_t r;
		while (got < cap && (r = archive_read_data(ar, out + got, cap - got)) > 0)
			got += (size_t)r;
	}
	archive_read_free(ar);
	return got;
}

typedef struct staged_seen {
	unsigned kinds;          /* AZ_ST_* */
	size_t at[5];            /* where each was seen */
	char member[260];        /* an archive's sensitive member */
	const char *credfile;    /* which credential file */
} staged_seen;

static void staged_detect(const az_content *c, staged_seen *st, const kcsi_secret_hit *keys, size_t nkeys)
{
	const unsigned char *q;
	size_t from = c->kind == AZ_C_MEMORY ? c->from : 0, to = c->kind == AZ_C_MEMORY ? c->to : c->n;
	memset(st, 0, sizeof(*st));
	/* root's line: uid 0, gid 0 */
	if (c->kind != AZ_C_MEMORY && (q = memmem(c->p, c->n, ":0:0:", 5)) &&
	    lines_like(c->p, c->n, (size_t)(q - c->p), passwd_line) >= 3) {
		st->kinds |= AZ_ST_PASSWD;
		st->at[0] = (size_t)(q - c->p);
		while (st->at[0] > 0 && c->p[st->at[0] - 1] != '\n' && (size_t)(q - c->p) - st->at[0] < 64)
			st->at[0]--;
	}
	unsigned tries = 0;
	for (q = c->p; q < c->p + c->n && tries++ < 256 && (q = next_text(c, q, "root:", 5));
	     q += 5) {
		size_t off = (size_t)(q - c->p);
		if (off + 5 < c->n && (q[5] == '$' || q[5] == '*' || q[5] == '!') && off >= from && off < to &&
		    (off == 0 || q[-1] == '\n') && lines_like(c->p, c->n, off, shadow_line) >= 2) {
			st->kinds |= AZ_ST_SHADOW;
			st->at[1] = off;
			break;
		}
	}
	if (tar_members(c, from, to, st->member, sizeof(st->member), &st->at[2]) && st->member[0])
		st->kinds |= AZ_ST_ARCHIVE;
	for (size_t i = 0; i < nkeys; i++)
		if (keys[i].validated && !strcmp(keys[i].fmt->id, "private-key")) {
			st->kinds |= AZ_ST_KEY;
			st->at[3] = keys[i].off;
			break;
		}
}

/* Compressed archives of files: their head, inflated, as a tar stream. */
static void staged_gzip(const az_content *c, staged_seen *st)
{
	enum { HEAD = 4u << 20 };
	unsigned char *buf;
	size_t got, at = 0;
	if (c->n < 18 || c->p[0] != 0x1f || c->p[1] != 0x8b || !(buf = malloc(HEAD)))
		return;
	got = gunzip_head(c->p, c->n, buf, HEAD);
	az_content inflated = {.p = buf, .n = got};
	if (tar_members(&inflated, 0, got, st->member, sizeof(st->member), &at) && st->member[0]) {
		st->kinds |= AZ_ST_ARCHIVE;
		st->at[2] = 0;
	}
	free(buf);
}

static const char *staged_name(unsigned kind)
{
	switch (kind) {
	case AZ_ST_PASSWD: return "an account list (/etc/passwd format)";
	case AZ_ST_SHADOW: return "password hashes (/etc/shadow format)";
	case AZ_ST_ARCHIVE: return "an archive of /etc, /root or credentials";
	case AZ_ST_KEY: return "a private key";
	default: return "cloud or cluster credentials";
	}
}

static void gather_staged(az *a, az_content_proc *cp, const az_content *c, const staged_seen *st)
{
	for (unsigned i = 0; i < 5; i++) {
		unsigned bit = 1u << i;
		char line[300];
		if (!(st->kinds & bit) || (cp->staged & bit))
			continue;
		cp->staged |= bit;
		if (bit == AZ_ST_ARCHIVE)
			snprintf(line, sizeof(line), "tar member %s", st->member);
		else
			snprintf(line, sizeof(line), "%s", staged_name(bit));
		where(a, &cp->staged_ev[i], c, st->at[i], line, strlen(line));
	}
}

/* ---- the rules on one piece of content ---- */

/* Does a file hold a credential value (not only the words of a format, as a
 * harvesting script does)? */
static bool holds_value(const az_content *c, const kcsi_secret_hit *h, size_t n)
{
	bool program = c->n >= 4 && (!memcmp(c->p, "#!", 2) || !memcmp(c->p, "\x7f" "ELF", 4));
	for (size_t i = 0; i < n && !program; i++)
		if (h[i].fmt->strong || h[i].validated)
			return true;
	return false;
}

void az_content_rules(az *a, const az_content *c)
{
	az_content_proc *cp = c->kind == AZ_C_MEMORY || c->kind == AZ_C_QUEUE ? az_content_proc_of(a, c->pid) : NULL;
	kcsi_secret_hit h[HITS_MAX];
	size_t nh, cf_at = 0;
	const char *cf_what = NULL;
	unsigned cf;
	staged_seen st;

	if (!c->n)
		return;
	nh = secrets(a, c, cp, h);
	cf = credfiles(c, &cf_at, &cf_what);
	staged_detect(c, &st, c->kind == AZ_C_MEMORY ? NULL : h, c->kind == AZ_C_MEMORY ? 0 : nh);
	if (c->kind == AZ_C_MEMORY || c->kind == AZ_C_QUEUE) {
		if (cp && cf)
			gather_credfiles(a, cp, c, cf, cf_at);
		if (cp && st.kinds)
			gather_staged(a, cp, c, &st);
		return;
	}
	staged_gzip(c, &st);
	if ((cf & ~(unsigned)AZ_CF_SA_PATH) && holds_value(c, h, nh)) {
		st.kinds |= AZ_ST_CREDFILE;
		st.at[4] = cf_at;
		st.credfile = cf_what;
	}
	if (st.kinds)
		az_file_staged(a, c, st.kinds, st.at, st.member, st.credfile);
}

/* ---- the walk over the content objects ---- */

typedef struct walk_buf {
	az *a;
	unsigned char *p;
	size_t cap, held;     /* bytes allocated; end of the bytes the checkpoint holds */
	bool full;            /* AZ_MAX_FILE_SCAN reached */
} walk_buf;

static int ob_begin(void *ctx, const kcsi_object *o)
{
	walk_buf *w = ctx;
	(void)o;
	w->held = 0;
	w->full = false;
	return 0;
}

static int ob_data(void *ctx, const kcsi_object *o, uint64_t off, const unsigned char *p, size_t len)
{
	walk_buf *w = ctx;
	size_t end;
	(void)o;
	if (w->full || off >= AZ_MAX_FILE_SCAN)
		return 0;
	if (len > AZ_MAX_FILE_SCAN - off)
		len = (size_t)(AZ_MAX_FILE_SCAN - off);
	end = (size_t)off + len;
	if (end > w->cap) {
		size_t nc = w->cap ? w->cap : 65536;
		unsigned char *q;
		while (nc < end)
			nc = nc > AZ_MAX_FILE_SCAN / 2 ? AZ_MAX_FILE_SCAN : nc * 2;
		if (!(q = realloc(w->p, nc))) {
			w->full = true;
			return 0;
		}
		w->p = q;
		w->cap = nc;
	}
	if (off > w->held)
		memset(w->p + w->held, 0, (size_t)off - w->held); /* a hole reads as zeros */
	memcpy(w->p + off, p, len);
	if (end > w->held)
		w->held = end;
	return 0;
}

static enum az_content_kind kind_of(const kcsi_object *o)
{
	switch (o->kind) {
	case KCSI_SRC_QUEUE: return AZ_C_QUEUE;
	case KCSI_SRC_GHOST: return AZ_C_GHOST;
	case KCSI_SRC_MEMFD: return AZ_C_MEMFD;
	case KCSI_SRC_ROOTFS: return AZ_C_ROOTFS;
	case KCSI_SRC_DEVSHM: return AZ_C_DEVSHM;
	default: return AZ_C_TMPFS;
	}
}

static const char *const origin_names[] = {
	[AZ_C_MEMORY] = "memory", [AZ_C_QUEUE] = "tcp-queue", [AZ_C_GHOST] = "ghost-file", [AZ_C_MEMFD] = "memfd",
	[AZ_C_ROOTFS] = "rootfs-diff", [AZ_C_DEVSHM] = "devshm", [AZ_C_TMPFS] = "tmpfs",
};

/* How much of a file to look at: what the checkpoint holds, and a trailing
 * hole up to the file's size when it is short (a sparse ghost file's end). */
static size_t extent(walk_buf *w, const kcsi_object *o)
{
	size_t n = w->held;
	if (o->kind != KCSI_SRC_MEMFD && o->kind != KCSI_SRC_QUEUE && o->size > n && o->size - n <= (1u << 20) &&
	    o->size <= AZ_MAX_FILE_SCAN && n <= w->cap) {
		if (o->size > w->cap) {
			unsigned char *q = realloc(w->p, (size_t)o->size);
			if (!q)
				return n;
			w->p = q;
			w->cap = (size_t)o->size;
		}
		memset(w->p + n, 0, (size_t)o->size - n);
		n = (size_t)o->size;
	}
	return n;
}

static int ob_end(void *ctx, const kcsi_object *o)
{
	walk_buf *w = ctx;
	az *a = w->a;
	az_content c = {kind_of(o), NULL, o->path, o->direction && !strcmp(o->direction, "send"), o->pid, o->fd, 0, o->mode,
			w->p, 0, 0, 0, NULL, 0};
	static const unsigned char none[1];
	c.origin = origin_names[c.kind];
	c.n = extent(w, o);
	c.to = c.n;
	if (!c.p)
		c.p = none;
	if (c.kind == AZ_C_QUEUE)
		az_strings_of(a, "tcp-queue", (uint32_t)(o->pid > 0 ? o->pid : 0), o->fd, 0, false, NULL, c.p, c.n, 0, c.n, 3);
	else
		az_strings_of(a, c.origin, o->pid > 0 ? (uint32_t)o->pid : 0, o->fd, 0, false, o->path, c.p, c.n, 0, c.n, 2);
	if (a->yara && c.n) {
		kcsi_error err;
		char what[300];
		snprintf(what, sizeof(what), "%s%s%s", c.kind == AZ_C_QUEUE ? (c.send ? "send queue " : "recv queue ") : "",
			 o->path, "");
		a->target = (az_scan_target){.file = what};
		kcsi_error_clear(&err);
		kcsi_yara_scan(a->yara, c.p, c.n, az_on_yara, a, &err);
		a->target.file = NULL;
	}
	if (c.kind != AZ_C_QUEUE)
		az_file_rules(a, &c);
	az_content_rules(a, &c);
	return 0;
}

void az_family_content(az *a)
{
	kcsi_object_cbs cb = {ob_begin, ob_data, ob_end};
	walk_buf w = {a, NULL, 0, 0, false};
	kcsi_error err;
	kcsi_error_clear(&err);
	kcsi_walk_objects(a->c, KCSI_SRC_ALL, &cb, &w, &err);
	free(w.p);
}

/* ---- memory ---- */

void az_content_window(az *a, const kcsi_window *win, const az_text_run *runs, size_t nruns)
{
	az_content c = {AZ_C_MEMORY, "memory", NULL, false, win->pid, -1, win->addr, 0, win->p, win->len,
			(size_t)(win->from - win->addr), (size_t)(win->to - win->addr), runs, nruns};
	if (a->content)
		az_content_rules(a, &c);
}

/* ---- the summary: staged data in memory and queues ---- */

/* KCSI-STAGE-002: account lists, hashes, archives of /etc or /root in the
 * send queue or the memory of a process.  Memory is weak (programs read
 * /etc/passwd through stdio); a send queue is data on its way out; a
 * process foreign to the workload makes either stronger. */
void az_family_content_summary(az *a)
{
	for (size_t i = 0; a->content && i < a->content->nprocs; i++) {
		az_content_proc *cp = &a->content->procs[i];
		const kcsi_proc *p = kcsi_ckpt_proc(a->c, i);
		bool outsider = az_is_outsider(a, p), queued = false;
		unsigned worth = cp->staged & (AZ_ST_SHADOW | AZ_ST_ARCHIVE | AZ_ST_PASSWD);
		enum kcsi_severity sev;
		char what[300] = "";
		kcsi_finding *f;
		if (!worth)
			continue;
		for (unsigned k = 0; k < 5; k++)
			if (worth & (1u << k)) {
				queued |= !strcmp(cp->staged_ev[k].kind, "tcp-queue");
				snprintf(what + strlen(what), sizeof(what) - strlen(what), "%s%s", *what ? "; " : "",
					 staged_name(1u << k));
			}
		if (!queued && !(worth & ~(unsigned)AZ_ST_PASSWD))
			continue; /* an account list in memory: every program that looks a user up has one */
		sev = queued ? (outsider ? KCSI_SEV_HIGH : (worth & (AZ_ST_SHADOW | AZ_ST_ARCHIVE)) ? KCSI_SEV_MEDIUM
										     : KCSI_SEV_LOW)
			     : (outsider ? KCSI_SEV_MEDIUM : KCSI_SEV_LOW);
		f = az_finding(a, "KCSI-STAGE-002", sev,
			       az_printf("%s of process %u holds %s", queued ? "A send queue" : "The memory", p->pid, what),
			       az_printf("%s of process %u (%s%s) holds %s: data gathered from the system%s.",
					 queued ? "A send queue" : "The memory", p->pid, p->exe ? p->exe : p->comm,
					 outsider ? ", run into the container after its entrypoint" : "", what,
					 queued ? ", on its way out" : ""),
			       worth & AZ_ST_ARCHIVE ? "T1005 T1560.001 T1074.001" : "T1005 T1003.008 T1074.001");
		for (unsigned k = 0; k < 5; k++)
			if (worth & (1u << k))
				az_evidence_from(f, &cp->staged_ev[k]);
	}
}
