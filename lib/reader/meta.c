/* kcsi — container metadata: config.dump, spec.dump, network.status,
 * bind.mounts and what the images say (UTS name), for podman, CRI-O and
 * containerd layouts. */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "reader/ckpt_int.h"
#include "base/time.h"

/* Parse a JSON metadata member.  Absent: *out NULL, OK.  Present but empty
 * or invalid: an error naming the member and the position. */
static kcsi_code load_json(kcsi_ckpt *c, const char *name, json_t **out, kcsi_error *err)
{
	const kcsi_member *m = kcsi_archive_find(c->ar, name);
	const unsigned char *data;
	json_error_t je;
	kcsi_code rc;

	*out = NULL;
	if (!m || m->is_dir)
		return KCSI_OK;
	if ((rc = kcsi_member_data(c->ar, m, &data, err)) != KCSI_OK)
		return rc;
	if (m->size == 0)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: %s: empty file", kcsi_archive_path(c->ar), name);
	*out = json_loadb((const char *)data, (size_t)m->size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!*out)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: %s: invalid JSON at line %d column %d: %s",
				      kcsi_archive_path(c->ar), name, je.line, je.column, je.text);
	return KCSI_OK;
}

static const char *jstr(const json_t *o, const char *key)
{
	const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
	return json_is_string(v) && json_string_length(v) ? json_string_value(v) : NULL;
}

static const char *annotation(const kcsi_ckpt *c, const char *key)
{
	const json_t *a = c->spec ? json_object_get(c->spec, "annotations") : NULL;
	return jstr(a, key);
}

static const char *first(const char *a, const char *b)
{
	return a ? a : b;
}

static const char *rfc3339(kcsi_ckpt *c, int64_t t)
{
	char buf[KCSI_TIME_MAX];
	if (!kcsi_rfc3339(buf, sizeof(buf), t, 0, 0))
		return NULL;
	return ck_strdup(c, buf);
}

/* First "ipnet"/"mac_address" found in network.status (podman's format is a
 * map of network -> interfaces -> subnets). */
static void find_net(const json_t *j, const char **ip, const char **mac, int depth)
{
	const char *k;
	json_t *v;
	size_t i;

	if (depth > 8 || !j)
		return;
	if (json_is_object(j)) {
		json_object_foreach((json_t *)j, k, v) {
			if (!*ip && (strcmp(k, "ipnet") == 0 || strcmp(k, "ip") == 0 ||
				     strcmp(k, "address") == 0) && json_is_string(v))
				*ip = json_string_value(v);
			else if (!*mac && (strcmp(k, "mac_address") == 0 || strcmp(k, "mac") == 0) &&
				 json_is_string(v))
				*mac = json_string_value(v);
			else
				find_net(v, ip, mac, depth + 1);
		}
	} else if (json_is_array(j)) {
		json_array_foreach((json_t *)j, i, v)
			find_net(v, ip, mac, depth + 1);
	}
}

