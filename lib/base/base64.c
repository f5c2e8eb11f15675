/* kcsi — Base64 encoding (see base/base64.h). */
#include <stdint.h>

#include "base/base64.h"

int kcsi_base64(kcsi_buf *out, const unsigned char *p, size_t n, bool lines)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t col = 0;
	char q[4];

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t left = n - i;
		if (left > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (left > 2)
			v |= p[i + 2];
		q[0] = tab[(v >> 18) & 63];
		q[1] = tab[(v >> 12) & 63];
		q[2] = left > 1 ? tab[(v >> 6) & 63] : '=';
		q[3] = left > 2 ? tab[v & 63] : '=';
		if (kcsi_buf_add(out, q, 4) != 0)
			return -1;
		col += 4;
		if (lines && col == 76) {
			if (kcsi_buf_addc(out, '\n') != 0)
				return -1;
			col = 0;
		}
	}
	if (lines && col)
		return kcsi_buf_addc(out, '\n');
	return kcsi_buf_add(out, "", 0);
}
