/* kcsi detonate — packet capture of the sandbox's network namespace with
 * libpcap.  The "any" device is opened from inside the namespace, so it sees
 * lo and the dead-end interface there and nothing of the host's; the file is a
 * classic pcap (Linux cooked capture) that tshark and Wireshark read. */
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/sandbox_int.h"

struct det_pcap {
	pcap_t *p;
	pcap_dumper_t *d;
	pthread_t thr;
	bool started;
	volatile int stop;
	uint64_t packets;
};

kcsi_code det_pcap_open(det_pcap **out, const char *path, kcsi_error *err)
{
	char eb[PCAP_ERRBUF_SIZE] = "";
	det_pcap *c = calloc(1, sizeof(*c));
	if (!c)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	if (!(c->p = pcap_create("any", eb))) {
		free(c);
		return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED, "pcap: %s", eb);
	}
	pcap_set_snaplen(c->p, 262144);
	pcap_set_promisc(c->p, 0);
	pcap_set_timeout(c->p, 50);
	pcap_set_immediate_mode(c->p, 1);
	pcap_set_buffer_size(c->p, 8 << 20);
	if (pcap_activate(c->p) < 0) {
		kcsi_error_set(err, KCSI_ERR_UNSUPPORTED, "pcap: cannot capture on the sandbox: %s", pcap_geterr(c->p));
		pcap_close(c->p);
		free(c);
		return err->code;
	}
	/* made 0600 like every file of DIR (evidence); pcap_dump_open would
	 * make it as the umask says */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f || !(c->d = pcap_dump_fopen(c->p, f))) {
		if (!f)
			kcsi_error_set(err, KCSI_ERR_IO, "pcap: %s: %s", path, strerror(errno));
		else
			kcsi_error_set(err, KCSI_ERR_IO, "pcap: %s", pcap_geterr(c->p));
		if (f)
			fclose(f);
		else if (fd >= 0)
			close(fd);
		pcap_close(c->p);
		free(c);
		return err->code;
	}
	*out = c;
	return KCSI_OK;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	det_pcap *c = (det_pcap *)user;
	pcap_dump((u_char *)c->d, h, bytes);
	c->packets++;
}

static void *loop(void *arg)
{
	det_pcap *c = arg;
	/* non-blocking reads after poll() with a short time-out: a stop request is
	 * seen within 50 ms even when no packet comes */
	struct pollfd pf = {pcap_get_selectable_fd(c->p), POLLIN, 0};
	pcap_setnonblock(c->p, 1, NULL);
	while (!c->stop) {
		if (poll(&pf, 1, 50) < 0)
			continue;
		if (pcap_dispatch(c->p, -1, on_packet, (u_char *)c) < 0)
			break;
	}
	/* what is still buffered */
	while (pcap_dispatch(c->p, -1, on_packet, (u_char *)c) > 0)
		;
	return NULL;
}

kcsi_code det_pcap_start(det_pcap *c, kcsi_error *err)
{
	int e = pthread_create(&c->thr, NULL, loop, c);
	if (e)
		return kcsi_error_set(err, KCSI_ERR_GENERIC, "pcap thread: %s", strerror(e));
	c->started = true;
	return KCSI_OK;
}

void det_pcap_stop(det_pcap *c, uint64_t *packets, uint64_t *dropped)
{
	struct pcap_stat st = {0};
	if (!c)
		return;
	if (c->started) {
		c->stop = 1;
		pcap_breakloop(c->p);
		pthread_join(c->thr, NULL);
		c->started = false;
	}
	if (pcap_stats(c->p, &st) == 0 && dropped)
		*dropped = st.ps_drop;
	if (packets)
		*packets = c->packets;
	if (c->d) {
		pcap_dump_close(c->d);
		c->d = NULL;
	}
}

void det_pcap_free(det_pcap *c)
{
	if (!c)
		return;
	det_pcap_stop(c, NULL, NULL);
	pcap_close(c->p);
	free(c);
}
