/* kcsi — raw memory areas and ELF core files from a checkpoint.
 * See include/kcsi/dump.h. */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/procfs.h>
#include <unistd.h>

#include "reader/ckpt_int.h"
#include "kcsi/dump.h"
#include "base/safeout.h"

#define PG 4096ull

/* The pieces of memory (sorted by address) with, for each, the largest end
 * among it and those before it: the first piece that reaches past an
 * address is found by binary search. */
struct pieces {
	const struct ck_piece *pc;
	uint64_t *reach;
	size_t n;
};

static kcsi_code pieces_index(struct pieces *x, const struct ck_piece *pc, size_t n, kcsi_error *err)
{
	x->pc = pc;
	x->n = n;
	x->reach = malloc((n ? n : 1) * sizeof(*x->reach));
	if (!x->reach)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		uint64_t end = pc[i].addr + pc[i].len;
		x->reach[i] = i && x->reach[i - 1] > end ? x->reach[i - 1] : end;
	}
	return KCSI_OK;
}

/* Index of the first piece that ends after addr (n when none). */
static size_t first_piece(const struct pieces *x, uint64_t addr)
{
	size_t lo = 0, hi = x->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (x->reach[mid] <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Does the checkpoint hold any byte of [start, end)? */
static bool holds(const struct pieces *x, uint64_t start, uint64_t end)
{
	for (size_t i = first_piece(x, start); i < x->n && x->pc[i].addr < end; i++)
		if (x->pc[i].addr + x->pc[i].len > start)
			return true;
	return false;
}

/* The held bytes of [start, end) into the file at base + (addr - start). */
static kcsi_code write_range(struct ck_sparse *f, const struct pieces *x, uint64_t start, uint64_t end,
			     uint64_t base, kcsi_error *err)
{
	for (size_t i = first_piece(x, start); i < x->n && x->pc[i].addr < end; i++) {
		uint64_t lo = x->pc[i].addr, hi = x->pc[i].addr + x->pc[i].len;
		kcsi_code rc;
		if (hi <= start)
			continue;
		if (lo < start) lo = start;
		if (hi > end) hi = end;
		rc = ck_sparse_write(f, base + (lo - start), x->pc[i].p + (lo - x->pc[i].addr), hi - lo, err);
		if (rc != KCSI_OK)
			return rc;
	}
	return KCSI_OK;
}

/* Finish a written file and list it. */
static kcsi_code add_file(kcsi_dump_file **v, size_t *n, const char *rel, uint64_t s, uint64_t e,
			  struct ck_sparse *f, kcsi_code rc, kcsi_error *err)
{
	kcsi_dump_file d = {NULL, s, e, f->held, "", ""};
	kcsi_code rc2 = ck_sparse_close(f, d.sha256, d.extents_sha256, rc == KCSI_OK ? err : NULL);
	kcsi_dump_file *q;
	if (rc != KCSI_OK || rc2 != KCSI_OK)
		return rc != KCSI_OK ? rc : rc2;
	if (!(q = realloc(*v, (*n + 1) * sizeof(*q))) || !(d.file = strdup(rel))) {
		if (q)
			*v = q;
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	*v = q;
	q[(*n)++] = d;
	return KCSI_OK;
}

/* ---- ELF notes ---- */

struct notes {
	unsigned char *p;
	size_t len, cap;
};

static int note(struct notes *nb, uint32_t type, const char *name, const void *desc, size_t dlen)
{
	size_t nlen = strlen(name) + 1;
	size_t need = sizeof(Elf64_Nhdr) + ((nlen + 3) & ~3u) + ((dlen + 3) & ~3u);
	Elf64_Nhdr h = {(Elf64_Word)nlen, (Elf64_Word)dlen, type};
	if (nb->len + need > nb->cap) {
		size_t nc = (nb->cap ? nb->cap * 2 : 4096) + need;
		unsigned char *q = realloc(nb->p, nc);
		if (!q)
			return -1;
		nb->p = q;
		nb->cap = nc;
	}
	memset(nb->p + nb->len, 0, need);
	memcpy(nb->p + nb->len, &h, sizeof(h));
	memcpy(nb->p + nb->len + sizeof(h), name, nlen);
	memcpy(nb->p + nb->len + sizeof(h) + ((nlen + 3) & ~3u), desc, dlen);
	nb->len += need;
	return 0;
}

static void regs_from(const UserX86RegsEntry *g, elf_gregset_t r)
{
	/* user_regs_struct order (sys/user.h) */
	const uint64_t v[] = {g->r15, g->r14, g->r13, g->r12, g->bp, g->bx, g->r11, g->r10, g->r9,
			      g->r8, g->ax, g->cx, g->dx, g->si, g->di, g->orig_ax, g->ip, g->cs,
			      g->flags, g->sp, g->ss, g->fs_base, g->gs_base, g->ds, g->es, g->fs, g->gs};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]) && i < ELF_NGREG; i++)
		r[i] = (elf_greg_t)v[i];
}

