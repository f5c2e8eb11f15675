/* kcsi — the one pass over all process memory: each window of memory
 * (kcsi_walk_memory) is handed to the string scanners and the content rules
 * here and to YARA on a second thread, all on the same bytes (one pass, two
 * cores).
 *
 * The two threads share the analysis: the YARA thread makes findings
 * (rules_yara.c), the string scanners add IOCs and gather per process
 * (rules_strings.c), the content rules gather per process
 * (rules_content.c); neither side touches what the other does. */
#include <pthread.h>

#include "triage/content.h"

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
	az_content_window(a, w);
	if (threaded)
		pthread_join(th, NULL);
	return 0;
}

/* The content rules' gatherings live from here to the last summary family
 * (az_family_credentials frees them); a failed pass frees them at once. */
kcsi_code az_memory_pass(az *a, kcsi_error *err)
{
	kcsi_code rc = az_content_init(a, err);
	if (rc == KCSI_OK)
		rc = kcsi_walk_memory(a->c, 0, on_window, a, err);
	if (rc != KCSI_OK)
		az_content_free(a);
	return rc;
}
