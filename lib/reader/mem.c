/* kcsi — process memory from pagemap-PID.img and pages-ID.img.
 *
 * The pagemap lists runs of pages (vaddr, page count, flags); the pages
 * image holds the contents of every run that has its data in this
 * checkpoint (PE_PRESENT, not PE_PARENT), back to back in pagemap order.
 * Runs point into the archive's mapping: nothing is copied. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reader/ckpt_int.h"
#include "base/safeout.h"

#define PAGE_SIZE_ 4096ull
#define PE_PARENT_ (1u << 0)
#define PE_LAZY_ (1u << 1)
#define PE_PRESENT_ (1u << 2)

static uint64_t entry_pages(const PagemapEntry *e)
{
	return e->has_nr_pages ? e->nr_pages : e->compat_nr_pages;
}

/* Does this pagemap entry have its bytes in the pages image? */
static bool entry_has_data(const PagemapEntry *e)
{
	if (e->has_flags)
		return (e->flags & PE_PRESENT_) && !(e->flags & PE_PARENT_);
	return !(e->has_in_parent && e->in_parent);
}

/* Read a pagemap image (pagemap-PID.img or pagemap-shmem-ID.img): its
 * pages id and entries (the checkpoint's, decoded once). */
static kcsi_code read_pagemap(kcsi_ckpt *c, const char *name, ProtobufCMessage ***out, size_t *n,
			      uint32_t *pages_id, bool *present, kcsi_error *err)
{
	char full[600];
	ProtobufCMessage **all;
	size_t nall;
	kcsi_code rc;

	*out = NULL;
	*n = 0;
	snprintf(full, sizeof(full), "%s%s", c->prefix, name);
	*present = kcsi_archive_find(c->ar, full) != NULL;
	if (!*present)
		return KCSI_OK;
	if ((rc = ck_read_all(c, name, "PAGEMAP", &all, &nall, err)) != KCSI_OK)
		return rc;
	if (nall == 0)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: no pagemap head", full);
	*pages_id = ((PagemapHead *)all[0])->pages_id;
	*out = all + 1;
	*n = nall - 1;
	return KCSI_OK;
}

static int cmp_run(const void *a, const void *b)
{
	const kcsi_memrun *x = a, *y = b;
	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/* Turn pagemap entries into runs pointing at the pages image.  Runs that
 * are adjacent in memory and in the pages image are merged, so a scan sees
 * contiguous memory as one block. */
static kcsi_code build_runs(kcsi_ckpt *c, const char *pmname, ProtobufCMessage **pm, size_t npm,
			    uint32_t pages_id, kcsi_memrun **out, size_t *nout, kcsi_error *err)
{
	char name[64], full[600];
	const unsigned char *pages = NULL;
	size_t psize = 0, off = 0, nr = 0;
	bool present = false;
	kcsi_memrun *runs;
	kcsi_code rc;

	*out = NULL;
	*nout = 0;
	if (!npm)
		return KCSI_OK;
	snprintf(name, sizeof(name), "pages-%u.img", pages_id);
	snprintf(full, sizeof(full), "%s%s", c->prefix, name);
	if ((rc = ck_image_data(c, name, &pages, &psize, &present, err)) != KCSI_OK)
		return rc;
	runs = calloc(npm, sizeof(*runs));
	if (!runs)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < npm; i++) {
		const PagemapEntry *e = (const PagemapEntry *)pm[i];
		uint64_t n = entry_pages(e), len;
		if (!entry_has_data(e))
			continue;
		if (n > (UINT64_MAX / PAGE_SIZE_) || e->vaddr > UINT64_MAX - n * PAGE_SIZE_) {
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s%s: entry %zu: %llu pages at 0x%llx wrap the address space",
					    c->prefix, pmname, i + 2, (unsigned long long)n, (unsigned long long)e->vaddr);
			goto fail;
		}
		len = n * PAGE_SIZE_;
		if (!present) {
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: missing (%s refers to it)", full, pmname);
			goto fail;
		}
		if (!kcsi_fits(off, len, psize)) {
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT,
					    "%s: truncated: %s entry %zu (vaddr 0x%llx, %llu pages) needs bytes %zu..%llu, the image has %zu",
					    full, pmname, i + 2, (unsigned long long)e->vaddr, (unsigned long long)n, off,
					    (unsigned long long)(off + len), psize);
			goto fail;
		}
		if (nr && runs[nr - 1].vaddr + runs[nr - 1].len == e->vaddr &&
		    runs[nr - 1].data + runs[nr - 1].len == pages + off) {
			runs[nr - 1].len += len;
		} else {
			runs[nr].vaddr = e->vaddr;
			runs[nr].len = len;
			runs[nr].data = pages + off;
			nr++;
		}
		off += (size_t)len;
	}
	if (nr > 1)
		qsort(runs, nr, sizeof(*runs), cmp_run);
	for (size_t i = 1; i < nr; i++)
		if (runs[i - 1].vaddr + runs[i - 1].len > runs[i].vaddr) {
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s%s: overlapping entries at 0x%llx", c->prefix,
					    pmname, (unsigned long long)runs[i].vaddr);
			goto fail;
		}
	*out = runs;
	*nout = nr;
	return KCSI_OK;