static kcsi_code build_notes(kcsi_ckpt *c, struct proc_priv *p, struct notes *nb, kcsi_error *err)
{
	const kcsi_proc *pub = &p->pub;
	struct elf_prpsinfo ps;
	kcsi_buf files;

	for (uint32_t t = 0; t < pub->nthreads; t++) {
		uint32_t tid = pub->tids[t];
		CoreEntry *core = p->core;
		struct elf_prstatus st;
		char name[64];
		if (tid != pub->pid) {
			ProtobufCMessage *m;
			kcsi_code rc;
			snprintf(name, sizeof(name), "core-%u.img", tid);
			if ((rc = ck_read_one(c, name, "CORE", &m, err)) != KCSI_OK)
				return rc;
			core = (CoreEntry *)m;
		}
		if (!core || !core->thread_info || !core->thread_info->gpregs)
			return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED,
					      "%score-%u.img: no x86-64 registers (ELF cores are written for x86-64 only)",
					      c->prefix, tid);
		memset(&st, 0, sizeof(st));
		st.pr_pid = (int)tid;
		st.pr_ppid = (int)pub->ppid;
		st.pr_pgrp = (int)pub->pgid;
		st.pr_sid = (int)pub->sid;
		regs_from(core->thread_info->gpregs, st.pr_reg);
		if (note(nb, NT_PRSTATUS, "CORE", &st, sizeof(st)) != 0)
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		if (core->thread_info->fpregs) {
			const UserX86FpregsEntry *f = core->thread_info->fpregs;
			struct user_fpregs_struct fp;
			memset(&fp, 0, sizeof(fp));
			fp.cwd = (unsigned short)f->cwd;
			fp.swd = (unsigned short)f->swd;
			fp.ftw = (unsigned short)f->twd;
			fp.fop = (unsigned short)f->fop;
			fp.rip = f->rip;
			fp.rdp = f->rdp;
			fp.mxcsr = f->mxcsr;
			fp.mxcr_mask = f->mxcsr_mask;
			for (size_t i = 0; i < f->n_st_space && i < 32; i++)
				fp.st_space[i] = f->st_space[i];
			for (size_t i = 0; i < f->n_xmm_space && i < 64; i++)
				fp.xmm_space[i] = f->xmm_space[i];
			if (note(nb, NT_FPREGSET, "CORE", &fp, sizeof(fp)) != 0)
				return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		}
	}
	memset(&ps, 0, sizeof(ps));
	ps.pr_state = 0;
	ps.pr_sname = pub->state == 6 ? 'Z' : pub->state == 3 ? 'T' : 'S';
	ps.pr_uid = pub->uid;
	ps.pr_gid = pub->gid;
	ps.pr_pid = (int)pub->pid;
	ps.pr_ppid = (int)pub->ppid;
	ps.pr_pgrp = (int)pub->pgid;
	ps.pr_sid = (int)pub->sid;
	snprintf(ps.pr_fname, sizeof(ps.pr_fname), "%s", pub->comm);
	{
		size_t o = 0;
		for (size_t i = 0; i < pub->argc && o + 1 < sizeof(ps.pr_psargs); i++) {
			int w = snprintf(ps.pr_psargs + o, sizeof(ps.pr_psargs) - o, "%s%s", i ? " " : "", pub->argv[i]);
			if (w < 0)
				break;
			o += (size_t)w;
		}
	}
	if (note(nb, NT_PRPSINFO, "CORE", &ps, sizeof(ps)) != 0)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	if (p->mm && p->mm->n_mm_saved_auxv &&
	    note(nb, NT_AUXV, "CORE", p->mm->mm_saved_auxv, p->mm->n_mm_saved_auxv * sizeof(uint64_t)) != 0)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	/* NT_FILE: the mapped files, so gdb finds the shared libraries */
	kcsi_buf_init(&files, 16u << 20);
	if (p->mm) {
		uint64_t count = 0, page = PG;
		kcsi_buf names, tab;
		kcsi_buf_init(&names, 16u << 20);
		kcsi_buf_init(&tab, 16u << 20);
		for (size_t i = 0; i < p->mm->n_vmas; i++) {
			const VmaEntry *v = p->mm->vmas[i];
			FileEntry *f;
			uint64_t t[3];
			if (!(v->status & ((1u << 6) | (1u << 7))))
				continue;
			f = ck_file(c, (uint32_t)v->shmid);
			if (!f || f->type != FD_TYPES__REG || !f->reg || !f->reg->name)
				continue;
			t[0] = v->start;
			t[1] = v->end;
			t[2] = v->pgoff / PG;
			kcsi_buf_add(&tab, t, sizeof(t));
			kcsi_buf_add(&names, f->reg->name, strlen(f->reg->name) + 1);
			count++;
		}
		kcsi_buf_add(&files, &count, 8);
		kcsi_buf_add(&files, &page, 8);
		kcsi_buf_add(&files, tab.data ? tab.data : "", tab.len);
		kcsi_buf_add(&files, names.data ? names.data : "", names.len);
		kcsi_buf_free(&names);
		kcsi_buf_free(&tab);
		if (count && note(nb, NT_FILE, "CORE", files.data, files.len) != 0) {
			kcsi_buf_free(&files);
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		}
	}
	kcsi_buf_free(&files);
	return KCSI_OK;
}

