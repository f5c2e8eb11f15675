/* kcsi respond — the workers: a job learns its node (the pod's
 * spec.nodeName, cached), waits in that node's queue, then its actions run:
 * checkpoint (kubelet, podman, or recorded), sha256, the hook commands,
 * label, notify; the incident says how each ended. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/responder.h"
#include "base/hash.h"
#include "base/http.h"
#include "base/spawn.h"
#include "base/time.h"

/* ---- hooks ---- */

/* Append text to b with each {NAME} of vars (NAME, value pairs, then NULL)
 * replaced by its value; *first (when given) gets the NAME whose value
 * begins the text. */
static void expand_vars(const char *text, const char *const *vars, kcsi_buf *b, const char **first)
{
	size_t start = b->len;
	for (const char *p = text; *p;) {
		bool hit = false;
		for (int i = 0; *p == '{' && vars[i]; i += 2) {
			size_t kl = strlen(vars[i]);
			if (!strncmp(p + 1, vars[i], kl) && p[1 + kl] == '}') {
				if (first && b->len == start && !*first)
					*first = vars[i];
				kcsi_buf_add(b, vars[i + 1], strlen(vars[i + 1]));
				p += kl + 2;
				hit = true;
				break;
			}
		}
		if (!hit)
			kcsi_buf_addc(b, *p++);
	}
}

/* The hook's argv: the template split on spaces and tabs, each {NAME} of
 * vars (NAME, value pairs) replaced by its value inside its word: no shell,
 * so no value can make a command or another word.  A value that would begin
 * a word with '-' (which the word of the template does not) is refused:
 * the command would read it as an option.  Returns argc, or -1 with *why. */
static int hook_argv(const char *tmpl, const char *const *vars, char **argv, size_t cap, char *why, size_t why_cap)
{
	char *copy = strdup(tmpl), *save = NULL;
	int argc = 0;

	if (!copy) {
		snprintf(why, why_cap, "out of memory");
		return -1;
	}
	for (char *w = strtok_r(copy, " \t", &save); w && (size_t)argc + 1 < cap; w = strtok_r(NULL, " \t", &save)) {
		const char *first = NULL; /* the variable that begins the word */
		kcsi_buf b;
		kcsi_buf_init(&b, 1 << 16);
		expand_vars(w, vars, &b, &first);
		if (w[0] != '-' && kcsi_buf_str(&b)[0] == '-') {
			snprintf(why, why_cap, "{%s} would begin an argument with '-' (read as an option): not run",
				 first ? first : "?");
			kcsi_buf_free(&b);
			while (argc > 0)
				free(argv[--argc]);
			free(copy);
			return -1;
		}
		argv[argc++] = kcsi_buf_take(&b);
	}
	free(copy);
	argv[argc] = NULL;
	return argc;
}

/* Run a hook (see hook_argv); its stdout and stderr go to out_path. */
static json_t *run_hook(kcsi_responder *r, const char *tmpl, const char *out_path, const char *const *vars)
{
	char *argv[64], why[160];
	int argc = hook_argv(tmpl, vars, argv, sizeof(argv) / sizeof(argv[0]), why, sizeof(why));
	json_t *res = json_object();
	kcsi_spawn_result sr;
	kcsi_error err;

	json_object_set_new(res, "command", json_string(tmpl));
	if (argc <= 0) {
		json_object_set_new(res, "error", json_string(argc ? why : "empty command"));
		if (argc < 0)
			atomic_fetch_add(&r->m.hooks_failed, 1);
		return res;
	}
	kcsi_spawn_opts o = {.argv = (const char *const *)argv, .timeout_s = r->hook_timeout, .own_group = true,
			     .log_path = out_path, .log_truncate = true};
	kcsi_error_clear(&err);
	if (kcsi_spawn(&o, &sr, &err) != KCSI_OK) {
		json_object_set_new(res, "error", json_string(err.msg));
		atomic_fetch_add(&r->m.hooks_failed, 1);
	} else {
		if (sr.timed_out)
			json_object_set_new(res, "error", json_string("timed out"));
		json_object_set_new(res, "exit", json_integer(sr.exited ? sr.status : -1));
		json_object_set_new(res, "output", json_string(out_path));
		json_object_set_new(res, "seconds", json_real(sr.seconds));
		if (!kcsi_spawn_ok(&sr))
			atomic_fetch_add(&r->m.hooks_failed, 1);
	}
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	return res;
}