fail:
	free(runs);
	return rc;
}

kcsi_code ck_load_pagemap(kcsi_ckpt *c, struct proc_priv *p, kcsi_error *err)
{
	if (!p->pagemap_once.done) {
		char name[64];
		bool present;
		kcsi_error e;
		kcsi_code rc;
		kcsi_error_clear(&e);
		snprintf(name, sizeof(name), "pagemap-%u.img", p->pub.pid);
		rc = read_pagemap(c, name, &p->pagemap, &p->npagemap, &p->pages_id, &present, &e);
		if (rc != KCSI_OK) {
			p->pagemap = NULL;
			p->npagemap = 0;
		}
		ck_once_store(&p->pagemap_once, rc, &e, NULL);
	}
	return ck_once_replay(&p->pagemap_once, err);
}

kcsi_code ck_load_runs(kcsi_ckpt *c, struct proc_priv *p, kcsi_error *err)
{
	if (!p->runs_once.done) {
		char name[64];
		kcsi_error e;
		kcsi_code rc;
		kcsi_error_clear(&e);
		snprintf(name, sizeof(name), "pagemap-%u.img", p->pub.pid);
		rc = ck_load_pagemap(c, p, &e);
		if (rc == KCSI_OK)
			rc = build_runs(c, name, p->pagemap, p->npagemap, p->pages_id, &p->runs, &p->nruns, &e);
		ck_once_store(&p->runs_once, rc, &e, NULL);
	}
	return ck_once_replay(&p->runs_once, err);
}

static int cmp_shmem(const void *a, const void *b)
{
	const struct ck_shmem *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The id of a pagemap-shmem-ID.img name written as CRIU writes it (decimal,
 * no leading zero); false for any other name. */
static bool shmem_image_id(const char *name, uint64_t *id)
{
	static const char head[] = "pagemap-shmem-";
	char canon[64];
	unsigned long long v = 0;
	const char *p;

	if (strncmp(name, head, sizeof(head) - 1) != 0)
		return false;
	p = name + sizeof(head) - 1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (unsigned)(*p - '0')) / 10)
			return false;
		v = v * 10 + (unsigned)(*p - '0');
	}
	snprintf(canon, sizeof(canon), "%s%llu.img", head, v);
	if (strcmp(canon, name) != 0)
		return false;
	*id = v;
	return true;
}

