/* kcsi — talking to the kubelet, the Kubernetes API and podman; the
 * secrets and kubeconfigs the capture reads to do so.
 *
 * The kubelet's checkpoint API (Kubernetes >= 1.25, feature gate
 * ContainerCheckpoint): POST /checkpoint/{namespace}/{pod}/{container}
 * [?timeout=seconds] on the kubelet port (10250) with a client certificate
 * the kubelet trusts and the RBAC right `create` on `nodes/checkpoint`; the
 * 200 reply is {"items":["/var/lib/kubelet/checkpoints/checkpoint-<pod>_<ns>-
 * <ctr>-<RFC3339>.tar"]}.  Names are checked as DNS-1123 names here too, so
 * that no caller can put "../" or "%2e" into the URL.
 *
 * The kubelet is reached directly (https://ADDRESS:PORT, the node's address
 * and kubelet port from its status) or through the API server's node proxy
 * ({api}/api/v1/nodes/NODE/proxy, which needs the far more powerful
 * nodes/proxy right); the same functions serve both, the base URL says which. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/respond_int.h"
#include "base/base64.h"
#include "base/http.h"
#include "base/spawn.h"
#include "base/time.h"

/* How long `podman container checkpoint` may take. */
#define PODMAN_TIMEOUT_S 600

kcsi_code kcsi_capture_send(const char *method, const char *url, const char *content_type, const char *body,
			    const kcsi_tls *tls, long *http, char **reply, kcsi_error *err)
{
	char ct[128];
	const char *hdrs[3] = {NULL, NULL, NULL};
	size_t nh = 0;
	kcsi_http_resp rs;
	kcsi_code rc;

	if (content_type) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
		hdrs[nh++] = ct;
	}
	hdrs[nh++] = "Accept: application/json";
	kcsi_http_req rq = {.method = method, .url = url, .headers = hdrs, .body = body,
			    .body_len = body ? strlen(body) : 0, .timeout_s = tls && tls->timeout_s > 0 ? tls->timeout_s : 60};
	if (tls) {
		rq.cert = tls->cert;
		rq.key = tls->key;
		rq.cacert = tls->cacert;
		rq.insecure = tls->insecure;
		rq.bearer = tls->token;
	}
	*http = 0;
	if (reply)
		*reply = NULL;
	rc = kcsi_http_request(NULL, &rq, &rs, err);
	if (rc) {
		kcsi_error_prefix(err, "%s %s", method, url);
	} else {
		*http = rs.status;
		if (reply)
			*reply = kcsi_buf_take(&rs.body);
	}
	kcsi_http_resp_free(&rs);
	return rc;
}

/* The reply's text for a message: first line, printable, bounded. */
static void snippet(const char *r, char *out, size_t cap)
{
	size_t o = 0;
	json_t *j = r ? json_loads(r, 0, NULL) : NULL;
	const char *m = j ? json_string_value(json_object_get(j, "message")) : NULL;
	if (!m)
		m = r ? r : "";
	for (size_t i = 0; m[i] && m[i] != '\n' && o + 1 < cap && i < 300; i++)
		out[o++] = (m[i] >= 0x20 && m[i] < 0x7f) ? m[i] : '?';
	out[o] = '\0';
	json_decref(j);
}

static bool url_base_ok(const char *base)
{
	return base && (!strncmp(base, "https://", 8) || !strncmp(base, "http://", 7)) && !strchr(base, '?') &&
	       !strchr(base, '#') && !strpbrk(base, " \t\r\n");
}

