/* kcsi — reading ELF objects the container wrote (programs.h's build-ids,
 * the C functions a preloaded library replaces, libraries told from
 * programs), every offset and size checked against the bytes held: the
 * bytes are the attacker's.  See evidence/elf.h. */
#include <string.h>

#include "evidence/elf.h"

static uint64_t rd(const unsigned char *p, unsigned n, bool le)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[le ? i : n - 1 - i] << (8 * i);
	return v;
}

/* What the ELF header says: its class and byte order, and where the
 * program and section headers lie (not checked against the bytes yet). */
struct elf_header {
	bool is64, le;
	uint64_t phoff, phent, phnum, shoff, shent, shnum;
};

/* Read the header of p[0, n) into h; false for anything that is not ELF
 * or is shorter than its class's header. */
static bool elf_header(const unsigned char *p, size_t n, struct elf_header *h)
{
	if (n < 52 || memcmp(p, "\x7f" "ELF", 4) || (p[4] != 1 && p[4] != 2) || (p[5] != 1 && p[5] != 2))
		return false;
	h->is64 = p[4] == 2;
	h->le = p[5] == 1;
	if (h->is64 && n < 64)
		return false;
	h->phoff = h->is64 ? rd(p + 32, 8, h->le) : rd(p + 28, 4, h->le);
	h->phent = rd(p + (h->is64 ? 54 : 42), 2, h->le);
	h->phnum = rd(p + (h->is64 ? 56 : 44), 2, h->le);
	h->shoff = h->is64 ? rd(p + 40, 8, h->le) : rd(p + 32, 4, h->le);
	h->shent = rd(p + (h->is64 ? 58 : 46), 2, h->le);
	h->shnum = rd(p + (h->is64 ? 60 : 48), 2, h->le);
	return true;
}

/* The GNU build-id note among the notes in p[off, end), copied to out
 * (padded with zeros to a multiple of 4, as CRIU keeps it); its padded
 * length, 0 when there is none. */
static size_t note_build_id(const unsigned char *p, uint64_t off, uint64_t end, uint64_t align, bool le,
			    unsigned char *out, size_t cap)
{
	while (off + 12 <= end) {
		uint64_t namesz = rd(p + off, 4, le), descsz = rd(p + off + 4, 4, le), type = rd(p + off + 8, 4, le);
		uint64_t name = off + 12, desc = name + ((namesz + align - 1) & ~(align - 1));
		if (namesz > end || descsz > end || desc > end || descsz > end - desc)
			return 0;
		if (type == 3 && namesz == 4 && !memcmp(p + name, "GNU", 4) && descsz && descsz <= cap) {
			size_t len = ((size_t)descsz + 3) & ~(size_t)3;
			memset(out, 0, cap);
			memcpy(out, p + desc, (size_t)descsz);
			return len <= cap ? len : 0;
		}
		off = desc + ((descsz + align - 1) & ~(align - 1));
	}
	return 0;
}

/* The build-id of an ELF file from its first n bytes: the notes of its
 * PT_NOTE segments that lie in them.  0 when there is none. */
size_t kcsi_elf_build_id(const unsigned char *p, size_t n, unsigned char *out, size_t cap)
{
	struct elf_header h;
	if (!elf_header(p, n, &h))
		return 0;
	if (h.phent < (h.is64 ? 56u : 32u))
		return 0;
	for (uint64_t i = 0; i < h.phnum && i < 256; i++) {
		uint64_t ph = h.phoff + i * h.phent, off, sz, align;
		size_t len;
		if (h.phoff >= n || ph > n - (h.is64 ? 56 : 32))
			break;
		if (rd(p + ph, 4, h.le) != 4) /* PT_NOTE */
			continue;
		off = h.is64 ? rd(p + ph + 8, 8, h.le) : rd(p + ph + 4, 4, h.le);
		sz = h.is64 ? rd(p + ph + 32, 8, h.le) : rd(p + ph + 16, 4, h.le);
		align = (h.is64 ? rd(p + ph + 48, 8, h.le) : rd(p + ph + 28, 4, h.le)) == 8 ? 8 : 4;
		if (off >= n)
			continue;
		if ((len = note_build_id(p, off, sz < n - off ? off + sz : n, align, h.le, out, cap)))
			return len;
	}
	return 0;
}

/* ---- dynamic symbols ---- */

size_t kcsi_elf_defines(const unsigned char *p, size_t len, const char *const *names, size_t n, bool *found)
{
	struct elf_header h;
	size_t got = 0;
	memset(found, 0, n * sizeof(*found));
	if (len < 64 || !elf_header(p, len, &h))
		return 0;
	if (h.shent < (h.is64 ? 64u : 40u) || h.shoff >= len || h.shnum > (len - h.shoff) / h.shent)
		return 0;
	for (uint64_t i = 0; i < h.shnum; i++) {
		const unsigned char *sh = p + h.shoff + i * h.shent, *str;
		uint64_t off, size, link, entsize, stroff, strsize;
		if (rd(sh + 4, 4, h.le) != 11) /* SHT_DYNSYM */
			continue;
		off = h.is64 ? rd(sh + 24, 8, h.le) : rd(sh + 16, 4, h.le);
		size = h.is64 ? rd(sh + 32, 8, h.le) : rd(sh + 20, 4, h.le);
		link = rd(sh + (h.is64 ? 40 : 24), 4, h.le);
		entsize = h.is64 ? rd(sh + 56, 8, h.le) : rd(sh + 36, 4, h.le);
		if (link >= h.shnum || entsize < (h.is64 ? 24u : 16u) || off > len || size > len - off)
			return 0;
		str = p + h.shoff + link * h.shent;
		stroff = h.is64 ? rd(str + 24, 8, h.le) : rd(str + 16, 4, h.le);
		strsize = h.is64 ? rd(str + 32, 8, h.le) : rd(str + 20, 4, h.le);
		if (stroff > len || strsize > len - stroff)
			return 0;
		for (uint64_t k = 1; k < size / entsize; k++) {
			const unsigned char *sym = p + off + k * entsize;
			uint64_t name = rd(sym, 4, h.le);
			unsigned info = h.is64 ? sym[4] : sym[12], bind = info >> 4;
			uint64_t shndx = rd(sym + (h.is64 ? 6 : 14), 2, h.le);
			const char *nm;
			if ((info & 0xf) != 2 || (bind != 1 && bind != 2) || !shndx || name >= strsize) /* FUNC, GLOBAL|WEAK */
				continue;
			nm = (const char *)p + stroff + name;
			if (!memchr(nm, '\0', strsize - name))
				continue;
			for (size_t j = 0; j < n; j++)
				if (!found[j] && !strcmp(nm, names[j])) {
					found[j] = true;
					got++;
				}
		}
		return got;
	}
	return 0;
}

/* ---- shared libraries ---- */

bool kcsi_elf_shared_library(const unsigned char *p, size_t n)
{
	struct elf_header h;
	if (!elf_header(p, n, &h) || rd(p + 16, 2, h.le) != 3) /* ET_DYN */
		return false;
	for (uint64_t i = 0; i < h.phnum && i < 256 && h.phent >= 4; i++) {
		uint64_t off = h.phoff + i * h.phent;
		if (h.phoff > n || off > n || n - off < 4)
			break;
		if (rd(p + off, 4, h.le) == 3) /* PT_INTERP: a program (PIE) */
			return false;
	}
	return true;
}
