/* kcsi — running another program: argv (no shell), a time-out, optionally
 * in a network namespace and a process group of its own, its output kept in
 * bounded buffers and/or a file.  The one way the library starts programs
 * (hooks, podman, ip, nft, kcsi analyze). */
#ifndef KCSI_SPAWN_H
#define KCSI_SPAWN_H
#ifndef KCSI_INTERNAL
#error "spawn.h is private to libkcsi"
#endif

#include <signal.h>
#include <stdbool.h>

#include "kcsi/error.h"
#include "base/buf.h"

typedef struct kcsi_spawn_opts {
	const char *const *argv;  /* argv[0] is looked up on PATH unless `file` is given */
	const char *file;         /* the program to run (e.g. /proc/self/exe), or NULL */
	double timeout_s;         /* killed (SIGKILL) after this long; <= 0: no time-out */
	/* > 0 while the caller wants the child stopped (e.g. a signal handler's
	 * flag): then it is killed as at the time-out */
	const volatile sig_atomic_t *cancel;
	int netns_fd;             /* > 0: the child joins this network namespace first */
	bool own_group;           /* a process group of its own: a terminal's Ctrl-C does
				   * not reach it, and the time-out kills the whole group */
	/* where output goes that is not captured: appended to this file (made
	 * 0600), truncated first with log_truncate; NULL: /dev/null */
	const char *log_path;
	bool log_truncate;
	kcsi_buf *out;            /* stdout kept here up to out->max; the rest is read and dropped */
	kcsi_buf *err_out;        /* stderr kept here (else it goes where stdout's leftovers go) */
} kcsi_spawn_opts;

typedef struct kcsi_spawn_result {
	bool exited;       /* it ended by exit(): status holds the code */
	int status;        /* exit code, or 128 + the signal that ended it */
	int signal;        /* the signal that ended it, 0 */
	bool timed_out;    /* killed at the time-out */
	bool cancelled;    /* killed because *cancel was set */
	bool truncated;    /* out or err_out reached its bound */
	double seconds;    /* how long it ran */
} kcsi_spawn_result;

/* 0 when the program ran (whatever its status: see *res; a program that
 * cannot be executed exits 127 with "cannot run ARGV0: REASON" on its
 * stderr, and 126 when the namespace cannot be joined); an error when no
 * process could be made. stdin is /dev/null; signals are unblocked and
 * SIGINT, SIGTERM, SIGHUP and SIGPIPE at their defaults in the child. */
kcsi_code kcsi_spawn(const kcsi_spawn_opts *o, kcsi_spawn_result *res, kcsi_error *err);

/* exit 0 and not killed */
static inline bool kcsi_spawn_ok(const kcsi_spawn_result *r)
{
	return r->exited && r->status == 0 && !r->timed_out && !r->cancelled;
}

#endif