/* The hooks after a checkpoint: {"vault": RESULT, "analyze": RESULT}. */
static json_t *run_hooks(kcsi_responder *r, const struct job *j, const char *incident, const char *archive,
			 const char *sha)
{
	const char *vars[] = {"archive", archive, "incident", incident, "namespace", j->ns, "pod", j->pod,
			      "container", j->container, "node", j->node, "sha256", sha, "rule", j->rule, NULL};
	const char *const hooks[][2] = {{"vault", r->hook_vault}, {"analyze", r->hook_analyze}};
	json_t *res = json_object();
	char path[4200];

	snprintf(path, sizeof(path), "%s/incidents", r->state_dir);
	mkdir(path, 0700);
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		if (!hooks[i][1])
			continue;
		snprintf(path, sizeof(path), "%s/incidents/%s.%s.out", r->state_dir, incident, hooks[i][0]);
		json_object_set_new(res, hooks[i][0], run_hook(r, hooks[i][1], path, vars));
	}
	return res;
}

/* ---- the target ---- */

kcsi_code rsp_patch_pod(kcsi_responder *r, const char *ns, const char *pod, const char *patch, kcsi_error *err)
{
	kcsi_tls t;
	char *tok;
	rsp_tls_now(&r->api_tls, &r->api_token, &t, &tok);
	kcsi_code rc = kcsi_kube_patch_pod(r->api, ns, pod, patch, &t, err);
	free(tok);
	return rc;
}

/* A request to the API with its token as of now. */
static kcsi_code kube_pod(kcsi_responder *r, struct job *j, char *ctr, size_t ctr_cap, kcsi_error *err)
{
	kcsi_tls t;
	char *tok;
	rsp_tls_now(&r->api_tls, &r->api_token, &t, &tok);
	kcsi_code rc = kcsi_kube_pod(r->api, j->ns, j->pod, !j->container[0] && j->container_id[0] ? j->container_id : NULL,
				     &t, j->node, sizeof(j->node), ctr, ctr_cap, err);
	free(tok);
	return rc;
}

/* The node's kubelet address and port (from its status, cached 30 s; the
 * node's name and 10250 without an API, as in record mode). */
static kcsi_code node_endpoint(kcsi_responder *r, const char *node, char *addr, size_t cap, int *port, kcsi_error *err)
{
	uint64_t now = kcsi_mono_ns();
	kcsi_tls t;
	char *tok;
	kcsi_code rc;

	if (!r->api) {
		snprintf(addr, cap, "%s", node);
		*port = 10250;
		return KCSI_OK;
	}
	pthread_mutex_lock(&r->q_lock);
	for (struct node_cache *c = r->node_addrs; c; c = c->next)
		if (!strcmp(c->node, node) && now - c->at < 30000000000ull) {
			snprintf(addr, cap, "%s", c->addr);
			*port = c->port;
			pthread_mutex_unlock(&r->q_lock);
			return KCSI_OK;
		}
	pthread_mutex_unlock(&r->q_lock);
	rsp_tls_now(&r->api_tls, &r->api_token, &t, &tok);
	rc = kcsi_kube_node(r->api, node, &t, addr, cap, port, err);
	free(tok);
	if (rc)
		return rc;
	/* one entry per node, refreshed in place */
	pthread_mutex_lock(&r->q_lock);
	struct node_cache *c = r->node_addrs;
	while (c && strcmp(c->node, node))
		c = c->next;
	if (!c && (c = calloc(1, sizeof(*c)))) {
		snprintf(c->node, sizeof(c->node), "%s", node);
		c->next = r->node_addrs;
		r->node_addrs = c;
	}
	if (c) {
		snprintf(c->addr, sizeof(c->addr), "%s", addr);
		c->port = *port;
		c->at = now;
	}
	pthread_mutex_unlock(&r->q_lock);
	return KCSI_OK;
}

