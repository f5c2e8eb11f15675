#!/bin/bash
# Scenario incluster-client (benign control): a workload that reads its own service-account
# token and talks to the API server, as every in-cluster client does. pid 1 is a Python
# watcher with the pod's token mounted at /var/run/secrets/kubernetes.io/serviceaccount; it
# lists config maps every second over a keep-alive connection to a stand-in API server on
# 127.174.x.y (Authorization: Bearer <token>). Nothing malicious.
# Usage: lab/scenarios/incluster-client.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init incluster-client "$@"
lab_use_tools_image

API="$(lab_addr 174):$(lab_pick 6443 443 8443)"
NS=$(lab_pick shop ops reporting)
SA=config-watcher
lab_host_dir POD pods
lab_host_dir APP app
mkdir -p "$POD/sa"
"$LAB_PY" "$LAB_DIR/lib/fakedata.py" secrets "$WORK/sec" --namespace "$NS" --sa "$SA" >/dev/null || lab_die "fakedata failed"
cp "$WORK/sec/token" "$WORK/sec/namespace" "$WORK/sec/ca.crt" "$POD/sa/"
lab_template "$SPEC/watch.py" "$APP/watch.py"

lab_peer_on api "$API" perl "$PEERS/sink.pl" --listen "$API" --respond ok --body '{"kind":"ConfigMapList","items":[]}' \
    --server kube-apiserver --summary "$WORK/peer-api.json"

lab_run --env APP_ENV=prod --env "KUBERNETES_SERVICE_HOST=${API%:*}" --env "KUBERNETES_SERVICE_PORT=${API#*:}" \
    -v "$POD/sa:/var/run/secrets/kubernetes.io/serviceaccount:ro" -v "$APP:/srv/watcher:ro" \
    --hostname "$(lab_json_pick "$WORK/sec/values.json" pod)" -- python3 /srv/watcher/watch.py
lab_wait "4 lists served" 15 lab_json "$WORK/peer-api.json" 'd["sessions"] and d["sessions"][0].get("request_count", 0) >= 4'

lab_finish /srv/watcher/watch.py /var/log/watcher.log

lab_kv_json "$WORK/params.json" "malicious:=false" "api=$API" \
    "secrets:=$(lab_json_pick "$WORK/sec/values.json" jwt namespace serviceaccount)"
lab_facts --conn "client=$API" --set malicious=false
lab_truth --description "benign control: in-cluster client reading its own SA token and listing config maps on $API" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
