/* kcsi — the responder's insides, shared by its files (private to them):
 *
 *   respond.c          open, run (threads, signals), stop, close; the log
 *   respond_config.c   the config file, secrets, kubeconfig; describe
 *   respond_store.c    the SQLite queue: accept -> writer, job results, recovery;
 *                      the vault receipts the node agents write
 *   respond_decide.c   the decider: policy, cooldown, jobs
 *   respond_act.c      the workers: node, checkpoint, hooks, label, notify
 *   respond_http.c     the HTTP(S) input: connections, deadlines, auth
 *   respond_inputs.c   the JSON-lines inputs: files, stdin, a unix socket
 *   respond_metrics.c  counters, histograms, /metrics
 *
 * Flow (docs/respond.md has the whole story):
 *
 *   HTTP (libmicrohttpd, TLS optional)  \
 *   JSON lines from files/stdin          >- accept: auth, size bound, parse,
 *   JSON lines from a unix socket       /   name check -> writer
 *   writer   one thread; group commit: every event waiting is INSERTed in one
 *            SQLite transaction (WAL, synchronous=FULL); only then do the
 *            accepting threads reply.  Replays (same uuid or same body) are
 *            found by the UNIQUE key and acknowledged, not stored twice.
 *   decider  one thread; policy, exclusions, cooldown per container; in one
 *            transaction per batch: the job (if any) is inserted and the event
 *            marked handled, so a crash re-decides it or not at all.
 *   workers  checkpoint.max_concurrent threads; a job first learns its node
 *            (the pod's spec.nodeName, cached), then waits in that node's
 *            queue (checkpoint.per_node running at once per node); checkpoint,
 *            sha256, hooks (vault, analyze), label, notify, incident line.
 *   receipts one thread (with a vault: section); a kubelet's archive waits
 *            until the node agent (kcsi collect) has stored it in the vault
 *            and written its receipt; a follow-up incident line names the
 *            vault id and sha256.
 *
 * Restart: events not yet decided are decided, jobs not finished are run;
 * the cooldown is read back from the jobs table. */
#ifndef KCSI_RESPONDER_H
#define KCSI_RESPONDER_H
#ifndef KCSI_INTERNAL
#error "responder.h is private to libkcsi"
#endif

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "kcsi/log.h"
#include "capture/respond_int.h"
#include "base/buf.h"

enum mode { MODE_KUBELET, MODE_RECORD, MODE_PODMAN };
enum { JOB_PENDING = 0, JOB_DONE = 2, JOB_FAILED = 3 };

/* ---- metrics (respond_metrics.c) ---- */

#define NBUCKETS 14

struct hist {
	atomic_uint_fast64_t b[NBUCKETS + 1];
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t sum_ns;
};

struct metrics {
	atomic_uint_fast64_t received, accepted, duplicate, rejected_auth, rejected_bad, rejected_unsafe,
		rejected_size, matched, deduplicated, excluded, unmatched, no_target, ckpt_ok, ckpt_failed,
		ckpt_skipped, label_ok, label_failed, label_skipped, notify_ok, notify_failed, notify_skipped,
		hooks_failed, jobs_pending, conns_open, conns_refused_client, conns_cut_headers,
		conns_cut_request, receipts_found, receipts_expired, receipts_waiting;
	struct hist accept, to_request, checkpoint;
};

void rsp_hist_add(struct hist *h, uint64_t ns);
/* The metrics in Prometheus' text format. */
void rsp_metrics_text(struct metrics *m, kcsi_buf *b);

/* ---- the queues ---- */

/* An event waiting for the writer (on the stack of the accepting thread). */
struct sub {
	char key[80];
	const char *input;
	const char *body;
	size_t len;
	uint64_t received_ns, t0;
	kcsi_falco_event ev; /* moved to the decider when new */
	/* result */
	bool done, ok, dup;
	int64_t id;
	struct sub *next;
	pthread_cond_t cond;
};

/* An event stored, waiting for the decider. */
struct dev {
	int64_t id;
	uint64_t received_ns, t0; /* t0: monotonic time of receipt (0 after a restart) */
	kcsi_falco_event ev;
	struct dev *next;
};

/* A job: what to do about one target. */
struct job {
	int64_t id, event;
	char target[400];
	char ns[64], pod[254], container[64], container_id[65], node[254];
	char rule[512], priority[32], policy_rule[128], hostname[254];
	unsigned actions;
	uint64_t received_ns, t0;
	int attempts;
	struct job *next;
};