kcsi_code ck_load_meta(kcsi_ckpt *c, kcsi_error *err)
{
	kcsi_meta *mt = &c->meta;
	const kcsi_member *m;
	const char *mgr;
	kcsi_code rc;

	if ((rc = load_json(c, "config.dump", &c->config, err)) != KCSI_OK ||
	    (rc = load_json(c, "spec.dump", &c->spec, err)) != KCSI_OK ||
	    (rc = load_json(c, "network.status", &c->network, err)) != KCSI_OK ||
	    (rc = load_json(c, "bind.mounts", &c->bind_mounts, err)) != KCSI_OK)
		return rc;
	if (c->config && !json_is_object(c->config))
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: config.dump: not a JSON object",
				      kcsi_archive_path(c->ar));
	if (c->spec && !json_is_object(c->spec))
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: spec.dump: not a JSON object",
				      kcsi_archive_path(c->ar));

	mgr = annotation(c, "io.container.manager");
	if (mgr && strcmp(mgr, "libpod") == 0)
		mt->engine = "podman";
	else if ((mgr && strcmp(mgr, "cri-o") == 0) || annotation(c, "io.kubernetes.cri-o.ContainerID"))
		mt->engine = "CRI-O";
	else if (annotation(c, "io.kubernetes.cri.container-name") ||
		 annotation(c, "io.kubernetes.cri.sandbox-id") ||
		 annotation(c, "io.kubernetes.cri.container-type"))
		mt->engine = "containerd";
	else if (jstr(c->config, "checkpointedTime") || jstr(c->config, "rootfsImageRef"))
		mt->engine = "CRI-O";
	else if (jstr(c->config, "RawImageName") || jstr(c->config, "lockID"))
		mt->engine = "podman";
	else
		mt->engine = "unknown";

	mt->id = first(jstr(c->config, "id"), first(annotation(c, "io.kubernetes.cri-o.ContainerID"),
						    annotation(c, "io.kubernetes.cri.container-id")));
	mt->runtime = jstr(c->config, "runtime");
	mt->created = first(jstr(c->config, "createdTime"), annotation(c, "io.kubernetes.cri-o.Created"));
	mt->checkpointed = jstr(c->config, "checkpointedTime");
	if (mt->checkpointed)
		mt->checkpointed_source = "config.dump";
	if (strcmp(mt->engine, "containerd") == 0) {
		mt->container = annotation(c, "io.kubernetes.cri.container-name");
		mt->pod = annotation(c, "io.kubernetes.cri.sandbox-name");
		mt->namespace_ = annotation(c, "io.kubernetes.cri.sandbox-namespace");
		mt->image = annotation(c, "io.kubernetes.cri.image-name");
	} else {
		mt->container = annotation(c, "io.kubernetes.container.name");
		mt->pod = annotation(c, "io.kubernetes.pod.name");
		mt->namespace_ = annotation(c, "io.kubernetes.pod.namespace");
	}
	if (!mt->container)
		mt->container = jstr(c->config, "name");
	if (!mt->image)
		mt->image = first(jstr(c->config, "rootfsImageName"),
				  first(jstr(c->config, "RawImageName"),
					annotation(c, "io.kubernetes.cri-o.ImageName")));
	mt->image_id = first(jstr(c->config, "rootfsImageRef"),
			     first(jstr(c->config, "rootfsImageID"), jstr(c->config, "rootfsImage")));
	if (mt->image_id && mt->image && strcmp(mt->image_id, mt->image) == 0)
		mt->image_id = jstr(c->config, "rootfsImageID");
	mt->ip = first(annotation(c, "io.kubernetes.cri-o.IP.0"), annotation(c, "io.kubernetes.cri-o.IP"));
	if (!mt->ip && c->network)
		find_net(c->network, &mt->ip, &mt->mac, 0);
	mt->hostname = c->spec ? jstr(c->spec, "hostname") : NULL;

	if (!mt->checkpointed) {
		char name[256];
		snprintf(name, sizeof(name), "%sinventory.img", c->prefix);
		m = kcsi_archive_find(c->ar, name);
		if (m && m->mtime > 0) {
			mt->checkpointed = rfc3339(c, m->mtime);
			mt->checkpointed_source = "inventory.img time";
		}
	}

	mt->checkpoint_size = kcsi_archive_size(c->ar);
	for (size_t i = 0; i < kcsi_archive_count(c->ar); i++) {
		const kcsi_member *mm = kcsi_archive_at(c->ar, i);
		char pat[64];
		snprintf(pat, sizeof(pat), "%spages-*.img", c->prefix);
		if (fnmatch(pat, mm->name, FNM_PATHNAME) == 0)
			mt->memory_size += mm->size;
		else if (strcmp(mm->name, "rootfs-diff.tar") == 0)
			mt->rootfs_diff_size = mm->size;
	}
	return KCSI_OK;
}

/* The UTS name from utsns-*.img overrides the spec's hostname: it is what the
 * processes saw. */
kcsi_code ck_load_uts(kcsi_ckpt *c, kcsi_error *err)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "%sutsns-*.img", c->prefix);
	for (size_t i = 0; i < kcsi_archive_count(c->ar); i++) {
		const kcsi_member *m = kcsi_archive_at(c->ar, i);
		ProtobufCMessage *e;
		kcsi_code rc;
		if (fnmatch(pat, m->name, FNM_PATHNAME) != 0)
			continue;
		if ((rc = ck_read_one(c, m->name + strlen(c->prefix), "UTSNS", &e, err)) != KCSI_OK)
			return rc;
		if (e && ((UtsnsEntry *)e)->nodename && *((UtsnsEntry *)e)->nodename)
			c->meta.hostname = ((UtsnsEntry *)e)->nodename;
		break;
	}
	return KCSI_OK;
}
