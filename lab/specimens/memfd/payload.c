/* kcsi lab specimen: the fileless payload. Built static by the memfd scenario, served by
 * the fake C2 over HTTP on 127.x, loaded into a memfd and executed from there.
 * It names itself (prctl PR_SET_NAME), connects to the beacon address given in the
 * environment variable UPD_SRV (host:port, a 127.x address), sends one beacon line and then
 * blocks reading from the connection; it reconnects every 3 s if the connection is lost.
 * Other scenes build it with -DAGENT_TAG="..." -DSRV_ENV="..." (the beacon's agent text and the
 * environment variable that holds the address). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef AGENT_TAG
#define AGENT_TAG "upd-agent/2.7 build 5512 (static)"
#endif
#ifndef SRV_ENV
#define SRV_ENV "UPD_SRV"
#endif

static const char build_tag[] = AGENT_TAG;

int main(int argc, char **argv)
{
    const char *srv = getenv(SRV_ENV);
    char host[64] = "127.0.0.1", buf[512], name[64];
    int port = 4443;

    (void)argc;
    if (srv) {
        const char *colon = strrchr(srv, ':');
        if (colon && (size_t)(colon - srv) < sizeof host) {
            memcpy(host, srv, colon - srv);
            host[colon - srv] = 0;
            port = atoi(colon + 1);
        }
    }
    if (strncmp(host, "127.", 4) != 0)          /* lab rule: loopback only */
        return 2;
    snprintf(name, sizeof name, "%s", strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0]);
    prctl(PR_SET_NAME, name, 0, 0, 0);

    for (;;) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s >= 0 && inet_pton(AF_INET, host, &sa.sin_addr) == 1 &&
            connect(s, (struct sockaddr *)&sa, sizeof sa) == 0) {
            char hn[64] = "?";
            gethostname(hn, sizeof hn);
            int n = snprintf(buf, sizeof buf, "BEACON host=%s pid=%d uid=%d agent=%s\n",
                             hn, (int)getpid(), (int)getuid(), build_tag);
            if (write(s, buf, n) == n)
                while (read(s, buf, sizeof buf) > 0)
                    ;
        }
        if (s >= 0)
            close(s);
        sleep(3);
    }
}
