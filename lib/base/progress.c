/* kcsi — the progress meter (include/kcsi/progress.h): relaxed atomics, no
 * lock; a reader may see a phase's name with the previous phase's count for
 * one read, which a bar redrawn a few times a second does not show. */
#include <stdatomic.h>
#include <stddef.h>

#include "kcsi/progress.h"

static const char *_Atomic phase_what;
static _Atomic uint64_t phase_total, phase_done;
static _Atomic unsigned phase_gen;

void kcsi_progress_phase(const char *what, uint64_t total)
{
	atomic_store_explicit(&phase_done, 0, memory_order_relaxed);
	atomic_store_explicit(&phase_total, total, memory_order_relaxed);
	atomic_store_explicit(&phase_what, what, memory_order_release);
	atomic_fetch_add_explicit(&phase_gen, 1, memory_order_relaxed);
}

void kcsi_progress_add(uint64_t bytes)
{
	atomic_fetch_add_explicit(&phase_done, bytes, memory_order_relaxed);
}

void kcsi_progress_set(uint64_t done)
{
	atomic_store_explicit(&phase_done, done, memory_order_relaxed);
}

void kcsi_progress_done(void)
{
	atomic_store_explicit(&phase_what, NULL, memory_order_release);
}

void kcsi_progress_read(kcsi_progress_state *s)
{
	s->what = atomic_load_explicit(&phase_what, memory_order_acquire);
	s->total = atomic_load_explicit(&phase_total, memory_order_relaxed);
	s->done = atomic_load_explicit(&phase_done, memory_order_relaxed);
	s->phase = atomic_load_explicit(&phase_gen, memory_order_relaxed);
}