/* Where the node's kubelet is: kubelet.nodes, the API server's node proxy,
 * or the URL template with {node}, {address} and {port} replaced. */
static kcsi_code kubelet_base(kcsi_responder *r, const char *node, char *out, size_t cap, kcsi_error *err)
{
	json_t *v = r->kubelet_nodes ? json_object_get(r->kubelet_nodes, node) : NULL;
	char addr[260] = "", port[16] = "";
	int p = 0;
	kcsi_code rc;
	kcsi_buf b;

	if (v && json_is_string(v)) {
		snprintf(out, cap, "%s", json_string_value(v));
		return KCSI_OK;
	}
	if (!kcsi_dns1123_subdomain(node))
		return kcsi_error_set(err, KCSI_ERR_UNSAFE, "the node name is not a DNS-1123 name: refused");
	if (r->kubelet_via_api) {
		snprintf(out, cap, "%s/api/v1/nodes/%s/proxy", r->api ? r->api : "", node);
		return KCSI_OK;
	}
	if (r->kubelet_by_address && (rc = node_endpoint(r, node, addr, sizeof(addr), &p, err)))
		return rc;
	snprintf(port, sizeof(port), "%d", p);
	const char *const vars[] = {"node", node, "address", addr, "port", port, NULL};
	kcsi_buf_init(&b, cap - 1);
	expand_vars(r->kubelet_url, vars, &b, NULL);
	snprintf(out, cap, "%s", kcsi_buf_str(&b));
	kcsi_buf_free(&b);
	return KCSI_OK;
}

/* Resolve node (and container name when only the ID is known). */
static kcsi_code resolve(kcsi_responder *r, struct job *j, kcsi_error *err)
{
	char key[400];
	uint64_t now = kcsi_mono_ns();
	if (r->mode == MODE_PODMAN) {
		snprintf(j->node, sizeof(j->node), "local");
		return KCSI_OK;
	}
	if (!j->pod[0]) {
		snprintf(j->node, sizeof(j->node), "-");
		return KCSI_OK;
	}
	snprintf(key, sizeof(key), "%s/%s/%s", j->ns, j->pod, j->container_id);
	pthread_mutex_lock(&r->q_lock);
	for (struct pod_cache *p = r->pods; p; p = p->next)
		if (!strcmp(p->key, key) && now - p->at < 30000000000ull) {
			snprintf(j->node, sizeof(j->node), "%s", p->node);
			if (!j->container[0])
				snprintf(j->container, sizeof(j->container), "%s", p->ctr);
			pthread_mutex_unlock(&r->q_lock);
			return KCSI_OK;
		}
	pthread_mutex_unlock(&r->q_lock);
	if (r->mode == MODE_RECORD && !r->api) {
		snprintf(j->node, sizeof(j->node), "record");
		if (!j->container[0])
			snprintf(j->container, sizeof(j->container), "id-%.12s", j->container_id);
		return KCSI_OK;
	}
	char ctr[64] = "";
	kcsi_code rc = kube_pod(r, j, ctr, sizeof(ctr), err);
	if (rc)
		return rc;
	if (!j->container[0])
		snprintf(j->container, sizeof(j->container), "%s", ctr);
	struct pod_cache *p = calloc(1, sizeof(*p));
	if (p) {
		snprintf(p->key, sizeof(p->key), "%s", key);
		snprintf(p->node, sizeof(p->node), "%s", j->node);
		snprintf(p->ctr, sizeof(p->ctr), "%s", j->container);
		p->at = now;
		pthread_mutex_lock(&r->q_lock);
		p->next = r->pods;
		r->pods = p;
		pthread_mutex_unlock(&r->q_lock);
	}
	return KCSI_OK;
}

