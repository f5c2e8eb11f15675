/* kcsi — secrets by known format (evidence/secrets.h).
 *
 * The text is walked once: at each byte that can start an anchor (a bit
 * per pair of bytes, then a table of first bytes), the anchors starting
 * with it are compared and the
 * format's matcher measures the secret.  Matchers are plain code over
 * character classes (no regular expressions): the scan runs over all of a
 * checkpoint's memory, queues and files.  Every byte is the attacker's:
 * lengths are bounded by the text and by each format's maximum. */
#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/base64.h"
#include "evidence/secrets.h"

/* ---- character classes ---- */

static bool c_alnum(int c) { return isascii(c) && isalnum(c); }
static bool c_upnum(int c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
static bool c_b64url(int c) { return c_alnum(c) || c == '-' || c == '_'; }
static bool c_b64(int c) { return c_alnum(c) || c == '+' || c == '/'; }
static bool c_slack(int c) { return c_alnum(c) || c == '-'; }
static bool c_digit(int c) { return c >= '0' && c <= '9'; }
static bool c_sas(int c) { return c_b64(c) || c == '%' || c == '='; }

/* Characters of class cls from p[i], at most max. */
static size_t span(const char *p, size_t n, size_t i, bool (*cls)(int), size_t max)
{
	size_t k = 0;
	while (i + k < n && k < max && cls((unsigned char)p[i + k]))
		k++;
	return k;
}

/* p[i] is not a character of cls (or the text ends there). */
static bool ends(const char *p, size_t n, size_t i, bool (*cls)(int))
{
	return i >= n || !cls((unsigned char)p[i]);
}

/* ---- base64 and CRC32 for validation ---- */

/* Decode base64 or base64url (padding optional) into out as a C string; the
 * length, or -1 on a bad character or when out is too small. */
static long b64_decode(const char *p, size_t n, char *out, size_t cap)
{
	long got = kcsi_unbase64(p, n, (unsigned char *)out, cap - 1, false);
	out[got < 0 ? 0 : got] = '\0';
	return got;
}

static uint32_t crc32_of(const char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= (unsigned char)p[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
	}
	return ~c;
}

/* GitHub's token checksum: the last 6 characters are the CRC32 of the 30
 * before them in base62 (0-9A-Za-z), zero-padded. */
static bool github_checksum_ok(const char *body30, const char *sum6)
{
	static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	uint32_t crc = crc32_of(body30, 30);
	char want[7];
	for (int i = 5; i >= 0; i--) {
		want[i] = b62[crc % 62];
		crc /= 62;
	}
	return !memcmp(want, sum6, 6);
}

/* ---- the formats ---- */

enum fmt_id {
	F_AWS_KEY_ID, F_AWS_SECRET, F_GCP_ACCESS, F_GCP_REFRESH, F_GCP_API_KEY, F_GCP_CLIENT_SECRET, F_AZURE_KEY,
	F_AZURE_SAS, F_STRIPE_LIVE, F_STRIPE_TEST, F_GITHUB, F_GITHUB_PAT, F_GITLAB, F_SLACK, F_SLACK_HOOK, F_DISCORD,
	F_TELEGRAM, F_PRIVATE_KEY, F_JWT, F_K8S_SA, F_NPM, F_PYPI, F_KUBE_CLIENT_KEY, F_SENDGRID, F_OPENAI, F_N
};

static const kcsi_secret_format formats[F_N] = {
	[F_AWS_KEY_ID] = {"aws-access-key-id", "AWS access key id", KCSI_SECRET_CLOUD, true},
	[F_AWS_SECRET] = {"aws-secret-access-key", "AWS secret access key", KCSI_SECRET_CLOUD, true},
	[F_GCP_ACCESS] = {"gcp-oauth-access-token", "Google OAuth access token", KCSI_SECRET_CLOUD, true},
	[F_GCP_REFRESH] = {"gcp-refresh-token", "Google (gcloud) refresh token", KCSI_SECRET_CLOUD, true},
	[F_GCP_API_KEY] = {"gcp-api-key", "Google API key", KCSI_SECRET_CLOUD, true},
	[F_GCP_CLIENT_SECRET] = {"gcp-oauth-client-secret", "Google OAuth client secret", KCSI_SECRET_CLOUD, true},
	[F_AZURE_KEY] = {"azure-storage-key", "Azure storage account key", KCSI_SECRET_CLOUD, true},
	[F_AZURE_SAS] = {"azure-sas-signature", "Azure shared access signature", KCSI_SECRET_CLOUD, true},
	[F_STRIPE_LIVE] = {"stripe-live-key", "Stripe live secret key", KCSI_SECRET_SAAS, true},
	[F_STRIPE_TEST] = {"stripe-test-key", "Stripe test key", KCSI_SECRET_SAAS, false},
	[F_GITHUB] = {"github-token", "GitHub token", KCSI_SECRET_SAAS, true},
	[F_GITHUB_PAT] = {"github-fine-grained-pat", "GitHub fine-grained token", KCSI_SECRET_SAAS, true},
	[F_GITLAB] = {"gitlab-token", "GitLab personal access token", KCSI_SECRET_SAAS, true},
	[F_SLACK] = {"slack-token", "Slack token", KCSI_SECRET_SAAS, true},
	[F_SLACK_HOOK] = {"slack-webhook", "Slack incoming webhook", KCSI_SECRET_SAAS, true},
	[F_DISCORD] = {"discord-bot-token", "Discord bot token", KCSI_SECRET_SAAS, true},
	[F_TELEGRAM] = {"telegram-bot-token", "Telegram bot token", KCSI_SECRET_SAAS, true},
	[F_PRIVATE_KEY] = {"private-key", "private key", KCSI_SECRET_KEY, true},
	[F_JWT] = {"jwt", "JSON Web Token", KCSI_SECRET_TOKEN, false},
	[F_K8S_SA] = {"k8s-sa-token", "Kubernetes service-account token", KCSI_SECRET_CLUSTER, true},
	[F_NPM] = {"npm-token", "npm access token", KCSI_SECRET_SAAS, true},
	[F_PYPI] = {"pypi-token", "PyPI API token", KCSI_SECRET_SAAS, true},
	[F_KUBE_CLIENT_KEY] = {"kubeconfig-client-key", "kubeconfig client key", KCSI_SECRET_CLUSTER, true},
	[F_SENDGRID] = {"sendgrid-key", "SendGrid API key", KCSI_SECRET_SAAS, true},
	[F_OPENAI] = {"openai-key", "OpenAI API key", KCSI_SECRET_SAAS, true},
};

const kcsi_secret_format *kcsi_secret_format_by_id(const char *id)
{
	for (size_t i = 0; id && i < F_N; i++)
		if (!strcmp(formats[i].id, id))
			return &formats[i];
	return NULL;
}

/* A match: the secret at [start, start + len) of the text, of format fmt. */
typedef struct m {
	size_t start, len;
	enum fmt_id fmt;
	bool validated;
} m;

/* A matcher looks at the anchor found at i (alen bytes) and fills *r. */
typedef bool (*matcher)(const char *p, size_t n, size_t i, size_t alen, m *r);

static bool set(m *r, size_t start, size_t len, enum fmt_id f, bool validated)
{
	*r = (m){start, len, f, validated};
	return true;
}

/* anchor + a run of cls of [min, max] that ends there */
static bool tail(const char *p, size_t n, size_t i, size_t alen, bool (*cls)(int), size_t min, size_t max, m *r,
		 enum fmt_id f)
{
	size_t k = span(p, n, i + alen, cls, max + 1);
	if (k < min || k > max)
		return false;
	return set(r, i, alen + k, f, false);
}

static bool m_aws_id(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	return tail(p, n, i, alen, c_upnum, 16, 16, r, F_AWS_KEY_ID) && ends(p, n, i + 20, c_alnum);
}

/* aws_secret_access_key = VALUE (ini, env, JSON, YAML) */
static bool m_aws_secret(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	size_t j = i + alen, k;
	while (j < n && j < i + alen + 6 && strchr(" \t\"':=", p[j]))
		j++;
	k = span(p, n, j, c_b64, 41);
	if (k != 40 || (j + k < n && p[j + k] == '='))
		return false;
	return set(r, j, 40, F_AWS_SECRET, true);
}

static bool m_gcp_access(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	return tail(p, n, i, alen, c_b64url, 20, 2048, r, F_GCP_ACCESS);
}

static bool m_gcp_refresh(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	return tail(p, n, i, alen, c_b64url, 30, 512, r, F_GCP_REFRESH);
}

static bool m_gcp_api_key(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	return tail(p, n, i, alen, c_b64url, 35, 35, r, F_GCP_API_KEY);
}

static bool m_gcp_client_secret(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	return tail(p, n, i, alen, c_b64url, 24, 64, r, F_GCP_CLIENT_SECRET);
}

/* AccountKey=<86 base64>== */
static bool m_azure_key(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	size_t k = span(p, n, i + alen, c_b64, 87);
	if (k != 86 || i + alen + 88 > n || p[i + alen + 86] != '=' || p[i + alen + 87] != '=')
		return false;
	return set(r, i + alen, 88, F_AZURE_KEY, true);
}

/* sig=... of a SAS URL or token that also carries sv=YYYY- */
static bool m_azure_sas(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	size_t from = i > 400 ? i - 400 : 0, k = span(p, n, i + alen, c_sas, 256);
	bool sv = false;
	for (size_t j = from; j + 6 <= i + 1 && !sv; j++)
		sv = (p[j] == '?' || p[j] == '&') && !memcmp(p + j + 1, "sv=20", 5);
	if (!sv || k < 30)
		return false;
	return set(r, i + alen, k, F_AZURE_SAS, false);
}

static bool m_stripe(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	return tail(p, n, i, alen, c_alnum, 16, 247, r, p[i + 3] == 'l' ? F_STRIPE_LIVE : F_STRIPE_TEST);
}

static bool m_github(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	if (!tail(p, n, i, alen, c_alnum, 36, 36, r, F_GITHUB))
		return false;
	r->validated = github_checksum_ok(p + i + 4, p + i + 34);
	return true;
}

/* anchor, exactly a characters of cls, sep, exactly b of cls */
static bool two_parts(const char *p, size_t n, size_t i, size_t alen, bool (*cls)(int), size_t a, char sep, size_t b,
		      m *r, enum fmt_id f, bool validated)
{
	if (span(p, n, i + alen, cls, a + 1) != a || i + alen + a >= n || p[i + alen + a] != sep)
		return false;
	if (span(p, n, i + alen + a + 1, cls, b + 1) != b)
		return false;
	return set(r, i, alen + a + 1 + b, f, validated);
}

/* github_pat_<22>_<59> */
static bool m_github_pat(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	return two_parts(p, n, i, alen, c_alnum, 22, '_', 59, r, F_GITHUB_PAT, true);
}

static bool m_gitlab(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	return tail(p, n, i, alen, c_b64url, 20, 64, r, F_GITLAB);
}

/* xoxb-<digits>-<digits>-<alnum>: at least two more dashes */
static bool m_slack(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	size_t k = span(p, n, i + alen, c_slack, 256), dashes = 0;
	for (size_t j = i + alen; j < i + alen + k; j++)
		dashes += p[j] == '-';
	if (k < 20 || dashes < 2)
		return false;
	return set(r, i, alen + k, F_SLACK, false);
}

/* https://hooks.slack.com/services/T.../B.../secret */
static bool m_slack_hook(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	size_t j = i + alen, parts = 0, k;
	while (parts < 3 && (k = span(p, n, j, c_alnum, 64)) > 0) {
		parts++;
		j += k;
		if (parts < 3 && (j >= n || p[j] != '/'))
			return false;
		if (parts < 3)
			j++;
	}
	if (parts < 3 || k < 16)
		return false;
	return set(r, i, j - i, F_SLACK_HOOK, false);
}

/* Three base64url segments joined by dots from p[i] (header.payload.
 * signature), each within its bounds; their lengths into len. */
static bool dotted3(const char *p, size_t n, size_t i, const size_t lo[3], const size_t hi[3], size_t len[3])
{
	size_t at = i;
	for (int k = 0; k < 3; k++) {
		len[k] = span(p, n, at, c_b64url, hi[k] + 1);
		if (len[k] < lo[k] || len[k] > hi[k])
			return false;
		at += len[k];
		if (k < 2 && (at >= n || p[at] != '.'))
			return false;
		at++;
	}
	return true;
}

/* a JWT: header.payload.signature, the header JSON with "alg" */
static bool m_jwt(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	static const size_t lo[3] = {10, 10, 0}, hi[3] = {600, 16384, 4096};
	char hdr[512], claims[4096];
	size_t len[3];
	long got;
	(void)alen;
	if (!dotted3(p, n, i, lo, hi, len))
		return false;
	got = b64_decode(p + i, len[0], hdr, sizeof(hdr));
	if (got <= 0 || !strstr(hdr, "\"alg\""))
		return false;
	set(r, i, len[0] + len[1] + len[2] + 2, F_JWT, true);
	if (kcsi_jwt_payload(p + i, r->len, claims, sizeof(claims)) && kcsi_jwt_is_k8s_sa(claims))
		r->fmt = F_K8S_SA;
	return true;
}

/* base64 body of a PEM key (in JSON its newlines are written \n) */
static bool c_pem_body(int c) { return c_b64(c) || c == '=' || c == '\n' || c == '\r' || c == '\\'; }

/* -----BEGIN [RSA |EC |DSA |OPENSSH |ENCRYPTED ]PRIVATE KEY----- body -----END ... */
static bool m_private_key(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	static const char *const kinds[] = {"PRIVATE KEY-----", "RSA PRIVATE KEY-----", "EC PRIVATE KEY-----",
					    "DSA PRIVATE KEY-----", "OPENSSH PRIVATE KEY-----",
					    "ENCRYPTED PRIVATE KEY-----", "PGP PRIVATE KEY BLOCK-----"};
	size_t j = i + alen, body;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		size_t kl = strlen(kinds[k]);
		if (j + kl <= n && !memcmp(p + j, kinds[k], kl)) {
			j += kl;
			body = span(p, n, j, c_pem_body, 65536);
			if (j + body + 9 <= n && !memcmp(p + j + body, "-----END ", 9)) {
				const char *close = memmem(p + j + body + 9, n - (j + body + 9) < 64 ? n - (j + body + 9) : 64,
							   "-----", 5);
				size_t e = close ? (size_t)(close - p) + 5 : j + body + 9;
				return set(r, i, e - i, F_PRIVATE_KEY, body >= 64);
			}
			/* the header alone (a text split at its lines): a key, not validated */
			return set(r, i, j - i + (body >= 64 ? body : 0), F_PRIVATE_KEY, false);
		}
	}
	return false;
}

