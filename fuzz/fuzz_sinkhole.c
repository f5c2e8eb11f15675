/* kcsi fuzz target: a TCP stream a detonated specimen sends to the
 * sinkhole (lib/sandbox/sinkhole.c): the IRC, HTTP and stratum line
 * handlers, the protocol sniffing, DNS over TCP and the transcript writer.
 *
 * Input: one byte that picks the destination port (bit 0 set: 53, DNS over
 * TCP; else 6667, 80 or 3333 by bits 1-2 — the protocol itself is told from
 * the first bytes, as in a run), one byte giving the size of the pieces the
 * stream arrives in (0: all at once), then the stream.  It goes through
 * det_sinkhole_feed(), the sinkhole's own session code without sockets; the
 * record it returns (sessions, DNS queries and zones) must be JSON every
 * reader takes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "sandbox/sandbox_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned ports[] = {6667, 80, 3333, 6667};
	unsigned dport;
	json_t *rec;
	if (size < 2)
		return 0;
	dport = data[0] & 1 ? 53 : ports[(data[0] >> 1) & 3];
	rec = det_sinkhole_feed(dport, data + 2, size - 2, data[1], fopen("/dev/null", "w"));
	if (!rec || json_array_size(json_object_get(rec, "sessions")) != 1) {
		fprintf(stderr, "fuzz_sinkhole: no record of the session\n");
		abort();
	}
	fuzz_check_json(rec);
	json_decref(rec);
	return 0;
}
