/* kcsi — the progress meter (include/kcsi/progress.h): relaxed atomics, no
 * lock; a reader may see a phase's name with the previous phase's count for
 * one read, which a bar redrawn a few times a second does not show. */
#include <stddef.h>

#include "kcsi/progress.h"

static const char *_Atomic phase_what;
static _Atomic uint64_t phase_total, phase_done;
static _Atomic unsigned phase_gen;

void kcsi_progress_phase(const char *what, uint64_t total)
{
	__atomic_store_n(&phase_done, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&phase_total, total, __ATOMIC_RELAXED);
	__atomic_store_n(&phase_what, what, __ATOMIC_RELEASE);
	__atomic_fetch_add(&phase_gen, 1, __ATOMIC_RELAXED);
}

void kcsi_progress_add(uint64_t bytes)
{
	__atomic_fetch_add(&phase_done, bytes, __ATOMIC_RELAXED);
}

void kcsi_progress_set(uint64_t done)
{
	__atomic_store_n(&phase_done, done, __ATOMIC_RELAXED);
}

void kcsi_progress_done(void)
{
	__atomic_store_n(&phase_what, NULL, __ATOMIC_RELEASE);
}

void kcsi_progress_read(kcsi_progress_state *s)
{
	s->what = __atomic_load_n(&phase_what, __ATOMIC_ACQUIRE);
	s->total = __atomic_load_n(&phase_total, __ATOMIC_RELAXED);
	s->done = __atomic_load_n(&phase_done, __ATOMIC_RELAXED);
	s->phase = __atomic_load_n(&phase_gen, __ATOMIC_RELAXED);
}
