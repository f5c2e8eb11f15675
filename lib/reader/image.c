/* kcsi — CRIU image framing.  See image.h. */
#include <string.h>

#include "reader/image.h"
#include "base/util.h"

const kcsi_image_desc *kcsi_image_desc_by_magic(uint32_t magic)
{
	for (size_t i = 0; i < kcsi_image_descs_count; i++)
		if (kcsi_image_descs[i].magic == magic)
			return &kcsi_image_descs[i];
	return NULL;
}

const kcsi_image_desc *kcsi_image_desc_by_name(const char *name)
{
	for (size_t i = 0; i < kcsi_image_descs_count; i++)
		if (strcmp(kcsi_image_descs[i].name, name) == 0)
			return &kcsi_image_descs[i];
	return NULL;
}

kcsi_code kcsi_image_open(kcsi_image *img, const char *name, const unsigned char *data,
			  size_t size, const kcsi_image_desc *expect, kcsi_error *err)
{
	uint32_t m;
	size_t pos = 0;
	const kcsi_image_desc *d;

	memset(img, 0, sizeof(*img));
	img->name = name;
	img->data = data;
	img->size = size;
	if (size < 4)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: truncated image (%zu bytes, no magic)", name, size);
	m = kcsi_le32(data);
	pos = 4;
	if (m == KCSI_IMG_COMMON_MAGIC || m == KCSI_IMG_SERVICE_MAGIC) {
		if (size < 8)
			return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: truncated image (header ends at offset 4)", name);
		m = kcsi_le32(data + 4);
		pos = 8;
	}
	d = kcsi_image_desc_by_magic(m);
	if (!d || !d->msg)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: unknown image magic 0x%08x at offset %zu",
				      name, m, pos - 4);
	if (expect && d != expect)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: image magic is %s (0x%08x), expected %s",
				      name, d->name, m, expect->name);
	img->desc = d;
	img->pos = pos;
	return KCSI_OK;
}

kcsi_code kcsi_image_next(kcsi_image *img, const ProtobufCMessageDescriptor *d,
			  ProtobufCMessage **msg, kcsi_error *err)
{
	uint32_t len;
	size_t at = img->pos;

	*msg = NULL;
	if (img->pos == img->size)
		return KCSI_OK;
	if (!kcsi_fits(img->pos, 4, img->size))
		return kcsi_error_set(err, KCSI_ERR_FORMAT,
				      "%s: entry %u at offset %zu: truncated length (%zu bytes left)",
				      img->name, img->entry + 1, at, img->size - img->pos);
	len = kcsi_le32(img->data + img->pos);
	if (len > KCSI_IMG_MAX_ENTRY)
		return kcsi_error_set(err, KCSI_ERR_LIMIT,
				      "%s: entry %u at offset %zu: length %u exceeds the %u-byte bound",
				      img->name, img->entry + 1, at, len, KCSI_IMG_MAX_ENTRY);
	if (!kcsi_fits(img->pos + 4, len, img->size))
		return kcsi_error_set(err, KCSI_ERR_FORMAT,
				      "%s: entry %u at offset %zu: truncated (claims %u bytes, %zu left)",
				      img->name, img->entry + 1, at, len, img->size - img->pos - 4);
	if (!d)
		d = img->desc->msg;
	*msg = protobuf_c_message_unpack(d, NULL, len, img->data + img->pos + 4);
	if (!*msg)
		return kcsi_error_set(err, KCSI_ERR_FORMAT,
				      "%s: entry %u at offset %zu: not a valid %s message (%u bytes)",
				      img->name, img->entry + 1, at, d->name, len);
	img->pos += 4 + (size_t)len;
	img->entry++;
	return KCSI_OK;
}

kcsi_code kcsi_image_raw(kcsi_image *img, uint64_t len, const unsigned char **p, kcsi_error *err)
{
	if (!kcsi_fits(img->pos, len, img->size))
		return kcsi_error_set(err, KCSI_ERR_FORMAT,
				      "%s: entry %u: payload of %llu bytes at offset %zu runs past the end (%zu bytes left)",
				      img->name, img->entry, (unsigned long long)len, img->pos,
				      img->size - img->pos);
	*p = img->data + img->pos;
	img->pos += (size_t)len;
	return KCSI_OK;
}
