#!/bin/bash
# Scenario masq-sshd: masquerading, other names and tools than masq-nginx. A Python implant
# started later rewrites its command line to 'sshd: root@pts/0' (comm 'sshd') and keeps a
# heartbeat connection to a C2 on 127.110.x.y; and a copy of the image's socat renamed
# /usr/sbin/atd holds a second connection to the C2 (it writes the orders it gets to a file).
# Usage: lab/scenarios/masq-sshd.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init masq-sshd "$@"
lab_use_tools_image

C2ADDR=$(lab_addr 110)
C2="$C2ADDR:$(lab_pick 8443 2222 4433)"
C2ORD="$C2ADDR:$(lab_pick 53 123 5222)"
[ "${C2#*:}" != "${C2ORD#*:}" ] || lab_die "port clash"
TITLE='sshd: root@pts/0'
BOT=$(lab_hex 6)
IMPLANT=/usr/lib/openssh/.session-$(lab_hex 2).py
RENAMED=/usr/sbin/atd
lab_template "$SPEC/session.py" "$WORK/session.py" "TITLE=$TITLE" "COMM=sshd" "C2=$C2" "BOT_ID=$BOT"

lab_peer_on c2 "$C2" perl "$PEERS/sink.pl" --listen "$C2" --summary "$WORK/peer-c2.json"
lab_peer_on c2-orders "$C2ORD" perl "$PEERS/sink.pl" --listen "$C2ORD" --summary "$WORK/peer-c2-orders.json"

lab_run --env APP_ENV=prod --hostname jumpbox -- sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_cp "$WORK/session.py" "$IMPLANT" 0700
lab_exec_bg "python3 $IMPLANT"
ORDERS=/var/cache/atd/.q
lab_exec_bg "cp /usr/bin/socat $RENAMED && mkdir -p ${ORDERS%/*} && exec $RENAMED -u TCP:$C2ORD OPEN:$ORDERS,creat,append"
lab_wait "heartbeats" 15 lab_json "$WORK/peer-c2.json" 'd["sessions"] and d["sessions"][0]["bytes_read"] >= 20'
lab_wait "renamed socat connected" 10 lab_json "$WORK/peer-c2-orders.json" 'd["sessions"]'

lab_finish "$IMPLANT" "$RENAMED" /usr/bin/socat "$ORDERS"

lab_kv_json "$WORK/params.json" "c2=$C2" "c2_orders=$C2ORD" "bot_id=$BOT" "title=$TITLE" "comm=sshd" \
    "implant_path=$IMPLANT" "renamed_binary=$RENAMED" "renamed_from=/usr/bin/socat" \
    "renamed_command=$RENAMED -u TCP:$C2ORD OPEN:$ORDERS,creat,append"
lab_facts --conn "implant=$C2" --conn "renamed=$C2ORD"
lab_truth --description "masquerade: python3 $IMPLANT titled '$TITLE' heartbeats to $C2; socat copied to $RENAMED connected to $C2ORD" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