kcsi_code kcsi_kubelet_checkpoint(const char *base, const char *ns, const char *pod, const char *ctr,
				  long timeout_s, const kcsi_tls *tls, char **archive, long *http,
				  kcsi_error *err)
{
	char url[1024], msg[320], *reply = NULL;
	size_t bl;
	kcsi_code rc;
	json_t *j = NULL, *items;
	bool proxy = base && strstr(base, "/api/v1/nodes/") != NULL;

	*archive = NULL;
	*http = 0;
	if (!url_base_ok(base))
		return kcsi_error_set(err, KCSI_ERR_USAGE, "kubelet URL \"%s\": https://HOST:PORT expected", base);
	if (!kcsi_dns1123_label(ns) || !kcsi_dns1123_subdomain(pod) || !kcsi_dns1123_label(ctr))
		return kcsi_error_set(err, KCSI_ERR_UNSAFE,
				      "namespace/pod/container must be DNS-1123 names: refused");
	bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	if (timeout_s > 0)
		snprintf(url, sizeof(url), "%.*s/checkpoint/%s/%s/%s?timeout=%ld", (int)bl, base, ns, pod, ctr,
			 timeout_s);
	else
		snprintf(url, sizeof(url), "%.*s/checkpoint/%s/%s/%s", (int)bl, base, ns, pod, ctr);
	kcsi_tls t = tls ? *tls : (kcsi_tls){0};
	if (timeout_s > 0 && t.timeout_s < timeout_s + 10)
		t.timeout_s = timeout_s + 10;
	rc = kcsi_capture_send("POST", url, NULL, NULL, &t, http, &reply, err);
	if (rc) {
		if (strstr(err->msg, "certificate") && !t.insecure) {
			size_t l = strlen(err->msg);
			snprintf(err->msg + l, sizeof(err->msg) - l,
				 " (the %s serving certificate did not verify against %s: give the CA that signed it, "
				 "or, for self-signed kubelets, skip the verification explicitly)",
				 proxy ? "API server's" : "kubelet's", t.cacert ? t.cacert : "the system's CAs");
		}
		kcsi_error_prefix(err, "kubelet checkpoint of %s/%s/%s", ns, pod, ctr);
		return rc;
	}
	snippet(reply, msg, sizeof(msg));
	switch (*http) {
	case 200:
		j = json_loads(reply, 0, NULL);
		items = j ? json_object_get(j, "items") : NULL;
		if (!items || !json_is_array(items) || json_array_size(items) < 1 ||
		    !json_is_string(json_array_get(items, 0))) {
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT,
					    "kubelet answered 200 for %s/%s/%s without {\"items\":[PATH]}: %s", ns,
					    pod, ctr, msg);
		} else {
			*archive = strdup(json_string_value(json_array_get(items, 0)));
		}
		json_decref(j);
		break;
	case 401:
		rc = kcsi_error_set(err, KCSI_ERR_GENERIC,
				    "%s did not authenticate the request (401 Unauthorized): a client certificate "
				    "must be signed by the CA it trusts for clients, a token needs webhook token "
				    "authentication on the kubelet; check the certificate and key, or the token",
				    proxy ? "the API server" : "the kubelet");
		kcsi_error_param(err, "cert");
		break;
	case 403:
		rc = kcsi_error_set(err, KCSI_ERR_GENERIC,
				    "%s forbids the checkpoint (403 Forbidden): the user needs RBAC create on %s: %s",
				    proxy ? "the API server" : "the kubelet",
				    proxy ? "nodes/proxy (the node proxy; the kubelet may also ask for nodes/checkpoint)"
					  : "nodes/checkpoint", msg);
		break;
	case 404:
		rc = kcsi_error_set(err, KCSI_ERR_NOTFOUND,
				    "kubelet answered 404 Not Found for %s/%s/%s: no such pod or container on this "
				    "node, or no checkpoint API (Kubernetes >= 1.25 with the ContainerCheckpoint "
				    "feature gate): %s", ns, pod, ctr, msg);
		break;
	case 500:
		rc = kcsi_error_set(err, KCSI_ERR_GENERIC,
				    "the checkpoint of %s/%s/%s failed on the node (500): %s (the runtime must "
				    "support checkpoints: CRI-O with enable_criu_support, containerd >= 2.0, and "
				    "CRIU installed)", ns, pod, ctr, msg);
		break;
	default:
		rc = kcsi_error_set(err, KCSI_ERR_GENERIC, "kubelet answered %ld for %s/%s/%s: %s", *http, ns,
				    pod, ctr, msg);
	}
	free(reply);
	return rc;
}

/* Does the runtime's ID ("containerd://abc...", "cri-o://abc...") start with want? */
static bool id_matches(const char *full, const char *want)
{
	const char *p = full ? strstr(full, "://") : NULL;
	p = p ? p + 3 : full;
	return p && want && *want && !strncmp(p, want, strlen(want));
}

