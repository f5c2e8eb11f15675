/* kcsi — CRIU images as crit-shaped JSON.  See pbjson.h. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader/image.h"
#include "reader/pbjson.h"
#include "base/util.h"

extern const ProtobufCMessageDescriptor ipc_msg__descriptor;
extern const ProtobufCMessageDescriptor pagemap_head__descriptor;
extern const ProtobufCMessageDescriptor pagemap_entry__descriptor;
extern const ProtobufCMessageDescriptor ghost_file_entry__descriptor;
extern const ProtobufCMessageDescriptor ghost_chunk_entry__descriptor;

/* ---- display option tables (the meanings CRIU gives its marks) ---- */

struct flagbit { const char *name; uint64_t bit; };

static const struct flagbit mmap_prot[] = {
	{"PROT_READ", 0x1}, {"PROT_WRITE", 0x2}, {"PROT_EXEC", 0x4}, {NULL, 0}};
static const struct flagbit mmap_flags[] = {
	{"MAP_SHARED", 0x1}, {"MAP_PRIVATE", 0x2}, {"MAP_ANON", 0x20},
	{"MAP_GROWSDOWN", 0x100}, {NULL, 0}};
static const struct flagbit mmap_status[] = {
	{"VMA_AREA_NONE", 0}, {"VMA_AREA_REGULAR", 1u << 0}, {"VMA_AREA_STACK", 1u << 1},
	{"VMA_AREA_VSYSCALL", 1u << 2}, {"VMA_AREA_VDSO", 1u << 3}, {"VMA_AREA_HEAP", 1u << 5},
	{"VMA_FILE_PRIVATE", 1u << 6}, {"VMA_FILE_SHARED", 1u << 7},
	{"VMA_ANON_SHARED", 1u << 8}, {"VMA_ANON_PRIVATE", 1u << 9},
	{"VMA_AREA_SYSVIPC", 1u << 10}, {"VMA_AREA_SOCKET", 1u << 11},
	{"VMA_AREA_VVAR", 1u << 12}, {"VMA_AREA_AIORING", 1u << 13},
	{"VMA_UNSUPP", 1u << 31}, {NULL, 0}};
static const struct flagbit rfile_flags[] = {
	{"O_WRONLY", 01}, {"O_RDWR", 02}, {"O_CREAT", 0100}, {"O_EXCL", 0200},
	{"O_NOCTTY", 0400}, {"O_TRUNC", 01000}, {"O_APPEND", 02000}, {"O_NONBLOCK", 04000},
	{"O_DSYNC", 010000}, {"FASYNC", 020000}, {"O_DIRECT", 040000},
	{"O_LARGEFILE", 0100000}, {"O_DIRECTORY", 0200000}, {"O_NOFOLLOW", 0400000},
	{"O_NOATIME", 01000000}, {"O_CLOEXEC", 02000000}, {NULL, 0}};
static const struct flagbit pmap_flags[] = {
	{"PE_PARENT", 1u << 0}, {"PE_LAZY", 1u << 1}, {"PE_PRESENT", 1u << 2}, {NULL, 0}};
static const struct flagbit seals_flags[] = {
	{"F_SEAL_SEAL", 0x1}, {"F_SEAL_SHRINK", 0x2}, {"F_SEAL_GROW", 0x4},
	{"F_SEAL_WRITE", 0x8}, {"F_SEAL_FUTURE_WRITE", 0x10}, {NULL, 0}};

static const struct { const char *name; const struct flagbit *bits; } flag_tables[] = {
	{"mmap.prot", mmap_prot}, {"mmap.flags", mmap_flags}, {"mmap.status", mmap_status},
	{"rfile.flags", rfile_flags}, {"pmap.flags", pmap_flags}, {"seals.flags", seals_flags},
};

struct constname { const char *field; int64_t value; const char *name; };
static const struct constname dict_gen[] = {
	{"task_state", 1, "Alive"}, {"task_state", 3, "Zombie"}, {"task_state", 6, "Stopped"},
	{NULL, 0, NULL}};
