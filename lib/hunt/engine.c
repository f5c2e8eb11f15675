/* kcsi hunt — compiling an indicator set and matching it, in one pass, against
 * a checkpoint's memory, objects (queues, ghost, memfd, rootfs, /dev/shm),
 * sockets and file digests.
 *
 * Two Hyperscan databases in block mode: every literal byte form of every
 * indicator (compiled as literals: fast to build for tens of thousands), and
 * the regular expressions (with the leftmost start of each match).  Each
 * memory window is scanned once per database (kcsi_walk_memory hands windows
 * that already cover matches across page and pagemap boundaries); an object
 * read in pieces is scanned as the tail of the previous piece followed by
 * the piece, so a match across two pieces is found once.  Compiled databases
 * are kept in a cache ($KCSI_CACHE, else $XDG_CACHE_HOME/kcsi or ~/.cache/kcsi)
 * under the SHA-256 of what they were compiled from.  An address or a
 * name must not be part of a longer one: 10.1.2.3 is not a hit in
 * 110.1.2.34, evil.example not in notevil.example (a subdomain is a hit). */
#include <ctype.h>
#include <limits.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hunt/hunt_int.h"
#include "kcsi/mem.h"
#include "kcsi/sources.h"

#define CONTEXT 64
#define TAIL 4096            /* bytes of a stream kept for context and PCRE2 */
#define DIGEST_HOLES (64u << 20) /* an object with more holes than this is not digested */

static kcsi_code nomem(kcsi_error *err)
{
	return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
}

/* ---- compiling ---- */

/* what a database is compiled from: expressions (literal bytes or regex
 * sources, owned), their lengths, flags and ids */
struct build {
	char **expr;
	size_t *lens;
	unsigned *flags, *ids;
	size_t n, cap;
};

static int add_expr(struct build *b, char *expr, size_t len, unsigned flags, unsigned id)
{
	if (b->n == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 256;
		char **e = realloc(b->expr, ncap * sizeof(*e));
		if (e)
			b->expr = e;
		size_t *l = e ? realloc(b->lens, ncap * sizeof(*l)) : NULL;
		if (l)
			b->lens = l;
		unsigned *f = l ? realloc(b->flags, ncap * sizeof(*f)) : NULL;
		if (f)
			b->flags = f;
		unsigned *i = f ? realloc(b->ids, ncap * sizeof(*i)) : NULL;
		if (!i) {
			free(expr);
			return -1;
		}
		b->ids = i;
		b->cap = ncap;
	}
	b->expr[b->n] = expr;
	b->lens[b->n] = len;
	b->flags[b->n] = flags;
	b->ids[b->n] = id;
	b->n++;
	return 0;
}

static void free_build(struct build *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->expr[i]);
	free(b->expr);
	free(b->lens);
	free(b->flags);
	free(b->ids);
}

static int add_pat(kcsi_iocset *s, struct build *b, unsigned ioc, const char *encoding, const unsigned char *bytes,
		   size_t len, bool caseless, bool word_ends)
{
	struct hpat *np = realloc(s->pats, (s->npats + 1) * sizeof(*np));
	char *e = np ? malloc(len ? len : 1) : NULL;
	if (np)
		s->pats = np;
	if (!e)
		return -1;
	memcpy(e, bytes, len);
	s->pats[s->npats] = (struct hpat){ioc, encoding, len, word_ends, NULL, 0};
	if (len > s->max_len)
		s->max_len = len;
	return add_expr(b, e, len, (caseless ? HS_FLAG_CASELESS : 0), (unsigned)s->npats++);
}

/* "/src/flags" -> source and Hyperscan / PCRE2 flags */
static int regex_parts(const char *text, char *src, size_t cap, unsigned *hsf, uint32_t *pcref)
{
	const char *end = strrchr(text, '/');
	if (text[0] != '/' || !end || end == text || (size_t)(end - text) > cap)
		return -1;
	snprintf(src, cap, "%.*s", (int)(end - text - 1), text + 1);
	*hsf = HS_FLAG_SOM_LEFTMOST;
	*pcref = 0;
	for (const char *f = end + 1; *f; f++) {
		if (*f == 'i')
			*hsf |= HS_FLAG_CASELESS, *pcref |= PCRE2_CASELESS;
		else if (*f == 's')
			*hsf |= HS_FLAG_DOTALL, *pcref |= PCRE2_DOTALL;
		else if (*f == 'm')
			*hsf |= HS_FLAG_MULTILINE, *pcref |= PCRE2_MULTILINE;
		else
			return -1;
	}
	return 0;
}

