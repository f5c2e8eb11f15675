/* kcsi — memory areas of a process (mm-PID.img vmas) with the pages the
 * checkpoint holds for each. */
#include <stdlib.h>
#include <string.h>

#include "ckpt_int.h"

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

kcsi_code kcsi_ckpt_vmas(kcsi_ckpt *c, uint32_t pid, kcsi_vma **out, size_t *n, kcsi_error *err)
{
	struct proc_priv *p = ck_proc(c, pid);
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
	if (!v)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
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
		for (size_t k = 0; k < p->npagemap; k++) {
			const PagemapEntry *pe = (const PagemapEntry *)p->pagemap[k];
			uint64_t np = pe->has_nr_pages ? pe->nr_pages : pe->compat_nr_pages;
			uint64_t s = pe->vaddr, end, lo, hi;
			bool data = pe->has_flags ? ((pe->flags & 4) && !(pe->flags & 1))
						  : !(pe->has_in_parent && pe->in_parent);
			if (!data || np > (UINT64_MAX - s) / 4096)
				continue;
			end = s + np * 4096;
			lo = s > e->start ? s : e->start;
			hi = end < e->end ? end : e->end;
			if (hi > lo)
				d->pages += (hi - lo) / 4096;
		}
	}
	*out = v;
	*n = p->mm->n_vmas;
	return KCSI_OK;
}