static const struct constname dict_sk[] = {
	{"family", 1, "UNIX"}, {"family", 2, "INET"}, {"family", 10, "INET6"},
	{"family", 16, "NETLINK"}, {"family", 17, "PACKET"},
	{"type", 1, "STREAM"}, {"type", 2, "DGRAM"}, {"type", 3, "RAW"},
	{"type", 5, "SEQPACKET"}, {"type", 10, "PACKET"},
	{"state", 1, "ESTABLISHED"}, {"state", 2, "SYN_SENT"}, {"state", 3, "SYN_RECV"},
	{"state", 4, "FIN_WAIT1"}, {"state", 5, "FIN_WAIT2"}, {"state", 6, "TIME_WAIT"},
	{"state", 7, "CLOSE"}, {"state", 8, "CLOSE_WAIT"}, {"state", 9, "LAST_ACK"},
	{"state", 10, "LISTEN"},
	{"proto", 0, "IP"}, {"proto", 6, "TCP"}, {"proto", 17, "UDP"}, {"proto", 136, "UDPLITE"},
	{NULL, 0, NULL}};

static int cmp_opt(const void *k, const void *e)
{
	return strcmp(k, ((const struct kcsi_fieldopt *)e)->key);
}

static const struct kcsi_fieldopt *field_opt(const ProtobufCMessageDescriptor *md,
					     const ProtobufCFieldDescriptor *fd)
{
	char key[256];
	snprintf(key, sizeof(key), "%s.%s", md->name, fd->name);
	return bsearch(key, kcsi_fieldopts, kcsi_fieldopts_count, sizeof(kcsi_fieldopts[0]), cmp_opt);
}

/* ---- value writers ---- */

struct ctx {
	kcsi_jsonw *w;
	bool pretty;
	kcsi_buf tmp;
};

static void put_flags(struct ctx *c, uint64_t v, const struct flagbit *t)
{
	kcsi_buf b;
	uint64_t known = 0;
	kcsi_buf_init(&b, 4096);
	for (; t->name; t++) {
		known |= t->bit;
		if (v & t->bit) {
			if (b.len)
				kcsi_buf_add(&b, " | ", 3);
			kcsi_buf_add(&b, t->name, strlen(t->name));
		}
	}
	if (v & ~known) {
		if (b.len)
			kcsi_buf_add(&b, " | ", 3);
		kcsi_buf_printf(&b, "0x%" PRIx64, v & ~known);
	}
	kcsi_jw_str(c->w, kcsi_buf_str(&b));
	kcsi_buf_free(&b);
}

static void put_hex(struct ctx *c, int64_t sv, uint64_t uv, bool is_signed)
{
	char s[32];
	if (is_signed && sv < 0)
		snprintf(s, sizeof(s), "-0x%" PRIx64, (uint64_t)0 - (uint64_t)sv);
	else
		snprintf(s, sizeof(s), "0x%" PRIx64, is_signed ? (uint64_t)sv : uv);
	kcsi_jw_str(c->w, s);
}