static kcsi_code add_regex(kcsi_iocset *s, struct build *b, unsigned ioc, kcsi_error *err)
{
	char src[4200];
	unsigned hsf;
	uint32_t pf;
	hs_database_t *probe = NULL;
	hs_compile_error_t *ce = NULL;
	const struct ioc *e = &s->v[ioc];
	if (regex_parts(e->text, src, sizeof(src), &hsf, &pf))
		return kcsi_error_set(err, KCSI_ERR_USAGE, "%s: '%.80s' is not a /regex/flags (flags i, s, m)", e->feed,
				      e->text);
	int pe;
	PCRE2_SIZE po;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, pf, &pe, &po, NULL);
	hsf &= ~(unsigned)HS_FLAG_SOM_LEFTMOST;
	/* Hyperscan when it takes the expression (PCRE2 finds the start) ... */
	if (code && hs_compile(src, hsf, HS_MODE_BLOCK, NULL, &probe, &ce) == HS_SUCCESS) {
		hs_expr_info_t *info = NULL;
		hs_free_database(probe);
		struct hpat *np = realloc(s->pats, (s->npats + 1) * sizeof(*np));
		char *dup = strdup(src);
		if (!np || !dup) {
			free(dup);
			pcre2_code_free(code);
			return nomem(err);
		}
		s->pats = np;
		size_t width = 4096;
		if (hs_expression_info(src, hsf, &info, &ce) == HS_SUCCESS && info && info->max_width != UINT_MAX)
			width = info->max_width;
		free(info);
		pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
		s->pats[s->npats] = (struct hpat){ioc, "regex", 0, false, code, width};
		if (add_expr(b, dup, strlen(dup), hsf, (unsigned)s->npats++))
			return nomem(err);
		return KCSI_OK;
	}
	hs_free_compile_error(ce);
	/* ... else PCRE2 alone (back-references, look-around, ...) */
	if (!code) {
		PCRE2_UCHAR msg[200];
		pcre2_get_error_message(pe, msg, sizeof(msg));
		return kcsi_error_set(err, KCSI_ERR_USAGE, "%s: regex '%.80s' at %zu: %s", e->feed, e->text, (size_t)po,
				      (char *)msg);
	}
	pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	struct pcre_pat *np = realloc(s->pcre, (s->npcre + 1) * sizeof(*np));
	if (!np) {
		pcre2_code_free(code);
		return nomem(err);
	}
	s->pcre = np;
	s->pcre[s->npcre++] = (struct pcre_pat){ioc, code};
	return KCSI_OK;
}

/* the UTF-16LE form of ASCII text */
static unsigned char *utf16(const unsigned char *p, size_t n)
{
	unsigned char *u = calloc(2, n ? n : 1);
	if (u)
		for (size_t i = 0; i < n; i++)
			u[2 * i] = p[i];
	return u;
}

/* a domain in DNS wire format: 3www7example3com (no root label: the name may go on) */
static unsigned char *dns_wire(const char *name, size_t *len)
{
	size_t n = strlen(name);
	unsigned char *w = malloc(n + 2);
	size_t o = 0;
	if (!w)
		return NULL;
	for (const char *l = name; *l;) {
		size_t k = strcspn(l, ".");
		if (k == 0 || k > 63) {
			free(w);
			return NULL;
		}
		w[o++] = (unsigned char)k;
		memcpy(w + o, l, k);
		o += k;
		l += k + (l[k] == '.');
	}
	*len = o;
	return w;
}

/* ---- the cache of compiled databases ---- */

