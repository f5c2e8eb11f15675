/* loadgen — replay Falco alerts to kcsi respond as fast as a client can.
 *
 * usage: loadgen HOST PORT EVENTS.jsonl THREADS [TOKEN] [ACKS-OUT]
 *
 * Each thread holds one keep-alive HTTP/1.1 connection and POSTs its share
 * of the lines (line i goes to thread i % THREADS), one request at a time.
 * Prints one JSON object: sent, acked, failed, seconds, rate, p50/p90/p99/max
 * accept latency in ms.  With ACKS-OUT, writes the line numbers answered 200
 * (one per line), so a test can check that every acknowledged alert was
 * acted on even when the server is killed mid-way.  Loopback only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char **lines;
static size_t *lens, nlines;
static const char *host, *token;
static int port, nthreads;
static double *lat;
static unsigned char *acked;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_to(void)
{
	struct sockaddr_in sa = {0};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	inet_pton(AF_INET, host, &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read one response; returns the status or -1. */
static int read_resp(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	char *end = NULL;
	while (!end) {
		ssize_t n = read(fd, buf + got, cap - 1 - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
		buf[got] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (!end && got >= cap - 1)
			return -1;
	}
	int status = atoi(buf + 9);
	char *cl = strcasestr(buf, "content-length:");
	size_t want = cl ? (size_t)atol(cl + 15) : 0, have = got - (size_t)(end + 4 - buf);
	while (have < want) {
		char sink[4096];
		ssize_t n = read(fd, sink, sizeof(sink) < want - have ? sizeof(sink) : want - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
	}
	return status;
}

static void *worker(void *arg)
{
	long t = (long)arg;
	int fd = connect_to();
	char hdr[512], buf[8192];
	for (size_t i = (size_t)t; i < nlines; i += (size_t)nthreads) {
		if (fd < 0 && (fd = connect_to()) < 0) {
			lat[i] = -1;
			continue;
		}
		int hl = snprintf(hdr, sizeof(hdr),
				  "POST /events HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n%s%s%s"
				  "Content-Length: %zu\r\n\r\n",
				  host, token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "",
				  lens[i]);
		double t0 = now();
		if (write_all(fd, hdr, (size_t)hl) || write_all(fd, lines[i], lens[i])) {
			close(fd);
			fd = -1;
			lat[i] = -1;
			continue;
		}
		int st = read_resp(fd, buf, sizeof(buf));
		lat[i] = now() - t0;
		if (st == 200)
			acked[i] = 1;
		else {
			if (st < 0) {
				close(fd);
				fd = -1;
			}
			lat[i] = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: loadgen HOST PORT EVENTS.jsonl THREADS [TOKEN] [ACKS-OUT]\n");
		return 2;
	}
	host = argv[1];
	port = atoi(argv[2]);
	nthreads = atoi(argv[4]);
	token = argc > 5 && argv[5][0] ? argv[5] : NULL;
	if (strncmp(host, "127.", 4)) {
		fprintf(stderr, "loadgen: loopback addresses only\n");
		return 2;
	}
	FILE *f = fopen(argv[3], "r");
	if (!f) {
		perror(argv[3]);
		return 1;
	}
	size_t cap = 1024;
	lines = malloc(cap * sizeof(*lines));
	lens = malloc(cap * sizeof(*lens));
	char *line = NULL;
	size_t lcap = 0;
	ssize_t n;
	while ((n = getline(&line, &lcap, f)) > 0) {
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		if (!n)
			continue;
		if (nlines == cap) {
			cap *= 2;
			lines = realloc(lines, cap * sizeof(*lines));
			lens = realloc(lens, cap * sizeof(*lens));
		}
		lines[nlines] = malloc((size_t)n);
		memcpy(lines[nlines], line, (size_t)n);
		lens[nlines++] = (size_t)n;
	}
	fclose(f);
	lat = calloc(nlines + 1, sizeof(double));
	acked = calloc(nlines + 1, 1);
	pthread_t *th = calloc((size_t)nthreads, sizeof(pthread_t));
	double t0 = now();
	for (long i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	double secs = now() - t0;
	size_t ok = 0, nl = 0;
	double *l = malloc((nlines + 1) * sizeof(double));
	for (size_t i = 0; i < nlines; i++) {
		ok += acked[i];
		if (lat[i] >= 0 && acked[i])
			l[nl++] = lat[i];
	}
	qsort(l, nl, sizeof(double), cmpd);
#define PCT(p) (nl ? l[(size_t)((double)(nl - 1) * (p))] * 1000 : 0)
	printf("{\"sent\": %zu, \"acked\": %zu, \"failed\": %zu, \"seconds\": %.3f, \"rate\": %.0f, "
	       "\"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f, \"threads\": %d}\n",
	       nlines, ok, nlines - ok, secs, (double)ok / secs, PCT(0.5), PCT(0.9), PCT(0.99), PCT(1.0), nthreads);
	if (argc > 6) {
		FILE *o = fopen(argv[6], "w");
		for (size_t i = 0; o && i < nlines; i++)
			if (acked[i])
				fprintf(o, "%zu\n", i);
		if (o)
			fclose(o);
	}
	return 0;
}