/* Every shared memory image of the checkpoint, by id (made once). */
static kcsi_code index_shmem(kcsi_ckpt *c, kcsi_error *err)
{
	size_t plen = strlen(c->prefix), cap = 0;
	kcsi_error e;
	kcsi_code rc = KCSI_OK;

	if (c->shmem_once.done)
		return ck_once_replay(&c->shmem_once, err);
	kcsi_error_clear(&e);
	for (size_t i = 0; i < kcsi_archive_count(c->ar); i++) {
		const kcsi_member *m = kcsi_archive_at(c->ar, i);
		uint64_t id;
		if (m->is_dir || strncmp(m->name, c->prefix, plen) != 0 || !shmem_image_id(m->name + plen, &id))
			continue;
		if (c->nshmem == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct ck_shmem *q = realloc(c->shmem, ncap * sizeof(*q));
			if (!q) {
				rc = kcsi_error_set(&e, KCSI_ERR_NOMEM, "out of memory");
				break;
			}
			c->shmem = q;
			cap = ncap;
		}
		c->shmem[c->nshmem++] = (struct ck_shmem){.id = id, .name = m->name + plen};
	}
	if (c->nshmem > 1)
		qsort(c->shmem, c->nshmem, sizeof(*c->shmem), cmp_shmem);
	return ck_once_store(&c->shmem_once, rc, &e, err);
}

kcsi_code kcsi_ckpt_shmem(kcsi_ckpt *c, uint64_t shmid, const kcsi_memrun **runs, size_t *n,
			  kcsi_error *err)
{
	struct ck_shmem key = {.id = shmid}, *s;
	kcsi_code rc;

	*runs = NULL;
	*n = 0;
	if ((rc = index_shmem(c, err)) != KCSI_OK)
		return rc;
	s = c->nshmem ? bsearch(&key, c->shmem, c->nshmem, sizeof(*c->shmem), cmp_shmem) : NULL;
	if (!s)
		return kcsi_error_set(err, KCSI_ERR_NOTFOUND, "%spagemap-shmem-%llu.img: not in the checkpoint",
				      c->prefix, (unsigned long long)shmid);
	if (!s->once.done) {
		ProtobufCMessage **pm;
		size_t npm;
		uint32_t pages_id = 0;
		bool present;
		kcsi_error e;
		kcsi_error_clear(&e);
		rc = read_pagemap(c, s->name, &pm, &npm, &pages_id, &present, &e);
		if (rc == KCSI_OK)
			rc = build_runs(c, s->name, pm, npm, pages_id, &s->runs, &s->n, &e);
		ck_once_store(&s->once, rc, &e, NULL);
	}
	if ((rc = ck_once_replay(&s->once, err)) != KCSI_OK)
		return rc;
	*runs = s->runs;
	*n = s->n;
	return KCSI_OK;
}

kcsi_code kcsi_ckpt_memory(kcsi_ckpt *c, uint32_t pid, const kcsi_memrun **runs, size_t *n,
			   kcsi_error *err)
{
	struct proc_priv *p = ck_proc(c, pid);
	kcsi_code rc;
	*runs = NULL;
	*n = 0;
	if (!p)
		return kcsi_error_set(err, KCSI_ERR_NOTFOUND, "no process with pid %u in the checkpoint", pid);
	if ((rc = ck_load_runs(c, p, err)) != KCSI_OK)
		return rc;
	*runs = p->runs;
	*n = p->nruns;
	return KCSI_OK;
}

size_t kcsi_ckpt_read(kcsi_ckpt *c, uint32_t pid, uint64_t addr, void *buf, size_t len)
{
	struct proc_priv *p = ck_proc(c, pid);
	size_t done = 0;
	size_t lo = 0, hi;

	if (!p || ck_load_runs(c, p, NULL) != KCSI_OK || !p->nruns)
		return 0;
	hi = p->nruns;
	/* last run with vaddr <= addr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->runs[mid].vaddr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return 0;
	for (size_t i = lo - 1; i < p->nruns && done < len; i++) {
		const kcsi_memrun *r = &p->runs[i];
		uint64_t at = addr + done, k;
		if (at < r->vaddr || at >= r->vaddr + r->len)
			break;
		k = r->vaddr + r->len - at;
		if (k > len - done)
			k = len - done;
		memcpy((char *)buf + done, r->data + (at - r->vaddr), (size_t)k);
		done += (size_t)k;
	}
	if (kcsi_archive_check(c->ar, NULL) != KCSI_OK)
		return 0; /* read while the archive shrank: not its bytes */
	return done;
}

/* ---- writing memory out: sparse files and their hashes ---- */

static void put_le64(EVP_MD_CTX *ctx, uint64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	EVP_DigestUpdate(ctx, b, sizeof(b));
}

