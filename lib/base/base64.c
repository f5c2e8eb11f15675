/* kcsi — Base64 encoding and decoding (see base/base64.h). */
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

/* 0 for bytes outside both alphabets, else the value + 1 */
static const unsigned char value_plus_one[256] = {
	['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,  ['H'] = 8,
	['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
	['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
	['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
	['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
	['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
	['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
	['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['-'] = 63,
	['/'] = 64, ['_'] = 64,
};

int kcsi_base64_value(unsigned char c)
{
	return (int)value_plus_one[c] - 1;
}

long kcsi_unbase64(const char *s, size_t n, unsigned char *out, size_t cap, bool lenient)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n && s[i] != '='; i++) {
		int v = kcsi_base64_value((unsigned char)s[i]);
		if (v < 0)
			return lenient ? (long)o : -1;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			if (o == cap)
				return lenient ? (long)o : -1;
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return (long)o;
}