/* <8-10 digits>:AA<33> — the anchor is ":AA" */
static bool m_telegram(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	size_t d = 0, k;
	while (d < 11 && d < i && c_digit((unsigned char)p[i - 1 - d]))
		d++;
	if (d < 8 || d > 10 || (i - d > 0 && c_alnum((unsigned char)p[i - d - 1])))
		return false;
	k = span(p, n, i + alen, c_b64url, 34);
	if (k != 33)
		return false;
	return set(r, i - d, d + alen + 33, F_TELEGRAM, false);
}

/* <base64 of a numeric id, 24-28>.<6>.<27-40>: the anchor is the first
 * letter (M, N or O: ids of 17-19 digits) */
static bool m_discord(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	static const size_t lo[3] = {24, 6, 27}, hi[3] = {28, 6, 40};
	char id[40];
	size_t len[3];
	long got;
	(void)alen;
	if (!dotted3(p, n, i, lo, hi, len))
		return false;
	got = b64_decode(p + i, len[0], id, sizeof(id));
	if (got < 17 || got > 20)
		return false;
	for (long k = 0; k < got; k++)
		if (!c_digit((unsigned char)id[k]))
			return false;
	return set(r, i, len[0] + len[1] + len[2] + 2, F_DISCORD, true);
}

static bool m_npm(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	return tail(p, n, i, alen, c_alnum, 36, 36, r, F_NPM);
}

