/* kcsi — capture: Falco alerts in, container checkpoints out.
 *
 * Four parts, each usable alone:
 *   - kcsi_falco_*   parse one Falco alert (Falco's json_output/http_output
 *                    shape, Falcosidekick's webhook shape) and name the
 *                    container it is about;
 *   - kcsi_policy_*  load a response policy (YAML) and decide what to do
 *                    with an alert;
 *   - kcsi_kubelet_* ask a kubelet for a checkpoint, read a pod from the
 *                    Kubernetes API, label it; or checkpoint with podman;
 *   - kcsi_respond_* the responder daemon (durable queue, deduplication,
 *                    per-node workers, hooks, metrics).
 *
 * Ownership: what a *_parse/_load/_open function returns is freed by the
 * matching *_free/_close; strings in a parsed event point into it.
 */
#ifndef KCSI_RESPOND_H
#define KCSI_RESPOND_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kcsi/error.h"
#include "kcsi/log.h"

/* ---- names ---------------------------------------------------------------- */

/* RFC 1123 label as Kubernetes checks it: [a-z0-9]([-a-z0-9]*[a-z0-9])?, <= 63. */
bool kcsi_dns1123_label(const char *s);
/* RFC 1123 subdomain: labels joined by '.', <= 253. */
bool kcsi_dns1123_subdomain(const char *s);

/* ---- Falco alerts ------------------------------------------------------------- */

typedef enum kcsi_priority {
	KCSI_PRIO_UNKNOWN = -1,
	KCSI_PRIO_EMERGENCY = 0,
	KCSI_PRIO_ALERT,
	KCSI_PRIO_CRITICAL,
	KCSI_PRIO_ERROR,
	KCSI_PRIO_WARNING,
	KCSI_PRIO_NOTICE,
	KCSI_PRIO_INFORMATIONAL,
	KCSI_PRIO_DEBUG,
} kcsi_priority;

/* "Critical", "warning", "Info", "informational"... (case-insensitive). */
kcsi_priority kcsi_priority_parse(const char *s);
const char *kcsi_priority_name(kcsi_priority p);

#define KCSI_MAX_TAGS 64

typedef struct kcsi_falco_event {
	json_t *root;            /* the parsed alert (owned) */
	const char *rule;        /* "rule" (or "Rule", as Falco Talon's examples write it) */
	const char *priority_text;
	kcsi_priority priority;
	const char *source;      /* "syscall" when the alert has none (older Falco) */
	const char *time;        /* RFC 3339, as sent */
	const char *hostname;    /* Falco's host: not the node name (see docs/respond.md) */
	const char *uuid;        /* Falcosidekick's uuid, or NULL */
	const char *output;
	const char *tags[KCSI_MAX_TAGS];
	size_t ntags;
	json_t *fields;          /* output_fields (an object; empty when absent) */
	/* The container the alert is about.  Every name here was validated. */
	char ns[64], pod[254], container[64], container_id[65];
	bool has_pod;            /* ns and pod are set */
	bool has_container;      /* container is set */
	const char *target_from; /* "k8s" (k8s.* fields), "k8s_audit" (ka.target.*), "dockershim" */
	char reason[512];        /* why no container can be named (when !has_container) */
	uint32_t big_ints;       /* integers above INT64_MAX, kept as strings */
} kcsi_falco_event;

/* Parse one alert.  KCSI_ERR_FORMAT: not JSON, not an object, a field of the
 * wrong type, no rule or priority.  KCSI_ERR_UNSAFE: a namespace, pod or
 * container name that is not a DNS-1123 name (it would go into a URL). */
kcsi_code kcsi_falco_parse(const void *body, size_t len, kcsi_falco_event *ev, kcsi_error *err);
void kcsi_falco_free(kcsi_falco_event *ev);
/* An output field as text (numbers printed, null -> NULL); buf holds numbers. */
const char *kcsi_falco_field(const kcsi_falco_event *ev, const char *key, char *buf, size_t cap);

