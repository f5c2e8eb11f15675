#!/bin/bash
# kcsi lab specimen (benign): the nightly backup of a reporting service. Streams a tar of
# its data directory (sales CSVs, rendered charts) to the company's backup server @@DEST@@
# (127.x) after a one-line header, and waits for the server's acknowledgement; the
# server is slow to take it, so the archive waits in the send queue.
exec 3<>/dev/tcp/@@DEST_ADDR@@/@@DEST_PORT@@ || exit 1
printf 'BACKUP %s reports %s\n' "$(hostname)" "$(date +%Y%m%d)" >&3
tar cf - /srv/data >&3 2>/dev/null
read -r ack <&3
