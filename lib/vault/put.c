/* kcsi vault — put: an archive read once, hashed, encrypted, stored and
 * recorded as "ingested" (the object linked under objects/ inside the
 * writers' critical section). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kcsi/jsonw.h"
#include "kcsi/progress.h"
#include "vault/vault_int.h"

/* ---- put ---- */

/* Two threads on two cores: the reader hashes, the main thread encrypts and
 * writes.  Buffers circulate through a small ring, so memory stays flat. */
#define RING 4

struct ring {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned char *buf[RING];
	size_t len[RING];
	int state[RING]; /* 0 free, 1 full */
	int err;         /* errno of a read failure */
	bool eof;
	int fd;
	EVP_MD_CTX *md;
	uint64_t total;
};

static void *reader(void *arg)
{
	struct ring *r = arg;
	for (unsigned k = 0;; k = (k + 1) % RING) {
		size_t got = 0;
		pthread_mutex_lock(&r->mu);
		while (r->state[k] != 0 && r->err == 0)
			pthread_cond_wait(&r->cv, &r->mu);
		int failed = r->err;
		pthread_mutex_unlock(&r->mu);
		if (failed)
			return NULL;
		while (got < KV_CHUNK) {
			ssize_t n = read(r->fd, r->buf[k] + got, KV_CHUNK - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				pthread_mutex_lock(&r->mu);
				r->err = errno;
				pthread_cond_broadcast(&r->cv);
				pthread_mutex_unlock(&r->mu);
				return NULL;
			}
			if (n == 0)
				break;
			got += (size_t)n;
		}
		EVP_DigestUpdate(r->md, r->buf[k], got);
		r->total += got;
		pthread_mutex_lock(&r->mu);
		r->len[k] = got;
		r->state[k] = 1;
		if (got < KV_CHUNK)
			r->eof = true;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		if (got < KV_CHUNK)
			return NULL;
	}
}

/* under the writers' lock: link the object in (once), then say what to record */
struct put_rec {
	kv_upload *u;
	const char *key;
	bool committed, existed, duplicate;
	kv_entry_in in;
};

static kcsi_code decide_put(kcsi_vault *v, void *ctx, kv_entry_in *in, kcsi_error *err)
{
	struct put_rec *p = ctx;
	if (!p->committed) {
		kcsi_code rc = v->s->ops->obj_commit(p->u, p->key, &p->existed, err);
		p->u = NULL;
		p->committed = true;
		if (rc != KCSI_OK)
			return rc;
	}
	*in = p->in;
	p->duplicate = p->existed && kv_state(v, p->in.id, NULL) == 1;
	if (p->duplicate)
		in->detail = "content already held";
	return KCSI_OK;
}

