/* kcsi — hunt: indicators of compromise matched against everything a
 * checkpoint holds, in one pass.
 *
 * An indicator set is read from plain lines (one indicator a line, typed by
 * its shape or by a `type:` prefix), STIX 2.1 bundles (indicator patterns)
 * and MISP events (attributes) — the formats `kcsi analyze` exports.  It is
 * compiled once into one Hyperscan database of every byte form of every
 * indicator (text, UTF-16LE, and a domain's DNS wire form); regular
 * expressions that Hyperscan cannot take go to PCRE2.  kcsi_hunt() then walks
 * the checkpoint once: process memory (and the shared memory it maps), TCP
 * queues, ghost files, memfd contents, the rootfs diff and /dev/shm files,
 * the sockets' endpoints, and the hashes of the file objects; every hit is
 * handed to the caller with where it was found.  Nothing is copied from the
 * archive; memory stays flat whatever the number of hits.
 */
#ifndef KCSI_HUNT_H
#define KCSI_HUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kcsi/ckpt.h"
#include "kcsi/error.h"

typedef struct kcsi_iocset kcsi_iocset;

kcsi_code kcsi_iocset_new(kcsi_iocset **out, kcsi_error *err);
void kcsi_iocset_free(kcsi_iocset *s);
/* Add one indicator given as text ("198.51.100.7", "evil.example",
 * "sha256:...", "hex:deadbeef", "regex:/x+y/i", "literal:text"); feed names
 * where it came from. */
kcsi_code kcsi_iocset_add(kcsi_iocset *s, const char *text, const char *feed, kcsi_error *err);
/* Add every indicator of a file: a STIX 2.1 bundle, a MISP event (or list
 * of attributes) or plain lines (# comments), told apart by content. */
kcsi_code kcsi_iocset_load(kcsi_iocset *s, const char *path, kcsi_error *err);
/* Compile; after this the set is read-only and may be shared by threads. */
kcsi_code kcsi_iocset_compile(kcsi_iocset *s, kcsi_error *err);
size_t kcsi_iocset_count(const kcsi_iocset *s);
/* Counts by type, as "ipv4 3, domain 2, ..." (for messages). */
const char *kcsi_iocset_summary(kcsi_iocset *s);

/* Is VALUE (of TYPE as analyze names IOC types: ipv4, domain, url, sha256,
 * ...) an indicator of the set, typed so or as a literal?  For indexes
 * that hold values, not bytes. */
bool kcsi_iocset_find(const kcsi_iocset *s, const char *type, const char *value, const char **indicator,
		      const char **feed, const char **ref);

typedef struct kcsi_hit {
	const char *indicator;   /* as given */
	const char *type;        /* "ipv4", "domain", "url", "email", "sha256", "hex", "regex", "literal", ... */
	const char *feed;        /* the file (or "-e") it came from */
	const char *ref;         /* its id in the feed (STIX id, MISP uuid), or NULL */
	const char *source;      /* "memory", "queue", "ghost", "memfd", "rootfs", "devshm", "socket", "hash" */
	const char *encoding;    /* how it was found: "text", "utf16le", "dns-wire", "bytes", "endpoint", "digest" */
	int64_t pid, fd;         /* -1 when none */
	const char *comm;        /* of pid */
	bool has_address;
	uint64_t address;        /* memory: the virtual address of the first byte */
	const char *area;        /* memory: the area holding it (path, heap, stack, anon, /memfd:...) */
	bool has_offset;
	uint64_t offset;         /* objects: the offset of the first byte */
	const char *path;        /* objects: the file, or the connection of a queue or socket */
	const char *direction;   /* queues: "recv" or "send" */
	const unsigned char *context; /* bytes around the hit (at most 64 either side) */
	size_t context_len, match_at, match_len;
} kcsi_hit;

/* Return non-zero to stop the hunt (kcsi_hunt then returns KCSI_OK). */
typedef int (*kcsi_hit_cb)(void *ctx, const kcsi_hit *h);

typedef struct kcsi_hunt_stats {
	uint64_t bytes_memory, bytes_objects, objects, hits;
} kcsi_hunt_stats;

/* threads: how many threads share the scanning of large memory windows
 * (1: the calling thread alone).  The callback may be called from several
 * threads at once: it serialises what it needs to. */
kcsi_code kcsi_hunt(kcsi_ckpt *c, const kcsi_iocset *s, unsigned threads, kcsi_hit_cb cb, void *ctx,
		    kcsi_hunt_stats *stats, kcsi_error *err);

#endif
