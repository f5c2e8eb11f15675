/* kcsi — running a program with a time-out (see base/spawn.h).
 *
 * The parent polls the pipes it reads and the child's state every few
 * milliseconds: a child that exits is seen at once even when something it
 * started (conmon, a daemon) keeps the pipes open; what is in them then is
 * read without waiting for their end. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/spawn.h"
#include "base/time.h"

#define POLL_MS 5

static void say_child(const char *a, const char *b, const char *c, const char *d)
{
	const char *parts[] = {a, b, c, d, "\n"};
	for (size_t i = 0; i < 5; i++)
		if (write(2, parts[i], strlen(parts[i])) < 0)
			return;
}

/* In the child: never returns. */
static void child(const kcsi_spawn_opts *o, int out_w, int err_w)
{
	static const int defaults[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
	sigset_t none;
	int dn, lf = -1, rest;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		signal(defaults[i], SIG_DFL);
	if (o->own_group)
		setpgid(0, 0);
	if (o->netns_fd > 0 && setns(o->netns_fd, CLONE_NEWNET) < 0)
		_exit(126);
	dn = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (o->log_path)
		lf = open(o->log_path, O_WRONLY | O_CREAT | O_CLOEXEC | (o->log_truncate ? O_TRUNC : O_APPEND), 0600);
	rest = lf >= 0 ? lf : dn;
	if (dn >= 0)
		dup2(dn, 0);
	if (out_w >= 0 || rest >= 0)
		dup2(out_w >= 0 ? out_w : rest, 1);
	if (err_w >= 0 || rest >= 0)
		dup2(err_w >= 0 ? err_w : rest, 2);
	if (o->file)
		execv(o->file, (char *const *)o->argv);
	else
		execvp(o->argv[0], (char *const *)o->argv);
	say_child("cannot run ", o->argv[0], ": ", strerror(errno));
	_exit(127);
}

/* Read what is in the pipe now into b (or drop it when b is full); -1 at
 * its end. */
static int drain(int fd, kcsi_buf *b, bool *truncated)
{
	char chunk[8192];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EINTR ? 0 : errno == EAGAIN ? 0 : -1;
		if (kcsi_buf_add_some(b, chunk, (size_t)n) < (size_t)n)
			*truncated = true;
	}
}

static void close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0) {
			close(p[i]);
			p[i] = -1;
		}
}

static void kill_child(const kcsi_spawn_opts *o, pid_t pid, int *st)
{
	kill(o->own_group ? -pid : pid, SIGKILL);
	while (waitpid(pid, st, 0) < 0 && errno == EINTR)
		;
}

/* Wait for the child, reading its pipes; *st its wait status. */
static void watch(const kcsi_spawn_opts *o, pid_t pid, int po, int pe, kcsi_spawn_result *res, int *st)
{
	uint64_t end = o->timeout_s > 0 ? kcsi_mono_ns() + (uint64_t)(o->timeout_s * 1e9) : 0;
	for (;;) {
		struct pollfd fds[2];
		nfds_t n = 0;
		if (po >= 0)
			fds[n++] = (struct pollfd){po, POLLIN, 0};
		if (pe >= 0)
			fds[n++] = (struct pollfd){pe, POLLIN, 0};
		poll(fds, n, POLL_MS);
		if (po >= 0 && drain(po, o->out, &res->truncated) < 0)
			po = -1; /* at its end: no more polling it (closed by the caller) */
		if (pe >= 0 && drain(pe, o->err_out, &res->truncated) < 0)
			pe = -1;
		pid_t w = waitpid(pid, st, WNOHANG);
		if (w == pid)
			return;
		if (w < 0 && errno != EINTR) {
			*st = -1; /* not ours to wait for (SIGCHLD ignored): gone */
			return;
		}
		if (end && kcsi_mono_ns() > end) {
			res->timed_out = true;
			kill_child(o, pid, st);
			return;
		}
		if (o->cancel && *o->cancel) {
			res->cancelled = true;
			kill_child(o, pid, st);
			return;
		}
	}
}

kcsi_code kcsi_spawn(const kcsi_spawn_opts *o, kcsi_spawn_result *res, kcsi_error *err)
{
	int po[2] = {-1, -1}, pe[2] = {-1, -1}, st = 0;
	uint64_t t0 = kcsi_mono_ns();
	pid_t pid;

	memset(res, 0, sizeof(*res));
	if (!o->argv || !o->argv[0])
		return kcsi_error_set(err, KCSI_ERR_USAGE, "an empty command");
	if ((o->out && pipe2(po, O_CLOEXEC) < 0) || (o->err_out && pipe2(pe, O_CLOEXEC) < 0)) {
		int e = errno;
		close_pair(po);
		close_pair(pe);
		return kcsi_error_set(err, KCSI_ERR_IO, "cannot run %s: pipe: %s", o->argv[0], strerror(e));
	}
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close_pair(po);
		close_pair(pe);
		return kcsi_error_set(err, KCSI_ERR_IO, "cannot run %s: fork: %s", o->argv[0], strerror(e));
	}
	if (pid == 0)
		child(o, po[1], pe[1]);
	if (o->own_group)
		setpgid(pid, pid); /* also here: no race with the kill of a time-out */
	for (int i = 0; i < 2; i++) {
		int *p = i ? pe : po;
		if (p[1] >= 0) {
			close(p[1]);
			p[1] = -1;
			fcntl(p[0], F_SETFL, O_NONBLOCK);
		}
	}
	watch(o, pid, po[0], pe[0], res, &st);
	/* what the pipes hold now (a grandchild may keep them open: no waiting) */
	if (po[0] >= 0)
		drain(po[0], o->out, &res->truncated);
	if (pe[0] >= 0)
		drain(pe[0], o->err_out, &res->truncated);
	close_pair(po);
	close_pair(pe);
	res->seconds = (double)(kcsi_mono_ns() - t0) / 1e9;
	if (st != -1 && WIFEXITED(st)) {
		res->exited = true;
		res->status = WEXITSTATUS(st);
	} else if (st != -1 && WIFSIGNALED(st)) {
		res->signal = WTERMSIG(st);
		res->status = 128 + res->signal;
	} else {
		res->status = -1;
	}
	return KCSI_OK;
}