/* ---- policy ----------------------------------------------------------------- */

enum {
	KCSI_ACT_CHECKPOINT = 1u << 0,
	KCSI_ACT_LABEL = 1u << 1,
	KCSI_ACT_NOTIFY = 1u << 2,
};

typedef struct kcsi_policy kcsi_policy;

typedef struct kcsi_decision {
	unsigned actions;        /* KCSI_ACT_* of the first matching rule, 0 if none */
	const char *policy_rule; /* its name, or NULL */
	const char *excluded;    /* "namespace kube-system" ... when an exclusion applied */
} kcsi_decision;

/* Load a policy (the `rules:` and `exclude:` parts of a responder config, or a
 * file holding only those).  Errors name the file, line and key. */
kcsi_code kcsi_policy_load(const char *path, kcsi_policy **out, kcsi_error *err);
kcsi_code kcsi_policy_from_yaml(const char *text, size_t len, const char *name, kcsi_policy **out,
				kcsi_error *err);
void kcsi_policy_free(kcsi_policy *p);
size_t kcsi_policy_nrules(const kcsi_policy *p);
/* Rule i's name; its actions (KCSI_ACT_*) in *actions. */
const char *kcsi_policy_rule(const kcsi_policy *p, size_t i, unsigned *actions);
void kcsi_policy_decide(const kcsi_policy *p, const kcsi_falco_event *ev, kcsi_decision *d);

/* ---- kubelet, Kubernetes API, podman ------------------------------------------ */

typedef struct kcsi_tls {
	const char *cert, *key, *cacert; /* PEM files; NULL: none / system CAs */
	const char *token;               /* bearer token (API, or a kubelet with webhook authn), or NULL */
	bool insecure;                   /* skip the server's verification (said so by the caller) */
	long timeout_s;                  /* whole request */
} kcsi_tls;

/* A kubeconfig's context: the API server, its CA, the user's client
 * certificate and key or token.  Paths are made absolute (relative to the
 * kubeconfig's directory); *-data members are decoded into files of a
 * private directory that kcsi_kubeconfig_free removes.  Credential plugins
 * (exec, auth-provider) are refused. */
typedef struct kcsi_kubeconfig {
	char *server;             /* https://HOST:PORT */
	char *context;            /* the context used */
	char *cacert, *cert, *key;
	char *token, *token_file; /* token (inline, or tokenFile's content) */
	bool insecure;            /* insecure-skip-tls-verify: true */
	char *tmpdir;
} kcsi_kubeconfig;

/* A bearer token from a file (its trailing newline removed), refused when
 * empty or not fit for an HTTP header (malloc'd; NULL with *err). */
char *kcsi_token_file(const char *path, kcsi_error *err);

/* context NULL: the file's current-context. */
kcsi_code kcsi_kubeconfig_load(const char *path, const char *context, kcsi_kubeconfig *kc, kcsi_error *err);
/* Its TLS settings and credentials into tls (pointers into kc). */
void kcsi_kubeconfig_tls(const kcsi_kubeconfig *kc, kcsi_tls *tls);
void kcsi_kubeconfig_free(kcsi_kubeconfig *kc);

/* POST {base}/checkpoint/{ns}/{pod}/{ctr}?timeout=S; on success *archive is
 * the path the kubelet wrote (malloc'd).  *http gets the status (0: no reply).
 * 401/403/404/500 and others become messages that say what to check.  base
 * is the kubelet (https://ADDRESS:PORT) or the API server's node proxy
 * ({api}/api/v1/nodes/NODE/proxy). */
kcsi_code kcsi_kubelet_checkpoint(const char *base, const char *ns, const char *pod,
				  const char *ctr, long timeout_s, const kcsi_tls *tls,
				  char **archive, long *http, kcsi_error *err);

