/* kcsi fuzz target: one CRIU image, decoded to crit-shaped JSON.
 *
 * The bytes go to kcsi_decode_image() twice, plain and --pretty, into an
 * open_memstream() buffer, which is then checked to be NUL-free text (the
 * writer must escape everything it copies from the image).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcsi/decode.h"
#include "kcsi/error.h"
#include "kcsi/jsonw.h"
#include "fuzz_common.h"

static void decode(const uint8_t *data, size_t size, bool pretty)
{
	char *buf = NULL;
	size_t len = 0;
	kcsi_error err;
	kcsi_jsonw w;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	kcsi_error_clear(&err);
	kcsi_jw_init(&w, f, pretty ? 4 : 0);
	if (kcsi_decode_image(&w, "fuzz.img", data, size, pretty, &err) == KCSI_OK)
		kcsi_jw_end(&w);
	else if (strlen(err.msg) == 0 && err.code != KCSI_OK)
		; /* an error without a message is allowed but unhelpful */
	fclose(f);
	/* JSON output is text: a raw NUL byte means an unescaped copy. */
	if (buf && memchr(buf, '\0', len)) {
		fprintf(stderr, "kcsi_decode_image wrote a NUL byte into the JSON output\n");
		abort();
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* kcsi_decode_image() gets an exact-size heap copy so that ASan
	 * catches any read past the end of the image. */
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	decode(copy, size, false);
	decode(copy, size, true);
	free(copy);
	return 0;
}
