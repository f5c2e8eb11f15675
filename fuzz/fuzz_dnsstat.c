/* kcsi fuzz target: DNS names grouped by zone with the marks of tunnels
 * (lib/evidence/dnsstat.c), as detonate's sinkhole log and analyze's names
 * found in memory feed them.
 *
 * Input: names separated by newlines, raw bytes (a name from memory or a
 * query may hold any byte, NUL included).  Each is counted with
 * kcsi_dns_zones_add(), and each of its labels measured with
 * kcsi_entropy() and kcsi_label_encoding(); the zone table must be JSON
 * every reader takes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evidence/dnsstat.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kcsi_dns_zones *z = kcsi_dns_zones_new();
	json_t *j;
	if (!z)
		return 0;
	for (size_t i = 0; i <= size;) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t e = nl ? (size_t)(nl - data) : size;
		/* an exact-size copy: no read past the name goes unseen */
		char *name = malloc(e - i ? e - i : 1);
		if (!name)
			break;
		memcpy(name, data + i, e - i);
		kcsi_dns_zones_add(z, name, e - i);
		for (size_t a = 0; a < e - i;) {
			const char *dot = memchr(name + a, '.', e - i - a);
			size_t b = dot ? (size_t)(dot - name) : e - i;
			double h = kcsi_entropy(name + a, b - a);
			if (isnan(h) || h < 0 || h > 8.0001)
				abort(); /* bits per byte */
			fuzz_touch(kcsi_label_encoding(name + a, b - a));
			a = b + 1;
		}
		free(name);
		i = e + 1;
	}
	(void)kcsi_dns_zones_tunnel(z);
	j = kcsi_dns_zones_json(z);
	if (!json_is_array(j))
		abort();
	fuzz_check_json(j);
	json_decref(j);
	kcsi_dns_zones_free(z);
	return 0;
}