static void put_int(struct ctx *c, const ProtobufCFieldDescriptor *fd,
		    const struct kcsi_fieldopt *o, bool is_hex, const void *p)
{
	int64_t sv = 0;
	uint64_t uv = 0;
	bool is_signed = false;

	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		sv = *(const int32_t *)p;
		is_signed = true;
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		sv = *(const int64_t *)p;
		is_signed = true;
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		uv = *(const uint32_t *)p;
		break;
	default:
		uv = *(const uint64_t *)p;
		break;
	}
	if (c->pretty) {
		if (is_hex || (o && (o->bits & KCSI_FO_HEX))) {
			put_hex(c, sv, uv, is_signed);
			return;
		}
		if (o && (o->bits & KCSI_FO_DEV)) {
			uint64_t v = is_signed ? (uint64_t)sv : uv;
			char s[48];
			if (o->bits & KCSI_FO_ODEV)
				snprintf(s, sizeof(s), "%u:%u",
					 (unsigned)(((v >> 8) & 0xfff) | ((v >> 32) & ~0xfffull)),
					 (unsigned)((v & 0xff) | ((v >> 12) & ~0xffull)));
			else
				snprintf(s, sizeof(s), "%" PRIu64 ":%" PRIu64, v >> 20, v & ((1u << 20) - 1));
			kcsi_jw_str(c->w, s);
			return;
		}
		if (o && o->flags) {
			for (size_t i = 0; i < sizeof(flag_tables) / sizeof(flag_tables[0]); i++)
				if (strcmp(flag_tables[i].name, o->flags) == 0) {
					put_flags(c, is_signed ? (uint64_t)sv : uv, flag_tables[i].bits);
					return;
				}
			put_hex(c, sv, uv, is_signed);
			return;
		}
		if (o && o->dict) {
			const struct constname *t = strcmp(o->dict, "sk") == 0 ? dict_sk
						  : strcmp(o->dict, "gen") == 0 ? dict_gen : NULL;
			int64_t v = is_signed ? sv : (int64_t)uv;
			for (; t && t->field; t++)
				if (strcmp(t->field, fd->name) == 0 && t->value == v) {
					kcsi_jw_str(c->w, t->name);
					return;
				}
		}
	}
	if (is_signed)
		kcsi_jw_int(c->w, sv);
	else
		kcsi_jw_uint(c->w, uv);
}

/* Quoted-printable, the way Python's quopri.encodestring writes it (crit's
 * conversion of unix socket names). */
static void put_quopri(struct ctx *c, const unsigned char *p, size_t n)
{
	kcsi_buf b;
	size_t linelen = 0;
	kcsi_buf_init(&b, 1u << 24);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = p[i];
		bool at_eol = i + 1 == n || p[i + 1] == '\n';
		char enc[4];
		size_t elen;
		if (ch == '\n') {
			kcsi_buf_addc(&b, '\n');
			linelen = 0;
			continue;
		}
		if (ch == '=' || ch > 126 || (ch < 32 && ch != '\t') ||
		    ((ch == ' ' || ch == '\t') && at_eol)) {
			snprintf(enc, sizeof(enc), "=%02X", ch);
			elen = 3;
		} else {
			enc[0] = (char)ch;
			elen = 1;
		}
		if (linelen + elen > 75 && !(at_eol && linelen + elen <= 76)) {
			kcsi_buf_add(&b, "=\n", 2);
			linelen = 0;
		}
		kcsi_buf_add(&b, enc, elen);
		linelen += elen;
	}
	kcsi_jw_strn(c->w, kcsi_buf_str(&b), b.len);
	kcsi_buf_free(&b);
}

static void put_message(struct ctx *c, const ProtobufCMessage *m, bool is_hex);

static void put_value(struct ctx *c, const ProtobufCMessageDescriptor *md,
		      const ProtobufCFieldDescriptor *fd, const struct kcsi_fieldopt *o,
		      bool is_hex, const void *p)
{
	switch (fd->type) {
	case PROTOBUF_C_TYPE_MESSAGE:
		put_message(c, *(ProtobufCMessage *const *)p, is_hex || (o && (o->bits & KCSI_FO_HEX)));
		return;
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *bd = p;
		if (o && o->conv && strcmp(o->conv, "unix_name") == 0) {
			put_quopri(c, bd->data, bd->len);
		} else {
			kcsi_buf b;
			kcsi_buf_init(&b, SIZE_MAX / 2);
			kcsi_base64(&b, bd->data, bd->len, true);
			kcsi_jw_strn(c->w, kcsi_buf_str(&b), b.len);
			kcsi_buf_free(&b);
		}
		return;
	}
	case PROTOBUF_C_TYPE_STRING:
		kcsi_jw_str(c->w, *(char *const *)p);
		return;
	case PROTOBUF_C_TYPE_BOOL:
		kcsi_jw_bool(c->w, *(const protobuf_c_boolean *)p);
		return;
	case PROTOBUF_C_TYPE_ENUM: {
		int v = *(const int *)p;
		const ProtobufCEnumValue *ev =
			protobuf_c_enum_descriptor_get_value(fd->descriptor, v);
		if (ev)
			kcsi_jw_str(c->w, ev->name);
		else
			kcsi_jw_int(c->w, v);
		return;
	}
	case PROTOBUF_C_TYPE_FLOAT: /* CRIU's schema has no floats */
	case PROTOBUF_C_TYPE_DOUBLE:
		kcsi_jw_null(c->w);
		return;
	default:
		put_int(c, fd, o, is_hex, p);
		return;
	}
	(void)md;
}

