/* kcsi detonate — private interfaces between the sandbox, the sinkhole, the
 * packet capture, the eBPF tracer and the report writer. */
#ifndef KCSI_DETONATE_INT_H
#define KCSI_DETONATE_INT_H

#include <jansson.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>

#include "kcsi/ckpt.h"
#include "kcsi/detonate.h"

/* The address DNS answers carry; every flow to it lands in the sinkhole like
 * any other, it only has to be a plausible unicast address. */
#define DET_SINK_ADDR "198.18.0.1"
/* The dead-end interface's own address (benchmarking range, RFC 2544). */
#define DET_IFACE_ADDR "198.18.0.2"
#define DET_MARK_DIVERT 1
#define DET_MARK_SINKHOLE 2

double det_now(void); /* CLOCK_MONOTONIC seconds */
double det_wall(void); /* CLOCK_REALTIME seconds */
void det_iso_time(double wall, char *buf, size_t cap);

/* ---- confinement (lib/detonate_confine.c): the restore copy ---- */
typedef struct det_confine det_confine;
typedef struct det_confine_opts {
	const char *work;           /* private work directory (sanitised members, mount sources) */
	const char *container_name; /* the name the restored container gets */
	const char *image_name, *image_id;
	const char *image_root;     /* the image's root file system, mounted read-only */
	const char *netns_path;     /* the sandbox's network namespace */
} det_confine_opts;
/* Check the checkpoint and plan the restore copy; KCSI_ERR_UNSAFE with the
 * reason when it cannot be restored without giving away part of the host.
 * *out is set (free it) also on error. */
kcsi_code det_confine_plan(kcsi_ckpt *c, const det_confine_opts *o, det_confine **out, kcsi_error *err);
/* Write the restore copy (plain tar) to dst. */
kcsi_code det_confine_write_copy(kcsi_ckpt *c, det_confine *cf, const char *dst, kcsi_error *err);
/* {namespaces, mounts, capabilities_dropped, members_dropped, ...} (new reference) */
json_t *det_confine_report(det_confine *cf);
/* A CRIU configuration file of kcsi's own for the restore (runc reads the
 * spec's org.criu.config annotation); NULL: none.  Write the copy again. */
void det_confine_set_criu_config(det_confine *cf, const char *path);
/* The id the restored container gets (NULL before the plan). */
const char *det_confine_container_id(const det_confine *cf);
/* The tmpfs holding the replaced mounts' sources, NULL when there is none. */
const char *det_confine_mount_root(const det_confine *cf);
void det_confine_finish(det_confine *cf);
void det_confine_free(det_confine *cf);

/* ---- sinkhole (lib/sinkhole.c) ---- */
typedef struct det_sinkhole det_sinkhole;
/* Create the listening sockets; must run in the sandbox's network namespace
 * (the sockets stay there).  Transcripts go to DIR/transcripts/. */
kcsi_code det_sinkhole_open(det_sinkhole **out, const char *dir, const char *const *irc_commands, double wall0,
			    kcsi_error *err);
void det_sinkhole_ports(const det_sinkhole *s, unsigned *tcp, unsigned *udp, unsigned *dns);
/* Start the thread; it joins the network namespace netns_fd (the sandbox's). */
kcsi_code det_sinkhole_start(det_sinkhole *s, int netns_fd, kcsi_error *err);
void det_sinkhole_stop(det_sinkhole *s);
/* {sessions: [...], dns: [...], udp: [...]} (new reference) */
json_t *det_sinkhole_record(det_sinkhole *s);
void det_sinkhole_free(det_sinkhole *s);
/* Without sockets or a thread (fuzz/fuzz_sinkhole.c): feed n bytes to one
 * TCP session to dport (53: DNS over TCP; other ports: the protocol is told
 * from the first bytes), chunk bytes at a time (0: all at once), as if they
 * came from the sandbox; its answers are read back and dropped.  transcript
 * (may be NULL) receives the session's transcript and is closed.  Returns
 * what det_sinkhole_record() would (new reference; NULL when out of memory). */
json_t *det_sinkhole_feed(unsigned dport, const unsigned char *p, size_t n, size_t chunk, FILE *transcript);

