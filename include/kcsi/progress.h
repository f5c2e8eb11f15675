/* kcsi — progress of long work, for a front end to show.
 *
 * The library never prints; where it does long work (reading a compressed
 * archive, walking process memory, storing and reading evidence) it counts
 * into one process-wide meter: a phase (what is being done, and how many
 * bytes it will take when known) and the bytes done so far.  Counting is a
 * relaxed atomic add, cheap enough for every window or block.  A front end
 * reads the meter from a thread of its own and draws it (kcsi draws a bar on
 * stderr when it is a terminal).
 */
#ifndef KCSI_PROGRESS_H
#define KCSI_PROGRESS_H

#include <stdint.h>

/* Start a phase: what (a static string), total bytes (0: unknown). */
void kcsi_progress_phase(const char *what, uint64_t total);
void kcsi_progress_add(uint64_t bytes);
void kcsi_progress_set(uint64_t done);
/* The phase is over (the meter shows nothing until the next one). */
void kcsi_progress_done(void);

typedef struct kcsi_progress_state {
	const char *what; /* NULL: no phase */
	uint64_t total, done;
	unsigned phase;   /* changes with every phase */
} kcsi_progress_state;
void kcsi_progress_read(kcsi_progress_state *s);

#endif