struct node_q {
	char name[254];
	struct job *head, *tail;
	int running;
	struct node_q *next;
};

struct pod_cache {
	char key[400], node[254], ctr[64];
	uint64_t at;
	struct pod_cache *next;
};

struct cool {
	char *target;
	uint64_t at;
	struct cool *next;
};

/* A node's kubelet address and port from its status (cached). */
struct node_cache {
	char node[254], addr[260];
	int port;
	uint64_t at;
	struct node_cache *next;
};

/* A bearer token: given inline, or a file read again whenever it changes
 * (service account tokens are rotated by the kubelet). */
struct rsp_token {
	char *value;
	char *path;
	const char *key;  /* the setting, for messages */
	struct timespec mtime;
	unsigned long ino;
	pthread_mutex_t lock;
};

struct conn; /* an HTTP connection (respond_http.c) */

struct kcsi_responder {
	char *config_path;
	json_t *cfg;
	kcsi_policy *policy;
	/* listen */
	const char *address;
	int port;
	char *tls_cert_pem, *tls_key_pem, *client_ca_pem;
	/* auth */
	char *bearer, *hmac;
	bool mtls, allow_unauth;
	size_t max_body;
	/* inputs */
	json_t *files;
	const char *unix_socket;
	/* state */
	const char *state_dir;
	char db_path[4096];
	sqlite3 *db;
	pthread_mutex_t db_lock;
	/* logging */
	kcsi_log *log;       /* the front end's, or own_log */
	kcsi_log *own_log;   /* the config's log file */
	FILE *incidents;
	pthread_mutex_t incident_lock;
	bool debug;
	/* kubernetes & kubelet */
	enum mode mode;
	bool dry_run;
	char *api;
	kcsi_tls api_tls;          /* .token: see api_token */
	struct rsp_token api_token;
	bool in_cluster_absent;    /* kubernetes.in_cluster, checked outside a pod */
	kcsi_kubeconfig kubeconfig;
	const char *kubelet_url;   /* template: {node}, {address}, {port} */
	bool kubelet_by_address;   /* the template needs the node's status */
	bool kubelet_via_api;      /* the API server's node proxy */
	json_t *kubelet_nodes;
	kcsi_tls kubelet_tls;      /* .token: see kubelet_tok */
	struct rsp_token kubelet_token;
	struct rsp_token *kubelet_tok; /* &kubelet_token, &api_token (service_account_token) or NULL */
	struct node_cache *node_addrs;
	json_t *warnings;          /* sentences (kcsi_respond_warning) */
	json_t *incident_warnings; /* those every incident repeats */
	/* the vault receipts (respond_store.c) */
	bool want_receipts;
	const char *vault_store;
	double receipt_poll_s, receipt_wait_s;
	kcsi_receipt_fn receipt_fn;
	void *receipt_ctx;
	pthread_t receipts_t;
	pthread_cond_t receipts_cond;
	long ckpt_timeout;
	double cooldown_s;
	int max_concurrent, per_node, attempts;
	const char *podman_dir;
	const char *label_key;
	const char *notify_url;
	const char *hook_vault, *hook_analyze;
	double hook_timeout;
	/* run state */
	atomic_bool stopping;
	atomic_bool ready;
	struct metrics m;
	pthread_mutex_t q_lock;
	pthread_cond_t q_cond;      /* writer: submissions; decider: events */
	pthread_cond_t w_cond;      /* workers */
	struct sub *subs, *subs_tail;
	struct dev *devs, *devs_tail;
	struct job *unresolved, *unresolved_tail;
	struct node_q *nodes;
	struct pod_cache *pods;
	struct cool *cools;
	bool writer_done, decider_done;
	int inputs_running;
	pthread_t writer_t, decider_t, *worker_t, *input_t, sock_t;
	size_t ninputs;
	int sock_fd;
	struct MHD_Daemon *mhd;
	/* HTTP connections: limits and deadlines (respond_http.c) */
	int max_conns, max_conns_per_client;
	double header_timeout_s, request_timeout_s;
	pthread_mutex_t conn_lock;
	struct conn *conns;
	atomic_uint_fast64_t flood_sec, flood_skipped; /* log lines a flood repeats: one a second */
	atomic_int unix_conns; /* connections being read on inputs.unix_socket */
};

