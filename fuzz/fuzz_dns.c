/* kcsi fuzz target: one DNS message sent to the detonation sinkhole
 * (lib/sandbox/dns.c), as a UDP datagram or one length-prefixed TCP message.
 *
 * The bytes (an exact-size heap copy) go to det_dns_parse(); a query is
 * answered by det_dns_answer() into a buffer as large as the sinkhole's and
 * into one just large enough for the question, anything else gets
 * det_dns_formerr().  Every answer must fit its buffer, echo the query's id
 * and be a response holding one question.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "sandbox/sandbox_int.h"

static void check_answer(const unsigned char *m, const unsigned char *out, size_t n, size_t cap)
{
	if (n == 0)
		return;
	if (n > cap || n < 12 || out[0] != m[0] || out[1] != m[1] || !(out[2] & 0x80) || out[4] != 0 ||
	    out[5] != 1) {
		fprintf(stderr, "fuzz_dns: bad answer of %zu bytes (buffer %zu)\n", n, cap);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *m = malloc(size ? size : 1), out[4200], *small;
	char text[96], tiny[8];
	det_dns_query q;
	size_t n;
	if (!m)
		return 0;
	memcpy(m, data, size);
	if (det_dns_parse(m, size, &q) == 0) {
		if (q.name_len >= sizeof(q.name) || q.nlabels > DET_DNS_MAX_LABELS || q.qend > size ||
		    q.name[q.name_len] != '\0')
			abort();
		for (unsigned i = 0; i < q.nlabels; i++)
			if ((size_t)q.label_off[i] + q.label_len[i] > q.name_len)
				abort();
		fuzz_touch(det_dns_type_name(q.qtype));
		text[0] = '\0';
		n = det_dns_answer(m, size, &q, out, sizeof(out), text, sizeof(text));
		check_answer(m, out, n, sizeof(out));
		fuzz_touch(text);
		/* a buffer with room for the header and question only */
		small = malloc(12 + q.qend);
		if (small) {
			tiny[0] = '\0';
			n = det_dns_answer(m, size, &q, small, 12 + q.qend, tiny, sizeof(tiny));
			check_answer(m, small, n, 12 + q.qend);
			fuzz_touch(tiny);
			free(small);
		}
	} else {
		n = det_dns_formerr(m, size, out, sizeof(out));
		if (n != 0 && (n != 12 || out[0] != m[0] || out[1] != m[1] || (out[3] & 0x0f) != 1))
			abort();
	}
	free(m);
	return 0;
}
