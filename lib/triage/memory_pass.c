/* kcsi — the one pass over all process memory: each window of memory
 * (kcsi_walk_memory) is handed to the string scanners and the content rules
 * here and to YARA on a second, long-lived thread, all on the same bytes (one
 * pass, two cores).
 *
 * The two threads share the analysis: the YARA thread makes findings
 * (rules_yara.c), the string scanners add IOCs and gather per process
 * (rules_strings.c), the content rules gather per process
 * (rules_content.c); neither side touches what the other does. */
#include <pthread.h>
#include <stdlib.h>

#include "triage/content.h"
#include "triage/netdata.h"

/* The YARA thread: started once for the pass and handed each window in
 * turn (a thread per window cost a clone and a join per 4 MiB: thousands on
 * a checkpoint of many processes). */
enum lane_state { LANE_IDLE, LANE_WORK, LANE_QUIT };

struct yara_lane {
	az *a;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const kcsi_window *w;   /* the window to scan (LANE_WORK) */
	enum lane_state state;
	bool running;
};

static void *yara_lane_main(void *arg)
{
	struct yara_lane *l = arg;
	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (l->state == LANE_IDLE)
			pthread_cond_wait(&l->cv, &l->mu);
		if (l->state == LANE_QUIT)
			break;
		const kcsi_window *w = l->w;
		pthread_mutex_unlock(&l->mu);
		kcsi_error err;
		kcsi_error_clear(&err);
		kcsi_yara_scan(l->a->yara, w->p, w->len, az_on_yara, l->a, &err);
		pthread_mutex_lock(&l->mu);
		l->state = LANE_IDLE;
		pthread_cond_broadcast(&l->cv);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

static void lane_post(struct yara_lane *l, const kcsi_window *w)
{
	pthread_mutex_lock(&l->mu);
	l->w = w;
	l->state = LANE_WORK;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

static void lane_wait(struct yara_lane *l)
{
	pthread_mutex_lock(&l->mu);
	while (l->state == LANE_WORK)
		pthread_cond_wait(&l->cv, &l->mu);
	pthread_mutex_unlock(&l->mu);
}

struct pass {
	az *a;
	struct yara_lane lane;
	az_text_run *runs;      /* the window's runs of text */
	size_t nruns, cap;
	bool runs_ok;           /* false: out of memory, the scanners look at all of the window */
};

static void add_run(void *ctx, size_t off, size_t len)
{
	struct pass *ps = ctx;
	if (!ps->runs_ok)
		return;
	if (ps->nruns == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 1024;
		az_text_run *r = realloc(ps->runs, cap * sizeof(*r));
		if (!r) {
			ps->runs_ok = false;
			return;
		}
		ps->runs = r;
		ps->cap = cap;
	}
	ps->runs[ps->nruns++] = (az_text_run){off, len};
}

/* The strings of a window, run by run of text: a string (printable, tab,
 * MIN_STR or more) lies inside a run of text, and the bytes between runs are
 * never looked at again. */
static void window_strings(az *a, const kcsi_window *w, const struct pass *ps)
{
	size_t from = (size_t)(w->from - w->addr), to = (size_t)(w->to - w->addr);
	if (!ps->runs_ok) {
		az_strings_of(a, "memory", w->pid, -1, w->addr, true, NULL, w->p, w->len, from, to, 1);
		return;
	}
	for (size_t r = 0; r < ps->nruns; r++) {
		size_t off = ps->runs[r].off;
		if (off >= to)
			break;
		az_strings_of(a, "memory", w->pid, -1, w->addr + off, true, NULL, w->p + off, ps->runs[r].len,
			      from > off ? from - off : 0, to - off, 1);
	}
}

static int on_window(void *ctx, const kcsi_window *w)
{
	struct pass *ps = ctx;
	az *a = ps->a;

	a->r->bytes_scanned += w->to - w->from;
	if (a->yara) {
		a->target = (az_scan_target){w->pid, NULL, w->addr, w->from, w->to, w->cross};
		if (ps->lane.running) {
			lane_post(&ps->lane, w);
		} else {
			kcsi_error err;
			kcsi_error_clear(&err);
			kcsi_yara_scan(a->yara, w->p, w->len, az_on_yara, a, &err);
		}
	}
	ps->nruns = 0;
	ps->runs_ok = true;
	az_text_runs(w->p, w->len, w->len, AZ_TEXT_RUN_MIN, add_run, ps);
	window_strings(a, w, ps);
	az_content_window(a, w, ps->runs_ok ? ps->runs : NULL, ps->nruns);
	if (a->yara && ps->lane.running)
		lane_wait(&ps->lane); /* the window is valid during this call only */
	return 0;
}

/* The content rules' gatherings live from here to the last summary family
 * (az_family_credentials frees them); a failed pass frees them at once. */
kcsi_code az_memory_pass(az *a, kcsi_error *err)
{
	struct pass ps = {.a = a};
	kcsi_code rc = az_content_init(a, err);
	ps.lane.a = a;
	pthread_mutex_init(&ps.lane.mu, NULL);
	pthread_cond_init(&ps.lane.cv, NULL);
	if (a->yara)
		ps.lane.running = pthread_create(&ps.lane.th, NULL, yara_lane_main, &ps.lane) == 0;
	if (rc == KCSI_OK)
		rc = kcsi_walk_memory(a->c, 0, on_window, &ps, err);
	if (ps.lane.running) {
		pthread_mutex_lock(&ps.lane.mu);
		ps.lane.state = LANE_QUIT;
		pthread_cond_broadcast(&ps.lane.cv);
		pthread_mutex_unlock(&ps.lane.mu);
		pthread_join(ps.lane.th, NULL);
	}
	free(ps.runs);
	pthread_cond_destroy(&ps.lane.cv);
	pthread_mutex_destroy(&ps.lane.mu);
	if (rc != KCSI_OK)
		az_content_free(a);
	return rc;
}
