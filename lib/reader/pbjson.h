/* kcsi — CRIU images as JSON in the shape `crit decode` prints.
 *
 * Keys are the protobuf field names, entries in field-number order, only the
 * fields present in the image.  Plain mode prints numbers; pretty mode
 * (`crit decode --pretty`) prints the fields CRIU marks in its schema as hex
 * strings ("0x7f..."), flag names ("PROT_READ | PROT_WRITE"), device numbers
 * ("8:1"), dotted or colon-separated addresses and socket constant names.
 * The marks come from proto/ through tools/protogen.py (fieldopts.c).
 */
#ifndef KCSI_PBJSON_H
#define KCSI_PBJSON_H

#include <stdbool.h>
#include <stddef.h>

#include "kcsi/error.h"
#include "kcsi/jsonw.h"

enum {
	KCSI_FO_HEX = 1u << 0,
	KCSI_FO_IPADD = 1u << 1,
	KCSI_FO_DEV = 1u << 2,
	KCSI_FO_ODEV = 1u << 3,
};

struct kcsi_fieldopt {
	const char *key;   /* "message.field", message names joined by '.' */
	unsigned bits;
	const char *flags; /* flag table name, e.g. "mmap.prot" */
	const char *dict;  /* constant table name, e.g. "sk" */
	const char *conv;  /* byte conversion, e.g. "unix_name" */
};

extern const struct kcsi_fieldopt kcsi_fieldopts[];
extern const size_t kcsi_fieldopts_count;

/* Decode a whole image (member `name`, bytes data/size) as
 * {"magic": ..., "entries": [...]}. */
kcsi_code kcsi_pbjson_image(kcsi_jsonw *w, const char *name, const unsigned char *data,
			    size_t size, bool pretty, kcsi_error *err);

/* One message as a JSON object. */
#include <protobuf-c/protobuf-c.h>
void kcsi_pbjson_message(kcsi_jsonw *w, const ProtobufCMessage *m, bool pretty);

#endif
