/* kcsi lab specimen: a small native queue daemon that names its processes the way nginx and
 * postgres do. The master rewrites its command line to '@@NAME@@: master process ...' (the
 * rest of the argument area padded with spaces, as Perl's $0 does) and forks two workers that
 * rewrite theirs to '@@NAME@@: worker process' (padded with NULs, as nginx does); each sets its
 * comm too. The workers answer HTTP requests on the address in $LISTEN with a short status. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static char *area;
static size_t area_len;

/* the argument and environment strings are one area: move the environment away first */
static void title_init(int argc, char **argv)
{
	char *end = argv[argc - 1] + strlen(argv[argc - 1]) + 1;
	size_t n = 0;
	for (char **e = environ; *e; e++, n++)
		if (*e == end)
			end += strlen(*e) + 1;
	char **copy = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		copy[i] = strdup(environ[i]);
	environ = copy;
	area = argv[0];
	area_len = (size_t)(end - argv[0]);
}

static void title(const char *t, char pad, const char *comm)
{
	size_t n = strlen(t) < area_len - 1 ? strlen(t) : area_len - 1;
	memcpy(area, t, n);
	area[n] = '\0';
	memset(area + n + 1, pad, area_len - n - 1);
	prctl(PR_SET_NAME, comm, 0, 0, 0);
}

static void serve(int ls)
{
	for (;;) {
		int c = accept(ls, NULL, NULL);
		char buf[4096];
		ssize_t r;
		if (c < 0)
			continue;
		while ((r = read(c, buf, sizeof(buf))) > 0) {
			if (!memmem(buf, (size_t)r, "\r\n\r\n", 4))
				continue;
			const char *ok = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nqueue: ready\n";
			if (write(c, ok, strlen(ok)) < 0)
				break;
		}
		close(c);
	}
}

int main(int argc, char **argv)
{
	const char *listen_at = getenv("LISTEN");
	char host[64], t[256];
	int port, ls, one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	if (!listen_at || sscanf(listen_at, "%63[^:]:%d", host, &port) != 2)
		return 2;
	title_init(argc, argv);
	sa.sin_port = htons((unsigned short)port);
	inet_pton(AF_INET, host, &sa.sin_addr);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 16))
		return 1;
	snprintf(t, sizeof(t), "@@NAME@@: master process %s -c %s", argv[0], argc > 2 ? argv[2] : "-");
	for (int i = 0; i < 2; i++)
		if (fork() == 0) {
			title("@@NAME@@: worker process", '\0', "@@NAME@@");
			serve(ls);
		}
	title(t, ' ', "@@NAME@@");
	for (;;)
		wait(NULL);
}
