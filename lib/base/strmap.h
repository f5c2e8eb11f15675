/* kcsi — a map from byte strings to ints (open addressing; keys copied). */
#ifndef KCSI_STRMAP_H
#define KCSI_STRMAP_H
#ifndef KCSI_INTERNAL
#error "strmap.h is private to libkcsi"
#endif

#include <stddef.h>

/* Zero-initialise, then put/get; kcsi_strmap_free() frees the keys. */
typedef struct kcsi_strmap {
	char **keys;
	size_t *lens;
	int *vals;
	size_t n, cap;
} kcsi_strmap;

/* 0, or -1 when memory is short.  An existing key gets the new value. */
int kcsi_strmap_put(kcsi_strmap *m, const char *key, size_t len, int val);
/* The value, or `missing` when the key is absent. */
int kcsi_strmap_get(const kcsi_strmap *m, const char *key, size_t len, int missing);
void kcsi_strmap_free(kcsi_strmap *m);

#endif
