/* kcsi — ELF objects read within their bytes: the GNU build-id of a
 * program or library, the functions it exports, whether it is a library. */
#ifndef KCSI_ELF_H
#define KCSI_ELF_H
#ifndef KCSI_INTERNAL
#error "elf.h is private to libkcsi"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The GNU build-id note of an ELF file from its first n bytes (the notes of
 * its PT_NOTE segments that lie in them), copied to out padded with zeros
 * to a multiple of 4 (as CRIU keeps it; cap bytes at most); its padded
 * length, 0 when there is none. */
size_t kcsi_elf_build_id(const unsigned char *p, size_t n, unsigned char *out, size_t cap);

/* Which of names[0, n) the ELF object p[0, len) defines as exported
 * functions (global or weak, in its dynamic symbol table): found[i] set for
 * each; how many.  0 for anything that is not such an ELF object, or whose
 * section headers were stripped. */
size_t kcsi_elf_defines(const unsigned char *p, size_t len, const char *const *names, size_t n, bool *found);

/* A shared library: an ELF of type DYN without an interpreter (a PIE
 * program has one), either byte order. */
bool kcsi_elf_shared_library(const unsigned char *p, size_t n);

#endif
