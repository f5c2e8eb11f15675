/* kcsi fuzz target: a vault's ledger, as `kcsi vault verify --ledger-only`
 * checks it (lib/vault/ledger.c: signatures, hash chain, order, head, the
 * copy of vault.json in the "created" entry), then lists and logs it.
 *
 * Input: the 64-byte Ed25519 secret key of the vault the sample came from,
 * one flags byte, then the store's files separated by NUL bytes:
 *     vault.json NUL ledger.head NUL ledger.jsonl
 * (an empty or missing part: no such file).  With flag bit 0 set the ledger
 * is resealed before it is checked: every line and the head are signed
 * again with the key, each line's "prev" is set to the hash of the line
 * before it and the head's "seq" and "hash" to the number of lines and the
 * hash of the last one, so that a mutated entry still passes the signature
 * and chain checks and reaches what comes after them (order, ids, state
 * replay, the config check, list and log).
 * fuzz/make-corpus.py takes the samples from a real vault made with the
 * kcsi CLI.  The files go to a directory of the process's own.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "fuzz_common.h"
#include "kcsi/vault.h"

#define SIG_PREFIX ", \"sig\": \""
#define LINE_CTX "kcsi-ledger-v1\n"
#define HEAD_CTX "kcsi-head-v1\n"

static char store[4200], keys[4300];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	snprintf(store, sizeof(store), "%s/vault", fuzz_workdir());
	snprintf(keys, sizeof(keys), "%s/no-keys", fuzz_workdir());
	setenv("KCSI_ACTOR", "fuzz", 1);
	return 0;
}

/* Where the hex value of `"key": "` starts in [p, p+n), if 64 characters
 * follow it. */
static char *hex_field(char *p, size_t n, const char *key)
{
	char pat[32];
	size_t pl = (size_t)snprintf(pat, sizeof(pat), "\"%s\": \"", key);
	for (size_t i = 0; i + pl + 64 <= n; i++)
		if (!memcmp(p + i, pat, pl))
			return p + i + pl;
	return NULL;
}

/* copy (*len bytes, malloc'd) with the number after its first `"seq": `
 * set to seq; returns the new copy */
static char *with_seq(char *copy, size_t *len, long long seq)
{
	static const char pat[] = "\"seq\": ";
	size_t pl = strlen(pat), a, b;
	char num[24], *out;
	int nl;
	for (a = 0; a + pl <= *len && memcmp(copy + a, pat, pl); a++)
		;
	if (a + pl > *len)
		return copy;
	a += pl;
	for (b = a; b < *len && ((copy[b] >= '0' && copy[b] <= '9') || copy[b] == '-'); b++)
		;
	nl = snprintf(num, sizeof(num), "%lld", seq);
	if (!(out = malloc(*len - (b - a) + (size_t)nl + 1)))
		abort();
	memcpy(out, copy, a);
	memcpy(out + a, num, (size_t)nl);
	memcpy(out + a + nl, copy + b, *len - b);
	*len = *len - (b - a) + (size_t)nl;
	free(copy);
	return out;
}

/* Append LINE (n bytes, no newline) to out, signed again with sk under ctx,
 * its `field` (when there is one) set to link_hex and its "seq" to seq
 * (when >= 0) first. */
static void reseal(FILE *out, const char *line, size_t n, const char *ctx, const char *field,
		   const char *link_hex, long long seq, const unsigned char *sk)
{
	size_t body = n, pl = strlen(SIG_PREFIX), cl = strlen(ctx);
	unsigned char sig[crypto_sign_BYTES];
	char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	char *copy, *msg, *h;

	/* the text before the last `, "sig": "...` when the line ends in `"}`,
	 * else the line without its closing brace */
	if (n >= 2 && line[n - 1] == '}' && line[n - 2] == '"') {
		for (size_t i = n >= pl ? n - pl + 1 : 0; i-- > 0;)
			if (!memcmp(line + i, SIG_PREFIX, pl)) {
				body = i;
				break;
			}
	}
	if (body == n && n && line[n - 1] == '}')
		body = n - 1;
	copy = malloc(body + 1);
	msg = malloc(cl + body + 1);
	if (!copy || !msg)
		abort();
	memcpy(copy, line, body);
	if (link_hex && (h = hex_field(copy, body, field)))
		memcpy(h, link_hex, 64);
	if (seq >= 0) {
		copy = with_seq(copy, &body, seq);
		if (!(msg = realloc(msg, cl + body + 1)))
			abort();
	}
	memcpy(msg, ctx, cl);
	memcpy(msg + cl, copy, body);
	msg[cl + body] = '}';
	crypto_sign_detached(sig, NULL, (unsigned char *)msg, cl + body + 1, sk);
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
	fwrite(copy, 1, body, out);
	fprintf(out, "%s%s\"}", SIG_PREFIX, b64);
	free(copy);
	free(msg);
}

