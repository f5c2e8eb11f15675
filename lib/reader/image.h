/* kcsi — CRIU image files: magic, entries, raw payloads.
 *
 * An image is a u32 magic (INVENTORY), or IMG_COMMON/IMG_SERVICE followed by
 * the image's own u32 magic; then entries, each a u32 length and that many
 * bytes of protobuf; some kinds carry raw bytes after an entry (the payload
 * kinds below).  Raw images (pages-*.img, tmpfs-*.tar.gz.img) have no magic.
 * Every read is bounds-checked; errors name the image, the entry number and
 * the byte offset.
 */
#ifndef KCSI_IMAGE_H
#define KCSI_IMAGE_H
#ifndef KCSI_INTERNAL
#error "image.h is private to libkcsi"
#endif

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kcsi/error.h"

#define KCSI_IMG_COMMON_MAGIC 0x54564319u
#define KCSI_IMG_SERVICE_MAGIC 0x55105940u
#define KCSI_IMG_V1_MAGIC 2u          /* CRTOOLS_IMAGES_V1_1: a raw image marker */
#define KCSI_IMG_MAX_ENTRY (64u << 20) /* bound on one entry's protobuf bytes */

enum kcsi_payload {
	KCSI_PL_NONE,
	KCSI_PL_PAGEMAP,     /* first entry pagemap_head, then pagemap_entry */
	KCSI_PL_GHOST_FILE,  /* ghost_file_entry, then content or chunks */
	KCSI_PL_TCP_STREAM,  /* inq_len + outq_len bytes after the entry */
	KCSI_PL_PIPES_DATA,  /* `bytes` bytes after each entry */
	KCSI_PL_SK_QUEUES,   /* `length` bytes after each entry */
	KCSI_PL_IPC_SHM,     /* `size` bytes, padded to 4 */
	KCSI_PL_IPC_SEM,     /* nsems u16, padded to 8 */
	KCSI_PL_IPC_MSG,     /* qnum (ipc_msg + msize bytes padded to 8) */
	KCSI_PL_BPFMAP_DATA, /* keys_bytes + values_bytes */
};

enum kcsi_prefix { KCSI_PFX_NONE, KCSI_PFX_COMMON, KCSI_PFX_SERVICE };

typedef struct kcsi_image_desc {
	const char *name;     /* as crit prints it: "PAGEMAP" */
	uint32_t magic;
	enum kcsi_prefix prefix;
	const ProtobufCMessageDescriptor *msg; /* NULL for raw images */
	enum kcsi_payload payload;
	const char *tmpl;     /* file-name pattern, e.g. "pagemap-%u.img" */
} kcsi_image_desc;

extern const kcsi_image_desc kcsi_image_descs[];
extern const size_t kcsi_image_descs_count;

const kcsi_image_desc *kcsi_image_desc_by_magic(uint32_t magic);
const kcsi_image_desc *kcsi_image_desc_by_name(const char *name);

typedef struct kcsi_image {
	const kcsi_image_desc *desc;
	const char *name;          /* member name, for messages */
	const unsigned char *data;
	size_t size;
	size_t pos;                /* offset of the next entry */
	unsigned entry;            /* entries read so far */
} kcsi_image;

/* Check the magic.  `expect` NULL: any known kind. */
kcsi_code kcsi_image_open(kcsi_image *img, const char *name, const unsigned char *data,
			  size_t size, const kcsi_image_desc *expect, kcsi_error *err);

/* Read the next entry as message `d` (NULL: the image's own message).
 * Returns KCSI_OK with *msg set, KCSI_OK with *msg NULL at the end, or an
 * error.  Free *msg with protobuf_c_message_free_unpacked(*msg, NULL). */
kcsi_code kcsi_image_next(kcsi_image *img, const ProtobufCMessageDescriptor *d,
			  ProtobufCMessage **msg, kcsi_error *err);

/* Take `len` raw bytes that follow the last entry. */
kcsi_code kcsi_image_raw(kcsi_image *img, uint64_t len, const unsigned char **p, kcsi_error *err);

#endif
