/* kcsi respond — counters and latency histograms, and their text for
 * GET /metrics (Prometheus' exposition format). */
#include <inttypes.h>

#include "capture/responder.h"

static const double bucket_s[NBUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					  0.1,	  0.25,	 0.5,	 1,	2.5,  5,    10};

void rsp_hist_add(struct hist *h, uint64_t ns)
{
	double s = (double)ns / 1e9;
	int i = 0;
	while (i < NBUCKETS && s > bucket_s[i])
		i++;
	atomic_fetch_add(&h->b[i], 1);
	atomic_fetch_add(&h->count, 1);
	atomic_fetch_add(&h->sum_ns, ns);
}

void rsp_metrics_text(struct metrics *m, kcsi_buf *b)
{
	struct {
		const char *name, *help;
		atomic_uint_fast64_t *v;
		const char *labels;
	} c[] = {
		{"kcsi_respond_events_received_total", "Alerts received on any input", &m->received, ""},
		{"kcsi_respond_events_accepted_total", "Alerts stored in the queue", &m->accepted, ""},
		{"kcsi_respond_events_replayed_total", "Alerts received again (same uuid or body): acknowledged, not stored twice", &m->duplicate, ""},
		{"kcsi_respond_events_rejected_total", "Alerts refused", &m->rejected_auth, "{reason=\"auth\"}"},
		{"kcsi_respond_events_rejected_total", NULL, &m->rejected_bad, "{reason=\"malformed\"}"},
		{"kcsi_respond_events_rejected_total", NULL, &m->rejected_unsafe, "{reason=\"unsafe_name\"}"},
		{"kcsi_respond_events_rejected_total", NULL, &m->rejected_size, "{reason=\"too_large\"}"},
		{"kcsi_respond_events_matched_total", "Alerts a policy rule matched", &m->matched, ""},
		{"kcsi_respond_events_deduplicated_total", "Matched alerts within a target's cooldown", &m->deduplicated, ""},
		{"kcsi_respond_events_excluded_total", "Alerts excluded by namespace or image", &m->excluded, ""},
		{"kcsi_respond_events_unmatched_total", "Alerts no rule matched", &m->unmatched, ""},
		{"kcsi_respond_events_no_target_total", "Matched alerts that name no container", &m->no_target, ""},
		{"kcsi_respond_checkpoints_total", "Checkpoint actions: taken or requested, failed, skipped (no target, dry run)", &m->ckpt_ok, "{result=\"ok\"}"},
		{"kcsi_respond_checkpoints_total", NULL, &m->ckpt_failed, "{result=\"failed\"}"},
		{"kcsi_respond_checkpoints_total", NULL, &m->ckpt_skipped, "{result=\"skipped\"}"},
		{"kcsi_respond_labels_total", "Pod label actions", &m->label_ok, "{result=\"ok\"}"},
		{"kcsi_respond_labels_total", NULL, &m->label_failed, "{result=\"failed\"}"},
		{"kcsi_respond_labels_total", NULL, &m->label_skipped, "{result=\"skipped\"}"},
		{"kcsi_respond_notifications_total", "Webhook notification actions", &m->notify_ok, "{result=\"ok\"}"},
		{"kcsi_respond_notifications_total", NULL, &m->notify_failed, "{result=\"failed\"}"},
		{"kcsi_respond_notifications_total", NULL, &m->notify_skipped, "{result=\"skipped\"}"},
		{"kcsi_respond_hooks_failed_total", "Hook commands that failed", &m->hooks_failed, ""},
		{"kcsi_respond_vault_receipts_total", "Archives the node agent's receipt placed in the vault, or that none came for", &m->receipts_found, "{result=\"stored\"}"},
		{"kcsi_respond_vault_receipts_total", NULL, &m->receipts_expired, "{result=\"expired\"}"},
		{"kcsi_respond_connections_refused_total", "HTTP connections refused at accept", &m->conns_refused_client, "{reason=\"per_client_limit\"}"},
		{"kcsi_respond_connections_closed_total", "HTTP connections closed at a deadline", &m->conns_cut_headers, "{reason=\"header_deadline\"}"},
		{"kcsi_respond_connections_closed_total", NULL, &m->conns_cut_request, "{reason=\"request_deadline\"}"},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		if (c[i].help)
			kcsi_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", c[i].name, c[i].help, c[i].name);
		kcsi_buf_printf(b, "%s%s %" PRIuFAST64 "\n", c[i].name, c[i].labels, atomic_load(c[i].v));
	}
	kcsi_buf_printf(b, "# HELP kcsi_respond_jobs_pending Jobs not finished\n# TYPE kcsi_respond_jobs_pending gauge\n"
			   "kcsi_respond_jobs_pending %" PRIuFAST64 "\n", atomic_load(&m->jobs_pending));
	kcsi_buf_printf(b, "# HELP kcsi_respond_vault_receipts_waiting Archives waiting for their vault receipt\n"
			   "# TYPE kcsi_respond_vault_receipts_waiting gauge\nkcsi_respond_vault_receipts_waiting %" PRIuFAST64 "\n",
			atomic_load(&m->receipts_waiting));
	kcsi_buf_printf(b, "# HELP kcsi_respond_connections_open HTTP connections open\n"
			   "# TYPE kcsi_respond_connections_open gauge\nkcsi_respond_connections_open %" PRIuFAST64 "\n",
			atomic_load(&m->conns_open));
	struct {
		const char *name, *help;
		struct hist *h;
	} hs[] = {
		{"kcsi_respond_accept_seconds", "Receipt to durable acknowledgement", &m->accept},
		{"kcsi_respond_alert_to_request_seconds", "Receipt to the checkpoint request", &m->to_request},
		{"kcsi_respond_checkpoint_seconds", "Checkpoint request to its reply", &m->checkpoint},
	};
	for (size_t i = 0; i < 3; i++) {
		uint64_t cum = 0;
		kcsi_buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", hs[i].name, hs[i].help, hs[i].name);
		for (int k = 0; k <= NBUCKETS; k++) {
			cum += atomic_load(&hs[i].h->b[k]);
			if (k < NBUCKETS)
				kcsi_buf_printf(b, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", hs[i].name, bucket_s[k], cum);
			else
				kcsi_buf_printf(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", hs[i].name, cum);
		}
		kcsi_buf_printf(b, "%s_sum %.9f\n%s_count %" PRIuFAST64 "\n", hs[i].name,
				(double)atomic_load(&hs[i].h->sum_ns) / 1e9, hs[i].name, atomic_load(&hs[i].h->count));
	}
}