static size_t type_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_ENUM:
		return 4;
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

/* Is an optional field present, as Python's ListFields() would say? */
static bool present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd)
{
	const char *base = (const char *)m;
	const void *member = base + fd->offset;

	if (fd->label == PROTOBUF_C_LABEL_REQUIRED)
		return true;
	if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)(base + fd->quantifier_offset) == fd->id;
	if (fd->type == PROTOBUF_C_TYPE_MESSAGE || fd->type == PROTOBUF_C_TYPE_STRING) {
		const void *ptr = *(const void *const *)member;
		return ptr != NULL && ptr != fd->default_value;
	}
	if (fd->quantifier_offset)
		return *(const protobuf_c_boolean *)(base + fd->quantifier_offset);
	return true;
}

static int cmp_field_id(const void *a, const void *b)
{
	const ProtobufCFieldDescriptor *x = *(const ProtobufCFieldDescriptor *const *)a;
	const ProtobufCFieldDescriptor *y = *(const ProtobufCFieldDescriptor *const *)b;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The fields of m, inside an object the caller has opened. */
static void put_fields(struct ctx *c, const ProtobufCMessage *m, bool is_hex)
{
	const ProtobufCMessageDescriptor *md = m->descriptor;
	const ProtobufCFieldDescriptor *order[256];
	unsigned n = md->n_fields < 256 ? md->n_fields : 256;

	for (unsigned i = 0; i < n; i++)
		order[i] = &md->fields[i];
	qsort(order, n, sizeof(order[0]), cmp_field_id);
	for (unsigned i = 0; i < n; i++) {
		const ProtobufCFieldDescriptor *fd = order[i];
		const struct kcsi_fieldopt *o = field_opt(md, fd);
		const char *base = (const char *)m;

		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t cnt = *(const size_t *)(base + fd->quantifier_offset);
			const char *arr = *(const char *const *)(base + fd->offset);
			size_t sz = type_size(fd->type);
			if (cnt == 0)
				continue;
			kcsi_jw_key(c->w, fd->name);
			kcsi_jw_arr(c->w);
			if (c->pretty && o && (o->bits & KCSI_FO_IPADD)) {
				const uint32_t *v = (const uint32_t *)arr;
				char s[INET6_ADDRSTRLEN];
				if (cnt == 1) {
					inet_ntop(AF_INET, &v[0], s, sizeof(s));
				} else if (cnt >= 4) {
					inet_ntop(AF_INET6, v, s, sizeof(s));
				} else {
					snprintf(s, sizeof(s), "?");
				}
				kcsi_jw_str(c->w, s);
			} else {
				for (size_t k = 0; k < cnt; k++)
					put_value(c, md, fd, o, is_hex, arr + k * sz);
			}
			kcsi_jw_arr_end(c->w);
			continue;
		}
		if (!present(m, fd))
			continue;
		kcsi_jw_key(c->w, fd->name);
		put_value(c, md, fd, o, is_hex, base + fd->offset);
	}
}

static void put_message(struct ctx *c, const ProtobufCMessage *m, bool is_hex)
{
	kcsi_jw_obj(c->w);
	put_fields(c, m, is_hex);
	kcsi_jw_obj_end(c->w);
}

/* ---- payloads ---- */

static bool get_uint(const ProtobufCMessage *m, const char *name, uint64_t *out)
{
	const ProtobufCFieldDescriptor *fd =
		protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
	const char *base = (const char *)m;
	if (!fd || fd->label == PROTOBUF_C_LABEL_REPEATED)
		return false;
	switch (type_size(fd->type)) {
	case 4: *out = *(const uint32_t *)(base + fd->offset); break;
	case 8: *out = *(const uint64_t *)(base + fd->offset); break;
	default:
		if (fd->type == PROTOBUF_C_TYPE_BOOL) {
			*out = *(const protobuf_c_boolean *)(base + fd->offset);
			break;
		}
		return false;
	}
	return fd->label == PROTOBUF_C_LABEL_REQUIRED || present(m, fd);
}