static bool m_pypi(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	return tail(p, n, i, alen, c_b64url, 50, 1024, r, F_PYPI);
}

/* client-key-data: <base64 of a PEM key> */
static bool m_kube_client_key(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	size_t j = i + alen, k;
	while (j < n && j < i + alen + 4 && (p[j] == ' ' || p[j] == '"'))
		j++;
	k = span(p, n, j, c_b64, 16384);
	if (k < 40)
		return false;
	while (j + k < n && p[j + k] == '=' && k < 16386)
		k++;
	/* base64 of "-----BEGIN" is LS0tLS1CRUdJTi */
	return set(r, j, k, F_KUBE_CLIENT_KEY, !memcmp(p + j, "LS0tLS1CRUdJTi", 14));
}

/* SG.<22>.<43> */
static bool m_sendgrid(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	return two_parts(p, n, i, alen, c_b64url, 22, '.', 43, r, F_SENDGRID, false);
}

/* sk-[proj-]... holding the marker T3BlbkFJ ("OpenAI" in base64) */
static bool m_openai(const char *p, size_t n, size_t i, size_t alen, m *r)
{
	size_t k = span(p, n, i + alen, c_b64url, 256);
	if (k < 40 || !memmem(p + i + alen, k, "T3BlbkFJ", 8))
		return false;
	return set(r, i, alen + k, F_OPENAI, true);
}

