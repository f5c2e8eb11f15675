/* kcsi — an OCI image holding a checkpoint (layout directory and/or
 * oci-archive tar).  See include/kcsi/ocibuild.h.
 *
 * The layer is a tar that libarchive writes into a sink: the sink hashes
 * what it is given and, depending on the pass, writes it to a blob file or
 * into the oci-archive being written.  The layer is made the same way each
 * time (same members, order and headers), so an oci-archive can name the
 * layer by its digest before its bytes: one pass hashes, the next writes. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kcsi/archive.h"
#include "kcsi/ocibuild.h"
#include "base/safeout.h"

#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_LAYER "application/vnd.oci.image.layer.v1.tar"
#define CRIO "io.kubernetes.cri-o.annotations.checkpoint."
#define CRIU "org.criu.checkpoint."
#define PODMAN "io.podman.annotations.checkpoint."
#define ANN_MAX 4096 /* bytes of one annotation value taken from the archive */

/* ---- the byte sink: hash, and write to an fd or into an outer archive ---- */

struct sink {
	EVP_MD_CTX *md;
	uint64_t n;
	int fd;                 /* >= 0: write here */
	struct archive *outer;  /* non-NULL: write as data of the current entry */
	kcsi_error *err;
	int failed;
};

static la_ssize_t sink_write(struct archive *a, void *p, const void *buf, size_t len)
{
	struct sink *s = p;
	const char *b = buf;
	(void)a;
	EVP_DigestUpdate(s->md, buf, len);
	s->n += len;
	if (s->fd >= 0) {
		for (size_t done = 0; done < len;) {
			ssize_t w = write(s->fd, b + done, len - done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				kcsi_error_set(s->err, KCSI_ERR_IO, "write: %s", w < 0 ? strerror(errno) : "no progress");
				s->failed = 1;
				return -1;
			}
			done += (size_t)w;
		}
	}
	if (s->outer && archive_write_data(s->outer, buf, len) != (la_ssize_t)len) {
		kcsi_error_set(s->err, KCSI_ERR_IO, "oci-archive: %s", archive_error_string(s->outer));
		s->failed = 1;
		return -1;
	}
	return (la_ssize_t)len;
}

static void hex_digest(EVP_MD_CTX *md, char out[72])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_DigestFinal_ex(md, d, &len);
	memcpy(out, "sha256:", 7);
	kcsi_hex(d, len, out + 7);
}

/* A tar writer (pax where needed, headers without owner names) over a sink. */
static struct archive *tar_writer(struct sink *s, kcsi_error *err)
{
	struct archive *a = archive_write_new();
	if (!a) {
		kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_add_filter_none(a) != ARCHIVE_OK ||
	    archive_write_open2(a, s, NULL, sink_write, NULL, NULL) != ARCHIVE_OK) {
		if (!s->failed)
			kcsi_error_set(err, KCSI_ERR_IO, "tar writer: %s", archive_error_string(a));
		archive_write_free(a);
		return NULL;
	}
	return a;
}

static kcsi_code tar_entry(struct archive *a, const char *name, bool dir, unsigned perm, int64_t mtime,
			   const unsigned char *data, uint64_t size, struct sink *s, kcsi_error *err)
{
	struct archive_entry *e = archive_entry_new();
	if (!e)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(e, perm);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, mtime > 0 ? (time_t)mtime : 0, 0);
	archive_entry_set_size(e, dir ? 0 : (la_int64_t)size);
	int r = archive_write_header(a, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		goto fail;
	for (uint64_t off = 0; !dir && off < size;) {
		size_t chunk = size - off > (1u << 20) ? (1u << 20) : (size_t)(size - off);
		la_ssize_t w = archive_write_data(a, data + off, chunk);
		if (w <= 0)
			goto fail;
		off += (uint64_t)w;
	}
	return KCSI_OK;
fail:
	if (!s->failed)
		kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", name, archive_error_string(a));
	return err->code;
}

/* ---- the layer ---- */

/* Write the layer tar to the sink: every member that is a directory or a
 * regular file with data, in the archive's order. */
