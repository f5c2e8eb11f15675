/* kcsi — the path normaliser (see base/path.h). */
#include <string.h>

#include "base/path.h"

int kcsi_path_normalise(const char *in, unsigned flags, char *out, size_t cap)
{
	size_t o = 0;
	const char *p = in;

	if (*p == '/' && !(flags & KCSI_PATH_CONFINE))
		return KCSI_PATH_UNSAFE;
	if (cap)
		out[0] = '\0';
	while (*p) {
		const char *s;
		size_t len;
		while (*p == '/')
			p++;
		s = p;
		while (*p && *p != '/')
			p++;
		len = (size_t)(p - s);
		if (len == 0 || (len == 1 && s[0] == '.'))
			continue;
		if (len == 2 && s[0] == '.' && s[1] == '.')
			return KCSI_PATH_UNSAFE;
		if (o + len + 2 > cap)
			return KCSI_PATH_LONG;
		if (o)
			out[o++] = '/';
		memcpy(out + o, s, len);
		o += len;
	}
	if (cap)
		out[o] = '\0';
	return o ? KCSI_PATH_OK : KCSI_PATH_EMPTY;
}

int kcsi_clean_relpath(const char *in, char *out, size_t cap)
{
	return kcsi_path_normalise(in, KCSI_PATH_CONFINE, out, cap) == KCSI_PATH_OK ? 0 : -1;
}
