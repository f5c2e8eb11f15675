/* kcsi — decode entry points.  See include/kcsi/decode.h. */
#include <fnmatch.h>
#include <string.h>

#include "reader/ckpt_int.h"
#include "kcsi/decode.h"
#include "reader/pbjson.h"

kcsi_code kcsi_decode_image(kcsi_jsonw *w, const char *name, const unsigned char *data, size_t size,
			    bool pretty, kcsi_error *err)
{
	if (kcsi_image_is_raw(name, data, size))
		return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED,
				      "%s: a raw image (memory pages or a tar of tmpfs contents), not a protobuf image: nothing to decode (see kcsi maps / kcsi memgrep)",
				      name);
	return kcsi_pbjson_image(w, name, data, size, pretty, err);
}

bool kcsi_image_is_raw(const char *name, const unsigned char *data, size_t size)
{
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	if (fnmatch("pages-*.img", base, 0) == 0 || fnmatch("tmpfs-*.tar.gz.img", base, 0) == 0)
		return true;
	if (size >= 4) {
		uint32_t m = kcsi_le32(data);
		if (m == KCSI_IMG_COMMON_MAGIC || m == KCSI_IMG_SERVICE_MAGIC)
			return false;
		if (kcsi_image_desc_by_magic(m) && kcsi_image_desc_by_magic(m)->msg)
			return false;
		if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b)
			return true; /* gzip: tmpfs contents */
	}
	return false;
}

kcsi_code kcsi_decode_stats(kcsi_ckpt *c, kcsi_jsonw *w, kcsi_error *err)
{
	static const char *const names[] = {"stats-dump", "checkpoint/stats-dump"};
	kcsi_archive *ar = kcsi_ckpt_archive(c);
	for (size_t i = 0; i < 2; i++) {
		const kcsi_member *m = kcsi_archive_find(ar, names[i]);
		const unsigned char *data;
		kcsi_image img;
		ProtobufCMessage *e;
		kcsi_code rc;
		if (!m)
			continue;
		if ((rc = kcsi_member_data(ar, m, &data, err)) != KCSI_OK ||
		    (rc = kcsi_image_open(&img, m->name, data, (size_t)m->size, kcsi_image_desc_by_name("STATS"), err)) != KCSI_OK ||
		    (rc = kcsi_image_next(&img, NULL, &e, err)) != KCSI_OK)
			return rc;
		if (!e)
			break;
		kcsi_pbjson_message(w, e, false);
		protobuf_c_message_free_unpacked(e, NULL);
		return KCSI_OK;
	}
	kcsi_jw_null(w);
	return KCSI_OK;
}