static kcsi_code write_layer(kcsi_archive *ar, struct sink *s, uint64_t *members, kcsi_error *err)
{
	struct archive *a = tar_writer(s, err);
	kcsi_code rc = KCSI_OK;
	uint64_t n = 0;
	if (!a)
		return err->code;
	for (size_t i = 0; i < kcsi_archive_count(ar) && rc == KCSI_OK; i++) {
		const kcsi_member *m = kcsi_archive_at(ar, i);
		const unsigned char *data = NULL;
		unsigned perm = m->mode & 0777;
		if (!m->is_dir) {
			if (!m->has_data) {
				rc = kcsi_error_set(err, KCSI_ERR_GENERIC, "%s: member %s: content not readable",
						    kcsi_archive_path(ar), m->name);
				break;
			}
			if ((rc = kcsi_member_data(ar, m, &data, err)) != KCSI_OK)
				break;
		}
		if (!perm)
			perm = m->is_dir ? 0755 : 0644;
		rc = tar_entry(a, m->name, m->is_dir, perm, m->mtime, data, m->size, s, err);
		n++;
	}
	if (rc == KCSI_OK && archive_write_close(a) != ARCHIVE_OK && !s->failed)
		rc = kcsi_error_set(err, KCSI_ERR_IO, "layer: %s", archive_error_string(a));
	if (rc == KCSI_OK && s->failed)
		rc = err->code;
	archive_write_free(a);
	*members = n;
	return rc;
}

/* ---- the JSON blobs ---- */

/* An annotation value from the archive: bounded, valid UTF-8 (other bytes
 * become '?'), never NULL. */
static json_t *ann_str(const char *v)
{
	char buf[ANN_MAX + 1];
	json_t *j;
	if (!v)
		v = "";
	snprintf(buf, sizeof(buf), "%s", v);
	if ((j = json_string(buf)))
		return j;
	for (unsigned char *p = (unsigned char *)buf; *p; p++)
		if (*p >= 0x80 || *p < 0x20)
			*p = '?';
	return json_string(buf);
}

struct blob {
	char *text;
	size_t len;
	char digest[72];
};

static kcsi_code blob_make(json_t *j, struct blob *b, kcsi_error *err)
{
	b->text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!b->text)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	b->len = strlen(b->text);
	memcpy(b->digest, "sha256:", 7);
	kcsi_sha256_hex(b->text, b->len, b->digest + 7);
	return KCSI_OK;
}

static json_t *descriptor(const char *mt, const char *digest, uint64_t size)
{
	return json_pack("{s:s,s:s,s:I}", "mediaType", mt, "digest", digest, "size", (json_int_t)size);
}

struct blobs {
	struct blob config, manifest, index, top;
};

static void blobs_free(struct blobs *b)
{
	free(b->config.text);
	free(b->manifest.text);
	free(b->index.text);
	free(b->top.text);
}

static kcsi_code make_blobs(const kcsi_meta *m, const char *name, const char *layer_digest, uint64_t layer_size,
			    struct blobs *b, kcsi_error *err)
{
	const char *created = m->checkpointed ? m->checkpointed : m->created ? m->created : "1970-01-01T00:00:00Z";
	json_t *j, *ann;
	kcsi_code rc;
	char comment[256];

	snprintf(comment, sizeof(comment), "checkpoint of container %.200s", m->container ? m->container : "?");
	j = json_pack("{s:o,s:s,s:s,s:{s:{s:o,s:o}},s:{s:s,s:[s]},s:[{s:o,s:s,s:s}]}", "created", ann_str(created),
		      "architecture", "amd64", "os", "linux", "config", "Labels", "io.kcsi.checkpoint.container",
		      ann_str(m->container), "io.kcsi.checkpoint.engine", ann_str(m->engine), "rootfs", "type",
		      "layers", "diff_ids", layer_digest, "history", "created", ann_str(created), "created_by",
		      "kcsi build", "comment", comment);
	if (!j || (rc = blob_make(j, &b->config, err)))
		return j ? rc : kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");