static void cache_path(const struct build *b, bool literal, char *out, size_t cap)
{
	const char *dir = getenv("KCSI_CACHE"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	unsigned char d[32];
	unsigned dl = 0;
	char hex[65];
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	out[0] = '\0';
	if (!m)
		return;
	EVP_DigestInit_ex(m, EVP_sha256(), NULL);
	EVP_DigestUpdate(m, hs_version(), strlen(hs_version()));
	EVP_DigestUpdate(m, literal ? "lit" : "re", literal ? 3 : 2);
	for (size_t i = 0; i < b->n; i++) {
		uint64_t meta[3] = {b->lens[i], b->flags[i], b->ids[i]};
		EVP_DigestUpdate(m, meta, sizeof(meta));
		EVP_DigestUpdate(m, b->expr[i], b->lens[i]);
	}
	EVP_DigestFinal_ex(m, d, &dl);
	EVP_MD_CTX_free(m);
	for (unsigned i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
	if (dir && *dir)
		snprintf(out, cap, "%s/hunt-%s.hsdb", dir, hex);
	else if (xdg && *xdg)
		snprintf(out, cap, "%s/kcsi/hunt-%s.hsdb", xdg, hex);
	else if (home && *home)
		snprintf(out, cap, "%s/.cache/kcsi/hunt-%s.hsdb", home, hex);
}

static hs_database_t *cache_load(const char *path)
{
	struct stat st;
	hs_database_t *db = NULL;
	char *buf;
	int fd = path[0] ? open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
	if (fd < 0)
		return NULL;
	/* the user's own regular file of a sane size, else ignored */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && st.st_size > 0 &&
	    st.st_size < (512 << 20) && (buf = malloc((size_t)st.st_size))) {
		if (read(fd, buf, (size_t)st.st_size) == st.st_size &&
		    hs_deserialize_database(buf, (size_t)st.st_size, &db) != HS_SUCCESS)
			db = NULL;
		free(buf);
	}
	close(fd);
	return db;
}

static void cache_store(const char *path, const hs_database_t *db)
{
	char *bytes = NULL, tmp[4200], dir[4200];
	size_t n = 0;
	if (!path[0] || hs_serialize_database(db, &bytes, &n) != HS_SUCCESS)
		return;
	snprintf(dir, sizeof(dir), "%s", path);
	for (char *sl = strchr(dir + 1, '/'); sl; sl = strchr(sl + 1, '/')) {
		*sl = '\0';
		mkdir(dir, 0700);
		*sl = '/';
	}
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		bool ok = write(fd, bytes, n) == (ssize_t)n;
		close(fd);
		if (!ok || rename(tmp, path) != 0)
			unlink(tmp);
	}
	free(bytes);
}

static kcsi_code compile_db(const struct build *b, bool literal, hs_database_t **db, bool *from_cache, kcsi_error *err)
{
	hs_compile_error_t *ce = NULL;
	char path[4300];
	hs_error_t r;
	if (!b->n)
		return KCSI_OK;
	cache_path(b, literal, path, sizeof(path));
	if ((*db = cache_load(path))) {
		*from_cache = true;
		return KCSI_OK;
	}
	if (literal)
		r = hs_compile_lit_multi((const char *const *)b->expr, b->flags, b->ids, b->lens, (unsigned)b->n,
					 HS_MODE_BLOCK, NULL, db, &ce);
	else
		r = hs_compile_multi((const char *const *)b->expr, b->flags, b->ids, (unsigned)b->n, HS_MODE_BLOCK, NULL,
				     db, &ce);
	if (r != HS_SUCCESS) {
		kcsi_code rc = kcsi_error_set(err, KCSI_ERR_USAGE, "indicator %d: %s",
					      ce && ce->expression >= 0 ? ce->expression : -1,
					      ce && ce->message ? ce->message : "cannot compile");
		hs_free_compile_error(ce);
		return rc;
	}
	cache_store(path, *db);
	return KCSI_OK;
}

kcsi_code kcsi_iocset_compile(kcsi_iocset *s, kcsi_error *err)
{
	struct build lit = {0}, re = {0};
	kcsi_code rc = KCSI_OK;
	if (s->compiled)
		return KCSI_OK;
	for (size_t i = 0; i < s->n && !rc; i++) {
		const struct ioc *e = &s->v[i];
		unsigned id = (unsigned)i;
		bool text = true, wide = true, ends = false;
		switch (e->type) {
		case T_REGEX:
			rc = add_regex(s, &re, id, err);
			text = wide = false;
			break;
		case T_HEX:
			if (add_pat(s, &lit, id, "bytes", e->bytes, e->len, false, false))
				rc = nomem(err);
			text = wide = false;
			break;
		case T_SHA256:
		case T_SHA1:
		case T_MD5:
			if (kcsi_strmap_put(&s->digests, e->text, e->len, (int)i))
				rc = nomem(err);
			s->want_sha256 |= e->type == T_SHA256;
			s->want_sha1 |= e->type == T_SHA1;
			s->want_md5 |= e->type == T_MD5;
			wide = false;
			break;
		case T_IPV4:
		case T_IPV6:
			if (kcsi_strmap_put(&s->endpoints, e->text, e->len, (int)i))
				rc = nomem(err);
			ends = true;
			break;
		case T_DOMAIN: {
			size_t wl;
			unsigned char *w = dns_wire(e->text, &wl);
			ends = true;
			if (w && add_pat(s, &lit, id, "dns-wire", w, wl, true, false))
				rc = nomem(err);
			free(w);
			break;
		}
		case T_EMAIL:
			ends = true;
			break;
		default:
			break;
		}
		if (!rc && text &&
		    add_pat(s, &lit, id, "text", e->bytes, e->len, e->caseless || e->type >= T_SHA256, ends))
			rc = nomem(err);
		if (!rc && wide && e->len >= 4) {
			unsigned char *u = utf16(e->bytes, e->len);
			if (!u || add_pat(s, &lit, id, "utf16le", u, 2 * e->len, e->caseless, ends))
				rc = nomem(err);
			free(u);
		}
	}
	bool c1 = false, c2 = false;
	if (!rc)
		rc = compile_db(&lit, true, &s->lit, &c1, err);
	if (!rc)
		rc = compile_db(&re, false, &s->re, &c2, err);
	s->cached = (lit.n || re.n) && (!lit.n || c1) && (!re.n || c2);
	free_build(&lit);
	free_build(&re);
	if (!rc)
		s->compiled = true;
	return rc;
}