typedef struct anchor {
	const char *text;
	matcher match;
	bool word;        /* the character before must not be a letter, digit, '-' or '_' */
	unsigned show;    /* characters a masked form keeps */
} anchor;

static const anchor anchors[] = {
	{"AKIA", m_aws_id, true, 8},
	{"ASIA", m_aws_id, true, 8},
	{"aws_secret_access_key", m_aws_secret, false, 4},
	{"AWS_SECRET_ACCESS_KEY", m_aws_secret, false, 4},
	{"SecretAccessKey", m_aws_secret, false, 4},
	{"ya29.", m_gcp_access, true, 10},
	{"1//0", m_gcp_refresh, true, 8},
	{"AIza", m_gcp_api_key, true, 8},
	{"GOCSPX-", m_gcp_client_secret, true, 11},
	{"AccountKey=", m_azure_key, false, 4},
	{"&sig=", m_azure_sas, false, 4},
	{"?sig=", m_azure_sas, false, 4},
	{"sk_live_", m_stripe, true, 12},
	{"rk_live_", m_stripe, true, 12},
	{"sk_test_", m_stripe, true, 12},
	{"ghp_", m_github, true, 8},
	{"gho_", m_github, true, 8},
	{"ghu_", m_github, true, 8},
	{"ghs_", m_github, true, 8},
	{"ghr_", m_github, true, 8},
	{"github_pat_", m_github_pat, true, 15},
	{"glpat-", m_gitlab, true, 10},
	{"xoxb-", m_slack, true, 9},
	{"xoxp-", m_slack, true, 9},
	{"xoxa-", m_slack, true, 9},
	{"xoxr-", m_slack, true, 9},
	{"xoxs-", m_slack, true, 9},
	{"https://hooks.slack.com/services/", m_slack_hook, false, 37},
	{"eyJ", m_jwt, true, 12},
	{"-----BEGIN ", m_private_key, false, 0},
	{":AA", m_telegram, false, 14},
	{"M", m_discord, true, 8},
	{"N", m_discord, true, 8},
	{"O", m_discord, true, 8},
	{"npm_", m_npm, true, 8},
	{"pypi-AgEIcHlwaS5vcmc", m_pypi, true, 24},
	{"client-key-data:", m_kube_client_key, false, 8},
	{"SG.", m_sendgrid, true, 8},
	{"sk-", m_openai, true, 8},
};
#define NANCHORS (sizeof(anchors) / sizeof(anchors[0]))