	/* CRI-O and podman read the manifest's annotations, each its own keys
	 * (podman 4 restores only an image whose runtime.name is its runtime) */
	ann = json_object();
	for (int k = 0; k < 2; k++) {
		const char *pre = k ? PODMAN : CRIO;
		char key[96];
		const char *const kv[][2] = {{"name", m->container},        {"rawImageName", m->image},
					     {"rootfsImageID", m->image_id}, {"rootfsImageName", m->image},
					     {"runtime.name", m->runtime}};
		for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
			snprintf(key, sizeof(key), "%s%s", pre, kv[i][0]);
			json_object_set_new(ann, key, ann_str(kv[i][1]));
		}
	}
	json_object_set_new(ann, "org.opencontainers.image.created", ann_str(created));
	j = json_pack("{s:i,s:s,s:o,s:[o],s:o}", "schemaVersion", 2, "mediaType", MT_MANIFEST, "config",
		      descriptor(MT_CONFIG, b->config.digest, b->config.len), "layers",
		      descriptor(MT_LAYER, layer_digest, layer_size), "annotations", ann);
	if (!j || (rc = blob_make(j, &b->manifest, err)))
		return j ? rc : kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");

	/* containerd reads the annotations of the blob the image name points to:
	 * an index holding the one manifest, for its platform */
	json_t *md = descriptor(MT_MANIFEST, b->manifest.digest, b->manifest.len);
	json_object_set_new(md, "platform", json_pack("{s:s,s:s}", "architecture", "amd64", "os", "linux"));
	ann = json_object();
	json_object_set_new(ann, CRIU "engine.name", ann_str(m->engine));
	json_object_set_new(ann, CRIU "container.name", ann_str(m->container));
	json_object_set_new(ann, CRIU "pod.name", ann_str(m->pod));
	json_object_set_new(ann, CRIU "pod.namespace", ann_str(m->namespace_));
	json_object_set_new(ann, CRIU "rootfsImageName", ann_str(m->image));
	json_object_set_new(ann, CRIU "rootfsImageUserRequested", ann_str(m->image));
	json_object_set_new(ann, CRIU "rootfsImageID", ann_str(m->image_id));
	json_object_set_new(ann, CRIU "runtime.name", ann_str(m->runtime));
	j = json_pack("{s:i,s:s,s:[o],s:o}", "schemaVersion", 2, "mediaType", MT_INDEX, "manifests", md,
		      "annotations", ann);
	if (!j || (rc = blob_make(j, &b->index, err)))
		return j ? rc : kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");

	/* the layout's index.json names it (OCI's ref.name, containerd's image.name) */
	json_t *id = descriptor(MT_INDEX, b->index.digest, b->index.len);
	json_object_set_new(id, "annotations", json_pack("{s:s,s:s}", "io.containerd.image.name", name,
							 "org.opencontainers.image.ref.name", name));
	j = json_pack("{s:i,s:s,s:[o]}", "schemaVersion", 2, "mediaType", MT_INDEX, "manifests", id);
	if (!j || (rc = blob_make(j, &b->top, err)))
		return j ? rc : kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	return KCSI_OK;
}

static const char oci_layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";

/* ---- the layout directory ---- */

static kcsi_code dir_file(kcsi_outdir *d, const char *rel, const void *p, size_t n, kcsi_error *err)
{
	int fd = kcsi_outdir_create(d, rel, err);
	kcsi_code rc;
	if (fd < 0)
		return err->code;
	rc = kcsi_write_at(fd, p, n, 0, rel, err);
	if (rc == KCSI_OK && fsync(fd) != 0)
		rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: fsync: %s", rel, strerror(errno));
	close(fd);
	return rc;
}

static kcsi_code blob_file(kcsi_outdir *d, const struct blob *b, kcsi_error *err)
{
	char rel[128];
	snprintf(rel, sizeof(rel), "blobs/sha256/%s", b->digest + 7);
	return dir_file(d, rel, b->text, b->len, err);
}