static kcsi_code write_core(kcsi_ckpt *c, struct proc_priv *p, const struct pieces *x, kcsi_outdir *d,
			    const char *rel, uint64_t *budget, kcsi_dump_file **files, size_t *nfiles,
			    kcsi_error *err)
{
	struct notes nb = {0};
	size_t nv = p->mm ? p->mm->n_vmas : 0;
	Elf64_Ehdr eh;
	Elf64_Phdr *ph;
	uint64_t off;
	struct ck_sparse f;
	kcsi_code rc;
	int fd;

	if ((rc = build_notes(c, p, &nb, err)) != KCSI_OK) {
		free(nb.p);
		return rc;
	}
	ph = calloc(nv + 1, sizeof(*ph));
	if (!ph) {
		free(nb.p);
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	memset(&eh, 0, sizeof(eh));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
	eh.e_type = ET_CORE;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = (Elf64_Half)(nv + 1);
	off = sizeof(eh) + (nv + 1) * sizeof(Elf64_Phdr);
	ph[0] = (Elf64_Phdr){.p_type = PT_NOTE, .p_offset = off, .p_filesz = nb.len, .p_align = 4};
	off = (off + nb.len + PG - 1) & ~(PG - 1);
	for (size_t i = 0; i < nv; i++) {
		const VmaEntry *v = p->mm->vmas[i];
		bool held = v->end > v->start && holds(x, v->start, v->end);
		ph[i + 1] = (Elf64_Phdr){
			.p_type = PT_LOAD,
			.p_flags = (v->prot & 1 ? PF_R : 0) | (v->prot & 2 ? PF_W : 0) | (v->prot & 4 ? PF_X : 0),
			.p_offset = off, .p_vaddr = v->start, .p_memsz = v->end - v->start,
			.p_filesz = held ? v->end - v->start : 0, .p_align = PG};
		if (ph[i + 1].p_filesz > (uint64_t)INT64_MAX - off) {
			free(ph);
			free(nb.p);
			return kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: the memory areas add up to more than a file can hold",
					      rel);
		}
		off += ph[i + 1].p_filesz;
	}
	fd = kcsi_outdir_create(d, rel, err);
	if (fd < 0) {
		free(ph);
		free(nb.p);
		return err->code;
	}
	if ((rc = ck_sparse_open(&f, fd, rel, off, budget, err)) == KCSI_OK &&
	    (rc = ck_sparse_write(&f, 0, &eh, sizeof(eh), err)) == KCSI_OK &&
	    (rc = ck_sparse_write(&f, sizeof(eh), ph, (nv + 1) * sizeof(*ph), err)) == KCSI_OK &&
	    (rc = ck_sparse_write(&f, ph[0].p_offset, nb.p, nb.len, err)) == KCSI_OK) {
		for (size_t i = 0; i < nv && rc == KCSI_OK; i++)
			if (ph[i + 1].p_filesz)
				rc = write_range(&f, x, p->mm->vmas[i]->start, p->mm->vmas[i]->end, ph[i + 1].p_offset,
						 err);
	}
	rc = add_file(files, nfiles, rel, 0, 0, &f, rc, err);
	close(fd);
	free(ph);
	free(nb.p);
	return rc;
}