/* ---- matching ---- */

/* what is being scanned: bytes, where they are, and which matches count */
struct span {
	const unsigned char *p;
	size_t len;
	uint64_t base;        /* address (memory) or object offset of p[0] */
	/* report a match only if its start address is in [from, to) (memory
	 * windows) or it ends after seam (the seam between two pieces) */
	uint64_t from, to, cross;
	size_t seam;          /* 0: none; else matches must start before and end after it */
};

struct hunt {
	kcsi_ckpt *c;
	const kcsi_iocset *s;
	kcsi_hit_cb cb;
	void *ctx;
	kcsi_hunt_stats *st;
	hs_scratch_t *scratch;
	bool stop;
	const kcsi_window *win;       /* the memory window being scanned, or */
	const kcsi_object *obj;       /* the object */
	const struct span *sp;
	/* the areas of the process being scanned */
	uint32_t vma_pid;
	kcsi_vma *vmas;
	size_t nvmas;
	/* the object being read: its last bytes (for the seam) and digests */
	unsigned char tail[TAIL];
	size_t tail_len;
	uint64_t next;
	EVP_MD_CTX *md[3];
	uint64_t digest_at;
	bool digest_ok;
	pcre2_match_data *pmd;
	uint64_t *last_start;         /* per pattern: 1 + where the last regex match began */
	bool shared_vmas;             /* a helper: vmas are the main thread's, read-only */
	struct pool *pool;            /* helpers for large windows (main thread only) */
};

static bool word_char(unsigned char c, enum ioc_type t)
{
	if (t == T_IPV4)
		return isdigit(c) || c == '.';
	if (t == T_IPV6)
		return isxdigit(c) || c == ':';
	return isalnum(c) || c == '-' || c == '_';
}

/* Does a match stand alone, given the bytes around it (-1: none)? */
static bool stands_alone(enum ioc_type t, int before, int after, int after2)
{
	if (before >= 0 && word_char((unsigned char)before, t) && !((t == T_DOMAIN || t == T_EMAIL) && before == '.'))
		return false;
	if (after >= 0 && word_char((unsigned char)after, t))
		return false;
	/* evil.example.attacker.net is another name, 10.1.2.3.4 another number */
	if ((t == T_DOMAIN || t == T_EMAIL) && after == '.' && after2 >= 0 && isalnum((unsigned char)after2))
		return false;
	if (t == T_IPV4 && after == '.' && after2 >= 0 && isdigit((unsigned char)after2))
		return false;
	return true;
}

static void emit(struct hunt *h, const struct ioc *e, const char *encoding, const unsigned char *buf, size_t buflen,
		 size_t at, size_t len, uint64_t where)
{
	kcsi_hit hit = {.indicator = e->text, .type = ioc_type_name(e->type), .feed = e->feed, .ref = e->ref,
			.encoding = encoding, .pid = -1, .fd = -1};
	size_t from = at > CONTEXT ? at - CONTEXT : 0, to = at + len + CONTEXT < buflen ? at + len + CONTEXT : buflen;
	hit.context = buf + from;
	hit.context_len = to - from;
	hit.match_at = at - from;
	hit.match_len = len;
	if (h->win) {
		const kcsi_proc *p = kcsi_ckpt_proc_by_pid(h->c, h->win->pid);
		hit.source = "memory";
		hit.pid = h->win->pid;
		hit.comm = p ? p->comm : NULL;
		hit.has_address = true;
		hit.address = where;
		if (h->vma_pid != h->win->pid && !h->shared_vmas) {
			kcsi_error ignore;
			free(h->vmas);
			h->vmas = NULL;
			h->nvmas = 0;
			if (kcsi_ckpt_vmas(h->c, h->win->pid, &h->vmas, &h->nvmas, &ignore) != KCSI_OK)
				h->nvmas = 0;
			h->vma_pid = h->win->pid;
		}
		hit.area = kcsi_area_name(h->vmas, h->nvmas, where);
	} else {
		const kcsi_proc *p = h->obj->pid >= 0 ? kcsi_ckpt_proc_by_pid(h->c, (uint32_t)h->obj->pid) : NULL;
		hit.source = strcmp(encoding, "digest") ? h->obj->kind_name : "hash";
		hit.pid = h->obj->pid;
		hit.fd = h->obj->fd;
		hit.comm = p ? p->comm : NULL;
		hit.has_offset = strcmp(encoding, "digest") && strcmp(encoding, "endpoint");
		hit.offset = where;
		hit.path = h->obj->path;
		hit.direction = h->obj->direction;
	}
	__atomic_fetch_add(&h->st->hits, 1, __ATOMIC_RELAXED);
	if (h->cb(h->ctx, &hit))
		h->stop = true;
}