/* ---- outcomes ---- */

enum outcome { OUT_OK, OUT_SKIPPED, OUT_FAILED };

/* What the incident says about the actions asked for, and how many of each. */
struct results {
	json_t *obj; /* {"checkpoint": "ok" | "skipped: WHY" | "failed: WHY", ...} */
	int n[3];    /* by enum outcome */
};

/* Record one action's outcome in the incident and count it in the metrics. */
static void action_result(kcsi_responder *r, struct results *res, unsigned act, enum outcome o, const char *why)
{
	static const char *const words[] = {"ok", "skipped", "failed"};
	const struct {
		unsigned act;
		const char *name;
		atomic_uint_fast64_t *count[3];
	} acts[] = {
		{KCSI_ACT_CHECKPOINT, "checkpoint", {&r->m.ckpt_ok, &r->m.ckpt_skipped, &r->m.ckpt_failed}},
		{KCSI_ACT_LABEL, "label", {&r->m.label_ok, &r->m.label_skipped, &r->m.label_failed}},
		{KCSI_ACT_NOTIFY, "notify", {&r->m.notify_ok, &r->m.notify_skipped, &r->m.notify_failed}},
	};
	char text[700];
	for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
		if (acts[i].act != act)
			continue;
		if (o == OUT_OK)
			snprintf(text, sizeof(text), "ok");
		else
			snprintf(text, sizeof(text), "%s: %s", words[o], why ? why : "unknown");
		json_object_set_new(res->obj, acts[i].name, rsp_jstr(text));
		atomic_fetch_add(acts[i].count[o], 1);
		res->n[o]++;
	}
}

/* The incident's "result": ok when every action asked for was done. */
static const char *overall(const struct results *res)
{
	if (!res->n[OUT_FAILED] && !res->n[OUT_SKIPPED])
		return "ok";
	if (!res->n[OUT_OK])
		return res->n[OUT_FAILED] ? "failed" : "skipped";
	return "partial";
}

/* ---- a job ---- */

/* What a job is doing, from its start to its incident. */
struct act {
	kcsi_responder *r;
	struct job *j;
	json_t *inc;              /* the incident */
	struct results res;
	char incident[96];
	char *archive;            /* the checkpoint made (malloc) */
	char sha[65];
	kcsi_error err;
	const char *error;        /* why the checkpoint (or the node) failed */
	const char *ck_skip;      /* why the checkpoint was skipped */
	bool ok, finished, resolved;
	uint64_t requested;       /* wall clock of the checkpoint request */
	char record_url[2048];    /* record mode: the request not made */
};

