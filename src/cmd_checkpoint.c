/* kcsi checkpoint — have one container checkpointed, by the kubelet or podman. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kcsi/respond.h"

static const struct opt opts[] = {
	{"kubelet", 'k', "URL", "the kubelet, e.g. https://NODE:10250", .kind = OPT_TEXT},
	{"cert", 0, "FILE", "client certificate (PEM) the kubelet trusts", .kind = OPT_TEXT},
	{"key", 0, "FILE", "its private key (PEM)", .kind = OPT_TEXT},
	{"cacert", 0, "FILE", "CA that signed the kubelet's serving certificate (PEM)", .kind = OPT_TEXT},
	{"timeout", 't', "SECONDS", "checkpoint time-out the kubelet passes to the runtime", .kind = OPT_NUM,
	 .min = 1, .max = 86400},
	{"insecure", 0, NULL, "do not verify the kubelet's certificate (tests only)", .kind = OPT_FLAG},
	{"podman", 'p', NULL, "checkpoint a local podman container instead (no Kubernetes)", .kind = OPT_FLAG},
	{"output", 'o', "DIR", "with --podman: where the archive goes (default .)", .kind = OPT_TEXT},
	{"sha256", 0, NULL, "also print the archive's sha256 (when the archive is readable here)", .kind = OPT_FLAG},
	OPTS_JSON,
	{0},
};

static int run(struct args *a)
{
	kcsi_error err;
	char *archive = NULL, sha[65] = "";
	char spec[512], *ns, *pod, *ctr;
	long http = 0;
	uint64_t timeout = opt_num(a, "timeout", 0);
	kcsi_code rc;
	struct out o;

	kcsi_error_clear(&err);
	if (opt_set(a, "podman")) {
		const char *dir = opt_val(a, "output") ? opt_val(a, "output") : ".";
		if (opt_set(a, "kubelet"))
			return usage_error(a->cmd, "--podman and --kubelet exclude each other");
		rc = kcsi_podman_checkpoint(a->pos[0], dir, &archive, &err);
		if (rc)
			return fail(&err);
		ns = pod = NULL;
		ctr = a->pos[0];
	} else {
		kcsi_tls tls = {0};
		if (!opt_val(a, "kubelet"))
			return usage_error(a->cmd, "--kubelet URL is needed (or --podman)");
		if (strlen(a->pos[0]) >= sizeof(spec))
			return usage_error(a->cmd, "NAMESPACE/POD/CONTAINER too long");
		snprintf(spec, sizeof(spec), "%s", a->pos[0]);
		ns = spec;
		pod = strchr(ns, '/');
		ctr = pod ? strchr(pod + 1, '/') : NULL;
		if (!pod || !ctr || strchr(ctr + 1, '/'))
			return usage_error(a->cmd, "NAMESPACE/POD/CONTAINER expected, not '%s'", a->pos[0]);
		*pod++ = '\0';
		*ctr++ = '\0';
		if (!kcsi_dns1123_label(ns) || !kcsi_dns1123_subdomain(pod) || !kcsi_dns1123_label(ctr)) {
			kcsi_error_set(&err, KCSI_ERR_UNSAFE,
				       "'%s': namespace, pod and container must be DNS-1123 names (lower-case "
				       "letters, digits, '-'; the pod also '.'): refused", a->pos[0]);
			return fail(&err);
		}
		tls.cert = opt_val(a, "cert");
		tls.key = opt_val(a, "key");
		tls.cacert = opt_val(a, "cacert");
		tls.insecure = opt_set(a, "insecure");
		tls.timeout_s = timeout ? (long)timeout + 30 : 300;
		rc = kcsi_kubelet_checkpoint(opt_val(a, "kubelet"), ns, pod, ctr, (long)timeout, &tls, &archive, &http,
					     &err);
		if (rc)
			return fail(&err);
	}
	if (opt_set(a, "sha256")) {
		kcsi_error e2;
		if (kcsi_sha256_file(archive, sha, &e2) != KCSI_OK)
		{
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
		kcsi_jw_kstr(&o.w, "sha256", sha[0] ? sha : NULL);
		kcsi_jw_obj_end(&o.w);
		kcsi_jw_end(&o.w);
	} else {
		/* the path comes from the kubelet's reply */
		print_escaped_str(o.f, archive);
		fprintf(o.f, "%s%s\n", sha[0] ? "  sha256:" : "", sha);
	}
	free(archive);
	return out_close(&o, 0);
}

const struct cmd cmd_checkpoint = {
	.synopsis = "--kubelet URL --cert C --key K --cacert CA [--timeout S] NAMESPACE/POD/CONTAINER | --podman CONTAINER",
	.summary = "have a container checkpointed now, by its kubelet or by podman",
	.description =
		"With --kubelet: POST /checkpoint/NAMESPACE/POD/CONTAINER[?timeout=S] to the kubelet\n"
		"(Kubernetes >= 1.25, feature gate ContainerCheckpoint, a runtime with checkpoint\n"
		"support: CRI-O or containerd >= 2.0), authenticated with a client certificate\n"
		"whose user may create nodes/checkpoint.  The kubelet writes the archive on the\n"
		"node (/var/lib/kubelet/checkpoints/checkpoint-POD_NAMESPACE-CONTAINER-TIME.tar)\n"
		"and kcsi prints that path.  Names must be DNS-1123 names; anything else is\n"
		"refused before a URL is made.  Replies 401, 403, 404 and 500 are explained.\n"
		"\n"
		"With --podman: podman container checkpoint --export --leave-running\n"
		"--tcp-established, into DIR/checkpoint-CONTAINER-TIME.tar (uncompressed).  The\n"
		"container keeps running in both cases.",
	.json_doc =
		"An object: archive (path), namespace, pod, container, engine (kubelet or podman),\n"
		"sha256 (with --sha256 when the archive is readable, else null).",
	.example =
		"$ kcsi checkpoint --kubelet https://node-1:10250 --cert admin.crt --key admin.key \\\n"
		"    --cacert kubelet-ca.crt shop/web-7d9c/nginx\n"
		"/var/lib/kubelet/checkpoints/checkpoint-web-7d9c_shop-nginx-2026-03-04T10:15:02Z.tar",
	.opts = opts,
	.min_pos = 1,
	.max_pos = 1,
	.run = run,
};
