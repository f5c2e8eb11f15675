/* kcsi checkpoint — have one container checkpointed, by its kubelet (named,
 * or found through the Kubernetes API with a kubeconfig; directly or through
 * the API server's node proxy) or by podman. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kcsi/respond.h"

static const struct opt opts[] = {
	{"kubelet", 'k', "URL", "the kubelet, e.g. https://NODE:10250", .kind = OPT_TEXT},
	{"kubeconfig", 0, "FILE", "find the pod's node and its kubelet through the Kubernetes API of this "
				   "kubeconfig (default without --kubelet: $KUBECONFIG); its user's credentials go to "
				   "the kubelet unless --cert/--token-file say otherwise", .kind = OPT_TEXT},
	{"context", 0, "NAME", "the kubeconfig's context (default: its current-context)", .kind = OPT_TEXT},
	{"node-proxy", 0, NULL, "go through the API server's node proxy (/api/v1/nodes/NODE/proxy/checkpoint/...): "
				"needs RBAC create on nodes/proxy, which opens every kubelet endpoint", .kind = OPT_FLAG},
	{"cert", 0, "FILE", "client certificate (PEM) the kubelet trusts", .kind = OPT_TEXT},
	{"key", 0, "FILE", "its private key (PEM)", .kind = OPT_TEXT},
	{"token-file", 0, "FILE", "a bearer token for the kubelet (kubelets with webhook authentication)",
	 .kind = OPT_TEXT},
	{"cacert", 0, "FILE", "CA that signed the kubelet's serving certificate (PEM; default with --kubeconfig: "
			      "the cluster's CA)", .kind = OPT_TEXT},
	{"timeout", 't', "SECONDS", "checkpoint time-out the kubelet passes to the runtime", .kind = OPT_NUM,
	 .min = 1, .max = 86400},
	{"insecure-skip-tls-verify", 0, NULL, "do not verify the kubelet's certificate (self-signed kubelets; "
					      "said on stderr)", .kind = OPT_FLAG},
	{"podman", 'p', NULL, "checkpoint a local podman container instead (no Kubernetes)", .kind = OPT_FLAG},
	{"output", 'o', "DIR", "with --podman: where the archive goes (default .)", .kind = OPT_TEXT},
	{"sha256", 0, NULL, "also print the archive's sha256 (when the archive is readable here)", .kind = OPT_FLAG},
	OPTS_JSON,
	{0},
};

/* What the checkpoint went through: the URL base, the node, the TLS used. */
struct route {
	char base[1200];
	char node[254];
	const char *via;        /* "kubelet" or "api-server" */
	kcsi_tls tls;
	char *token;            /* --token-file's content (malloc) */
	kcsi_kubeconfig kc;
	bool have_kc;
};

static void warn_unverified(const char *what)
{
	fprintf(stderr, "kcsi: warning: %s's certificate is not verified: whoever answers for its address gets "
			"the request and its credentials\n", what);
}

/* The credentials for the kubelet: the options, else the kubeconfig's user. */
static int credentials(struct args *a, struct route *rt, kcsi_error *err)
{
	const char *tf = opt_val(a, "token-file");
	if ((opt_val(a, "cert") != NULL) != (opt_val(a, "key") != NULL))
		return usage_error(a->cmd, "--cert and --key go together");
	if (tf && opt_val(a, "cert"))
		return usage_error(a->cmd, "--cert/--key or --token-file: give one of them");
	if (opt_val(a, "cacert") && opt_set(a, "insecure-skip-tls-verify"))
		return usage_error(a->cmd, "--cacert or --insecure-skip-tls-verify: give one of them");
	if (rt->have_kc && !opt_val(a, "cert") && !tf) {
		rt->tls.cert = rt->kc.cert;
		rt->tls.key = rt->kc.key;
		rt->tls.token = rt->kc.token;
	} else {
		rt->tls.cert = opt_val(a, "cert");
		rt->tls.key = opt_val(a, "key");
	}
	if (tf) {
		if (!(rt->token = kcsi_token_file(tf, err)))
			return fail(err);
		rt->tls.token = rt->token;
	}
	rt->tls.cacert = opt_val(a, "cacert") ? opt_val(a, "cacert") : rt->have_kc ? rt->kc.cacert : NULL;
	rt->tls.insecure = opt_set(a, "insecure-skip-tls-verify");
	return 0;
}

/* Where the kubelet is: --kubelet, or the node of the pod through the API
 * (its address and port from the node's status, or the node proxy). */
