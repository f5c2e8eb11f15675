/* kcsi — triage rules on memory areas: executable memory no file backs (or
 * writable and executable), where injected or unpacked code lives, and
 * executable file mappings whose pages were written (patched code). */
#include <stdlib.h>
#include <string.h>

#include "triage/analyze_int.h"

static bool first_exec_file(const az_proc *pm, const kcsi_vma *v)
{
	for (size_t k = 0; k < pm->nvmas; k++)
		if ((pm->vmas[k].prot & 4) && !strcmp(pm->vmas[k].kind, "file"))
			return &pm->vmas[k] == v;
	return false;
}

/* KCSI-INJECT-001: one finding per process, an evidence item per area */
static kcsi_finding *anon_exec(az *a, const az_proc *pm, const kcsi_vma *v, kcsi_finding *f)
{
	kcsi_evidence *e;
	if (!f)
		f = az_finding(a, "KCSI-INJECT-001", KCSI_SEV_MEDIUM,
			       az_printf("Process %u has executable anonymous or writable memory", pm->pid),
			       az_printf("Memory of process %u that is executable but backed by no file (or both writable "
					 "and executable) can hold injected or unpacked code. JIT runtimes also make such "
					 "memory.", pm->pid),
			       "T1055 T1027.002");
	if ((e = az_evidence(f, "memory", pm->pid, -1))) {
		e->address = v->start;
		e->has_address = true;
		e->area = az_printf("%s %c%c%c %llu bytes", v->kind, v->prot & 1 ? 'r' : '-', v->prot & 2 ? 'w' : '-', 'x',
				    (unsigned long long)(v->end - v->start));
		e->command = az_printf("kcsi dump --pid %u --area 0x%llx --out DIR ARCHIVE", pm->pid,
				       (unsigned long long)v->start);
	}
	return f;
}

/* KCSI-INJECT-003: one finding per process, an evidence item per mapping */
static kcsi_finding *patched_code(az *a, const az_proc *pm, const kcsi_vma *v, kcsi_finding *g)
{
	kcsi_evidence *e;
	if (!g)
		g = az_finding(a, "KCSI-INJECT-003", KCSI_SEV_MEDIUM,
			       az_printf("Process %u changed executable code of a mapped file", pm->pid),
			       az_printf("Pages of an executable file mapping of process %u differ from the file (the "
					 "checkpoint holds only pages that were written): code was patched in memory.",
					 pm->pid),
			       "T1055");
	if ((e = az_evidence(g, "memory", pm->pid, -1))) {
		e->address = v->start;
		e->has_address = true;
		e->path = az_strdup(v->path);
		e->area = az_printf("%llu of %llu pages written", (unsigned long long)v->pages,
				    (unsigned long long)((v->end - v->start) / 4096));
	}
	return g;
}

void az_family_memory_areas(az *a)
{
	for (size_t i = 0; i < a->npm; i++) {
		const az_proc *pm = &a->pm[i];
		kcsi_finding *f = NULL, *g = NULL;
		for (size_t k = 0; k < pm->nvmas; k++) {
			const kcsi_vma *v = &pm->vmas[k];
			if (!(v->prot & 4))
				continue;
			if (!strcmp(v->kind, "anon") || !strcmp(v->kind, "heap") || !strcmp(v->kind, "stack") ||
			    ((v->prot & 2) && strcmp(v->kind, "vdso") && strcmp(v->kind, "vsyscall")))
				f = anon_exec(a, pm, v, f);
			else if (!strcmp(v->kind, "file") && v->pages && !(v->pages == 1 && first_exec_file(pm, v)))
				/* (CRIU itself writes one page of the first executable
				 * mapping to run its parasite code: that page is expected) */
				g = patched_code(a, pm, v, g);
		}
	}
}