/* ---- the log and text helpers (respond.c) ---- */

/* A log record of component "respond"; after msg ("key", json_t *) pairs
 * ending with NULL, the values stolen.  Debug records only with log_level
 * debug. */
void rsp_log(kcsi_responder *r, kcsi_log_level level, const char *msg, ...);
/* A flood repeats its log lines: let one through a second.  *skipped gets
 * how many were held back since the last one. */
bool rsp_flood_ok(kcsi_responder *r, uint64_t *skipped);
/* End s before its first byte that does not begin a whole UTF-8 sequence. */
void rsp_utf8_cut(char *s);
/* A string for the logs and the incident: null for NULL; text that is not
 * UTF-8 shown escaped, not dropped. */
json_t *rsp_jstr(const char *s);
/* A bounded, printable copy of untrusted text for logs. */
json_t *rsp_jshown(const char *s, size_t n);
/* A refusal as the HTTP reply body: {"accepted": false, K: V}. */
char *rsp_jmsg(const char *k, const char *v);

/* ---- config (respond_config.c) ---- */

kcsi_code rsp_load_config(kcsi_responder *r, kcsi_error *err);
/* The token as of now (malloc'd copy, NULL when none): its file is read
 * again when it changed; a file that cannot be read keeps the last value. */
char *rsp_token_now(struct rsp_token *t);
void rsp_token_free(struct rsp_token *t);
/* base's settings with the token as of now in *out (*tok: the copy to free). */
void rsp_tls_now(const kcsi_tls *base, struct rsp_token *t, kcsi_tls *out, char **tok);

/* ---- the queue (respond_store.c) ---- */

kcsi_code rsp_db_open(kcsi_responder *r, kcsi_error *err);
bool rsp_db_exec(kcsi_responder *r, const char *sql);
/* Parse, check and store one alert.  Returns the HTTP status to answer
 * with and a reply body (malloc'd).  Blocks until the event is durable. */
int rsp_accept(kcsi_responder *r, const char *input, const char *body, size_t len, uint64_t t0, char **reply);
void rsp_push_dev(kcsi_responder *r, struct dev *d);
void *rsp_writer_main(void *arg);
/* Store a job's end (and the kubelet request recorded in record mode) and
 * write its incident line; with receipts wanted, a kubelet archive waits for
 * its vault receipt. */
void rsp_finish_job(kcsi_responder *r, struct job *j, int state, json_t *inc, const char *archive, const char *sha,
		    const char *error, uint64_t requested_ns, const char *record_url);
/* After a restart: the cooldown, the jobs not finished, the events not decided. */
kcsi_code rsp_recover(kcsi_responder *r, kcsi_error *err);
/* The stored key of an alert ("uuid:..." or "sha256:..."), or null. */
json_t *rsp_event_key(kcsi_responder *r, int64_t event);
/* The receipts thread: archives waiting for the node agent's vault receipt
 * are looked up every receipt_poll_s; a follow-up incident line says where
 * each went (or that none came within receipt_wait_s). */
void *rsp_receipts_main(void *arg);

/* ---- decide (respond_decide.c) ---- */

void rsp_push_job(kcsi_responder *r, struct job *j);
void rsp_cool_add(kcsi_responder *r, const char *target, uint64_t at);
void *rsp_decider_main(void *arg);

/* ---- act (respond_act.c) ---- */

void *rsp_worker_main(void *arg);
/* PATCH (merge) a pod through the API, with its token as of now. */
kcsi_code rsp_patch_pod(kcsi_responder *r, const char *ns, const char *pod, const char *patch, kcsi_error *err);

/* ---- inputs (respond_http.c, respond_inputs.c) ---- */

kcsi_code rsp_start_http(kcsi_responder *r, kcsi_error *err);
/* Shut down the HTTP connections past their deadline. */
void rsp_reap_connections(kcsi_responder *r);
kcsi_code rsp_start_unix(kcsi_responder *r, kcsi_error *err);
void *rsp_sock_main(void *arg);
void *rsp_file_main(void *arg);

struct input_arg {
	kcsi_responder *r;
	const char *path;
};

/* An input (a file, a unix connection) is done: the writer may end once none runs. */
void rsp_input_end(kcsi_responder *r);

#endif
