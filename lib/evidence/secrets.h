/* kcsi — secrets by known format: cloud keys (AWS, GCP, Azure), payment
 * keys (Stripe), VCS and package tokens (GitHub, GitLab, npm, PyPI), chat
 * bot tokens (Slack, Discord, Telegram), private keys (PEM, OpenSSH), JWTs
 * (Kubernetes service-account tokens among them) and kubeconfig client keys.
 *
 * Each format is an anchor (a literal the secret starts with, or a context
 * word before it) and a matcher of the rest; where the format allows it the
 * value is validated (GitHub's CRC32, a JWT's header that decodes to JSON
 * with "alg", a PEM body and its END line).  Secrets are never shown whole:
 * kcsi_secret_mask() keeps a prefix and the length. */
#ifndef KCSI_EVIDENCE_SECRETS_H
#define KCSI_EVIDENCE_SECRETS_H
#ifndef KCSI_INTERNAL
#error "evidence/secrets.h is private to libkcsi"
#endif

#include <stdbool.h>
#include <stddef.h>

enum kcsi_secret_class {
	KCSI_SECRET_CLOUD,   /* cloud provider keys and tokens */
	KCSI_SECRET_SAAS,    /* payment, VCS, package registry, chat */
	KCSI_SECRET_KEY,     /* private keys */
	KCSI_SECRET_TOKEN,   /* bearer tokens (JWTs) */
	KCSI_SECRET_CLUSTER, /* Kubernetes service-account tokens, kubeconfig keys */
};

typedef struct kcsi_secret_format {
	const char *id;      /* stable: "aws-access-key-id", "stripe-live-key" ... */
	const char *name;    /* in words: "AWS access key id" */
	enum kcsi_secret_class klass;
	bool strong;         /* specific enough to stand alone (not a test key, not a generic JWT) */
} kcsi_secret_format;

typedef struct kcsi_secret_hit {
	const kcsi_secret_format *fmt;
	size_t off, len;     /* the secret in the text */
	bool validated;      /* a checksum or a decoding confirmed it */
} kcsi_secret_hit;

/* The secrets in text p[0, n), left to right, without overlaps; at most max
 * are stored in out.  Returns how many were stored. */
size_t kcsi_secrets_find(const char *p, size_t n, kcsi_secret_hit *out, size_t max);

/* The masked form of a secret of format f (NULL: unknown): its first
 * characters (the format's prefix and a few more, never more than half of
 * it) and its length, as "sk_live_Ab... (32 characters)".  Always
 * NUL-terminated within cap. */
void kcsi_secret_mask(const kcsi_secret_format *f, const char *v, size_t n, char *out, size_t cap);

/* The decoded payload (claims) of a JWT v[0, n), NUL-terminated in out;
 * false when v is not a JWT whose payload decodes. */
bool kcsi_jwt_payload(const char *v, size_t n, char *out, size_t cap);

/* Does a JWT's payload name a Kubernetes service account? */
bool kcsi_jwt_is_k8s_sa(const char *payload);

/* The format of that id, or NULL. */
const kcsi_secret_format *kcsi_secret_format_by_id(const char *id);

#endif
