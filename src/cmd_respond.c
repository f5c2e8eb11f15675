/* kcsi respond — the Falco responder daemon. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kcsi/respond.h"
#ifdef KCSI_HAVE_VAULT
#include "kcsi/vault.h"
#endif

static const struct opt opts[] = {
	{"config", 'c', "FILE", "the responder's configuration (YAML; see docs/respond.md)", .kind = OPT_TEXT},
	{"check-config", 0, NULL, "read and check the configuration, print a summary, exit", .kind = OPT_FLAG},
	{"parse", 0, NULL, "do not run: read the alerts in the FILEs (one JSON alert, or JSON lines) and "
			   "print what the responder makes of each (with --config: the policy's decision)", .kind = OPT_FLAG},
	{"pretty", 0, NULL, "indent the JSON (--parse)", .kind = OPT_FLAG},
	{0},
};

static void parse_one(kcsi_jsonw *w, const char *file, size_t line, const char *text, size_t len,
		      const kcsi_policy *pol)
{
	kcsi_falco_event ev;
	kcsi_error err;
	kcsi_error_clear(&err);
	kcsi_jw_obj(w);
	kcsi_jw_kstr(w, "file", file);
	if (line)
		kcsi_jw_kuint(w, "line", line);
	if (kcsi_falco_parse(text, len, &ev, &err) != KCSI_OK) {
		kcsi_jw_kbool(w, "ok", false);
		kcsi_jw_kstr(w, "error", err.msg);
		kcsi_jw_kstr(w, "refusal", err.code == KCSI_ERR_UNSAFE ? "unsafe" : "malformed");
		kcsi_jw_obj_end(w);
		return;
	}
	kcsi_jw_kbool(w, "ok", true);
	kcsi_jw_kstr(w, "rule", ev.rule);
	kcsi_jw_kstr(w, "priority", kcsi_priority_name(ev.priority));
	kcsi_jw_kstr(w, "source", ev.source);
	kcsi_jw_kstr(w, "time", ev.time);
	kcsi_jw_kstr(w, "hostname", ev.hostname);
	kcsi_jw_kstr(w, "uuid", ev.uuid);
	kcsi_jw_key(w, "tags");
	kcsi_jw_arr(w);
	for (size_t i = 0; i < ev.ntags; i++)
		kcsi_jw_str(w, ev.tags[i]);
	kcsi_jw_arr_end(w);
	kcsi_jw_kstr(w, "namespace", ev.has_pod ? ev.ns : NULL);
	kcsi_jw_kstr(w, "pod", ev.has_pod ? ev.pod : NULL);
	kcsi_jw_kstr(w, "container", ev.has_container ? ev.container : NULL);
	kcsi_jw_kstr(w, "container_id", ev.container_id[0] ? ev.container_id : NULL);
	kcsi_jw_kstr(w, "target_from", ev.target_from);
	kcsi_jw_kstr(w, "reason", ev.has_container ? NULL : ev.reason);
	kcsi_jw_kuint(w, "big_integers", ev.big_ints);
	if (pol) {
		kcsi_decision d;
		kcsi_policy_decide(pol, &ev, &d);
		kcsi_jw_key(w, "decision");
		kcsi_jw_obj(w);
		kcsi_jw_kstr(w, "policy_rule", d.policy_rule);
		kcsi_jw_kstr(w, "excluded", d.excluded);
		kcsi_jw_key(w, "actions");
		kcsi_jw_arr(w);
		if (d.actions & KCSI_ACT_CHECKPOINT)
			kcsi_jw_str(w, "checkpoint");
		if (d.actions & KCSI_ACT_LABEL)
			kcsi_jw_str(w, "label");
		if (d.actions & KCSI_ACT_NOTIFY)
			kcsi_jw_str(w, "notify");
		kcsi_jw_arr_end(w);
		kcsi_jw_obj_end(w);
	}
	kcsi_jw_obj_end(w);
	kcsi_falco_free(&ev);
}

static int parse_files(struct args *a, const kcsi_policy *pol)
{
	struct out o;
	int rc = 0;
	out_open(&o, a);
	if (!o.json) {
		o.json = true;
		kcsi_jw_init(&o.w, o.f, opt_set(a, "pretty") ? 2 : 0);
	}
	kcsi_jw_arr(&o.w);
	for (int i = 0; i < a->npos; i++) {
		FILE *f = strcmp(a->pos[i], "-") ? fopen(a->pos[i], "rb") : stdin;
		char *text = NULL;
		size_t len = 0;
		json_t *whole;
		if (!f) {
			fprintf(stderr, "kcsi: %s: cannot open\n", a->pos[i]);
			rc = KCSI_ERR_IO;
			continue;
		}
		FILE *m = open_memstream(&text, &len);
		char buf[65536];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			fwrite(buf, 1, n, m);
		fclose(m);
		if (f != stdin)
			fclose(f);
		/* a whole-file JSON document (pretty-printed alert), else JSON lines */
		json_error_t je;
		whole = json_loadb(text, len, JSON_DECODE_ANY, &je);
		if (whole || json_error_code(&je) == json_error_numeric_overflow || !memchr(text, '\n', len) ||
		    len == 0) {
			parse_one(&o.w, a->pos[i], 0, text, len, pol);
		} else {
			size_t ln = 0;
			for (char *p = text, *e; p < text + len; p = e + 1) {
				e = memchr(p, '\n', (size_t)(text + len - p));
				if (!e)
					e = text + len;
				ln++;
				if (e > p)
					parse_one(&o.w, a->pos[i], ln, p, (size_t)(e - p), pol);
			}
		}
		json_decref(whole);
		free(text);
	}
	kcsi_jw_arr_end(&o.w);
	kcsi_jw_end(&o.w);
	return out_close(&o, rc);
}

