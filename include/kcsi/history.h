/* kcsi — shell history recovered from the memory of bash processes.
 *
 * Interactive bash keeps its history as an array of entries {line,
 * timestamp, data}; readline gives every entry a timestamp string "#EPOCH"
 * whether or not HISTTIMEFORMAT is set.  kcsi finds those timestamp strings
 * in the process's writable memory, then the entries that point at them,
 * then the command lines the entries point at — the commands typed into a
 * reverse shell, with the second they were entered.  Entries whose
 * timestamp was freed or overwritten are not found; sh and dash keep no
 * history.
 */
#ifndef KCSI_HISTORY_H
#define KCSI_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "kcsi/ckpt.h"
#include "kcsi/error.h"

typedef struct kcsi_history_entry {
	uint32_t pid;
	int64_t time;        /* seconds since the epoch (from "#EPOCH") */
	char *command;       /* as bash keeps it (may hold newlines) */
	uint64_t entry;      /* address of the history entry */
	uint64_t line;       /* address of the command line */
} kcsi_history_entry;

/* The history of pid (0: of every bash process), by time then address.
 * Free with kcsi_history_free(). */
kcsi_code kcsi_history(kcsi_ckpt *c, uint32_t pid, kcsi_history_entry **out, size_t *n, kcsi_error *err);
void kcsi_history_free(kcsi_history_entry *v, size_t n);

#endif
