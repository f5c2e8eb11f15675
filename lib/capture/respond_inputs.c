/* kcsi respond — the JSON-lines inputs: files (or stdin) read to their
 * end, and a unix socket (0600) with a thread per connection; one alert a
 * line, lines bounded. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "capture/responder.h"
#include "base/time.h"

#define LINE_MAX_BYTES (1u << 20)

/* Read alerts, one per line, from fd until EOF or stop. */
static void read_lines(kcsi_responder *r, int fd, const char *input)
{
	kcsi_buf b;
	char chunk[65536];
	bool skipping = false;
	kcsi_buf_init(&b, LINE_MAX_BYTES);
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		if (atomic_load(&r->stopping))
			break;
		int pr = poll(&p, 1, 200);
		if (pr <= 0)
			continue;
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (chunk[i] != '\n') {
				if (!skipping && kcsi_buf_addc(&b, chunk[i])) {
					skipping = true;
					atomic_fetch_add(&r->m.received, 1);
					atomic_fetch_add(&r->m.rejected_size, 1);
					rsp_log(r, KCSI_LOG_WARNING, "alert refused", "input", json_string(input), "reason",
						json_string("line longer than 1 MiB"), NULL);
				}
				continue;
			}
			if (!skipping && b.len) {
				char *rep = NULL;
				size_t l = b.len;
				while (l && (b.data[l - 1] == '\r' || b.data[l - 1] == ' '))
					l--;
				if (l)
					rsp_accept(r, input, b.data, l, kcsi_mono_ns(), &rep);
				free(rep);
			}
			b.len = 0;
			skipping = false;
		}
	}
	if (!skipping && b.len) {
		char *rep = NULL;
		rsp_accept(r, input, b.data, b.len, kcsi_mono_ns(), &rep);
		free(rep);
	}
	kcsi_buf_free(&b);
}

void rsp_input_end(kcsi_responder *r)
{
	pthread_mutex_lock(&r->q_lock);
	r->inputs_running--;
	pthread_cond_broadcast(&r->q_cond);
	pthread_mutex_unlock(&r->q_lock);
}

void *rsp_file_main(void *arg)
{
	struct input_arg *a = arg;
	kcsi_responder *r = a->r;
	bool std = !strcmp(a->path, "-");
	int fd = std ? 0 : open(a->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rsp_log(r, KCSI_LOG_ERROR, "input cannot be opened", "input", json_string(a->path), "error",
			json_string(strerror(errno)), NULL);
	} else {
		read_lines(r, fd, std ? "stdin" : "file");
		rsp_log(r, KCSI_LOG_INFO, "input finished", "input", json_string(a->path), NULL);
		if (!std)
			close(fd);
	}
	free(a);
	rsp_input_end(r);
	return NULL;
}

struct conn_arg {
	kcsi_responder *r;
	int fd;
};

/* Connections read at once on the unix socket (a thread each); more are
 * closed at accept. */
#define UNIX_CONNS_MAX 64

static void *sock_conn_main(void *arg)
{
	struct conn_arg *a = arg;
	read_lines(a->r, a->fd, "unix");
	close(a->fd);
	atomic_fetch_sub(&a->r->unix_conns, 1);
	rsp_input_end(a->r);
	free(a);
	return NULL;
}

void *rsp_sock_main(void *arg)
{
	kcsi_responder *r = arg;
	for (;;) {
		struct pollfd p = {r->sock_fd, POLLIN, 0};
		if (atomic_load(&r->stopping))
			break;
		if (poll(&p, 1, 200) <= 0)
			continue;
		int fd = accept4(r->sock_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if (atomic_load(&r->unix_conns) >= UNIX_CONNS_MAX) {
			uint64_t skipped;
			close(fd);
			if (rsp_flood_ok(r, &skipped))
				rsp_log(r, KCSI_LOG_WARNING, "connection refused: too many on the unix socket", "limit",
					json_integer(UNIX_CONNS_MAX), "suppressed", json_integer((json_int_t)skipped), NULL);
			continue;
		}
		struct conn_arg *a = malloc(sizeof(*a));
		pthread_t t;
		if (!a) {
			close(fd);
			continue;
		}
		a->r = r;
		a->fd = fd;
		pthread_mutex_lock(&r->q_lock);
		r->inputs_running++;
		pthread_mutex_unlock(&r->q_lock);
		atomic_fetch_add(&r->unix_conns, 1);
		if (pthread_create(&t, NULL, sock_conn_main, a)) {
			close(fd);
			free(a);
			atomic_fetch_sub(&r->unix_conns, 1);
			rsp_input_end(r);
			continue;
		}
		pthread_detach(t);
	}
	rsp_input_end(r);
	return NULL;
}

kcsi_code rsp_start_unix(kcsi_responder *r, kcsi_error *err)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(r->unix_socket) >= sizeof(sa.sun_path))
		return kcsi_error_set(err, KCSI_ERR_USAGE, "inputs.unix_socket: path too long");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", r->unix_socket);
	unlink(r->unix_socket);
	r->sock_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* the socket is made 0600, not made and then changed (a peer could
	 * connect in between) */
	mode_t old_mask = umask(0177);
	int bound = r->sock_fd >= 0 ? bind(r->sock_fd, (struct sockaddr *)&sa, sizeof(sa)) : -1;
	umask(old_mask);
	if (bound || listen(r->sock_fd, 64))
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: cannot listen: %m", r->unix_socket);
	return KCSI_OK;
}