static bool word_char(int c) { return c_alnum(c) || c == '-' || c == '_'; }

/* The anchors by their first byte: by_first[c] lists indexes into anchors
 * (ended by NANCHORS); their lengths; and the pairs of bytes an anchor can
 * start with (a bit per pair: a one-letter anchor allows any second byte),
 * so that most bytes of memory cost one bit test.  Built once. */
static unsigned char by_first[256][8];
static size_t anchor_len[NANCHORS];
static uint64_t pair_can_start[65536 / 64];
static pthread_once_t by_first_once = PTHREAD_ONCE_INIT;

static void build_by_first(void)
{
	unsigned char fill[256] = {0};
	memset(by_first, NANCHORS, sizeof(by_first));
	for (size_t k = 0; k < NANCHORS; k++) {
		unsigned char c = (unsigned char)anchors[k].text[0];
		anchor_len[k] = strlen(anchors[k].text);
		if (fill[c] < sizeof(by_first[c]) - 1)
			by_first[c][fill[c]++] = (unsigned char)k;
		for (unsigned second = 0; second < 256; second++)
			if (anchor_len[k] == 1 || second == (unsigned char)anchors[k].text[1]) {
				unsigned pair = (unsigned)c << 8 | second;
				pair_can_start[pair / 64] |= (uint64_t)1 << (pair % 64);
			}
	}
}