static int route(struct args *a, struct route *rt, const char *ns, const char *pod, kcsi_error *err)
{
	const char *kcpath = opt_val(a, "kubeconfig");
	kcsi_tls api = {0};
	int rc;

	if (!kcpath && !opt_val(a, "kubelet")) {
		const char *env = getenv("KUBECONFIG");
		static char first[4096];
		if (!env || !*env)
			return usage_error(a->cmd, "--kubelet URL or --kubeconfig FILE is needed (or --podman)");
		snprintf(first, sizeof(first), "%.*s", (int)strcspn(env, ":"), env);
		kcpath = first;
	}
	if ((opt_val(a, "context") || opt_set(a, "node-proxy")) && !kcpath)
		return usage_error(a->cmd, "--context and --node-proxy go with --kubeconfig");
	if (opt_set(a, "node-proxy") && opt_val(a, "kubelet"))
		return usage_error(a->cmd, "--node-proxy and --kubelet exclude each other");
	if (kcpath) {
		if (kcsi_kubeconfig_load(kcpath, opt_val(a, "context"), &rt->kc, err) != KCSI_OK)
			return fail(err);
		rt->have_kc = true;
		kcsi_kubeconfig_tls(&rt->kc, &api);
		api.timeout_s = 30;
		if (api.insecure)
			warn_unverified("the API server (insecure-skip-tls-verify in the kubeconfig)");
	}
	if ((rc = credentials(a, rt, err)))
		return rc;
	rt->via = "kubelet";
	if (opt_val(a, "kubelet")) {
		snprintf(rt->base, sizeof(rt->base), "%s", opt_val(a, "kubelet"));
	} else {
		if (kcsi_kube_pod(rt->kc.server, ns, pod, NULL, &api, rt->node, sizeof(rt->node), NULL, 0, err))
			return fail(err);
		if (opt_set(a, "node-proxy")) {
			/* the API server's address, TLS and credentials */
			snprintf(rt->base, sizeof(rt->base), "%s/api/v1/nodes/%s/proxy", rt->kc.server, rt->node);
			rt->via = "api-server";
			rt->tls.cert = api.cert;
			rt->tls.key = api.key;
			rt->tls.token = api.token;
			rt->tls.cacert = api.cacert;
			rt->tls.insecure = api.insecure;
		} else {
			char addr[260];
			int port;
			if (kcsi_kube_node(rt->kc.server, rt->node, &api, addr, sizeof(addr), &port, err))
				return fail(err);
			snprintf(rt->base, sizeof(rt->base), "https://%s:%d", addr, port);
		}
	}
	if (rt->tls.insecure && !(rt->have_kc && api.insecure && !strcmp(rt->via, "api-server")))
		warn_unverified(strcmp(rt->via, "kubelet") ? "the API server" : "the kubelet");
	return 0;
}

/* NAMESPACE/POD/CONTAINER into spec's parts; 0 or the usage error's code. */
static int split_target(struct args *a, char *spec, size_t cap, char **ns, char **pod, char **ctr)
{
	kcsi_error err;
	if (strlen(a->pos[0]) >= cap)
		return usage_error(a->cmd, "NAMESPACE/POD/CONTAINER too long");
	snprintf(spec, cap, "%s", a->pos[0]);
	*ns = spec;
	*pod = strchr(spec, '/');
	*ctr = *pod ? strchr(*pod + 1, '/') : NULL;
	if (!*pod || !*ctr || strchr(*ctr + 1, '/'))
		return usage_error(a->cmd, "NAMESPACE/POD/CONTAINER expected, not '%s'", a->pos[0]);
	*(*pod)++ = '\0';
	*(*ctr)++ = '\0';
	if (!kcsi_dns1123_label(*ns) || !kcsi_dns1123_subdomain(*pod) || !kcsi_dns1123_label(*ctr)) {
		kcsi_error_set(&err, KCSI_ERR_UNSAFE,
			       "'%s': namespace, pod and container must be DNS-1123 names (lower-case "
			       "letters, digits, '-'; the pod also '.'): refused", a->pos[0]);
		return fail(&err);
	}
	return 0;
}

static void route_free(struct route *rt)
{
	free(rt->token);
	if (rt->have_kc)
		kcsi_kubeconfig_free(&rt->kc);
}

