/* kcsi — the content rules' shared parts (rules_content.c, rules_creds.c,
 * memory_pass.c, rules_strings.c): what a content rule is shown, and what
 * the content rules gather per process until the summary.
 *
 * A content rule is written once and sees every evidence source: process
 * memory (the memory pass, window by window), TCP queues, ghost files,
 * memfds, the rootfs diff, /dev/shm and the other tmpfs mounts
 * (include/kcsi/sources.h).  Each piece of content comes as an az_content:
 * where it is (kind, path, pid, fd, address) and its bytes. */
#ifndef KCSI_TRIAGE_CONTENT_H
#define KCSI_TRIAGE_CONTENT_H
#ifndef KCSI_INTERNAL
#error "triage/content.h is private to libkcsi"
/* rules_files.c: the rules on a file's content — programs (sha256, where
 * they are, who runs them), persistence files; and staged data found in a
 * file (AZ_ST_* kinds, where each was seen, an archive's member, which
 * credential file). */
void az_file_rules(az *a, const az_content *c);
void az_file_staged(az *a, const az_content *c, unsigned kinds, const size_t at[5], const char *member,
		    const char *credfile);

#endif

#include "evidence/secrets.h"
#include "triage/analyze_int.h"

/* Where a piece of content is. */
enum az_content_kind {
	AZ_C_MEMORY,  /* a window of a process's memory */
	AZ_C_QUEUE,   /* a TCP socket's queued bytes */
	AZ_C_GHOST,   /* a file deleted while open, kept by CRIU */
	AZ_C_MEMFD,   /* a memfd's content */
	AZ_C_ROOTFS,  /* a file of the rootfs diff */
	AZ_C_DEVSHM,  /* a file of /dev/shm (podman's copy) */
	AZ_C_TMPFS,   /* a file of a tmpfs mount CRIU dumped */
};

typedef struct az_content {
	enum az_content_kind kind;
	const char *origin;      /* as evidence names it: memory, tcp-queue, ghost-file, memfd, rootfs-diff, devshm, tmpfs */
	const char *path;        /* a file's path, a queue's connection; NULL for memory */
	bool send;               /* a send queue */
	int64_t pid, fd;         /* a process that holds it (-1: none) */
	uint64_t addr;           /* memory: address of p[0] */
	uint32_t mode;           /* files: st_mode bits when known */
	const unsigned char *p;
	size_t n;
	size_t from, to;         /* memory: only what starts in [from, to) counts (windows overlap) */
	/* memory: the runs of text in p (AZ_TEXT_RUN_MIN bytes or more), where
	 * every text detector looks; NULL: look at all of p */
	const struct az_text_run *runs;
	size_t nruns;
} az_content;

/* A run of text (printable ASCII, tab, CR, LF) in a window of memory.  The
 * detectors' needles, secrets and signatures are all text of this length
 * or more, so nothing they find lies outside the runs; most of memory is
 * not text, and looking at runs alone spares a pass per needle over it. */
#define AZ_TEXT_RUN_MIN 5
typedef struct az_text_run {
	size_t off, len;
} az_text_run;

/* Kinds of data staged for theft. */
enum az_staged {
	AZ_ST_PASSWD = 1,        /* an account list (/etc/passwd format) */
	AZ_ST_SHADOW = 2,        /* password hashes (/etc/shadow format) */
	AZ_ST_ARCHIVE = 4,       /* a tar archive holding /etc, /root, keys or credentials */
	AZ_ST_KEY = 8,           /* a private key */
	AZ_ST_CREDFILE = 16,     /* a cloud or cluster credential file */
};

/* Credential files recognised by their content. */
enum az_credfile {
	AZ_CF_AWS = 1,           /* ~/.aws/credentials */
	AZ_CF_GCP_SA = 2,        /* a GCP service-account key (JSON) */
	AZ_CF_GCLOUD_ADC = 4,    /* gcloud application-default credentials (refresh token) */
	AZ_CF_KUBECONFIG = 8,    /* a kubeconfig with a user's key or token */
	AZ_CF_DOCKER = 16,       /* a docker config with registry auths */
	AZ_CF_AZURE = 32,        /* an Azure CLI token cache or service-principal secret */
	AZ_CF_SA_PATH = 64,      /* the service-account token's path (text) */
	AZ_CF_N = 7,
};

#define AZ_SECRETS_KEPT 24

/* A secret seen in a process (memory or its queues), kept once per value. */
typedef struct az_secret_seen {
	const kcsi_secret_format *fmt;
	uint64_t hash;            /* of the value */
	char masked[96];
	bool validated;           /* its format's check passed (checksum, decoding) */
	bool own_env;             /* the value is in the process's own environment */
	bool in_send_queue;       /* seen in a send queue of the process */
	bool bare;                /* in a send queue outside an authentication header */
	kcsi_evidence ev;
} az_secret_seen;

/* What the content rules gathered for one process. */
typedef struct az_content_proc {
	uint32_t pid;
	az_secret_seen secrets[AZ_SECRETS_KEPT];
	size_t nsecrets;
	unsigned credfiles;       /* AZ_CF_* seen in its memory or queues */
	kcsi_evidence credfile_ev[AZ_CF_N];
	unsigned staged;          /* AZ_ST_* seen in its memory or queues */
	kcsi_evidence staged_ev[5];
	uint64_t *env_hashes;     /* hashes of the secrets of its own environment */
	size_t nenv;
} az_content_proc;

struct az_content_state {
	az_content_proc *procs;   /* one per process, in kcsi_ckpt_proc order */
	size_t nprocs;
	uint32_t workload_sid;    /* the session of pid 1 (the container's entrypoint) */
};

/* rules_content.c: set up before the memory pass, freed by the last
 * summary family (az_family_credentials) or by az_content_free. */
kcsi_code az_content_init(az *a, kcsi_error *err);
void az_content_free(az *a);
/* The content rules on one piece of content (memory windows, queues, files). */
void az_content_rules(az *a, const az_content *c);
/* The memory pass hands each window here. */
/* A window of memory and its runs of text (AZ_TEXT_RUN_MIN bytes or more;
 * runs NULL: look at all of the window). */
void az_content_window(az *a, const kcsi_window *w, const az_text_run *runs, size_t nruns);
/* "AWS credentials file" ... for an AZ_CF_* bit */
const char *az_credfile_name(unsigned bit);
/* What the content rules gathered for pid, or NULL. */
az_content_proc *az_content_proc_of(az *a, int64_t pid);
/* Is the process foreign to the workload: run into the container later
 * (kubectl/podman exec: another session than the entrypoint's)? */
bool az_is_outsider(az *a, const kcsi_proc *p);
/* An evidence item of f copied from e (kept by the gatherings). */
void az_evidence_from(kcsi_finding *f, const kcsi_evidence *e);
/* 64-bit FNV-1a of bytes (values compared without keeping them). */
uint64_t az_hash(const void *p, size_t n);

/* rules_files.c: the rules on a file's content — programs (sha256, where
 * they are, who runs them), persistence files; and staged data found in a
 * file (AZ_ST_* kinds, where each was seen, an archive's member, which
 * credential file). */
void az_file_rules(az *a, const az_content *c);
void az_file_staged(az *a, const az_content *c, unsigned kinds, const size_t at[5], const char *member,
		    const char *credfile);

#endif
