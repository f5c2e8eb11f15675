#!/bin/bash
# Scenario metrics (benign control): a metrics listener. pid 1 is a Python exporter serving a
# Prometheus-style /metrics page on 127.125.x.y:9100; a Prometheus-like scraper on the host
# keeps one connection to it and scrapes every second. A listening port and an inbound
# connection, nothing else. Nothing malicious.
# Usage: lab/scenarios/metrics.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init metrics "$@"
lab_use_tools_image

LISTEN="$(lab_addr 125):9100"
lab_host_dir APP app
lab_template "$SPEC/exporter.py" "$APP/exporter.py"

lab_need_free "$LISTEN"
lab_run --env APP_ENV=prod --env "LISTEN=$LISTEN" -v "$APP:/srv/exporter:ro" --hostname node-metrics -- \
    python3 /srv/exporter/exporter.py
lab_wait "exporter listening on $LISTEN" 10 lab_listening ${LISTEN%:*} ${LISTEN#*:}
lab_peer scraper perl "$PEERS/scraper.pl" --connect "$LISTEN" --paths /metrics --interval 1 --summary "$WORK/peer-scraper.json"
lab_wait "3 scrapes" 15 lab_json "$WORK/peer-scraper.json" 'd["requests"] >= 3'

lab_finish /srv/exporter/exporter.py

lab_kv_json "$WORK/params.json" "malicious:=false" "listen=$LISTEN" "path=/metrics" "scrape_interval=1"
lab_facts --listen "exporter=$LISTEN" --set malicious=false
lab_truth --description "benign control: Prometheus-style exporter on $LISTEN scraped every second" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