static void put_b64(struct ctx *c, const unsigned char *p, size_t n)
{
	kcsi_buf b;
	kcsi_buf_init(&b, SIZE_MAX / 2);
	kcsi_base64(&b, p, n, true);
	kcsi_jw_strn(c->w, kcsi_buf_str(&b), b.len);
	kcsi_buf_free(&b);
}

/* Write the members of one entry (without braces), then its extra. */
static kcsi_code entry_with_extra(struct ctx *c, kcsi_image *img, const ProtobufCMessage *m,
				  kcsi_error *err)
{
	uint64_t a = 0, b = 0;
	const unsigned char *p, *q;
	kcsi_code rc = KCSI_OK;

	switch (img->desc->payload) {
	case KCSI_PL_TCP_STREAM:
		get_uint(m, "inq_len", &a);
		get_uint(m, "outq_len", &b);
		if ((rc = kcsi_image_raw(img, a, &p, err)) || (rc = kcsi_image_raw(img, b, &q, err)))
			return rc;
		kcsi_jw_key(c->w, "extra");
		kcsi_jw_obj(c->w);
		kcsi_jw_key(c->w, "inq");
		put_b64(c, p, (size_t)a);
		kcsi_jw_key(c->w, "outq");
		put_b64(c, q, (size_t)b);
		kcsi_jw_obj_end(c->w);
		return KCSI_OK;
	case KCSI_PL_PIPES_DATA:
	case KCSI_PL_SK_QUEUES:
	case KCSI_PL_BPFMAP_DATA:
		if (img->desc->payload == KCSI_PL_PIPES_DATA)
			get_uint(m, "bytes", &a);
		else if (img->desc->payload == KCSI_PL_SK_QUEUES)
			get_uint(m, "length", &a);
		else {
			get_uint(m, "keys_bytes", &a);
			get_uint(m, "values_bytes", &b);
			a += b;
		}
		if ((rc = kcsi_image_raw(img, a, &p, err)))
			return rc;
		kcsi_jw_key(c->w, "extra");
		put_b64(c, p, (size_t)a);
		return KCSI_OK;
	case KCSI_PL_IPC_SHM:
		get_uint(m, "size", &a);
		if ((rc = kcsi_image_raw(img, a, &p, err)) ||
		    (rc = kcsi_image_raw(img, ((a + 3) & ~3ull) - a, &q, err)))
			return rc;
		kcsi_jw_key(c->w, "extra");
		put_b64(c, p, (size_t)a);
		return KCSI_OK;
	case KCSI_PL_IPC_SEM:
		get_uint(m, "nsems", &a);
		if (a > (1u << 20))
			return kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: entry %u: %llu semaphores", img->name,
					      img->entry, (unsigned long long)a);
		if ((rc = kcsi_image_raw(img, 2 * a, &p, err)) ||
		    (rc = kcsi_image_raw(img, ((2 * a + 7) & ~7ull) - 2 * a, &q, err)))
			return rc;
		kcsi_jw_key(c->w, "extra");
		kcsi_jw_arr(c->w);
		for (uint64_t i = 0; i < a; i++)
			kcsi_jw_uint(c->w, (uint64_t)p[2 * i] | (uint64_t)p[2 * i + 1] << 8);
		kcsi_jw_arr_end(c->w);
		return KCSI_OK;
	case KCSI_PL_IPC_MSG: {
		const ProtobufCMessageDescriptor *md = &ipc_msg__descriptor;
		get_uint(m, "qnum", &a);
		kcsi_jw_key(c->w, "extra");
		kcsi_jw_arr(c->w);
		for (uint64_t i = 0; i < a && img->pos < img->size; i++) {
			ProtobufCMessage *im;
			uint64_t msize = 0;
			if ((rc = kcsi_image_next(img, md, &im, err)) != KCSI_OK)
				return rc;
			if (!im)
				break;
			get_uint(im, "msize", &msize);
			put_message(c, im, false);
			protobuf_c_message_free_unpacked(im, NULL);
			if ((rc = kcsi_image_raw(img, msize, &p, err)) ||
			    (rc = kcsi_image_raw(img, ((msize + 7) & ~7ull) - msize, &q, err)))
				return rc;
			put_b64(c, p, (size_t)msize);
		}
		kcsi_jw_arr_end(c->w);
		return KCSI_OK;
	}
	default:
		return KCSI_OK;
	}
}