kcsi_code kcsi_kube_pod(const char *api, const char *ns, const char *pod, const char *want_id,
			const kcsi_tls *tls, char *node, size_t node_cap, char *ctr, size_t ctr_cap,
			kcsi_error *err)
{
	char url[1024], msg[320], *reply = NULL;
	long http = 0;
	kcsi_code rc;
	json_t *j, *st, *s;
	const char *nn;
	size_t i;

	node[0] = '\0';
	if (ctr)
		ctr[0] = '\0';
	if (!url_base_ok(api))
		return kcsi_error_set(err, KCSI_ERR_USAGE, "Kubernetes API URL \"%s\": https://HOST:PORT expected",
				      api);
	if (!kcsi_dns1123_label(ns) || !kcsi_dns1123_subdomain(pod))
		return kcsi_error_set(err, KCSI_ERR_UNSAFE, "namespace/pod must be DNS-1123 names: refused");
	snprintf(url, sizeof(url), "%s/api/v1/namespaces/%s/pods/%s", api, ns, pod);
	if ((rc = kcsi_capture_send("GET", url, NULL, NULL, tls, &http, &reply, err)))
		return rc;
	snippet(reply, msg, sizeof(msg));
	if (http != 200) {
		rc = kcsi_error_set(err, http == 404 ? KCSI_ERR_NOTFOUND : KCSI_ERR_GENERIC,
				    "GET pod %s/%s: API answered %ld: %s", ns, pod, http, msg);
		free(reply);
		return rc;
	}
	j = json_loads(reply, 0, NULL);
	free(reply);
	nn = j ? json_string_value(json_object_get(json_object_get(j, "spec"), "nodeName")) : NULL;
	if (!nn) {
		json_decref(j);
		return kcsi_error_set(err, KCSI_ERR_NOTFOUND, "pod %s/%s has no spec.nodeName (not scheduled)", ns,
				      pod);
	}
	if (!kcsi_dns1123_subdomain(nn) || strlen(nn) >= node_cap) {
		json_decref(j);
		return kcsi_error_set(err, KCSI_ERR_UNSAFE, "pod %s/%s: spec.nodeName is not a DNS-1123 name", ns,
				      pod);
	}
	snprintf(node, node_cap, "%s", nn);
	if (want_id && ctr) {
		st = json_object_get(json_object_get(j, "status"), "containerStatuses");
		json_array_foreach(st, i, s) {
			const char *cid = json_string_value(json_object_get(s, "containerID"));
			const char *name = json_string_value(json_object_get(s, "name"));
			if (name && id_matches(cid, want_id) && kcsi_dns1123_label(name) && strlen(name) < ctr_cap) {
				snprintf(ctr, ctr_cap, "%s", name);
				break;
			}
		}
		if (!ctr[0]) {
			json_decref(j);
			return kcsi_error_set(err, KCSI_ERR_NOTFOUND,
					      "pod %s/%s has no container with ID %s in status.containerStatuses",
					      ns, pod, want_id);
		}
	}
	json_decref(j);
	return KCSI_OK;
}

kcsi_code kcsi_kube_patch_pod(const char *api, const char *ns, const char *pod, const char *json,
			      const kcsi_tls *tls, kcsi_error *err)
{
	char url[1024], msg[320], *reply = NULL;
	long http = 0;
	kcsi_code rc;
	if (!url_base_ok(api))
		return kcsi_error_set(err, KCSI_ERR_USAGE, "Kubernetes API URL \"%s\": https://HOST:PORT expected",
				      api);
	if (!kcsi_dns1123_label(ns) || !kcsi_dns1123_subdomain(pod))
		return kcsi_error_set(err, KCSI_ERR_UNSAFE, "namespace/pod must be DNS-1123 names: refused");
	snprintf(url, sizeof(url), "%s/api/v1/namespaces/%s/pods/%s", api, ns, pod);
	if ((rc = kcsi_capture_send("PATCH", url, "application/merge-patch+json", json, tls, &http, &reply, err)))
		return rc;
	snippet(reply, msg, sizeof(msg));
	free(reply);
	if (http < 200 || http > 299)
		return kcsi_error_set(err, http == 404 ? KCSI_ERR_NOTFOUND : KCSI_ERR_GENERIC,
				      "PATCH pod %s/%s: API answered %ld: %s", ns, pod, http, msg);
	return KCSI_OK;
}

