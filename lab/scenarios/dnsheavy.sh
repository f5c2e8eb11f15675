#!/bin/bash
# Scenario dnsheavy (benign control for the DNS rules): pid 1 is a Python service-discovery
# and health agent with one connected UDP socket to its DNS server on 127.184.x.y:53; it
# resolves, again and again, ~450 names: cluster services and SRV records, the hashed pod
# names of headless services (labels of 25-30 characters), CDN host names, SaaS endpoints.
# Many unique names under one zone, some long and of high entropy, none encoded: it must
# come out clean.
# Usage: lab/scenarios/dnsheavy.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init dnsheavy "$@"
lab_use_tools_image

RES="$(lab_addr 184):53"
lab_host_dir APP discovery
lab_template "$SPEC/agent.py" "$APP/agent.py" "RES_ADDR=${RES%:*}" "RES_PORT=53" "SEED=$(lab_rand 1 1000000)"

lab_udp_bound ${RES%:*} 53 && lab_die "$RES is already in use"
lab_peer resolver perl "$PEERS/dns_resolver.pl" --listen "$RES" --proto udp --zone "cluster.local" \
    --encoding hex --meta-labels 1 --summary "$WORK/peer-resolver.json"
lab_wait "resolver on udp $RES" 10 lab_udp_bound ${RES%:*} 53

lab_run --env APP_ENV=prod --hostname discovery-agent -v "$APP:/srv/discovery:ro" -- \
    sh -c 'mkdir -p /var/log/discovery; exec python3 /srv/discovery/agent.py'
lab_wait "500 queries answered" 30 lab_json "$WORK/peer-resolver.json" 'd["queries"] >= 500'

lab_finish /var/log/discovery/stats.log

lab_kv_json "$WORK/params.json" "resolver=$RES" "agent_path=/srv/discovery/agent.py" "malicious:=false"
lab_facts --conn "agent=$RES"
lab_truth --description "benign: a discovery agent resolving ~450 cluster, pod, CDN and SaaS names through $RES" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