/* A directory that does not exist yet, or exists empty. */
static kcsi_code fresh_dir(const char *path, kcsi_error *err)
{
	DIR *dh;
	struct dirent *de;
	if (mkdir(path, 0700) == 0)
		return KCSI_OK;
	if (errno != EEXIST)
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
	if (!(dh = opendir(path)))
		return kcsi_error_set(err, KCSI_ERR_USAGE, "%s: exists and is not a directory", path);
	while ((de = readdir(dh)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			closedir(dh);
			return kcsi_error_set(err, KCSI_ERR_USAGE, "%s: exists and is not empty", path);
		}
	closedir(dh);
	return KCSI_OK;
}

static kcsi_code build_layout(kcsi_archive *ar, const kcsi_meta *m, const char *dir, const char *name,
			      kcsi_ocibuild_result *res, kcsi_error *err)
{
	kcsi_outdir d = {.fd = -1};
	struct blobs b;
	memset(&b, 0, sizeof(b));
	struct sink s = {.fd = -1, .err = err};
	kcsi_code rc;
	char tmp[64] = "blobs/sha256/.layer-in-progress", rel[128];

	if ((rc = fresh_dir(dir, err)) || (rc = kcsi_outdir_open(&d, dir, false, err)))
		return rc;
	if ((s.fd = kcsi_outdir_create(&d, tmp, err)) < 0) {
		rc = err->code;
		goto out;
	}
	if (!(s.md = EVP_MD_CTX_new())) {
		rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		goto out;
	}
	EVP_DigestInit_ex(s.md, EVP_sha256(), NULL);
	if ((rc = write_layer(ar, &s, &res->members, err)))
		goto out;
	if (fsync(s.fd) != 0) {
		rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: layer: fsync: %s", dir, strerror(errno));
		goto out;
	}
	hex_digest(s.md, res->layer_digest);
	res->layer_size = s.n;
	snprintf(rel, sizeof(rel), "blobs/sha256/%s", res->layer_digest + 7);
	if (renameat(d.fd, tmp, d.fd, rel) != 0) {
		rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: %s: %s", dir, rel, strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	if ((rc = make_blobs(m, name, res->layer_digest, res->layer_size, &b, err)) ||
	    (rc = blob_file(&d, &b.config, err)) || (rc = blob_file(&d, &b.manifest, err)) ||
	    (rc = blob_file(&d, &b.index, err)) ||
	    (rc = dir_file(&d, "oci-layout", oci_layout, strlen(oci_layout), err)) ||
	    (rc = dir_file(&d, "index.json", b.top.text, b.top.len, err)))
		goto out;
	strcpy(res->config_digest, b.config.digest);
	strcpy(res->manifest_digest, b.manifest.digest);
	strcpy(res->index_digest, b.index.digest);
out:
	if (s.fd >= 0)
		close(s.fd);
	if (rc && tmp[0] && d.fd >= 0)
		unlinkat(d.fd, tmp, 0);
	if (rc)
		kcsi_error_prefix(err, "%s", dir);
	EVP_MD_CTX_free(s.md);
	blobs_free(&b);
	kcsi_outdir_close(&d);
	return rc;
}

/* ---- the oci-archive ---- */

static kcsi_code hash_layer(kcsi_archive *ar, kcsi_ocibuild_result *res, kcsi_error *err)
{
	struct sink s = {.fd = -1, .err = err, .md = EVP_MD_CTX_new()};
	kcsi_code rc;
	if (!s.md)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	EVP_DigestInit_ex(s.md, EVP_sha256(), NULL);
	rc = write_layer(ar, &s, &res->members, err);
	hex_digest(s.md, res->layer_digest);
	res->layer_size = s.n;
	EVP_MD_CTX_free(s.md);
	return rc;
}

static kcsi_code outer_blob(struct archive *o, const struct blob *b, struct sink *os, kcsi_error *err)
{
	char rel[128];
	snprintf(rel, sizeof(rel), "blobs/sha256/%s", b->digest + 7);
	return tar_entry(o, rel, false, 0644, 0, (const unsigned char *)b->text, b->len, os, err);
}

static kcsi_code build_archive(kcsi_archive *ar, const kcsi_meta *m, const char *path, const char *name,
			       kcsi_ocibuild_result *res, bool hashed, kcsi_error *err)
{
	struct blobs b;
	memset(&b, 0, sizeof(b));
	struct sink os = {.err = err}, ls = {.fd = -1, .err = err};
	struct archive *o = NULL;
	struct archive_entry *e = NULL;
	kcsi_code rc;
	char layer_digest[72];
	uint64_t members;

	if (!hashed && (rc = hash_layer(ar, res, err)))
		return rc;
	if ((rc = make_blobs(m, name, res->layer_digest, res->layer_size, &b, err)))
		goto out;
	os.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (os.fd < 0) {
		rc = kcsi_error_set(err, errno == EEXIST ? KCSI_ERR_USAGE : KCSI_ERR_IO, "%s: %s", path,
				    errno == EEXIST ? "exists (not overwritten)" : strerror(errno));
		goto out;
	}
	os.md = EVP_MD_CTX_new();
	ls.md = EVP_MD_CTX_new();
	if (!os.md || !ls.md) {
		rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		goto out;
	}
	EVP_DigestInit_ex(os.md, EVP_sha256(), NULL);
	EVP_DigestInit_ex(ls.md, EVP_sha256(), NULL);
	if (!(o = tar_writer(&os, err))) {
		rc = err->code;
		goto out;
	}
	if ((rc = tar_entry(o, "blobs/", true, 0755, 0, NULL, 0, &os, err)) ||
	    (rc = tar_entry(o, "blobs/sha256/", true, 0755, 0, NULL, 0, &os, err)) ||
	    (rc = tar_entry(o, "oci-layout", false, 0644, 0, (const unsigned char *)oci_layout, strlen(oci_layout),
			    &os, err)) ||
	    (rc = tar_entry(o, "index.json", false, 0644, 0, (const unsigned char *)b.top.text, b.top.len, &os,
			    err)) ||
	    (rc = outer_blob(o, &b.index, &os, err)) || (rc = outer_blob(o, &b.manifest, &os, err)) ||
	    (rc = outer_blob(o, &b.config, &os, err)))
		goto out;
	/* the layer: its header with the size found before, then the same bytes again */
	if (!(e = archive_entry_new())) {
		rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		goto out;
	}
	char rel[128];
	snprintf(rel, sizeof(rel), "blobs/sha256/%s", res->layer_digest + 7);
	archive_entry_set_pathname(e, rel);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)res->layer_size);
	if (archive_write_header(o, e) != ARCHIVE_OK) {
		rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", rel, archive_error_string(o));
		goto out;
	}
	ls.outer = o;
	if ((rc = write_layer(ar, &ls, &members, err)))
		goto out;
	hex_digest(ls.md, layer_digest);
	if (ls.n != res->layer_size || strcmp(layer_digest, res->layer_digest)) {
		rc = kcsi_error_set(err, KCSI_ERR_GENERIC, "the layer changed between two passes (%s, %s)",
				    res->layer_digest, layer_digest);
		goto out;
	}
	if (archive_write_close(o) != ARCHIVE_OK && !os.failed) {
		rc = kcsi_error_set(err, KCSI_ERR_IO, "%s", archive_error_string(o));
		goto out;
	}
	if (os.failed) {
		rc = err->code;
		goto out;
	}
	if (fsync(os.fd) != 0) {
		rc = kcsi_error_set(err, KCSI_ERR_IO, "fsync: %s", strerror(errno));
		goto out;
	}
	strcpy(res->config_digest, b.config.digest);
	strcpy(res->manifest_digest, b.manifest.digest);
	strcpy(res->index_digest, b.index.digest);