/* The node's address for its kubelet: the first of InternalIP, InternalDNS,
 * ExternalIP, ExternalDNS, Hostname in status.addresses that is an IP
 * address or a DNS name (an IPv6 address in brackets, ready for a URL). */
static bool node_address(json_t *addrs, char *out, size_t cap)
{
	static const char *const order[] = {"InternalIP", "InternalDNS", "ExternalIP", "ExternalDNS", "Hostname"};
	unsigned char bin[16];
	size_t i;
	json_t *a;
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
		json_array_foreach(addrs, i, a) {
			const char *t = json_string_value(json_object_get(a, "type"));
			const char *v = json_string_value(json_object_get(a, "address"));
			if (!t || !v || strcmp(t, order[k]) || strlen(v) + 3 > cap)
				continue;
			if (inet_pton(AF_INET, v, bin) == 1 || kcsi_dns1123_subdomain(v)) {
				snprintf(out, cap, "%s", v);
				return true;
			}
			if (inet_pton(AF_INET6, v, bin) == 1) {
				snprintf(out, cap, "[%s]", v);
				return true;
			}
		}
	return false;
}

kcsi_code kcsi_kube_node(const char *api, const char *node, const kcsi_tls *tls, char *addr, size_t addr_cap,
			 int *port, kcsi_error *err)
{
	char url[1024], msg[320], *reply = NULL;
	long http = 0;
	kcsi_code rc;
	json_t *j, *ep;
	json_int_t p;

	addr[0] = '\0';
	*port = 10250;
	if (!url_base_ok(api))
		return kcsi_error_set(err, KCSI_ERR_USAGE, "Kubernetes API URL \"%s\": https://HOST:PORT expected",
				      api);
	if (!kcsi_dns1123_subdomain(node))
		return kcsi_error_set(err, KCSI_ERR_UNSAFE, "node \"%.80s\": not a DNS-1123 name: refused", node);
	snprintf(url, sizeof(url), "%s/api/v1/nodes/%s", api, node);
	if ((rc = kcsi_capture_send("GET", url, NULL, NULL, tls, &http, &reply, err)))
		return rc;
	snippet(reply, msg, sizeof(msg));
	if (http != 200) {
		rc = kcsi_error_set(err, http == 404 ? KCSI_ERR_NOTFOUND : KCSI_ERR_GENERIC,
				    "GET node %s: API answered %ld: %s%s", node, http, msg,
				    http == 403 ? " (the kubelet's address comes from the node: RBAC get on nodes)" : "");
		free(reply);
		return rc;
	}
	j = json_loads(reply, 0, NULL);
	free(reply);
	if (!j || !node_address(json_object_get(json_object_get(j, "status"), "addresses"), addr, addr_cap)) {
		json_decref(j);
		return kcsi_error_set(err, KCSI_ERR_NOTFOUND,
				      "node %s has no usable address in status.addresses (InternalIP, ExternalIP, "
				      "Hostname)", node);
	}
	ep = json_object_get(json_object_get(json_object_get(j, "status"), "daemonEndpoints"), "kubeletEndpoint");
	p = json_integer_value(json_object_get(ep, "Port"));
	if (p > 0 && p < 65536)
		*port = (int)p;
	json_decref(j);
	return KCSI_OK;
}

/* ---- files and secrets ---- */

