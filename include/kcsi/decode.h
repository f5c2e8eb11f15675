/* kcsi — any CRIU image as JSON in the shape `crit decode` prints (same keys,
 * same value formats), for `kcsi decode` and scripts written for crit. */
#ifndef KCSI_DECODE_H
#define KCSI_DECODE_H

#include <stdbool.h>
#include <stddef.h>

#include "kcsi/ckpt.h"
#include "kcsi/error.h"
#include "kcsi/jsonw.h"

/* An image's bytes as {"magic": NAME, "entries": [...]}.  pretty: the value
 * formats of `crit decode --pretty` (hex, flag names, addresses). */
kcsi_code kcsi_decode_image(kcsi_jsonw *w, const char *name, const unsigned char *data, size_t size,
			    bool pretty, kcsi_error *err);

/* The CRIU dump statistics (stats-dump) as an object, or null if absent. */
kcsi_code kcsi_decode_stats(kcsi_ckpt *c, kcsi_jsonw *w, kcsi_error *err);

/* Is this member a raw (non-protobuf) image such as pages-*.img? */
bool kcsi_image_is_raw(const char *name, const unsigned char *data, size_t size);

#endif