#ifdef KCSI_HAVE_VAULT
/* The node agents' receipts, read from the vault (kcsi_receipt_fn). */
static kcsi_code vault_receipt(void *ctx, const char *archive_name, json_t **receipt, kcsi_error *err)
{
	return kcsi_collect_receipt(ctx, archive_name, receipt, err);
}
#endif

/* With a vault: section, the vault the node agents report into (read only:
 * no keys are needed).  *v is NULL when the configuration wants none. */
static int open_receipts(kcsi_responder *r, void **v)
{
	const char *store;
	*v = NULL;
	if (!kcsi_respond_wants_receipts(r, &store))
		return 0;
#ifdef KCSI_HAVE_VAULT
	kcsi_error err;
	char *st = NULL, *keys = NULL;
	kcsi_error_clear(&err);
	if (kcsi_vault_config(store, NULL, &st, &keys, &err) != KCSI_OK ||
	    kcsi_vault_open(st, NULL, (kcsi_vault **)v, &err) != KCSI_OK) {
		free(st);
		free(keys);
		kcsi_error_prefix(&err, "vault (the node agents' receipts)");
		return fail(&err);
	}
	free(st);
	free(keys);
	kcsi_respond_set_receipts(r, vault_receipt, *v);
	return 0;
#else
	kcsi_error err;
	kcsi_error_set(&err, KCSI_ERR_UNSUPPORTED, "vault: this kcsi is built without the vault");
	return fail(&err);
#endif
}

static void close_receipts(void *v)
{
#ifdef KCSI_HAVE_VAULT
	kcsi_vault_close(v);
#else
	(void)v;
#endif
}

