/* kcsi — the string map (see base/strmap.h): FNV-1a, linear probing. */
#include <stdlib.h>
#include <string.h>

#include "base/strmap.h"

static size_t strmap_hash(const char *s, size_t n)
{
	size_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static size_t strmap_slot(const kcsi_strmap *m, const char *key, size_t len)
{
	size_t i = strmap_hash(key, len) & (m->cap - 1);
	while (m->keys[i] && (m->lens[i] != len || memcmp(m->keys[i], key, len)))
		i = (i + 1) & (m->cap - 1);
	return i;
}

int kcsi_strmap_put(kcsi_strmap *m, const char *key, size_t len, int val)
{
	if ((m->n + 1) * 2 > m->cap) {
		kcsi_strmap g = {.cap = m->cap ? m->cap * 2 : 64};
		g.keys = calloc(g.cap, sizeof(*g.keys));
		g.lens = calloc(g.cap, sizeof(*g.lens));
		g.vals = calloc(g.cap, sizeof(*g.vals));
		if (!g.keys || !g.lens || !g.vals) {
			free(g.keys);
			free(g.lens);
			free(g.vals);
			return -1;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->keys[i]) {
				size_t j = strmap_slot(&g, m->keys[i], m->lens[i]);
				g.keys[j] = m->keys[i];
				g.lens[j] = m->lens[i];
				g.vals[j] = m->vals[i];
			}
		g.n = m->n;
		free(m->keys);
		free(m->lens);
		free(m->vals);
		*m = g;
	}
	size_t i = strmap_slot(m, key, len);
	if (!m->keys[i]) {
		if (!(m->keys[i] = malloc(len + 1)))
			return -1;
		memcpy(m->keys[i], key, len);
		m->keys[i][len] = '\0';
		m->lens[i] = len;
		m->n++;
	}
	m->vals[i] = val;
	return 0;
}

int kcsi_strmap_get(const kcsi_strmap *m, const char *key, size_t len, int missing)
{
	if (!m->cap)
		return missing;
	size_t i = strmap_slot(m, key, len);
	return m->keys[i] ? m->vals[i] : missing;
}

void kcsi_strmap_free(kcsi_strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->lens);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}