char *kcsi_capture_read_file(const char *path, size_t max, size_t *len, kcsi_error *err)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;
	if (!f) {
		kcsi_error_set(err, errno == ENOENT ? KCSI_ERR_NOTFOUND : KCSI_ERR_IO, "%s: cannot open: %s", path,
			       strerror(errno));
		return NULL;
	}
	buf = malloc(max + 1);
	n = buf ? fread(buf, 1, max + 1, f) : 0;
	fclose(f);
	if (!buf) {
		kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (n > max) {
		free(buf);
		kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: larger than %zu bytes", path, max);
		return NULL;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

kcsi_code kcsi_secret_check(const char *s, size_t n, bool header, const char *key, kcsi_error *err)
{
	bool blank = true;
	for (size_t i = 0; i < n; i++)
		blank &= isspace((unsigned char)s[i]) != 0;
	if (blank)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: empty secret", key);
	if (memchr(s, '\0', n))
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: the secret holds a NUL byte", key);
	if (!header)
		return KCSI_OK;
	if (isspace((unsigned char)s[0]) || isspace((unsigned char)s[n - 1]))
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: the token starts or ends with whitespace", key);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: the token holds a control character", key);
	return KCSI_OK;
}

char *kcsi_secret_inline(const char *s, bool header, const char *key, kcsi_error *err)
{
	char *copy;
	if (!s || kcsi_secret_check(s, strlen(s), header, key, err))
		return NULL;
	if (!(copy = strdup(s)))
		kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	return copy;
}

char *kcsi_secret_file(const char *path, bool header, const char *key, kcsi_error *err)
{
	size_t n;
	char where[4400], *s = kcsi_capture_read_file(path, 8192, &n, err);
	if (!s) {
		kcsi_error_prefix(err, "%s", key);
		return NULL;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	snprintf(where, sizeof(where), "%s: %s", key, path);
	if (kcsi_secret_check(s, n, header, where, err)) {
		free(s);
		return NULL;
	}
	return s;
}

char *kcsi_token_file(const char *path, kcsi_error *err)
{
	return kcsi_secret_file(path, true, "token file", err);
}

/* ---- kubeconfig ---- */

/* A kubeconfig's *-data member (Base64 of PEM) written to a file of the
 * kubeconfig's private directory (0700, made on first use; files 0600):
 * the HTTP client takes certificates and keys as files. */
static char *data_file(kcsi_kubeconfig *kc, const char *b64, const char *name, const char *where, kcsi_error *err)
{
	size_t n = strlen(b64), o = 0;
	char *clean = malloc(n + 1), *path = NULL;
	unsigned char *bin = NULL;
	long len = -1;
	int fd;

	if (!clean) {
		kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)b64[i]))
			clean[o++] = b64[i];
	if (o && o < (1u << 20) && (bin = malloc(o / 4 * 3 + 3)))
		len = kcsi_unbase64(clean, o, bin, o / 4 * 3 + 3, false);
	free(clean);
	if (len <= 0) {
		free(bin);
		kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: not Base64", where);
		return NULL;
	}
	if (!kc->tmpdir) {
		const char *t = getenv("TMPDIR");
		if (asprintf(&kc->tmpdir, "%s/kcsi-kubeconfig.XXXXXX", t && *t ? t : "/tmp") < 0 ||
		    !mkdtemp(kc->tmpdir)) {
			kcsi_error_set(err, KCSI_ERR_IO, "%s: cannot make a private directory for it: %s", where,
				       strerror(errno));
			free(kc->tmpdir);
			kc->tmpdir = NULL;
			free(bin);
			return NULL;
		}
	}
	if (asprintf(&path, "%s/%s", kc->tmpdir, name) < 0) {
		free(bin);
		kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		return NULL;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, bin, (size_t)len) != (ssize_t)len) {
		kcsi_error_set(err, KCSI_ERR_IO, "%s: writing %s: %s", where, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(path);
		free(path);
		free(bin);
		return NULL;
	}
	close(fd);
	free(bin);
	return path;
}

/* The named entry of a kubeconfig list ("clusters", "users", "contexts"): its inner object. */
static json_t *kc_entry(json_t *kc, const char *list, const char *inner, const char *name)
{
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(kc, list), i, x) {
		const char *n = json_string_value(json_object_get(x, "name"));
		if (n && name && !strcmp(n, name))
			return json_object_get(x, inner);
	}
	return NULL;
}

/* A file member (path relative to the kubeconfig's directory) or its
 * *-data twin (at most one of them) into *out. */
