/* kcsi — an OCI image that holds a container checkpoint, the way checkpointctl
 * and buildah make one ("checkpoint images"), for podman, CRI-O and containerd
 * to restore from.
 *
 * The image has one uncompressed layer: the checkpoint's members (regular
 * files and directories only, as kcsi's hardened reader yields them) at the
 * image root, owned by 0:0, with their permission bits and times.  Its
 * manifest carries the annotations CRI-O reads to recognise a checkpoint
 * image (io.kubernetes.cri-o.annotations.checkpoint.*, read from the image's
 * manifest); it is wrapped in an image index whose annotations are the ones
 * containerd reads (org.criu.checkpoint.*, read from the blob the image name
 * points to).  podman 4.x needs no annotation: it restores from the mounted
 * image's config.dump, spec.dump and checkpoint/.
 *
 * Outputs: an OCI image layout directory (oci-layout, index.json,
 * blobs/sha256/...), and/or the same layout as one tar ("oci-archive", what
 * `podman load` and `ctr images import` read).  Nothing is written outside
 * the named directory or file; both must not exist (a layout directory may
 * exist empty).  Every output is deterministic for a given archive and name.
 */
#ifndef KCSI_OCIBUILD_H
#define KCSI_OCIBUILD_H

#include <stdint.h>

#include "kcsi/ckpt.h"
#include "kcsi/error.h"

typedef struct kcsi_ocibuild_opts {
	const char *layout_dir;   /* OCI image layout directory to write, or NULL */
	const char *archive_path; /* oci-archive tar to write, or NULL */
	const char *name;         /* image name, e.g. localhost/checkpoint-web:latest */
} kcsi_ocibuild_opts;

typedef struct kcsi_ocibuild_result {
	char index_digest[72];    /* "sha256:HEX" of the image index (what the name points to) */
	char manifest_digest[72];
	char config_digest[72];
	char layer_digest[72];    /* = the layer's diff id (uncompressed) */
	uint64_t layer_size;
	uint64_t members;         /* checkpoint members in the layer */
} kcsi_ocibuild_result;

/* A default image name for the checkpoint: localhost/checkpoint-CONTAINER:latest
 * (the container name reduced to [a-z0-9._-]). */
void kcsi_ocibuild_default_name(const kcsi_ckpt *c, char *out, size_t cap);

/* Is s usable as an image name (registry/path[:tag]: [a-z0-9._/:-], at most 255)? */
int kcsi_ocibuild_name_ok(const char *s);

/* Build the image from an open checkpoint (opened with KCSI_CKPT_BULK).
 * KCSI_ERR_UNSUPPORTED: no config.dump or spec.dump (a bare CRIU image
 * directory cannot be restored from an image); KCSI_ERR_USAGE: an output that
 * exists; KCSI_ERR_IO: writing failed (partial outputs are removed). */
kcsi_code kcsi_oci_build(kcsi_ckpt *c, const kcsi_ocibuild_opts *o, kcsi_ocibuild_result *res, kcsi_error *err);

#endif
