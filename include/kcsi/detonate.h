/* kcsi — dynamic analysis: restore a checkpoint in a sealed sandbox and
 * record what it does.
 *
 * kcsi_detonate() builds a network namespace with no route out (lo, a dead-end
 * interface holding the default route, policy routing and nftables TPROXY rules
 * that hand every TCP and UDP flow to kcsi's sinkhole whatever its destination),
 * restores the container into it with podman + runc + CRIU, caps its CPU,
 * memory and pids, and records for a bounded time: a pcap of the namespace's
 * traffic, the sinkhole's transcripts (IRC, HTTP, DNS, stratum JSON-RPC, raw
 * TCP/UDP) and, where eBPF can be loaded, a JSON-lines activity log of the
 * restored processes.  Then it removes the container, the namespace (with its
 * routes and nftables rules) and every process left in it, and writes
 * DIR/report.json (findings with MITRE ids and evidence, IOCs in the analyze
 * report's schema) and DIR/manifest.json (every output file with its sha256).
 * The archive is evidence: it is only read; the restore uses a copy.
 */
#ifndef KCSI_DETONATE_H
#define KCSI_DETONATE_H

#include <stdbool.h>
#include <stdint.h>

#include "kcsi/analyze.h"
#include "kcsi/error.h"

#define KCSI_DETONATION_SCHEMA "kcsi-detonation/1"

typedef struct kcsi_detonate_opts {
	const char *archive;          /* checkpoint archive (podman export or kubelet/CRI-O layout) */
	const char *outdir;           /* created; must not exist or be empty */
	unsigned duration_s;          /* how long the restored container runs (default 20) */
	const char *image;            /* image to restore a kubelet/CRI-O archive on (or to override) */
	const char *const *irc_commands; /* NULL-terminated; sent by the sinkhole's IRC operator after JOIN */
	unsigned cpu_percent;         /* CPU cap, percent of one core (default 50) */
	uint64_t memory_bytes;        /* memory cap (default 512 MiB) */
	unsigned pids_max;            /* pids cap (default 256) */
	bool no_bpf;                  /* do not load the eBPF activity tracer */
	/* progress: called with the seconds since the start and what is going on */
	void (*progress)(void *ctx, double seconds, const char *msg);
	void *progress_ctx;
} kcsi_detonate_opts;

typedef struct kcsi_detonate_result {
	double restore_s;             /* command start to a running restored container */
	double run_s;                 /* how long it ran in the sandbox */
	double report_s;              /* end of the run to report.json written */
	const char *end_reason;       /* "duration", "exited", "interrupted" */
	unsigned nfindings;
	bool bpf;                     /* the activity log was recorded */
	char bpf_error[256];          /* why not, when it was not */
	bool report_written;          /* DIR/report.json holds the run, also a failed one */
	unsigned nwarnings;           /* things that went wrong without stopping the run */
	char warning[256];            /* the last of them */
} kcsi_detonate_result;

kcsi_code kcsi_detonate(const kcsi_detonate_opts *o, kcsi_detonate_result *res, kcsi_error *err);

/* Fold a detonation's findings and IOCs (DIR/report.json) into an analyze
 * report: findings are added with their evidence, IOCs merged by type and
 * value (counts added), and the verdict and score computed again. */
kcsi_code kcsi_detonation_merge(kcsi_report *r, const char *dir, kcsi_error *err);

#endif
