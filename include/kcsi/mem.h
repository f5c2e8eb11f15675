/* kcsi — searching process memory.
 *
 * Patterns are literal bytes, hex bytes or PCRE2 regular expressions
 * (binary-safe, JIT-compiled), optionally case-insensitive and optionally
 * encoded as UTF-16LE.  A scan walks every memory run a process has in the
 * checkpoint, and the shared memory (memfd, shared anonymous) it maps, straight
 * from the archive: nothing is copied, and scanned pages are handed back to
 * the kernel so the resident size stays small whatever the archive size.
 * Matches that span page or pagemap-entry boundaries inside contiguous
 * virtual memory are found.  Matches are reported in (pid, address) order.
 */
#ifndef KCSI_MEM_H
#define KCSI_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kcsi/ckpt.h"
#include "kcsi/error.h"

typedef struct kcsi_pattern kcsi_pattern;

enum kcsi_pattern_kind { KCSI_PAT_LITERAL, KCSI_PAT_HEX, KCSI_PAT_REGEX };
enum {
	KCSI_PAT_ICASE = 1u << 0,   /* ASCII case-insensitive */
	KCSI_PAT_UTF16LE = 1u << 1, /* search the UTF-16LE form of a literal */
};

/* Longest match a regex may report across an internal chunk boundary. */
#define KCSI_SCAN_OVERLAP (64u << 10)

kcsi_code kcsi_pattern_compile(const char *text, enum kcsi_pattern_kind kind, unsigned flags,
			       kcsi_pattern **out, kcsi_error *err);
void kcsi_pattern_free(kcsi_pattern *p);

typedef struct kcsi_match {
	uint32_t pid;
	uint64_t address;          /* virtual address of the first byte */
	const unsigned char *data; /* the matched bytes (inside the checkpoint) */
	size_t len;
	uint64_t shmid;            /* non-zero when found in shared memory */
} kcsi_match;

/* Return non-zero from the callback to stop the scan (kcsi_scan returns OK). */
typedef int (*kcsi_match_cb)(void *ctx, const kcsi_match *m);

/* Scan the memory of pid (0: every process, in pid order). */
kcsi_code kcsi_scan(kcsi_ckpt *c, uint32_t pid, const kcsi_pattern *pat, kcsi_match_cb cb, void *ctx,
		    kcsi_error *err);

/* The memory of one process as windows of bytes in address order, including
 * the shared memory it maps.  A scanner looks at every byte of a window and
 * reports what starts in [from, to) — and, when cross is non-zero, only what
 * ends after cross (a window stitched across two pieces of contiguous memory
 * that lie apart in the archive).  Each window is valid during the call only. */
typedef struct kcsi_window {
	uint32_t pid;
	uint64_t addr;            /* address of p[0] */
	const unsigned char *p;
	size_t len;
	uint64_t from, to, cross;
	uint64_t shmid;           /* non-zero for shared memory */
} kcsi_window;
typedef int (*kcsi_window_cb)(void *ctx, const kcsi_window *w);
kcsi_code kcsi_walk_memory(kcsi_ckpt *c, uint32_t pid, kcsi_window_cb cb, void *ctx, kcsi_error *err);

/* Name of the area that holds addr: a file path, "/memfd:NAME", or heap,
 * stack, anon, shmem, vdso, vvar...; "?" when no area holds it. */
const char *kcsi_area_name(const kcsi_vma *v, size_t n, uint64_t addr);

#endif
