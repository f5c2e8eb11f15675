/* kcsi — process memory from pagemap-PID.img and pages-ID.img.
 *
 * The pagemap lists runs of pages (vaddr, page count, flags); the pages
 * image holds the contents of every run that has its data in this
 * checkpoint (PE_PRESENT, not PE_PARENT), back to back in pagemap order.
 * Runs point into the archive's mapping: nothing is copied. */
#include <stdlib.h>
#include <string.h>

#include "ckpt_int.h"

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

kcsi_code ck_load_pagemap(kcsi_ckpt *c, struct proc_priv *p, kcsi_error *err)
{
	char name[64], full[600];
	const unsigned char *data;
	size_t size;
	bool present;
	kcsi_image img;
	kcsi_code rc;
	ProtobufCMessage *m;
	size_t cap = 0;

	if (p->pagemap || p->npagemap)
		return KCSI_OK;
	snprintf(name, sizeof(name), "pagemap-%u.img", p->pub.pid);
	if ((rc = ck_image_data(c, name, &data, &size, &present, err)) != KCSI_OK)
		return rc;
	if (!present)
		return KCSI_OK;
	snprintf(full, sizeof(full), "%s%s", c->prefix, name);
	if ((rc = kcsi_image_open(&img, full, data, size, kcsi_image_desc_by_name("PAGEMAP"), err)) != KCSI_OK)
		return rc;
	if ((rc = kcsi_image_next(&img, &pagemap_head__descriptor, &m, err)) != KCSI_OK)
		return rc;
	if (!m)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: no pagemap head", full);
	p->pages_id = ((PagemapHead *)m)->pages_id;
	ck_own(c, m);
	for (;;) {
		if ((rc = kcsi_image_next(&img, &pagemap_entry__descriptor, &m, err)) != KCSI_OK)
			return rc;
		if (!m)
			break;
		if (ck_own(c, m) != 0) {
			protobuf_c_message_free_unpacked(m, NULL);
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		}
		if (p->npagemap == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			ProtobufCMessage **q = realloc(p->pagemap, ncap * sizeof(*q));
			if (!q)
				return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
			p->pagemap = q;
			cap = ncap;
		}
		p->pagemap[p->npagemap++] = m;
	}
	return KCSI_OK;
}

static int cmp_run(const void *a, const void *b)
{
	const kcsi_memrun *x = a, *y = b;
	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

kcsi_code ck_load_runs(kcsi_ckpt *c, struct proc_priv *p, kcsi_error *err)
{
	char name[64], full[600];
	const unsigned char *pages = NULL;
	size_t psize = 0, off = 0;
	bool present = false;
	kcsi_code rc;

	if (p->runs_loaded)
		return KCSI_OK;
	if ((rc = ck_load_pagemap(c, p, err)) != KCSI_OK)
		return rc;
	p->runs_loaded = true;
	if (!p->npagemap)
		return KCSI_OK;
	snprintf(name, sizeof(name), "pages-%u.img", p->pages_id);
	snprintf(full, sizeof(full), "%s%s", c->prefix, name);
	if ((rc = ck_image_data(c, name, &pages, &psize, &present, err)) != KCSI_OK)
		return rc;
	p->runs = calloc(p->npagemap, sizeof(*p->runs));
	if (!p->runs)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < p->npagemap; i++) {
		const PagemapEntry *e = (const PagemapEntry *)p->pagemap[i];
		uint64_t n = entry_pages(e), len;
		if (!entry_has_data(e))
			continue;
		if (n > (UINT64_MAX / PAGE_SIZE_))
			return kcsi_error_set(err, KCSI_ERR_FORMAT, "%spagemap-%u.img: entry %zu: %llu pages",
					      c->prefix, p->pub.pid, i + 2, (unsigned long long)n);
		len = n * PAGE_SIZE_;
		if (!present)
			return kcsi_error_set(err, KCSI_ERR_FORMAT,
					      "%s: missing (pagemap-%u.img refers to it)", full, p->pub.pid);
		if (!kcsi_fits(off, len, psize))
			return kcsi_error_set(err, KCSI_ERR_FORMAT,
					      "%s: truncated: pagemap-%u.img entry %zu (vaddr 0x%llx, %llu pages) needs bytes %zu..%llu, the image has %zu",
					      full, p->pub.pid, i + 2, (unsigned long long)e->vaddr,
					      (unsigned long long)n, off, (unsigned long long)(off + len), psize);
		if (e->vaddr > UINT64_MAX - len)
			return kcsi_error_set(err, KCSI_ERR_FORMAT, "%spagemap-%u.img: entry %zu wraps the address space",
					      c->prefix, p->pub.pid, i + 2);
		p->runs[p->nruns].vaddr = e->vaddr;
		p->runs[p->nruns].len = len;
		p->runs[p->nruns].data = pages + off;
		p->nruns++;
		off += (size_t)len;
	}
	qsort(p->runs, p->nruns, sizeof(*p->runs), cmp_run);
	for (size_t i = 1; i < p->nruns; i++)
		if (p->runs[i - 1].vaddr + p->runs[i - 1].len > p->runs[i].vaddr)
			return kcsi_error_set(err, KCSI_ERR_FORMAT,
					      "%spagemap-%u.img: overlapping entries at 0x%llx", c->prefix,
					      p->pub.pid, (unsigned long long)p->runs[i].vaddr);
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
	return done;
}