out:
	archive_entry_free(e);
	if (o)
		archive_write_free(o);
	if (os.fd >= 0) {
		close(os.fd);
		if (rc)
			unlink(path);
	}
	if (rc && rc != KCSI_ERR_USAGE)
		kcsi_error_prefix(err, "%s", path);
	EVP_MD_CTX_free(os.md);
	EVP_MD_CTX_free(ls.md);
	blobs_free(&b);
	return rc;
}

/* ---- names and the entry point ---- */

int kcsi_ocibuild_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 255 || s[0] == '/' || s[0] == ':' || s[n - 1] == '/' || s[n - 1] == ':')
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("._-/:", *p) ||
		      (*p >= 'A' && *p <= 'Z' && strchr(s, ':') && p > strrchr(s, ':'))))
			return 0;
	return strstr(s, "//") == NULL && strstr(s, "..") == NULL;
}

void kcsi_ocibuild_default_name(const kcsi_ckpt *c, char *out, size_t cap)
{
	const kcsi_meta *m = kcsi_ckpt_meta(c);
	char ctr[64];
	size_t k = 0;
	for (const char *p = m->container ? m->container : ""; *p && k < sizeof(ctr) - 1; p++) {
		char ch = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    (ch == '.' && k > 0 && ctr[k - 1] != '.'))
			ctr[k++] = ch;
	}
	ctr[k] = '\0';
	snprintf(out, cap, "localhost/checkpoint-%s:latest", k ? ctr : "container");
}

kcsi_code kcsi_oci_build(kcsi_ckpt *c, const kcsi_ocibuild_opts *o, kcsi_ocibuild_result *res, kcsi_error *err)
{
	kcsi_archive *ar = kcsi_ckpt_archive(c);
	const kcsi_meta *m = kcsi_ckpt_meta(c);
	kcsi_code rc;

	memset(res, 0, sizeof(*res));
	if (!o->layout_dir && !o->archive_path)
		return kcsi_error_set(err, KCSI_ERR_USAGE, "nothing to write: give an OCI layout directory or an archive");
	if (!o->name || !kcsi_ocibuild_name_ok(o->name))
		return kcsi_error_set(err, KCSI_ERR_USAGE, "'%s': not an image name", o->name ? o->name : "");
	if (!kcsi_archive_find(ar, "config.dump") || !kcsi_archive_find(ar, "spec.dump"))
		return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED,
				      "%s: no config.dump and spec.dump: a bare CRIU image directory cannot be "
				      "restored from an image",
				      kcsi_archive_path(ar));
	if (o->archive_path && access(o->archive_path, F_OK) == 0)
		return kcsi_error_set(err, KCSI_ERR_USAGE, "%s: exists (not overwritten)", o->archive_path);
	if (o->layout_dir && (rc = build_layout(ar, m, o->layout_dir, o->name, res, err)))
		return rc;
	if (o->archive_path && (rc = build_archive(ar, m, o->archive_path, o->name, res, o->layout_dir != NULL, err)))
		return rc;
	return KCSI_OK;
}
