/* kcsi unit test — the shared Base64 decoder (lib/base/base64.c) against a
 * plain definition written from RFC 4648: round trips of the encoder's own
 * output in both alphabets, padded and not; random strings of alphabet,
 * padding and stray bytes decoded strictly (a stray byte is an error) and
 * leniently (it ends the input); outputs cut short by a small capacity.
 * Exit 0 when they agree; run by tests/test_triage.py and `meson test`. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rng.h"
#include "base/base64.h"

static const char std_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* the definition: each character's place in either alphabet, four
 * characters to three bytes, a trailing partial group giving what whole
 * bytes it holds */
static long reference(const char *s, size_t n, unsigned char *out, size_t cap, bool lenient)
{
	unsigned char vals[4];
	size_t have = 0, o = 0;
	for (size_t i = 0; i <= n; i++) {
		bool end = i == n || s[i] == '=';
		const char *at = end || !s[i] ? NULL : strchr(std_alphabet, s[i]);
		if (!end && !at && s[i])
			at = strchr(url_alphabet, s[i]);
		if (!end && !at) {
			if (!lenient)
				return -1;
			end = true;
		}
		if (!end) {
			vals[have++] = (unsigned char)(at - (strchr(std_alphabet, *at) ? std_alphabet : url_alphabet));
			if (have < 4)
				continue;
		}
		unsigned char group[3] = {(unsigned char)(vals[0] << 2 | vals[1] >> 4),
					  (unsigned char)(vals[1] << 4 | vals[2] >> 2), (unsigned char)(vals[2] << 6 | vals[3])};
		size_t bytes = have == 4 ? 3 : have == 3 ? 2 : have == 2 ? 1 : 0;
		for (size_t k = 0; k < bytes; k++) {
			if (o == cap)
				return lenient ? (long)o : -1;
			out[o++] = group[k];
		}
		have = 0;
		if (end)
			break;
	}
	return (long)o;
}

int main(void)
{
	static unsigned char data[600], want[600], got[600];
	static char text[900];
	unsigned long trips = 0, strings = 0, errors = 0;
	kcsi_buf enc;

	rnd_seed(0x5851f42d4c957f2du);
	for (int it = 0; it < 100000; it++) { /* round trips */
		size_t n = (size_t)(rnd() % 400);
		for (size_t i = 0; i < n; i++)
			data[i] = (unsigned char)rnd();
		kcsi_buf_init(&enc, 4096);
		if (kcsi_base64(&enc, data, n, rnd() % 4 == 0) != 0) {
			printf("round trip %d: the encoder failed on %zu bytes\n", it, n);
			return 1;
		}
		size_t len = 0;
		for (size_t i = 0; i < enc.len; i++) { /* line breaks out, maybe the URL alphabet, maybe no padding */
			char c = enc.data[i];
			if (c == '\n')
				continue;
			if (it % 2)
				c = c == '+' ? '-' : c == '/' ? '_' : c;
			text[len++] = c;
		}
		if (it % 3 == 0)
			while (len && text[len - 1] == '=')
				len--;
		kcsi_buf_free(&enc);
		long o = kcsi_unbase64(text, len, got, sizeof(got), false);
		if (o != (long)n || memcmp(got, data, n)) {
			printf("round trip %d: %zu bytes came back as %ld\n", it, n, o);
			return 1;
		}
		trips++;
	}
	static const char extra[] = "====\n\r .:%\0\x80\xff";
	for (int it = 0; it < 300000; it++) { /* strings of every kind, both modes, any capacity */
		size_t n = (size_t)(rnd() % 64), cap = rnd() % 3 ? sizeof(got) : (size_t)(rnd() % 50);
		unsigned stray = (unsigned)(rnd() % 4 ? 0 : 1 + rnd() % 30); /* in 100 */
		for (size_t i = 0; i < n; i++) {
			uint64_t x = rnd();
			text[i] = x % 100 < stray ? extra[x / 100 % (sizeof(extra) - 1)]
						  : (x / 100) % 2 ? std_alphabet[x / 200 % 64] : url_alphabet[x / 200 % 64];
		}
		for (int lenient = 0; lenient < 2; lenient++) {
			long w = reference(text, n, want, cap, lenient), g = kcsi_unbase64(text, n, got, cap, lenient);
			if (w != g || (w > 0 && memcmp(want, got, (size_t)w))) {
				printf("string %d (%zu chars, cap %zu, %s): decoder %ld, definition %ld\n", it, n, cap,
				       lenient ? "lenient" : "strict", g, w);
				return 1;
			}
			errors += w < 0;
		}
		strings++;
	}
	for (int c = 0; c < 256; c++) { /* the value table */
		const char *s = c ? strchr(std_alphabet, c) : NULL, *u = c ? strchr(url_alphabet, c) : NULL;
		int want_v = s ? (int)(s - std_alphabet) : u ? (int)(u - url_alphabet) : -1;
		if (kcsi_base64_value((unsigned char)c) != want_v) {
			printf("byte %d: value %d, definition %d\n", c, kcsi_base64_value((unsigned char)c), want_v);
			return 1;
		}
	}
	printf("kcsi_unbase64: %lu round trips, %lu strings (%lu refused) agree with the definition\n", trips, strings,
	       errors);
	return 0;
}