/* The incident's head: its name, the alert, the target, the actions asked for. */
static void incident_head(struct act *a)
{
	struct job *j = a->j;
	json_t *inc = a->inc, *actions = json_array();
	char t[KCSI_TIME_MAX], ts[32];

	kcsi_rfc3339(t, sizeof(t), (int64_t)(j->received_ns / 1000000000u), (uint32_t)(j->received_ns % 1000000000u), 6);
	kcsi_utc_compact(ts, sizeof(ts), (int64_t)(j->received_ns / 1000000000u));
	snprintf(a->incident, sizeof(a->incident), "inc-%s-%" PRId64, ts, j->id);
	json_object_set_new(inc, "incident", json_string(a->incident));
	json_object_set_new(inc, "time", json_string(t));
	json_object_set_new(inc, "event", json_integer(j->event));
	json_object_set_new(inc, "alert", rsp_event_key(a->r, j->event));
	json_object_set_new(inc, "job", json_integer(j->id));
	json_object_set_new(inc, "rule", rsp_jstr(j->rule));
	json_object_set_new(inc, "priority", json_string(j->priority));
	json_object_set_new(inc, "policy_rule", rsp_jstr(j->policy_rule));
	json_object_set_new(inc, "namespace", j->ns[0] ? json_string(j->ns) : json_null());
	json_object_set_new(inc, "pod", j->pod[0] ? json_string(j->pod) : json_null());
	json_object_set_new(inc, "container_id", j->container_id[0] ? json_string(j->container_id) : json_null());
	json_object_set_new(inc, "dry_run", json_boolean(a->r->dry_run));
	if (j->actions & KCSI_ACT_CHECKPOINT)
		json_array_append_new(actions, json_string("checkpoint"));
	if (j->actions & KCSI_ACT_LABEL)
		json_array_append_new(actions, json_string("label"));
	if (j->actions & KCSI_ACT_NOTIFY)
		json_array_append_new(actions, json_string("notify"));
	json_object_set_new(inc, "actions", actions);
	if (json_array_size(a->r->incident_warnings) && (j->actions & (KCSI_ACT_CHECKPOINT | KCSI_ACT_LABEL)) &&
	    a->r->mode == MODE_KUBELET)
		json_object_set(inc, "warnings", a->r->incident_warnings);
}

/* The kubelet's checkpoint API (a failure on no reply or 5xx is tried again). */
static void checkpoint_kubelet(struct act *a, const char *base)
{
	kcsi_responder *r = a->r;
	struct job *j = a->j;
	long http = 0;
	kcsi_tls t;
	char *tok, url[2048], q[40] = "";
	rsp_tls_now(&r->kubelet_tls, r->kubelet_tok, &t, &tok);
	if (r->ckpt_timeout > 0)
		snprintf(q, sizeof(q), "?timeout=%ld", r->ckpt_timeout);
	snprintf(url, sizeof(url), "POST %s/checkpoint/%s/%s/%s%s", base, j->ns, j->pod, j->container, q);
	json_object_set_new(a->inc, "checkpoint_request", rsp_jstr(url));
	if (kcsi_kubelet_checkpoint(base, j->ns, j->pod, j->container, r->ckpt_timeout, &t, &a->archive, &http,
				    &a->err)) {
		a->error = a->err.msg;
		a->ok = false;
		/* no reply or 5xx: try again; 4xx: a fact that will not change */
		a->finished = (http >= 400 && http < 500) || j->attempts >= r->attempts;
	}
	free(tok);
	json_object_set_new(a->inc, "kubelet", rsp_jstr(base));
	json_object_set_new(a->inc, "kubelet_status", http ? json_integer(http) : json_null());
}

/* The checkpoint, by the configured means. */
static void checkpoint(struct act *a)
{
	kcsi_responder *r = a->r;
	struct job *j = a->j;
	char base[1024];
	uint64_t c0 = kcsi_mono_ns();

	a->requested = kcsi_wall_ns();
	if (j->t0)
		rsp_hist_add(&r->m.to_request, c0 - j->t0);
	if (r->mode == MODE_RECORD) {
		kcsi_error e;
		if (kubelet_base(r, j->node, base, sizeof(base), &e))
			snprintf(base, sizeof(base), "invalid-node");
		snprintf(a->record_url, sizeof(a->record_url), "%s/checkpoint/%s/%s/%s?timeout=%ld", base, j->ns,
			 j->pod, j->container, r->ckpt_timeout);
		json_object_set_new(a->inc, "recorded_request", rsp_jstr(a->record_url));
	} else if (r->mode == MODE_PODMAN) {
		const char *name = j->container[0] ? j->container : j->container_id;
		if (kcsi_podman_checkpoint(name, r->podman_dir, &a->archive, &a->err)) {
			a->error = a->err.msg;
			a->ok = false;
		}
	} else if (!j->container[0]) {
		a->error = "no container name";
		a->ok = false;
	} else if (kubelet_base(r, j->node, base, sizeof(base), &a->err)) {
		a->error = a->err.msg;
		a->ok = false;
		/* an API that cannot be reached is tried again; a node without an address is not */
		a->finished = a->err.code != KCSI_ERR_IO || j->attempts >= r->attempts;
	} else {
		checkpoint_kubelet(a, base);
	}
	rsp_hist_add(&r->m.checkpoint, kcsi_mono_ns() - c0);
	json_object_set_new(a->inc, "checkpoint_seconds", json_real((double)(kcsi_mono_ns() - c0) / 1e9));
	if (j->t0)
		json_object_set_new(a->inc, "alert_to_request_ms", json_real((double)(c0 - j->t0) / 1e6));
}

