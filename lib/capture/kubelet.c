/* kcsi — talking to the kubelet, the Kubernetes API and podman.
 *
 * The kubelet's checkpoint API (Kubernetes >= 1.25, feature gate
 * ContainerCheckpoint): POST /checkpoint/{namespace}/{pod}/{container}
 * [?timeout=seconds] on the kubelet port (10250) with a client certificate
 * the kubelet trusts and the RBAC right `create` on `nodes/checkpoint`; the
 * 200 reply is {"items":["/var/lib/kubelet/checkpoints/checkpoint-<pod>_<ns>-
 * <ctr>-<RFC3339>.tar"]}.  Names are checked as DNS-1123 names here too, so
 * that no caller can put "../" or "%2e" into the URL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/respond_int.h"
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
				    "kubelet refused the client certificate (401 Unauthorized): the kubelet must "
				    "trust its CA (the kubelet's client CA file); check the client certificate and key");
		kcsi_error_param(err, "cert");
		break;
	case 403:
		rc = kcsi_error_set(err, KCSI_ERR_GENERIC,
				    "kubelet forbids the checkpoint (403 Forbidden): the certificate's user needs "
				    "RBAC create on nodes/checkpoint: %s", msg);
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