/* Write one entry object: the message's fields plus "extra". */
static kcsi_code put_entry(struct ctx *c, kcsi_image *img, const ProtobufCMessage *m, kcsi_error *err)
{
	kcsi_code rc;
	kcsi_jw_obj(c->w);
	put_fields(c, m, false);
	rc = entry_with_extra(c, img, m, err);
	kcsi_jw_obj_end(c->w);
	return rc;
}

void kcsi_pbjson_message(kcsi_jsonw *w, const ProtobufCMessage *m, bool pretty)
{
	struct ctx c = {.w = w, .pretty = pretty};
	put_message(&c, m, false);
}

kcsi_code kcsi_pbjson_image(kcsi_jsonw *w, const char *name, const unsigned char *data,
			    size_t size, bool pretty, kcsi_error *err)
{
	struct ctx c = {.w = w, .pretty = pretty};
	kcsi_image img;
	kcsi_code rc;
	ProtobufCMessage *m;

	if ((rc = kcsi_image_open(&img, name, data, size, NULL, err)) != KCSI_OK)
		return rc;
	kcsi_jw_obj(w);
	kcsi_jw_kstr(w, "magic", img.desc->name);
	kcsi_jw_key(w, "entries");
	kcsi_jw_arr(w);
	if (img.desc->payload == KCSI_PL_PAGEMAP) {
		const ProtobufCMessageDescriptor *d = &pagemap_head__descriptor;
		for (;;) {
			if ((rc = kcsi_image_next(&img, d, &m, err)) != KCSI_OK || !m)
				break;
			put_message(&c, m, false);
			protobuf_c_message_free_unpacked(m, NULL);
			d = &pagemap_entry__descriptor;
		}
	} else if (img.desc->payload == KCSI_PL_GHOST_FILE) {
		uint64_t chunks = 0;
		const unsigned char *p;
		if ((rc = kcsi_image_next(&img, &ghost_file_entry__descriptor, &m, err)) == KCSI_OK && m) {
			get_uint(m, "chunks", &chunks);
			if (chunks) {
				put_message(&c, m, false);
				protobuf_c_message_free_unpacked(m, NULL);
				while ((rc = kcsi_image_next(&img, &ghost_chunk_entry__descriptor, &m, err)) == KCSI_OK && m) {
					uint64_t len = 0;
					get_uint(m, "len", &len);
					kcsi_jw_obj(w);
					put_fields(&c, m, false);
					protobuf_c_message_free_unpacked(m, NULL);
					if ((rc = kcsi_image_raw(&img, len, &p, err)) != KCSI_OK)
						break;
					kcsi_jw_key(w, "extra");
					put_b64(&c, p, (size_t)len);
					kcsi_jw_obj_end(w);
				}
			} else {
				size_t rest = img.size - img.pos;
				kcsi_jw_obj(w);
				put_fields(&c, m, false);
				protobuf_c_message_free_unpacked(m, NULL);
				rc = kcsi_image_raw(&img, rest, &p, err);
				kcsi_jw_key(w, "extra");
				put_b64(&c, p, rest);
				kcsi_jw_obj_end(w);
			}
		}
	} else {
		for (;;) {
			if ((rc = kcsi_image_next(&img, NULL, &m, err)) != KCSI_OK || !m)
				break;
			rc = put_entry(&c, &img, m, err);
			protobuf_c_message_free_unpacked(m, NULL);
			if (rc != KCSI_OK)
				break;
		}
	}
	kcsi_jw_arr_end(w);
	kcsi_jw_obj_end(w);
	return rc;
}