/* The node and the checkpoint; false when the job is to be tried again. */
static bool target_and_checkpoint(struct act *a)
{
	kcsi_responder *r = a->r;
	struct job *j = a->j;
	bool want_ck = j->actions & KCSI_ACT_CHECKPOINT, want_lb = j->actions & KCSI_ACT_LABEL;

	/* a checkpoint needs a target: a pod (kubelet, record) or a container (podman) */
	if (want_ck && r->mode != MODE_PODMAN && !j->pod[0])
		a->ck_skip = "no target: the alert names no pod";
	else if (want_ck && r->mode == MODE_PODMAN && !j->container[0] && !j->container_id[0])
		a->ck_skip = "no target: the alert names no container";
	if (((want_ck && !a->ck_skip) || (want_lb && j->pod[0])) && resolve(r, j, &a->err)) {
		a->error = a->err.msg;
		a->ok = false;
		/* an API that cannot be reached is tried again; a missing pod is not */
		a->finished = a->err.code != KCSI_ERR_IO || j->attempts >= r->attempts;
	} else {
		a->resolved = true;
	}
	json_object_set_new(a->inc, "container", j->container[0] ? rsp_jstr(j->container) : json_null());
	json_object_set_new(a->inc, "node", j->node[0] ? json_string(j->node) : json_null());
	if (want_ck && !a->ck_skip && a->ok && r->dry_run)
		a->ck_skip = "dry run";
	if (want_ck && !a->ck_skip && a->ok)
		checkpoint(a);
	if (!a->ok && !a->finished) {
		rsp_log(r, KCSI_LOG_WARNING, "job failed, will try again", "job", json_integer(j->id), "attempt",
			json_integer(j->attempts), "error", rsp_jstr(a->error), NULL);
		return false;
	}
	if (want_ck)
		action_result(r, &a->res, KCSI_ACT_CHECKPOINT, a->ck_skip ? OUT_SKIPPED : a->ok ? OUT_OK : OUT_FAILED,
			      a->ck_skip ? a->ck_skip : a->error);
	return true;
}

/* The archive's sha256 and the hooks. */
static void after_checkpoint(struct act *a)
{
	kcsi_error e;
	json_object_set_new(a->inc, "archive", rsp_jstr(a->archive));
	if (!a->archive)
		return;
	bool receipt = a->r->mode == MODE_KUBELET && a->r->want_receipts;
	if (kcsi_sha256_file(a->archive, a->sha, &e) == KCSI_OK)
		json_object_set_new(a->inc, "sha256", json_string(a->sha));
	else if (!receipt) /* (the archive is on the node: the node agent's receipt will say) */
		json_object_set_new(a->inc, "sha256_error", rsp_jstr(e.msg));
	if (receipt)
		json_object_set_new(a->inc, "vault", json_string("waiting for the node agent's receipt"));
	json_object_set_new(a->inc, "hooks", run_hooks(a->r, a->j, a->incident, a->archive, a->sha));
}

