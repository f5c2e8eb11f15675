/* kcsi — the one pass over all process memory: each window of memory
 * (kcsi_walk_memory) is handed to the string scanners here and to YARA on a
 * second thread, both on the same bytes (one pass, two cores).
 *
 * The two threads share the analysis: the YARA thread makes findings
 * (rules_yara.c), the string scanners add IOCs and gather per process
 * (rules_strings.c); neither touches what the other does. */
#include <pthread.h>

#include "triage/analyze_int.h"

struct yjob {
	az *a;
	const kcsi_window *w;
};

static void *yara_worker(void *arg)
{
	struct yjob *j = arg;
	kcsi_error err;
	kcsi_error_clear(&err);
	kcsi_yara_scan(j->a->yara, j->w->p, j->w->len, az_on_yara, j->a, &err);
	return NULL;
}

static int on_window(void *ctx, const kcsi_window *w)
{
	az *a = ctx;
	pthread_t th;
	struct yjob job = {a, w};
	bool threaded = false;

	a->r->bytes_scanned += w->to - w->from;
	if (a->yara) {
		a->target = (az_scan_target){w->pid, NULL, w->addr, w->from, w->to, w->cross};
		threaded = pthread_create(&th, NULL, yara_worker, &job) == 0;
		if (!threaded)
			yara_worker(&job);
	}
	az_strings_of(a, "memory", w->pid, -1, w->addr, true, NULL, w->p, w->len, (size_t)(w->from - w->addr),
		      (size_t)(w->to - w->addr), 1);
	if (threaded)
		pthread_join(th, NULL);
	return 0;
}

kcsi_code az_memory_pass(az *a, kcsi_error *err)
{
	return kcsi_walk_memory(a->c, 0, on_window, a, err);
}
