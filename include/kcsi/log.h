/* kcsi — the log of the long-running parts (respond, collect, detonate's
 * progress): one record per event, written as one JSON line
 *
 *   {"time": "2026-03-04T10:15:01.123456Z", "level": "info",
 *    "component": "respond", "msg": "alert refused", FIELD: VALUE, ...}
 *
 * (compact, keys in that order, the fields in the order given).  The library
 * never prints: the front end makes the log, on a stream or on a function of
 * its own, and hands it to the part that logs.  A log is safe to use from
 * several threads (records are written whole, one at a time). */
#ifndef KCSI_LOG_H
#define KCSI_LOG_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "kcsi/error.h"

typedef enum kcsi_log_level {
	KCSI_LOG_DEBUG = 0,
	KCSI_LOG_INFO,
	KCSI_LOG_WARNING,
	KCSI_LOG_ERROR,
} kcsi_log_level;

typedef struct kcsi_log kcsi_log;

/* One record as a function sink gets it (valid during the call only). */
typedef struct kcsi_log_record {
	const char *time;       /* RFC 3339, microseconds */
	kcsi_log_level level;
	const char *component;
	const char *msg;
	const json_t *fields;   /* an object (possibly empty) */
	const char *line;       /* the whole record as its JSON line, without the newline */
} kcsi_log_record;
typedef void (*kcsi_log_fn)(void *ctx, const kcsi_log_record *rec);

/* Lines to f (flushed after each); with own, f is closed by kcsi_log_close. */
kcsi_log *kcsi_log_stream(FILE *f, bool own);
/* Lines appended to the file at path (made 0600 when new). */
kcsi_log *kcsi_log_open(const char *path, kcsi_error *err);
/* Records to fn. */
kcsi_log *kcsi_log_func(kcsi_log_fn fn, void *ctx);
void kcsi_log_close(kcsi_log *l);

/* Records below min are dropped (default: none). */
void kcsi_log_set_level(kcsi_log *l, kcsi_log_level min);
bool kcsi_log_wants(const kcsi_log *l, kcsi_log_level level);
const char *kcsi_log_level_name(kcsi_log_level level); /* "debug", "info", "warning", "error" */

/* A record; after msg come ("key", json_t *value) pairs ending with NULL.
 * The values are stolen (a NULL value is written as null).  A NULL log
 * drops the record. */
void kcsi_log_write(kcsi_log *l, kcsi_log_level level, const char *component, const char *msg, ...);
void kcsi_log_vwrite(kcsi_log *l, kcsi_log_level level, const char *component, const char *msg, va_list ap);
/* The same with the fields as an object (stolen; NULL: none). */
void kcsi_log_fields(kcsi_log *l, kcsi_log_level level, const char *component, const char *msg, json_t *fields);

#endif