static void label(struct act *a)
{
	kcsi_responder *r = a->r;
	struct job *j = a->j;
	if (r->dry_run) {
		action_result(r, &a->res, KCSI_ACT_LABEL, OUT_SKIPPED, "dry run");
	} else if (!j->pod[0]) {
		action_result(r, &a->res, KCSI_ACT_LABEL, OUT_SKIPPED, "no pod to label: the alert names none");
	} else if (!r->api) {
		action_result(r, &a->res, KCSI_ACT_LABEL, OUT_SKIPPED, "no Kubernetes API is configured");
	} else if (!a->resolved) {
		action_result(r, &a->res, KCSI_ACT_LABEL, OUT_FAILED, a->error);
	} else if (!a->ok) {
		action_result(r, &a->res, KCSI_ACT_LABEL, OUT_SKIPPED, "the checkpoint failed");
	} else {
		json_t *patch = json_pack("{s:{s:{s:s},s:{s:s,s:s,s:o,s:o}}}", "metadata", "labels", r->label_key,
					  a->incident, "annotations", "kcsi.io/rule", j->rule, "kcsi.io/priority",
					  j->priority, "kcsi.io/archive", rsp_jstr(a->archive), "kcsi.io/sha256",
					  a->sha[0] ? json_string(a->sha) : json_null());
		char *ps = patch ? json_dumps(patch, JSON_COMPACT) : NULL;
		kcsi_error e;
		if (!ps)
			action_result(r, &a->res, KCSI_ACT_LABEL, OUT_FAILED, "the patch could not be made");
		else if (rsp_patch_pod(r, j->ns, j->pod, ps, &e) == KCSI_OK)
			action_result(r, &a->res, KCSI_ACT_LABEL, OUT_OK, NULL);
		else
			action_result(r, &a->res, KCSI_ACT_LABEL, OUT_FAILED, e.msg);
		free(ps);
		json_decref(patch);
	}
}

