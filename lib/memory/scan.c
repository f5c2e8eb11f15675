/* kcsi — walking and searching process memory.  See include/kcsi/mem.h. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/find.h"
#include "reader/ckpt_int.h"
#include "kcsi/jsonw.h"
#include "kcsi/mem.h"
#include "kcsi/progress.h"

#define CHUNK (32u << 20) /* bytes scanned per window before pages are released */

struct kcsi_pattern {
	unsigned char *lit; /* literal bytes (kcsi_find), or NULL for a regex */
	size_t litlen;
	pcre2_code *re;
	pcre2_match_data *md;
};

/* ---- patterns ---- */

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9') return ch - '0';
	if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
	return -1;
}

/* UTF-8 text -> UTF-16LE bytes (invalid bytes are taken as Latin-1). */
static unsigned char *to_utf16le(const char *s, size_t *out_len)
{
	size_t n = strlen(s), o = 0;
	unsigned char *u = malloc(n * 4 + 1);
	const unsigned char *p = (const unsigned char *)s;
	if (!u)
		return NULL;
	for (size_t i = 0; i < n;) {
		uint32_t cp = p[i];
		size_t l = kcsi_utf8_seq(p + i, n - i);
		if (l > 1) {
			cp = l == 2 ? p[i] & 0x1f : l == 3 ? p[i] & 0x0f : p[i] & 0x07;
			for (size_t k = 1; k < l; k++)
				cp = cp << 6 | (p[i + k] & 0x3f);
		}
		i += l ? l : 1;
		if (cp >= 0x10000) {
			uint32_t v = cp - 0x10000, hi = 0xd800 | (v >> 10), lo = 0xdc00 | (v & 0x3ff);
			u[o++] = hi & 0xff; u[o++] = (unsigned char)(hi >> 8);
			u[o++] = lo & 0xff; u[o++] = (unsigned char)(lo >> 8);
		} else {
			u[o++] = cp & 0xff;
			u[o++] = (unsigned char)(cp >> 8);
		}
	}
	*out_len = o;
	return u;
}