static kcsi_code kc_file(kcsi_kubeconfig *kc, json_t *o, const char *key, const char *dir, const char *path,
			 const char *what, char **out, kcsi_error *err)
{
	char dkey[64], where[4200];
	const char *v = json_string_value(json_object_get(o, key));
	snprintf(dkey, sizeof(dkey), "%s-data", key);
	const char *d = json_string_value(json_object_get(o, dkey));
	snprintf(where, sizeof(where), "%s: %s.%s", path, what, v && d ? key : d ? dkey : key);
	if (v && d)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s and %s: give one of them", where, dkey);
	if (d)
		*out = data_file(kc, d, key, where, err);
	else if (v && v[0] == '/')
		*out = strdup(v);
	else if (v && asprintf(out, "%s%s", dir, v) < 0)
		*out = NULL;
	if ((v || d) && !*out)
		return err->code ? err->code : kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	return KCSI_OK;
}

kcsi_code kcsi_kubeconfig_load(const char *path, const char *context, kcsi_kubeconfig *kc, kcsi_error *err)
{
	size_t len;
	char *text = kcsi_capture_read_file(path, 1 << 20, &len, err), dir[4096], where[4400];
	json_t *root, *ctx, *cl, *u;
	const char *cur, *s;
	kcsi_code rc = KCSI_OK;

	memset(kc, 0, sizeof(*kc));
	if (!text)
		return err->code;
	root = kcsi_yaml_load(text, len, path, err);
	free(text);
	if (!root)
		return err->code;
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		slash[1] = '\0';
	else
		snprintf(dir, sizeof(dir), "./");
	cur = context ? context : json_string_value(json_object_get(root, "current-context"));
	if (!cur) {
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: no current-context: name the context to use", path);
		kcsi_error_param(err, "context");
		goto out;
	}
	if (!(ctx = kc_entry(root, "contexts", "context", cur))) {
		rc = kcsi_error_set(err, KCSI_ERR_NOTFOUND, "%s: no context named \"%.200s\"", path, cur);
		kcsi_error_param(err, "context");
		goto out;
	}
	kc->context = strdup(cur);
	s = json_string_value(json_object_get(ctx, "cluster"));
	if (!s || !(cl = kc_entry(root, "clusters", "cluster", s))) {
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: context %s names no cluster of the file", path, cur);
		goto out;
	}
	if (!(s = json_string_value(json_object_get(cl, "server"))) || !url_base_ok(s)) {
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: the cluster of context %s has no https:// server", path,
				    cur);
		goto out;
	}
	kc->server = strdup(s);
	if ((rc = kc_file(kc, cl, "certificate-authority", dir, path, "cluster", &kc->cacert, err)))
		goto out;
	s = json_string_value(json_object_get(cl, "insecure-skip-tls-verify"));
	kc->insecure = s && !strcasecmp(s, "true");
	s = json_string_value(json_object_get(ctx, "user"));
	u = s ? kc_entry(root, "users", "user", s) : NULL;
	if (s && !u) {
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: context %s names user %s, not in the file", path, cur, s);
		goto out;
	}
	if (u && (json_object_get(u, "exec") || json_object_get(u, "auth-provider"))) {
		rc = kcsi_error_set(err, KCSI_ERR_UNSUPPORTED,
				    "%s: user %s gets its credentials from a plugin (exec/auth-provider), which kcsi does "
				    "not run: give a kubeconfig with a token or a client certificate", path, s);
		goto out;
	}
	if (u && ((rc = kc_file(kc, u, "client-certificate", dir, path, "user", &kc->cert, err)) ||
		  (rc = kc_file(kc, u, "client-key", dir, path, "user", &kc->key, err))))
		goto out;
	if (!kc->cert != !kc->key) {
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: user %s: client-certificate and client-key go together",
				    path, s);
		goto out;
	}
	snprintf(where, sizeof(where), "%s: users.%s.token", path, s ? s : "?");
	if (u && (s = json_string_value(json_object_get(u, "token"))) && !(kc->token = kcsi_secret_inline(s, true, where, err))) {
		rc = err->code;
		goto out;
	}
	if (u && !kc->token && (s = json_string_value(json_object_get(u, "tokenFile")))) {
		kc->token_file = s[0] == '/' ? strdup(s) : NULL;
		if (!kc->token_file && asprintf(&kc->token_file, "%s%s", dir, s) < 0)
			kc->token_file = NULL;
		snprintf(where, sizeof(where), "%s: tokenFile", path);
		if (!kc->token_file || !(kc->token = kcsi_secret_file(kc->token_file, true, where, err))) {
			rc = kc->token_file ? err->code : kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
out:
	json_decref(root);
	if (rc)
		kcsi_kubeconfig_free(kc);
	return rc;
}

void kcsi_kubeconfig_tls(const kcsi_kubeconfig *kc, kcsi_tls *tls)
{
	tls->cert = kc->cert;
	tls->key = kc->key;
	tls->cacert = kc->cacert;
	tls->token = kc->token;
	tls->insecure = kc->insecure;
}

void kcsi_kubeconfig_free(kcsi_kubeconfig *kc)
{
	if (kc->tmpdir) {
		/* the decoded *-data files: the directory holds nothing else */
		const char *const names[] = {"certificate-authority", "client-certificate", "client-key"};
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			char p[4200];
			snprintf(p, sizeof(p), "%s/%s", kc->tmpdir, names[i]);
			unlink(p);
		}
		rmdir(kc->tmpdir);
	}
	free(kc->tmpdir);
	free(kc->server);
	free(kc->context);
	free(kc->cacert);
	free(kc->cert);
	free(kc->key);
	free(kc->token);
	free(kc->token_file);
	memset(kc, 0, sizeof(*kc));
}

