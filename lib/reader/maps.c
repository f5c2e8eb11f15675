/* kcsi — memory areas of a process (mm-PID.img vmas) with the pages the
 * checkpoint holds for each. */
#include <stdlib.h>
#include <string.h>

#include "reader/ckpt_int.h"

enum {
	VMA_AREA_STACK = 1u << 1, VMA_AREA_VSYSCALL = 1u << 2, VMA_AREA_VDSO = 1u << 3,
	VMA_AREA_HEAP = 1u << 5, VMA_FILE_PRIVATE = 1u << 6, VMA_FILE_SHARED = 1u << 7,
	VMA_ANON_SHARED = 1u << 8, VMA_AREA_SYSVIPC = 1u << 10, VMA_AREA_SOCKET = 1u << 11,
	VMA_AREA_VVAR = 1u << 12, VMA_AREA_AIORING = 1u << 13, VMA_AREA_MEMFD = 1u << 14,
};

static const char *vma_kind(kcsi_ckpt *c, const MmEntry *mm, const VmaEntry *v, const char **path)
{
	FileEntry *f;
	*path = NULL;
	if (v->status & VMA_AREA_VDSO)
		return "vdso";
	if (v->status & VMA_AREA_VVAR)
		return "vvar";
	if (v->status & VMA_AREA_VSYSCALL)
		return "vsyscall";
	if (v->status & VMA_AREA_HEAP)
		return "heap";
	if ((v->status & VMA_AREA_STACK) || (v->flags & 0x100 /* MAP_GROWSDOWN */) ||
	    (mm->mm_start_stack >= v->start && mm->mm_start_stack < v->end))
		return "stack";
	if (v->status & VMA_AREA_AIORING)
		return "aio";
	if (v->status & VMA_AREA_SYSVIPC)
		return "sysvipc";
	if (v->status & VMA_AREA_SOCKET)
		return "socket";
	if (v->status & (VMA_FILE_PRIVATE | VMA_FILE_SHARED | VMA_AREA_MEMFD)) {
		f = ck_file(c, (uint32_t)v->shmid);
		if (f) {
			*path = ck_file_path(c, f);
			if (f->type == FD_TYPES__MEMFD)
				return "memfd";
		}
		return "file";
	}
	if (v->status & VMA_ANON_SHARED)
		return "shmem";
	return "anon";
}

/* The address ranges the pagemap holds pages for, as a sorted union, with
 * the bytes held below each: pages per area by binary search. */
struct held {
	uint64_t *start, *end, *below;
	size_t n;
};

static int cmp_range(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;
	return x[0] < y[0] ? -1 : x[0] > y[0];
}

static kcsi_code held_ranges(const struct proc_priv *p, struct held *h, kcsi_error *err)
{
	uint64_t (*r)[2] = malloc((p->npagemap ? p->npagemap : 1) * sizeof(*r));
	size_t n = 0;

	memset(h, 0, sizeof(*h));
	if (!r)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	for (size_t k = 0; k < p->npagemap; k++) {
		const PagemapEntry *pe = (const PagemapEntry *)p->pagemap[k];
		uint64_t np = pe->has_nr_pages ? pe->nr_pages : pe->compat_nr_pages;
		bool data = pe->has_flags ? ((pe->flags & 4) && !(pe->flags & 1)) : !(pe->has_in_parent && pe->in_parent);
		if (!data || np == 0 || np > (UINT64_MAX - pe->vaddr) / 4096)
			continue;
		r[n][0] = pe->vaddr;
		r[n][1] = pe->vaddr + np * 4096;
		n++;
	}
	if (n > 1)
		qsort(r, n, sizeof(*r), cmp_range);
	h->start = malloc((n + 1) * sizeof(uint64_t));
	h->end = malloc((n + 1) * sizeof(uint64_t));
	h->below = malloc((n + 1) * sizeof(uint64_t));
	if (!h->start || !h->end || !h->below) {
		free(r);
		free(h->start);
		free(h->end);
		free(h->below);
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	h->below[0] = 0;
	for (size_t k = 0; k < n; k++) {
		if (h->n && r[k][0] <= h->end[h->n - 1]) { /* overlaps or touches the last: merge */
			if (r[k][1] > h->end[h->n - 1]) {
				h->below[h->n] += r[k][1] - h->end[h->n - 1];
				h->end[h->n - 1] = r[k][1];
			}
			continue;
		}
		h->start[h->n] = r[k][0];
		h->end[h->n] = r[k][1];
		h->below[h->n + 1] = h->below[h->n] + (r[k][1] - r[k][0]);
		h->n++;
	}
	free(r);
	return KCSI_OK;
}

/* Bytes of [s, e) the ranges hold. */
static uint64_t held_in(const struct held *h, uint64_t s, uint64_t e)
{
	size_t lo = 0, hi = h->n, a, b;
	uint64_t sum;
	while (lo < hi) { /* a: the first range that ends after s */
		size_t mid = lo + (hi - lo) / 2;
		if (h->end[mid] <= s)
			lo = mid + 1;
		else
			hi = mid;
	}
	a = lo;
	hi = h->n;
	while (lo < hi) { /* b: the first range that starts at or after e */
		size_t mid = lo + (hi - lo) / 2;
		if (h->start[mid] < e)
			lo = mid + 1;
		else
			hi = mid;
	}
	b = lo;
	if (a >= b)
		return 0;
	sum = h->below[b] - h->below[a];
	if (h->start[a] < s)
		sum -= s - h->start[a];
	if (h->end[b - 1] > e)
		sum -= h->end[b - 1] - e;
	return sum;
}

kcsi_code kcsi_ckpt_vmas(kcsi_ckpt *c, uint32_t pid, kcsi_vma **out, size_t *n, kcsi_error *err)
{
	struct proc_priv *p = ck_proc(c, pid);
	struct held h;
	kcsi_vma *v;
	kcsi_code rc;

	*out = NULL;
	*n = 0;
	if (!p)
		return kcsi_error_set(err, KCSI_ERR_NOTFOUND, "no process with pid %u in the checkpoint", pid);
	if (!p->mm || p->mm->n_vmas == 0)
		return KCSI_OK;
	if ((rc = ck_load_pagemap(c, p, err)) != KCSI_OK)
		return rc;
	v = calloc(p->mm->n_vmas, sizeof(*v));
	if (!v || (rc = held_ranges(p, &h, err)) != KCSI_OK) {
		free(v);
		return v ? rc : kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < p->mm->n_vmas; i++) {
		const VmaEntry *e = p->mm->vmas[i];
		kcsi_vma *d = &v[i];
		d->start = e->start;
		d->end = e->end;
		d->pgoff = e->pgoff;
		d->prot = e->prot;
		d->flags = e->flags;
		d->status = e->status;
		d->prot_text[0] = e->prot & 1 ? 'r' : '-';
		d->prot_text[1] = e->prot & 2 ? 'w' : '-';
		d->prot_text[2] = e->prot & 4 ? 'x' : '-';
		d->prot_text[3] = e->flags & 1 ? 's' : 'p'; /* MAP_SHARED */
		d->prot_text[4] = '\0';
		d->kind = vma_kind(c, p->mm, e, &d->path);
		/* pages held: pagemap runs with data that overlap the area */
		d->pages = e->end > e->start ? held_in(&h, e->start, e->end) / 4096 : 0;
	}
	free(h.start);
	free(h.end);
	free(h.below);
	*out = v;
	*n = p->mm->n_vmas;
	return KCSI_OK;
}