/* A byte as a PCRE2 pattern item; letters as [xX] when caseless. */
static void re_byte(kcsi_buf *b, unsigned char ch, bool icase)
{
	if (icase && ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
		kcsi_buf_printf(b, "[\\x%02x\\x%02x]", ch | 0x20, ch & ~0x20);
	else
		kcsi_buf_printf(b, "\\x%02x", ch);
}

kcsi_code kcsi_pattern_compile(const char *text, enum kcsi_pattern_kind kind, unsigned flags,
			       kcsi_pattern **out, kcsi_error *err)
{
	kcsi_pattern *p = calloc(1, sizeof(*p));
	unsigned char *bytes = NULL;
	size_t nbytes = 0;
	kcsi_buf re;
	int ec;
	PCRE2_SIZE eo;

	*out = NULL;
	if (!p)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	kcsi_buf_init(&re, 1u << 20);
	if (kind == KCSI_PAT_HEX) {
		size_t n = strlen(text);
		bytes = malloc(n / 2 + 1);
		if (!bytes)
			goto nomem;
		for (size_t i = 0; i < n;) {
			int hi, lo;
			if (text[i] == ' ' || text[i] == ':' || text[i] == '-') {
				i++;
				continue;
			}
			hi = hexval((unsigned char)text[i]);
			lo = i + 1 < n ? hexval((unsigned char)text[i + 1]) : -1;
			if (hi < 0 || lo < 0) {
				free(bytes);
				free(p);
				return kcsi_error_set(err, KCSI_ERR_USAGE, "hex pattern: bad digit at position %zu of '%s'", i + 1, text);
			}
			bytes[nbytes++] = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
	} else if (kind == KCSI_PAT_LITERAL) {
		if (flags & KCSI_PAT_UTF16LE) {
			bytes = to_utf16le(text, &nbytes);
		} else {
			nbytes = strlen(text);
			bytes = malloc(nbytes + 1);
			if (bytes)
				memcpy(bytes, text, nbytes);
		}
		if (!bytes)
			goto nomem;
	}
	if (kind != KCSI_PAT_REGEX && nbytes == 0) {
		free(bytes);
		free(p);
		return kcsi_error_set(err, KCSI_ERR_USAGE, "empty pattern");
	}
	if (kind != KCSI_PAT_REGEX && !(flags & KCSI_PAT_ICASE)) {
		p->lit = bytes;
		p->litlen = nbytes;
		*out = p;
		return KCSI_OK;
	}
	if (kind == KCSI_PAT_REGEX) {
		if (flags & KCSI_PAT_UTF16LE) {
			free(p);
			kcsi_error_set(err, KCSI_ERR_USAGE, "the UTF-16LE encoding applies to literal patterns, not to regular expressions");
			kcsi_error_param(err, "encoding");
			return KCSI_ERR_USAGE;
		}
		kcsi_buf_add(&re, text, strlen(text));
	} else {
		for (size_t i = 0; i < nbytes; i++)
			re_byte(&re, bytes[i], flags & KCSI_PAT_ICASE);
	}
	free(bytes);
	bytes = NULL;
	p->re = pcre2_compile((PCRE2_SPTR)kcsi_buf_str(&re), re.len,
			      (kind == KCSI_PAT_REGEX && (flags & KCSI_PAT_ICASE) ? PCRE2_CASELESS : 0) | PCRE2_DOTALL,
			      &ec, &eo, NULL);
	if (!p->re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ec, msg, sizeof(msg));
		kcsi_buf_free(&re);
		free(p);
		return kcsi_error_set(err, KCSI_ERR_USAGE, "regular expression: %s at offset %zu", (char *)msg, (size_t)eo);
	}
	kcsi_buf_free(&re);
	pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter if JIT is unavailable */
	p->md = pcre2_match_data_create_from_pattern(p->re, NULL);
	if (!p->md)
		goto nomem;
	*out = p;
	return KCSI_OK;
nomem:
	kcsi_buf_free(&re);
	free(bytes);
	kcsi_pattern_free(p);
	return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
}

void kcsi_pattern_free(kcsi_pattern *p)
{
	if (!p)
		return;
	free(p->lit);
	if (p->md)
		pcre2_match_data_free(p->md);
	if (p->re)
		pcre2_code_free(p->re);
	free(p);
}

/* ---- walking memory ---- */

static int cmp_piece(const void *a, const void *b)
{
	const struct ck_piece *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Hand scanned pages of the archive mapping back to the kernel: the pages
 * stay in the page cache, not in our resident set. */
static void release(const unsigned char *p, size_t len)
{
	const uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE); /* a cached value in glibc; no shared state across threads */
	uintptr_t a, b;
	a = ((uintptr_t)p + pg - 1) & ~(pg - 1);
	b = ((uintptr_t)p + len) & ~(pg - 1);
	if (b > a)
		madvise((void *)a, b - a, MADV_DONTNEED);
}

static kcsi_code add_piece(struct ck_piece **v, size_t *n, size_t *cap, struct ck_piece pc, kcsi_error *err)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct ck_piece *q = realloc(*v, ncap * sizeof(*q));
		if (!q)
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		*v = q;
		*cap = ncap;
	}
	(*v)[(*n)++] = pc;
	return KCSI_OK;
}

/* The shared memory object behind a shared mapping, or 0. */
static uint64_t vma_shmid(kcsi_ckpt *c, const VmaEntry *v)
{
	if (v->status & ((1u << 6) | (1u << 7) | (1u << 14))) { /* file mapping: memfd? */
		FileEntry *f = ck_file(c, (uint32_t)v->shmid);
		if (f && f->type == FD_TYPES__MEMFD && f->memfd) {
			MemfdInodeEntry *ino = ck_memfd_inode(c, f->memfd->inode_id);
			return ino ? ino->shmid : 0;
		}
		return 0;
	}
	if (v->status & (1u << 8)) /* VMA_ANON_SHARED */
		return v->shmid;
	return 0;
}