/* The character k characters from offset at (k -1: the one before at), in
 * the match's encoding (a UTF-16LE character is two bytes, the high one
 * zero); -1 when there is none. */
static int char_at(const struct span *sp, size_t at, int k, const struct hpat *pt)
{
	if (pt->encoding[0] != 'u') { /* not utf16le */
		size_t i = at + (size_t)(ssize_t)k;
		return (k < 0 && at == 0) || i >= sp->len ? -1 : sp->p[i];
	}
	size_t i = at + (size_t)(ssize_t)(2 * k);
	if ((k < 0 && at < 2) || i + 1 >= sp->len || sp->p[i + 1] != 0)
		return -1;
	return sp->p[i];
}

/* Does a match [start, end) of the span count here (not reported elsewhere)? */
static bool counts_here(const struct span *sp, size_t start, size_t end)
{
	if (sp->seam)
		return start < sp->seam && end > sp->seam;
	if (sp->to) {
		uint64_t addr = sp->base + start;
		if (addr < sp->from || addr >= sp->to || (sp->cross && sp->base + end <= sp->cross))
			return false;
	}
	return true;
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx)
{
	struct hunt *h = ctx;
	const struct span *sp = h->sp;
	const struct hpat *pt = &h->s->pats[id];
	const struct ioc *e = &h->s->v[pt->ioc];
	size_t start = pt->len ? (size_t)to - pt->len : (size_t)from;
	(void)flags;
	if (pt->start_finder) {
		/* the leftmost start of a match that ends here */
		size_t lo = to > pt->width ? (size_t)to - pt->width : 0;
		if (pcre2_match(pt->start_finder, sp->p + lo, (size_t)to - lo, 0, PCRE2_ENDANCHORED, h->pmd, NULL) <= 0)
			return 0;
		start = lo + pcre2_get_ovector_pointer(h->pmd)[0];
		if (h->last_start[id] == sp->base + start + 1)
			return 0; /* the same match, one byte longer */
		h->last_start[id] = sp->base + start + 1;
	}
	if (!counts_here(sp, start, (size_t)to))
		return 0;
	if (pt->word_ends && !stands_alone(e->type, char_at(sp, start, -1, pt), char_at(sp, (size_t)to, 0, pt),
					   char_at(sp, (size_t)to, 1, pt)))
		return 0;
	emit(h, e, pt->encoding, sp->p, sp->len, start, (size_t)to - start, sp->base + start);
	return h->stop ? 1 : 0;
}

static void pcre_scan(struct hunt *h, const struct span *sp)
{
	for (size_t i = 0; i < h->s->npcre && !h->stop; i++) {
		const struct pcre_pat *pp = &h->s->pcre[i];
		for (size_t at = 0; at < sp->len && !h->stop;) {
			if (pcre2_match(pp->code, sp->p, sp->len, at, 0, h->pmd, NULL) <= 0)
				break;
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(h->pmd);
			if (counts_here(sp, ov[0], ov[1]))
				emit(h, &h->s->v[pp->ioc], "regex", sp->p, sp->len, ov[0], ov[1] - ov[0], sp->base + ov[0]);
			at = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
		}
	}
}

/* every database over one span (at most 4 GiB at a time for Hyperscan) */
static void scan_span(struct hunt *h, const struct span *sp)
{
	h->sp = sp;
	for (size_t at = 0; at < sp->len && !h->stop;) {
		size_t n = sp->len - at > (1u << 30) ? (1u << 30) : sp->len - at;
		struct span part = *sp;
		part.p = sp->p + at;
		part.len = n + (at + n < sp->len ? (sp->len - at - n < TAIL ? sp->len - at - n : TAIL) : 0);
		part.base = sp->base + at;
		h->sp = &part;
		if ((h->s->lit && hs_scan(h->s->lit, (const char *)part.p, (unsigned)part.len, 0, h->scratch, on_match, h) ==
				      HS_SCAN_TERMINATED) ||
		    (h->s->re && !h->stop &&
		     hs_scan(h->s->re, (const char *)part.p, (unsigned)part.len, 0, h->scratch, on_match, h) ==
			     HS_SCAN_TERMINATED))
			h->stop = true;
		if (h->s->npcre && !h->stop)
			pcre_scan(h, &part);
		at += n;
	}
	h->sp = NULL;
}

