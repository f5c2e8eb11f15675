/* kcsi — process memory out of a checkpoint: raw area files and an ELF core.
 *
 * kcsi_dump() writes, below one directory (with the rules of recover.h:
 * nothing outside, nothing overwritten unless force):
 *   areas/START-END_PROT_KIND[_NAME].bin  one file per memory area, the size of
 *       the area, with the pages the checkpoint holds at their offsets and
 *       holes elsewhere (sparse: never written, read as zeros);
 *   core  an ELF core file (x86-64) that gdb opens: a PRSTATUS note per thread
 *       with the registers CRIU saved, PRPSINFO, AUXV and FILE notes, and a
 *       PT_LOAD segment per area holding its pages. */
#ifndef KCSI_DUMP_H
#define KCSI_DUMP_H

#include <stdbool.h>
#include <stdint.h>

#include "kcsi/ckpt.h"
#include "kcsi/error.h"

typedef struct kcsi_dump_opts {
	const char *out_dir;
	uint32_t pid;
	uint64_t area;   /* only the area holding this address (0: all) */
	bool core;       /* write the ELF core too */
	bool force;
} kcsi_dump_opts;

typedef struct kcsi_dump_file {
	char *file;      /* relative to out_dir */
	uint64_t start, end;
	uint64_t bytes;  /* bytes of held pages written */
	/* SHA-256 of the whole file (hex), as sha256sum prints it; "" when its
	 * holes were too large to hash byte by byte (a dump hashes at most 256
	 * MiB of holes in all, so that its work follows the bytes held) */
	char sha256[65];
	/* SHA-256 over each run of bytes held, in file order, each followed by
	 * its offset and length (little-endian 64-bit), then the file size:
	 * holes count as their extent list.  Always there. */
	char extents_sha256[65];
} kcsi_dump_file;

kcsi_code kcsi_dump(kcsi_ckpt *c, const kcsi_dump_opts *o, kcsi_dump_file **files, size_t *n, kcsi_error *err);
void kcsi_dump_files_free(kcsi_dump_file *f, size_t n);

#endif