static void digest_hex(EVP_MD_CTX *ctx, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_DigestFinal_ex(ctx, md, &len);
	for (unsigned i = 0; i < len && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* Zeros from pos up to off into the whole-file hash, while the budget lasts. */
static void hash_hole(struct ck_sparse *s, uint64_t off)
{
	static const unsigned char zeros[1 << 16];
	uint64_t n = off - s->pos;
	if (!s->full || n == 0)
		return;
	if (n > *s->budget) { /* too big to hash byte by byte: give the whole-file hash up */
		EVP_MD_CTX_free(s->full);
		s->full = NULL;
		return;
	}
	*s->budget -= n;
	while (n > 0) {
		size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
		EVP_DigestUpdate(s->full, zeros, k);
		n -= k;
	}
}

static void end_run(struct ck_sparse *s)
{
	if (s->run_open) {
		put_le64(s->extents, s->run_start);
		put_le64(s->extents, s->pos - s->run_start);
		s->run_open = false;
	}
}

kcsi_code ck_sparse_open(struct ck_sparse *s, int fd, const char *what, uint64_t size, uint64_t *budget,
			 kcsi_error *err)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->what = what;
	s->size = size;
	s->budget = budget;
	if (size > (uint64_t)INT64_MAX)
		return kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: %llu bytes: too large for a file", what,
				      (unsigned long long)size);
	s->full = EVP_MD_CTX_new();
	s->extents = EVP_MD_CTX_new();
	if (!s->full || !s->extents) {
		EVP_MD_CTX_free(s->full);
		EVP_MD_CTX_free(s->extents);
		s->full = s->extents = NULL;
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	EVP_DigestInit_ex(s->full, EVP_sha256(), NULL);
	EVP_DigestInit_ex(s->extents, EVP_sha256(), NULL);
	return KCSI_OK;
}

kcsi_code ck_sparse_write(struct ck_sparse *s, uint64_t off, const void *p, uint64_t len, kcsi_error *err)
{
	kcsi_code rc;
	if (off < s->pos) { /* already written from an overlapping source */
		uint64_t skip = s->pos - off;
		if (skip >= len)
			return KCSI_OK;
		off += skip;
		p = (const unsigned char *)p + skip;
		len -= skip;
	}
	if (len == 0)
		return KCSI_OK;
	if (off > s->size || len > s->size - off)
		return kcsi_error_set(err, KCSI_ERR_GENERIC, "%s: %llu bytes at offset %llu run past its size %llu",
				      s->what, (unsigned long long)len, (unsigned long long)off,
				      (unsigned long long)s->size);
	if (off > s->pos)
		end_run(s);
	hash_hole(s, off);
	if ((rc = kcsi_write_at(s->fd, p, (size_t)len, off, s->what, err)) != KCSI_OK)
		return rc;
	if (s->full)
		EVP_DigestUpdate(s->full, p, (size_t)len);
	EVP_DigestUpdate(s->extents, p, (size_t)len);
	if (!s->run_open) {
		s->run_open = true;
		s->run_start = off;
	}
	s->pos = off + len;
	s->held += len;
	return KCSI_OK;
}

kcsi_code ck_sparse_close(struct ck_sparse *s, char sha256[65], char extents_sha256[65], kcsi_error *err)
{
	kcsi_code rc = KCSI_OK;
	sha256[0] = extents_sha256[0] = '\0';
	if (!s->extents) /* open failed */
		return KCSI_OK;
	end_run(s);
	hash_hole(s, s->size);
	put_le64(s->extents, s->size);
	if (ftruncate(s->fd, (off_t)s->size) != 0)
		rc = kcsi_error_set(err, errno == EFBIG || errno == ENOSPC ? KCSI_ERR_LIMIT : KCSI_ERR_IO,
				    "%s: setting its size to %llu bytes: %s", s->what, (unsigned long long)s->size,
				    strerror(errno));
	if (s->full)
		digest_hex(s->full, sha256);
	digest_hex(s->extents, extents_sha256);
	EVP_MD_CTX_free(s->full);
	EVP_MD_CTX_free(s->extents);
	s->full = s->extents = NULL;
	return rc;
}