/* ---- helpers: a window split across the cores ---- */

#define SPLIT_MIN (1u << 20) /* windows smaller than this are scanned whole */

struct helper {
	struct hunt h;
	struct span job;
	kcsi_window win;
	pthread_t thr;
	bool started;
};

struct pool {
	pthread_mutex_t m;
	pthread_cond_t go, done;
	unsigned n, pending, gen;
	bool quit;
	struct helper *hp;
};

static void *helper_main(void *arg)
{
	struct helper *hp = arg;
	struct pool *pl = hp->h.pool;
	unsigned seen = 0;
	pthread_mutex_lock(&pl->m);
	for (;;) {
		while (!pl->quit && pl->gen == seen)
			pthread_cond_wait(&pl->go, &pl->m);
		if (pl->quit)
			break;
		seen = pl->gen;
		pthread_mutex_unlock(&pl->m);
		hp->h.win = &hp->win;
		scan_span(&hp->h, &hp->job);
		hp->h.win = NULL;
		pthread_mutex_lock(&pl->m);
		if (--pl->pending == 0)
			pthread_cond_signal(&pl->done);
	}
	pthread_mutex_unlock(&pl->m);
	return NULL;
}

static int on_window(void *ctx, const kcsi_window *w)
{
	struct hunt *h = ctx;
	struct pool *pl = h->pool;
	struct span sp = {w->p, w->len, w->addr, w->from, w->to, w->cross, 0};
	h->win = w;
	h->st->bytes_memory += w->len;
	if (!pl || !pl->n || w->len < SPLIT_MIN) {
		scan_span(h, &sp);
		h->win = NULL;
		return h->stop;
	}
	/* the areas of this process, loaded here: the helpers only read them */
	if (h->vma_pid != w->pid) {
		kcsi_error ignore;
		free(h->vmas);
		h->vmas = NULL;
		h->nvmas = 0;
		if (kcsi_ckpt_vmas(h->c, w->pid, &h->vmas, &h->nvmas, &ignore) != KCSI_OK)
			h->nvmas = 0;
		h->vma_pid = w->pid;
	}
	/* n+1 parts: each scans TAIL bytes past its end and reports the matches
	 * that start in it */
	size_t parts = pl->n + 1, step = w->len / parts;
	pthread_mutex_lock(&pl->m);
	for (unsigned i = 0; i < pl->n; i++) {
		struct helper *hp = &pl->hp[i];
		size_t off = step * (i + 1), len = i + 1 == pl->n ? w->len - off : step;
		size_t ext = w->len - off - len < TAIL ? w->len - off - len : TAIL;
		uint64_t base = w->addr + off;
		hp->win = *w;
		hp->h.vmas = h->vmas;
		hp->h.nvmas = h->nvmas;
		hp->h.vma_pid = h->vma_pid;
		hp->job = (struct span){w->p + off, len + ext, base, base > w->from ? base : w->from,
					base + len < w->to ? base + len : w->to, w->cross, 0};
	}
	pl->pending = pl->n;
	pl->gen++;
	pthread_cond_broadcast(&pl->go);
	pthread_mutex_unlock(&pl->m);
	size_t ext = w->len - step < TAIL ? w->len - step : TAIL;
	sp.len = step + ext;
	sp.to = w->addr + step < w->to ? w->addr + step : w->to;
	scan_span(h, &sp);
	pthread_mutex_lock(&pl->m);
	while (pl->pending)
		pthread_cond_wait(&pl->done, &pl->m);
	pthread_mutex_unlock(&pl->m);
	for (unsigned i = 0; i < pl->n; i++)
		h->stop |= pl->hp[i].h.stop;
	h->win = NULL;
	return h->stop;
}

static kcsi_code hunt_init(struct hunt *h, const kcsi_iocset *s)
{
	if ((s->lit && hs_alloc_scratch(s->lit, &h->scratch) != HS_SUCCESS) ||
	    (s->re && hs_alloc_scratch(s->re, &h->scratch) != HS_SUCCESS) ||
	    !(h->pmd = pcre2_match_data_create(32, NULL)) || !(h->last_start = calloc(s->npats + 1, sizeof(uint64_t))))
		return KCSI_ERR_NOMEM;
	return KCSI_OK;
}

static void hunt_fini(struct hunt *h)
{
	for (int i = 0; i < 3; i++)
		EVP_MD_CTX_free(h->md[i]);
	hs_free_scratch(h->scratch);
	pcre2_match_data_free(h->pmd);
	free(h->last_start);
	if (!h->shared_vmas)
		free(h->vmas);
}