kcsi_code ck_mem_pieces(kcsi_ckpt *c, struct proc_priv *p, struct ck_piece **out, size_t *nout, kcsi_error *err)
{
	struct ck_piece *v = NULL;
	size_t n = 0, cap = 0;
	kcsi_code rc;

	*out = NULL;
	*nout = 0;
	if ((rc = ck_load_runs(c, p, err)) != KCSI_OK)
		return rc;
	for (size_t i = 0; i < p->nruns; i++)
		if ((rc = add_piece(&v, &n, &cap, (struct ck_piece){p->runs[i].vaddr, p->runs[i].data, p->runs[i].len, 0}, err)))
			goto fail;
	for (size_t i = 0; p->mm && i < p->mm->n_vmas; i++) {
		const VmaEntry *vm = p->mm->vmas[i];
		uint64_t shmid = vma_shmid(c, vm);
		const kcsi_memrun *r;
		size_t nr;
		if (!shmid)
			continue;
		if (kcsi_ckpt_shmem(c, shmid, &r, &nr, NULL) != KCSI_OK)
			continue; /* not dumped (e.g. shared with a process outside) */
		for (size_t k = 0; k < nr; k++) {
			uint64_t lo = r[k].vaddr, hi = r[k].vaddr + r[k].len;
			uint64_t mlo = vm->pgoff, mhi = vm->pgoff + (vm->end - vm->start);
			if (hi <= mlo || lo >= mhi)
				continue;
			if (lo < mlo) lo = mlo;
			if (hi > mhi) hi = mhi;
			if ((rc = add_piece(&v, &n, &cap,
					    (struct ck_piece){vm->start + (lo - mlo), r[k].data + (lo - r[k].vaddr), hi - lo, shmid},
					    err)))
				goto fail;
		}
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_piece);
	*out = v;
	*nout = n;
	return KCSI_OK;
fail:
	free(v);
	return rc;
}

static kcsi_code walk_proc(kcsi_ckpt *c, struct proc_priv *p, kcsi_window_cb cb, void *ctx, kcsi_error *err)
{
	struct ck_piece *pc;
	size_t n;
	kcsi_code rc = ck_mem_pieces(c, p, &pc, &n, err);
	unsigned char *stitch = NULL;

	if (rc != KCSI_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const struct ck_piece *x = &pc[i];
		for (uint64_t s = 0; s < x->len; s += CHUNK) {
			uint64_t wlen = x->len - s;
			kcsi_window w;
			if (wlen > (uint64_t)CHUNK + KCSI_SCAN_OVERLAP)
				wlen = (uint64_t)CHUNK + KCSI_SCAN_OVERLAP;
			w = (kcsi_window){p->pub.pid, x->addr + s, x->p + s, (size_t)wlen, x->addr + s,
					  x->addr + s + (s + CHUNK < x->len ? CHUNK : x->len - s), 0, x->shmid};
			int stop = cb(ctx, &w);
			if ((rc = kcsi_archive_check(c->ar, err)) != KCSI_OK || stop) {
				free(pc);
				free(stitch);
				return rc;
			}
			release(x->p + s, (size_t)(wlen < CHUNK ? wlen : CHUNK));
			kcsi_progress_add(wlen < CHUNK ? wlen : CHUNK);
		}
		/* contiguous with the next piece but elsewhere in the archive:
		 * a stitched window finds what crosses the seam */
		if (i + 1 < n && x->addr + x->len == pc[i + 1].addr && x->p + x->len != pc[i + 1].p) {
			const struct ck_piece *y = &pc[i + 1];
			size_t a = x->len < KCSI_SCAN_OVERLAP ? (size_t)x->len : KCSI_SCAN_OVERLAP;
			size_t b = y->len < KCSI_SCAN_OVERLAP ? (size_t)y->len : KCSI_SCAN_OVERLAP;
			kcsi_window w;
			if (!stitch && !(stitch = malloc(2 * (size_t)KCSI_SCAN_OVERLAP))) {
				free(pc);
				return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
			}
			memcpy(stitch, x->p + x->len - a, a);
			memcpy(stitch + a, y->p, b);
			w = (kcsi_window){p->pub.pid, y->addr - a, stitch, a + b, y->addr - a, y->addr, y->addr, x->shmid};
			int stop = cb(ctx, &w);
			if ((rc = kcsi_archive_check(c->ar, err)) != KCSI_OK || stop)
				break;
		}
	}
	free(stitch);
	free(pc);
	return rc;
}