kcsi_code kcsi_vault_put(kcsi_vault *v, const char *path, const char *case_id, const char *note,
			 kcsi_vault_put_info *info, kcsi_error *err)
{
	struct ring r;
	pthread_t th;
	bool started = false;
	kv_enc enc;
	kv_upload *u = NULL;
	unsigned char *out = NULL, sha[32], hdr[KV_HDR_LEN];
	char id[65], key[160], *name = NULL;
	kcsi_code rc;
	struct stat st;
	int fd;

	memset(info, 0, sizeof(*info));
	memset(&r, 0, sizeof(r));
	memset(&enc, 0, sizeof(enc));
	if ((rc = kv_text_ok("the case", "case", case_id, err)) || (rc = kv_text_ok("the note", "note", note, err)))
		return rc;
	/* the ledger (and vault.json, which says where the key is) must be sound
	 * before anything is added */
	if ((rc = kv_ensure_loaded(v, err)) != KCSI_OK)
		return rc;
	if ((rc = kv_need_key(v, err)) != KCSI_OK || (rc = kv_need_secret(v, err)) != KCSI_OK)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kcsi_error_set(err, errno == ENOENT ? KCSI_ERR_NOTFOUND : KCSI_ERR_IO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return kcsi_error_set(err, KCSI_ERR_USAGE, "%s: not a regular file", path);
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	r.fd = fd;
	r.md = EVP_MD_CTX_new();
	out = malloc(KV_CHUNK_MAX_OUT);
	bool bufs = out != NULL;
	for (int k = 0; k < RING; k++)
		if (!(r.buf[k] = malloc(KV_CHUNK)))
			bufs = false;
	if (!bufs || !r.md || !EVP_DigestInit_ex(r.md, EVP_sha256(), NULL)) {
		rc = kv_nomem(err);
		goto out;
	}
	if (kv_enc_start(&enc, v->key, hdr) != 0) {
		rc = kv_nomem(err);
		goto out;
	}
	if ((rc = v->s->ops->obj_begin(v->s, &u, err)) != KCSI_OK)
		goto out;
	if ((rc = v->s->ops->obj_write(u, hdr, sizeof(hdr), err)) != KCSI_OK)
		goto out;
	if (pthread_create(&th, NULL, reader, &r) != 0) {
		rc = kcsi_error_set(err, KCSI_ERR_GENERIC, "starting the reader: %s", strerror(errno));
		goto out;
	}
	started = true;
	kcsi_progress_phase("storing the evidence", (uint64_t)st.st_size);
	for (unsigned k = 0;; k = (k + 1) % RING) {
		size_t n, len;
		bool last;
		pthread_mutex_lock(&r.mu);
		while (r.state[k] != 1 && r.err == 0)
			pthread_cond_wait(&r.cv, &r.mu);
		if (r.err) {
			pthread_mutex_unlock(&r.mu);
			errno = r.err;
			rc = kcsi_error_set(err, KCSI_ERR_IO, "reading %s: %s", path, strerror(r.err));
			goto out;
		}
		len = r.len[k];
		last = len < KV_CHUNK;
		pthread_mutex_unlock(&r.mu);
		if (len) {
			n = kv_enc_chunk(&enc, r.buf[k], len, out, false);
			if ((rc = v->s->ops->obj_write(u, out, n, err)) != KCSI_OK) {
				pthread_mutex_lock(&r.mu);
				r.err = EIO;
				pthread_cond_broadcast(&r.cv);
				pthread_mutex_unlock(&r.mu);
				goto out;
			}
			kcsi_progress_add(len);
		}
		pthread_mutex_lock(&r.mu);
		r.state[k] = 0;
		pthread_cond_broadcast(&r.cv);
		pthread_mutex_unlock(&r.mu);
		if (last)
			break;
	}
	pthread_join(th, NULL);
	started = false;
	{
		unsigned int hl = 32;
		size_t n;
		EVP_DigestFinal_ex(r.md, sha, &hl);
		n = kv_enc_final(&enc, sha, true, out);
		if ((rc = v->s->ops->obj_write(u, out, n, err)) != KCSI_OK)
			goto out;
	}
	kcsi_hex(sha, 32, id);
	kv_obj_key(id, key, sizeof(key));
	/* link it in and record it, both under the writers' lock */
	if (!(name = kv_safe_name(path))) {
		rc = kv_nomem(err);
		goto out;
	}
	if ((rc = v->s->ops->lock(v->s, KV_LOCK_EXCLUSIVE, err)) != KCSI_OK)
		goto out;
	{
		struct put_rec pr = {.u = u, .key = key};
		pr.in = (kv_entry_in){.action = "ingested", .id = id, .sha256 = id, .size = r.total, .has_size = true,
				      .name = name, .case_id = case_id, .note = note};
		rc = kv_ledger_record(v, decide_put, &pr, &info->seq, err);
		u = pr.u; /* still ours when the ledger did not load */
		info->duplicate = pr.duplicate;
	}
	v->s->ops->unlock(v->s);
	if (rc == KCSI_OK) {
		memcpy(info->id, id, sizeof(id));
		info->size = r.total;
	}
out:
	kcsi_progress_done();
	if (started) {
		pthread_mutex_lock(&r.mu);
		if (!r.err)
			r.err = ECANCELED;
		pthread_cond_broadcast(&r.cv);
		pthread_mutex_unlock(&r.mu);
		pthread_join(th, NULL);
	}
	if (u)
		v->s->ops->obj_abort(u);
	kv_enc_free(&enc);
	EVP_MD_CTX_free(r.md);
	for (int k = 0; k < RING; k++)
		free(r.buf[k]);
	free(out);
	free(name);
	close(fd);
	pthread_mutex_destroy(&r.mu);
	pthread_cond_destroy(&r.cv);
	return rc;
}