static void pool_stop(struct pool *pl)
{
	if (!pl->hp)
		return;
	pthread_mutex_lock(&pl->m);
	pl->quit = true;
	pthread_cond_broadcast(&pl->go);
	pthread_mutex_unlock(&pl->m);
	for (unsigned i = 0; i < pl->n; i++) {
		if (pl->hp[i].started)
			pthread_join(pl->hp[i].thr, NULL);
		hunt_fini(&pl->hp[i].h);
	}
	free(pl->hp);
	pthread_mutex_destroy(&pl->m);
	pthread_cond_destroy(&pl->go);
	pthread_cond_destroy(&pl->done);
}

/* threads-1 helpers, each with its own scratch; none when threads is 1 or
 * a helper cannot be made (the main thread then scans alone) */
static void pool_start(struct pool *pl, const struct hunt *main, unsigned threads)
{
	memset(pl, 0, sizeof(*pl));
	if (threads < 2 || !(pl->hp = calloc(threads - 1, sizeof(*pl->hp))))
		return;
	pthread_mutex_init(&pl->m, NULL);
	pthread_cond_init(&pl->go, NULL);
	pthread_cond_init(&pl->done, NULL);
	for (unsigned i = 0; i < threads - 1; i++) {
		struct helper *hp = &pl->hp[i];
		hp->h = (struct hunt){.c = main->c, .s = main->s, .cb = main->cb, .ctx = main->ctx, .st = main->st,
				      .shared_vmas = true, .pool = pl};
		if (hunt_init(&hp->h, main->s) != KCSI_OK || pthread_create(&hp->thr, NULL, helper_main, hp) != 0) {
			hunt_fini(&hp->h);
			break;
		}
		hp->started = true;
		pl->n++;
	}
}

/* ---- objects ---- */

static void digest_begin(struct hunt *h)
{
	static const EVP_MD *(*const algs[3])(void) = {EVP_sha256, EVP_sha1, EVP_md5};
	bool want[3] = {h->s->want_sha256, h->s->want_sha1, h->s->want_md5};
	h->digest_at = 0;
	h->digest_ok = true;
	for (int i = 0; i < 3; i++) {
		EVP_MD_CTX_free(h->md[i]);
		h->md[i] = NULL;
		if (want[i] && (h->md[i] = EVP_MD_CTX_new()) && EVP_DigestInit_ex(h->md[i], algs[i](), NULL) != 1) {
			EVP_MD_CTX_free(h->md[i]);
			h->md[i] = NULL;
		}
	}
}

/* the digests see the holes as zeros, up to DIGEST_HOLES of them */
static void digest_feed(struct hunt *h, uint64_t off, const unsigned char *p, size_t len)
{
	static const unsigned char zeros[65536];
	if (!h->digest_ok)
		return;
	if (off < h->digest_at || off - h->digest_at > DIGEST_HOLES) {
		h->digest_ok = false; /* overlapping pieces, or holes too large to hash */
		return;
	}
	for (int i = 0; i < 3; i++)
		for (uint64_t z = h->digest_at; h->md[i] && z < off; z += sizeof(zeros))
			EVP_DigestUpdate(h->md[i], zeros, off - z < sizeof(zeros) ? (size_t)(off - z) : sizeof(zeros));
	for (int i = 0; i < 3; i++)
		if (h->md[i])
			EVP_DigestUpdate(h->md[i], p, len);
	h->digest_at = off + len;
}

static void digest_end(struct hunt *h, const kcsi_object *o)
{
	static const enum ioc_type types[3] = {T_SHA256, T_SHA1, T_MD5};
	if (h->digest_ok && o->size > h->digest_at)
		digest_feed(h, o->size, (const unsigned char *)"", 0);
	for (int i = 0; i < 3; i++) {
		unsigned char d[64];
		unsigned dl = 0;
		char hex[129];
		if (!h->md[i])
			continue;
		if (h->digest_ok && EVP_DigestFinal_ex(h->md[i], d, &dl) == 1) {
			for (unsigned k = 0; k < dl; k++)
				sprintf(hex + 2 * k, "%02x", d[k]);
			int ioc = kcsi_strmap_get(&h->s->digests, hex, 2 * dl, -1);
			if (ioc >= 0 && h->s->v[ioc].type == types[i])
				emit(h, &h->s->v[ioc], "digest", (const unsigned char *)hex, 2 * dl, 0, 2 * dl, 0);
		}
		EVP_MD_CTX_free(h->md[i]);
		h->md[i] = NULL;
	}
}

static int obj_begin(void *ctx, const kcsi_object *o)
{
	struct hunt *h = ctx;
	h->st->objects++;
	h->tail_len = 0;
	h->next = 0;
	if (o->kind != KCSI_SRC_QUEUE)
		digest_begin(h);
	return 0;
}

