/* kcsi fuzz target: an ELF object the container wrote (lib/evidence/elf.c),
 * as analyze reads a program's build-id, the C functions a preloaded
 * library defines and whether an object is a library.
 *
 * Input: the object's bytes (an exact-size heap copy: no read past the end
 * goes unseen).  A build-id must be a multiple of 4 bytes that fits its
 * buffer; the functions found must be as many as the flags set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evidence/elf.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"readdir", "readdir64", "getdents64", "write", "send", "SSL_write",
					    "execve", "malloc", ""};
	bool found[sizeof(names) / sizeof(names[0])];
	unsigned char id[64], small[8];
	unsigned char *p = malloc(size ? size : 1);
	size_t n, got, set = 0;
	if (!p)
		return 0;
	memcpy(p, data, size);
	n = kcsi_elf_build_id(p, size, id, sizeof(id));
	if (n > sizeof(id) || n % 4) {
		fprintf(stderr, "fuzz_elf: build-id of %zu bytes\n", n);
		abort();
	}
	if (kcsi_elf_build_id(p, size, small, sizeof(small)) > sizeof(small))
		abort();
	got = kcsi_elf_defines(p, size, names, sizeof(names) / sizeof(names[0]), found);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		set += found[i];
	if (got != set) {
		fprintf(stderr, "fuzz_elf: %zu functions found, %zu flags set\n", got, set);
		abort();
	}
	(void)kcsi_elf_shared_library(p, size);
	free(p);
	return 0;
}
