/* kcsi — the progress bar: on stderr, only when it is a terminal, never with
 * --json/--ndjson, --quiet (-q) or KCSI_QUIET; shown once work has taken a
 * second (KCSI_PROGRESS_DELAY, milliseconds, changes that), redrawn a few
 * times a second from the library's meter (kcsi/progress.h): what is being
 * done, a bar, bytes done of the total, rate and time left.  Erased when
 * the command ends, so what it prints is as without it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "kcsi/progress.h"

static pthread_t drawer;
static atomic_bool running;
static bool drawn;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void draw(const kcsi_progress_state *s, double rate)
{
	char done[32], total[32], line[256];
	int n;
	human_size(s->done, done, sizeof(done));
	if (s->total && s->done <= s->total) {
		int pct = (int)(100.0 * (double)s->done / (double)s->total), fill = pct / 5;
		char bar[21];
		memset(bar, '#', (size_t)fill);
		memset(bar + fill, '.', (size_t)(20 - fill));
		bar[20] = '\0';
		human_size(s->total, total, sizeof(total));
		n = snprintf(line, sizeof(line), "%s [%s] %3d%% %s of %s", s->what, bar, pct, done, total);
		if (rate > 0)
			n += snprintf(line + n, sizeof(line) - (size_t)n, ", %.0f MB/s, %.0f s left", rate / 1e6,
				      (double)(s->total - s->done) / rate);
	} else {
		n = snprintf(line, sizeof(line), "%s: %s", s->what, done);
		if (rate > 0)
			n += snprintf(line + n, sizeof(line) - (size_t)n, ", %.0f MB/s", rate / 1e6);
	}
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
	drawn = true;
}

static void *draw_loop(void *arg)
{
	double delay = *(double *)arg, start = now_s(), last_t = start;
	uint64_t last_done = 0;
	unsigned last_phase = 0;
	double rate = 0;
	while (atomic_load(&running)) {
		kcsi_progress_state s;
		usleep(100000);
		kcsi_progress_read(&s);
		double t = now_s();
		if (s.phase != last_phase) {
			last_phase = s.phase;
			last_done = 0;
			last_t = t;
			rate = 0;
		} else if (t - last_t >= 0.5) {
			double r = (double)(s.done - last_done) / (t - last_t);
			rate = rate > 0 ? 0.5 * rate + 0.5 * r : r;
			last_done = s.done;
			last_t = t;
		}
		if (!s.what) {
			if (drawn) {
				fputs("\r\033[K", stderr);
				drawn = false;
			}
			continue;
		}
		if (t - start >= delay)
			draw(&s, rate);
	}
	return NULL;
}

static void progress_stop(void)
{
	if (!atomic_exchange(&running, false))
		return;
	pthread_join(drawer, NULL);
	if (drawn)
		fputs("\r\033[K", stderr);
}

void progress_start(int *argc, char **argv)
{
	static double delay = 1.0;
	bool quiet = getenv("KCSI_QUIET") != NULL, json = false;
	int o = 1;
	/* --quiet / -q, anywhere: taken out before the command sees its options */
	for (int i = 1; i < *argc; i++) {
		if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
			quiet = true;
			continue;
		}
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j") || !strcmp(argv[i], "--ndjson") ||
		    !strncmp(argv[i], "--format=json", 13))
			json = true;
		argv[o++] = argv[i];
	}
	argv[o] = NULL;
	*argc = o;
	if (quiet || json || !isatty(STDERR_FILENO))
		return;
	if (getenv("KCSI_PROGRESS_DELAY"))
		delay = atof(getenv("KCSI_PROGRESS_DELAY")) / 1000.0;
	atomic_store(&running, true);
	if (pthread_create(&drawer, NULL, draw_loop, &delay) != 0) {
		atomic_store(&running, false);
		return;
	}
	atexit(progress_stop);
}