static void keep_tail(struct hunt *h, const unsigned char *p, size_t len)
{
	if (len >= TAIL) {
		memcpy(h->tail, p + len - TAIL, TAIL);
		h->tail_len = TAIL;
		return;
	}
	if (h->tail_len + len > TAIL) {
		size_t drop = h->tail_len + len - TAIL;
		memmove(h->tail, h->tail + drop, h->tail_len - drop);
		h->tail_len -= drop;
	}
	memcpy(h->tail + h->tail_len, p, len);
	h->tail_len += len;
}

static int obj_data(void *ctx, const kcsi_object *o, uint64_t off, const unsigned char *p, size_t len)
{
	struct hunt *h = ctx;
	h->st->bytes_objects += len;
	h->obj = o;
	if (o->kind != KCSI_SRC_QUEUE)
		digest_feed(h, off, p, len);
	if (off != h->next)
		h->tail_len = 0; /* a hole: what was before does not run into what comes after */
	/* the seam between the previous piece and this one: a match across it */
	if (h->tail_len) {
		unsigned char seam[2 * TAIL];
		size_t head = len < TAIL ? len : TAIL;
		memcpy(seam, h->tail, h->tail_len);
		memcpy(seam + h->tail_len, p, head);
		struct span sp = {seam, h->tail_len + head, off - h->tail_len, 0, 0, 0, h->tail_len};
		scan_span(h, &sp);
	}
	struct span sp = {p, len, off, 0, 0, 0, 0};
	if (!h->stop)
		scan_span(h, &sp);
	keep_tail(h, p, len);
	h->next = off + len;
	h->obj = NULL;
	return h->stop;
}

static int obj_end(void *ctx, const kcsi_object *o)
{
	struct hunt *h = ctx;
	h->obj = o;
	if (o->kind != KCSI_SRC_QUEUE)
		digest_end(h, o);
	h->obj = NULL;
	return h->stop;
}

/* ---- sockets ---- */

static kcsi_code hunt_sockets(struct hunt *h, kcsi_error *err)
{
	kcsi_sock *s = NULL;
	size_t n = 0;
	kcsi_code rc;
	if (!h->s->endpoints.n)
		return KCSI_OK;
	if ((rc = kcsi_ckpt_socks(h->c, &s, &n, err)))
		return rc;
	for (size_t i = 0; i < n && !h->stop; i++) {
		const char *ends[2] = {s[i].src, s[i].dst};
		char conn[200];
		snprintf(conn, sizeof(conn), "%s:%u->%s:%u", s[i].src, s[i].sport, s[i].dst, s[i].dport);
		for (int k = 0; k < 2 && !h->stop; k++) {
			int ioc = kcsi_strmap_get(&h->s->endpoints, ends[k], strlen(ends[k]), -1);
			if (ioc < 0)
				continue;
			kcsi_object o = {KCSI_SRC_QUEUE, "socket", conn, k ? "remote" : "local", s[i].pid, s[i].fd, 0,
					 s[i].ino, 0};
			h->obj = &o;
			emit(h, &h->s->v[ioc], "endpoint", (const unsigned char *)ends[k], strlen(ends[k]), 0,
			     strlen(ends[k]), 0);
			h->obj = NULL;
		}
	}
	free(s);
	return KCSI_OK;
}

kcsi_code kcsi_hunt(kcsi_ckpt *c, const kcsi_iocset *s, unsigned threads, kcsi_hit_cb cb, void *ctx,
		    kcsi_hunt_stats *stats, kcsi_error *err)
{
	kcsi_hunt_stats local = {0};
	struct hunt h = {.c = c, .s = s, .cb = cb, .ctx = ctx, .st = stats ? stats : &local, .vma_pid = UINT32_MAX};
	struct pool pl;
	kcsi_object_cbs ocb = {obj_begin, obj_data, obj_end};
	kcsi_code rc = KCSI_OK;
	if (!s->compiled)
		return kcsi_error_set(err, KCSI_ERR_USAGE, "indicator set not compiled");
	if (stats)
		memset(stats, 0, sizeof(*stats));
	if (hunt_init(&h, s) != KCSI_OK) {
		hunt_fini(&h);
		return nomem(err);
	}
	pool_start(&pl, &h, threads);
	h.pool = &pl;
	if (s->lit || s->re || s->npcre)
		rc = kcsi_walk_memory(c, 0, on_window, &h, err);
	pool_stop(&pl);
	h.pool = NULL;
	if (!rc && !h.stop)
		rc = kcsi_walk_objects(c, KCSI_SRC_ALL, &ocb, &h, err);
	if (!rc && !h.stop)
		rc = hunt_sockets(&h, err);
	hunt_fini(&h);
	return rc;
}
