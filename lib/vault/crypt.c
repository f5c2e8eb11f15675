/* kcsi vault — the encrypted object stream and small crypto helpers. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vault/vault_int.h"

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int kv_unhex(const char *s, unsigned char *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int a = hexval(s[2 * i]), b = hexval(s[2 * i + 1]);
		if (a < 0 || b < 0)
			return -1;
		out[i] = (unsigned char)(a << 4 | b);
	}
	return 0;
}

int kv_enc_start(kv_enc *e, const unsigned char key[KV_KEY_LEN], unsigned char out[KV_HDR_LEN])
{
	memset(e, 0, sizeof(*e));
	e->md = EVP_MD_CTX_new();
	if (!e->md || !EVP_DigestInit_ex(e->md, EVP_sha256(), NULL))
		return -1;
	memcpy(out, KV_MAGIC, KV_MAGIC_LEN);
	crypto_secretstream_xchacha20poly1305_init_push(&e->st, out + KV_MAGIC_LEN, key);
	return 0;
}

static size_t seal(kv_enc *e, const unsigned char *in, size_t n, unsigned char tag, unsigned char *out)
{
	unsigned long long clen = 0;
	put_le32(out, (uint32_t)(n + KV_ABYTES));
	crypto_secretstream_xchacha20poly1305_push(&e->st, out + 4, &clen, in, n, out, 4, tag);
	return 4 + (size_t)clen;
}

size_t kv_enc_chunk(kv_enc *e, const unsigned char *in, size_t n, unsigned char *out, bool hash)
{
	if (hash)
		EVP_DigestUpdate(e->md, in, n);
	e->total += n;
	return seal(e, in, n, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE, out);
}

size_t kv_enc_final(kv_enc *e, unsigned char sha[32], bool computed, unsigned char *out)
{
	unsigned char tr[KV_TRAILER_LEN];
	if (!computed) {
		unsigned int len = 32;
		EVP_DigestFinal_ex(e->md, sha, &len);
	}
	memcpy(tr, "KVEND\0\0\0", 8);
	put_le64(tr + 8, e->total);
	memcpy(tr + 16, sha, 32);
	return seal(e, tr, sizeof(tr), crypto_secretstream_xchacha20poly1305_TAG_FINAL, out);
}

void kv_enc_free(kv_enc *e)
{
	EVP_MD_CTX_free(e->md);
	e->md = NULL;
	sodium_memzero(&e->st, sizeof(e->st));
}

int kv_dec_init(kv_dec *d, const unsigned char key[KV_KEY_LEN], const char *what, kv_sink sink, void *ctx)
{
	memset(d, 0, sizeof(*d));
	memcpy(d->key, key, KV_KEY_LEN);
	d->md = EVP_MD_CTX_new();
	d->buf = malloc(KV_CHUNK + KV_ABYTES + KV_HDR_LEN);
	d->plain = malloc(KV_CHUNK + KV_ABYTES);
	if (!d->md || !d->buf || !d->plain || !EVP_DigestInit_ex(d->md, EVP_sha256(), NULL))
		return -1;
	d->need = KV_HDR_LEN;
	d->what = what;
	d->sink = sink;
	d->ctx = ctx;
	return 0;
}

static kcsi_code bad(kv_dec *d, const char *why, kcsi_error *err)
{
	return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: chunk %llu at byte %llu: %s", d->what,
			      (unsigned long long)d->chunkno, (unsigned long long)d->off, why);
}

/* a whole unit (header, length or chunk) is in d->buf */
static int dec_unit(kv_dec *d, kcsi_error *err)
{
	unsigned long long mlen = 0;
	unsigned char tag = 0;
	uint32_t clen;

	switch (d->phase) {
	case 0:
		if (memcmp(d->buf, KV_MAGIC, KV_MAGIC_LEN) != 0)
			return bad(d, "not a kcsi vault object (bad magic)", err);
		if (crypto_secretstream_xchacha20poly1305_init_pull(&d->st, d->buf + KV_MAGIC_LEN, d->key) != 0)
			return bad(d, "bad stream header", err);
		d->phase = 1;
		d->need = 4;
		break;
	case 1:
		clen = kcsi_le32(d->buf);
		if (clen < KV_ABYTES || clen > KV_CHUNK + KV_ABYTES)
			return bad(d, "bad chunk length (the stored bytes were changed)", err);
		d->phase = 2;
		d->need = clen;
		memcpy(d->buf + KV_CHUNK + KV_ABYTES, d->buf, 4); /* keep the length for the AD */
		break;
	case 2:
		if (crypto_secretstream_xchacha20poly1305_pull(&d->st, d->plain, &mlen, &tag, d->buf, d->have,
							       d->buf + KV_CHUNK + KV_ABYTES, 4) != 0)
			return bad(d, "authentication failed (the stored bytes were changed, or a wrong key)", err);
		if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
			if (mlen != KV_TRAILER_LEN || memcmp(d->plain, "KVEND\0\0\0", 8) != 0)
				return bad(d, "bad trailer", err);
			if (get_le64(d->plain + 8) != d->total)
				return bad(d, "trailer size differs from the content", err);
			{
				unsigned char got[32];
				unsigned int len = 32;
				EVP_DigestFinal_ex(d->md, got, &len);
				if (memcmp(got, d->plain + 16, 32) != 0)
					return bad(d, "trailer SHA-256 differs from the content", err);
				memcpy(d->sha, got, 32);
			}
			d->phase = 3;
			d->need = 0;
			break;
		}
		if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
			return bad(d, "unexpected chunk tag", err);
		EVP_DigestUpdate(d->md, d->plain, (size_t)mlen);
		d->total += mlen;
		if (d->sink && d->sink(d->ctx, d->plain, (size_t)mlen, err) != 0)
			return err ? (int)err->code : KCSI_ERR_IO;
		d->chunkno++;
		d->phase = 1;
		d->need = 4;
		break;
	}
	return 0;
}

int kv_dec_feed(kv_dec *d, const unsigned char *p, size_t n, kcsi_error *err)
{
	while (n) {
		size_t take;
		int r;
		if (d->phase == 3)
			return bad(d, "bytes after the final chunk", err);
		take = d->need - d->have;
		if (take > n)
			take = n;
		memcpy(d->buf + d->have, p, take);
		d->have += take;
		p += take;
		n -= take;
		if (d->have < d->need)
			break;
		r = dec_unit(d, err);
		d->off += d->have;
		d->have = 0;
		if (r)
			return r;
	}
	return 0;
}

int kv_dec_finish(kv_dec *d, unsigned char sha[32], uint64_t *size, kcsi_error *err)
{
	if (d->phase != 3)
		return bad(d, "truncated (no final chunk)", err);
	memcpy(sha, d->sha, 32);
	*size = d->total;
	return 0;
}

void kv_dec_free(kv_dec *d)
{
	EVP_MD_CTX_free(d->md);
	d->md = NULL;
	free(d->buf);
	d->buf = NULL;
	free(d->plain);
	d->plain = NULL;
	sodium_memzero(d->key, sizeof(d->key));
	sodium_memzero(&d->st, sizeof(d->st));
}
