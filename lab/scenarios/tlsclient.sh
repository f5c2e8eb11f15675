#!/bin/bash
# Scenario tlsclient (benign control): a legitimate outbound TLS client. pid 1 is a shell loop
# that runs curl against the payments API's HTTPS event stream (server on 127.124.x.y:443,
# certificate from the company's own CA, the API's name pinned with --resolve) and appends the
# events to a log, reconnecting when the stream ends. At the checkpoint curl holds an
# established TLS connection to port 443. Nothing malicious.
# Usage: lab/scenarios/tlsclient.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init tlsclient "$@"
lab_use_tools_image

API="$(lab_addr 124):443"
NAME=events.payments.internal
lab_host_dir APP app
lab_host_dir PKI pki
"$LAB_PY" "$LAB_DIR/lib/fakedata.py" tls "$WORK/tls" "$NAME" || lab_die "certificates failed"
cp "$WORK/tls/ca.pem" "$PKI/ca.pem"
lab_template "$SPEC/consume.sh" "$APP/consume.sh" "NAME=$NAME" "PORT=${API#*:}" "ADDR=${API%:*}"

lab_peer_on api "$API" perl "$PEERS/tls_events.pl" --listen "$API" --cert "$WORK/tls/server.pem" --key "$WORK/tls/server.key" \
    --summary "$WORK/peer-api.json"

lab_run --env APP_ENV=prod -v "$APP:/srv/consumer:ro" -v "$PKI:/etc/pki/internal:ro" \
    --hostname event-consumer -- sh /srv/consumer/consume.sh
lab_wait "3 events streamed" 15 lab_json "$WORK/peer-api.json" 'd["events_sent"] >= 3'

lab_finish /srv/consumer/consume.sh /etc/pki/internal/ca.pem /var/log/consumer/events.log

lab_kv_json "$WORK/params.json" "malicious:=false" "api=$API" "server_name=$NAME" \
    "url=https://$NAME:${API#*:}/v1/events/stream" "client=curl" "ca=/etc/pki/internal/ca.pem"
lab_facts --conn "client=$API" --set malicious=false
lab_truth --description "benign control: curl follows an HTTPS event stream from $NAME ($API) with the company's CA" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