static bool podman_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && !(i > 0 && (c == '_' || c == '.' || c == '-')))
			return false;
	}
	return true;
}

kcsi_code kcsi_podman_checkpoint(const char *container, const char *outdir, char **archive, kcsi_error *err)
{
	char path[4096], exp[4200], ts[KCSI_TIME_MAX], errtxt[600];
	kcsi_buf out;
	kcsi_spawn_result res;
	kcsi_code rc;

	*archive = NULL;
	if (!podman_name_ok(container))
		return kcsi_error_set(err, KCSI_ERR_UNSAFE, "container \"%.80s\": a podman name or ID expected",
				      container);
	kcsi_rfc3339_now(ts, sizeof(ts), 0);
	if (mkdir(outdir, 0700) && errno != EEXIST)
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: cannot create: %s", outdir, strerror(errno));
	for (int i = 0;; i++) {
		if (i == 0)
			snprintf(path, sizeof(path), "%s/checkpoint-%s-%s.tar", outdir, container, ts);
		else
			snprintf(path, sizeof(path), "%s/checkpoint-%s-%s.%d.tar", outdir, container, ts, i);
		if (access(path, F_OK) != 0)
			break;
		if (i > 100)
			return kcsi_error_set(err, KCSI_ERR_IO, "%s: too many checkpoints in one second", outdir);
	}
	snprintf(exp, sizeof(exp), "--export=%s", path);
	const char *argv[] = {"podman", "container", "checkpoint", exp, "--compress", "none", "--leave-running",
			      "--tcp-established", "--", container, NULL};
	/* what it says, for the message: its errors and, before them, its output */
	kcsi_buf_init(&out, sizeof(errtxt) - 1);
	kcsi_spawn_opts o = {.argv = argv, .timeout_s = PODMAN_TIMEOUT_S, .out = &out,
			     .err_out = &out};
	if ((rc = kcsi_spawn(&o, &res, err))) {
		kcsi_buf_free(&out);
		return rc;
	}
	snprintf(errtxt, sizeof(errtxt), "%s", res.timed_out ? "timed out" : kcsi_buf_str(&out));
	kcsi_buf_free(&out);
	if (!kcsi_spawn_ok(&res)) {
		for (char *p = errtxt; *p; p++)
			if (*p == '\n')
				*p = ' ';
		unlink(path);
		return kcsi_error_set(err, res.exited && res.status == 125 && strstr(errtxt, "no such")
						   ? KCSI_ERR_NOTFOUND : KCSI_ERR_GENERIC,
				      "podman checkpoint of %s failed (exit %d): %s", container,
				      res.exited ? res.status : -1, errtxt);
	}
	*archive = strdup(path);
	return KCSI_OK;
}
