/* kcsi — mounts from the mountpoints-N.img images and from spec.dump. */
#include <stdlib.h>
#include <string.h>

#include "reader/ckpt_int.h"

/* CRIU's fstype numbers (mnt.proto) */
static const char *fstype_name(uint32_t t)
{
	static const char *const names[] = {
		"unsupported", "proc", "sysfs", "devtmpfs", "binfmt_misc", "tmpfs", "devpts",
		"simfs", "pstore", "securityfs", "fusectl", "debugfs", "cgroup", "aufs", "mqueue",
		"fuse", "auto", "overlay", "autofs", "tracefs", NULL, NULL, NULL, "cgroup2",
	};
	if (t < sizeof(names) / sizeof(names[0]) && names[t])
		return names[t];
	return "other";
}

static int cmp_mnt(const void *a, const void *b)
{
	const kcsi_mount *x = a, *y = b;
	return x->mnt_id < y->mnt_id ? -1 : x->mnt_id > y->mnt_id;
}

kcsi_code kcsi_ckpt_mounts(kcsi_ckpt *c, kcsi_mount **out, size_t *n, kcsi_error *err)
{
	kcsi_mount *v = NULL;
	size_t cnt = 0, cap = 0;
	const json_t *mounts = c->spec ? json_object_get(c->spec, "mounts") : NULL;
	size_t nspec = json_is_array(mounts) ? json_array_size(mounts) : 0;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < kcsi_archive_count(c->ar); i++) {
		const kcsi_member *m = kcsi_archive_at(c->ar, i);
		size_t plen = strlen(c->prefix);
		ProtobufCMessage **all;
		size_t na;
		kcsi_code rc;
		if (strncmp(m->name, c->prefix, plen) != 0 || strncmp(m->name + plen, "mountpoints-", 12) != 0)
			continue;
		if ((rc = ck_read_all(c, m->name + plen, "MNTS", &all, &na, err)) != KCSI_OK) {
			free(v);
			return rc;
		}
		for (size_t k = 0; k < na; k++) {
			MntEntry *e = (MntEntry *)all[k];
			kcsi_mount *d;
			if (cnt == cap) {
				size_t ncap = cap ? cap * 2 : 32;
				kcsi_mount *q = realloc(v, (ncap + nspec) * sizeof(*q));
				if (!q) {
					free(v);
					return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
				}
				v = q;
				cap = ncap;
			}
			d = &v[cnt++];
			memset(d, 0, sizeof(*d));
			d->mnt_id = e->mnt_id;
			d->parent_id = e->parent_mnt_id;
			d->mountpoint = e->mountpoint;
			d->root = e->root;
			d->source = e->source;
			d->fstype = e->fstype == 16 && e->fsname ? e->fsname : fstype_name(e->fstype);
			d->options = e->options;
			d->flags = e->flags;
			d->external = (e->has_ext_mount && e->ext_mount) || e->ext_key;
			d->origin = "criu";
		}
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_mnt);
	if (nspec) {
		kcsi_mount *q = realloc(v, (cnt + nspec) * sizeof(*q));
		if (!q) {
			free(v);
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		}
		v = q;
		for (size_t i = 0; i < nspec; i++) {
			const json_t *m = json_array_get(mounts, i);
			const json_t *opts = json_object_get(m, "options");
			kcsi_mount *d = &v[cnt++];
			memset(d, 0, sizeof(*d));
			d->mountpoint = json_string_value(json_object_get(m, "destination"));
			d->source = json_string_value(json_object_get(m, "source"));
			d->fstype = json_string_value(json_object_get(m, "type"));
			if (json_is_array(opts)) {
				kcsi_buf b;
				size_t k;
				json_t *o;
				kcsi_buf_init(&b, 1u << 16);
				json_array_foreach(opts, k, o) {
					if (!json_is_string(o))
						continue;
					if (b.len)
						kcsi_buf_addc(&b, ',');
					kcsi_buf_add(&b, json_string_value(o), json_string_length(o));
				}
				d->options = ck_strdup(c, kcsi_buf_str(&b));
				kcsi_buf_free(&b);
			}
			d->origin = "spec";
		}
	}
	*out = v;
	*n = cnt;
	return KCSI_OK;
}