static int run(struct args *a)
{
	kcsi_error err;
	char *archive = NULL, sha[65] = "";
	char spec[512], *ns = NULL, *pod = NULL, *ctr = NULL;
	long http = 0;
	uint64_t timeout = opt_num(a, "timeout", 0);
	kcsi_code rc;
	struct out o;
	struct route rt = {0};
	int urc;

	kcsi_error_clear(&err);
	if (opt_set(a, "podman")) {
		const char *dir = opt_val(a, "output") ? opt_val(a, "output") : ".";
		if (opt_set(a, "kubelet") || opt_set(a, "kubeconfig"))
			return usage_error(a->cmd, "--podman goes without --kubelet and --kubeconfig");
		rc = kcsi_podman_checkpoint(a->pos[0], dir, &archive, &err);
		if (rc)
			return fail(&err);
		ctr = a->pos[0];
	} else {
		if ((urc = split_target(a, spec, sizeof(spec), &ns, &pod, &ctr)) || (urc = route(a, &rt, ns, pod, &err))) {
			route_free(&rt);
			return urc;
		}
		rt.tls.timeout_s = timeout ? (long)timeout + 30 : 300;
		rc = kcsi_kubelet_checkpoint(rt.base, ns, pod, ctr, (long)timeout, &rt.tls, &archive, &http, &err);
		if (rc) {
			route_free(&rt);
			return fail(&err);
		}
	}
	if (opt_set(a, "sha256")) {
		kcsi_error e2;
		if (kcsi_sha256_file(archive, sha, &e2) != KCSI_OK) {
			fputs("kcsi: ", stderr);
			print_escaped_str(stderr, e2.msg);
			fputs(" (the archive is on the node)\n", stderr);
		}
	}
	out_open(&o, a);
	if (o.json) {
		kcsi_jw_obj(&o.w);
		kcsi_jw_kstr(&o.w, "archive", archive);
		kcsi_jw_kstr(&o.w, "namespace", ns);
		kcsi_jw_kstr(&o.w, "pod", pod);
		kcsi_jw_kstr(&o.w, "container", ctr);
		kcsi_jw_kstr(&o.w, "engine", opt_set(a, "podman") ? "podman" : "kubelet");
		kcsi_jw_kstr(&o.w, "node", rt.node[0] ? rt.node : NULL);
		kcsi_jw_kstr(&o.w, "via", opt_set(a, "podman") ? NULL : rt.via);
		kcsi_jw_kstr(&o.w, "url", opt_set(a, "podman") ? NULL : rt.base);
		kcsi_jw_kstr(&o.w, "sha256", sha[0] ? sha : NULL);
		kcsi_jw_obj_end(&o.w);
		kcsi_jw_end(&o.w);
	} else {
		/* the path comes from the kubelet's reply */
		print_escaped_str(o.f, archive);
		fprintf(o.f, "%s%s\n", sha[0] ? "  sha256:" : "", sha);
	}
	free(archive);
	route_free(&rt);
	return out_close(&o, 0);
}

const struct cmd cmd_checkpoint = {
	.synopsis = "--kubelet URL (--cert C --key K | --token-file F) [--cacert CA] [--timeout S] NS/POD/CONTAINER\n"
		    "       | --kubeconfig FILE [--context NAME] [--node-proxy] NS/POD/CONTAINER | --podman CONTAINER",
	.summary = "have a container checkpointed now, by its kubelet or by podman",
	.description =
		"With --kubelet: POST /checkpoint/NAMESPACE/POD/CONTAINER[?timeout=S] to the kubelet\n"
		"(Kubernetes >= 1.25, feature gate ContainerCheckpoint, a runtime with checkpoint\n"
		"support: CRI-O or containerd >= 2.0), authenticated with a client certificate\n"
		"or a bearer token (kubelets with webhook authentication) whose user may create\n"
		"nodes/checkpoint.  The kubelet's serving certificate is verified against --cacert\n"
		"(--insecure-skip-tls-verify for self-signed kubelets, said on stderr).  The\n"
		"kubelet writes the archive on the node\n"
		"(/var/lib/kubelet/checkpoints/checkpoint-POD_NAMESPACE-CONTAINER-TIME.tar) and\n"
		"kcsi prints that path.  Names must be DNS-1123 names; anything else is refused\n"
		"before a URL is made.  Replies 401, 403, 404 and 500 are explained.\n"
		"\n"
		"With --kubeconfig (or $KUBECONFIG when --kubelet is not given): the pod's node\n"
		"from the API (spec.nodeName), the kubelet's address and port from the node's\n"
		"status (InternalIP first; daemonEndpoints), the kubeconfig user's client\n"
		"certificate or token for the kubelet, the cluster's CA for its certificate\n"
		"unless --cacert.  With --node-proxy the request goes to the API server instead,\n"
		"/api/v1/nodes/NODE/proxy/checkpoint/..., which needs RBAC create on nodes/proxy:\n"
		"a far wider right than nodes/checkpoint (exec in every container of the node).\n"
		"\n"
		"With --podman: podman container checkpoint --export --leave-running\n"
		"--tcp-established, into DIR/checkpoint-CONTAINER-TIME.tar (uncompressed).  The\n"
		"container keeps running in every case.",
	.json_doc =
		"An object: archive (path), namespace, pod, container, engine (kubelet or podman),\n"
		"node (found through the API, else null), via (kubelet or api-server), url (the\n"
		"base the request went to), sha256 (with --sha256 when the archive is readable,\n"
		"else null).",
	.example =
		"$ kcsi checkpoint --kubelet https://node-1:10250 --cert admin.crt --key admin.key \\\n"
		"    --cacert kubelet-ca.crt shop/web-7d9c/nginx\n"
		"/var/lib/kubelet/checkpoints/checkpoint-web-7d9c_shop-nginx-2026-03-04T10:15:02Z.tar\n"
		"$ kcsi checkpoint --kubeconfig ~/.kube/config --node-proxy shop/web-7d9c/nginx",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.run = run,
};
