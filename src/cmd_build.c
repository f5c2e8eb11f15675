/* kcsi build — an OCI image that holds a checkpoint (for podman, CRI-O and
 * containerd to restore from); the work is lib/ocibuild.c. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "kcsi/ocibuild.h"

static const struct opt opts[] = {
	{"oci-layout", 'l', "DIR", "write an OCI image layout directory (must not exist, or be empty)", .kind = OPT_TEXT},
	{"output", 'o', "FILE.tar", "write the layout as one tar: an oci-archive (podman load, ctr images import)", .kind = OPT_TEXT},
	{"name", 'n', "NAME", "the image name (default localhost/checkpoint-CONTAINER:latest)", .kind = OPT_TEXT},
	OPTS_JSON,
	{0},
};

static int run(struct args *a)
{
	kcsi_ocibuild_opts bo = {.layout_dir = opt_val(a, "oci-layout"), .archive_path = opt_val(a, "output")};
	kcsi_ocibuild_result res;
	kcsi_error err;
	kcsi_ckpt *c;
	struct out o;
	char name[320];
	int rc;

	if (!bo.layout_dir && !bo.archive_path)
		return usage_error(a->cmd, "give --oci-layout DIR and/or --output FILE.tar");
	if (opt_val(a, "name") && !kcsi_ocibuild_name_ok(opt_val(a, "name")))
		return usage_error(a->cmd, "'%s': not an image name ([a-z0-9._/:-], a tag may have capitals)",
				   opt_val(a, "name"));
	if ((rc = open_ckpt(a->pos[0], KCSI_CKPT_BULK | KCSI_CKPT_META_ONLY, &c)))
		return rc;
	if (opt_val(a, "name"))
		snprintf(name, sizeof(name), "%s", opt_val(a, "name"));
	else
		kcsi_ocibuild_default_name(c, name, sizeof(name));
	bo.name = name;
	kcsi_error_clear(&err);
	if (kcsi_oci_build(c, &bo, &res, &err) != KCSI_OK) {
		rc = fail(&err);
		kcsi_ckpt_close(c);
		return rc;
	}
	out_open(&o, a);
	if (o.json) {
		kcsi_jw_obj(&o.w);
		kcsi_jw_kstr(&o.w, "archive", a->pos[0]);
		kcsi_jw_kstr(&o.w, "name", name);
		kcsi_jw_kstr(&o.w, "oci_layout", bo.layout_dir);
		kcsi_jw_kstr(&o.w, "output", bo.archive_path);
		kcsi_jw_kstr(&o.w, "index_digest", res.index_digest);
		kcsi_jw_kstr(&o.w, "manifest_digest", res.manifest_digest);
		kcsi_jw_kstr(&o.w, "config_digest", res.config_digest);
		kcsi_jw_kstr(&o.w, "layer_digest", res.layer_digest);
		kcsi_jw_kuint(&o.w, "layer_size", res.layer_size);
		kcsi_jw_kuint(&o.w, "members", res.members);
		kcsi_jw_obj_end(&o.w);
		kcsi_jw_end(&o.w);
	} else {
		fprintf(o.f, "%s %s\n", name, res.index_digest);
		if (bo.layout_dir)
			fprintf(o.f, "oci layout: %s\n", bo.layout_dir);
		if (bo.archive_path)
			fprintf(o.f, "oci-archive: %s\n", bo.archive_path);
	}
	kcsi_ckpt_close(c);
	return out_close(&o, 0);
}

const struct cmd cmd_build = {
	.synopsis = "[--oci-layout DIR] [--output FILE.tar] [--name NAME] ARCHIVE",
	.summary = "make an OCI image that holds a checkpoint, for podman, CRI-O or containerd to restore",
	.description =
		"Puts the checkpoint into an OCI image the way checkpointctl and buildah do: one\n"
		"uncompressed layer with the checkpoint's files at the image root (regular files\n"
		"and directories only, as kcsi's hardened reader yields them; owner 0:0).  The\n"
		"manifest carries the annotations CRI-O reads to recognise a checkpoint image\n"
		"(io.kubernetes.cri-o.annotations.checkpoint.name, .rawImageName, .rootfsImageID,\n"
		".rootfsImageName, .runtime.name); an image index around it carries the ones\n"
		"containerd reads (org.criu.checkpoint.container.name, .engine.name, .pod.name,\n"
		".pod.namespace, .rootfsImageName, .rootfsImageUserRequested, .rootfsImageID,\n"
		".runtime.name).  podman restores it with `podman container restore IMAGE`,\n"
		"CRI-O and containerd when a container is created from it.  The archive must\n"
		"have config.dump and spec.dump (a podman, CRI-O or containerd checkpoint).\n"
		"Outputs are never overwritten; the same archive and name give the same bytes.",
	.json_doc =
		"An object: archive, name, oci_layout, output (strings or null), index_digest,\n"
		"manifest_digest, config_digest, layer_digest (sha256:HEX), layer_size, members.",
	.example =
		"$ kcsi build --output counter-image.tar checkpoint-counter.tar\n"
		"localhost/checkpoint-counter:latest sha256:429751e7163e0d220ce361e7cd932af8ac235df482df117b0b25abdd9acdc2ae\n"
		"oci-archive: counter-image.tar\n"
		"$ podman load -i counter-image.tar && podman container restore localhost/checkpoint-counter:latest",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.run = run,
};