static bool may_start(const char *p, size_t n, size_t i)
{
	if (i + 1 >= n)
		return by_first[(unsigned char)p[i]][0] < NANCHORS;
	unsigned pair = (unsigned)(unsigned char)p[i] << 8 | (unsigned char)p[i + 1];
	return pair_can_start[pair / 64] >> (pair % 64) & 1;
}

size_t kcsi_secrets_find(const char *p, size_t n, kcsi_secret_hit *out, size_t max)
{
	size_t got = 0, i = 0;
	pthread_once(&by_first_once, build_by_first);
	while (i < n && got < max) {
		if (!may_start(p, n, i)) {
			i++;
			continue;
		}
		const unsigned char *cand = by_first[(unsigned char)p[i]];
		m best;
		bool hit = false;
		for (size_t c = 0; cand[c] < NANCHORS && !hit; c++) {
			const anchor *an = &anchors[cand[c]];
			size_t al = anchor_len[cand[c]];
			if (i + al > n || memcmp(p + i, an->text, al))
				continue;
			if (an->word && i > 0 && word_char((unsigned char)p[i - 1]))
				continue;
			hit = an->match(p, n, i, al, &best);
			if (hit && best.start + best.len > n)
				hit = false;
		}
		if (!hit) {
			i++;
			continue;
		}
		out[got++] = (kcsi_secret_hit){&formats[best.fmt], best.start, best.len, best.validated};
		i = best.start + best.len > i ? best.start + best.len : i + 1;
	}
	return got;
}

/* How many characters the masked form of a secret of that format keeps. */
static size_t shown(const kcsi_secret_format *f, const char *v, size_t n)
{
	size_t keep = 8;
	if (f == &formats[F_PRIVATE_KEY]) {
		const char *e = memmem(v, n, "-----", 5) == v && n > 5 ? memmem(v + 5, n - 5, "-----", 5) : NULL;
		return e ? (size_t)(e - v) + 5 : 11;
	}
	for (size_t k = 0; k < NANCHORS; k++)
		if (anchors[k].match && !strncmp(v, anchors[k].text, strlen(anchors[k].text)) && anchors[k].show)
			keep = anchors[k].show;
	if (f && (f == &formats[F_AWS_SECRET] || f == &formats[F_AZURE_KEY] || f == &formats[F_AZURE_SAS]))
		keep = 4;
	return keep < n / 2 ? keep : n / 2;
}

void kcsi_secret_mask(const kcsi_secret_format *f, const char *v, size_t n, char *out, size_t cap)
{
	size_t keep = shown(f, v, n);
	if (!cap)
		return;
	snprintf(out, cap, "%.*s... (%zu characters)", (int)keep, v, n);
	for (char *q = out; *q; q++)
		if (!isprint((unsigned char)*q))
			*q = '?';
}

bool kcsi_jwt_payload(const char *v, size_t n, char *out, size_t cap)
{
	const char *d1 = memchr(v, '.', n), *d2;
	long got;
	if (!d1 || !cap)
		return false;
	d2 = memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - v));
	if (!d2)
		return false;
	got = b64_decode(d1 + 1, (size_t)(d2 - d1 - 1), out, cap);
	return got > 1 && out[0] == '{';
}

bool kcsi_jwt_is_k8s_sa(const char *payload)
{
	return strstr(payload, "kubernetes.io/serviceaccount") || strstr(payload, "\"kubernetes.io\"") ||
	       strstr(payload, "system:serviceaccount:");
}