static int run(struct args *a)
{
	kcsi_error err;
	kcsi_responder *r = NULL;
	kcsi_code rc;
	void *vault = NULL;
	int vrc;

	kcsi_error_clear(&err);
	if (opt_set(a, "parse")) {
		/* the policy part of the file only (rules:, exclude:): a whole
		 * responder configuration or a policy file */
		kcsi_policy *pol = NULL;
		int prc;
		if (a->npos == 0)
			return usage_error(a->cmd, "--parse needs FILEs ('-' for stdin)");
		if (opt_val(a, "config") && (rc = kcsi_policy_load(opt_val(a, "config"), &pol, &err)))
			return fail(&err);
		prc = parse_files(a, pol);
		kcsi_policy_free(pol);
		return prc;
	}
	if (a->npos)
		return usage_error(a->cmd, "FILEs go with --parse only");
	if (!opt_val(a, "config"))
		return usage_error(a->cmd, "--config FILE is needed");
	rc = kcsi_respond_open(opt_val(a, "config"), &r, &err);
	if (rc)
		return fail(&err);
	if (opt_set(a, "check-config")) {
		for (size_t i = 0; i < kcsi_respond_nwarnings(r); i++) {
			fputs("kcsi: warning: ", stderr);
			print_escaped_str(stderr, kcsi_respond_warning(r, i));
			fputc('\n', stderr);
		}
		kcsi_respond_describe(r, stdout);
		kcsi_respond_close(r);
		return 0;
	}
	if ((vrc = open_receipts(r, &vault))) {
		kcsi_respond_close(r);
		return vrc;
	}
	/* log records as JSON lines on stderr, unless the config names a file */
	kcsi_log *log = kcsi_log_stream(stderr, false);
	kcsi_respond_set_log(r, log);
	rc = kcsi_respond_run(r, &err);
	kcsi_respond_close(r);
	close_receipts(vault);
	kcsi_log_close(log);
	if (rc)
		return fail(&err);
	return 0;
}

const struct cmd cmd_respond = {
	.synopsis = "--config FILE [--check-config] | --parse [--config FILE] FILE...",
	.summary = "turn Falco alerts into container checkpoints (a daemon)",
	.description =
		"Takes Falco alerts over HTTP(S) as Falco's http_output and Falcosidekick's webhook\n"
		"send them (one JSON alert per POST to /, /events or /falco), and as JSON lines from\n"
		"files, stdin (\"-\") or a unix socket.  Alerts are authenticated (bearer token,\n"
		"HMAC-SHA256 of the body in X-Kcsi-Signature: sha256=HEX, or mutual TLS) unless the\n"
		"config says allow_unauthenticated.  Each alert is stored in a SQLite queue (WAL,\n"
		"synchronous) before the reply, so an acknowledged alert survives a crash and is\n"
		"acted on once; a replay (same Falcosidekick uuid or same body) is acknowledged and\n"
		"not stored twice.\n"
		"\n"
		"The policy's first matching rule decides the actions: checkpoint (the pod's node\n"
		"from the Kubernetes API, then the kubelet's checkpoint API), label (patch the pod),\n"
		"notify (POST the incident to a webhook).  One job per container per cooldown\n"
		"window; at most checkpoint.max_concurrent at once and checkpoint.per_node per\n"
		"node.  After a checkpoint: the archive's sha256, the vault and analyze hook\n"
		"commands, an incident JSON line.  GET /healthz, /readyz and /metrics (Prometheus).\n"
		"Logs are JSON lines on stderr (or the config's log file).  SIGTERM stops\n"
		"accepting, finishes what was accepted and exits; unfinished jobs resume at the\n"
		"next start.\n"
		"\n"
		"HTTP replies: 200 {\"accepted\": true, \"id\": N, \"duplicate\": BOOL}; 400 malformed\n"
		"alert; 401 authentication failed; 413 body over listen.max_body; 422 a namespace,\n"
		"pod or container name that is not a DNS-1123 name; 503 shutting down or the queue\n"
		"cannot be written.",
	.json_doc =
		"--check-config: the configuration summary (an object).\n"
		"--parse: an array, one object per alert: file, line (JSON lines), ok, error and\n"
		"refusal (malformed or unsafe) when refused, else rule, priority, source, time,\n"
		"hostname, uuid, tags, namespace, pod, container, container_id, target_from (k8s,\n"
		"k8s_audit, dockershim), reason (why no container is named), big_integers, and with\n"
		"--config decision {policy_rule, excluded, actions}.",
	.example =
		"$ kcsi respond --parse --pretty 14-terminal-shell-in-container_falco-0.43-modern.json\n"
		"...\n"
		"    \"rule\": \"Terminal shell in container\",\n"
		"...\n"
		"$ kcsi respond --config /etc/kcsi/respond.yaml --check-config\n"
		"$ kcsi respond --config /etc/kcsi/respond.yaml",
	.opts = opts,
	.min_pos = 0,
	.max_pos = -1,
	.run = run,
};
