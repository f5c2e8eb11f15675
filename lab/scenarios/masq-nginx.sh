#!/bin/bash
# Scenario masq-nginx: masquerading. A Perl implant started later in the container sets its
# title to '/usr/sbin/nginx: worker process' and beacons over plain HTTP (keep-alive POSTs
# every 2 s) to a C2 on 127.109.x.y:443; and a copy of the image's /usr/bin/sleep renamed
# /usr/sbin/crond-helper runs as if it were a cron daemon's helper.
# Usage: lab/scenarios/masq-nginx.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init masq-nginx "$@"

C2="$(lab_addr 109):443"
C2_PATH=/wp-content/plugins/wp-cache/$(lab_hex 3).php
TITLE='/usr/sbin/nginx: worker process'
BOT=$(lab_hex 8)
IMPLANT=/var/cache/nginx/.tmp/w
RENAMED=/usr/sbin/crond-helper
lab_template "$SPEC/worker.pl" "$WORK/worker.pl" "TITLE=$TITLE" "C2=$C2" "C2_PORT=${C2#*:}" "C2_PATH=$C2_PATH" "BOT_ID=$BOT"

lab_peer_on c2 "$C2" perl "$PEERS/sink.pl" --listen "$C2" --respond ok --body '{"task":"sleep","t":2}' --summary "$WORK/peer-c2.json"

lab_run --env APP_ENV=prod --hostname web-edge -- sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_cp "$WORK/worker.pl" "$IMPLANT" 0700
lab_exec_bg "perl $IMPLANT"
lab_exec_bg "cp /usr/bin/sleep $RENAMED && exec $RENAMED 86400"
lab_wait "two beacons" 15 lab_json "$WORK/peer-c2.json" 'd["sessions"] and d["sessions"][0].get("request_count", 0) >= 2'
lab_wait "renamed binary runs" 10 lab_cexec pgrep -x crond-helper

lab_finish "$IMPLANT" "$RENAMED" /usr/bin/sleep

lab_kv_json "$WORK/params.json" "c2=$C2" "c2_path=$C2_PATH" "bot_id=$BOT" "title=$TITLE" "implant_path=$IMPLANT" \
    "renamed_binary=$RENAMED" "renamed_from=/usr/bin/sleep"
lab_facts --conn "implant=$C2" --proc "renamed=^$RENAMED"
lab_truth --description "masquerade: perl $IMPLANT titled '$TITLE' beacons to $C2; /usr/bin/sleep copied to $RENAMED and running" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