kcsi_code kcsi_walk_memory(kcsi_ckpt *c, uint32_t pid, kcsi_window_cb cb, void *ctx, kcsi_error *err)
{
	if (pid && !ck_proc(c, pid))
		return kcsi_error_set(err, KCSI_ERR_NOTFOUND, "no process with pid %u in the checkpoint", pid);
	/* progress: the pages the checkpoint holds (all processes, or about so) */
	kcsi_progress_phase("scanning memory", pid ? 0 : c->meta.memory_size);
	for (size_t i = 0; i < c->nprocs; i++) {
		kcsi_code rc;
		if (pid && c->procs[i].pub.pid != pid)
			continue;
		if ((rc = walk_proc(c, &c->procs[i], cb, ctx, err)) != KCSI_OK) {
			kcsi_progress_done();
			return rc;
		}
	}
	kcsi_progress_done();
	return KCSI_OK;
}

/* ---- searching ---- */

struct scan {
	kcsi_ckpt *c;
	const kcsi_pattern *pat;
	kcsi_match_cb cb;
	void *ctx;
	int stop;
};

static int report(struct scan *s, const kcsi_window *w, size_t off, size_t len)
{
	uint64_t at = w->addr + off;
	kcsi_match m;
	if (at < w->from || at >= w->to)
		return 0;
	if (w->cross && at + len <= w->cross)
		return 0;
	if (kcsi_archive_check(s->c->ar, NULL) != KCSI_OK)
		return 1; /* the bytes are not the archive's any more: the walk reports it */
	m = (kcsi_match){w->pid, at, w->p + off, len, w->shmid};
	s->stop = s->cb(s->ctx, &m);
	return s->stop;
}

static int scan_window(void *ctx, const kcsi_window *w)
{
	struct scan *s = ctx;
	const kcsi_pattern *pat = s->pat;

	if (pat->lit) {
		const unsigned char *base = w->p, *q = base;
		size_t left = w->len;
		while (left >= pat->litlen) {
			const unsigned char *hit = kcsi_find(q, left, pat->lit, pat->litlen);
			size_t off;
			if (!hit)
				break;
			off = (size_t)(hit - base);
			if (w->addr + off >= w->to)
				break;
			if (report(s, w, off, pat->litlen))
				return 1;
			q = hit + pat->litlen;
			left = w->len - (size_t)(q - base);
		}
		return 0;
	}
	PCRE2_SIZE start = 0;
	while (start <= w->len) {
		int r = pcre2_match(pat->re, w->p, w->len, start, 0, pat->md, NULL);
		PCRE2_SIZE *ov;
		if (r < 0)
			break;
		ov = pcre2_get_ovector_pointer(pat->md);
		if (w->addr + ov[0] >= w->to)
			break;
		if (ov[1] > ov[0] && report(s, w, ov[0], ov[1] - ov[0]))
			return 1;
		start = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
	}
	return 0;
}

kcsi_code kcsi_scan(kcsi_ckpt *c, uint32_t pid, const kcsi_pattern *pat, kcsi_match_cb cb, void *ctx,
		    kcsi_error *err)
{
	struct scan s = {c, pat, cb, ctx, 0};
	return kcsi_walk_memory(c, pid, scan_window, &s, err);
}

const char *kcsi_area_name(const kcsi_vma *v, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].end <= addr)
			lo = mid + 1;
		else if (v[mid].start > addr)
			hi = mid;
		else
			return v[mid].path ? v[mid].path : v[mid].kind;
	}
	return "?";
}