kcsi_code kcsi_dump(kcsi_ckpt *c, const kcsi_dump_opts *o, kcsi_dump_file **files, size_t *n, kcsi_error *err)
{
	struct proc_priv *p = ck_proc(c, o->pid);
	struct ck_piece *pc = NULL;
	struct pieces x = {0};
	size_t npc = 0;
	kcsi_outdir d;
	kcsi_code rc;
	kcsi_vma *v = NULL;
	size_t nv = 0;
	bool any = false;
	uint64_t budget = CK_HOLE_HASH_BUDGET; /* holes hashed byte by byte, for all files */

	*files = NULL;
	*n = 0;
	if (!p)
		return kcsi_error_set(err, KCSI_ERR_NOTFOUND, "no process with pid %u in the checkpoint", o->pid);
	if (!p->mm)
		return kcsi_error_set(err, KCSI_ERR_NOTFOUND, "pid %u has no memory in the checkpoint", o->pid);
	if ((rc = ck_mem_pieces(c, p, &pc, &npc, err)) != KCSI_OK ||
	    (rc = pieces_index(&x, pc, npc, err)) != KCSI_OK ||
	    (rc = kcsi_ckpt_vmas(c, o->pid, &v, &nv, err)) != KCSI_OK) {
		free(x.reach);
		free(pc);
		return rc;
	}
	if ((rc = kcsi_outdir_open(&d, o->out_dir, o->force, err)) != KCSI_OK) {
		free(x.reach);
		free(pc);
		free(v);
		return rc;
	}
	for (size_t i = 0; i < nv && rc == KCSI_OK; i++) {
		char rel[600], name[256] = "";
		struct ck_sparse f;
		int fd;
		if (o->area && (o->area < v[i].start || o->area >= v[i].end))
			continue;
		any = true;
		if (v[i].path) {
			const char *b = strrchr(v[i].path, '/');
			snprintf(name, sizeof(name), "_%s", b ? b + 1 : v[i].path);
			for (char *q = name; *q; q++)
				if (*q == '/' || *q == ':' || (unsigned char)*q < 32)
					*q = '_';
		}
		snprintf(rel, sizeof(rel), "pid-%u/areas/%012llx-%012llx_%s_%s%s.bin", o->pid,
			 (unsigned long long)v[i].start, (unsigned long long)v[i].end, v[i].prot_text, v[i].kind, name);
		if (v[i].end < v[i].start) {
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: the area ends before it starts", rel);
			break;
		}
		fd = kcsi_outdir_create(&d, rel, err);
		if (fd < 0) {
			rc = err->code;
			break;
		}
		if ((rc = ck_sparse_open(&f, fd, rel, v[i].end - v[i].start, &budget, err)) == KCSI_OK)
			rc = write_range(&f, &x, v[i].start, v[i].end, 0, err);
		rc = add_file(files, n, rel, v[i].start, v[i].end, &f, rc, err);
		close(fd);
	}
	if (rc == KCSI_OK && o->area && !any)
		rc = kcsi_error_set(err, KCSI_ERR_NOTFOUND, "pid %u has no memory area at 0x%llx", o->pid,
				    (unsigned long long)o->area);
	if (rc == KCSI_OK && o->core) {
		char rel[64];
		snprintf(rel, sizeof(rel), "pid-%u/core", o->pid);
		rc = write_core(c, p, &x, &d, rel, &budget, files, n, err);
	}
	/* what was written came from the archive as it is now, or not at all */
	if (kcsi_archive_check(kcsi_ckpt_archive(c), rc == KCSI_OK ? err : NULL) != KCSI_OK && rc == KCSI_OK)
		rc = err ? err->code : KCSI_ERR_IO;
	kcsi_outdir_close(&d);
	free(x.reach);
	free(pc);
	free(v);
	return rc;
}

void kcsi_dump_files_free(kcsi_dump_file *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(f[i].file);
	free(f);
}