/* POST the incident as it stands (every result but its own) to notify.url. */
static void notify(struct act *a)
{
	kcsi_responder *r = a->r;
	char *body;
	kcsi_error e;
	kcsi_http_resp rs;
	long h = 0;

	if (r->dry_run) {
		action_result(r, &a->res, KCSI_ACT_NOTIFY, OUT_SKIPPED, "dry run");
		return;
	}
	if (!r->notify_url) {
		action_result(r, &a->res, KCSI_ACT_NOTIFY, OUT_SKIPPED, "notify.url is not configured");
		return;
	}
	body = json_dumps(a->inc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	kcsi_error_clear(&e);
	if (body) {
		const char *hdrs[] = {"Content-Type: application/json", "Accept: application/json", NULL};
		kcsi_http_req rq = {.method = "POST", .url = r->notify_url, .headers = hdrs, .body = body,
				    .body_len = strlen(body), .timeout_s = 10};
		if (kcsi_http_request(NULL, &rq, &rs, &e) == KCSI_OK)
			h = rs.status;
		else
			kcsi_error_prefix(&e, "POST %s", r->notify_url);
		kcsi_http_resp_free(&rs);
	}
	if (h >= 200 && h < 300) {
		action_result(r, &a->res, KCSI_ACT_NOTIFY, OUT_OK, NULL);
	} else {
		char why[64];
		snprintf(why, sizeof(why), "HTTP %ld", h);
		action_result(r, &a->res, KCSI_ACT_NOTIFY, OUT_FAILED,
			      h ? why : body ? e.msg : "the incident could not be written");
	}
	free(body);
}

/* Carry out a job.  Returns true when it is finished (done or failed for
 * good), false when it should be tried again later.  Each action asked for
 * ends ok, skipped (with the reason) or failed (with the error). */
static bool run_job(kcsi_responder *r, struct job *j)
{
	struct act a = {.r = r, .j = j, .inc = json_object(), .res = {json_object(), {0}}, .ok = true,
			.finished = true};
	bool done;

	kcsi_error_clear(&a.err);
	j->attempts++;
	incident_head(&a);
	if ((done = target_and_checkpoint(&a))) {
		after_checkpoint(&a);
		if (j->actions & KCSI_ACT_LABEL)
			label(&a);
		json_object_set(a.inc, "results", a.res.obj);
		json_object_set_new(a.inc, "result", json_string(overall(&a.res)));
		json_object_set_new(a.inc, "error", rsp_jstr(a.error));
		if (j->actions & KCSI_ACT_NOTIFY) {
			notify(&a);
			json_object_set_new(a.inc, "result", json_string(overall(&a.res)));
		}
		rsp_finish_job(r, j, a.res.n[OUT_FAILED] ? JOB_FAILED : JOB_DONE, a.inc, a.archive, a.sha[0] ? a.sha : NULL,
			       a.error, a.requested, a.record_url[0] ? a.record_url : NULL);
		rsp_log(r, a.res.n[OUT_FAILED] ? KCSI_LOG_ERROR : KCSI_LOG_INFO, "incident", "incident",
			json_deep_copy(a.inc), NULL);
	}
	json_decref(a.inc);
	json_decref(a.res.obj);
	free(a.archive);
	return done;
}

/* ---- the workers ---- */

static struct node_q *node_get(kcsi_responder *r, const char *name)
{
	for (struct node_q *n = r->nodes; n; n = n->next)
		if (!strcmp(n->name, name))
			return n;
	struct node_q *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->next = r->nodes;
	r->nodes = n;
	return n;
}

void *rsp_worker_main(void *arg)
{
	kcsi_responder *r = arg;
	pthread_mutex_lock(&r->q_lock);
	for (;;) {
		struct job *j = NULL;
		struct node_q *nq = NULL;
		/* a job whose node has room */
		for (struct node_q *n = r->nodes; n && !j; n = n->next)
			if (n->head && n->running < r->per_node) {
				j = n->head;
				n->head = j->next;
				if (!n->head)
					n->tail = NULL;
				n->running++;
				nq = n;
			}
		if (j) {
			pthread_mutex_unlock(&r->q_lock);
			j->next = NULL;
			bool fin = run_job(r, j);
			pthread_mutex_lock(&r->q_lock);
			nq->running--;
			if (fin) {
				atomic_fetch_sub(&r->m.jobs_pending, 1);
				free(j);
			} else {
				/* again after a pause, at the end of its node's queue */
				pthread_mutex_unlock(&r->q_lock);
				usleep(200000u * (unsigned)j->attempts);
				pthread_mutex_lock(&r->q_lock);
				if (nq->tail)
					nq->tail->next = j;
				else
					nq->head = j;
				nq->tail = j;
			}
			pthread_cond_broadcast(&r->w_cond);
			continue;
		}
		if (r->unresolved && !atomic_load(&r->stopping)) {
			j = r->unresolved;
			r->unresolved = j->next;
			if (!r->unresolved)
				r->unresolved_tail = NULL;
			j->next = NULL;
			pthread_mutex_unlock(&r->q_lock);
			kcsi_error err;
			kcsi_error_clear(&err);
			bool fail = false;
			if ((j->actions & (KCSI_ACT_CHECKPOINT | KCSI_ACT_LABEL)) && resolve(r, j, &err))
				fail = true;
			if (fail || !j->node[0])
				snprintf(j->node, sizeof(j->node), "%s", fail ? "unresolved" : "-");
			pthread_mutex_lock(&r->q_lock);
			struct node_q *n = node_get(r, j->node);
			if (!n) {
				free(j);
				continue;
			}
			if (n->tail)
				n->tail->next = j;
			else
				n->head = j;
			n->tail = j;
			continue;
		}
		if (atomic_load(&r->stopping) && r->decider_done)
			break;
		pthread_cond_wait(&r->w_cond, &r->q_lock);
	}
	pthread_mutex_unlock(&r->q_lock);
	return NULL;
}