/* ---- the sinkhole's DNS (lib/sinkhole_dns.c) ---- */
#define DET_DNS_MAX_LABELS 127
#define DET_DNS_RECORDED 5000 /* queries listed one by one in the report */
typedef struct det_dns_query {
	uint16_t id, flags, qdcount, qtype, qclass;
	char name[256];          /* the first question's name, raw bytes, labels joined by '.' */
	size_t name_len;
	unsigned nlabels;
	uint16_t label_off[DET_DNS_MAX_LABELS];
	uint8_t label_len[DET_DNS_MAX_LABELS];
	size_t qend;             /* offset after the first question */
} det_dns_query;
/* 0, or -1 when msg is not a well-formed query. */
int det_dns_parse(const unsigned char *msg, size_t len, det_dns_query *q);
/* The answer to a parsed query (length, 0 when it does not fit in cap);
 * text receives what was answered ("A 198.18.0.1"). */
size_t det_dns_answer(const unsigned char *msg, size_t len, const det_dns_query *q, unsigned char *out, size_t cap,
		      char *text, size_t textcap);
/* FORMERR for a message that has a query header (0 when not even that). */
size_t det_dns_formerr(const unsigned char *msg, size_t len, unsigned char *out, size_t cap);
const char *det_dns_type_name(unsigned qtype);

/* ---- packet capture (lib/pcap_capture.c) ---- */
typedef struct det_pcap det_pcap;
/* Open the "any" device; must run in the sandbox's network namespace. */
kcsi_code det_pcap_open(det_pcap **out, const char *path, kcsi_error *err);
kcsi_code det_pcap_start(det_pcap *p, kcsi_error *err);
/* Stop, flush and close; stores packet counts. */
void det_pcap_stop(det_pcap *p, uint64_t *packets, uint64_t *dropped);
void det_pcap_free(det_pcap *p);

/* ---- eBPF activity tracer (lib/bpf_trace.c) ---- */
typedef struct det_trace det_trace;
/* Load and attach; events are kept only from tasks in network namespace
 * netns_ino and outside the host's pid namespace, and written as JSON lines to
 * path.  Returns KCSI_ERR_UNSUPPORTED with the reason when eBPF cannot load. */
kcsi_code det_trace_open(det_trace **out, const char *path, uint64_t netns_ino, double wall0, kcsi_error *err);
/* Everything before this moment belongs to the restore itself. */
void det_trace_mark_running(det_trace *t, double wall);
void det_trace_stop(det_trace *t, uint64_t *events, uint64_t *lost);
void det_trace_free(det_trace *t);

/* ---- report (report.c): findings and IOCs in the finding model of
 * lib/evidence/finding.h, written in the detonation report's layout ---- */
typedef struct det_facts {
	const char *archive, *archive_sha256, *container, *image, *layout, *netns;
	double started_wall, restored_wall, ended_wall, restore_s, run_s;
	const char *end_reason;
	unsigned duration_s, cpu_percent, pids_max;
	uint64_t memory_bytes;
	double cpu_seconds;        /* CPU time used by the restored container */
	uint64_t memory_peak;
	unsigned pids_peak;
	json_t *cpu_samples;       /* [{t, cpu_percent}] */
	json_t *sinkhole;          /* det_sinkhole_record() */
	json_t *fs_changes;        /* podman diff: [{kind, path}] */
	const char *activity_path; /* NULL when no eBPF log */
	const char *bpf_error;
	uint64_t packets, packets_dropped, events, events_lost;
	json_t *restored_processes; /* [{host_pid, pid, comm, cmdline}] right after restore */
	json_t *final_processes;    /* the same at the end of the run */
	json_t *confinement;        /* det_confine_report() */
	json_t *restore;            /* {strategy, changes, attempts [{strategy, result, reason}]} */
	json_t *failure;            /* {stage, reason} when the run failed */
	json_t *mounts_seen;        /* [{mountpoint, type, options}] of the restored init process */
	/* borrowed */
	json_t *checkpointed_processes; /* [{pid, ppid, comm, exe}] of the checkpoint */
	json_t *addresses_added;    /* addresses of the checkpoint put on sink0 */
	json_t *warnings;
} det_facts;

/* Free what the facts own. */
void det_facts_free(det_facts *f);
/* Write DIR/report.json and DIR/manifest.json; *nfindings: how many findings
 * the report holds. */
kcsi_code det_write_report(const char *dir, const det_facts *f, unsigned *nfindings, kcsi_error *err);

#endif