/* GET {api}/api/v1/namespaces/{ns}/pods/{pod}: the node (spec.nodeName) and,
 * when want_id is given, the name of the container whose ID starts with it. */
kcsi_code kcsi_kube_pod(const char *api, const char *ns, const char *pod, const char *want_id,
			const kcsi_tls *tls, char *node, size_t node_cap, char *ctr, size_t ctr_cap,
			kcsi_error *err);
/* GET {api}/api/v1/nodes/{node}: where its kubelet listens, the first of
 * InternalIP, InternalDNS, ExternalIP, ExternalDNS, Hostname in
 * status.addresses (an IPv6 address in brackets) and
 * status.daemonEndpoints.kubeletEndpoint.Port (10250 when absent). */
kcsi_code kcsi_kube_node(const char *api, const char *node, const kcsi_tls *tls, char *addr, size_t addr_cap,
			 int *port, kcsi_error *err);
/* PATCH (merge) the pod's labels and annotations; json is the patch body. */
kcsi_code kcsi_kube_patch_pod(const char *api, const char *ns, const char *pod, const char *json,
			      const kcsi_tls *tls, kcsi_error *err);

/* podman container checkpoint --export=DIR/... --leave-running --tcp-established. */
kcsi_code kcsi_podman_checkpoint(const char *container, const char *outdir, char **archive,
				 kcsi_error *err);

/* sha256 of a file as 64 hex digits (base/hash.c). */
kcsi_code kcsi_sha256_file(const char *path, char hex[65], kcsi_error *err);

/* ---- the responder ----------------------------------------------------------- */

typedef struct kcsi_responder kcsi_responder;

/* Read and check a config file (YAML).  Nothing is started. */
kcsi_code kcsi_respond_open(const char *config, kcsi_responder **out, kcsi_error *err);
/* A summary of the loaded config as JSON (for --check-config). */
void kcsi_respond_describe(kcsi_responder *r, FILE *f);
/* What the configuration allows that weakens it, or that could not be
 * checked here (TLS verification skipped; the in-cluster environment absent
 * when checking a configuration outside the pod): one sentence each.  The
 * responder also logs them at start; incidents say which applied. */
size_t kcsi_respond_nwarnings(const kcsi_responder *r);
const char *kcsi_respond_warning(const kcsi_responder *r, size_t i);

/* ---- what the node agent reports back ----
 * With a `vault:` section, the responder waits for each archive the kubelet
 * wrote to be stored by `kcsi collect` on its node, which writes a receipt
 * into the vault (kcsi_collect_receipt in kcsi/vault.h); the caller gives
 * the function that looks one up.  It returns KCSI_OK with the receipt (an
 * object: name, node, id, sha256, size, ...; a new reference),
 * KCSI_ERR_NOTFOUND while there is none yet, or another error (tried again). */
typedef kcsi_code (*kcsi_receipt_fn)(void *ctx, const char *archive_name, json_t **receipt, kcsi_error *err);
/* The vault section's store (NULL: the caller's default store), and
 * whether the section is there at all. */
bool kcsi_respond_wants_receipts(const kcsi_responder *r, const char **store);
void kcsi_respond_set_receipts(kcsi_responder *r, kcsi_receipt_fn fn, void *ctx);
/* The loaded policy (owned by the responder). */
const kcsi_policy *kcsi_respond_policy(const kcsi_responder *r);
/* Where the responder's log records go (component "respond") unless the
 * config names a log file; the log stays the caller's.  Without either,
 * nothing is logged. */
void kcsi_respond_set_log(kcsi_responder *r, kcsi_log *log);
/* Run until SIGTERM/SIGINT (or kcsi_respond_stop); then drain and return. */
kcsi_code kcsi_respond_run(kcsi_responder *r, kcsi_error *err);
void kcsi_respond_stop(kcsi_responder *r);
void kcsi_respond_close(kcsi_responder *r);

#endif