static void sha_hex(const char *p, size_t n, char hex[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)p, n);
	sodium_bin2hex(hex, 65, h, sizeof(h));
}

/* The ledger resealed (see the head comment); *head_out the head resealed. */
static void reseal_all(const char *led, size_t n, const char *head, size_t hn, const unsigned char *sk,
		       char **led_out, size_t *led_len, char **head_out, size_t *head_len)
{
	FILE *f = open_memstream(led_out, led_len);
	char prev[65];
	long long nlines = 0;
	long start;
	if (!f)
		abort();
	memset(prev, '0', 64);
	prev[64] = '\0';
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(led + i, '\n', n - i);
		size_t e = nl ? (size_t)(nl - led) : n;
		start = ftell(f);
		reseal(f, led + i, e - i, LINE_CTX, "prev", prev, -1, sk);
		nlines++;
		fflush(f);
		sha_hex(*led_out + start, (size_t)(ftell(f) - start), prev);
		if (nl)
			fputc('\n', f);
		i = e + 1;
	}
	fclose(f);
	f = open_memstream(head_out, head_len);
	if (!f)
		abort();
	if (hn)
		reseal(f, head, hn, HEAD_CTX, "hash", n ? prev : NULL, n ? nlines : -1, sk);
	fclose(f);
}

/* STORE/name holding [p, p+n), unless p is NULL, or n is 0 and !empty_ok */
static void put(const char *name, const char *p, size_t n, bool empty_ok)
{
	char path[4400];
	snprintf(path, sizeof(path), "%s/%s", store, name);
	if (p && (n || empty_ok))
		fuzz_write_file(path, p, n);
}

static void check(void)
{
	kcsi_vault *v = NULL;
	kcsi_error err;
	json_t *res = NULL;
	kcsi_error_clear(&err);
	if (kcsi_vault_open(store, keys, &v, &err) != KCSI_OK) {
		fuzz_touch(err.msg);
		return;
	}
	if (kcsi_vault_verify(v, NULL, KCSI_VAULT_VERIFY_NORECORD | KCSI_VAULT_VERIFY_LEDGER_ONLY, &res, &err) ==
	    KCSI_OK) {
		fuzz_check_json(res);
		if (json_is_true(json_object_get(res, "ok")) && json_array_size(json_object_get(res, "problems")))
			abort();
		json_decref(res);
	}
	kcsi_error_clear(&err);
	if (kcsi_vault_list(v, NULL, &res, &err) == KCSI_OK) {
		fuzz_check_json(res);
		json_decref(res);
	}
	kcsi_error_clear(&err);
	if (kcsi_vault_log(v, NULL, &res, &err) == KCSI_OK) {
		fuzz_check_json(res);
		json_decref(res);
	}
	kcsi_vault_close(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *sk = data;
	const char *p = (const char *)data + 65, *end = (const char *)data + size, *z1, *z2;
	const char *conf, *head = NULL, *led = NULL;
	size_t conf_n, head_n = 0, led_n = 0;
	char *rl = NULL, *rh = NULL;
	size_t rl_n = 0, rh_n = 0;

	if (size < 65)
		return 0;
	conf = p;
	z1 = memchr(p, '\0', (size_t)(end - p));
	conf_n = z1 ? (size_t)(z1 - p) : (size_t)(end - p);
	if (z1) {
		head = z1 + 1;
		z2 = memchr(head, '\0', (size_t)(end - head));
		head_n = z2 ? (size_t)(z2 - head) : (size_t)(end - head);
		if (z2) {
			led = z2 + 1;
			led_n = (size_t)(end - led);
		}
	}
	if (data[64] & 1) {
		reseal_all(led ? led : "", led_n, head ? head : "", head_n, sk, &rl, &rl_n, &rh, &rh_n);
		led = led ? rl : NULL;
		led_n = rl_n;
		head = head ? rh : NULL;
		head_n = rh_n;
	}
	fuzz_clear_dir(fuzz_workdir());
	if (mkdir(store, 0700) != 0)
		abort();
	put("vault.json", conf, conf_n, false);
	put("ledger.head", head, head_n, false);
	put("ledger.jsonl", led, led_n, true);
	check();
	free(rl);
	free(rh);
	return 0;
}
